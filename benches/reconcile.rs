//! Reconcile engine figures at agency scale, against the in-process simulator:
//! 1. no-op resync of 1,000 environments: provider requests by route, and the CPU time of the
//!    process (getrusage-equivalent user+sys from /proc/self/stat) around one no-op plan;
//! 2. the same plan with the simulator adding 50 ms to every request: wall time;
//! 3. with every environment delivering Odoo (releases observed): the no-op plan's wall and
//!    CPU time, `git` processes and SSH sessions (a counting `ssh` first on PATH: goal 0).
//!
//! Run: `cargo bench --bench reconcile` (without `--bench` it runs a 30-environment smoke).

use odooops::provider::digitalocean::{DigitalOcean, Poll};
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics};
use odooops::provider::{Provider, SecretValue};
use odooops::reconcile::engine::{Context, Engine};
use odooops::sim::{self, faults::FaultConfig, lock};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::Store;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REGISTRY: &str = r#"apiVersion: odooops.dev/v1alpha1
kind: SecretRegistry
metadata:
  name: bench-secrets
spec:
  keys:
    - name: DIGITALOCEAN_TOKEN
      source: env
      requiredBy: [controller]
    - name: BENCH_DB_PASSWORD
      source: env
      requiredBy: [odoo]
    - name: BENCH_SMTP_PASSWORD
      source: env
      requiredBy: [odoo]
"#;

/// One client: a project with production (with a DNS record), staging and development, all
/// reconciled automatically, databases on one of four shared clusters.
fn client(i: usize) -> String {
    let name = format!("client-{i:04}");
    let db = name.replace('-', "_");
    let cluster = format!("bench-pg-{}", i % 4);
    let env = |stage: &str, suffix: &str, size: &str, extra: &str| {
        format!(
            r#"---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: {name}-{suffix}
spec:
  project: {name}
  stage: {stage}
  branch: {suffix}
  maturity: beta
  host:
    size: {size}
    tags: [bench]
  database:
    provider: digitalocean
    name: {db}_{suffix}
    cluster: {cluster}
    user: odoo
    passwordSecret: BENCH_DB_PASSWORD
{extra}"#
        )
    };
    let mut out = format!(
        r#"apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: {name}
spec:
  odoo:
    series: "17.0"
  repository:
    url: https://git.example.com/bench/{name}.git
    productionBranch: main
    addonsPaths: [addons]
  providers:
    digitalocean:
      tokenSecret: DIGITALOCEAN_TOKEN
  defaultRegion: fra1
"#
    );
    out.push_str(&env(
        "production",
        "production",
        "s-2vcpu-4gb",
        &format!("  domain:\n    zone: bench-hosting.example\n    record: {name}\n  mail:\n    mode: smtp\n    host: smtp.bench.example\n    port: 587\n    encryption: starttls\n    passwordSecret: BENCH_SMTP_PASSWORD\n"),
    ));
    out.push_str(&env(
        "staging",
        "staging",
        "s-1vcpu-2gb",
        &format!("  mail:\n    mode: catcher\n  stagingSource:\n    fromEnvironment: {name}-production\n    neutralize: true\n  reconcile:\n    prune: true\n"),
    ));
    out.push_str(&env(
        "development",
        "dev",
        "s-1vcpu-1gb",
        "  mail:\n    mode: catcher\n  reconcile:\n    prune: true\n",
    ));
    out
}

/// The four shared database clusters the environments use.
fn clusters() -> String {
    (0..4)
        .map(|c| format!("---\napiVersion: odooops.dev/v1alpha1\nkind: DatabaseCluster\nmetadata:\n  name: bench-pg-{c}\nspec:\n  region: fra1\n  size: db-s-2vcpu-4gb\n"))
        .collect()
}

/// An SSOT of `envs` environments (a multiple of 3) in `dir`.
fn generate(dir: &Path, envs: usize) -> Ssot {
    generate_with(dir, envs, None)
}

/// Where releases come from when the environments deliver Odoo.
struct Delivery<'a> {
    repo: &'a Path,
    odoo: &'a Path,
}

/// `client(i)` with every environment delivering Odoo over SSH (never reached by a plan).
fn delivering(i: usize, d: &Delivery) -> String {
    let text = client(i);
    let source = format!(
        "  odoo:\n    series: \"17.0\"\n    source:\n      path: {}\n      revision: bench\n",
        d.odoo.display()
    );
    let delivery = "  delivery:\n    transport: ssh\n    user: odooops\n    sshKeySecret: BENCH_DEPLOY_KEY\n    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBENCHbenchBENCHbenchBENCHbenchBENCHbench\n    address: 127.0.0.1\n";
    text.replacen("  odoo:\n    series: \"17.0\"\n", &source, 1)
        .replace(
            &format!("url: https://git.example.com/bench/client-{i:04}.git"),
            &format!("url: {}", d.repo.display()),
        )
        .replace(
            "    passwordSecret: BENCH_DB_PASSWORD\n",
            &format!("    passwordSecret: BENCH_DB_PASSWORD\n{delivery}"),
        )
}

