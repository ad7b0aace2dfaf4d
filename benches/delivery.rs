//! Push → new release serving, on this machine, everything real but the cloud APIs: the code
//! repository served by `git daemon`, a real OpenSSH server as the host, real Odoo 17 from
//! `../shared/odoo/17.0` (its tests' virtualenv reused), PostgreSQL, Caddy with its internal
//! CA. After release A (the database initialized), it pushes
//! - code-only changes (a file under `static/`, outside the module checksum: no `-u`), with
//!   20 requests a second on `/web/login` through the proxy, counting failures;
//! - changes that bump the addon's version (one module updated, `-u`).
//!
//! Each is timed from the push to the new release serving (the engine's plan and apply with
//! the pushed commit, as the controller runs a push webhook's job).
//!
//! Run: `cargo bench --bench delivery` (needs ODOOOPS_TEST_DATABASE_URL, sshd and Caddy;
//! without `--bench` it only says so: it takes minutes).

#[path = "../tests/git_support/mod.rs"]
mod git_support;
#[path = "../tests/support/mod.rs"]
mod support;

use odooops::provider::StaticSecrets;
use odooops::reconcile::engine::{Context, Engine};
use std::collections::BTreeMap;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::delivery::{manifest, Tree, MODELS_A};
use support::real_odoo::{drop_database, RealOdoo};
use support::sshd::Sshd;

