//! The `ops.*` evidence store: runs, plans, diffs, the idempotency ledger, events, drift,
//! gates, backups, secret syncs, inventory, webhook deliveries, artifacts and the work queue.
//!
//! One [`Store`] API over two backends: PostgreSQL (schema `ops`, jsonb, timestamptz) and an
//! embedded SQLite file (tables prefixed `ops_`). Every SQL statement of the crate lives under
//! `src/store/`; statements are written once in PostgreSQL spelling (`ops.table`, `$n`
//! placeholders) and adapted for SQLite by [`Store::sql`]. See `spec/store.md`.

mod artifacts;
mod chain;
mod configured;
mod console;
mod evidence;
mod findings;
mod jobs;
mod leader;
mod ledger;
mod locks;
mod queue;
mod releases;
mod retention;
mod ssot_revisions;
mod types;

pub use artifacts::{validate_artifact_id, ArtifactStore, StoredBlob};
pub use chain::{DriftSpan, ManagedRow, ReleaseTiming};
pub use configured::{artifact_store, placement, Placement};
pub use console::{FieldCount, StatusCount};
pub use leader::{LeaderGuard, NotLeader, PG_LEADER_LOCK};
pub use ledger::ManagedObject;
pub use locks::{ApplyLock, PG_APPLY_LOCK};
pub use releases::{
    NewRelease, Release, ReleaseEnd, ReleaseStep, RELEASE_DEPLOYING, RELEASE_FAILED,
    RELEASE_HEALTHY, RELEASE_INTERRUPTED, RELEASE_ROLLED_BACK, RELEASE_SUPERSEDED,
};
pub use retention::{PruneReport, RetentionCutoffs, RetentionPolicy};
pub use ssot_revisions::{NewSsotRevision, SsotRevision};
pub use types::*;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Embedded migrations, applied by [`Store::open`].
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Advisory-lock key held around migrations on PostgreSQL ("odooops" in ASCII, truncated).
const PG_MIGRATION_LOCK: i64 = 0x006f_646f_6f6f_7073;

/// The default embedded database, relative to the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "ops.db";

/// How an SQLite store trades memory for read speed, chosen once per process before the
/// store is opened ([`set_sqlite_profile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteProfile {
    /// The controller's: 1 MiB of page cache per connection, no memory map (its peak resident
    /// set at 5,000 environments is measured against 100 MB).
    Lean,
    /// The console's: 16 MiB of page cache per connection and the file memory-mapped (up to
    /// 256 MiB of it), so the pages it answers from are read without a copy or a syscall.
    Reader,
}

static SQLITE_PROFILE: std::sync::OnceLock<SqliteProfile> = std::sync::OnceLock::new();

/// Choose this process's [`SqliteProfile`] (the first call wins; [`SqliteProfile::Lean`]
/// when never called). `odooops serve` chooses [`SqliteProfile::Reader`].
pub fn set_sqlite_profile(profile: SqliteProfile) {
    let _ = SQLITE_PROFILE.set(profile);
}

fn sqlite_profile() -> SqliteProfile {
    SQLITE_PROFILE.get().copied().unwrap_or(SqliteProfile::Lean)
}

/// Errors of the evidence store. Messages name the thing and, where there is one, the next step.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("applying migrations failed: {0} (run `odooops store migrate` to retry; check the database user may create schema `ops`)")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database URL {0}: expected postgres://…, postgresql://… or sqlite:PATH")]
    InvalidUrl(String),
    #[error("invalid artifact id {0:?}: expected a sha256 as 64 lowercase hex characters")]
    InvalidArtifactId(String),
    #[error("artifact {0} not found")]
    ArtifactNotFound(String),
    #[error("artifact store I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("invalid artifact store URL {0}: expected a directory path, file://… or s3://bucket[/prefix]")]
    InvalidArtifactUrl(String),
    #[error("{0}")]
    Invalid(String),
    #[error("fenced: the apply lock was taken over (token {0} is no longer current); this process stops acting")]
    Fenced(i64),
    #[error("another apply holds the store's apply lock ({holder}); wait for it, or retry with --lock-timeout")]
    Locked { holder: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Pg(PgPool),
    Lite(SqlitePool),
}

