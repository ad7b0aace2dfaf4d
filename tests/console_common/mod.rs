//! Console test helpers: start the console on loopback over a store, an SSOT with known
//! tokens, and evidence inserted through the Store API.
#![allow(dead_code)]

use odooops::console::auth::{Auth, Role};
use odooops::console::{self, Config};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::*;
use serde_json::json;

pub const VIEWER: &str = "viewer-token-for-tests-0001";
pub const OPERATOR: &str = "operator-token-for-tests-0002";
pub const GITHUB_SECRET: &str = "github-hook-secret-for-tests";
pub const PLANE_SECRET: &str = "plane-hook-secret-for-tests";

pub fn quickstart() -> Ssot {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("examples/quickstart is valid")
}

/// A configuration with a viewer and an operator token, both webhook secrets and the
/// test-only routes; `public_read` as given.
pub fn config(public_read: bool) -> Config {
    let mut auth = Auth::default();
    auth.public_read = public_read;
    auth.add_token(VIEWER, Role::Viewer);
    auth.add_token(OPERATOR, Role::Operator);
    Config {
        ssot: Some(quickstart()),
        auth,
        github_secret: Some(GITHUB_SECRET.as_bytes().to_vec()),
        plane_secret: Some(PLANE_SECRET.as_bytes().to_vec()),
        body_limit: 64 * 1024,
        test_routes: true,
        listen: "test".into(),
    }
}

/// Serve the console on 127.0.0.1:0; returns its base URL.
pub async fn start(store: Store, cfg: Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, console::router(store, cfg)).await;
    });
    format!("http://{addr}")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// What [`populate`] inserted.
pub struct Populated {
    pub run_id: uuid::Uuid,
    pub plan_id: uuid::Uuid,
    pub plan_artifact: String,
    pub gate_artifact: String,
}

