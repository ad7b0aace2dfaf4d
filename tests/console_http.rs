//! The console over real HTTP on loopback: every NAV route and every /api read route on an
//! empty and a populated store (both backends), the JSON envelope for every error class,
//! OpenAPI coverage, metrics and artifacts.

mod common;
mod console_common;

use console_common::*;
use odooops::console::openapi::{Access, API_ROUTES};
use odooops::console::NAV;
use serde_json::Value;

async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c
        .get(url)
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.text().await.expect("body");
    assert!(
        ct.starts_with("application/json"),
        "{url}: content-type {ct}: {body}"
    );
    (status, serde_json::from_str(&body).expect("JSON body"))
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["ok"], false, "{v}");
    assert!(
        v["error"]["status"].as_u64().is_some_and(|s| s >= 400),
        "{v}"
    );
    assert!(
        v["error"]["requestId"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

/// Every NAV link answers 200 HTML with its maturity label; every /api GET route answers 200.
async fn check_all_routes(base: &str, run_id: Option<uuid::Uuid>, artifact: Option<&str>) {
    let c = client();
    for (path, label) in NAV {
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200, "nav link {path} has no working handler");
        let html = r.text().await.expect("html");
        if run_id.is_none() {
            // A stable empty state: the same bytes on a second request (same CSRF cookie).
            let again = |cookie: &'static str| {
                c.get(format!("{base}{path}"))
                    .bearer_auth(VIEWER)
                    .header("cookie", cookie)
                    .send()
            };
            const COOKIE: &str = "odooops_csrf=0123456789abcdef0123456789abcdef";
            let a = again(COOKIE)
                .await
                .expect("page")
                .text()
                .await
                .expect("html");
            let b = again(COOKIE)
                .await
                .expect("page")
                .text()
                .await
                .expect("html");
            assert_eq!(a, b, "{path} is not stable");
        }
        assert!(
            html.contains("class=\"maturity"),
            "{path} lacks a maturity label"
        );
        assert!(
            html.contains("Data sources:"),
            "{path} lacks its data sources"
        );
        assert!(
            html.contains(&label.replace('&', "&amp;")),
            "{path} lacks its title"
        );
    }
    for extra in [
        "/environments/staging",
        "/static/style.css",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        let r = c
            .get(format!("{base}{extra}"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200, "{extra}");
    }
    for route in API_ROUTES.iter().filter(|r| r.method == "get") {
        let path = route.path.replace("{name}", "staging").replace(
            "{id}",
            &match (route.path, run_id, artifact) {
                ("/api/runs/{id}" | "/api/runs/{id}/events", Some(id), _) => id.to_string(),
                ("/api/artifacts/{id}", _, Some(a)) => a.to_string(),
                _ => continue,
            },
        );
        let (status, v) = get_json(&c, &format!("{base}{path}")).await;
        assert_eq!(status, 200, "{path}: {v}");
        assert_eq!(v["ok"], true, "{path}: {v}");
    }
    if let Some(id) = run_id {
        let html = c
            .get(format!("{base}/runs/{id}"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("run page")
            .text()
            .await
            .expect("html");
        assert!(
            html.contains("<span class=\"add\">+size: s-1vcpu-2gb</span>"),
            "diff colouring"
        );
        assert!(
            html.contains("droplet/quickstart-staging:update:1234"),
            "ledger key shown"
        );
        assert!(
            html.contains("drift &lt;detected&gt; on staging"),
            "events escaped"
        );
        assert!(html.contains("/artifacts/"), "evidence links");
        // Every link on a populated run page resolves.
        let links: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter(|l| l.starts_with('/'))
            .collect();
        assert!(links.len() > NAV.len(), "{links:?}");
        for link in links {
            let link = link.replace("&amp;", "&");
            let r = c
                .get(format!("{base}{link}"))
                .bearer_auth(VIEWER)
                .send()
                .await
                .expect("link");
            assert_eq!(r.status(), 200, "dead link {link} on the run page");
        }
    }
}

#[tokio::test]
async fn every_route_answers_on_empty_and_populated_stores() {
    for b in common::backends().await {
        let base = start(b.store.clone(), config(false)).await;
        check_all_routes(&base, None, None).await;
        let pop = populate(&b.store).await;
        check_all_routes(&base, Some(pop.run_id), Some(&pop.plan_artifact)).await;
        let c = client();
        let (_, o) = get_json(&c, &format!("{base}/api/overview")).await;
        assert_eq!(o["data"]["open_drift"], 1, "{}: {o}", b.name);
        assert_eq!(o["data"]["gate_pass_rate"], 1.0);
        let staging = o["data"]["environments"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["name"] == "staging"))
            .cloned()
            .expect("staging");
        assert_eq!(staging["health"], "drifted");
        let home = c
            .get(format!("{base}/"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("home")
            .text()
            .await
            .expect("html");
        assert!(
            home.contains("<path d=\"M"),
            "drift chart drawn from findings"
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn api_errors_are_json_envelopes() {
    let b = common::sqlite().await;
    let base = start(b.store.clone(), config(false)).await;
    let c = client();
    // 404 unknown route, with and without the /api prefix only.
    for path in ["/api/nope", "/api", "/api/runs/x/y"] {
        let (s, v) = get_json(&c, &format!("{base}{path}")).await;
        assert_eq!(s, 404, "{path}");
        assert_error(&v, "no_such_route");
    }
    // 400 bad ids, 404 missing rows.
    let (s, v) = get_json(&c, &format!("{base}/api/runs/not-a-uuid")).await;
    assert_eq!(s, 400);
    assert_error(&v, "bad_request");
    let (s, v) = get_json(&c, &format!("{base}/api/runs/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    let (s, v) = get_json(&c, &format!("{base}/api/artifacts/..%2F..%2Fetc%2Fpasswd")).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_artifact_id");
    let (s, v) = get_json(&c, &format!("{base}/api/events?level=loud")).await;
    assert_eq!(s, 400);
    assert_error(&v, "bad_request");
    let (s, v) = get_json(&c, &format!("{base}/api/events?limit=abc")).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_query");
    // 405 wrong method (as an operator, so auth is not what answers).
    for (m, path) in [
        (reqwest::Method::DELETE, "/api/overview"),
        (reqwest::Method::GET, "/api/actions/plan"),
        (reqwest::Method::PUT, "/api/webhooks/github"),
    ] {
        let r = c
            .request(m.clone(), format!("{base}{path}"))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 405, "{m} {path}");
        assert!(
            r.headers().contains_key("allow"),
            "405 names the allowed methods"
        );
        assert!(r.headers().contains_key("x-request-id"));
        let v: Value = r.json().await.expect("json");
        assert_error(&v, "method_not_allowed");
    }
    // 400 bad JSON, 415 wrong content type, 422 wrong shape.
    let post = |body: &'static str, ct: &'static str| {
        c.post(format!("{base}/api/actions/plan"))
            .bearer_auth(OPERATOR)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post("{not json", "application/json").await.expect("req");
    assert_eq!(r.status(), 400);
    assert_error(&r.json().await.expect("json"), "invalid_json");
    let r = post("{\"environment\":\"staging\"}", "text/plain")
        .await
        .expect("req");
    assert_eq!(r.status(), 415);
    assert_error(&r.json().await.expect("json"), "unsupported_media_type");
    let r = post("{\"environment\":\"nowhere\"}", "application/json")
        .await
        .expect("req");
    assert_eq!(r.status(), 422);
    assert_error(&r.json().await.expect("json"), "unknown_environment");
    // 413 oversized body (limit 64 KiB in the test config).
    let big = vec![b'x'; 200 * 1024];
    for path in ["/api/actions/plan", "/api/webhooks/github"] {
        let r = c
            .post(format!("{base}{path}"))
            .bearer_auth(OPERATOR)
            .header("Idempotency-Key", "big")
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 413, "{path}");
        assert_error(&r.json().await.expect("json"), "payload_too_large");
    }
    // 500 from a panicking handler, caught; the server keeps serving.
    let (s, v) = get_json(&c, &format!("{base}/api/_test/panic")).await;
    assert_eq!(s, 500);
    assert_error(&v, "internal");
    assert!(
        !v.to_string().contains("deliberate panic"),
        "panic text stays in the log"
    );
    let (s, _) = get_json(&c, &format!("{base}/api/overview")).await;
    assert_eq!(s, 200);
    // Page-side errors are HTML with the right status.
    let r = c
        .get(format!("{base}/artifacts/..%2F..%2Fetc%2Fpasswd"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let r = c
        .get(format!("{base}/no/such/page"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 404);
    b.finish().await;
}

#[tokio::test]
async fn openapi_lists_every_api_route_and_artifacts_are_served() {
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let base = start(b.store.clone(), config(true)).await;
    let c = client();
    // The plain document (no envelope), with typed response schemas.
    let (s, v) = get_json(&c, &format!("{base}/api/openapi.json")).await;
    assert_eq!(s, 200);
    assert_eq!(v["openapi"], "3.0.3", "not the plain document: {v}");
    assert!(v.get("ok").is_none(), "the document is not in the envelope");
    let schemas = &v["components"]["schemas"];
    for name in [
        "Run",
        "Plan",
        "Event",
        "DriftFinding",
        "Backup",
        "QueueJob",
        "Overview",
        "Error",
    ] {
        assert!(
            schemas[name].is_object(),
            "components/schemas/{name} missing"
        );
    }
    assert_eq!(schemas["Run"]["properties"]["id"]["format"], "uuid");
    assert_eq!(
        schemas["Run"]["properties"]["started_at"]["format"],
        "date-time"
    );
    assert_eq!(
        v["paths"]["/api/runs/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["properties"]["data"]["$ref"],
        "#/components/schemas/RunDetail"
    );
    assert_eq!(
        v["paths"]["/api/runs"]["get"]["responses"]["404"],
        Value::Null,
        "a list without path or environment parameter has no 404"
    );
    for route in API_ROUTES {
        assert!(
            v["paths"][route.path][route.method].is_object(),
            "{} missing",
            route.path
        );
        // Every route in the table has a handler (no 404 "no_such_route").
        let path = route
            .path
            .replace("{name}", "staging")
            .replace("{id}", "x")
            .replace("{kind}", "plan");
        let req = match route.access {
            Access::Read => c.get(format!("{base}{path}")),
            _ => c.post(format!("{base}{path}")),
        };
        let r = req.bearer_auth(OPERATOR).send().await.expect("req");
        let body: Value = r.json().await.expect("json");
        assert_ne!(body["error"]["code"], "no_such_route", "{path}");
    }
    // Artifacts with their media type.
    let r = c
        .get(format!("{base}/artifacts/{}", pop.plan_artifact))
        .send()
        .await
        .expect("art");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = c
        .get(format!("{base}/artifacts/{}", pop.gate_artifact))
        .send()
        .await
        .expect("art");
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().await.expect("text"), "db objects: 120 <= 10000\n");
    let r = c
        .get(format!("{base}/artifacts/{}", "0".repeat(64)))
        .send()
        .await
        .expect("art");
    assert_eq!(r.status(), 404);
    // Metrics.
    let m = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        m.contains("odooops_drift_resources{environment=\"staging\"} 1"),
        "{m}"
    );
    assert!(m.contains("odooops_queue_depth 1"), "{m}");
    assert!(
        m.contains("odooops_runs_total{status=\"succeeded\"} 1"),
        "{m}"
    );
    assert!(m.contains("# TYPE odooops_runs counter"), "{m}");
    assert!(
        m.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF: {m}"
    );
    b.finish().await;
}

/// Every documented query parameter is honoured, and any other one is refused with a JSON 400
/// that names it.
#[tokio::test]
async fn query_parameters_are_honoured_or_refused_by_name() {
    let b = common::sqlite().await;
    let run_ids = {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(populate(&b.store).await.run_id);
        }
        ids
    };
    let base = start(b.store.clone(), config(false)).await;
    let c = client();
    // limit on /api/runs: honoured, newest first.
    let (s, v) = get_json(&c, &format!("{base}/api/runs?limit=2")).await;
    assert_eq!(s, 200, "{v}");
    let runs = v["data"]["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{v}");
    assert_eq!(runs[0]["id"], run_ids[2].to_string());
    let (_, v) = get_json(&c, &format!("{base}/api/runs")).await;
    assert_eq!(v["data"]["runs"].as_array().map(Vec::len), Some(3));
    // Out of bounds or not a number: 400 naming the parameter.
    for bad in ["0", "1001", "-1", "x", ""] {
        let (s, v) = get_json(&c, &format!("{base}/api/runs?limit={bad}")).await;
        assert_eq!(s, 400, "limit={bad}: {v}");
        let number = bad.parse::<i64>().is_ok();
        assert_error(
            &v,
            if number {
                "bad_request"
            } else {
                "invalid_query"
            },
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("limit")),
            "{v}"
        );
    }
    let (s, v) = get_json(&c, &format!("{base}/api/events?limit=1")).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    // A parameter a route does not document: refused, named.
    for url in [
        "/api/runs?environment=staging",
        "/api/overview?limit=5",
        "/api/gates?x=1",
        "/api/events?env=staging",
        "/api/drift?since=2026-01-01T00:00:00Z",
        "/api/jobs?limit=5",
        "/api/drift/history?limit=5",
    ] {
        let (s, v) = get_json(&c, &format!("{base}{url}")).await;
        assert_eq!(s, 400, "{url}: {v}");
        assert_error(&v, "invalid_query");
        let name = url
            .split('?')
            .nth(1)
            .and_then(|q| q.split('=').next())
            .unwrap_or_default();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(name)),
            "{url}: the message names {name}: {v}"
        );
    }
    b.finish().await;
}

#[tokio::test]
async fn secrets_show_presence_never_values() {
    let canary = common::canary("console");
    // SMTP_PASSWORD is a quickstart registry key; set it for this process only.
    std::env::set_var("SMTP_PASSWORD", &canary);
    let b = common::sqlite().await;
    let base = start(b.store.clone(), config(true)).await;
    let c = client();
    for path in [
        "/secrets",
        "/api/secrets",
        "/settings",
        "/api/settings",
        "/environments/production",
        "/api/environments/production",
    ] {
        let body = c
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("req")
            .text()
            .await
            .expect("body");
        assert!(!body.contains(&canary), "{path} leaks a secret value");
        assert!(
            !body.contains(OPERATOR) && !body.contains(VIEWER),
            "{path} leaks a token"
        );
    }
    let (_, v) = get_json(&c, &format!("{base}/api/secrets")).await;
    let smtp = v["data"]["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["name"] == "SMTP_PASSWORD"))
        .cloned()
        .expect("key");
    assert_eq!(smtp["present"], true);
    b.finish().await;
}

fn sim_adapter(running: &odooops::sim::Running) -> odooops::provider::digitalocean::DigitalOcean {
    use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics};
    use odooops::provider::{Provider, SecretValue};
    let cfg = ClientConfig::new(
        Provider::Digitalocean,
        &running.provider_url(Provider::Digitalocean),
        Auth::Bearer(SecretValue::new("test-token-sim")),
    );
    let http = HttpClient::new(cfg, std::sync::Arc::new(Metrics::default())).expect("client");
    odooops::provider::digitalocean::DigitalOcean::new(http)
}

/// The evidence the reconcile engine leaves (plan → apply → out-of-band drift → plan), read
/// back through every page, every run's detail page and the API.
#[tokio::test]
async fn console_over_evidence_from_the_reconcile_engine() {
    use odooops::reconcile::engine::{Context, Engine};
    use odooops::sim::{self, faults::FaultConfig};
    for b in common::backends().await {
        let running = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let engine = Engine::new(b.store.clone(), sim_adapter(&running));
        let ssot = quickstart();
        let ctx = Context {
            actor: "test".into(),
            ..Context::default()
        };
        let first = engine.plan(&ssot, &ctx).await.expect("plan");
        engine
            .apply(&ssot, first.plan_id, &ctx)
            .await
            .expect("apply");
        let victim = sim::lock(&running.state.digitalocean)
            .droplets
            .values()
            .find(|d| d["name"].as_str().is_some_and(|n| n.ends_with("-staging")))
            .cloned()
            .expect("staging droplet");
        let id = victim["id"].as_u64().expect("id").to_string();
        sim::lock(&running.state.digitalocean)
            .mutate(
                "droplet",
                &id,
                &serde_json::json!({"size_slug": "s-8vcpu-16gb"}),
                false,
            )
            .expect("mutate");
        engine.plan(&ssot, &ctx).await.expect("drift plan");

        let base = start(b.store.clone(), config(false)).await;
        check_all_routes(&base, None, None).await;
        let c = client();
        let runs = b.store.recent_runs(100).await.expect("runs");
        assert!(runs.len() >= 3, "{}", runs.len());
        let mut ledger_keys_shown = 0;
        for run in &runs {
            let r = c
                .get(format!("{base}/runs/{}", run.id))
                .bearer_auth(VIEWER)
                .send()
                .await
                .expect("run");
            assert_eq!(r.status(), 200);
            let html = r.text().await.expect("html");
            ledger_keys_shown += b
                .store
                .actions_for_run(run.id)
                .await
                .expect("actions")
                .iter()
                .filter(|a| html.contains(&odooops::console::html::esc(&a.dedupe_key)))
                .count();
            let (s, v) = get_json(&c, &format!("{base}/api/runs/{}", run.id)).await;
            assert_eq!(s, 200, "{v}");
        }
        assert!(
            ledger_keys_shown >= 1,
            "apply actions are listed with their ledger keys"
        );
        let (_, d) = get_json(&c, &format!("{base}/api/drift?environment=staging")).await;
        assert!(
            !d["data"]["open"].as_array().expect("open").is_empty(),
            "{d}"
        );
        let drift_page = c
            .get(format!("{base}/drift"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("drift")
            .text()
            .await
            .expect("html");
        assert!(
            drift_page.contains("s-8vcpu-16gb"),
            "the observed value is shown"
        );
        // Event filters.
        let (_, all) = get_json(&c, &format!("{base}/api/events?limit=1000")).await;
        let n_all = all["data"].as_array().expect("events").len();
        assert!(n_all > 0);
        let corr = runs[0].correlation_id.clone();
        let (_, by_corr) = get_json(&c, &format!("{base}/api/events?correlation_id={corr}")).await;
        assert!(by_corr["data"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["correlation_id"] == corr.as_str()));
        let (_, errors) = get_json(&c, &format!("{base}/api/events?level=error")).await;
        assert!(errors["data"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["level"] == "error"));
        let (_, future) =
            get_json(&c, &format!("{base}/api/events?since=2999-01-01T00:00:00Z")).await;
        assert_eq!(future["data"].as_array().expect("events").len(), 0);
        b.finish().await;
    }
}

#[tokio::test]
async fn drift_counts_cover_every_open_finding_and_the_list_is_bounded() {
    for b in common::backends().await {
        let run = b
            .store
            .begin_run(&odooops::store::NewRun {
                kind: odooops::store::RunKind::Reconcile,
                trigger: odooops::store::Trigger::Cli,
                ssot_revision: "r".into(),
                actor: "t".into(),
                environment: Some("staging".into()),
                correlation_id: None,
            })
            .await
            .expect("run");
        let obs: Vec<odooops::store::DriftObservation> = (0..30)
            .map(|i| odooops::store::DriftObservation {
                environment: if i < 20 { "staging" } else { "production" }.into(),
                resource_kind: "droplet".into(),
                resource_name: format!("d-{i}"),
                field_path: if i % 2 == 0 { "size" } else { "tags" }.into(),
                desired: Some(serde_json::json!(1)),
                observed: Some(serde_json::json!(2)),
                run_id: Some(run.id),
            })
            .collect();
        b.store.upsert_drift(&obs).await.expect("drift");
        let base = start(b.store.clone(), config(false)).await;
        let c = client();
        let (s, v) = get_json(&c, &format!("{base}/api/drift?limit=5")).await;
        assert_eq!(s, 200, "{}: {v}", b.name);
        let d = &v["data"];
        assert_eq!(d["open"].as_array().map(Vec::len), Some(5), "{}", b.name);
        let total: i64 = d["by_field"]
            .as_array()
            .expect("by_field")
            .iter()
            .map(|f| f["open"].as_i64().unwrap_or(0))
            .sum();
        assert_eq!(total, 30, "{}: counts are over all open findings", b.name);
        // Without a selected environment: per field over all environments.
        let size = d["by_field"]
            .as_array()
            .expect("by_field")
            .iter()
            .find(|f| f["field_path"] == "size")
            .cloned()
            .expect("size row");
        assert_eq!(size["open"], 15, "{}", b.name);
        assert_eq!(size["environment"], serde_json::Value::Null);
        let (s, v) = get_json(&c, &format!("{base}/api/drift?environment=staging")).await;
        assert_eq!(s, 200);
        assert_eq!(v["data"]["open"].as_array().map(Vec::len), Some(20));
        let fields = v["data"]["by_field"].as_array().expect("by_field");
        assert!(fields.iter().all(|f| f["environment"] == "staging"));
        let staging_size = fields
            .iter()
            .find(|f| f["field_path"] == "size")
            .map(|f| f["open"].clone());
        assert_eq!(staging_size, Some(serde_json::json!(10)), "{}", b.name);
        // Every environment's count, even when one is selected.
        assert_eq!(
            v["data"]["by_environment"].as_array().map(Vec::len),
            Some(2)
        );
        let (s, v) = get_json(&c, &format!("{base}/api/drift?limit=0")).await;
        assert_eq!(s, 400);
        assert_error(&v, "bad_request");
        // The environments list reads each environment's own last run.
        let (s, v) = get_json(&c, &format!("{base}/api/environments")).await;
        assert_eq!(s, 200);
        let staging = v["data"]
            .as_array()
            .expect("list")
            .iter()
            .find(|e| e["name"] == "staging")
            .cloned()
            .expect("staging");
        assert_eq!(staging["last_run"]["id"], run.id.to_string(), "{}", b.name);
        assert_eq!(staging["open_drift"], 20);
        b.finish().await;
    }
}

#[tokio::test]
async fn runs_list_changes_set_aside_plans_and_global_last_runs() {
    for b in common::backends().await {
        let chain = populate_chain(&b.store).await;
        // A no-op plan still `planned`, from the console's own SSOT revision.
        let noop_run = b
            .store
            .begin_run(&odooops::store::NewRun {
                kind: odooops::store::RunKind::Plan,
                trigger: odooops::store::Trigger::Cli,
                ssot_revision: quickstart().revision.clone(),
                actor: "test".into(),
                environment: Some("production".into()),
                correlation_id: None,
            })
            .await
            .expect("run");
        let noop = b
            .store
            .save_plan(odooops::store::NewPlan {
                run_id: noop_run.id,
                ssot_revision: quickstart().revision.clone(),
                live_fingerprint: "fp".into(),
                plan: serde_json::json!({"actions": []}).to_string(),
                rendered: "no changes\n".into(),
            })
            .await
            .expect("plan");
        let base = start(b.store.clone(), config(true)).await;
        let c = client();
        let (_, runs) = get_json(&c, &format!("{base}/api/runs")).await;
        assert!(
            runs["data"]["planned"]
                .as_array()
                .expect("planned")
                .is_empty(),
            "{}: {runs}",
            b.name
        );
        let aside = runs["data"]["set_aside"].as_array().expect("set aside");
        assert!(aside.iter().any(|a| a["plan_id"] == noop.id.to_string()
            && a["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("no changes"))));
        let html = c
            .get(format!("{base}/runs"))
            .send()
            .await
            .expect("runs")
            .text()
            .await
            .expect("html");
        assert!(html.contains("+2"), "plan change counts");
        assert!(html.contains("2 done, 0 failed"), "apply outcomes");
        assert!(
            html.contains("class=\"failures\""),
            "failures are prominent"
        );
        // The run over every environment is staging's last run (newer than its own runs);
        // production's own no-op plan run came after it.
        let (_, envs) = get_json(&c, &format!("{base}/api/environments")).await;
        for e in envs["data"].as_array().expect("envs") {
            let want = if e["name"] == "production" {
                noop_run.id
            } else {
                chain.failed_run
            };
            assert_eq!(e["last_run"]["id"], want.to_string(), "{}: {e}", b.name);
        }
        // /modules never shows an empty install list; the drift page names its real range.
        let modules = c
            .get(format!("{base}/modules"))
            .send()
            .await
            .expect("modules")
            .text()
            .await
            .expect("html");
        assert!(!modules.contains("<code></code>"), "{modules}");
        let (s, h) = get_json(&c, &format!("{base}/api/drift/history?days=7")).await;
        assert_eq!(s, 200, "{h}");
        let from = chrono::DateTime::parse_from_rfc3339(h["data"]["from"].as_str().expect("from"))
            .expect("from");
        let to = chrono::DateTime::parse_from_rfc3339(h["data"]["to"].as_str().expect("to"))
            .expect("to");
        assert_eq!((to - from).num_days(), 7);
        let (s, _) = get_json(&c, &format!("{base}/api/drift/history?days=0")).await;
        assert_eq!(s, 400);
        b.finish().await;
    }
}

/// After the demo (simulator, SQLite, examples/quickstart), each environment page lists
/// every object the SSOT declares for it with the provider id recorded when it was made —
/// the droplet and firewall included, not only the kinds without ownership tags — and the
/// droplet the demo resized out of band as drifted.
#[tokio::test]
async fn after_the_demo_the_environment_page_lists_every_declared_object_with_its_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_odooops"))
        .args(["demo", "--data-dir"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ODOOOPS_DATABASE_URL")
        .output()
        .expect("run the demo");
    assert!(
        out.status.success(),
        "demo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("sqlite:{}", dir.path().join("demo/ops.db").display());
    let store = odooops::store::Store::open(Some(&url), dir.path())
        .await
        .expect("the demo's store");
    let base = start(store.clone(), config(true)).await;
    let c = client();
    let (s, v) = get_json(&c, &format!("{base}/api/environments/staging")).await;
    assert_eq!(s, 200, "{v}");
    let resources = v["data"]["resources"].as_array().expect("resources");
    let find = |kind: &str| {
        resources
            .iter()
            .find(|r| r["kind"] == kind)
            .unwrap_or_else(|| panic!("a {kind} is listed: {v}"))
    };
    for kind in [
        "database",
        "database_user",
        "droplet",
        "dns_record",
        "firewall",
    ] {
        let r = find(kind);
        assert_eq!(r["declared"], true, "{r}");
        assert!(
            r["provider_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{kind} has its recorded provider id: {r}"
        );
    }
    assert_eq!(find("droplet")["state"], "drifted", "{v}");
    // The droplet's address, as its create answered, is where the mail catcher is reached.
    let ip = find("droplet")["address"]
        .as_str()
        .unwrap_or_else(|| panic!("the droplet's address: {v}"))
        .to_string();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    assert!(
        v["data"]["mail_catcher"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("root@{ip}"))),
        "{v}"
    );
    assert_eq!(find("firewall")["state"], "in sync", "{v}");
    let (s, v) = get_json(&c, &format!("{base}/api/environments/production")).await;
    assert_eq!(s, 200, "{v}");
    let prod = v["data"]["resources"].as_array().expect("resources");
    assert!(
        prod.iter()
            .any(|r| r["kind"] == "droplet" && r["state"] == "in sync"),
        "{v}"
    );
    let page = c
        .get(format!("{base}/environments/staging"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("quickstart-staging"), "{page}");
    assert!(page.contains("drifted</span> (1 field)"), "{page}");
    store.close().await;
}