/// Run `$body` with `$p` bound to the concrete pool (PgPool or SqlitePool). The body is
/// compiled once per backend, so binds and row types must work on both.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Pg($p) => $body,
            $crate::store::Pool::Lite($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The evidence store handle: cheap to clone, safe to share between tasks.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    artifacts: ArtifactStore,
    location: String,
}

/// What `odooops store status` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoreStatus {
    pub backend: Backend,
    pub location: String,
    pub artifacts: String,
    pub migrations_applied: Vec<i64>,
    pub migrations_known: Vec<i64>,
    pub tables: Vec<TableCount>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

/// The logical tables, in PostgreSQL spelling.
pub const TABLES: &[&str] = &[
    "runs",
    "plans",
    "diffs",
    "actions",
    "run_events",
    "drift_findings",
    "gate_runs",
    "gate_results",
    "backup_jobs",
    "backups",
    "secret_sync_runs",
    "inventory",
    "webhook_deliveries",
    "artifacts",
    "work_queue",
    "job_runs",
    "job_states",
    "leases",
    "managed_objects",
    "releases",
    "ssot_revisions",
];

impl Store {
    /// Open (and migrate) the store. `url` is a PostgreSQL URL or `sqlite:PATH`; `None` means the
    /// embedded default `DATA_DIR/ops.db`. Artifacts go to `DATA_DIR/artifacts` unless replaced
    /// with [`Store::with_artifacts`].
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Store> {
        let artifacts = ArtifactStore::local(data_dir.join("artifacts"));
        let store = match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                let opts = PgConnectOptions::from_str(u)
                    .map_err(|_| StoreError::InvalidUrl(redact_url(u)))?;
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts.disable_statement_logging())
                    .await?;
                Store {
                    pool: Pool::Pg(pool),
                    artifacts,
                    location: redact_url(u),
                }
            }
            Some(u) if u.starts_with("sqlite:") => {
                let path = u
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                Self::open_sqlite(Path::new(path), artifacts).await?
            }
            Some(u) => return Err(StoreError::InvalidUrl(redact_url(u))),
            None => Self::open_sqlite(&data_dir.join(DEFAULT_SQLITE_FILE), artifacts).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Open a SQLite file. A first open races other processes creating the same file
    /// (switching to WAL and migrating need the write lock, and SQLite may answer "locked"
    /// at once instead of waiting): such answers are retried with backoff for ~15 s.
    async fn open_sqlite(path: &Path, artifacts: ArtifactStore) -> Result<Store> {
        let mut attempt: u64 = 0;
        loop {
            match Self::try_open_sqlite(path, artifacts.clone()).await {
                Err(StoreError::Db(e)) if is_locked(&e) && attempt < 30 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt.min(25))).await;
                }
                other => return other,
            }
        }
    }

    async fn try_open_sqlite(path: &Path, artifacts: ArtifactStore) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .disable_statement_logging();
        let opts = match sqlite_profile() {
            SqliteProfile::Lean => opts.pragma("cache_size", "-1024"),
            SqliteProfile::Reader => opts
                .pragma("cache_size", "-16384")
                .pragma("mmap_size", "268435456"),
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool: Pool::Lite(pool),
            artifacts,
            location: format!("sqlite:{}", path.display()),
        })
    }

    /// Replace the artifact store (e.g. an S3 bucket from [`ArtifactStore::from_url`]).
    pub fn with_artifacts(mut self, artifacts: ArtifactStore) -> Store {
        self.artifacts = artifacts;
        self
    }

    pub fn artifact_store(&self) -> &ArtifactStore {
        &self.artifacts
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Pg(_) => Backend::Postgres,
            Pool::Lite(_) => Backend::Sqlite,
        }
    }

    /// Where the database is (password redacted).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// An SQLite store's page cache (`PRAGMA cache_size`: negative KiB) and memory-map size
    /// (`PRAGMA mmap_size`, bytes) on one of its connections; None on PostgreSQL.
    pub async fn sqlite_memory(&self) -> Result<Option<(i64, i64)>> {
        let Pool::Lite(pool) = &self.pool else {
            return Ok(None);
        };
        let mut conn = pool.acquire().await?;
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *conn)
            .await?;
        let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some((cache, mmap)))
    }

    /// Apply pending migrations. Safe to call concurrently from several processes: on
    /// PostgreSQL under `pg_advisory_lock`, on SQLite by retrying once the other writer has
    /// committed (a lost race surfaces as "already exists", after which the migration is
    /// recorded as applied).
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Pg(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await?;
                let result = PG_MIGRATOR.run(&mut *conn).await;
                let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await;
                result?;
                unlock?;
                Ok(())
            }
            Pool::Lite(pool) => {
                let mut attempt = 0;
                loop {
                    match SQLITE_MIGRATOR.run(pool).await {
                        Ok(()) => return Ok(()),
                        // Another process holds the write lock while it migrates.
                        Err(_) if attempt < 30 => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(20 * attempt.min(25))).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// Backend, migrations and row counts per table.
    pub async fn status(&self) -> Result<StoreStatus> {
        let applied: Vec<i64> = with_pool!(self, p => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(p)
                .await?
        });
        let known = match self.pool {
            Pool::Pg(_) => PG_MIGRATOR.iter().map(|m| m.version).collect(),
            Pool::Lite(_) => SQLITE_MIGRATOR.iter().map(|m| m.version).collect(),
        };
        let mut tables = Vec::new();
        for t in TABLES {
            let sql = self.sql_owned(format!("SELECT count(*) FROM ops.{t}"));
            let rows: i64 = with_pool!(self, p => sqlx::query_scalar(&sql).fetch_one(p).await?);
            tables.push(TableCount {
                table: format!("ops.{t}"),
                rows,
            });
        }
        Ok(StoreStatus {
            backend: self.backend(),
            location: self.location.clone(),
            artifacts: self.artifacts.describe(),
            migrations_applied: applied,
            migrations_known: known,
            tables,
        })
    }

    /// Maintenance after a bulk load or a large prune: refresh the planner's statistics (and on
    /// PostgreSQL the visibility map, so the console's counts stay index-only scans).
    pub async fn analyze(&self) -> Result<()> {
        match &self.pool {
            Pool::Pg(p) => {
                for t in TABLES {
                    sqlx::query(&format!("VACUUM (ANALYZE) ops.{t}"))
                        .execute(p)
                        .await?;
                }
            }
            Pool::Lite(p) => {
                sqlx::query("ANALYZE").execute(p).await?;
            }
        }
        Ok(())
    }

    /// Close the pool (waits for checked-out connections to return).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Pg(p) => p.close().await,
            Pool::Lite(p) => p.close().await,
        }
    }

    /// Adapt a statement written in PostgreSQL spelling to the backend: on SQLite `ops.x`
    /// becomes `ops_x` (the placeholders `$n` are understood by both).
    pub(crate) fn sql(&self, pg: &'static str) -> Cow<'static, str> {
        match self.pool {
            Pool::Pg(_) => Cow::Borrowed(pg),
            Pool::Lite(_) => Cow::Owned(pg.replace("ops.", "ops_")),
        }
    }

    pub(crate) fn sql_owned(&self, pg: String) -> String {
        match self.pool {
            Pool::Pg(_) => pg,
            Pool::Lite(_) => pg.replace("ops.", "ops_"),
        }
    }

    pub(crate) fn is_pg(&self) -> bool {
        matches!(self.pool, Pool::Pg(_))
    }
}

/// The current time at the precision both backends keep (microseconds).
/// SQLITE_BUSY (5) or SQLITE_LOCKED (6).
fn is_locked(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("5") | Some("6")) || db.message().contains("locked")
        }
        _ => false,
    }
}

pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncate_micros(chrono::Utc::now())
}

pub(crate) fn truncate_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Timelike};
    let t = t.trunc_subsecs(6);
    debug_assert!(t.nanosecond().is_multiple_of(1000));
    t
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// The default data directory (`.odooops` under the current directory).
pub fn default_data_dir() -> PathBuf {
    PathBuf::from(".odooops")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("sqlite:x.db"), "sqlite:x.db");
    }
}
