//! The simulator is as strict as the real APIs where the difference could hide a bug:
//! accounts per token with each provider's real authentication error, the hourly budget,
//! asynchronous creates and actions, the real APIs' validations, zones with SOA/NS records,
//! clusters that come online later with their connection URI.

use odooops::sim::{self, faults::FaultConfig, SimOptions};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn strict(tokens: &[&str]) -> sim::Running {
    sim::start_with(
        "127.0.0.1:0",
        SimOptions {
            faults: FaultConfig::default(),
            delay: Duration::from_millis(200),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            do_hourly_limit: None,
        },
    )
    .await
    .expect("sim")
}

async fn call(
    sim: &sim::Running,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = Client::new()
        .request(method, format!("{}{path}", sim.url()))
        .bearer_auth(token)
        .header("x-api-key", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

fn droplet_body(name: &str) -> Value {
    json!({"name": name, "region": "fra1", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64", "tags": ["odooops:managed"]})
}

#[tokio::test]
async fn each_token_is_its_own_account_and_others_get_the_real_auth_errors() {
    let sim = strict(&["test-token-a", "test-token-b"]).await;
    let (s, _, _) = call(
        &sim,
        Method::POST,
        "/digitalocean/v2/droplets",
        "test-token-a",
        Some(droplet_body("web-a")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let names = |v: &Value| -> Vec<String> {
        v["droplets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, a, _) = call(
        &sim,
        Method::GET,
        "/digitalocean/v2/droplets",
        "test-token-a",
        None,
    )
    .await;
    let (_, b, _) = call(
        &sim,
        Method::GET,
        "/digitalocean/v2/droplets",
        "test-token-b",
        None,
    )
    .await;
    assert_eq!((names(&a), names(&b)), (vec!["web-a".to_string()], vec![]));
    // Any other token: each provider's own answer.
    let other = "test-token-unknown";
    let (s, v, _) = call(&sim, Method::GET, "/digitalocean/v2/account", other, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["id"], "unauthorized");
    assert_eq!(v["message"], "Unable to authenticate you");
    let (s, v, _) = call(&sim, Method::GET, "/supabase/v1/projects", other, None).await;
    assert_eq!(
        (s, v["message"].clone()),
        (StatusCode::UNAUTHORIZED, json!("Unauthorized"))
    );
    let (s, v, _) = call(&sim, Method::GET, "/vercel/v10/projects", other, None).await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden"))
    );
    let (s, v, _) = call(
        &sim,
        Method::POST,
        "/slack/api/chat.postMessage",
        other,
        Some(json!({"channel": "C1", "text": "x"})),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"ok": false, "error": "invalid_auth"})
        )
    );
    let (s, v, _) = call(&sim, Method::GET, "/plane/api/v1/users/me/", other, None).await;
    assert_eq!(
        (s, v["detail"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("Given API token is not valid")
        )
    );
    // The control API reaches another account with ?token=.
    let (_, st, _) = call(
        &sim,
        Method::GET,
        "/_sim/state?token=test-token-b",
        "x",
        None,
    )
    .await;
    assert_eq!(st["digitalocean"]["droplets"], json!([]));
    let acct_a = sim.account("test-token-a").expect("account a");
    assert_eq!(sim::lock(&acct_a.digitalocean).droplets.len(), 1);
}

#[tokio::test]
async fn with_no_token_configured_every_token_is_accepted() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let (s, _, _) = call(
        &sim,
        Method::GET,
        "/digitalocean/v2/account",
        "anything",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_hourly_budget_answers_429_once_spent() {
    let sim = sim::start_with(
        "127.0.0.1:0",
        SimOptions {
            do_hourly_limit: Some(3),
            delay: Duration::from_millis(200),
            ..SimOptions::default()
        },
    )
    .await
    .expect("sim");
    for _ in 0..3 {
        let (s, _, h) = call(&sim, Method::GET, "/digitalocean/v2/account", "t", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(h.contains_key("ratelimit-remaining"));
    }
    let (s, v, h) = call(&sim, Method::GET, "/digitalocean/v2/account", "t", None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["id"], "too_many_requests");
    let retry: u64 = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!(retry > 0 && retry <= 3600);
}

#[tokio::test]
async fn what_the_real_api_refuses_is_refused() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let t = "test-token";
    let refused = |v: &Value| v["id"] == "unprocessable_entity";
    let (s, v, _) = call(&sim, Method::POST, "/digitalocean/v2/droplets", t, Some(json!({"name": "bad name!", "region": "fra1", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}))).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && refused(&v), "{v}");
    let (s, v, _) = call(&sim, Method::POST, "/digitalocean/v2/droplets", t, Some(json!({"name": "ok", "region": "mars1", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64"}))).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY
            && v["message"].as_str().is_some_and(|m| m.contains("mars1")),
        "{v}"
    );
    let (s, _, _) = call(&sim, Method::POST, "/digitalocean/v2/firewalls", t, Some(json!({"name": "fw", "inbound_rules": [{"protocol": "tcp", "sources": {"addresses": ["0.0.0.0/0"]}}]}))).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a tcp rule needs ports"
    );
    let (s, _, _) = call(
        &sim,
        Method::POST,
        "/digitalocean/v2/domains",
        t,
        Some(json!({"name": "example.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v, _) = call(
        &sim,
        Method::POST,
        "/digitalocean/v2/domains/example.com/records",
        t,
        Some(json!({"type": "A", "name": "www", "data": "not-an-ip"})),
    )
    .await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && refused(&v), "{v}");
    // A new zone has its SOA and NS records.
    let (_, v, _) = call(
        &sim,
        Method::GET,
        "/digitalocean/v2/domains/example.com/records",
        t,
        None,
    )
    .await;
    let mut kinds: Vec<&str> = v["domain_records"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["type"].as_str()).collect())
        .unwrap_or_default();
    kinds.sort();
    assert_eq!(kinds, vec!["NS", "NS", "NS", "SOA"]);
}

/// Poll `path` until `done` holds for its JSON, within 5 s.
async fn until(sim: &sim::Running, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, v, _) = call(sim, Method::GET, path, "t", None).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never became ready: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn creates_and_actions_complete_later_and_lock_their_droplet() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let (s, v, _) = call(
        &sim,
        Method::POST,
        "/digitalocean/v2/droplets",
        "t",
        Some(droplet_body("web")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = v["droplet"]["id"].as_u64().expect("id");
    assert_eq!(v["droplet"]["status"], "new");
    assert_eq!(v["droplet"]["networks"]["v4"], json!([]), "no address yet");
    let path = format!("/digitalocean/v2/droplets/{id}");
    let up = until(&sim, &path, |v| v["droplet"]["status"] == "active").await;
    assert!(up["droplet"]["networks"]["v4"][0]["ip_address"].is_string());
    // Resizing a running droplet is refused; power it off first.
    let actions = format!("/digitalocean/v2/droplets/{id}/actions");
    let (s, v, _) = call(
        &sim,
        Method::POST,
        &actions,
        "t",
        Some(json!({"type": "resize", "size": "s-2vcpu-4gb"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v, _) = call(
        &sim,
        Method::POST,
        &actions,
        "t",
        Some(json!({"type": "power_off"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["action"]["status"], "in-progress");
    let action = v["action"]["id"].as_u64().expect("action id");
    // Locked: a second action is refused until the first completes.
    let (s, v, _) = call(
        &sim,
        Method::POST,
        &actions,
        "t",
        Some(json!({"type": "power_on"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    until(&sim, &format!("/digitalocean/v2/actions/{action}"), |v| {
        v["action"]["status"] == "completed"
    })
    .await;
    let off = until(&sim, &path, |v| v["droplet"]["status"] == "off").await;
    assert_eq!(off["droplet"]["locked"], false);
    // A deleted droplet lingers until it is gone.
    let (s, _, _) = call(&sim, Method::DELETE, &path, "t", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call(&sim, Method::GET, &path, "t", None).await;
    assert_eq!(s, StatusCode::OK, "still there right after the delete");
    until(&sim, &path, |v| v["id"] == "not_found").await;
}

#[tokio::test]
async fn a_cluster_is_creating_then_online_with_its_connection_uri() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let (s, v, _) = call(&sim, Method::POST, "/digitalocean/v2/databases", "t", Some(json!({"name": "pg-main", "engine": "pg", "version": "16", "region": "fra1", "size": "db-s-1vcpu-1gb", "num_nodes": 1}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["database"]["status"], "creating");
    assert_eq!(v["database"]["connection"]["uri"], "");
    let id = v["database"]["id"].as_str().expect("id").to_string();
    let (s, _, _) = call(
        &sim,
        Method::POST,
        &format!("/digitalocean/v2/databases/{id}/dbs"),
        "t",
        Some(json!({"name": "odoo"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not before it is online"
    );
    let online = until(&sim, &format!("/digitalocean/v2/databases/{id}"), |v| {
        v["database"]["status"] == "online"
    })
    .await;
    assert!(online["database"]["connection"]["uri"]
        .as_str()
        .is_some_and(|u| u.starts_with("postgresql://doadmin:")));
    let (s, _, _) = call(
        &sim,
        Method::POST,
        &format!("/digitalocean/v2/databases/{id}/dbs"),
        "t",
        Some(json!({"name": "odoo"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn sim_serve_takes_tokens_and_a_delay() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_odooops"))
        .args([
            "sim",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--token",
            "test-token-one",
            "--token",
            "test-token-two",
            "--delay-ms",
            "100",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let url = format!("http://127.0.0.1:{port}/digitalocean/v2/account");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = Client::new();
    let status = |token: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            client
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status())
        }
    };
    loop {
        if status("test-token-one").await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "sim serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status("test-token-one").await.ok(), Some(StatusCode::OK));
    assert_eq!(status("test-token-two").await.ok(), Some(StatusCode::OK));
    assert_eq!(
        status("test-token-three").await.ok(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let _ = child.kill();
    let _ = child.wait();
}
