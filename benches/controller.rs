//! Controller figures:
//! - the watch path: an SSOT file saved → the plan evidence of the reconcile it triggers
//!   committed in the store (p50, max), 200 environments, controller in-process;
//! - the controller's peak RSS at 5,000 environments: `odooops run --once` as a child process
//!   against `odooops sim serve`, converging an empty cloud and then a no-op resync.
//!
//! Run: `cargo bench --bench controller` (without `--bench` it only checks that the generated
//! SSOT trees validate).

use odooops::controller::{self, Options};
use odooops::sim::{self, faults::FaultConfig};
use odooops::ssot::{self, Limits};
use odooops::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An SSOT tree of `n` projects, each with one production environment on DigitalOcean
/// (droplet, firewall, A record, managed database and user).
fn generate(dir: &Path, n: usize) {
    std::fs::write(
        dir.join("secrets.yaml"),
        "apiVersion: odooops.dev/v1alpha1\nkind: SecretRegistry\nmetadata:\n  name: bench-secrets\nspec:\n  keys:\n    - name: DIGITALOCEAN_TOKEN\n      source: env\n    - name: DB_PASSWORD\n      source: env\n    - name: SMTP_PASSWORD\n      source: env\n",
    )
    .expect("write secrets");
    let clusters: String = (0..8)
        .map(|c| format!("---\napiVersion: odooops.dev/v1alpha1\nkind: DatabaseCluster\nmetadata:\n  name: bench-pg-{c}\nspec:\n  region: fra1\n  size: db-s-2vcpu-4gb\n"))
        .collect();
    std::fs::write(dir.join("clusters.yaml"), clusters).expect("write clusters");
    for i in 0..n {
        std::fs::write(dir.join(format!("p{i:05}.yaml")), project(i, "s-1vcpu-2gb"))
            .expect("write project");
    }
}

fn project(i: usize, size: &str) -> String {
    format!(
        "apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: p{i:05}
spec:
  odoo:
    series: \"17.0\"
  repository:
    url: https://git.example.com/bench/p{i:05}.git
    productionBranch: main
  providers:
    digitalocean:
      tokenSecret: DIGITALOCEAN_TOKEN
  defaultRegion: fra1
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: p{i:05}-prod
spec:
  project: p{i:05}
  stage: production
  branch: main
  maturity: beta
  host:
    size: {size}
  database:
    provider: digitalocean
    name: p{i:05}_prod
    cluster: bench-pg-{c}
    user: odoo
    passwordSecret: DB_PASSWORD
  domain:
    zone: bench.example
    record: p{i:05}
  mail:
    mode: smtp
    host: smtp.example.com
    port: 465
    encryption: ssl
    passwordSecret: SMTP_PASSWORD
",
        c = i % 8
    )
}

