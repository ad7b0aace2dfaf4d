//! The Supabase adapter against the simulator, over real loopback HTTP.

mod common;

use common::{canary, LogBuffer};
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper, Request};
use odooops::provider::supabase::Supabase;
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig, lock};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

const REF: &str = "abcdefghijklmnopqrst";

fn token() -> String {
    format!("test-token-{}", "sb-canary-51c2")
}

async fn setup(faults: &str) -> (sim::Running, Supabase, Arc<RecordingSleeper>) {
    let cfg = FaultConfig::parse(faults).expect("faults");
    let running = sim::start("127.0.0.1:0", cfg).await.expect("sim");
    lock(&running.state.supabase)
        .mutate(
            "project",
            REF,
            &json!({"name": "acme", "organization_slug": "acme-org"}),
            false,
        )
        .expect("seed project");
    let mut cc = ClientConfig::new(
        Provider::Supabase,
        &running.provider_url(Provider::Supabase),
        Auth::Bearer(SecretValue::new(token())),
    );
    cc.timeout = Duration::from_millis(800);
    let sleeper = Arc::new(RecordingSleeper::default());
    let http = HttpClient::with_sleeper(cc, Arc::new(Metrics::default()), sleeper.clone())
        .expect("client");
    (running, Supabase::new(http), sleeper)
}

/// A 20-letter ref from a number.
fn ref_of(n: usize) -> String {
    let mut out = String::new();
    let mut x = n;
    for _ in 0..20 {
        out.push((b'a' + (x % 26) as u8) as char);
        x /= 26;
    }
    out
}

#[tokio::test]
async fn projects_health_buckets_and_queries_round_trip() {
    let (sim, s, _) = setup("").await;
    let all = s.list_projects().await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(
        (
            all[0].project_ref.as_str(),
            all[0].name.as_str(),
            all[0].status.as_str()
        ),
        (REF, "acme", "ACTIVE_HEALTHY")
    );
    assert_eq!(
        all[0].database.as_ref().map(|d| d.host.clone()),
        Some(format!("db.{REF}.supabase.co"))
    );
    assert_eq!(s.get_project(REF).await.expect("get"), Some(all[0].clone()));
    assert_eq!(
        s.get_project("zzzzzzzzzzzzzzzzzzzz").await.expect("get"),
        None
    );

    let h = s
        .health(REF, &["rest", "db", "auth"])
        .await
        .expect("health");
    assert_eq!(
        h.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["auth", "db", "rest"],
        "sorted by name"
    );
    assert!(h.iter().all(|x| x.healthy && x.status == "ACTIVE_HEALTHY"));

    lock(&sim.state.supabase)
        .mutate(
            "bucket",
            &format!("{REF}/media"),
            &json!({"public": true}),
            false,
        )
        .expect("seed bucket");
    lock(&sim.state.supabase)
        .mutate("bucket", &format!("{REF}/backups"), &json!({}), false)
        .expect("seed bucket");
    let b = s.list_buckets(REF).await.expect("buckets");
    assert_eq!(
        b.iter()
            .map(|x| (x.id.as_str(), x.public))
            .collect::<Vec<_>>(),
        [("backups", false), ("media", true)]
    );

    let rows = s.run_query(REF, "select 1;", true).await.expect("query");
    assert_eq!(rows, vec![json!({"?column?": 1})]);
    assert!(s
        .run_query(REF, "create table t (id int)", false)
        .await
        .expect("query")
        .is_empty());
}

#[tokio::test]
async fn projects_are_seeded_through_the_control_api() {
    let (sim, s, _) = setup("").await;
    let http = reqwest::Client::new();
    let seed = |body: serde_json::Value| {
        http.post(format!("{}/_sim/mutate", sim.url()))
            .json(&body)
            .send()
    };
    let r = seed(
        json!({"provider": "supabase", "kind": "project", "id": "zyxwvutsrqponmlkjihg",
                        "set": {"name": "beta", "region": "us-east-1"}}),
    )
    .await
    .expect("seed");
    assert!(r.status().is_success());
    // Merging into an existing project keeps its other fields.
    let r = seed(json!({"provider": "supabase", "kind": "project", "id": REF,
                        "set": {"status": "INACTIVE"}}))
    .await
    .expect("merge");
    assert!(r.status().is_success());
    let r = seed(json!({"provider": "supabase", "kind": "project", "id": "NOT-A-REF", "set": {}}))
        .await
        .expect("bad ref");
    assert_eq!(r.status().as_u16(), 404);
    let all = s.list_projects().await.expect("list");
    assert_eq!(
        all.iter()
            .map(|p| (p.name.as_str(), p.status.as_str(), p.region.as_str()))
            .collect::<Vec<_>>(),
        [
            ("acme", "INACTIVE", "eu-central-1"),
            ("beta", "ACTIVE_HEALTHY", "us-east-1")
        ]
    );
}

