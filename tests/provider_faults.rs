//! The simulator under 20 % injected faults: a sequence of provider operations still
//! completes, each within at most 5 attempts.

use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper, Request};
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn twenty_percent_faults_complete_within_five_attempts_each() {
    let faults = FaultConfig::parse("p=0.2,kinds=429|500|503|timeout|malformed|truncate|reset,seed=5;retry_after=0;timeout_ms=300").expect("faults");
    let sim = sim::start("127.0.0.1:0", faults).await.expect("sim");
    let mut clients = Vec::new();
    for p in [
        Provider::Digitalocean,
        Provider::Supabase,
        Provider::Vercel,
        Provider::Plane,
    ] {
        let auth = match p {
            Provider::Plane => Auth::Header("X-API-Key", SecretValue::new("test-token-faults")),
            _ => Auth::Bearer(SecretValue::new("test-token-faults")),
        };
        let mut cfg = ClientConfig::new(p, &sim.provider_url(p), auth);
        cfg.timeout = Duration::from_millis(200);
        cfg.rates = vec![];
        clients.push((
            p,
            HttpClient::with_sleeper(
                cfg,
                Arc::new(Metrics::default()),
                Arc::new(RecordingSleeper::default()),
            )
            .expect("client"),
        ));
    }
    sim::lock(&sim.state.supabase)
        .mutate(
            "project",
            "abcdefghijklmnopqrst",
            &json!({"name": "acme"}),
            false,
        )
        .expect("seed");
    sim::lock(&sim.state.vercel)
        .mutate("project", "portal", &json!({}), false)
        .expect("seed");
    let mut ops = 0;
    let mut max_attempts = 0;
    for round in 0..40 {
        for (p, http) in &clients {
            let req = match p {
                Provider::Digitalocean => match round % 3 {
                    0 => Request::get("/v2/droplets"),
                    1 => Request::get("/v2/firewalls"),
                    _ => Request::post("/v2/tags", json!({"name": format!("t{round}")})).idempotency_key(format!("tag-{round}")),
                },
                Provider::Supabase => Request::get("/v1/projects"),
                Provider::Vercel => Request::get("/v10/projects/portal/env"),
                _ => Request::get("/api/v1/workspaces/acme/projects/0b7d5c2e-4f1a-4c3e-9a51-2f7c8d9e0a13/work-items/"),
            };
            let mut req = req;
            req.expect_json = true;
            let resp = http
                .send(req)
                .await
                .unwrap_or_else(|e| panic!("{p} round {round}: {e}"));
            assert!(resp.attempts <= 5);
            max_attempts = max_attempts.max(resp.attempts);
            ops += 1;
        }
    }
    let fired = sim::lock(&sim.state.faults).fired();
    assert!(
        fired as f64 > ops as f64 * 0.1,
        "only {fired} faults over {ops} operations"
    );
    assert!(max_attempts > 1, "some operation needed a retry");
}
