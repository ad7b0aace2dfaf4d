//! Backup throughput: `cargo bench --bench backup`.
//!
//! Plain `pg_dump -Fc -f FILE` against `odooops backup run` (the library call: pg_dump -Fc
//! streamed into the artifact store while hashed, plus the manifest and evidence) on the same
//! database, several rounds in alternating order; reports medians and the ratio (target
//! <= 1.25). With `--bench` the database is `odooops_bench_1g` (~1 GB, created on first use and
//! reused); without it (`cargo test --benches`, CI) a quick smoke on a tiny database. Needs
//! ODOOOPS_BENCH_DATABASE_URL or ODOOOPS_TEST_DATABASE_URL (skipped otherwise).

use odooops::odoo::backup::{self, BackupKind, BackupRequest};
use odooops::ssot::Limits;
use odooops::store::Store;
use sqlx::Connection;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[after..].find('/') {
        Some(i) => &base[..after + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// A database shaped for the benchmark: a small Odoo module table (for the manifest) and
/// `tables` tables of `rows` rows each of random text (poorly compressible, like attachments
/// and mail bodies).
async fn create(admin: &str, name: &str, tables: u32, rows: u64) {
    let mut c = sqlx::PgConnection::connect(admin).await.expect("connect");
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .await
        .expect("create database");
    let _ = c.close().await;
    let mut d = sqlx::PgConnection::connect(&with_database(admin, name))
        .await
        .expect("connect bench db");
    sqlx::raw_sql(
        "CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar UNIQUE, state varchar, latest_version varchar);
         INSERT INTO ir_module_module (name, state, latest_version) VALUES
           ('base', 'installed', '17.0.1.3'), ('web', 'installed', '17.0.1.0'), ('mail', 'installed', '17.0.1.15');",
    )
    .execute(&mut d)
    .await
    .expect("modules");
    for t in 0..tables {
        sqlx::raw_sql(&format!(
            "CREATE TABLE bench_{t} (id bigint PRIMARY KEY, created timestamptz NOT NULL DEFAULT now(), body text NOT NULL);
             INSERT INTO bench_{t} (id, body)
               SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)
                 FROM generate_series(1, {rows}) g;"
        ))
        .execute(&mut d)
        .await
        .expect("fill");
    }
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(&mut d)
        .await
        .expect("vacuum");
    sqlx::raw_sql("CREATE TABLE bench_done (at timestamptz DEFAULT now()); INSERT INTO bench_done DEFAULT VALUES;")
        .execute(&mut d)
        .await
        .expect("finish");
    let _ = d.close().await;
}

async fn ready(admin: &str, name: &str) -> bool {
    let Ok(mut d) = sqlx::PgConnection::connect(&with_database(admin, name)).await else {
        return false;
    };
    let ok: bool = sqlx::query_scalar("SELECT to_regclass('bench_done') IS NOT NULL")
        .fetch_one(&mut d)
        .await
        .unwrap_or(false);
    let _ = d.close().await;
    ok
}

async fn drop_db(admin: &str, name: &str) {
    if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut c)
            .await;
        let _ = c.close().await;
    }
}

async fn size(url: &str) -> i64 {
    let mut d = sqlx::PgConnection::connect(url).await.expect("connect");
    let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut d)
        .await
        .expect("size");
    let _ = d.close().await;
    n
}

fn plain_pg_dump(url: &str, out: &Path) -> (Duration, u64) {
    let t = Instant::now();
    let st = Command::new("pg_dump")
        .arg("-Fc")
        .arg("-f")
        .arg(out)
        .arg(format!("--dbname={url}"))
        .status()
        .expect("run pg_dump");
    assert!(st.success(), "pg_dump failed");
    let d = t.elapsed();
    let n = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(out);
    (d, n)
}

async fn odooops_backup(url: &str, ssot: &odooops::ssot::Ssot) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(None, dir.path()).await.expect("store");
    let mut req = BackupRequest::new("production", BackupKind::Scheduled);
    req.db_url = Some(url.to_string());
    let t = Instant::now();
    let o = backup::run_backup(&store, ssot, &req)
        .await
        .expect("backup");
    let d = t.elapsed();
    store.close().await;
    (d, o.dump_bytes)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let Some(admin) = std::env::var("ODOOOPS_BENCH_DATABASE_URL")
        .ok()
        .or_else(|| std::env::var("ODOOOPS_TEST_DATABASE_URL").ok())
        .filter(|u| !u.trim().is_empty())
    else {
        println!(
            "backup bench skipped: set ODOOOPS_BENCH_DATABASE_URL or ODOOOPS_TEST_DATABASE_URL"
        );
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ssot = odooops::ssot::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        &Limits::default(),
    )
    .into_ssot()
    .expect("examples/quickstart is valid");
    let (name, rounds, temporary) = if full {
        ("odooops_bench_1g".to_string(), 3, false)
    } else {
        (
            format!("odooops_bench_smoke_{}", uuid::Uuid::new_v4().simple()),
            1,
            true,
        )
    };
    rt.block_on(async {
        if !ready(&admin, &name).await {
            drop_db(&admin, &name).await;
            let t = Instant::now();
            if full {
                // 3 × 2,000,000 rows of ~128 random hex characters ≈ 1 GB on disk.
                create(&admin, &name, 3, 2_000_000).await;
            } else {
                create(&admin, &name, 1, 2_000).await;
            }
            println!("created {name} in {:.1}s", t.elapsed().as_secs_f64());
        }
    });
    let url = with_database(&admin, &name);
    let db_bytes = rt.block_on(size(&url));
    println!(
        "backup bench on {name}: {:.1} MiB, {rounds} round(s), {}",
        db_bytes as f64 / 1048576.0,
        if full { "full" } else { "smoke" }
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let mut plain = Vec::new();
    let mut ours = Vec::new();
    let mut sizes = (0, 0);
    for round in 0..rounds {
        // Alternate the order so caches favour neither side.
        let out = tmp.path().join("plain.dump");
        let (p, o) = if round % 2 == 0 {
            let p = plain_pg_dump(&url, &out);
            (p, rt.block_on(odooops_backup(&url, &ssot)))
        } else {
            let o = rt.block_on(odooops_backup(&url, &ssot));
            (plain_pg_dump(&url, &out), o)
        };
        println!(
            "  round {}: pg_dump -Fc -f {:>8.2}s ({:.1} MiB)   odooops backup run {:>8.2}s ({:.1} MiB)",
            round + 1,
            p.0.as_secs_f64(),
            p.1 as f64 / 1048576.0,
            o.0.as_secs_f64(),
            o.1 as f64 / 1048576.0
        );
        sizes = (p.1, o.1);
        plain.push(p.0);
        ours.push(o.0);
    }
    let (p, o) = (median(plain), median(ours));
    let ratio = o.as_secs_f64() / p.as_secs_f64().max(1e-9);
    println!(
        "  median: pg_dump {:.2}s, odooops {:.2}s, ratio {ratio:.3} (target <= 1.25); dump {:.1} MiB, {:.1} MiB/s through odooops",
        p.as_secs_f64(),
        o.as_secs_f64(),
        sizes.1 as f64 / 1048576.0,
        sizes.1 as f64 / 1048576.0 / o.as_secs_f64().max(1e-9)
    );
    let _ = sizes.0;
    if temporary {
        rt.block_on(drop_db(&admin, &name));
    }
}
