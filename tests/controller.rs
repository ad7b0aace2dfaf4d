//! The continuous controller (`odooops run`) as real processes against the provider
//! simulator over loopback HTTP:
//! - on SQLite: converges, reconciles an SSOT edit picked up by the file watcher, runs queued
//!   jobs, exposes /metrics, /healthz and /readyz, refuses a second controller on the same
//!   store, and stops gracefully on SIGTERM;
//! - on PostgreSQL (high availability): two controllers share one store, one leads, the
//!   simulator sees each create exactly once, and when the leader is SIGKILLed the standby
//!   takes over and heals drift.

mod common;
mod support;

use odooops::sim::{self, faults::FaultConfig};
use odooops::store::{Enqueued, Store};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Ctl {
    child: Child,
    addr: String,
    out: Arc<Mutex<String>>,
}

impl Ctl {
    fn output(&self) -> String {
        self.out.lock().map(|s| s.clone()).unwrap_or_default()
    }
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} failed");
    }
    /// Wait for the process to exit; its exit code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
    async fn get(&self, path: &str) -> (u16, String) {
        match reqwest::get(format!("http://{}{path}", self.addr)).await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }
    async fn role(&self) -> Option<String> {
        let (status, body) = self.get("/readyz").await;
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        v["data"]["role"].as_str().map(str::to_string)
    }
}

impl Drop for Ctl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(ssot: &Path, db: &str, data: &Path, sim: &str, extra: &[&str]) -> Child {
    spawn_env(ssot, db, data, sim, extra, &[])
}

fn spawn_env(
    ssot: &Path,
    db: &str,
    data: &Path,
    sim: &str,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_odooops"))
        .arg("--ssot")
        .arg(ssot)
        .args(["--database-url", db, "--sim", sim, "--data-dir"])
        .arg(data)
        .arg("run")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--debounce",
            "100ms",
            "--poll",
            "100ms",
        ])
        .args([
            "--leader-check",
            "300ms",
            "--grace",
            "20s",
            "--backoff-base",
            "1s",
        ])
        .args(extra)
        .env("RUST_LOG", "info")
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn odooops run")
}

/// Start a controller and wait until it prints its probe address.
fn start(ssot: &Path, db: &str, data: &Path, sim: &str, extra: &[&str]) -> Ctl {
    start_env(ssot, db, data, sim, extra, &[])
}

