//! A release reconciled end to end, everything real but the cloud APIs (the simulator): the
//! code repository served by `git daemon` on loopback, a real OpenSSH server as the
//! environment's host, real Odoo 17 from `../shared/odoo/17.0`, real PostgreSQL, real Caddy
//! with its internal CA, the engine planning and applying like the controller does.
//!
//! Commit A (an addon) → apply → `GET https://…/web/login` 200 through the proxy, the addon
//! installed. Commit B changes a field and adds a module (which the SSOT now installs) →
//! the plan lists the update and the install → apply → the column exists, the module is
//! installed. Commit C's addon raises during its update → apply fails, B still serves, the
//! database equals its pre-update state, the release is recorded rolled back and the next
//! plan holds it with a note (a drift finding). A canary secret value given to Odoo never
//! appears in the store, its artifacts or the plans.

mod common;
#[path = "git_support/mod.rs"]
mod git_support;
mod support;

use odooops::provider::StaticSecrets;
use odooops::reconcile::engine::{Context, Engine, EngineError};
use odooops::reconcile::release::OBJECT_NAME;
use odooops::sim;
use odooops::ssot::Ssot;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::delivery::{manifest, Tree, BROKEN_DATA, MODELS_A, MODELS_B};
use support::real_odoo::{drop_database, RealOdoo};
use support::sshd::Sshd;

