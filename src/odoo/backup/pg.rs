//! PostgreSQL plumbing for backups: a database URL split so the password never reaches a
//! command line (`PGPASSWORD` in the child's environment), `pg_dump`/`pg_restore` children
//! that die with their job, and the catalog reads a manifest needs.

use super::BackupError;
use crate::jobs::CancelToken;
use crate::provider::postgres::{quote_ident, ObjectCount};
use crate::store::redact_url;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::process::{Child, ChildStdout, Command};

/// A database on a server: the URL without its password, and the password apart.
#[derive(Clone)]
pub struct PgTarget {
    url: Url,
    password: Option<String>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PgTarget {
    pub fn parse(url: &str) -> Result<PgTarget, BackupError> {
        let bad = || {
            BackupError::Invalid(format!("invalid PostgreSQL URL {}: expected postgres://user[:password]@host[:port]/database", redact_url(url)))
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad());
        }
        let mut u = Url::parse(url).map_err(|_| bad())?;
        let password = u.password().map(percent_decode);
        u.set_password(None).map_err(|_| bad())?;
        let t = PgTarget { url: u, password };
        if t.database().is_empty() {
            return Err(BackupError::Invalid(format!(
                "PostgreSQL URL {} names no database",
                t.shown()
            )));
        }
        Ok(t)
    }

    /// The database name.
    pub fn database(&self) -> String {
        percent_decode(self.url.path().trim_start_matches('/'))
    }

    /// The same server, another database.
    pub fn with_database(&self, name: &str) -> PgTarget {
        let mut u = self.url.clone();
        u.set_path(&format!(
            "/{}",
            name.replace('%', "%25").replace('/', "%2F")
        ));
        PgTarget {
            url: u,
            password: self.password.clone(),
        }
    }

    /// For messages and evidence: no password.
    pub fn shown(&self) -> String {
        self.url.to_string()
    }

    /// The full URL for a sqlx connection (kept in memory only).
    fn full(&self) -> String {
        let mut u = self.url.clone();
        if let Some(p) = &self.password {
            let _ = u.set_password(Some(p));
        }
        u.to_string()
    }

    pub async fn connect(&self) -> Result<PgConnection, BackupError> {
        PgConnection::connect(&self.full())
            .await
            .map_err(|e| BackupError::Database {
                what: format!("connecting to {}", self.shown()),
                source: e,
            })
    }

    /// A `pg_dump`/`pg_restore` command on this database: the password through `PGPASSWORD`.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.arg("--no-password")
            .arg(format!("--dbname={}", self.url))
            .env_remove("PGPASSWORD")
            .kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = &self.password {
            c.env("PGPASSWORD", p);
        }
        c
    }
}

/// A child process's stderr, collected (bounded) in the background.
pub struct Stderr(tokio::task::JoinHandle<String>);

impl Stderr {
    pub fn collect(child: &mut Child) -> Stderr {
        let err = child.stderr.take();
        Stderr(tokio::spawn(async move {
            let mut out = Vec::new();
            if let Some(mut e) = err {
                let mut buf = [0u8; 4096];
                while let Ok(n) = e.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if out.len() < 16 * 1024 {
                        out.extend_from_slice(&buf[..n]);
                    }
                }
            }
            String::from_utf8_lossy(&out).trim().to_string()
        }))
    }
    pub async fn text(self) -> String {
        self.0.await.unwrap_or_default()
    }
}

/// A child's stdout that counts bytes and fails with "cancelled" as soon as the token fires
/// (even while the child writes nothing, e.g. waiting on a lock).
pub struct CountingOutput<R = ChildStdout> {
    stdout: R,
    counter: Arc<AtomicU64>,
    cancelled: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl<R> CountingOutput<R> {
    pub fn new(stdout: R, counter: Arc<AtomicU64>, cancel: &CancelToken) -> Self {
        CountingOutput {
            stdout,
            counter,
            cancelled: Box::pin(cancel.cancelled_owned()),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CountingOutput<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::other("cancelled")));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stdout).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = (buf.filled().len() - before) as u64;
            self.counter.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
}

/// What a backup says about its database, compared again after a restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleVersion {
    pub name: String,
    pub version: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DbFacts {
    pub postgres_version: String,
    pub odoo_version: Option<String>,
    pub modules: Vec<ModuleVersion>,
    pub tables: u64,
    pub sequences: u64,
    pub objects: u64,
}

