//! `odooops secrets sync`, `odooops inventory` and `odooops apply --parallelism` against the
//! simulator, with evidence.

use odooops::sim::{self, faults::FaultConfig};
use odooops::store::Store;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn canary(tag: &str) -> String {
    format!("test-secret-{}-{tag}", "canary42")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_sync_pushes_names_records_evidence_and_never_prints_values() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    sim::lock(&sim.state.supabase)
        .mutate(
            "project",
            "acmeprodrefabcdefghi",
            &json!({"name": "acme"}),
            false,
        )
        .expect("seed supabase");
    sim::lock(&sim.state.vercel)
        .mutate(
            "project",
            "acme-portal",
            &json!({"teamId": "team_acme"}),
            false,
        )
        .expect("seed vercel");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_odooops"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // ssot/ keeps its artifacts in a Spaces bucket: here they stay local.
        .env("ODOOOPS_ARTIFACT_URL", dir.path().join("artifacts"))
        .args([
            "--ssot",
            "ssot",
            "--sim",
            &sim.url(),
            "--database-url",
            &db,
            "--data-dir",
        ])
        .arg(dir.path())
        .args(["secrets", "sync", "-o", "json"])
        .env("SMTP_USER", canary("user"))
        .env("SMTP_PASSWORD", canary("password"))
        .env("ODOO_ADMIN_PASSWORD", canary("admin"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for tag in ["user", "password", "admin"] {
        assert!(
            !stdout.contains(&canary(tag)) && !stderr.contains(&canary(tag)),
            "a value was printed"
        );
    }
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["ok"], true);
    let pushed: Vec<&str> = report["pushed"]
        .as_array()
        .expect("pushed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        pushed,
        vec!["ODOO_ADMIN_PASSWORD", "SMTP_PASSWORD", "SMTP_USER"]
    );
    // The simulator holds the names (and only digests of values).
    let state = serde_json::to_string(&sim::lock(&sim.state.supabase).snapshot()).expect("state");
    assert!(state.contains("SMTP_PASSWORD") && !state.contains(&canary("password")));
    // Evidence: one row per target, names only.
    let store = Store::open(Some(&db), dir.path()).await.expect("store");
    let rows = store.secret_syncs(None, 10).await.expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let rows_text = serde_json::to_string(&rows).expect("json");
    assert!(rows_text.contains("SMTP_USER") && !rows_text.contains(&canary("user")));
    // The sync ran as a bounded job: one execution recorded, with its outcome and duration.
    let jobs = store
        .job_runs(Some("sync"), None, 10)
        .await
        .expect("job runs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].outcome, "ok", "{jobs:?}");
    assert!(jobs[0].duration_ms.is_some(), "{jobs:?}");
    store.close().await;
}

/// `odooops ARGS` on `examples/quickstart` against `sim`, evidence in `db` and `data`.
fn quickstart(sim: &sim::Running, db: &str, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odooops"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--ssot", "examples/quickstart", "--sim", &sim.url()])
        .args(["--database-url", db, "--data-dir"])
        .arg(data)
        .args(args)
        .output()
        .expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_records_observed_objects() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    let run = |args: &[&str]| quickstart(&sim, &db, dir.path(), args);
    assert_eq!(run(&["apply", "--auto-approve"]).status.code(), Some(0));
    let out = run(&["inventory", "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    // 2 droplets, 2 firewalls, 1 domain, 1 database cluster.
    assert_eq!(v["objects"], 6);
    let store = Store::open(Some(&db), dir.path()).await.expect("store");
    let ingest: uuid::Uuid = v["ingest_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("ingest id");
    let objects = store.inventory(ingest).await.expect("inventory");
    assert_eq!(objects.len(), 6);
    assert!(objects
        .iter()
        .filter(|o| o.object_type == "droplet")
        .all(|o| o.owned && o.environment.is_some()));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_parallelism_is_validated_and_one_at_a_time_still_converges() {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    let run = |args: &[&str]| quickstart(&sim, &db, dir.path(), args);
    for bad in ["0", "65", "four"] {
        let out = run(&["apply", "--auto-approve", "--parallelism", bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{bad}: usage error (EX_USAGE): {err}"
        );
        assert!(
            err.contains("--parallelism") && err.contains("from 1 to 64"),
            "{bad}: {err}"
        );
    }
    assert!(
        sim::lock(&sim.state.digitalocean).droplets.is_empty(),
        "a refused flag applies nothing"
    );
    let out = run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sim::lock(&sim.state.digitalocean).droplets.len(), 2);
    let again = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "converged: {}",
        String::from_utf8_lossy(&again.stdout)
    );
}
