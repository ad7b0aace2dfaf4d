//! Crash safety of apply: the `odooops apply` process is SIGKILLed at a random moment, over
//! 20 iterations; after a restart and convergence the simulator holds exactly one droplet,
//! record and database per environment, and saw each droplet create exactly once.

use odooops::sim::{self, faults::FaultConfig};
use odooops::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn odooops(sim_url: &str, db: &str, data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_odooops"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--ssot",
            "examples/quickstart",
            "--sim",
            sim_url,
            "--database-url",
            db,
            "--data-dir",
        ])
        .arg(data)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_apply_at_random_points_never_duplicates_a_side_effect() {
    let mut rng = fastrand::Rng::with_seed(2026);
    let mut killed_mid_apply = 0;
    // Calibrate: how long does an uninterrupted apply take on this machine right now?
    let full = {
        let sim = sim::start(
            "127.0.0.1:0",
            FaultConfig::parse("latency_ms=15").expect("faults"),
        )
        .await
        .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = format!("sqlite:{}", dir.path().join("ops.db").display());
        let t = std::time::Instant::now();
        let out = odooops(&sim.url(), &db, dir.path(), &["apply", "--auto-approve"])
            .output()
            .expect("apply");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_millis() as u64
    };
    for iteration in 0..20 {
        // Each request takes a few milliseconds so a kill lands between actions.
        let sim = sim::start(
            "127.0.0.1:0",
            FaultConfig::parse("latency_ms=15").expect("faults"),
        )
        .await
        .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = format!("sqlite:{}", dir.path().join("ops.db").display());
        let url = sim.url();

        let mut child = odooops(&url, &db, dir.path(), &["apply", "--auto-approve"])
            .spawn()
            .expect("spawn apply");
        // Kill somewhere between 10 % and 90 % of a full apply.
        let delay = rng.u64(full / 10..full * 9 / 10);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let finished_before_kill = child.try_wait().expect("wait").is_some();
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        if !finished_before_kill {
            killed_mid_apply += 1;
        }
        // A request the dead process had sent may still be completing at the provider (as
        // on a real API); the restart comes after those have landed.
        assert!(
            sim.state.wait_idle(Duration::from_secs(10)).await,
            "simulator never went idle"
        );

        // Restart: apply until a plan is empty.
        let mut converged = false;
        let mut last_plan = String::new();
        for _ in 0..5 {
            let out = odooops(&url, &db, dir.path(), &["apply", "--auto-approve"])
                .output()
                .expect("apply");
            let plan = odooops(&url, &db, dir.path(), &["plan", "--detailed-exitcode"])
                .output()
                .expect("plan");
            last_plan = String::from_utf8_lossy(&plan.stdout).to_string();
            if plan.status.code() == Some(0) {
                converged = true;
                break;
            }
            eprintln!(
                "iteration {iteration}: apply said {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            converged,
            "iteration {iteration}: no convergence after the crash"
        );

        {
            let st = sim::lock(&sim.state.digitalocean);
            let names: Vec<&str> = st
                .droplets
                .values()
                .filter_map(|d| d["name"].as_str())
                .collect();
            assert_eq!(
                names.len(),
                2,
                "iteration {iteration}: one droplet per environment, got {names:?}; the last plan said:\n{last_plan}"
            );
            // A records only: every new zone also has its SOA and NS records.
            let records: usize = st
                .records
                .values()
                .flat_map(|r| r.values())
                .filter(|r| r["type"] == "A")
                .count();
            assert_eq!(
                records, 2,
                "iteration {iteration}: one record per environment"
            );
            assert_eq!(st.clusters.len(), 1);
            let dbs = st
                .clusters
                .values()
                .next()
                .map(|c| c["db_names"].as_array().map(Vec::len).unwrap_or(0))
                .unwrap_or(0);
            assert_eq!(
                dbs, 3,
                "iteration {iteration}: defaultdb plus one database per environment"
            );
            // A create request cut off by the kill before the provider acted creates nothing;
            // what counts is how many droplets the provider ever created.
            assert_eq!(
                st.droplets_created, 2,
                "iteration {iteration}: the provider created each droplet exactly once"
            );
        }

        // The ledger holds one row per side effect and none left unfinished.
        let store = Store::open(Some(&db), dir.path()).await.expect("store");
        let unfinished = store.unfinished_actions().await.expect("ledger");
        assert!(
            unfinished.is_empty(),
            "iteration {iteration}: unfinished ledger rows {unfinished:?}"
        );
        store.close().await;
    }
    assert!(
        killed_mid_apply >= 10,
        "only {killed_mid_apply} kills landed during an apply"
    );
}
