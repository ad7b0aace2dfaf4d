//! Console load benchmark: `cargo bench --bench console`.
//!
//! Per backend (SQLite always; PostgreSQL when ODOOOPS_BENCH_DATABASE_URL or
//! ODOOOPS_TEST_DATABASE_URL names a server — a database `odooops_bench_console_<uuid>` is
//! created and dropped): seed 100,000 evidence rows across the 183 environments of
//! `examples/agency` (runs, plans, ledger actions, diffs, events, drift findings with 10% open,
//! gate runs and results, backups, queue jobs), start the console in-process on loopback and
//! drive `/api/drift`, `/environments` and the page of one environment with a release
//! history of 1,000 deploys (`/environments/<name>`) open-loop at a constant 200 requests/s for 20 s
//! each. Requests leave on a fixed timeline whatever the answers do; a request's latency runs
//! from its scheduled time to the end of its answer's body, so a stall is charged to every
//! request queued behind it (no coordinated omission). Reports p50/p99/max per route.
//!
//! `ODOOOPS_BENCH_BACKEND=sqlite|postgres` runs one backend only; `ODOOOPS_BENCH_ROUTES`
//! (comma-separated, e.g. `/environments,env`; `env` is the environment page) drives only
//! those routes.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) a smoke run: 2,000 rows, SQLite,
//! 1 s per route at 50 requests/s.

use odooops::console::{self, auth::Auth, Config};
use odooops::ssot::{self, Limits, Ssot};
#[path = "support/pg.rs"]
mod pg;

use odooops::store::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Scale {
    rows: usize,
    rate: u32,
    seconds: u64,
}

const FULL: Scale = Scale {
    rows: 100_000,
    rate: 200,
    seconds: 20,
};
const SMOKE: Scale = Scale {
    rows: 2_000,
    rate: 50,
    seconds: 1,
};