fn generate_with(dir: &Path, envs: usize, delivery: Option<&Delivery>) -> Ssot {
    let registry = if delivery.is_some() {
        format!(
            "{REGISTRY}    - name: BENCH_DEPLOY_KEY\n      source: env\n      requiredBy: [odoo]\n"
        )
    } else {
        REGISTRY.to_string()
    };
    std::fs::write(dir.join("registry.yaml"), registry).expect("write");
    std::fs::write(dir.join("clusters.yaml"), clusters()).expect("write");
    for i in 0..envs / 3 {
        let text = match delivery {
            Some(d) => delivering(i, d),
            None => client(i),
        };
        std::fs::write(dir.join(format!("client-{i:04}.yaml")), text).expect("write");
    }
    let report = ssot::load(dir, &Limits::default());
    if !report.is_valid() {
        let mut msg = String::new();
        for d in report.diagnostics.iter().take(5) {
            let _ = writeln!(msg, "{}:{} {}", d.file, d.line, d.message);
        }
        panic!("generated SSOT is invalid:\n{msg}");
    }
    report.into_ssot().expect("ssot")
}

/// User + system CPU time of this process so far (/proc/self/stat, clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after the `)`.
    let t = ticks(11) + ticks(12);
    Duration::from_millis(t * 10)
}