fn validate(dir: &Path, n: usize) {
    let report = ssot::load(dir, &Limits::default());
    assert!(
        report.is_valid(),
        "generated SSOT is invalid: {:?}",
        report
            .diagnostics
            .first()
            .map(|d| d.render(report.source(&d.file)))
    );
    let ssot = report.into_ssot().expect("ssot");
    assert_eq!(ssot.environments().count(), n);
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn watch_path(n: usize, rounds: usize) {
    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let tree = tempfile::tempdir().expect("tempdir");
    generate(tree.path(), n);
    let data = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite:{}", data.path().join("ops.db").display());
    let mut opts = Options::new(tree.path().to_path_buf(), data.path().to_path_buf());
    opts.database_url = Some(db.clone());
    opts.sim = Some(sim.url());
    opts.listen = "127.0.0.1:0".into();
    opts.resync = Duration::from_secs(3600);
    let (tx, rx) = tokio::sync::watch::channel(false);
    // The controller's future is not `Send` across every lifetime `tokio::spawn` asks for,
    // so it runs beside the measuring future in this task.
    let driver = async {
        let store = Store::open(Some(&db), data.path()).await.expect("store");
        let t = Instant::now();
        while sim::lock(&sim.state.digitalocean).droplets.len() < n {
            assert!(t.elapsed() < Duration::from_secs(300), "did not converge");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Let the first apply finish.
        loop {
            let runs = store.recent_runs(1).await.expect("runs");
            if runs.first().is_some_and(|r| r.finished_at.is_some()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut samples = Vec::new();
        for round in 0..rounds {
            let size = if round % 2 == 0 {
                "s-2vcpu-4gb"
            } else {
                "s-1vcpu-2gb"
            };
            let i = round / 2;
            let saved = odooops::store::now();
            let t0 = Instant::now();
            std::fs::write(tree.path().join(format!("p{i:05}.yaml")), project(i, size))
                .expect("save");
            loop {
                let runs = store.recent_runs(10).await.expect("runs");
                let done = runs.iter().any(|r| {
                    r.kind == "plan"
                        && r.trigger == "watch"
                        && r.started_at >= saved
                        && r.finished_at.is_some()
                });
                if done {
                    samples.push(t0.elapsed());
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "no plan after the save"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Let the apply of that change finish before the next save.
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let _ = tx.send(true);
        samples
    };
    let (ran, mut samples) = tokio::join!(controller::run(opts, rx), driver);
    ran.expect("controller");
    samples.sort();
    println!(
        "watch path, {n} environments, debounce 250 ms: SSOT save → plan evidence committed: p50 {:.0} ms, max {:.0} ms over {} saves (target p50 < 1 s)",
        pct(&samples, 0.5),
        pct(&samples, 1.0),
        samples.len()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Peak RSS (VmHWM, KiB) of a child process, sampled until it exits. Its log goes to
/// `log` (a pipe nobody drains would block the child once full).
fn run_and_peak(mut cmd: Command, log: &Path) -> (u64, Duration, bool) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return (peak, t.elapsed(), status.success());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A simulator control endpoint's JSON.
fn sim_get(port: u16, path: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}{path}")])
        .output();
    let body = out.map(|o| o.stdout).unwrap_or_default();
    serde_json::from_slice(&body).unwrap_or_default()
}

/// Requests the simulator has answered in all (its `/_sim/requests` counters).
fn sim_requests(port: u16) -> String {
    let v = sim_get(port, "/_sim/requests");
    match v.as_object() {
        Some(counts) => counts
            .values()
            .filter_map(serde_json::Value::as_u64)
            .sum::<u64>()
            .to_string(),
        None => "unknown".into(),
    }
}

fn rss(n: usize) {
    let exe = env!("CARGO_BIN_EXE_odooops");
    let port = free_port();
    let mut sim = Command::new(exe)
        .args(["sim", "serve", "--listen", &format!("127.0.0.1:{port}")])
        // Converging 5,000 environments needs more than DigitalOcean's 5,000 requests/hour.
        .args(["--do-hourly-limit", "1000000000"])
        // Strict and asynchronous (creates and actions complete later), at 200 ms a step
        // rather than the real APIs' pace.
        .args(["--delay-ms", "200"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim");
    std::thread::sleep(Duration::from_millis(500));
    let tree = tempfile::tempdir().expect("tempdir");
    generate(tree.path(), n);
    let data = tempfile::tempdir().expect("tempdir");
    // `ODOOOPS_BENCH_HEAPTRACK=converge|noop|resync:FILE`: that run under heaptrack (a
    // profile only: its RSS figure then includes heaptrack's own).
    let heaptrack = std::env::var("ODOOOPS_BENCH_HEAPTRACK").ok();
    let once = |batch: usize, run: &str| {
        let mut c = match heaptrack.as_deref().and_then(|h| h.split_once(':')) {
            Some((which, out)) if which == run => {
                let mut c = Command::new("heaptrack");
                c.args(["-o", out, exe]);
                c
            }
            _ => Command::new(exe),
        };
        c.arg("--ssot")
            .arg(tree.path())
            .args(["--sim", &format!("http://127.0.0.1:{port}"), "--data-dir"])
            .arg(data.path())
            .args(["run", "--once", "--listen", "127.0.0.1:0"])
            .args(["--batch", &batch.to_string()])
            // Each environment waits for its droplet: apply 16 at a time.
            .args(["--parallelism", "16"])
            .env("RUST_LOG", "warn");
        c
    };
    let logs = [
        data.path().join("converge.log"),
        data.path().join("noop.log"),
        data.path().join("resync.log"),
    ];
    // The first rollout, in the default batches of 500 environments.
    let (converge_kb, converge_t, ok1) = run_and_peak(once(500, "converge"), &logs[0]);
    // A restart: every environment is re-checked, again in batches.
    let (noop_kb, noop_t, ok2) = run_and_peak(once(500, "noop"), &logs[1]);
    // A settled controller's resync: the whole fleet in one cycle.
    let (resync_kb, resync_t, ok3) = run_and_peak(once(n, "resync"), &logs[2]);
    let requests = sim_requests(port);
    let state = sim_get(port, "/_sim/state");
    let count = |kind: &str| {
        state["digitalocean"][kind]
            .as_array()
            .map_or(0, |a| a.len())
    };
    let (droplets, firewalls) = (count("droplets"), count("firewalls"));
    let _ = sim.kill();
    let _ = sim.wait();
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let transport: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains("error sending request"))
            .collect();
        println!(
            "{}: {} log lines ({} with a transport error); last: {}",
            log.display(),
            lines.len(),
            transport.len(),
            lines.last().unwrap_or(&"")
        );
        if let Some(first) = transport.first() {
            println!("    first transport error: {first}");
        }
    }
    assert!(ok1 && ok2 && ok3, "odooops run --once failed");
    assert_eq!(
        (droplets, firewalls),
        (n, n),
        "one droplet and one firewall per environment"
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "controller peak RSS, {n} environments (target < 100 MB):\n  converge an empty cloud, batches of 500: {:.1} MB ({:.1} s)\n  restart, no-op in batches of 500: {:.1} MB ({:.1} s)\n  settled resync, all {n} in one cycle: {:.1} MB ({:.1} s)\n  simulator requests over the three runs: {requests}; simulator holds {droplets} droplets and {firewalls} firewalls",
        mb(converge_kb),
        converge_t.as_secs_f64(),
        mb(noop_kb),
        noop_t.as_secs_f64(),
        mb(resync_kb),
        resync_t.as_secs_f64(),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        let dir = tempfile::tempdir().expect("tempdir");
        generate(dir.path(), 5);
        validate(dir.path(), 5);
        println!("controller benchmark: run it with `cargo bench --bench controller`");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    generate(dir.path(), 50);
    validate(dir.path(), 50);
    // ODOOOPS_BENCH_ONLY=rss|watch runs one part; ODOOOPS_BENCH_ENVS sets the RSS scale.
    let only = std::env::var("ODOOOPS_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "watch" {
        watch_path(200, 20).await;
    }
    if only.is_empty() || only == "rss" {
        let n = std::env::var("ODOOOPS_BENCH_ENVS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000);
        tokio::task::spawn_blocking(move || rss(n))
            .await
            .expect("rss");
    }
}