#[tokio::test]
async fn organization_projects_page_through_offsets() {
    let (sim, s, _) = setup("").await;
    {
        let mut st = lock(&sim.state.supabase);
        for i in 0..249 {
            st.mutate(
                "project",
                &ref_of(i + 1000),
                &json!({"name": format!("p-{i:03}"), "organization_slug": "acme-org"}),
                false,
            )
            .expect("seed");
        }
        for i in 0..5 {
            st.mutate(
                "project",
                &ref_of(i + 9000),
                &json!({"name": format!("other-{i}"), "organization_slug": "other-org"}),
                false,
            )
            .expect("seed");
        }
    }
    let seen = s.list_org_projects("acme-org").await.expect("pages");
    assert_eq!(seen.len(), 250, "249 seeded + the setup project");
    assert_eq!(
        sim.state.request_count("GET /supabase/v1/organizations"),
        3,
        "ceil(250 / 100) pages"
    );
    assert!(seen.windows(2).all(|w| w[0].project_ref < w[1].project_ref));
    // Limits above 100 are refused like the real API.
    let err = s
        .http()
        .json(Request::get("/v1/organizations/acme-org/projects").query("limit", 101))
        .await
        .expect_err("limit 101");
    assert_eq!((err.status, err.provider), (Some(400), Provider::Supabase));
}

#[tokio::test]
async fn secrets_round_trip_and_the_sim_keeps_only_digests() {
    let (sim, s, _) = setup("").await;
    let value = canary("sb-roundtrip");
    s.upsert_secrets(
        REF,
        &[
            ("STRIPE_KEY".into(), SecretValue::new(value.clone())),
            ("API_TOKEN".into(), SecretValue::new("other-value")),
        ],
    )
    .await
    .expect("upsert");
    let listed = s.list_secrets(REF).await.expect("list");
    assert_eq!(
        listed.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["API_TOKEN", "STRIPE_KEY"]
    );
    assert!(listed[1].holds(&SecretValue::new(value.clone())));
    assert!(!listed[0].holds(&SecretValue::new(value.clone())));
    assert!(listed.iter().all(|m| m.updated_at.is_some()));

    // The simulator's state, read through the control API like the demo does.
    let state = reqwest::get(format!("{}/_sim/state", sim.url()))
        .await
        .expect("state")
        .text()
        .await
        .expect("body");
    assert!(!state.contains(&value), "no plaintext in the sim state");
    assert!(state.contains(&hex::encode(Sha256::digest(value.as_bytes()))));

    // Upsert overwrites.
    s.upsert_secrets(REF, &[("STRIPE_KEY".into(), SecretValue::new("rotated"))])
        .await
        .expect("overwrite");
    let listed = s.list_secrets(REF).await.expect("list");
    assert!(listed[1].holds(&SecretValue::new("rotated")));

    s.delete_secrets(REF, &["STRIPE_KEY".into(), "NEVER_EXISTED".into()])
        .await
        .expect("delete");
    let listed = s.list_secrets(REF).await.expect("list");
    assert_eq!(
        listed.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["API_TOKEN"]
    );
}

#[tokio::test]
async fn reserved_names_and_oversized_values_are_refused() {
    let (sim, s, _) = setup("").await;
    let err = s
        .upsert_secrets(REF, &[("SUPABASE_URL".into(), SecretValue::new("x"))])
        .await
        .expect_err("reserved");
    assert_eq!(err.code, "invalid_secret_name");
    assert_eq!(
        sim.state.request_count("POST /supabase"),
        0,
        "refused before sending"
    );
    // The simulator refuses them too, in Supabase's error shape.
    let err = s
        .http()
        .send(Request::post(
            format!("/v1/projects/{REF}/secrets"),
            json!([{"name": "SUPABASE_URL", "value": "x"}]),
        ))
        .await
        .expect_err("400");
    assert_eq!((err.status, err.code.as_str()), (Some(400), "http_400"));
    assert!(err.error.contains("SUPABASE_"), "{}", err.error);
    let err = s
        .http()
        .send(Request::post(
            format!("/v1/projects/{REF}/secrets"),
            json!([{"name": "BIG", "value": "x".repeat(24577)}]),
        ))
        .await
        .expect_err("400");
    assert_eq!(err.status, Some(400));
}