fn requests(sim: &sim::Running) -> BTreeMap<String, u64> {
    lock(&sim.state.requests).clone()
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let envs: usize = if full { 1000 } else { 30 };
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("ssot");
    std::fs::create_dir_all(&tree).expect("mkdir");
    let t = Instant::now();
    let ssot = generate(&tree, envs.div_ceil(3) * 3);
    let envs = ssot.environments().count();
    println!(
        "generated and loaded an SSOT of {envs} environments in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let sim = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    // Converging 1,000 environments takes more than DigitalOcean's 5,000 requests an hour
    // (the client would wait for the reset): raise the simulated budget.
    lock(&sim.state.digitalocean).hourly_limit = Some(10_000_000);
    let store = Store::open(
        Some(&format!("sqlite:{}", dir.path().join("ops.db").display())),
        dir.path(),
    )
    .await
    .expect("store");
    let mut cfg = ClientConfig::new(
        Provider::Digitalocean,
        &sim.provider_url(Provider::Digitalocean),
        Auth::Bearer(SecretValue::new("test-token-bench")),
    );
    cfg.rates = vec![]; // measure the engine, not the client-side limiter
    cfg.timeout = Duration::from_secs(60);
    let metrics = Arc::new(Metrics::default());
    // The simulator is local: asynchronous work is polled from 50 ms.
    let engine = Engine::new(
        store,
        DigitalOcean::new(HttpClient::new(cfg, metrics).expect("client")).with_poll(Poll::quick()),
    );
    let ctx = Context::default();

    // Converge once.
    let t = Instant::now();
    let first = engine.plan(&ssot, &ctx).await.expect("plan");
    let objects = first.plan.summary.create;
    let applied = match engine.apply(&ssot, first.plan_id, &ctx).await {
        Ok(a) => a,
        Err(e) => {
            let events = engine
                .store
                .events(&odooops::store::EventFilter {
                    min_level: Some(odooops::store::Level::Error),
                    ..Default::default()
                })
                .await
                .unwrap_or_default();
            for ev in events.iter().take(5) {
                eprintln!("{}", ev.message);
            }
            panic!("apply: {e}");
        }
    };
    println!(
        "converged {objects} objects ({} created, {} adopted) in {:.1} s",
        applied.succeeded,
        applied.adopted,
        t.elapsed().as_secs_f64()
    );

    // 1. One no-op plan: requests by route and CPU time.
    let before = requests(&sim);
    let cpu0 = cpu_time();
    let t = Instant::now();
    let noop = engine.plan(&ssot, &ctx).await.expect("plan");
    let wall = t.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    assert!(
        !noop.plan.has_changes(),
        "not converged:\n{}",
        noop.text.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let by_route = delta(&requests(&sim), &before);
    let total: u64 = by_route.values().sum();
    let compared = noop.plan.summary.no_op;
    println!(
        "no-op plan of {envs} environments ({compared} objects compared): {total} provider requests, wall {:.3} s, process CPU (user+sys) {:.2} s",
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
    for (route, n) in &by_route {
        println!("    {n:>5}  {route}");
    }
    println!(
        "    one GET per object would be {compared} requests: {:.0}x fewer",
        compared as f64 / total.max(1) as f64
    );

    // 2. The same plan with 50 ms added to every request.
    *lock(&sim.state.faults) =
        odooops::sim::faults::Faults::new(FaultConfig::parse("latency_ms=50").expect("faults"));
    let t = Instant::now();
    let slow = engine.plan(&ssot, &ctx).await.expect("plan");
    let wall = t.elapsed();
    assert!(!slow.plan.has_changes());
    println!(
        "plan of {envs} environments with 50 ms per request: wall {:.2} s",
        wall.as_secs_f64()
    );
    *lock(&sim.state.faults) = odooops::sim::faults::Faults::new(FaultConfig::default());

    // 3. Every environment delivers Odoo: releases are observed too.
    releases(&dir, engine, &sim, envs).await;
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

async fn releases(dir: &tempfile::TempDir, engine: Engine, sim: &sim::Running, envs: usize) {
    // One code repository (every project uses it) with an addon, its three branches; a
    // stand-in for Odoo's source (planning reads only its requirements).
    let repo = dir.path().join("code");
    std::fs::create_dir_all(repo.join("addons/bench_addon")).expect("mkdir");
    std::fs::write(
        repo.join("addons/bench_addon/__manifest__.py"),
        "{\"name\": \"bench\", \"version\": \"17.0.1.0.0\", \"depends\": [\"base\"]}\n",
    )
    .expect("manifest");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "bench"]);
    git(&repo, &["branch", "staging"]);
    git(&repo, &["branch", "dev"]);
    git(&repo, &["branch", "production"]);
    let odoo = dir.path().join("odoo-src");
    std::fs::create_dir_all(&odoo).expect("mkdir");
    std::fs::write(odoo.join("odoo-bin"), "#!/usr/bin/env python3\n").expect("odoo-bin");
    std::fs::write(odoo.join("requirements.txt"), "psycopg2\n").expect("requirements");
    // Any `ssh` this process starts is counted (and fails): a no-op plan must start none.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let count = dir.path().join("ssh-sessions");
    std::fs::write(
        bin.join("ssh"),
        format!("#!/bin/sh\necho \"$*\" >> {}\nexit 255\n", count.display()),
    )
    .expect("ssh");
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(bin.join("ssh"))
        .status()
        .expect("chmod");
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.display()));

    let tree = dir.path().join("ssot-releases");
    std::fs::create_dir_all(&tree).expect("mkdir");
    let ssot = generate_with(
        &tree,
        envs.div_ceil(3) * 3,
        Some(&Delivery {
            repo: &repo,
            odoo: &odoo,
        }),
    );
    let mut engine = engine.with_delivery(&dir.path().join("data"));
    engine.secrets = Arc::new(
        odooops::provider::StaticSecrets::default()
            .with("BENCH_DB_PASSWORD", "test-password-bench")
            .with("BENCH_SMTP_PASSWORD", "test-password-bench")
            .with("BENCH_DEPLOY_KEY", "test-key-bench"),
    );
    let ctx = Context::default();
    // The first plan wants every release; record them as deployed (what apply would do).
    let t = Instant::now();
    let first = engine.plan(&ssot, &ctx).await.expect("plan");
    let wanted: Vec<_> = first
        .plan
        .actions
        .iter()
        .filter(|a| a.diff.key.kind.as_str() == "release")
        .collect();
    println!(
        "first plan with releases: {} releases to deploy, wall {:.2} s (mirror created, module states read)",
        wanted.len(),
        t.elapsed().as_secs_f64()
    );
    let missing: Vec<String> = ssot
        .environments()
        .map(|e| e.metadata.name.clone())
        .filter(|n| !wanted.iter().any(|a| &a.diff.key.env == n))
        .take(3)
        .collect();
    let notes: Vec<String> = first
        .plan
        .detected_only
        .iter()
        .filter(|d| d.key.kind.as_str() == "release")
        .take(3)
        .map(|d| format!("{}: {:?}", d.key.env, d.note))
        .collect();
    assert_eq!(
        wanted.len(),
        envs,
        "releases not wanted for {missing:?}; held: {notes:?}"
    );
    for a in wanted {
        let v = a.diff.after.clone().expect("desired");
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let r = engine
            .store
            .begin_release(&odooops::store::NewRelease {
                environment: a.diff.key.env.clone(),
                commit_sha: s("commit"),
                odoo_revision: s("odoo"),
                config_digest: s("config"),
                requirements_digest: Some(s("requirements")),
                secrets_digest: Some(s("secrets")),
                modules_installed: vec!["bench_addon".into()],
                trigger: "cli".into(),
                actor: "bench".into(),
                ..Default::default()
            })
            .await
            .expect("release");
        engine
            .store
            .finish_release(
                r.id,
                &odooops::store::ReleaseEnd {
                    status: "healthy".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("finish");
    }
    let before = requests(sim);
    let cpu0 = cpu_time();
    let t = Instant::now();
    let noop = engine.plan(&ssot, &ctx).await.expect("plan");
    let wall = t.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    assert!(
        !noop.plan.has_changes(),
        "not converged:\n{}",
        noop.text.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let total: u64 = delta(&requests(sim), &before).values().sum();
    let ssh = std::fs::read_to_string(&count)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    println!(
        "no-op plan of {envs} environments delivering Odoo ({} objects compared, {envs} releases): {total} provider requests, {ssh} SSH sessions, wall {:.3} s, process CPU (user+sys) {:.2} s",
        noop.plan.summary.no_op,
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
    assert_eq!(ssh, 0, "a no-op plan opened SSH sessions");
    engine.store.close().await;
}