/// Insert one of everything the console shows.
pub async fn populate(store: &Store) -> Populated {
    let run = store
        .begin_run(&NewRun {
            kind: RunKind::Plan,
            trigger: Trigger::Cli,
            ssot_revision: "sha256:abc".into(),
            actor: "test".into(),
            environment: Some("staging".into()),
            correlation_id: None,
        })
        .await
        .expect("run");
    let plan = store
        .save_plan(NewPlan {
            run_id: run.id,
            ssot_revision: "sha256:abc".into(),
            live_fingerprint: "fp".into(),
            plan: json!({"actions": [{"op": "update", "resource": "droplet/quickstart-staging"}]})
                .to_string(),
            rendered: "~ update droplet quickstart-staging <size>\n".into(),
        })
        .await
        .expect("plan");
    store
        .insert_diffs(&[NewDiff {
            run_id: run.id,
            environment: Some("staging".into()),
            resource_kind: "droplet".into(),
            resource_name: "quickstart-staging".into(),
            before: Some(json!({"size": "s-8vcpu-16gb"})),
            after: Some(json!({"size": "s-1vcpu-2gb"})),
            changes: json!([{"path": "size", "from": "s-8vcpu-16gb", "to": "s-1vcpu-2gb"}]),
            unified:
                "--- live\n+++ desired\n@@ -1 +1 @@\n-size: s-8vcpu-16gb\n+size: s-1vcpu-2gb\n"
                    .into(),
        }])
        .await
        .expect("diffs");
    store
        .ledger_insert(&NewAction {
            dedupe_key: "droplet/quickstart-staging:update:1234".into(),
            plan_id: Some(plan.id),
            run_id: Some(run.id),
            resource_kind: "droplet".into(),
            resource_name: "quickstart-staging".into(),
            operation: "update".into(),
            request_summary: None,
            resource_key: None,
        })
        .await
        .expect("action");
    let mut ev = NewEvent::new(Level::Warn, "reconcile", "drift <detected> on staging");
    ev.environment = Some("staging".into());
    ev.run_id = Some(run.id);
    ev.correlation_id = Some(run.correlation_id.clone());
    store.append_events(&[ev]).await.expect("events");
    store
        .upsert_drift(&[
            DriftObservation {
                environment: "staging".into(),
                resource_kind: "droplet".into(),
                resource_name: "quickstart-staging".into(),
                field_path: "size".into(),
                desired: Some(json!("s-1vcpu-2gb")),
                observed: Some(json!("s-8vcpu-16gb")),
                run_id: Some(run.id),
            },
            DriftObservation {
                environment: "production".into(),
                resource_kind: "droplet".into(),
                resource_name: "quickstart-production".into(),
                field_path: "tags".into(),
                desired: Some(json!(["a"])),
                observed: Some(json!([])),
                run_id: Some(run.id),
            },
        ])
        .await
        .expect("drift");
    store
        .resolve_drift(
            "production",
            "droplet",
            "quickstart-production",
            None,
            "test",
        )
        .await
        .expect("resolve");
    store
        .finish_run(run.id, RunStatus::Succeeded, &json!({"changes": 1}))
        .await
        .expect("finish");
    let gate_run = store
        .begin_gate_run(Some(run.id), "staging")
        .await
        .expect("gate run");
    let report = store
        .put_artifact(b"db objects: 120 <= 10000\n", "text/plain", Some(run.id))
        .await
        .expect("artifact");
    store
        .record_gate_result(&NewGateResult {
            gate_run_id: gate_run.id,
            gate: "db-object-count".into(),
            environment: "staging".into(),
            outcome: GateOutcome::Pass,
            measured: Some(json!(120)),
            threshold: Some(json!(10000)),
            evidence_sha256: Some(report.sha256.clone()),
            message: "within limits".into(),
        })
        .await
        .expect("gate result");
    store
        .finish_gate_run(gate_run.id, GateRunStatus::Pass)
        .await
        .expect("finish gate");
    let dump = store
        .put_artifact(b"PGDMP fake dump", "application/octet-stream", None)
        .await
        .expect("dump");
    store
        .record_backup(&NewBackup {
            job_id: None,
            environment: "production".into(),
            kind: "manual".into(),
            size_bytes: 15,
            sha256: dump.sha256.clone(),
            location: "artifacts".into(),
            retention_class: "manual".into(),
            expires_at: None,
        })
        .await
        .expect("backup");
    store
        .record_secret_sync(&NewSecretSync {
            run_id: None,
            target: "supabase".into(),
            environment: Some("production".into()),
            pushed_keys: vec!["SMTP_PASSWORD".into()],
            skipped_keys: vec![],
            outcome: "succeeded".into(),
            message: "1 key".into(),
        })
        .await
        .expect("secret sync");
    store
        .ingest_inventory(
            Some(run.id),
            &[ObservedObject {
                provider: "digitalocean".into(),
                object_type: "droplet".into(),
                object_id: "101".into(),
                name: Some("quickstart-staging".into()),
                environment: Some("staging".into()),
                owned: true,
                attributes: json!({"size": "s-8vcpu-16gb"}),
            }],
        )
        .await
        .expect("inventory");
    store
        .enqueue("reconcile", "seed-job", &json!({"action": "plan"}), None)
        .await
        .expect("enqueue");
    Populated {
        run_id: run.id,
        plan_id: plan.id,
        plan_artifact: plan.artifact_sha256,
        gate_artifact: report.sha256,
    }
}

/// What [`populate_chain`] inserted: a plan run and its plan, the apply run that carried it
/// out, the release that apply deployed (with its log and pre-update backup) and a failed run
/// over every environment.
pub struct Chain {
    pub plan_run: uuid::Uuid,
    pub plan_id: uuid::Uuid,
    pub apply_run: uuid::Uuid,
    pub release_id: uuid::Uuid,
    pub log_sha: String,
    pub backup_id: uuid::Uuid,
    pub failed_run: uuid::Uuid,
    pub commit: String,
}