#[tokio::test]
async fn health_needs_services_and_errors_use_the_envelope() {
    let (sim, s, _) = setup("").await;
    let err = s
        .http()
        .json(Request::get(format!("/v1/projects/{REF}/health")))
        .await
        .expect_err("services required");
    let v = serde_json::to_value(&err).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["provider"], "supabase");
    assert_eq!(v["code"], "http_400");
    assert_eq!(v["error"], "services must be provided");
    assert_eq!(v["retryable"], false);

    let anon = HttpClient::new(
        ClientConfig::new(
            Provider::Supabase,
            &sim.provider_url(Provider::Supabase),
            Auth::None,
        ),
        Arc::new(Metrics::default()),
    )
    .expect("client");
    let err = anon
        .json(Request::get("/v1/projects"))
        .await
        .expect_err("401");
    assert_eq!(
        (err.code.as_str(), err.status, err.error.as_str()),
        ("unauthorized", Some(401), "Unauthorized")
    );
}

#[tokio::test]
async fn rate_limit_headers_count_down_in_seconds() {
    let (_sim, s, _) = setup("").await;
    let first = s
        .http()
        .send(Request::get("/v1/projects"))
        .await
        .expect("1");
    let second = s
        .http()
        .send(Request::get("/v1/projects"))
        .await
        .expect("2");
    let h = |r: &odooops::provider::http::Response, k: &str| -> u64 {
        r.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("header")
    };
    assert_eq!(h(&first, "x-ratelimit-limit"), 120);
    assert_eq!(
        h(&first, "x-ratelimit-remaining") - 1,
        h(&second, "x-ratelimit-remaining")
    );
    assert!(
        h(&second, "x-ratelimit-reset") <= 60,
        "seconds, not an epoch"
    );
}

#[tokio::test]
async fn retries_honour_retry_after_and_posts_without_a_key_are_sent_once() {
    let (sim, s, sleeper) =
        setup("route=/supabase/v1/projects,count=2,kinds=429;retry_after=4").await;
    assert_eq!(s.list_projects().await.expect("after two 429s").len(), 1);
    assert_eq!(
        sleeper.recorded(),
        vec![Duration::from_secs(4), Duration::from_secs(4)]
    );
    assert_eq!(sim.state.request_count("GET /supabase/v1/projects"), 3);

    let route = format!("route=/supabase/v1/projects/{REF}/database/query,count=1,kinds=503");
    let (sim, s, _) = setup(&route).await;
    let err = s
        .run_query(REF, "select 1", true)
        .await
        .expect_err("503, not retried");
    assert_eq!((err.status, err.retryable), (Some(503), true));
    assert_eq!(sim.state.request_count("POST /supabase"), 1, "sent once");

    // The bulk secret upsert is idempotent and carries a key: it is retried.
    let route = format!("route=/supabase/v1/projects/{REF}/secrets,count=1,kinds=503");
    let (sim, s, _) = setup(&route).await;
    s.upsert_secrets(REF, &[("K".into(), SecretValue::new("v"))])
        .await
        .expect("retried");
    assert_eq!(sim.state.request_count("POST /supabase"), 2);
}

#[tokio::test]
async fn secret_values_never_reach_logs_or_debug_output() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let value = canary("sb-logs");
    let route = format!("route=/supabase/v1/projects/{REF}/secrets,count=3,kinds=500|503|429");
    let (_sim, s, sleeper) = setup(&route).await;
    let secrets = [("STRIPE_KEY".to_string(), SecretValue::new(value.clone()))];
    s.upsert_secrets(REF, &secrets).await.expect("after faults");
    assert_eq!(sleeper.recorded().len(), 3, "three faults retried");
    let listed = s.list_secrets(REF).await.expect("list");
    let err = s
        .http()
        .send(
            Request::new(Method::DELETE, format!("/v1/projects/{REF}/secrets"))
                .json(json!({"not": "a list"})),
        )
        .await
        .expect_err("400");
    let debug = format!("{secrets:?} {listed:?} {err:?} {s:?}");
    let text = logs.text();
    assert!(!text.is_empty(), "the capture works");
    assert!(text.contains("retrying"), "HTTP-layer logs were captured");
    for (what, hay) in [("logs", &text), ("debug", &debug)] {
        assert!(!hay.contains(&value), "secret value in {what}");
        assert!(!hay.contains(&token()), "token in {what}");
    }
}
