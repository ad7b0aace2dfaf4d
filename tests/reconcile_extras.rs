//! Reconcile engine extras against the simulator over real loopback HTTP, evidence store on
//! both backends: notifications once per finding, Supabase/Vercel secret presence objects,
//! concurrent apply across environments, droplet updates other than size.

mod common;

use common::{backends, canary, LogBuffer};
use odooops::provider::digitalocean::DigitalOcean;
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper};
use odooops::provider::supabase::Supabase;
use odooops::provider::{Provider, SecretValue, StaticSecrets};
use odooops::reconcile::engine::{Context, Engine};
use odooops::reconcile::plan::Op;
use odooops::sim::{self, faults::FaultConfig, faults::Faults, lock};
use odooops::ssot::{self, Limits, Ssot};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PLANE_PROJECT: &str = "0b7d5c2e-4f1a-4c3e-9a51-2f7c8d9e0a13";
const SB_REF: &str = "qsstagingrefabcdefgh";

const NOTIFIER: &str = r##"
---
apiVersion: odooops.dev/v1alpha1
kind: Notifier
metadata:
  name: ops
spec:
  slack:
    webhookSecret: SLACK_WEBHOOK_URL
    channel: "#ops"
    events: [drift-detected, drift-resolved, apply-failed]
  plane:
    workspace: acme
    project: 0b7d5c2e-4f1a-4c3e-9a51-2f7c8d9e0a13
    apiKeySecret: PLANE_API_KEY
    workItemsFor: [drift-detected, apply-failed]
    label: odooops
"##;

/// The quickstart tree with extras: staging lists a notifier and a secret synced to
/// Supabase and Vercel.
fn tree(dir: &Path) -> Ssot {
    tree_with(dir, "")
}

/// [`tree`] with `staging_extra` appended to staging's spec (e.g. a reconcile policy).
fn tree_with(dir: &Path, staging_extra: &str) -> Ssot {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for f in ["environments.yaml", "policies.yaml", "project.yaml"] {
        let mut text = std::fs::read_to_string(src.join(f)).expect("read");
        if f == "environments.yaml" {
            text = text.replace(
                "    fromEnvironment: production\n    neutralize: true\n",
                &format!("    fromEnvironment: production\n    neutralize: true\n  notifiers: [ops]\n  secrets: [APP_SECRET]\n{staging_extra}"),
            );
            assert!(text.contains("notifiers: [ops]"));
        }
        if f == "project.yaml" {
            text = text.replace(
                "    supabase:\n      tokenSecret: SUPABASE_ACCESS_TOKEN\n",
                &format!("    supabase:\n      tokenSecret: SUPABASE_ACCESS_TOKEN\n      projectId: {SB_REF}\n    vercel:\n      tokenSecret: VERCEL_TOKEN\n      teamId: team_qs\n      projectId: qs-web\n"),
            );
            text.push_str(
                "    - name: VERCEL_TOKEN\n      source: env\n      requiredBy: [controller]\n    - name: SLACK_WEBHOOK_URL\n      source: env\n      requiredBy: [ops]\n    - name: PLANE_API_KEY\n      source: env\n      requiredBy: [ops]\n    - name: APP_SECRET\n      source: env\n      syncTo: [supabase, vercel]\n      requiredBy: [staging]\n    - name: OLD_SECRET\n      source: env\n      syncTo: [supabase]\n      requiredBy: [staging]\n",
            );
            text.push_str(NOTIFIER);
        }
        std::fs::write(dir.join(f), text).expect("write");
    }
    let report = ssot::load(dir, &Limits::default());
    assert!(
        report.is_valid(),
        "{:?}",
        report
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
    );
    report.into_ssot().expect("valid SSOT")
}

fn client(sim: &sim::Running, p: Provider, auth: Auth) -> HttpClient {
    let mut cfg = ClientConfig::new(p, &sim.provider_url(p), auth);
    cfg.timeout = Duration::from_secs(10);
    HttpClient::with_sleeper(
        cfg,
        Arc::new(Metrics::default()),
        Arc::new(RecordingSleeper::default()),
    )
    .expect("client")
}