/// The evidence of one plan → apply → release cycle of staging, as the engine records it.
pub async fn populate_chain(store: &Store) -> Chain {
    let plan_run = store
        .begin_run(&NewRun {
            kind: RunKind::Plan,
            trigger: Trigger::Watch,
            ssot_revision: "sha256:chain".into(),
            actor: "test".into(),
            environment: Some("staging".into()),
            correlation_id: None,
        })
        .await
        .expect("plan run");
    let plan = store
        .save_plan(NewPlan {
            run_id: plan_run.id,
            ssot_revision: "sha256:chain".into(),
            live_fingerprint: "fp-chain".into(),
            plan: json!({"actions": [
                {"op": "create", "resource": "droplet/quickstart-staging"},
                {"op": "create", "resource": "record/staging"}
            ], "summary": {"create": 2, "update": 0, "replace": 0, "delete": 0, "no_op": 3, "held": 0}})
            .to_string(),
            rendered: "+ create droplet quickstart-staging\n+ create record staging\n".into(),
        })
        .await
        .expect("plan");
    store
        .insert_diffs(&[NewDiff {
            run_id: plan_run.id,
            environment: Some("staging".into()),
            resource_kind: "record".into(),
            resource_name: "staging".into(),
            before: None,
            after: Some(json!({"type": "A"})),
            changes: json!([]),
            unified: "--- live\n+++ desired\n+type: A-record-for-chain\n".into(),
        }])
        .await
        .expect("diffs");
    store
        .finish_run(
            plan_run.id,
            RunStatus::Succeeded,
            &json!({"plan_id": plan.id, "summary": {"create": 2, "update": 0, "replace": 0, "delete": 0}}),
        )
        .await
        .expect("finish plan run");
    let apply = store
        .begin_run(&NewRun {
            kind: RunKind::Apply,
            trigger: Trigger::Watch,
            ssot_revision: "sha256:chain".into(),
            actor: "test".into(),
            environment: Some("staging".into()),
            correlation_id: None,
        })
        .await
        .expect("apply run");
    for (i, res) in ["quickstart-staging", "staging"].iter().enumerate() {
        let a = store
            .ledger_insert(&NewAction {
                dedupe_key: format!("chain/{res}:create:{i}"),
                plan_id: Some(plan.id),
                run_id: Some(apply.id),
                resource_kind: if i == 0 { "droplet" } else { "record" }.into(),
                resource_name: res.to_string(),
                operation: "create".into(),
                request_summary: None,
                resource_key: None,
            })
            .await
            .expect("action");
        store
            .ledger_update(
                a.action().id,
                &ActionUpdate {
                    status: Some(ActionStatus::Succeeded),
                    ..Default::default()
                },
            )
            .await
            .expect("action done");
    }
    let log = store
        .put_artifact(
            b"odoo: updating module acme_sale\nodoo: modules loaded\n",
            "text/plain; charset=utf-8",
            Some(apply.id),
        )
        .await
        .expect("log");
    let dump = store
        .put_artifact(b"PGDMP pre-update", "application/octet-stream", None)
        .await
        .expect("dump");
    let backup = store
        .record_backup_details(
            &NewBackup {
                job_id: None,
                environment: "staging".into(),
                kind: "pre-update".into(),
                size_bytes: 16,
                sha256: dump.sha256.clone(),
                location: "artifacts".into(),
                retention_class: "manual".into(),
                expires_at: None,
            },
            &BackupDetails {
                run_id: Some(apply.id),
                ..Default::default()
            },
        )
        .await
        .expect("backup");
    let commit = "c0ffee1234567890abcdef1234567890abcdef12".to_string();
    let release = store
        .begin_release(&NewRelease {
            environment: "staging".into(),
            run_id: Some(apply.id),
            commit_sha: commit.clone(),
            odoo_revision: "17.0@0123456789".into(),
            config_digest: "sha256:conf".into(),
            modules_installed: vec!["base".into(), "acme_sale".into()],
            modules_updated: vec!["acme_sale".into()],
            trigger: "watch".into(),
            actor: "test".into(),
            ..Default::default()
        })
        .await
        .expect("release");
    store
        .finish_release(
            release.id,
            &ReleaseEnd {
                status: RELEASE_HEALTHY.into(),
                backup_id: Some(backup.id),
                log_sha256: Some(log.sha256.clone()),
                url: Some("https://staging.quickstart.test".into()),
                error: None,
            },
        )
        .await
        .expect("finish release");
    store
        .finish_run(
            apply.id,
            RunStatus::Succeeded,
            &json!({"run_id": apply.id, "plan_id": plan.id, "succeeded": 2, "adopted": 0,
                    "skipped": 0, "failed": 0, "stale": []}),
        )
        .await
        .expect("finish apply");
    store
        .set_plan_status(plan.id, PlanStatus::Applied)
        .await
        .expect("applied");
    let failed = store
        .begin_run(&NewRun {
            kind: RunKind::Reconcile,
            trigger: Trigger::Resync,
            ssot_revision: "sha256:chain".into(),
            actor: "controller".into(),
            environment: None,
            correlation_id: None,
        })
        .await
        .expect("global run");
    store
        .finish_run(
            failed.id,
            RunStatus::Failed,
            &json!({"error": "observe failed: the provider answered 503"}),
        )
        .await
        .expect("finish global run");
    Chain {
        plan_run: plan_run.id,
        plan_id: plan.id,
        apply_run: apply.id,
        release_id: release.id,
        log_sha: log.sha256,
        backup_id: backup.id,
        failed_run: failed.id,
        commit,
    }
}
