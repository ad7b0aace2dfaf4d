//! The Vercel adapter against the simulator, over real loopback HTTP.

mod common;

use common::{canary, LogBuffer};
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper, Request};
use odooops::provider::vercel::{EnvCreate, EnvPatch, Vercel};
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig, lock};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const PROJECT: &str = "prj_acme";
const TEAM: &str = "team_acme";

fn token() -> String {
    format!("test-token-{}", "vc-canary-9d0e")
}

fn client(sim: &sim::Running, team: Option<&str>) -> (Vercel, Arc<RecordingSleeper>) {
    let mut cc = ClientConfig::new(
        Provider::Vercel,
        &sim.provider_url(Provider::Vercel),
        Auth::Bearer(SecretValue::new(token())),
    );
    cc.timeout = Duration::from_millis(800);
    let sleeper = Arc::new(RecordingSleeper::default());
    let http = HttpClient::with_sleeper(cc, Arc::new(Metrics::default()), sleeper.clone())
        .expect("client");
    (Vercel::new(http, "acme-web", team), sleeper)
}

async fn setup(faults: &str) -> (sim::Running, Vercel, Arc<RecordingSleeper>) {
    let cfg = FaultConfig::parse(faults).expect("faults");
    let running = sim::start("127.0.0.1:0", cfg).await.expect("sim");
    lock(&running.state.vercel)
        .mutate(
            "project",
            PROJECT,
            &json!({"name": "acme-web", "teamId": TEAM}),
            false,
        )
        .expect("seed project");
    let (v, sleeper) = client(&running, Some(TEAM));
    (running, v, sleeper)
}

fn var(key: &str, value: &str, target: &[&str]) -> EnvCreate {
    EnvCreate {
        key: key.into(),
        value: SecretValue::new(value),
        kind: "encrypted".into(),
        target: target.iter().map(|t| t.to_string()).collect(),
        git_branch: None,
    }
}

#[tokio::test]
async fn env_vars_round_trip_normalized() {
    let (sim, v, _) = setup("").await;
    let created = v
        .create_env(&[
            var("STRIPE_KEY", "a", &["production", "preview"]),
            var("API_URL", "b", &["development"]),
        ])
        .await
        .expect("create");
    assert_eq!(created.len(), 2);
    let listed = v.list_env().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|e| (e.key.as_str(), e.target.clone()))
            .collect::<Vec<_>>(),
        vec![
            ("API_URL", vec!["development".to_string()]),
            (
                "STRIPE_KEY",
                vec!["preview".to_string(), "production".to_string()]
            ),
        ],
        "sorted by key, targets sorted"
    );
    assert!(listed.iter().all(|e| e.plain_value.is_none()));

    let stripe = listed[1].id.clone();
    let edited = v
        .edit_env(
            &stripe,
            &EnvPatch {
                value: Some(SecretValue::new("rotated")),
                target: Some(vec!["production".into()]),
                ..EnvPatch::default()
            },
        )
        .await
        .expect("edit");
    assert_eq!(edited.target, vec!["production"]);
    v.delete_env(&stripe).await.expect("delete");
    v.delete_env(&stripe).await.expect("deleting twice is fine");
    assert_eq!(v.list_env().await.expect("list").len(), 1);
    assert!(sim.state.request_count("DELETE /vercel/v9/projects") >= 2);
}

#[tokio::test]
async fn a_201_with_failed_entries_is_an_error_and_upsert_overwrites() {
    let (sim, v, _) = setup("").await;
    v.create_env(&[var("STRIPE_KEY", "a", &["production"])])
        .await
        .expect("first");
    let err = v
        .create_env(&[
            var("STRIPE_KEY", "b", &["production", "preview"]),
            var("NEW_KEY", "c", &["preview"]),
        ])
        .await
        .expect_err("duplicate in failed[] of a 201");
    assert_eq!(
        (err.code.as_str(), err.status, err.retryable),
        ("ENV_ALREADY_EXISTS", Some(201), false)
    );
    assert!(err.error.contains("STRIPE_KEY"), "{}", err.error);
    assert!(err.error.contains("1 created"), "{}", err.error);
    let keys: Vec<String> = v
        .list_env()
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        keys,
        ["NEW_KEY", "STRIPE_KEY"],
        "the rest of the batch landed"
    );
    assert_eq!(sim.state.request_count("POST /vercel"), 2);

    let up = v
        .upsert_env(&[var("STRIPE_KEY", "b", &["production", "preview"])])
        .await
        .expect("upsert");
    assert_eq!(up[0].target, vec!["preview", "production"]);
    let listed = v.list_env().await.expect("list");
    assert_eq!(listed.len(), 2, "overwritten, not duplicated");
}

#[tokio::test]
async fn patch_refuses_unknown_fields_with_vercels_error_body() {
    let (_sim, v, _) = setup("").await;
    let created = v
        .create_env(&[var("K", "x", &["preview"])])
        .await
        .expect("create");
    let err = v
        .http()
        .json(
            Request::new(
                Method::PATCH,
                format!("/v9/projects/acme-web/env/{}", created[0].id),
            )
            .query("teamId", TEAM)
            .json(json!({"value": "y", "colour": "blue"})),
        )
        .await
        .expect_err("400");
    let e = serde_json::to_value(&err).expect("json");
    assert_eq!(e["provider"], "vercel");
    assert_eq!(e["code"], "bad_request");
    assert_eq!(e["status"], 400);
    assert!(e["error"].as_str().is_some_and(|m| m.contains("colour")));
    let err = v
        .edit_env("env_missing", &EnvPatch::default())
        .await
        .expect_err("404");
    assert_eq!((err.code.as_str(), err.status), ("not_found", Some(404)));
}