fn bearer() -> Auth {
    Auth::Bearer(SecretValue::new("test-token-sim"))
}

/// An engine wired to the simulator for every provider, with secrets from `values`.
fn engine(store: odooops::store::Store, sim: &sim::Running, values: StaticSecrets) -> Engine {
    let mut e = Engine::new(
        store,
        DigitalOcean::new(client(sim, Provider::Digitalocean, bearer())),
    );
    e.secrets = Arc::new(
        values
            .with(
                "SLACK_WEBHOOK_URL",
                &format!(
                    "{}/services/T0SIM0001/B0HOOK0001/test-token-hook",
                    sim.provider_url(Provider::Slack)
                ),
            )
            .with("PLANE_API_KEY", "test-token-plane"),
    );
    e.notify.plane_base = Some(sim.provider_url(Provider::Plane));
    e.notify.slack_base = Some(sim.provider_url(Provider::Slack));
    e.notify.sleeper = Arc::new(RecordingSleeper::default());
    e
}

fn webhook_texts(sim: &sim::Running) -> Vec<String> {
    lock(&sim.state.slack)
        .webhook_messages
        .iter()
        .map(|m| m["body"]["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn work_items(sim: &sim::Running) -> Vec<Value> {
    let st = lock(&sim.state.plane);
    st.projects
        .get(PLANE_PROJECT)
        .map(|p| p.items.clone())
        .unwrap_or_default()
}

fn state_name(sim: &sim::Running, state_id: &Value) -> String {
    let st = lock(&sim.state.plane);
    st.projects
        .get(PLANE_PROJECT)
        .and_then(|p| p.states.iter().find(|s| &s["id"] == state_id).cloned())
        .and_then(|s| s["name"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn droplet_id(sim: &sim::Running, name: &str) -> u64 {
    lock(&sim.state.digitalocean)
        .droplets
        .values()
        .find(|d| d["name"] == name)
        .and_then(|d| d["id"].as_u64())
        .expect("droplet")
}

#[tokio::test]
async fn a_drift_finding_is_notified_once_and_its_resolution_updates_the_same_work_item() {
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let ssot = tree(dir.path());
        let engine = engine(b.store.clone(), &sim, StaticSecrets::default());
        let ctx = Context::default();
        let p = engine.plan(&ssot, &ctx).await.expect("plan");
        engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
        assert!(webhook_texts(&sim).is_empty(), "no finding, no message");

        // Out-of-band resize of staging: one finding.
        let id = droplet_id(&sim, "quickstart-staging");
        lock(&sim.state.digitalocean)
            .mutate(
                "droplet",
                &id.to_string(),
                &json!({"size_slug": "s-8vcpu-16gb"}),
                false,
            )
            .expect("mutate");
        let drift = engine.plan(&ssot, &ctx).await.expect("plan");
        let state: Value = reqwest::get(format!("{}/_sim/state", sim.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        assert_eq!(
            state["slack"]["webhook_messages"].as_array().map(Vec::len),
            Some(1),
            "/_sim/state shows one message"
        );
        let texts = webhook_texts(&sim);
        assert_eq!(texts.len(), 1, "[{}] {texts:?}", b.name);
        assert!(
            texts[0].contains("drift detected") && texts[0].contains("staging/droplet"),
            "{texts:?}"
        );
        let items = work_items(&sim);
        assert_eq!(items.len(), 1, "[{}] one work item", b.name);
        let item_id = items[0]["id"].clone();

        // Re-plans that see the same open finding send nothing.
        engine.plan(&ssot, &ctx).await.expect("plan");
        engine.plan(&ssot, &ctx).await.expect("plan");
        assert_eq!(webhook_texts(&sim).len(), 1, "[{}] re-plan re-sent", b.name);
        assert_eq!(work_items(&sim).len(), 1);

        // Heal: the same work item goes to Done, one resolved message.
        engine
            .apply(&ssot, drift.plan_id, &ctx)
            .await
            .expect("heal");
        let texts = webhook_texts(&sim);
        assert_eq!(texts.len(), 2, "[{}] {texts:?}", b.name);
        assert!(texts[1].contains("drift resolved"), "{texts:?}");
        let items = work_items(&sim);
        assert_eq!(items.len(), 1, "the same work item, not a new one");
        assert_eq!(items[0]["id"], item_id);
        assert_eq!(state_name(&sim, &items[0]["state"]), "Done");
        engine.plan(&ssot, &ctx).await.expect("plan");
        assert_eq!(webhook_texts(&sim).len(), 2, "resolved is sent once");

        // Every notification is a ledger row (recorded before its post), now succeeded.
        let finding = b
            .store
            .events(&odooops::store::EventFilter {
                limit: Some(10_000),
                ..Default::default()
            })
            .await
            .expect("events")
            .iter()
            .filter_map(|e| e.fields["dedupe_key"].as_str().map(str::to_string))
            .filter(|k| k.starts_with("notify:"))
            .collect::<Vec<_>>();
        for end in [":slack", ":plane", ":slack:resolved", ":plane:resolved"] {
            let key = finding
                .iter()
                .find(|k| k.ends_with(end) && (end.contains("resolved") || !k.contains("resolved")))
                .unwrap_or_else(|| panic!("no {end} notification in {finding:?}"));
            let row = b.store.ledger_get(key).await.expect("ledger").expect("row");
            assert_eq!(row.status, "succeeded", "{key}");
            assert_eq!(row.attempts, 1, "{key}: posted once");
        }
        assert!(b
            .store
            .ledger_awaiting_resolution("notify_plane")
            .await
            .expect("rows")
            .is_empty());
        b.finish().await;
    }
}

#[tokio::test]
async fn a_failed_apply_action_is_notified_once_and_a_failed_post_is_retried() {
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let ssot = tree(dir.path());
        let engine = engine(b.store.clone(), &sim, StaticSecrets::default());
        let ctx = Context {
            only_env: Some("staging".into()),
            ..Context::default()
        };
        // Through the control API: every firewall create fails (reads still work); Slack is
        // down for the first post.
        let answer = reqwest::Client::new()
            .post(format!("{}/_sim/faults", sim.url()))
            .body("route=/digitalocean/v2/firewalls,method=POST,count=1000,kinds=500;route=/slack/services,count=5,kinds=503;retry_after=0")
            .send()
            .await
            .expect("faults");
        assert!(answer.status().is_success());
        for round in 0..3 {
            let p = engine.plan(&ssot, &ctx).await.expect("plan");
            let err = engine
                .apply(&ssot, p.plan_id, &ctx)
                .await
                .expect_err("the firewall create fails");
            assert!(err.to_string().contains("failed"), "{err}");
            let texts: Vec<String> = webhook_texts(&sim)
                .into_iter()
                .filter(|t| t.contains("apply failed"))
                .collect();
            let items: Vec<Value> = work_items(&sim)
                .into_iter()
                .filter(|w| w["name"].as_str().unwrap_or("").contains("Apply failed"))
                .collect();
            assert_eq!(items.len(), 1, "[{}] round {round}: one work item", b.name);
            // The first Slack post fails (503 × retries): recorded, retried next cycle.
            let expected = if round == 0 { 0 } else { 1 };
            assert_eq!(
                texts.len(),
                expected,
                "[{}] round {round}: {texts:?}",
                b.name
            );
            assert!(
                texts.iter().all(|t| t.contains("staging/firewall")),
                "{texts:?}"
            );
        }
        // The firewall API recovers: the next apply creates the firewall, and the failure's
        // announcements get their follow-up once: a Slack message, the work item Done.
        *lock(&sim.state.faults) = Faults::new(FaultConfig::default());
        for round in 0..2 {
            let p = engine.plan(&ssot, &ctx).await.expect("plan");
            assert_eq!(p.plan.has_changes(), round == 0, "round {round}");
            if round == 0 {
                engine
                    .apply(&ssot, p.plan_id, &ctx)
                    .await
                    .expect("the firewall create succeeds now");
            }
            assert_recovered_once(&sim, b.name, round);
        }
        b.finish().await;
    }
}

/// Exactly one "apply recovered" Slack message, for the staging firewall, and the apply
/// failure's one work item moved to `Done`.
fn assert_recovered_once(sim: &sim::Running, backend: &str, round: usize) {
    let recovered: Vec<String> = webhook_texts(sim)
        .into_iter()
        .filter(|t| t.contains("apply recovered"))
        .collect();
    assert_eq!(
        recovered.len(),
        1,
        "[{backend}] round {round}: {recovered:?}"
    );
    assert!(recovered[0].contains("staging/firewall"), "{recovered:?}");
    let items: Vec<Value> = work_items(sim)
        .into_iter()
        .filter(|w| w["name"].as_str().unwrap_or("").contains("Apply failed"))
        .collect();
    assert_eq!(items.len(), 1, "[{backend}] round {round}: one work item");
    assert_eq!(
        state_name(sim, &items[0]["state"]),
        "Done",
        "[{backend}] round {round}"
    );
}

#[tokio::test]
async fn an_apply_failure_is_closed_by_the_next_plan_that_sees_its_resource_converged() {
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let ssot = tree(dir.path());
        let engine = engine(b.store.clone(), &sim, StaticSecrets::default());
        let ctx = Context {
            only_env: Some("staging".into()),
            ..Context::default()
        };
        *lock(&sim.state.faults) = Faults::new(
            FaultConfig::parse("route=/digitalocean/v2/firewalls,method=POST,count=1000,kinds=500")
                .expect("faults"),
        );
        let p = engine.plan(&ssot, &ctx).await.expect("plan");
        engine
            .apply(&ssot, p.plan_id, &ctx)
            .await
            .expect_err("the firewall create fails");
        let failed = webhook_texts(&sim)
            .into_iter()
            .filter(|t| t.contains("apply failed"))
            .count();
        assert_eq!(failed, 1, "[{}] the failure is announced", b.name);
        // Someone else converges it (here: an apply that cannot reach the notifiers, so its
        // follow-ups fail and stay for the next cycle).
        *lock(&sim.state.faults) = Faults::new(FaultConfig::default());
        let mut quiet = self::engine(b.store.clone(), &sim, StaticSecrets::default());
        quiet.secrets = Arc::new(StaticSecrets::default());
        let p = quiet.plan(&ssot, &ctx).await.expect("plan");
        quiet
            .apply(&ssot, p.plan_id, &ctx)
            .await
            .expect("the firewall create succeeds now");
        assert!(
            webhook_texts(&sim)
                .iter()
                .all(|t| !t.contains("apply recovered")),
            "[{}] no secret, no post",
            b.name
        );
        // The next plans see the firewall converged: the follow-up goes out, once.
        for round in 0..2 {
            let p = engine.plan(&ssot, &ctx).await.expect("plan");
            assert!(!p.plan.has_changes(), "round {round}");
            assert_recovered_once(&sim, b.name, round);
        }
        b.finish().await;
    }
}

#[tokio::test]
async fn secret_presence_is_planned_applied_and_no_value_is_ever_recorded() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        lock(&sim.state.supabase)
            .mutate("project", SB_REF, &json!({"name": "qs"}), false)
            .expect("seed");
        lock(&sim.state.vercel)
            .mutate(
                "project",
                "prj_qs",
                &json!({"name": "qs-web", "teamId": "team_qs"}),
                false,
            )
            .expect("seed");
        let dir = tempfile::tempdir().expect("tempdir");
        let ssot = tree(dir.path());
        let value = canary(&format!("app-{}", uuid::Uuid::new_v4().simple()));
        let old = canary("old-secret");
        let mut engine = engine(
            b.store.clone(),
            &sim,
            StaticSecrets::default()
                .with("APP_SECRET", &value)
                .with("OLD_SECRET", &old),
        );
        engine.secret_providers.supabase =
            Some(Supabase::new(client(&sim, Provider::Supabase, bearer())));
        engine.secret_providers.vercel = Some(client(&sim, Provider::Vercel, bearer()));
        // An owned extra at the Supabase project (a registry key staging does not list).
        Supabase::new(client(&sim, Provider::Supabase, bearer()))
            .upsert_secrets(
                SB_REF,
                &[("OLD_SECRET".into(), SecretValue::new(old.clone()))],
            )
            .await
            .expect("seed extra");
        let ctx = Context::default();
        let before = sim
            .state
            .request_count("GET /supabase/v1/projects/:id/secrets")
            + sim.state.request_count("GET /supabase/v1/projects/");
        let p = engine.plan(&ssot, &ctx).await.expect("plan");
        let after = sim.state.request_count("GET /supabase/v1/projects/");
        assert_eq!(after - before, 1, "one Supabase list per project per cycle");
        assert_eq!(sim.state.request_count("GET /vercel/v10/projects/"), 1);
        let kinds: Vec<(String, Op)> = p
            .plan
            .actions
            .iter()
            .filter(|a| {
                a.diff.key.kind.as_str().contains("secret")
                    || a.diff.key.kind.as_str().contains("vercel")
            })
            .map(|a| (a.diff.key.to_string(), a.op))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    format!("staging/supabase_secret/{SB_REF}/APP_SECRET"),
                    Op::Create
                ),
                (
                    "staging/vercel_env/qs-web/APP_SECRET".to_string(),
                    Op::Create
                ),
            ],
            "[{}] {}",
            b.name,
            p.text
        );
        // OLD_SECRET is ours but staging does not prune: held, reported.
        assert!(p
            .plan
            .detected_only
            .iter()
            .any(|d| d.key.name == format!("{SB_REF}/OLD_SECRET")));
        engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
        {
            let sb = lock(&sim.state.supabase).snapshot();
            let names: Vec<&str> = sb["secrets"][SB_REF]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
                .unwrap_or_default();
            assert!(names.contains(&"APP_SECRET"), "{sb}");
            let vc = lock(&sim.state.vercel).snapshot();
            assert!(vc.to_string().contains("APP_SECRET"), "{vc}");
        }
        let second = engine.plan(&ssot, &ctx).await.expect("plan");
        assert!(!second.plan.has_changes(), "{}", second.text);

        // With prune, the owned extra is deleted (by name; foreign names are never listed).
        let pruning_dir = tempfile::tempdir().expect("tempdir");
        let pruning = tree_with(pruning_dir.path(), "  reconcile:\n    prune: true\n");
        let p = engine.plan(&pruning, &ctx).await.expect("plan");
        let ops: Vec<(String, Op)> = p
            .plan
            .actions
            .iter()
            .map(|a| (a.diff.key.name.clone(), a.op))
            .collect();
        assert_eq!(
            ops,
            vec![(format!("{SB_REF}/OLD_SECRET"), Op::Delete)],
            "{}",
            p.text
        );
        engine
            .apply(&pruning, p.plan_id, &ctx)
            .await
            .expect("prune");
        {
            let sb = lock(&sim.state.supabase).snapshot();
            let names: Vec<&str> = sb["secrets"][SB_REF]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(names, ["APP_SECRET"], "{sb}");
        }

        // The value appears nowhere: not in the store (every table), not in artifacts,
        // not in the logs.
        let dump = store_dump(&b).await;
        assert!(dump.contains("APP_SECRET"), "the dump covers the ledger");
        assert!(
            !dump.contains(&value),
            "[{}] the value leaked into the store",
            b.name
        );
        assert!(!dump.contains(&old));
        assert!(
            !logs.text().contains(&value),
            "the value leaked into the logs"
        );
        b.finish().await;
    }
}

