//! Evidence-store benchmark: `cargo bench --bench store`.
//!
//! Per backend: insert 10,000 diff rows and 10,000 events in batches of 1,000 (rows/s), then
//! with 100,000 events and 100,000 drift findings present, time the console's queries
//! ("open drift per environment", "open drift list for env X", "last 50 events for env X"):
//! p50/p99 in ms. SQLite always; PostgreSQL when ODOOOPS_BENCH_DATABASE_URL or
//! ODOOOPS_TEST_DATABASE_URL names a server (a database `odooops_bench_<uuid>` is created
//! and dropped).

#[path = "support/pg.rs"]
mod pg;

use odooops::store::*;
use serde_json::json;
use std::time::{Duration, Instant};

const ENVS: usize = 10;
const BATCH: usize = 1_000;

fn env_name(i: usize) -> String {
    format!("env-{:02}", i % ENVS)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn time_query<F, Fut, T>(label: &str, iters: usize, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    for _ in 0..20 {
        f().await.expect("warm-up query");
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f().await.expect("query");
        samples.push(t.elapsed());
    }
    samples.sort();
    println!(
        "  {label:<44} p50 {:>7.3} ms   p99 {:>7.3} ms   ({iters} runs)",
        pct(&samples, 0.50),
        pct(&samples, 0.99)
    );
}

fn diffs(run_id: uuid::Uuid, n: usize) -> Vec<NewDiff> {
    (0..n)
        .map(|i| NewDiff {
            run_id,
            environment: Some(env_name(i)),
            resource_kind: "Environment".into(),
            resource_name: format!("res-{i}"),
            before: Some(json!({"spec": {"size": "s-1vcpu-2gb", "replicas": 1}})),
            after: Some(json!({"spec": {"size": "s-2vcpu-4gb", "replicas": 1}})),
            changes: json!([{"path": "spec.size", "from": "s-1vcpu-2gb", "to": "s-2vcpu-4gb"}]),
            unified: "-  size: s-1vcpu-2gb\n+  size: s-2vcpu-4gb\n".into(),
        })
        .collect()
}

fn events(start: usize, n: usize) -> Vec<NewEvent> {
    let base = now() - chrono::Duration::hours(1);
    (start..start + n)
        .map(|i| {
            let mut e = NewEvent::new(
                Level::ALL[(i / ENVS) % 5],
                "reconcile",
                format!("observed resource res-{i}"),
            );
            e.ts = base + chrono::Duration::milliseconds(i as i64);
            e.environment = Some(env_name(i));
            e.correlation_id = Some(format!("corr-{}", i / 100));
            e.fields = json!({"resource": format!("res-{i}"), "attempt": 1});
            e
        })
        .collect()
}

async fn write_rate<F, Fut>(label: &str, total: usize, mut write: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let t = Instant::now();
    let mut batches = Vec::new();
    let mut n = 0;
    for b in 0..total / BATCH {
        let bt = Instant::now();
        n += write(b).await.expect("write batch");
        batches.push(bt.elapsed());
    }
    let secs = t.elapsed().as_secs_f64();
    batches.sort();
    println!(
        "  {label:<44} {n} rows in {:.3} s = {:>8.0} rows/s   (batch of {BATCH}: p50 {:.1} ms, p99 {:.1} ms)",
        secs,
        n as f64 / secs,
        pct(&batches, 0.5),
        pct(&batches, 0.99)
    );
}

async fn bench(store: &Store) {
    let run = store
        .begin_run(&NewRun {
            kind: RunKind::Reconcile,
            trigger: Trigger::Cli,
            ssot_revision: "bench".into(),
            actor: "bench".into(),
            environment: None,
            correlation_id: None,
        })
        .await
        .expect("run");

    let d = diffs(run.id, 10_000);
    write_rate("insert 10,000 diffs", 10_000, |b| {
        store.insert_diffs(&d[b * BATCH..(b + 1) * BATCH])
    })
    .await;
    let e = events(0, 10_000);
    write_rate("insert 10,000 events", 10_000, |b| {
        store.append_events(&e[b * BATCH..(b + 1) * BATCH])
    })
    .await;

    // Seed to 100,000 events and 100,000 drift findings (10 envs x 100 resources x 100
    // fields; 90 resources per env resolved, so 10% open).
    let t = Instant::now();
    for chunk in 1..10 {
        store
            .append_events(&events(chunk * 10_000, 10_000))
            .await
            .expect("seed events");
    }
    let obs: Vec<DriftObservation> = (0..100_000)
        .map(|i| DriftObservation {
            environment: env_name(i),
            resource_kind: "Environment".into(),
            resource_name: format!("res-{}", i / ENVS / 100),
            field_path: format!("spec.field{}", (i / ENVS) % 100),
            desired: Some(json!(2)),
            observed: Some(json!(1)),
            run_id: Some(run.id),
        })
        .collect();
    store.upsert_drift(&obs).await.expect("seed drift");
    for env in 0..ENVS {
        for res in 0..90 {
            store
                .resolve_drift(
                    &env_name(env),
                    "Environment",
                    &format!("res-{res}"),
                    None,
                    "bench",
                )
                .await
                .expect("resolve");
        }
    }
    store.analyze().await.expect("analyze");
    let counts = store.open_drift_by_env().await.expect("counts");
    let open: i64 = counts.iter().map(|c| c.open).sum();
    let st = store.status().await.expect("status");
    let rows = |t: &str| {
        st.tables
            .iter()
            .find(|x| x.table == t)
            .map(|x| x.rows)
            .unwrap_or(0)
    };
    println!(
        "  seeded in {:.1} s: {} events, {} drift findings ({} open in {} envs), {} diffs",
        t.elapsed().as_secs_f64(),
        rows("ops.run_events"),
        rows("ops.drift_findings"),
        open,
        counts.len(),
        rows("ops.diffs")
    );

    time_query("open drift per environment (counts)", 1_000, || {
        store.open_drift_by_env()
    })
    .await;
    time_query("open drift list, env-03 (limit 100)", 1_000, || {
        store.open_drift(Some("env-03"), 100)
    })
    .await;
    let filter = EventFilter {
        environment: Some("env-07".into()),
        limit: Some(50),
        ..Default::default()
    };
    time_query("last 50 events, env-07", 1_000, || store.events(&filter)).await;
    let warn = EventFilter {
        environment: Some("env-07".into()),
        min_level: Some(Level::Warn),
        limit: Some(50),
        ..Default::default()
    };
    time_query("last 50 warn+ events, env-07", 1_000, || {
        store.events(&warn)
    })
    .await;
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("store benchmark: skipped (run `cargo bench --bench store`)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        let store = Store::open(Some(&url), dir.path())
            .await
            .expect("open sqlite");
        println!("Evidence store — SQLite ({url}, WAL, synchronous=NORMAL)");
        bench(&store).await;
        store.close().await;

        let Some(db) = pg::ScratchDb::create("odooops_bench").await else {
            return;
        };
        let url = db.url.clone();
        let store = Store::open(Some(&url), dir.path())
            .await
            .expect("open postgres");
        println!("Evidence store — PostgreSQL ({})", redact_url(&url));
        bench(&store).await;
        store.close().await;
        db.drop().await;
    });
}