fn agency() -> Ssot {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/agency");
    ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("examples/agency is valid")
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Seed `total` rows: the mix is 2% runs, 2% plans, 8% ledger actions, 10% diffs, 45% events,
/// 30% drift findings (one in ten left open), 2.5% gate results, 0.5% backups/queue jobs.
async fn seed(store: &Store, envs: &[String], total: usize) -> usize {
    let share = |p: f64| ((total as f64) * p).round() as usize;
    let mut n = 0;
    let env = |i: usize| envs[i % envs.len()].clone();
    let base = now() - chrono::Duration::days(7);
    let mut runs = Vec::new();
    for i in 0..share(0.02) {
        let r = store
            .begin_run(&NewRun {
                kind: if i % 3 == 0 {
                    RunKind::Apply
                } else {
                    RunKind::Plan
                },
                trigger: Trigger::Watch,
                ssot_revision: format!("sha256:{i:08x}"),
                actor: "bench".into(),
                environment: Some(env(i)),
                correlation_id: None,
            })
            .await
            .expect("run");
        let status = if i % 17 == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        store
            .finish_run(r.id, status, &json!({"changes": i % 5}))
            .await
            .expect("finish run");
        runs.push(r.id);
        n += 1;
    }
    let mut plans = Vec::new();
    for i in 0..share(0.02) {
        let p = store
            .save_plan(NewPlan {
                run_id: runs[i % runs.len()],
                ssot_revision: format!("sha256:{i:08x}"),
                live_fingerprint: format!("fp-{i}"),
                plan: json!({"actions": [{"op": "update", "resource": format!("droplet/{}", env(i))}]})
                    .to_string(),
                rendered: format!("~ update droplet {} <size>\n", env(i)),
            })
            .await
            .expect("plan");
        plans.push(p.id);
        n += 1;
    }
    for i in 0..share(0.08) {
        store
            .ledger_insert(&NewAction {
                dedupe_key: format!("droplet/{}:update:{i}", env(i)),
                plan_id: Some(plans[i % plans.len()]),
                run_id: Some(runs[i % runs.len()]),
                resource_kind: "droplet".into(),
                resource_name: env(i),
                operation: "update".into(),
                request_summary: Some(json!({"size": "s-2vcpu-4gb"})),
                resource_key: None,
            })
            .await
            .expect("action");
        n += 1;
    }
    let diffs: Vec<NewDiff> = (0..share(0.10))
        .map(|i| NewDiff {
            run_id: runs[i % runs.len()],
            environment: Some(env(i)),
            resource_kind: "droplet".into(),
            resource_name: env(i),
            before: Some(json!({"size": "s-1vcpu-2gb"})),
            after: Some(json!({"size": "s-2vcpu-4gb"})),
            changes: json!([{"path": "size", "from": "s-1vcpu-2gb", "to": "s-2vcpu-4gb"}]),
            unified: "-size: s-1vcpu-2gb\n+size: s-2vcpu-4gb\n".into(),
        })
        .collect();
    for chunk in diffs.chunks(1_000) {
        n += store.insert_diffs(chunk).await.expect("diffs") as usize;
    }
    let events: Vec<NewEvent> = (0..share(0.45))
        .map(|i| {
            let mut e = NewEvent::new(
                Level::ALL[i % 5],
                "reconcile",
                format!("observed droplet {}", env(i)),
            );
            e.ts = base + chrono::Duration::seconds(i as i64);
            e.environment = Some(env(i));
            e.run_id = Some(runs[i % runs.len()]);
            e.correlation_id = Some(format!("corr-{}", i / 50));
            e.fields = json!({"attempt": 1});
            e
        })
        .collect();
    for chunk in events.chunks(1_000) {
        n += store.append_events(chunk).await.expect("events") as usize;
    }
    // Drift: per environment, resources × fields; all but every tenth resource resolved.
    let drift = share(0.30);
    let obs: Vec<DriftObservation> = (0..drift)
        .map(|i| DriftObservation {
            environment: env(i),
            resource_kind: "droplet".into(),
            resource_name: format!("res-{}", (i / envs.len()) / 10),
            field_path: format!("spec.field{}", (i / envs.len()) % 10),
            desired: Some(json!(2)),
            observed: Some(json!(1)),
            run_id: Some(runs[i % runs.len()]),
        })
        .collect();
    for chunk in obs.chunks(5_000) {
        store.upsert_drift(chunk).await.expect("drift");
    }
    n += drift;
    let resources = drift / envs.len() / 10 + 1;
    for e in envs {
        for r in (0..resources).filter(|r| r % 10 != 0) {
            store
                .resolve_drift(e, "droplet", &format!("res-{r}"), None, "bench")
                .await
                .expect("resolve");
        }
    }
    let gates = share(0.025);
    let mut gate_run = None;
    for i in 0..gates {
        if i % 5 == 0 {
            gate_run = Some(
                store
                    .begin_gate_run(Some(runs[i % runs.len()]), &env(i))
                    .await
                    .expect("gate run")
                    .id,
            );
        }
        store
            .record_gate_result(&NewGateResult {
                gate_run_id: gate_run.expect("gate run"),
                gate: [
                    "db-object-count",
                    "cron-timeout",
                    "module-allowlist",
                    "smtp",
                    "limits",
                ][i % 5]
                    .into(),
                environment: env(i),
                outcome: if i % 11 == 0 {
                    GateOutcome::Fail
                } else {
                    GateOutcome::Pass
                },
                measured: Some(json!(i % 1000)),
                threshold: Some(json!(10_000)),
                evidence_sha256: None,
                message: "bench".into(),
            })
            .await
            .expect("gate result");
        n += 1;
    }
    for i in 0..share(0.0025) {
        store
            .record_backup(&NewBackup {
                job_id: None,
                environment: env(i),
                kind: "database".into(),
                size_bytes: 1_000_000 + i as i64,
                sha256: format!("{i:064x}"),
                location: "s3://bench/backups".into(),
                retention_class: "daily".into(),
                expires_at: None,
            })
            .await
            .expect("backup");
        n += 1;
    }
    for i in 0..share(0.0025) {
        store
            .enqueue(
                "reconcile",
                &format!("bench-{i}"),
                &json!({"action": "plan", "environment": env(i)}),
                None,
            )
            .await
            .expect("enqueue");
        n += 1;
    }
    // The full run seeds the 1,000-deploy history; the smoke run a tenth of it.
    let releases = if total >= FULL.rows {
        RELEASES
    } else {
        RELEASES / 10
    };
    n += seed_releases(store, &envs[0], releases).await;
    store.analyze().await.expect("analyze");
    n
}

/// Deploys in the release history of the environment whose page is measured.
const RELEASES: usize = 1_000;

/// `count` finished releases of `env` (every tenth failed), each with its log artifact
/// reference and modules, oldest first.
async fn seed_releases(store: &Store, env: &str, count: usize) -> usize {
    let mut previous = None;
    for i in 0..count {
        let r = store
            .begin_release(&NewRelease {
                environment: env.to_string(),
                run_id: None,
                commit_sha: format!("{i:040x}"),
                odoo_revision: "17.0@0123456789abcdef".into(),
                config_digest: format!("sha256:{i:x}"),
                modules_installed: vec!["base".into(), "web".into(), "acme_sale".into()],
                modules_updated: vec!["acme_sale".into()],
                trigger: "watch".into(),
                actor: "bench".into(),
                previous_release_id: previous,
                ..Default::default()
            })
            .await
            .expect("release");
        let status = if i % 10 == 9 {
            RELEASE_FAILED
        } else {
            RELEASE_HEALTHY
        };
        store
            .finish_release(
                r.id,
                &ReleaseEnd {
                    status: status.into(),
                    log_sha256: Some(format!("{i:064x}")),
                    url: Some(format!("https://{env}.example.test")),
                    ..Default::default()
                },
            )
            .await
            .expect("finish release");
        if status == RELEASE_HEALTHY {
            store
                .supersede_releases(env, r.id)
                .await
                .expect("supersede");
            previous = Some(r.id);
        }
    }
    count
}

/// Open-loop load: `rate` requests/s for `seconds` to `url`; returns sorted latencies from
/// each request's scheduled start, and the count of non-200 answers.
async fn drive(
    http: &reqwest::Client,
    url: &str,
    rate: u32,
    seconds: u64,
) -> (Vec<Duration>, usize) {
    let total = rate as u64 * seconds;
    let interval = Duration::from_secs(1) / rate;
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let at = start + interval * i as u32;
        tokio::time::sleep_until(at).await;
        let http = http.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let ok = match http.get(&url).send().await {
                Ok(r) => {
                    let status = r.status();
                    r.bytes().await.is_ok() && status == reqwest::StatusCode::OK
                }
                Err(_) => false,
            };
            (at.elapsed(), ok)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    let mut bad = 0;
    for t in tasks {
        let (d, ok) = t.await.expect("request task");
        lat.push(d);
        if !ok {
            bad += 1;
        }
    }
    lat.sort();
    (lat, bad)
}

async fn bench(store: Store, ssot: &Ssot, scale: &Scale) {
    let envs: Vec<String> = ssot
        .environments()
        .map(|e| e.metadata.name.clone())
        .collect();
    let t = Instant::now();
    let rows = seed(&store, &envs, scale.rows).await;
    let open: i64 = store
        .open_drift_by_env()
        .await
        .expect("counts")
        .iter()
        .map(|c| c.open)
        .sum();
    println!(
        "  seeded {rows} rows across {} environments in {:.1} s ({open} open drift findings)",
        envs.len(),
        t.elapsed().as_secs_f64()
    );
    // Where a request's time goes: each store query the two routes make, run alone.
    let n = if scale.rows >= FULL.rows { 200 } else { 20 };
    macro_rules! alone {
        ($label:expr, $call:expr) => {{
            let mut s = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                $call.await.expect($label);
                s.push(t.elapsed());
            }
            s.sort();
            println!(
                "    query {:<34} p50 {:>6.2} ms   p99 {:>6.2} ms",
                $label,
                pct(&s, 0.5),
                pct(&s, 0.99)
            );
        }};
    }
    alone!("open drift per environment", store.open_drift_by_env());
    alone!("open drift per field", store.open_drift_by_field(None));
    alone!("200 newest open findings", store.open_drift(None, 200));
    alone!("last run per environment", store.last_run_per_environment());
    alone!("20 recent runs", store.recent_runs(20));
    // And the environment page's.
    let e0 = envs[0].as_str();
    let since = now() - chrono::Duration::days(30);
    alone!("env: open drift count", store.open_drift_count(e0));
    alone!("env: 50 newest releases", store.releases(Some(e0), 50));
    alone!("env: 200 deploy timings", store.release_timings(e0, 200));
    alone!("env: release count", store.release_count(e0));
    alone!("env: managed objects", store.managed_in(e0));
    alone!("env: inventory", store.inventory_in(e0));
    alone!("env: 200 open findings", store.open_drift(Some(e0), 200));
    alone!(
        "env: 30 days of drift spans",
        store.drift_spans(Some(e0), since, 20_000)
    );
    alone!("env: 50 backups", store.backups(Some(e0), 50));
    alone!("env: 20 gate results", store.gate_results_in(e0, 20));
    alone!("env: 20 jobs", store.jobs_in(e0, 20));
    alone!("env: 20 runs", store.runs_in(e0, 20));
    alone!("env: serving releases", store.serving_releases());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let mut auth = Auth::default();
    auth.public_read = true;
    let cfg = Config {
        ssot: Some(ssot.clone()),
        auth,
        listen: addr.to_string(),
        ..Config::default()
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, console::router(store, cfg)).await;
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let env_page = format!("/environments/{}", envs[0]);
    let only = std::env::var("ODOOOPS_BENCH_ROUTES").ok();
    for route in ["/api/drift", "/environments", env_page.as_str()] {
        if only.as_deref().is_some_and(|o| {
            !o.split(',')
                .any(|r| r == route || (r == "env" && route == env_page))
        }) {
            continue;
        }
        let url = format!("http://{addr}{route}");
        // Warm-up (connections, caches), not measured; then the service time of one request
        // at a time (closed loop).
        let _ = drive(&http, &url, scale.rate, 1).await;
        let mut alone = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = http.get(&url).send().await.expect("request");
            r.bytes().await.expect("body");
            alone.push(t.elapsed());
        }
        alone.sort();
        println!(
            "  {route:<24} one at a time: p50 {:>7.2} ms   p99 {:>7.2} ms",
            pct(&alone, 0.5),
            pct(&alone, 0.99)
        );
        let (lat, bad) = drive(&http, &url, scale.rate, scale.seconds).await;
        let size = http
            .get(&url)
            .send()
            .await
            .expect("size probe")
            .bytes()
            .await
            .map(|b| b.len())
            .unwrap_or(0);
        println!(
            "  {route:<24} {} req at {}/s: p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   non-200 {bad}   ({} KB/answer)",
            lat.len(),
            scale.rate,
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            size / 1024
        );
        assert_eq!(bad, 0, "{route}: every answer is a 200");
    }
    server.abort();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full { &FULL } else { &SMOKE };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // As `odooops serve` does (ODOOOPS_BENCH_SQLITE_PROFILE=lean measures the controller's).
    if std::env::var("ODOOOPS_BENCH_SQLITE_PROFILE").as_deref() != Ok("lean") {
        set_sqlite_profile(SqliteProfile::Reader);
    }
    rt.block_on(async {
        let ssot = Arc::new(agency());
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        let store = Store::open(Some(&url), dir.path())
            .await
            .expect("open sqlite");
        println!(
            "Console load — SQLite ({url}){}",
            if full {
                ""
            } else {
                " [smoke: run `cargo bench --bench console` for the figures]"
            }
        );
        let backend = std::env::var("ODOOOPS_BENCH_BACKEND").ok();
        if backend.as_deref() != Some("postgres") {
            bench(store.clone(), &ssot, scale).await;
        }
        store.close().await;
        if !full || backend.as_deref() == Some("sqlite") {
            return;
        }

        let Some(db) = pg::ScratchDb::create("odooops_bench_console").await else {
            return;
        };
        let url = db.url.clone();
        let store = Store::open(Some(&url), dir.path())
            .await
            .expect("open postgres");
        println!("Console load — PostgreSQL ({})", redact_url(&url));
        bench(store.clone(), &ssot, scale).await;
        store.close().await;
        db.drop().await;
    });
}
