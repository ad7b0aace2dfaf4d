//! The Plane adapter against the simulator, over real loopback HTTP.

mod common;

use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper, Request};
use odooops::provider::plane::{Finding, Plane, EXTERNAL_SOURCE};
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig, lock};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const WS: &str = "acme";
const PROJECT: &str = "5f0c7e1a-3b7e-4d1c-9a51-0d6f4a8e2b10";
const ITEMS: &str = "/plane/api/v1/workspaces/acme/projects";

fn key() -> String {
    format!("test-token-{}", "plane-canary-6b1d")
}

async fn setup_with(faults: &str, auth: Auth) -> (sim::Running, Plane, Arc<RecordingSleeper>) {
    let cfg = FaultConfig::parse(faults).expect("faults");
    let running = sim::start("127.0.0.1:0", cfg).await.expect("sim");
    let mut cc = ClientConfig::new(
        Provider::Plane,
        &running.provider_url(Provider::Plane),
        auth,
    );
    cc.timeout = Duration::from_millis(800);
    cc.rates = vec![];
    let sleeper = Arc::new(RecordingSleeper::default());
    let http = HttpClient::with_sleeper(cc, Arc::new(Metrics::default()), sleeper.clone())
        .expect("client");
    (running, Plane::new(http, WS, PROJECT), sleeper)
}

async fn setup(faults: &str) -> (sim::Running, Plane, Arc<RecordingSleeper>) {
    setup_with(faults, Auth::Header("X-API-Key", SecretValue::new(key()))).await
}

fn finding(id: &str) -> Finding {
    Finding {
        external_id: id.into(),
        name: format!("Drift on acme-staging ({id})"),
        description_html: "<p>firewall rule 22/tcp removed out of band</p>".into(),
        priority: "high".into(),
        labels: vec!["drift".into(), "odooops".into(), "acme".into()],
        state: Some("Todo".into()),
    }
}

#[tokio::test]
async fn work_items_round_trip_and_ensure_is_idempotent() {
    let (sim, plane, _) = setup("").await;
    plane.me().await.expect("token check");
    let f = finding("drift-acme-staging-fw");
    let item = plane.ensure_work_item(&f).await.expect("create");
    assert_eq!(item.name, f.name);
    assert_eq!(item.priority, "high");
    assert_eq!(item.external_source.as_deref(), Some(EXTERNAL_SOURCE));
    assert_eq!(item.labels.len(), 3, "two seeded labels and one created");
    assert!(item.labels.windows(2).all(|w| w[0] < w[1]), "labels sorted");
    assert_eq!(
        item.state,
        Some(plane.state_id("todo").await.expect("state"))
    );

    let again = plane.ensure_work_item(&f).await.expect("adopt");
    assert_eq!(again, item, "a second ensure adopts, never duplicates");
    assert_eq!(
        sim.state.request_count("POST /plane/api/v1"),
        2,
        "one item, one label"
    );

    let done = plane.set_state(&item.id, "Done").await.expect("done");
    assert!(done.completed);
    assert_eq!(plane.get(&item.id).await.expect("get"), done);
    let err = plane
        .set_state(&item.id, "Shipped")
        .await
        .expect_err("unknown");
    assert_eq!(err.code, "unknown_state");
    assert!(err.error.contains("In Progress"), "{}", err.error);

    assert_eq!(
        plane.list_by_label("acme").await.expect("by label"),
        vec![done.clone()]
    );
    assert!(plane
        .list_by_label("security")
        .await
        .expect("none")
        .is_empty());
    assert_eq!(
        plane
            .list_by_external_id(&f.external_id)
            .await
            .expect("by id"),
        vec![done]
    );
    plane.delete(&item.id).await.expect("delete");
    plane
        .delete(&item.id)
        .await
        .expect("deleting twice is fine");
    assert!(plane.observe().await.expect("observe").is_empty());
}

#[tokio::test]
async fn concurrent_ensures_converge_on_one_item() {
    let (sim, plane, _) = setup("").await;
    let mut f = finding("backup-missed-acme-prod");
    f.labels = vec!["odooops".into()];
    let (a, b) = tokio::join!(plane.ensure_work_item(&f), plane.ensure_work_item(&f));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a, b);
    assert_eq!(lock(&sim.state.plane).projects[PROJECT].items.len(), 1);
    // Both looked up first and found nothing, both created: the loser's 409 named the winner.
    assert_eq!(
        sim.state
            .request_count(&format!("POST {ITEMS}/:id/work-items")),
        2
    );

    // The duplicate answer itself: 409 with Plane's body, mapped to the envelope.
    let err = plane
        .http()
        .json(Request::post(
            format!("/api/v1/workspaces/{WS}/projects/{PROJECT}/work-items/"),
            json!({"name": "dup", "external_id": f.external_id, "external_source": EXTERNAL_SOURCE}),
        ))
        .await
        .expect_err("409");
    assert_eq!((err.code.as_str(), err.status), ("conflict", Some(409)));
    assert_eq!(err.existing_id.as_deref(), Some(a.id.as_str()));
    assert_eq!(
        err.error,
        "Issue with the same external id and external source already exists"
    );
}