#[tokio::test]
async fn team_scope_is_required_and_checked() {
    let (sim, _, _) = setup("").await;
    for team in [None, Some("team_other")] {
        let (v, _) = client(&sim, team);
        let err = v.list_env().await.expect_err("403");
        assert_eq!((err.code.as_str(), err.status), ("forbidden", Some(403)));
    }
    // A personal project needs no team.
    lock(&sim.state.vercel)
        .mutate(
            "project",
            "prj_me",
            &json!({"name": "acme-web-personal"}),
            false,
        )
        .expect("seed");
    let (v, _) = client(&sim, None);
    let personal = Vercel::new(v.http().clone(), "acme-web-personal", None);
    assert!(personal.list_env().await.expect("list").is_empty());
    let missing = Vercel::new(v.http().clone(), "nope", None);
    let err = missing.list_env().await.expect_err("404");
    assert_eq!((err.code.as_str(), err.status), ("not_found", Some(404)));
}

#[tokio::test]
async fn deployments_and_domains_page_by_until() {
    let (sim, v, _) = setup("").await;
    {
        let mut st = lock(&sim.state.vercel);
        let base = 1_700_000_000_000i64;
        for i in 0..250i64 {
            st.mutate(
                "deployment",
                &format!("dpl_{i:04}"),
                &json!({"projectId": PROJECT, "created": base + i * 1000, "state": "READY"}),
                false,
            )
            .expect("seed");
        }
        st.mutate(
            "deployment",
            "dpl_elsewhere",
            &json!({"projectId": "prj_other", "created": base}),
            false,
        )
        .expect("seed");
        for d in ["www.acme.example", "acme.example", "staging.acme.example"] {
            st.mutate("domain", &format!("{PROJECT}/{d}"), &json!({}), false)
                .expect("seed");
        }
    }
    let all = v.list_deployments().await.expect("deployments");
    assert_eq!(all.len(), 250);
    assert_eq!(
        sim.state.request_count("GET /vercel/v6/deployments"),
        3,
        "ceil(250 / 100) pages"
    );
    assert_eq!(all[0].uid, "dpl_0249", "newest first");
    assert!(all.windows(2).all(|w| w[0].created > w[1].created));
    let domains = v.list_domains().await.expect("domains");
    assert_eq!(
        domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["acme.example", "staging.acme.example", "www.acme.example"]
    );
    assert!(domains.iter().all(|d| d.verified));
}

#[tokio::test]
async fn retries_honour_retry_after_and_plain_creates_are_sent_once() {
    let (sim, v, sleeper) =
        setup("route=/vercel/v10/projects,count=2,kinds=429;retry_after=3").await;
    assert!(v.list_env().await.expect("after two 429s").is_empty());
    assert_eq!(
        sleeper.recorded(),
        vec![Duration::from_secs(3), Duration::from_secs(3)]
    );
    assert_eq!(sim.state.request_count("GET /vercel/v10/projects"), 3);
    assert_eq!(
        v.http()
            .metrics()
            .snapshot()
            .get(&(Provider::Vercel, "429".to_string())),
        Some(&2)
    );

    let (sim, v, _) = setup("route=/vercel/v10/projects,count=1,kinds=503").await;
    let err = v
        .create_env(&[var("K", "x", &["preview"])])
        .await
        .expect_err("503, not retried");
    assert_eq!(err.status, Some(503));
    assert_eq!(sim.state.request_count("POST /vercel"), 1, "sent once");

    let (sim, v, _) = setup("route=/vercel/v10/projects,count=1,kinds=503").await;
    v.upsert_env(&[var("K", "x", &["preview"])])
        .await
        .expect("upsert is retried");
    assert_eq!(sim.state.request_count("POST /vercel"), 2);
}

#[tokio::test]
async fn rate_limit_headers_carry_an_epoch_reset() {
    let (_sim, v, _) = setup("").await;
    let r = v
        .http()
        .send(Request::get("/v10/projects/acme-web/env").query("teamId", TEAM))
        .await
        .expect("ok");
    let h = |k: &str| -> i64 {
        r.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("header")
    };
    assert_eq!(h("x-ratelimit-limit"), 100);
    assert_eq!(h("x-ratelimit-remaining"), 99);
    assert!(h("x-ratelimit-reset") > 1_700_000_000, "epoch seconds");
}

#[tokio::test]
async fn secret_values_never_reach_logs_debug_or_the_sim_state() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let value = canary("vc-logs");
    let (sim, v, sleeper) = setup("route=/vercel/v10/projects,count=2,kinds=500|429").await;
    let vars = [EnvCreate::encrypted(
        "STRIPE_KEY",
        SecretValue::new(value.clone()),
    )];
    let up = v.upsert_env(&vars).await.expect("after faults");
    assert_eq!(sleeper.recorded().len(), 2);
    let err = v.create_env(&vars).await.expect_err("duplicate");
    let listed = v.list_env().await.expect("list");
    let debug = format!("{vars:?} {up:?} {err:?} {listed:?} {v:?}");
    let state = reqwest::get(format!("{}/_sim/state", sim.url()))
        .await
        .expect("state")
        .text()
        .await
        .expect("body");
    let text = logs.text();
    assert!(text.contains("retrying"), "HTTP-layer logs were captured");
    for (what, hay) in [("logs", &text), ("debug", &debug), ("sim state", &state)] {
        assert!(!hay.contains(&value), "secret value in {what}");
        assert!(!hay.contains(&token()), "token in {what}");
    }
}