/// Every table of the store and every artifact, as text.
async fn store_dump(b: &common::Backend) -> String {
    let mut out = String::new();
    for t in odooops::store::TABLES {
        let rows: Vec<String> = if b.name == "postgres" {
            let pool = sqlx::PgPool::connect(&b.url).await.expect("pg");
            let r = sqlx::query_scalar::<_, String>(&format!("SELECT t::text FROM ops.{t} t"))
                .fetch_all(&pool)
                .await
                .expect("dump");
            pool.close().await;
            r
        } else {
            Vec::new()
        };
        out.push_str(&rows.join("\n"));
    }
    if b.name != "postgres" {
        // SQLite: the database file and its WAL, byte for byte.
        for entry in std::fs::read_dir(b.dir.path()).expect("dir").flatten() {
            if entry.path().is_file() {
                out.push_str(&String::from_utf8_lossy(
                    &std::fs::read(entry.path()).unwrap_or_default(),
                ));
            }
        }
    }
    for entry in walk(&b.dir.path().join("artifacts")) {
        out.push_str(&String::from_utf8_lossy(
            &std::fs::read(entry).unwrap_or_default(),
        ));
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn environments_apply_concurrently_and_each_still_gets_exactly_one_object() {
    let b = common::sqlite().await;
    let sim = sim::start(
        "127.0.0.1:0",
        FaultConfig::parse("latency_ms=40").expect("faults"),
    )
    .await
    .expect("sim");
    let ssot = {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        ssot::load(&dir, &Limits::default())
            .into_ssot()
            .expect("ssot")
    };
    let engine = Engine::new(
        b.store.clone(),
        DigitalOcean::new(client(&sim, Provider::Digitalocean, bearer())),
    );
    assert_eq!(engine.concurrency, 4);
    let ctx = Context::default();
    let p = engine.plan(&ssot, &ctx).await.expect("plan");
    // Sample the simulator's in-flight requests while applying.
    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop, state) = (peak.clone(), stop.clone(), sim.state.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let now = state.in_flight.load(Ordering::SeqCst);
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let applied = engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
    stop.store(true, Ordering::SeqCst);
    let _ = sampler.await;
    assert_eq!(applied.failed, 0);
    assert!(
        peak.load(Ordering::SeqCst) >= 2,
        "two environments' requests overlapped in time (peak {})",
        peak.load(Ordering::SeqCst)
    );
    {
        let st = lock(&sim.state.digitalocean);
        let mut names: Vec<&str> = st
            .droplets
            .values()
            .filter_map(|d| d["name"].as_str())
            .collect();
        names.sort();
        assert_eq!(names, ["quickstart-production", "quickstart-staging"]);
        assert_eq!(st.firewalls.len(), 2);
        assert_eq!(st.clusters.len(), 1, "the shared cluster is created once");
    }
    let again = engine.plan(&ssot, &ctx).await.expect("plan");
    assert!(!again.plan.has_changes(), "{}", again.text);
    b.finish().await;
}

#[tokio::test]
async fn droplet_tags_and_backups_change_in_place_and_monitoring_is_a_replace() {
    for b in backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let ssot = {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
            ssot::load(&dir, &Limits::default())
                .into_ssot()
                .expect("ssot")
        };
        let engine = Engine::new(
            b.store.clone(),
            DigitalOcean::new(client(&sim, Provider::Digitalocean, bearer())),
        );
        let ctx = Context::default();
        let p = engine.plan(&ssot, &ctx).await.expect("plan");
        engine.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
        let id = droplet_id(&sim, "quickstart-staging");
        let (tags, features) = {
            let st = lock(&sim.state.digitalocean);
            let d = &st.droplets[&id];
            (d["tags"].clone(), d["features"].clone())
        };
        // Out of band: a foreign tag and backups switched on.
        let mut t: Vec<Value> = tags.as_array().cloned().unwrap_or_default();
        t.push(json!("rogue"));
        let mut f: Vec<Value> = features.as_array().cloned().unwrap_or_default();
        f.push(json!("backups"));
        lock(&sim.state.digitalocean)
            .mutate(
                "droplet",
                &id.to_string(),
                &json!({"tags": t, "features": f}),
                false,
            )
            .expect("mutate");
        lock(&sim.state.digitalocean)
            .tags
            .insert("rogue".into(), json!({"name": "rogue"}));
        let drift = engine.plan(&ssot, &ctx).await.expect("plan");
        assert_eq!(drift.plan.actions.len(), 1, "{}", drift.text);
        assert_eq!(drift.plan.actions[0].op, Op::Update);
        let paths: Vec<&str> = drift.plan.actions[0]
            .diff
            .fields
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(paths, ["/backups", "/tags"]);
        engine
            .apply(&ssot, drift.plan_id, &ctx)
            .await
            .expect("apply");
        {
            let st = lock(&sim.state.digitalocean);
            let d = &st.droplets[&id];
            assert_eq!(d["tags"], tags, "rogue untagged, ownership tags kept");
            assert!(!d["features"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "backups")));
        }
        assert_eq!(
            sim.state
                .request_count("DELETE /digitalocean/v2/tags/rogue/resources"),
            1
        );
        assert_eq!(
            sim.state
                .request_count("POST /digitalocean/v2/droplets/:id/actions"),
            1,
            "disable_backups"
        );
        let clean = engine.plan(&ssot, &ctx).await.expect("plan");
        assert!(!clean.plan.has_changes(), "{}", clean.text);

        // The monitoring agent cannot be switched in place: a replace (and production's
        // is refused without --allow-destroy-production).
        let mut f: Vec<Value> = features.as_array().cloned().unwrap_or_default();
        f.retain(|x| x != "monitoring");
        lock(&sim.state.digitalocean)
            .mutate("droplet", &id.to_string(), &json!({"features": f}), false)
            .expect("mutate");
        // The droplet is replaced, and its DNS record follows the new address.
        let replace = engine.plan(&ssot, &ctx).await.expect("plan");
        let ops: Vec<(Op, &str)> = replace
            .plan
            .actions
            .iter()
            .map(|a| (a.op, a.diff.key.kind.as_str()))
            .collect();
        assert_eq!(
            ops,
            vec![(Op::Replace, "droplet"), (Op::Update, "dns_record")]
        );
        let prod = droplet_id(&sim, "quickstart-production");
        lock(&sim.state.digitalocean)
            .mutate("droplet", &prod.to_string(), &json!({"features": f}), false)
            .expect("mutate");
        // Production's replace is refused and holds production alone; staging's is planned.
        let guarded = engine.plan(&ssot, &ctx).await.expect("plan");
        assert_eq!(guarded.plan.refused.len(), 1, "{}", guarded.text);
        assert_eq!(guarded.plan.refused[0].env, "production");
        assert_eq!(guarded.plan.refused[0].kind, "production_destroy");
        assert!(!guarded.plan.actions.is_empty());
        assert!(guarded
            .plan
            .actions
            .iter()
            .all(|a| a.diff.key.env == "staging"));
        b.finish().await;
    }
}

