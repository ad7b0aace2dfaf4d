//! Honest configuration: every process opens the store and artifact store the SSOT names.
//! `Project.spec.store` is used (a named secret that is not set is an error, never a silent
//! SQLite), SQLite is refused for several replicas, `Project.spec.artifacts` puts plans in
//! an S3-compatible bucket, and `BackupPolicy.spec.storage` puts dumps in another one, from
//! where they are read back.

mod common;
mod support;

use odooops::odoo::backup::{self, BackupKind, BackupRequest};
use odooops::sim::{self, faults::FaultConfig};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::Store;
use std::path::Path;
use std::process::Command;
use support::odoo_fixture::OdooFixture;
use support::s3::S3;

/// The quickstart tree with `edit(file name, text)` applied to each file.
fn variant(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for f in std::fs::read_dir(&src).expect("quickstart").flatten() {
        let name = f.file_name().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f.path()).expect("read");
        std::fs::write(dir.path().join(&name), edit(&name, text)).expect("write");
    }
    dir
}

fn load(dir: &Path) -> Ssot {
    let report = ssot::load(dir, &Limits::default());
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    report.into_ssot().expect("valid")
}

/// The registry entries of the keys these tests name.
const KEYS: &str = "    - name: ODOOOPS_TEST_STORE_URL_UNSET\n      source: env\n      requiredBy: [controller]\n    - name: ODOOOPS_TEST_S3_KEY\n      source: env\n      requiredBy: [controller]\n    - name: ODOOOPS_TEST_S3_SECRET\n      source: env\n      requiredBy: [controller]\n    - name: ODOOOPS_TEST_BACKUP_KEY\n      source: env\n      requiredBy: [controller]\n    - name: ODOOOPS_TEST_BACKUP_SECRET\n      source: env\n      requiredBy: [controller]\n";

/// Add `extra` to the Project spec (and the keys to the registry).
fn project_with(extra: &str) -> impl Fn(&str, String) -> String + '_ {
    move |file, text| {
        if file == "project.yaml" {
            let mut t = text.replacen(
                "  defaultRegion: fra1\n",
                &format!("  defaultRegion: fra1\n{extra}"),
                1,
            );
            t.push_str(KEYS);
            t
        } else {
            text
        }
    }
}

fn odooops(ssot: &Path, data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_odooops"));
    c.arg("--ssot")
        .arg(ssot)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("ODOOOPS_DATABASE_URL")
        .env_remove("ODOOOPS_REPLICAS")
        .env_remove("ODOOOPS_ARTIFACT_URL");
    c
}

#[test]
fn a_named_store_secret_that_is_not_set_is_an_error_never_a_silent_sqlite() {
    let tree = variant(project_with(
        "  store:\n    databaseUrlSecret: ODOOOPS_TEST_STORE_URL_UNSET\n",
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let out = odooops(
        tree.path(),
        data.path(),
        &["--sim", "http://127.0.0.1:9", "plan"],
    )
    .env_remove("ODOOOPS_TEST_STORE_URL_UNSET")
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ODOOOPS_TEST_STORE_URL_UNSET"), "{err}");
    assert!(
        !data.path().join("ops.db").exists(),
        "no SQLite file was made"
    );
}

#[test]
fn sqlite_is_refused_for_two_replicas() {
    let tree = variant(|_, t| t);
    let data = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["--replicas", "2", "--sim", "http://127.0.0.1:9", "plan"],
        vec![
            "--replicas",
            "2",
            "--sim",
            "http://127.0.0.1:9",
            "run",
            "--once",
        ],
    ] {
        let out = odooops(tree.path(), data.path(), &args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("2 replicas"), "{args:?}: {err}");
    }
}

// The child process is waited for on a blocking thread: the simulator serves on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_go_to_the_artifact_bucket_the_project_names() {
    let Some(s3) = S3::start("artifact_bucket", "ops-evidence").await else {
        return;
    };
    let extra = format!(
        "  artifacts:\n    type: s3\n    bucket: ops-evidence\n    endpoint: {}\n    region: fra1\n    prefix: evidence/\n    accessKeyIdSecret: ODOOOPS_TEST_S3_KEY\n    secretAccessKeySecret: ODOOOPS_TEST_S3_SECRET\n",
        s3.endpoint
    );
    let tree = variant(project_with(&extra));
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let data = tempfile::tempdir().expect("tempdir");
    let out = odooops(tree.path(), data.path(), &["--sim", &sim.url(), "plan"])
        .env("ODOOOPS_TEST_S3_KEY", "test-key")
        .env("ODOOOPS_TEST_S3_SECRET", "test-secret")
        .output()
        .expect("plan");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = s3.keys("ops-evidence").await;
    assert_eq!(keys.len(), 2, "plan.json and plan.txt: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("evidence/")), "{keys:?}");
    assert!(
        !data.path().join("artifacts").exists(),
        "nothing on local disk"
    );
    // Without the credentials, the process says which secret is missing.
    let out = odooops(tree.path(), data.path(), &["--sim", &sim.url(), "plan"])
        .env_remove("ODOOOPS_TEST_S3_KEY")
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ODOOOPS_TEST_S3_KEY"));
}

#[tokio::test]
async fn backups_go_to_the_storage_their_policy_names_and_come_back_from_it() {
    let Some(db) = OdooFixture::create("backup_storage").await else {
        return;
    };
    let Some(s3) = S3::start("backup_storage", "ops-backups").await else {
        return;
    };
    std::env::set_var("ODOOOPS_TEST_BACKUP_KEY", "test-key");
    std::env::set_var("ODOOOPS_TEST_BACKUP_SECRET", "test-secret");
    let endpoint = s3.endpoint.clone();
    let tree = variant(move |file, text| {
        if file == "project.yaml" {
            return format!("{text}{KEYS}");
        }
        if file == "policies.yaml" {
            text.replacen(
                "  schedule: \"0 3 * * *\"\n",
                &format!("  schedule: \"0 3 * * *\"\n  storage:\n    type: s3\n    bucket: ops-backups\n    endpoint: {endpoint}\n    prefix: production/\n    accessKeyIdSecret: ODOOOPS_TEST_BACKUP_KEY\n    secretAccessKeySecret: ODOOOPS_TEST_BACKUP_SECRET\n"),
                1,
            )
        } else {
            text
        }
    });
    let ssot = load(tree.path());
    let b = common::sqlite().await;
    let mut req = BackupRequest::new("production", BackupKind::Manual);
    req.db_url = Some(db.url.clone());
    let o = backup::run_backup(&b.store, &ssot, &req)
        .await
        .expect("backup");
    let keys = s3.keys("ops-backups").await;
    assert!(
        keys.iter().any(|k| k.ends_with(&o.dump_sha256)),
        "the dump is in the policy's bucket: {keys:?}"
    );
    assert!(
        !b.dir
            .path()
            .join("artifacts")
            .join(&o.dump_sha256[..2])
            .exists(),
        "not on the project's local artifact store"
    );
    // Read back from there, verified.
    let out = b.dir.path().join("prod.dump");
    let (sha, n) = backup::download(&b.store, &ssot, o.backup_id, &out)
        .await
        .expect("download");
    assert_eq!((sha, n), (o.dump_sha256.clone(), o.dump_bytes));
    // The plain store (no policy storage) does not have it.
    let other = Store::open(Some(&b.url), b.dir.path())
        .await
        .expect("store");
    assert!(!other
        .artifact_store()
        .exists(&o.dump_sha256)
        .await
        .expect("exists"));
    other.close().await;
    b.finish().await;
}