fn start_env(
    ssot: &Path,
    db: &str,
    data: &Path,
    sim: &str,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> Ctl {
    let mut child = spawn_env(ssot, db, data, sim, extra, vars);
    let out = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let out = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut o) = out.lock() {
                    o.push_str(&line);
                    o.push('\n');
                }
            }
        });
    }
    let t = Instant::now();
    let addr = loop {
        let text = out.lock().map(|s| s.clone()).unwrap_or_default();
        if let Some(rest) = text.split("== controller on http://").nth(1) {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("controller exited early ({status}):\n{text}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "controller did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    Ctl { child, addr, out }
}

async fn eventually<F: FnMut() -> bool>(what: &str, limit: Duration, mut f: F) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn quickstart_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for entry in std::fs::read_dir(&src).expect("read quickstart") {
        let p = entry.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("read");
        // The schema modelines point at ../../crds; they are comments and do not matter here.
        std::fs::write(dir.path().join(p.file_name().expect("name")), text).expect("write");
    }
    dir
}

fn droplet_sizes(s: &sim::Running) -> Vec<(String, String)> {
    let st = sim::lock(&s.state.digitalocean);
    let mut v: Vec<(String, String)> = st
        .droplets
        .values()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_string(),
                d["size_slug"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn created_once(s: &sim::Running) {
    let st = sim::lock(&s.state.digitalocean);
    assert_eq!(st.droplets.len(), 2, "one droplet per environment");
    assert_eq!(st.droplets_created, 2, "each droplet created exactly once");
    assert_eq!(st.firewalls.len(), 2, "one firewall per environment");
    let records: usize = st
        .records
        .values()
        .map(|zone| zone.values().filter(|r| r["type"] == "A").count())
        .sum();
    assert_eq!(records, 2, "one A record per environment");
    drop(st);
    let requests = sim::lock(&s.state.requests).clone();
    let exact = |k: &str| requests.get(k).copied().unwrap_or(0);
    assert_eq!(exact("POST /digitalocean/v2/droplets"), 2, "{requests:?}");
    assert_eq!(exact("POST /digitalocean/v2/firewalls"), 2, "{requests:?}");
}

fn set_staging_size(ssot: &Path, from: &str, to: &str) {
    let path = ssot.join("environments.yaml");
    let text = std::fs::read_to_string(&path).expect("read environments.yaml");
    assert!(text.contains(from), "{from} not in environments.yaml");
    std::fs::write(&path, text.replace(from, to)).expect("write environments.yaml");
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_on_sqlite_watches_runs_jobs_and_refuses_a_second_loop() {
    let s = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let ssot = quickstart_copy();
    let data = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", data.path().join("ops.db").display());
    // --batch 1: the first rollout takes one environment per cycle (two cycles here).
    let mut a = start(
        ssot.path(),
        &db,
        data.path(),
        &s.url(),
        &["--resync", "1h", "--batch", "1"],
    );

    // 1. A fresh leader converges the empty cloud.
    eventually("two droplets", Duration::from_secs(60), || {
        droplet_sizes(&s).len() == 2
    })
    .await;
    eventually("leader", Duration::from_secs(10), || {
        a.output().contains("== leading")
    })
    .await;
    assert_eq!(a.role().await.as_deref(), Some("leader"));
    // The first rollout went one environment per plan (--batch 1).
    let store = Store::open(Some(&db), data.path()).await.expect("store");
    let mut plans: Vec<_> = store
        .recent_runs(20)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.kind == "plan")
        .collect();
    plans.sort_by_key(|r| r.started_at);
    assert!(plans.len() >= 2, "{plans:?}");
    for run in &plans[..2] {
        let envs: std::collections::BTreeSet<_> = store
            .diffs_for_run(run.id)
            .await
            .expect("diffs")
            .into_iter()
            .filter_map(|d| d.environment)
            // A shared database cluster is planned with the first environment using it.
            .filter(|e| !e.starts_with('@'))
            .collect();
        assert_eq!(envs.len(), 1, "one environment per batch: {envs:?}");
    }
    let (status, body) = a.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["ok"],
        true
    );

    // 2. A second controller on the same SQLite store is refused, clearly.
    let data_b = tempfile::tempdir().expect("tempdir");
    let mut b = spawn(ssot.path(), &db, data_b.path(), &s.url(), &[]);
    let t = Instant::now();
    let code = loop {
        if let Some(st) = b.try_wait().expect("try_wait") {
            break st.code();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "second controller did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = b.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("another `odooops run`") && stderr.contains("PostgreSQL"),
        "{stderr}"
    );

    // 3. An SSOT edit is picked up by the watcher and reconciled (staging resized).
    set_staging_size(ssot.path(), "size: s-1vcpu-2gb", "size: s-2vcpu-4gb");
    let t = Instant::now();
    while !droplet_sizes(&s)
        .iter()
        .any(|(n, size)| n.ends_with("-staging") && size == "s-2vcpu-4gb")
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the SSOT edit was not reconciled:\n{}",
            a.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 4. Queued jobs (as the console and webhooks enqueue them) become runs.
    let ok = match store
        .enqueue(
            "reconcile",
            "test:plan:1",
            &json!({"action": "plan", "environment": "staging"}),
            None,
        )
        .await
        .expect("enqueue")
    {
        Enqueued::New(j) | Enqueued::Existing(j) => j.id,
    };
    let bad = match store
        .enqueue(
            "reconcile",
            "test:bogus:1",
            &json!({"action": "bogus"}),
            None,
        )
        .await
        .expect("enqueue")
    {
        Enqueued::New(j) | Enqueued::Existing(j) => j.id,
    };
    let t = Instant::now();
    loop {
        let job = store.job(ok).await.expect("job").expect("exists");
        let failed = store.job(bad).await.expect("job").expect("exists");
        if job.status == "done" && failed.attempts >= 1 && failed.last_error.is_some() {
            assert!(
                failed
                    .last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("unknown job"),
                "{:?}",
                failed.last_error
            );
            assert_eq!(failed.status, "queued", "a failed job is retried later");
            // The finished job links its run (the console shows it on /jobs/{id}).
            let result = job.result.clone().unwrap_or_default();
            let run_id = result["run_id"].as_str().expect("result.run_id");
            let run = store
                .run(run_id.parse().expect("uuid"))
                .await
                .expect("run")
                .expect("the run exists");
            assert_eq!(run.kind, "plan");
            assert_eq!(run.trigger, "console");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "jobs not handled: {job:?} {failed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Gate runs queued from the console run as bounded jobs and link their gate run.
    let gates = match store
        .enqueue(
            "gates",
            "test:gates:1",
            &json!({"action": "gates", "environment": "staging"}),
            None,
        )
        .await
        .expect("enqueue")
    {
        Enqueued::New(j) | Enqueued::Existing(j) => j.id,
    };
    let t = Instant::now();
    let job = loop {
        let job = store.job(gates).await.expect("job").expect("exists");
        if job.status == "done" {
            break job;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "gates job not handled: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        job.result.as_ref().is_some_and(|r| r["run_id"].is_string()),
        "{job:?}"
    );
    let executions = store
        .job_runs(Some("gate"), Some("staging"), 5)
        .await
        .expect("job runs");
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].outcome, "ok");

    // 5. Metrics. An open drift finding in the store is exposed per environment (an empty
    // gauge family is left out of the OpenMetrics text, as prometheus-client does).
    store
        .upsert_drift(&[odooops::store::DriftObservation {
            environment: "staging".into(),
            resource_kind: "droplet".into(),
            resource_name: "quickstart-staging".into(),
            field_path: "tags".into(),
            desired: Some(serde_json::json!(["a"])),
            observed: Some(serde_json::json!([])),
            run_id: None,
        }])
        .await
        .expect("drift");
    let (status, text) = a.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metric(&text, "odooops_reconcile_total{result=\"success\"}").unwrap_or(0.0) >= 2.0,
        "{text}"
    );
    assert!(
        metric(&text, "odooops_reconcile_duration_seconds_count").unwrap_or(0.0) >= 2.0,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "odooops_provider_requests_total{provider=\"digitalocean\",code=\"200\"}"
        )
        .unwrap_or(0.0)
            > 0.0,
        "{text}"
    );
    assert!(metric(&text, "odooops_queue_depth").is_some(), "{text}");
    assert_eq!(metric(&text, "odooops_leader"), Some(1.0), "{text}");
    assert!(
        text.contains("# TYPE odooops_drift_resources gauge"),
        "{text}"
    );
    assert!(
        metric(&text, "odooops_drift_resources{environment=\"staging\"}").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    let (status, body) = a.get("/nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json 404")["ok"],
        false
    );

    // 6. SIGTERM: graceful stop, exit 0, and the store lock is released for the next one.
    a.signal("-TERM");
    assert_eq!(
        a.wait_exit(Duration::from_secs(40)),
        Some(0),
        "{}",
        a.output()
    );
    assert!(a.output().contains("shutting down"), "{}", a.output());
    let once = Command::new(env!("CARGO_BIN_EXE_odooops"))
        .arg("--ssot")
        .arg(ssot.path())
        .args(["--database-url", &db, "--sim", &s.url(), "--data-dir"])
        .arg(data.path())
        .args(["run", "--once", "--listen", "127.0.0.1:0"])
        .output()
        .expect("run --once");
    assert_eq!(
        once.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    created_once(&s);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_on_postgres_create_once_and_fail_over() {
    let Some(admin) = common::pg_admin_url() else {
        return;
    };
    let (db, name) = common::fresh_pg_db(&admin).await;
    let s = sim::start(
        "127.0.0.1:0",
        FaultConfig::parse("latency_ms=5").expect("faults"),
    )
    .await
    .expect("sim");
    let ssot = quickstart_copy();
    let (da, db_dir) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let extra = ["--resync", "1s", "--jitter", "0.2"];
    // Production's BackupPolicy is due at once (never backed up): the leader queues it and
    // its worker dumps this Odoo-shaped database with the real pg_dump.
    let odoo = support::odoo_fixture::OdooFixture::create("controller_ha")
        .await
        .expect("fixture database");
    let vars = [("ODOOOPS_ENV_DB_PRODUCTION", odoo.url.as_str())];
    let a = start_env(ssot.path(), &db, da.path(), &s.url(), &extra, &vars);
    let b = start_env(ssot.path(), &db, db_dir.path(), &s.url(), &extra, &vars);

    eventually("two droplets", Duration::from_secs(60), || {
        droplet_sizes(&s).len() == 2
    })
    .await;
    // Let several resync periods pass with both processes alive.
    tokio::time::sleep(Duration::from_secs(4)).await;
    created_once(&s);
    let roles = (a.role().await, b.role().await);
    let (mut leader, standby) = match roles {
        (Some(ra), Some(rb)) if ra == "leader" && rb == "standby" => (a, b),
        (Some(ra), Some(rb)) if ra == "standby" && rb == "leader" => (b, a),
        other => panic!("expected one leader and one standby, got {other:?}"),
    };
    assert!(
        standby.output().contains("== standby"),
        "{}",
        standby.output()
    );

    // The leader dies without a word; its lock goes with its connection.
    leader.signal("-KILL");
    let _ = leader.wait_exit(Duration::from_secs(10));
    let t = Instant::now();
    while standby.role().await.as_deref() != Some("leader") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "standby never took over:\n{}",
            standby.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Drift made out-of-band is healed by the new leader.
    let staging_id = {
        let st = sim::lock(&s.state.digitalocean);
        st.droplets
            .values()
            .find(|d| d["name"].as_str().is_some_and(|n| n.ends_with("-staging")))
            .and_then(|d| d["id"].as_u64())
            .expect("staging droplet")
    };
    sim::lock(&s.state.digitalocean)
        .mutate(
            "droplet",
            &staging_id.to_string(),
            &json!({"size_slug": "s-8vcpu-16gb"}),
            false,
        )
        .expect("mutate");
    eventually(
        "drift healed by the new leader",
        Duration::from_secs(30),
        || {
            droplet_sizes(&s)
                .iter()
                .any(|(n, size)| n.ends_with("-staging") && size == "s-1vcpu-2gb")
        },
    )
    .await;
    created_once(&s);

    // The scheduled backup ran once, by whichever process led, with evidence.
    let store = Store::open(Some(&db), da.path()).await.expect("store");
    let t = Instant::now();
    let backups = loop {
        let rows = store
            .backups(Some("production"), 10)
            .await
            .expect("backups");
        if !rows.is_empty() {
            break rows;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no scheduled backup:\n{}",
            standby.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = store
        .backups(Some("production"), 10)
        .await
        .expect("backups");
    assert_eq!(
        again.len(),
        1,
        "one scheduled backup, not one per controller or per tick"
    );
    assert_eq!(backups[0].kind, "scheduled");
    assert!(backups[0].size_bytes > 0);
    store.close().await;
    drop(standby);
    drop(leader);
    odoo.drop_db().await;
    common::drop_pg_db(&admin, &name).await;
}