#[tokio::test]
async fn detect_only_environments_notify_their_drift_without_correcting_it() {
    let b = common::sqlite().await;
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let auto_dir = tempfile::tempdir().expect("tempdir");
    let auto = tree(auto_dir.path());
    let engine = engine(b.store.clone(), &sim, StaticSecrets::default());
    let ctx = Context::default();
    let p = engine.plan(&auto, &ctx).await.expect("plan");
    engine.apply(&auto, p.plan_id, &ctx).await.expect("apply");
    let dir = tempfile::tempdir().expect("tempdir");
    let detect = tree_with(dir.path(), "  reconcile:\n    mode: detect-only\n");
    let id = droplet_id(&sim, "quickstart-staging");
    lock(&sim.state.digitalocean)
        .mutate(
            "droplet",
            &id.to_string(),
            &json!({"size_slug": "s-8vcpu-16gb"}),
            false,
        )
        .expect("mutate");
    let p = engine.plan(&detect, &ctx).await.expect("plan");
    assert!(!p.plan.has_changes(), "detect-only plans nothing");
    assert_eq!(p.plan.detected_only.len(), 1);
    assert_eq!(webhook_texts(&sim).len(), 1, "but it notifies");
    assert_eq!(work_items(&sim).len(), 1);
    engine.plan(&detect, &ctx).await.expect("plan");
    assert_eq!(webhook_texts(&sim).len(), 1, "once");
    b.finish().await;
}
