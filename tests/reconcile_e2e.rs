//! The reconcile engine end to end against the simulator over real loopback HTTP, with the
//! evidence store on both backends.

mod common;

use odooops::provider::digitalocean::DigitalOcean;
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper};
use odooops::provider::{Provider, SecretValue};
use odooops::reconcile::engine::{Context, Engine, EngineError};
use odooops::sim::{self, faults::FaultConfig};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::EventFilter;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn tree(p: &str) -> Ssot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(p);
    ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("valid SSOT")
}

fn adapter(sim: &sim::Running, timeout: Duration) -> DigitalOcean {
    let mut cfg = ClientConfig::new(
        Provider::Digitalocean,
        &sim.provider_url(Provider::Digitalocean),
        Auth::Bearer(SecretValue::new("test-token-sim")),
    );
    cfg.timeout = timeout;
    let http = HttpClient::with_sleeper(
        cfg,
        Arc::new(Metrics::default()),
        Arc::new(RecordingSleeper::default()),
    )
    .expect("client");
    DigitalOcean::new(http)
}

fn droplets(sim: &sim::Running) -> Vec<serde_json::Value> {
    sim::lock(&sim.state.digitalocean)
        .droplets
        .values()
        .cloned()
        .collect()
}

use common::backends;

#[tokio::test]
async fn empty_cloud_converges_and_the_second_plan_is_empty() {
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let engine = Engine::new(b.store.clone(), adapter(&sim, Duration::from_secs(10)));
        let ssot = tree("examples/quickstart");
        let ctx = Context::default();
        let first = engine.plan(&ssot, &ctx).await.expect("plan");
        // The database cluster is planned like everything else: nothing billable is created that
        // the plan did not show.
        assert_eq!(first.plan.summary.create, 11, "{}", first.text);
        assert!(first
            .text
            .contains("+ @quickstart-pg/database_cluster/quickstart-pg"));
        // Order: databases before droplets, droplets before records and firewalls.
        let order: Vec<&str> = first
            .plan
            .actions
            .iter()
            .map(|a| a.diff.key.kind.as_str())
            .collect();
        let pos = |k: &str| order.iter().position(|x| *x == k).unwrap_or(usize::MAX);
        assert!(
            pos("database_cluster") < pos("database")
                && pos("database") < pos("droplet")
                && pos("droplet") < pos("dns_record"),
            "{order:?}"
        );
        let applied = engine
            .apply(&ssot, first.plan_id, &ctx)
            .await
            .expect("apply");
        assert_eq!(
            (applied.succeeded + applied.adopted, applied.failed),
            (11, 0)
        );
        let second = engine.plan(&ssot, &ctx).await.expect("plan");
        assert!(
            !second.plan.has_changes(),
            "[{}] perpetual diff:\n{}",
            b.name,
            second.text
        );
        assert_eq!(second.plan.summary.no_op, 11);
        assert_eq!(droplets(&sim).len(), 2);
        // The record points at the droplet's address.
        {
            let st = sim::lock(&sim.state.digitalocean);
            let recs: Vec<&serde_json::Value> =
                st.records.values().flat_map(|r| r.values()).collect();
            let prod = st
                .droplets
                .values()
                .find(|d| d["name"] == "quickstart-production")
                .expect("prod droplet");
            let ip = prod["networks"]["v4"][0]["ip_address"].clone();
            assert!(recs.iter().any(|r| r["name"] == "erp" && r["data"] == ip));
        }
        // Evidence: runs, a stored plan, artifacts, events with one correlation id per run.
        let run = b
            .store
            .run(first.run_id)
            .await
            .expect("run")
            .expect("exists");
        let events = b
            .store
            .events(&EventFilter {
                correlation_id: Some(run.correlation_id.clone()),
                ..Default::default()
            })
            .await
            .expect("events");
        assert!(!events.is_empty());
        assert_eq!(
            b.store
                .artifacts_for_run(first.run_id)
                .await
                .expect("artifacts")
                .len(),
            2,
            "plan.json and plan.txt"
        );
        assert_eq!(
            b.store
                .actions_for_plan(first.plan_id)
                .await
                .expect("actions")
                .len(),
            11
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn drift_is_detected_by_field_path_then_healed_in_auto_mode() {
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let engine = Engine::new(b.store.clone(), adapter(&sim, Duration::from_secs(10)));
        let ssot = tree("examples/quickstart");
        let ctx = Context::default();
        let p = engine.plan(&ssot, &ctx).await.expect("plan");
        engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
        let id = droplets(&sim)
            .iter()
            .find(|d| d["name"] == "quickstart-staging")
            .and_then(|d| d["id"].as_u64())
            .expect("id");
        sim::lock(&sim.state.digitalocean)
            .mutate(
                "droplet",
                &id.to_string(),
                &json!({"size_slug": "s-8vcpu-16gb"}),
                false,
            )
            .expect("mutate");
        let drift = engine.plan(&ssot, &ctx).await.expect("plan");
        assert_eq!(drift.plan.actions.len(), 1);
        assert_eq!(drift.plan.actions[0].diff.fields[0].path, "/size");
        let open = b
            .store
            .open_drift(Some("staging"), 10)
            .await
            .expect("drift");
        assert_eq!((open.len(), open[0].field_path.as_str()), (1, "/size"));
        engine
            .apply(&ssot, drift.plan_id, &ctx)
            .await
            .expect("heal");
        assert_eq!(
            droplets(&sim)
                .iter()
                .find(|d| d["id"] == id)
                .map(|d| d["size_slug"].clone()),
            Some(json!("s-1vcpu-2gb"))
        );
        assert!(
            b.store
                .open_drift(Some("staging"), 10)
                .await
                .expect("drift")
                .is_empty(),
            "healing resolves the finding"
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn detect_only_environments_record_drift_without_correcting_it() {
    let b = common::sqlite().await;
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let engine = Engine::new(b.store.clone(), adapter(&sim, Duration::from_secs(10)));
    let ssot = tree("ssot");
    let ctx = Context::default();
    // Environments in detect-only mode are never created or changed by the engine.
    let p = engine.plan(&ssot, &ctx).await.expect("plan");
    assert!(p
        .plan
        .actions
        .iter()
        .all(|a| !a.diff.key.env.starts_with("dev-")));
    assert!(p
        .plan
        .detected_only
        .iter()
        .any(|d| d.key.env == "dev-invoicing"));
    engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
    assert!(droplets(&sim)
        .iter()
        .all(|d| !d["name"].as_str().unwrap_or("").contains("dev-")));
    b.finish().await;
}

/// The id of the droplet named `name`.
fn droplet_id(sim: &sim::Running, name: &str) -> u64 {
    droplets(sim)
        .iter()
        .find(|d| d["name"] == name)
        .and_then(|d| d["id"].as_u64())
        .expect("droplet")
}

fn resize_out_of_band(sim: &sim::Running, name: &str, size: &str) {
    let id = droplet_id(sim, name);
    sim::lock(&sim.state.digitalocean)
        .mutate(
            "droplet",
            &id.to_string(),
            &json!({"size_slug": size}),
            false,
        )
        .expect("mutate");
}

#[tokio::test]
async fn a_stale_plan_is_refused() {
    let b = common::sqlite().await;
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let engine = Engine::new(b.store.clone(), adapter(&sim, Duration::from_secs(10)));
    let ssot = tree("examples/quickstart");
    let ctx = Context::default();
    let p = engine.plan(&ssot, &ctx).await.expect("plan");
    engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
    resize_out_of_band(&sim, "quickstart-staging", "s-4vcpu-8gb");
    let next = engine.plan(&ssot, &ctx).await.expect("plan");
    assert_eq!(next.plan.actions.len(), 1);
    // The only environment it acts on changes again before the apply.
    resize_out_of_band(&sim, "quickstart-staging", "s-8vcpu-16gb");
    let err = engine
        .apply(&ssot, next.plan_id, &ctx)
        .await
        .expect_err("stale");
    assert!(matches!(err, EngineError::Stale(_)), "{err}");
    let row = b
        .store
        .plan(next.plan_id)
        .await
        .expect("plan")
        .expect("row");
    assert_eq!(row.status, "stale");
    b.finish().await;
}

#[tokio::test]
async fn a_stale_environment_holds_only_itself() {
    let b = common::sqlite().await;
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let engine = Engine::new(b.store.clone(), adapter(&sim, Duration::from_secs(10)));
    let ssot = tree("examples/quickstart");
    let ctx = Context::default();
    let p = engine.plan(&ssot, &ctx).await.expect("plan");
    engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
    resize_out_of_band(&sim, "quickstart-staging", "s-4vcpu-8gb");
    resize_out_of_band(&sim, "quickstart-production", "s-4vcpu-8gb");
    let next = engine.plan(&ssot, &ctx).await.expect("plan");
    assert_eq!(next.plan.actions.len(), 2);
    // Production changes again out of band: only production is stale.
    resize_out_of_band(&sim, "quickstart-production", "s-8vcpu-16gb");
    let applied = engine
        .apply(&ssot, next.plan_id, &ctx)
        .await
        .expect("staging applies");
    assert_eq!(applied.stale, vec!["production"]);
    assert_eq!(applied.succeeded, 1);
    let size = |name: &str| {
        droplets(&sim)
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["size_slug"].clone())
    };
    assert_eq!(
        size("quickstart-staging"),
        Some(json!("s-1vcpu-2gb")),
        "healed"
    );
    assert_eq!(
        size("quickstart-production"),
        Some(json!("s-8vcpu-16gb")),
        "left for a re-plan"
    );
    let row = b
        .store
        .plan(next.plan_id)
        .await
        .expect("plan")
        .expect("row");
    assert_eq!(row.status, "partial");
    // The re-plan heals production.
    let again = engine.plan(&ssot, &ctx).await.expect("plan");
    engine
        .apply(&ssot, again.plan_id, &ctx)
        .await
        .expect("apply");
    assert_eq!(size("quickstart-production"), Some(json!("s-2vcpu-4gb")));
    b.finish().await;
}

#[tokio::test]
async fn twenty_percent_faults_still_converge_without_losing_evidence() {
    let b = common::sqlite().await;
    let faults = FaultConfig::parse(
        "p=0.2,kinds=429|500|503|timeout|malformed|truncate,seed=11;retry_after=0;timeout_ms=400",
    )
    .expect("faults");
    let sim = sim::start("127.0.0.1:0", faults).await.expect("sim");
    let engine = Engine::new(b.store.clone(), adapter(&sim, Duration::from_millis(250)));
    let ssot = tree("examples/quickstart");
    let ctx = Context::default();
    let mut converged = false;
    let mut plans = 0;
    for _ in 0..15 {
        let Ok(p) = engine.plan(&ssot, &ctx).await else {
            continue;
        };
        plans += 1;
        if !p.plan.has_changes() {
            converged = true;
            break;
        }
        let _ = engine.apply(&ssot, p.plan_id, &ctx).await;
    }
    assert!(converged, "no convergence under 20% faults");
    assert!(
        sim::lock(&sim.state.faults).fired() > 0,
        "faults were injected"
    );
    let names: Vec<String> = droplets(&sim)
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        names.len(),
        2,
        "exactly one droplet per environment: {names:?}"
    );
    // Every run that started was finished, and every plan that was made is on record.
    let runs = b.store.recent_runs(200).await.expect("runs");
    assert!(runs.len() >= plans);
    assert!(
        runs.iter().all(|r| r.finished_at.is_some()),
        "a run was left unfinished"
    );
    b.finish().await;
}
