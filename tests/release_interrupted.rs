//! A deploy whose controller is SIGKILLed mid-update is settled by the next run, and no two
//! deploys ever run at once: real `odooops apply` processes against a real OpenSSH host,
//! real Odoo 17, PostgreSQL and Caddy (the cloud APIs simulated). Release A serves; the
//! apply of commit B is killed while `-u` runs; a second apply meanwhile is refused by the
//! apply lock; the next apply puts A back (database restored from B's pre-update backup),
//! records B's first attempt `interrupted`, then deploys B to completion.

mod common;
#[path = "git_support/mod.rs"]
mod git_support;
mod support;

use odooops::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::delivery::{manifest, Tree, MODELS_A, MODELS_B};
use support::real_odoo::{drop_database, RealOdoo};
use support::sshd::Sshd;

struct Cli<'a> {
    tree: &'a Path,
    data: &'a Path,
    sim: String,
    env: Vec<(&'static str, String)>,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_odooops"));
        c.arg("--ssot")
            .arg(self.tree)
            .arg("--data-dir")
            .arg(self.data)
            .arg("--sim")
            .arg(&self.sim)
            .args(args)
            .env_remove("ODOOOPS_DATABASE_URL")
            .env_remove("ODOOOPS_ARTIFACT_URL")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

async fn version(url: &str) -> Option<String> {
    let pool = sqlx::PgPool::connect(url).await.expect("pool");
    let v = sqlx::query_scalar(
        "SELECT latest_version FROM ir_module_module WHERE name = 'odooops_demo' AND state = 'installed'",
    )
    .fetch_optional(&pool)
    .await
    .expect("query");
    pool.close().await;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_deploy_is_rolled_back_then_completed_and_never_runs_twice() {
    let Some(odoo) = RealOdoo::discover("release_interrupted").await else {
        return;
    };
    let Some(sshd) = Sshd::start("release_interrupted") else {
        return;
    };
    let git_base = tempfile::tempdir().expect("git base");
    let Some(daemon) = git_support::daemon(git_base.path()) else {
        return;
    };
    let work = tempfile::tempdir().expect("work");
    let repo = git_support::Repo::new(&daemon, work.path(), "shop");
    repo.write(
        "addons/odooops_demo/__manifest__.py",
        manifest("OdooOps demo", "17.0.1.0.0", &["base"], &[]),
    );
    repo.write("addons/odooops_demo/__init__.py", "from . import models\n");
    repo.write("addons/odooops_demo/models.py", MODELS_A);
    let commit_a = repo.commit("A");
    repo.push("HEAD:staging");

    let db = format!(
        "odooops_killed_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let host_root = tempfile::tempdir().expect("host root");
    let tree = Tree::for_staging(&odoo, &sshd, &repo.url, &db, host_root.path());
    tree.write(&["odooops_demo"]);

    let running = odooops::sim::start("127.0.0.1:0", odooops::sim::faults::FaultConfig::default())
        .await
        .expect("sim");
    let data = tempfile::tempdir().expect("data dir");
    let cli = Cli {
        tree: tree.dir.path(),
        data: data.path(),
        sim: running.url(),
        env: vec![
            ("ODOO_DB_URL", odoo.odoo_url(&db)),
            ("DEPLOY_KEY", sshd.client_key.clone()),
            ("ODOO_ADMIN_PASSWORD", "test-admin-interrupted".into()),
            ("DIGITALOCEAN_TOKEN", "test-token-interrupted".into()),
        ],
    };

    // Release A serves.
    let out = tokio::task::spawn_blocking({
        let c = cli.command(&["apply", "--auto-approve"]);
        move || {
            let mut c = c;
            c.output().expect("apply A")
        }
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "apply A: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let odoo_db = odoo.odoo_url(&db);
    assert_eq!(version(&odoo_db).await.as_deref(), Some("17.0.1.0.0"));

    // Commit B needs `-u`: its apply is killed while the update runs.
    repo.write(
        "addons/odooops_demo/__manifest__.py",
        manifest("OdooOps demo", "17.0.1.1.0", &["base"], &[]),
    );
    repo.write("addons/odooops_demo/models.py", MODELS_B);
    let commit_b = repo.commit("B");
    repo.push("HEAD:staging");
    let mut child = cli
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn apply B");
    let store = Store::open(
        Some(&format!("sqlite:{}", data.path().join("ops.db").display())),
        data.path(),
    )
    .await
    .expect("store");
    let deadline = Instant::now() + Duration::from_secs(300);
    let dead = loop {
        assert!(
            Instant::now() < deadline,
            "release B never reached its update"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "apply B ended before it could be killed"
        );
        let rows = store.releases(Some("staging"), 5).await.expect("releases");
        if let Some(r) = rows.iter().find(|r| {
            r.commit_sha == commit_b
                && r.status == "deploying"
                && r.steps.to_string().contains("pre-update backup")
        }) {
            break r.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Never two deploys at once: another apply meanwhile is refused by the apply lock.
    let second = cli
        .command(&["apply", "--auto-approve", "--lock-timeout", "0s"])
        .output()
        .expect("second apply");
    assert!(!second.status.success(), "a second apply ran concurrently");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("lock"), "{err}");
    // The update is running (`-u` takes seconds): kill the controller now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL the controller");
    let _ = child.wait();
    assert_eq!(
        store
            .release(dead.id)
            .await
            .expect("release")
            .expect("row")
            .status,
        "deploying",
        "the killed deploy left its row"
    );

    // The next run settles it (A back, the database restored) and then deploys B.
    let out = tokio::task::spawn_blocking({
        let c = cli.command(&["apply", "--auto-approve"]);
        move || {
            let mut c = c;
            c.output().expect("apply after the kill")
        }
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "apply after the kill: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let settled = store.release(dead.id).await.expect("release").expect("row");
    assert_eq!(settled.status, "interrupted");
    assert!(
        settled
            .steps
            .to_string()
            .contains("recovery: restore the database"),
        "{}",
        settled.steps
    );
    let serving = store.serving_releases().await.expect("serving");
    assert_eq!(serving.len(), 1);
    assert_eq!(serving[0].commit_sha, commit_b);
    assert_ne!(serving[0].id, dead.id);
    assert_eq!(version(&odoo_db).await.as_deref(), Some("17.0.1.1.0"));
    let all = store.releases(Some("staging"), 10).await.expect("releases");
    assert!(all
        .iter()
        .any(|r| r.commit_sha == commit_a && r.status == "superseded"));
    assert!(
        !host_root.path().join("staging/deploy.lock").exists(),
        "the host's deploy lock is given up"
    );
    let client = support::delivery::https_client(&host_root.path().join("staging"));
    let r = client
        .get(format!("https://127.0.0.1:{}/web/login", tree.https_port))
        .send()
        .await
        .expect("https");
    assert_eq!(r.status(), 200);

    support::delivery::stop_host(&host_root.path().join("staging"));
    store.close().await;
    drop_database(&odoo.admin_url, &db).await;
}
