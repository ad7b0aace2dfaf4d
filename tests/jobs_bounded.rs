//! Bounded jobs: timeouts kill the job (a real `pg_dump` blocked on a lock), three
//! consecutive timeouts disable it until `jobs enable`, and a cancel kills `pg_dump` and
//! leaves no partial artifact. PostgreSQL parts need ODOOOPS_TEST_DATABASE_URL.

mod common;
mod support;

use odooops::jobs::{self, run_bounded, CancelToken, JobError, JobKind, JobSpec, JobsConfig};
use odooops::odoo::backup::{self, BackupError, BackupKind, BackupRequest};
use odooops::ssot::{Limits, Resource, Ssot};
use odooops::store::Store;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::odoo_fixture::OdooFixture;

fn ssot_with_timeout(seconds: u64) -> Ssot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let mut s = odooops::ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("valid");
    for r in s.resources.iter_mut() {
        if let Resource::Environment(e) = r {
            e.spec.limits.job_timeout_seconds = Some(seconds);
        }
    }
    s
}

fn cfg() -> JobsConfig {
    JobsConfig {
        disable_after: 3,
        grace: Duration::from_secs(20),
    }
}

/// Files under `root` (artifact blobs and temporary files alike).
fn files(root: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(root, &mut v);
    v
}

/// pg_dump sessions on `db` (OdooOps names them `odooops-pg_dump-<id>`).
async fn pg_dumps(admin: &str, db: &str) -> i64 {
    let mut c = sqlx::PgConnection::connect(admin).await.expect("admin");
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'odooops-pg_dump-%'",
    )
    .bind(db)
    .fetch_one(&mut c)
    .await
    .expect("activity");
    let _ = c.close().await;
    n
}

/// Wait (with a deadline) until the number of pg_dump sessions satisfies `ok`.
async fn wait_dumps(admin: &str, db: &str, ok: impl Fn(i64) -> bool) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = pg_dumps(admin, db).await;
        if ok(n) || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Hold an ACCESS EXCLUSIVE lock on a fixture table: pg_dump waits for it forever.