/// Read the facts on one connection (inside the caller's snapshot, if any).
pub async fn facts(conn: &mut PgConnection, shown: &str) -> Result<DbFacts, BackupError> {
    let q = |e| BackupError::Database {
        what: format!("reading the catalog of {shown}"),
        source: e,
    };
    let postgres_version: String = sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(&mut *conn)
        .await
        .map_err(q)?;
    let has_modules: bool =
        sqlx::query_scalar("SELECT to_regclass('ir_module_module') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(q)?;
    let (odoo_version, modules) = if has_modules {
        let v: Option<String> = sqlx::query_scalar(
            "SELECT latest_version::text FROM ir_module_module WHERE name = 'base'",
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(q)?
        .flatten();
        let rows = sqlx::query(
            "SELECT name::text AS name, latest_version::text AS version FROM ir_module_module \
             WHERE state IN ('installed', 'to upgrade', 'to remove') ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(q)?;
        let mut mods = Vec::with_capacity(rows.len());
        for r in rows {
            mods.push(ModuleVersion {
                name: r.try_get("name").map_err(q)?,
                version: r.try_get("version").map_err(q)?,
            });
        }
        (v, mods)
    } else {
        (None, Vec::new())
    };
    let count = count_objects(conn, shown).await?;
    Ok(DbFacts {
        postgres_version,
        odoo_version,
        modules,
        tables: count.tables,
        sequences: count.sequences,
        objects: count.total,
    })
}

async fn count_objects(conn: &mut PgConnection, shown: &str) -> Result<ObjectCount, BackupError> {
    // The statement of `provider::postgres::object_count_on`, on this connection so it reads
    // the caller's snapshot.
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p'))::bigint AS tables,
                count(*) FILTER (WHERE c.relkind = 'S')::bigint AS sequences
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'S')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND n.nspname NOT LIKE 'pg_temp_%'
            AND n.nspname NOT LIKE 'pg_toast_temp_%'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| BackupError::Database {
        what: format!("counting objects of {shown}"),
        source: e,
    })?;
    let t: i64 = row.try_get("tables").unwrap_or(0);
    let s: i64 = row.try_get("sequences").unwrap_or(0);
    let (t, s) = (t.max(0) as u64, s.max(0) as u64);
    Ok(ObjectCount {
        tables: t,
        sequences: s,
        total: t + s,
    })
}

/// `base` + `suffix`, the base shortened so the whole fits PostgreSQL's 63 bytes.
pub fn derived_name(base: &str, suffix: &str) -> String {
    let room = 63usize.saturating_sub(suffix.len());
    let mut cut = base.len().min(room);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &base[..cut])
}

/// A maintenance connection to the server (database `postgres`) for CREATE/ALTER/DROP.
pub struct Admin {
    conn: PgConnection,
    shown: String,
}

impl Admin {
    pub async fn connect(target: &PgTarget) -> Result<Admin, BackupError> {
        let t = target.with_database("postgres");
        Ok(Admin {
            conn: t.connect().await?,
            shown: t.shown(),
        })
    }

    async fn exec(&mut self, sql: &str) -> Result<(), BackupError> {
        sqlx::raw_sql(sql)
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| BackupError::Database {
                what: format!("`{sql}` on {}", self.shown),
                source: e,
            })
    }

    pub async fn exists(&mut self, name: &str) -> Result<bool, BackupError> {
        let r: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut self.conn)
                .await
                .map_err(|e| BackupError::Database {
                    what: format!("looking up database {name}"),
                    source: e,
                })?;
        Ok(r.is_some())
    }

    pub async fn create(&mut self, name: &str) -> Result<(), BackupError> {
        self.exec(&format!(
            "CREATE DATABASE {} TEMPLATE template0",
            ident(name)?
        ))
        .await
    }

    pub async fn drop(&mut self, name: &str) -> Result<(), BackupError> {
        self.exec(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(name)?
        ))
        .await
    }

    async fn terminate(&mut self, name: &str) -> Result<(), BackupError> {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut self.conn)
        .await
        .map_err(|e| BackupError::Database {
            what: format!("terminating the sessions of {name}"),
            source: e,
        })?;
        Ok(())
    }

    pub async fn allow_connections(&mut self, name: &str, allow: bool) -> Result<(), BackupError> {
        self.exec(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            ident(name)?
        ))
        .await
    }

    /// Rename `from` → `to` after closing its sessions (retried: a client may reconnect
    /// between the terminate and the rename).
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), BackupError> {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", ident(from)?, ident(to)?);
        let mut last = None;
        for attempt in 0..10u64 {
            self.terminate(from).await?;
            match self.exec(&sql).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
        }
        Err(last.unwrap_or_else(|| BackupError::Invalid(format!("renaming {from} failed"))))
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

fn ident(name: &str) -> Result<String, BackupError> {
    quote_ident(name).map_err(|e| BackupError::Invalid(e.to_string()))
}