fn p50(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("delivery bench: run `cargo bench --bench delivery` (real Odoo, minutes)");
        return;
    }
    let code_only_runs: usize = std::env::var("ODOOOPS_BENCH_CODE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let update_runs: usize = std::env::var("ODOOOPS_BENCH_UPDATE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let odoo = RealOdoo::discover("delivery bench")
        .await
        .expect("a real Odoo (ODOOOPS_TEST_DATABASE_URL, .ci/odoo-env.sh)");
    let sshd = Sshd::start("delivery bench").expect("sshd");
    let git_base = tempfile::tempdir().expect("git base");
    let daemon = git_support::daemon(git_base.path()).expect("git daemon");
    let work = tempfile::tempdir().expect("work");
    let repo = git_support::Repo::new(&daemon, work.path(), "shop");
    let mut version = 0;
    let write_addon = |repo: &git_support::Repo, version: usize| {
        repo.write(
            "addons/odooops_demo/__manifest__.py",
            manifest(
                "OdooOps demo",
                &format!("17.0.1.{version}.0"),
                &["base"],
                &[],
            ),
        );
    };
    write_addon(&repo, version);
    repo.write("addons/odooops_demo/__init__.py", "from . import models\n");
    repo.write("addons/odooops_demo/models.py", MODELS_A);
    repo.write(
        "addons/odooops_demo/static/description/index.html",
        "<p>0</p>\n",
    );
    repo.commit("A");
    repo.push("HEAD:staging");

    let db = format!(
        "odooops_bench_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let host_root = tempfile::tempdir().expect("host root");
    let tree = Tree::for_staging(&odoo, &sshd, &repo.url, &db, host_root.path());
    let ssot = tree.write(&["odooops_demo"]);
    let sim = odooops::sim::start("127.0.0.1:0", odooops::sim::faults::FaultConfig::default())
        .await
        .expect("sim");
    let data = tempfile::tempdir().expect("data");
    let store = odooops::store::Store::open(
        Some(&format!("sqlite:{}", data.path().join("ops.db").display())),
        data.path(),
    )
    .await
    .expect("store");
    let mut engine = Engine::connect(
        &ssot,
        store.clone(),
        Some(&sim.url()),
        Arc::new(odooops::provider::http::Metrics::default()),
    )
    .expect("engine")
    .with_delivery(data.path());
    engine.secrets = Arc::new(
        StaticSecrets::default()
            .with("DIGITALOCEAN_TOKEN", "test-token-bench")
            .with("ODOO_DB_URL", &odoo.odoo_url(&db))
            .with("DEPLOY_KEY", &sshd.client_key)
            .with("ODOO_ADMIN_PASSWORD", "test-admin-bench"),
    );
    // The push's job: plan and apply with the pushed commit, until it serves.
    let deploy = |sha: String| {
        let engine = &engine;
        let ssot = &ssot;
        async move {
            let ctx = Context {
                trigger: odooops::store::Trigger::Webhook,
                commits: BTreeMap::from([("staging".to_string(), sha.clone())]),
                ..Context::default()
            };
            let p = engine.plan(ssot, &ctx).await.expect("plan");
            engine.apply(ssot, p.plan_id, &ctx).await.expect("apply");
            let serving = engine.store.serving_releases().await.expect("serving");
            assert_eq!(serving[0].commit_sha, sha, "the pushed commit serves");
        }
    };
    let t = Instant::now();
    let head = repo.git(&["rev-parse", "HEAD"]);
    deploy(head).await;
    println!(
        "release A (droplet etc. in the simulator, database initialized, addon installed): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let client = support::delivery::https_client(&host_root.path().join("staging"));
    let login = format!("https://127.0.0.1:{}/web/login", tree.https_port);

    // Code-only pushes under load.
    let mut code = Vec::new();
    // Each failed request: seconds since its push, and why.
    let mut reasons = Vec::<String>::new();
    let mut sent = 0;
    for i in 1..=code_only_runs {
        repo.write(
            "addons/odooops_demo/static/description/index.html",
            format!("<p>{i}</p>\n"),
        );
        let sha = repo.commit(&format!("static {i}"));
        let load = support::delivery::Load::start(&client, &login);
        let t = Instant::now();
        repo.push("HEAD:staging");
        deploy(sha).await;
        code.push(t.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (n, failures) = load.stop(Duration::from_secs(1)).await;
        sent += n;
        reasons.extend(
            failures
                .iter()
                .map(|f| format!("{:.1}s {}", f.sent_after.as_secs_f64(), f.why)),
        );
    }
    // Version bumps: one module updated.
    let mut updates = Vec::new();
    for i in 1..=update_runs {
        version += 1;
        write_addon(&repo, version);
        let sha = repo.commit(&format!("bump {i}"));
        let t = Instant::now();
        repo.push("HEAD:staging");
        deploy(sha).await;
        updates.push(t.elapsed().as_secs_f64());
    }
    let releases = store
        .releases(Some("staging"), 100)
        .await
        .expect("releases");
    let steps = releases.first().map(step_lines).unwrap_or_default();
    println!(
        "push → serving, code only ({} runs): p50 {:.1} s (min {:.1}, max {:.1}); requests during them {}, failed {}",
        code.len(),
        p50(&mut code.clone()),
        code.iter().cloned().fold(f64::MAX, f64::min),
        code.iter().cloned().fold(0.0, f64::max),
        sent,
        reasons.len()
    );
    println!(
        "push → serving, -u of one module ({} runs): p50 {:.1} s (min {:.1}, max {:.1})",
        updates.len(),
        p50(&mut updates.clone()),
        updates.iter().cloned().fold(f64::MAX, f64::min),
        updates.iter().cloned().fold(0.0, f64::max)
    );
    println!("last -u release's steps: {}", steps.join(", "));
    // The code-only releases (older than the -u ones), oldest first, and the failures.
    for r in releases.iter().skip(update_runs).take(code_only_runs).rev() {
        println!(
            "code-only release {}: {}",
            r.commit_sha.get(..8).unwrap_or(""),
            step_lines(r).join(", ")
        );
    }
    if !reasons.is_empty() {
        println!(
            "failed requests (seconds after their push): {}",
            reasons.join("; ")
        );
    }
    support::delivery::stop_host(&host_root.path().join("staging"));
    store.close().await;
    drop_database(&odoo.admin_url, &db).await;
}

/// A release's steps as `name N ms`.
fn step_lines(r: &odooops::store::Release) -> Vec<String> {
    r.steps
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    format!(
                        "{} {} ms",
                        s["name"].as_str().unwrap_or(""),
                        s["duration_ms"]
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