/// Every byte the store holds: its SQLite database (every ops table), its write-ahead log
/// and its artifacts (plans, update logs, backups' manifests).
fn everything_stored(dir: &Path) -> String {
    let mut out = String::new();
    for entry in walk(dir) {
        out.push_str(&String::from_utf8_lossy(
            &std::fs::read(&entry).unwrap_or_default(),
        ));
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn scalar_text(url: &str, sql: &str) -> Option<String> {
    let pool = sqlx::PgPool::connect(url).await.expect("pool");
    let v: Option<String> = sqlx::query_scalar(sql)
        .fetch_optional(&pool)
        .await
        .expect("query");
    pool.close().await;
    v
}

async fn facts(url: &str) -> (Vec<(String, String, String)>, i64, i64) {
    let pool = sqlx::PgPool::connect(url).await.expect("pool");
    let modules: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT name, state, COALESCE(latest_version, '') FROM ir_module_module
         WHERE state IN ('installed', 'to upgrade', 'to install') ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("modules");
    let data: i64 = sqlx::query_scalar("SELECT count(*) FROM ir_model_data")
        .fetch_one(&pool)
        .await
        .expect("rows");
    let fields: i64 = sqlx::query_scalar("SELECT count(*) FROM ir_model_fields")
        .fetch_one(&pool)
        .await
        .expect("fields");
    pool.close().await;
    (modules, data, fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_commit_becomes_a_healthy_odoo_and_a_failed_update_is_undone() {
    let Some(odoo) = RealOdoo::discover("release_e2e").await else {
        return;
    };
    let Some(sshd) = Sshd::start("release_e2e") else {
        return;
    };
    let git_base = tempfile::tempdir().expect("git base");
    let Some(daemon) = git_support::daemon(git_base.path()) else {
        return;
    };
    let work = tempfile::tempdir().expect("work");
    let repo = git_support::Repo::new(&daemon, work.path(), "shop");

    // Commit A: the addon.
    repo.write(
        "addons/odooops_demo/__manifest__.py",
        manifest("OdooOps demo", "17.0.1.0.0", &["base"], &[]),
    );
    repo.write("addons/odooops_demo/__init__.py", "from . import models\n");
    repo.write("addons/odooops_demo/models.py", MODELS_A);
    let commit_a = repo.commit("A: the demo addon");
    repo.push("HEAD:staging");

    let db = format!(
        "odooops_release_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let host_root = tempfile::tempdir().expect("host root");
    let tree = Tree::for_staging(&odoo, &sshd, &repo.url, &db, host_root.path());

    let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let secrets = StaticSecrets::default()
        .with("DIGITALOCEAN_TOKEN", "test-token-release")
        .with("ODOO_DB_URL", &odoo.odoo_url(&db))
        .with("DEPLOY_KEY", &sshd.client_key)
        .with("ODOO_ADMIN_PASSWORD", &canary);

    let running = sim::start("127.0.0.1:0", odooops::sim::faults::FaultConfig::default())
        .await
        .expect("sim");
    let b = common::sqlite().await;
    let data_dir = tempfile::tempdir().expect("data dir");
    let mk_engine = |ssot: &Ssot| {
        let mut e = Engine::connect(
            ssot,
            b.store.clone(),
            Some(&running.url()),
            Arc::new(odooops::provider::http::Metrics::default()),
        )
        .expect("engine")
        .with_delivery(data_dir.path());
        e.secrets = Arc::new(secrets.clone());
        e
    };
    let ctx = Context::default();

    // A: first release: the database initialized with the addon; Odoo serves over HTTPS.
    let s1 = tree.write(&["odooops_demo"]);
    let engine = mk_engine(&s1);
    let plan = engine.plan(&s1, &ctx).await.expect("plan A");
    let release = plan
        .plan
        .actions
        .iter()
        .find(|a| a.diff.key.kind.as_str() == "release")
        .expect("the plan has a release");
    assert_eq!(release.diff.key.name, OBJECT_NAME);
    let after = release.diff.after.clone().expect("desired");
    assert_eq!(after["commit"], commit_a.as_str());
    assert_eq!(after["database"]["initialize"], true);
    assert_eq!(
        after["database"]["install"],
        serde_json::json!(["odooops_demo"])
    );
    engine
        .apply(&s1, plan.plan_id, &ctx)
        .await
        .unwrap_or_else(|e| panic!("apply A: {e}"));
    let client = support::delivery::https_client(&host_root.path().join("staging"));
    let login = format!("https://127.0.0.1:{}/web/login", tree.https_port);
    let r = client.get(&login).send().await.expect("https");
    assert_eq!(r.status(), 200, "Odoo serves through the proxy");
    let odoo_url = odoo.odoo_url(&db);
    assert_eq!(
        scalar_text(
            &odoo_url,
            "SELECT state FROM ir_module_module WHERE name = 'odooops_demo'"
        )
        .await
        .as_deref(),
        Some("installed")
    );
    let serving = b.store.serving_releases().await.expect("serving");
    assert_eq!(serving.len(), 1);
    assert_eq!(serving[0].commit_sha, commit_a);
    // The release records what the database has installed, Odoo's auto-installs included
    // (`web` is never asked for: it is auto_install on base).
    let installed = odooops::reconcile::release::installed_of(&serving[0]);
    for m in ["base", "odooops_demo", "web"] {
        assert!(
            installed.iter().any(|i| i == m),
            "{m} recorded installed: {installed:?}"
        );
    }
    assert!(serving[0]
        .url
        .as_deref()
        .unwrap_or("")
        .contains(&tree.https_port.to_string()));
    // Converged: a second plan has nothing for the release.
    let again = engine.plan(&s1, &ctx).await.expect("plan A again");
    assert!(
        again
            .plan
            .actions
            .iter()
            .all(|a| a.diff.key.kind.as_str() != "release"),
        "{}",
        again.text
    );

    // B: a field added (version bumped) and a new module the SSOT now installs.
    repo.write(
        "addons/odooops_demo/__manifest__.py",
        manifest("OdooOps demo", "17.0.1.1.0", &["base"], &[]),
    );
    repo.write("addons/odooops_demo/models.py", MODELS_B);
    repo.write(
        "addons/odooops_extra/__manifest__.py",
        manifest("OdooOps extra", "17.0.1.0.0", &["odooops_demo"], &[]),
    );
    repo.write("addons/odooops_extra/__init__.py", "");
    let commit_b = repo.commit("B: a field and a module");
    repo.push("HEAD:staging");
    let s2 = tree.write(&["odooops_demo", "odooops_extra"]);
    let engine = mk_engine(&s2);
    let plan = engine.plan(&s2, &ctx).await.expect("plan B");
    assert!(plan.text.contains("odooops_extra"), "{}", plan.text);
    let release = plan
        .plan
        .actions
        .iter()
        .find(|a| a.diff.key.kind.as_str() == "release")
        .expect("release B planned");
    let after = release.diff.after.clone().expect("desired");
    assert_eq!(after["commit"], commit_b.as_str());
    assert_eq!(
        after["database"]["install"],
        serde_json::json!(["odooops_extra"])
    );
    assert!(
        after["database"]["update"]["odooops_demo"]
            .as_str()
            .unwrap_or("")
            .contains("17.0.1.1.0"),
        "{after}"
    );
    assert!(plan.text.contains("/database/update"), "{}", plan.text);
    engine
        .apply(&s2, plan.plan_id, &ctx)
        .await
        .unwrap_or_else(|e| panic!("apply B: {e}"));
    assert_eq!(
        scalar_text(
            &odoo_url,
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'odooops_demo' AND column_name = 'code'"
        )
        .await
        .as_deref(),
        Some("code"),
        "the new field's column exists"
    );
    assert_eq!(
        scalar_text(
            &odoo_url,
            "SELECT state FROM ir_module_module WHERE name = 'odooops_extra'"
        )
        .await
        .as_deref(),
        Some("installed")
    );
    let rb = b.store.serving_releases().await.expect("serving")[0].clone();
    assert_eq!(rb.commit_sha, commit_b);
    assert!(rb.backup_id.is_some(), "a pre-update backup was taken");

    // C: the update raises. B keeps serving, the database is back as before the update.
    let before = facts(&odoo_url).await;
    repo.write(
        "addons/odooops_demo/__manifest__.py",
        manifest("OdooOps demo", "17.0.1.2.0", &["base"], &["broken.xml"]),
    );
    repo.write("addons/odooops_demo/broken.xml", BROKEN_DATA);
    let commit_c = repo.commit("C: a broken data file");
    repo.push("HEAD:staging");
    let plan = engine.plan(&s2, &ctx).await.expect("plan C");
    let err = engine
        .apply(&s2, plan.plan_id, &ctx)
        .await
        .expect_err("the broken update fails the apply");
    assert!(matches!(err, EngineError::ApplyFailed { .. }), "{err}");
    let r = client.get(&login).send().await.expect("https");
    assert_eq!(r.status(), 200, "release B still serves");
    assert_eq!(
        facts(&odoo_url).await,
        before,
        "the database is as before the update"
    );
    let latest = b
        .store
        .releases(Some("staging"), 1)
        .await
        .expect("releases");
    assert_eq!(latest[0].commit_sha, commit_c);
    assert_eq!(latest[0].status, "rolled_back");
    assert!(latest[0].error.as_deref().unwrap_or("").contains("update"));
    assert_eq!(
        b.store.serving_releases().await.expect("serving")[0].commit_sha,
        commit_b
    );
    // The next plan holds the failed release (not retried) and records why.
    let held = engine.plan(&s2, &ctx).await.expect("plan after C");
    assert!(
        held.plan
            .actions
            .iter()
            .all(|a| a.diff.key.kind.as_str() != "release"),
        "{}",
        held.text
    );
    assert!(
        held.text.contains("failed and was rolled back"),
        "{}",
        held.text
    );
    let findings = b
        .store
        .open_drift(Some("staging"), 100)
        .await
        .expect("findings");
    assert!(
        findings.iter().any(|f| f.resource_kind == "release"),
        "a finding on the release: {findings:?}"
    );

    // The canary value reached Odoo's runtime config on the host, and nothing else.
    let runtime = std::fs::read_to_string(host_root.path().join("staging/run/b.conf"))
        .or_else(|_| std::fs::read_to_string(host_root.path().join("staging/run/a.conf")))
        .expect("runtime config");
    assert!(runtime.contains(&canary), "Odoo got its admin password");
    let stored = everything_stored(b.dir.path());
    assert!(!stored.is_empty());
    assert!(
        !stored.contains(&canary),
        "the canary is not in the store or its artifacts"
    );
    let conf = std::fs::read_to_string(host_root.path().join("staging/etc/odoo-a.conf"))
        .expect("odoo.conf");
    assert!(!conf.contains(&canary), "odoo.conf holds references only");
    let _: Value = serde_json::to_value(&plan.plan).expect("plan json");
    assert!(!serde_json::to_string(&plan.plan)
        .unwrap_or_default()
        .contains(&canary));

    // Nor in any console page or API answer: every one reachable from the start pages.
    let crawled = support::crawl::crawl(b.store.clone(), s2.clone(), 400).await;
    assert!(
        crawled.pages.len() > 20,
        "the console was walked: {:?}",
        crawled.pages.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    assert!(
        crawled
            .pages
            .iter()
            .any(|(p, _)| p.starts_with("/artifacts/") || p.starts_with("/api/artifacts/")),
        "artifacts (the update logs among them) were read"
    );
    assert_eq!(crawled.containing(&canary), Vec::<&str>::new());
    // The environment's recorded release is one of its declared objects (drifted here: C's
    // failure is an open finding).
    let page = crawled
        .pages
        .iter()
        .find(|(p, _)| p == "/environments/staging")
        .map(|(_, body)| body.as_str())
        .expect("the environment page was read");
    let row = page
        .lines()
        .find(|l| l.starts_with("<tr><td>release</td>"))
        .unwrap_or_else(|| panic!("the release is a live resource: {page}"));
    assert!(
        !row.contains("not declared") && row.contains(">drifted</span>"),
        "{row}"
    );

    // Stop Odoo and the proxy.
    support::delivery::stop_host(&host_root.path().join("staging"));
    drop_database(&odoo.admin_url, &db).await;
    b.finish().await;
}