#[tokio::test]
async fn observation_pages_through_250_items() {
    let (sim, plane, _) = setup("").await;
    {
        let mut st = lock(&sim.state.plane);
        for i in 0..250 {
            st.seed_item(
                WS,
                PROJECT,
                &json!({"name": format!("finding {i}"), "external_id": format!("f-{i}"), "external_source": EXTERNAL_SOURCE}),
            )
            .expect("seed");
        }
        st.seed_item(
            WS,
            PROJECT,
            &json!({"name": "someone else's", "external_source": "github"}),
        )
        .expect("seed");
    }
    let before = sim.state.request_count("GET /plane");
    let all = plane.observe().await.expect("observe");
    assert_eq!(all.len(), 250, "ours only, every page");
    let mut ids: Vec<&str> = all.iter().map(|w| w.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 250, "no item twice across pages");
    assert_eq!(
        sim.state.request_count("GET /plane") - before,
        3,
        "ceil(250 / 100) pages"
    );
}

#[tokio::test]
async fn retries_honour_retry_after_and_posts_without_a_key_are_sent_once() {
    let (sim, plane, sleeper) =
        setup(&format!("route={ITEMS},count=2,kinds=429;retry_after=2")).await;
    assert!(plane.observe().await.expect("after two 429s").is_empty());
    assert_eq!(
        sleeper.recorded(),
        vec![Duration::from_secs(2), Duration::from_secs(2)]
    );
    assert_eq!(sim.state.request_count("GET /plane"), 3);

    let (sim, plane, _) = setup(&format!("route={ITEMS},count=1,kinds=503")).await;
    let err = plane
        .http()
        .send(Request::post(
            format!("/api/v1/workspaces/{WS}/projects/{PROJECT}/labels/"),
            json!({"name": "once"}),
        ))
        .await
        .expect_err("503");
    assert_eq!((err.status, err.retryable), (Some(503), true));
    assert_eq!(sim.state.request_count("POST /plane"), 1, "not retried");

    // A work-item create carries a key (the server dedupes on the external id): retried.
    let (sim, plane, _) = setup(&format!(
        "route={ITEMS}/{PROJECT}/work-items,count=1,kinds=503"
    ))
    .await;
    let mut f = finding("retry-me");
    f.labels.clear();
    f.state = None;
    // The first matching request is the adopt lookup (a GET, retried); then the create.
    plane.ensure_work_item(&f).await.expect("created");
    assert_eq!(lock(&sim.state.plane).projects[PROJECT].items.len(), 1);
}

#[tokio::test]
async fn errors_come_back_as_the_typed_envelope() {
    let (_sim, plane, _) = setup("").await;
    let path = format!("/api/v1/workspaces/{WS}/projects/{PROJECT}/work-items/");
    let err = plane
        .http()
        .json(Request::post(
            path.clone(),
            json!({"description_html": "<p>x</p>"}),
        ))
        .await
        .expect_err("400");
    assert_eq!(err.error, "name: This field is required.");
    let err = plane
        .http()
        .json(Request::get(format!(
            "{path}00000000-0000-4000-8000-000000000000/"
        )))
        .await
        .expect_err("404");
    assert_eq!(
        (err.code.as_str(), err.status, err.retryable),
        ("not_found", Some(404), false)
    );
    let err = plane
        .http()
        .json(Request::get(path.clone()).query("per_page", 500))
        .await
        .expect_err("per_page");
    assert_eq!(err.status, Some(400));

    let (_sim, anon, _) = setup_with("", Auth::None).await;
    let err = anon.me().await.expect_err("403");
    let v = serde_json::to_value(&err).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["provider"], "plane");
    assert_eq!(
        (err.code.as_str(), err.status, err.error.as_str()),
        (
            "unauthorized",
            Some(403),
            "Authentication credentials were not provided."
        )
    );
}

#[tokio::test]
async fn rate_limit_headers_and_throttling_follow_plane() {
    let (sim, _plane, _) = setup("").await;
    lock(&sim.state.plane).rate_limit_per_minute = 2;
    let url = format!("{}/api/v1/users/me/", sim.provider_url(Provider::Plane));
    let client = reqwest::Client::new();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = client
            .get(&url)
            .header("X-API-Key", key())
            .send()
            .await
            .expect("answer");
        assert!(
            r.headers().get("x-ratelimit-limit").is_none(),
            "Plane sends no limit header"
        );
        let reset: i64 = r.headers()["x-ratelimit-reset"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("epoch");
        assert!(
            reset > chrono::Utc::now().timestamp() - 1
                && reset <= chrono::Utc::now().timestamp() + 60
        );
        remaining.push(
            r.headers()["x-ratelimit-remaining"]
                .to_str()
                .expect("ascii")
                .to_string(),
        );
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
            let body: serde_json::Value = r.json().await.expect("json");
            assert!(body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("Request was throttled.")));
        }
    }
    assert_eq!(remaining, vec!["1", "0", "0"]);
}

#[tokio::test]
async fn the_api_key_is_never_logged_or_printed() {
    let buf = common::LogBuffer::default();
    let _guard = buf.install();
    let (_sim, plane, _) = setup(&format!("route={ITEMS},count=2,kinds=500")).await;
    plane
        .ensure_work_item(&finding("leak-check"))
        .await
        .expect("created");
    let err = plane.set_state("nope", "Done").await.expect_err("404");
    tracing::info!(error = %err, debug = ?err, plane = ?plane, "logged like the controller would");
    let logs = buf.text();
    assert!(logs.contains("retrying"), "the capture works: {logs}");
    assert!(!logs.contains(&key()), "key leaked into logs");
    assert!(!format!("{plane:?} {err:?}").contains(&key()));
}