async fn lock_table(url: &str) -> sqlx::PgConnection {
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::raw_sql("BEGIN; LOCK TABLE website IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut c)
        .await
        .expect("lock");
    c
}

async fn bounded_backup(
    store: &Store,
    ssot: &Ssot,
    url: &str,
    cancel: &CancelToken,
) -> Result<backup::BackupOutcome, JobError<BackupError>> {
    let spec = JobSpec {
        kind: JobKind::Backup,
        environment: "production".into(),
        timeout: backup::job_timeout(ssot, JobKind::Backup, "production"),
    };
    let mut req = BackupRequest::new("production", BackupKind::Scheduled);
    req.db_url = Some(url.to_string());
    run_bounded(store, &cfg(), &spec, cancel, |ctx| {
        req.cancel = ctx.cancel.clone();
        async move { backup::run_backup(store, ssot, &req).await }
    })
    .await
}

async fn assert_nothing_left(store: &Store, root: &Path) {
    assert!(
        store.backups(None, 10).await.expect("list").is_empty(),
        "no backup row"
    );
    let status = store.status().await.expect("status");
    let arts = status
        .tables
        .iter()
        .find(|t| t.table == "ops.artifacts")
        .map(|t| t.rows);
    assert_eq!(arts, Some(0), "no artifact row");
    assert_eq!(
        files(&root.join("artifacts")),
        Vec::<PathBuf>::new(),
        "no blob, no temp file"
    );
}

#[tokio::test]
async fn timeouts_kill_pg_dump_and_three_in_a_row_disable_the_job() {
    let Some(admin) = support::odoo_fixture::test_database_url("jobs_timeout") else {
        return;
    };
    let b = common::sqlite().await;
    let db = OdooFixture::create("jobs_timeout").await.expect("fixture");
    let ssot = ssot_with_timeout(1);
    let mut lock = lock_table(&db.url).await;
    for round in 1..=3 {
        let t = Instant::now();
        let err = bounded_backup(&b.store, &ssot, &db.url, &CancelToken::new())
            .await
            .expect_err("times out");
        assert!(
            matches!(err, JobError::Timeout { .. }),
            "round {round}: {err}"
        );
        assert!(t.elapsed() >= Duration::from_secs(1));
        assert_eq!(
            wait_dumps(&admin, &db.name, |n| n == 0).await,
            0,
            "pg_dump killed"
        );
        let runs = b
            .store
            .job_runs(Some("backup"), Some("production"), 10)
            .await
            .expect("runs");
        assert_eq!(runs[0].outcome, "timeout");
        assert_eq!(runs[0].consecutive_timeouts, round);
        assert!(runs[0].duration_ms.expect("duration") >= 1000);
        assert_eq!(runs[0].timeout_ms, 1000);
        assert_nothing_left(&b.store, b.dir.path()).await;
        let state = b
            .store
            .job_state("backup", "production")
            .await
            .expect("state")
            .expect("row");
        assert_eq!(state.disabled, round == 3, "round {round}");
    }
    // The evidence run of the dump says it was stopped.
    let backup_runs: Vec<_> = b
        .store
        .recent_runs(20)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.kind == "backup")
        .collect();
    assert_eq!(backup_runs.len(), 3);
    assert!(
        backup_runs.iter().all(|r| r.status == "cancelled"),
        "{backup_runs:?}"
    );
    // Disabled: refused at once with the way out in the message, and recorded.
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("unlock");
    let _ = lock.close().await;
    let err = bounded_backup(&b.store, &ssot, &db.url, &CancelToken::new())
        .await
        .expect_err("disabled");
    assert!(matches!(err, JobError::Disabled { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("odooops jobs enable backup --env production"),
        "{err}"
    );
    assert!(err.to_string().contains("3 consecutive timeouts"), "{err}");
    let runs = b
        .store
        .job_runs(Some("backup"), Some("production"), 10)
        .await
        .expect("runs");
    assert_eq!(runs[0].outcome, "refused");
    let events = b
        .store
        .events(&odooops::store::EventFilter {
            environment: Some("production".into()),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .expect("events");
    assert!(events.iter().any(|e| e
        .message
        .starts_with("job backup disabled after 3 consecutive timeouts")));
    // Re-enabled, the job runs again (the lock is gone) and the count resets.
    jobs::enable(&b.store, JobKind::Backup, "production")
        .await
        .expect("enable");
    let o = bounded_backup(&b.store, &ssot, &db.url, &CancelToken::new())
        .await
        .expect("runs after enable");
    assert!(o.dump_bytes > 0);
    let state = b
        .store
        .job_state("backup", "production")
        .await
        .expect("state")
        .expect("row");
    assert_eq!((state.disabled, state.consecutive_timeouts), (false, 0));
    db.drop_db().await;
    b.finish().await;
}

#[tokio::test]
async fn cancel_kills_pg_dump_and_leaves_no_partial_artifact() {
    let Some(admin) = support::odoo_fixture::test_database_url("jobs_cancel") else {
        return;
    };
    for b in common::backends().await {
        let db = OdooFixture::create("jobs_cancel").await.expect("fixture");
        let ssot = ssot_with_timeout(600);
        let mut lock = lock_table(&db.url).await;
        let cancel = CancelToken::new();
        let job = bounded_backup(&b.store, &ssot, &db.url, &cancel);
        let watcher = async {
            // pg_dump is running (blocked on the lock) before we cancel.
            assert_eq!(wait_dumps(&admin, &db.name, |n| n == 1).await, 1);
            cancel.cancel();
        };
        let t = Instant::now();
        let (r, ()) = tokio::join!(job, watcher);
        let err = r.expect_err("cancelled");
        assert!(matches!(err, JobError::Cancelled { .. }), "{err}");
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "stopped promptly, not by the grace period"
        );
        assert_eq!(
            wait_dumps(&admin, &db.name, |n| n == 0).await,
            0,
            "pg_dump killed"
        );
        assert_nothing_left(&b.store, b.dir.path()).await;
        let runs = b
            .store
            .job_runs(Some("backup"), Some("production"), 10)
            .await
            .expect("runs");
        assert_eq!(
            (runs[0].outcome.as_str(), runs[0].consecutive_timeouts),
            ("cancelled", 0)
        );
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut lock)
            .await
            .expect("unlock");
        let _ = lock.close().await;
        db.drop_db().await;
        b.finish().await;
    }
}

#[tokio::test]
async fn a_job_ignoring_its_signal_is_dropped_after_the_grace_period() {
    let b = common::sqlite().await;
    let spec = JobSpec {
        kind: JobKind::Gate,
        environment: "staging".into(),
        timeout: Duration::from_millis(100),
    };
    let cfg = JobsConfig {
        disable_after: 2,
        grace: Duration::from_millis(100),
    };
    for round in 1..=2 {
        let r: Result<(), JobError<String>> =
            run_bounded(&b.store, &cfg, &spec, &CancelToken::new(), |_ctx| async {
                // Never looks at its cancel token.
                std::future::pending::<Result<(), String>>().await
            })
            .await;
        assert!(matches!(r, Err(JobError::Timeout { .. })), "round {round}");
    }
    let state = b
        .store
        .job_state("gate", "staging")
        .await
        .expect("state")
        .expect("row");
    assert!(state.disabled, "disable_after = 2");
    // A successful job on another environment records ok with its duration, unaffected.
    let spec_ok = JobSpec {
        environment: "production".into(),
        ..spec.clone()
    };
    let v: Result<u32, JobError<String>> = run_bounded(
        &b.store,
        &cfg,
        &spec_ok,
        &CancelToken::new(),
        |_ctx| async { Ok(7) },
    )
    .await;
    assert_eq!(v.expect("ok"), 7);
    let runs = b
        .store
        .job_runs(Some("gate"), Some("production"), 1)
        .await
        .expect("runs");
    assert_eq!(runs[0].outcome, "ok");
    assert!(runs[0].duration_ms.is_some());
    // A failure resets nothing but is recorded as failed.
    let f: Result<(), JobError<String>> = run_bounded(
        &b.store,
        &cfg,
        &spec_ok,
        &CancelToken::new(),
        |_ctx| async { Err("boom".to_string()) },
    )
    .await;
    assert!(matches!(f, Err(JobError::Failed(ref m)) if m == "boom"));
    let runs = b
        .store
        .job_runs(Some("gate"), Some("production"), 1)
        .await
        .expect("runs");
    assert_eq!(
        (runs[0].outcome.as_str(), runs[0].error.as_deref()),
        ("failed", Some("boom"))
    );
    b.finish().await;
}

#[tokio::test]
async fn the_gates_command_runs_as_a_bounded_job() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_odooops"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ODOOOPS_DATABASE_URL")
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "gates",
            "run",
            "--ssot",
            "examples/quickstart",
            "--env",
            "staging",
        ])
        .output()
        .expect("run odooops");
    assert!(out.status.code().is_some(), "{out:?}");
    let store = Store::open(None, dir.path()).await.expect("store");
    let runs = store
        .job_runs(Some("gate"), Some("staging"), 10)
        .await
        .expect("job runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome, "ok");
    assert_eq!(
        runs[0].timeout_ms,
        15 * 60 * 1000,
        "the default bound for gates"
    );
    assert!(runs[0].run_id.is_some(), "tied to the gate run");
    store.close().await;
}
