//! The store's apply lock: one applier at a time per store, whatever process it runs in
//! (`odooops apply`, `odooops run`). On PostgreSQL a session advisory lock on a connection
//! of its own (released by the server when the holder dies); on SQLite an exclusive `flock`
//! on `<db>.apply.lock`. Every acquisition bumps the fencing token in `ops.leases`; ledger
//! writes carry it ([`Store::ledger_claim`], [`Store::ledger_finish`]), so a holder that lost
//! the lock without noticing cannot act any more.

use super::{now, with_pool, Pool, Result, Store, StoreError};
use sqlx::Connection;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The advisory lock key of applies ("odooops:apply").
pub const PG_APPLY_LOCK: i64 = 0x6f64_6f6f_6170_706c;

/// The apply lock, held until dropped or [`ApplyLock::release`]d.
#[derive(Debug)]
pub struct ApplyLock {
    /// The fencing token every ledger write of this holder carries.
    pub token: i64,
    pub holder: String,
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    Pg(Box<sqlx::PgConnection>),
    Lite(std::fs::File),
}

impl Store {
    /// Take the apply lock, waiting up to `wait` for another holder to let it go.
    pub async fn lock_apply(&self, holder: &str, wait: Duration) -> Result<ApplyLock> {
        let until = tokio::time::Instant::now() + wait;
        let guard = loop {
            match self.try_lock_apply().await? {
                Ok(g) => break g,
                Err(current) => {
                    if tokio::time::Instant::now() >= until {
                        return Err(StoreError::Locked { holder: current });
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let sql = self.sql(
            "INSERT INTO ops.leases AS l (name, holder, token, acquired_at) VALUES ('apply', $1, 1, $2)
             ON CONFLICT (name) DO UPDATE SET token = l.token + 1, holder = EXCLUDED.holder,
                 acquired_at = EXCLUDED.acquired_at
             RETURNING token",
        );
        let token: i64 = with_pool!(self, p => sqlx::query_scalar(&sql)
            .bind(holder)
            .bind(now())
            .fetch_one(p)
            .await?);
        Ok(ApplyLock {
            token,
            holder: holder.to_string(),
            guard,
        })
    }

    /// One try: the guard, or who holds the lock now.
    async fn try_lock_apply(&self) -> Result<std::result::Result<Guard, String>> {
        match &self.pool {
            Pool::Pg(pool) => {
                let mut conn = pool.acquire().await?.detach();
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(PG_APPLY_LOCK)
                    .fetch_one(&mut conn)
                    .await?;
                if got {
                    return Ok(Ok(Guard::Pg(Box::new(conn))));
                }
                let _ = conn.close().await;
                Ok(Err(self.lease_holder().await?))
            }
            Pool::Lite(_) => {
                let db = self.location().trim_start_matches("sqlite:");
                let path = PathBuf::from(format!("{db}.apply.lock"));
                let io = |source| StoreError::Io {
                    path: path.display().to_string(),
                    source,
                };
                let mut file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map_err(io)?;
                match file.try_lock() {
                    Ok(()) => {
                        file.set_len(0).map_err(io)?;
                        file.rewind().map_err(io)?;
                        write!(file, "pid {}", std::process::id()).map_err(io)?;
                        Ok(Ok(Guard::Lite(file)))
                    }
                    Err(std::fs::TryLockError::WouldBlock) => {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        Ok(Err(format!(
                            "{} holds {}",
                            if holder.is_empty() {
                                "another process"
                            } else {
                                holder.as_str()
                            },
                            path.display()
                        )))
                    }
                    Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
                }
            }
        }
    }

    /// Who the last acquisition recorded, for messages.
    async fn lease_holder(&self) -> Result<String> {
        let sql = self.sql("SELECT holder FROM ops.leases WHERE name = 'apply'");
        let holder: Option<String> =
            with_pool!(self, p => sqlx::query_scalar(&sql).fetch_optional(p).await?);
        Ok(holder.unwrap_or_else(|| "another process".into()))
    }
}

impl ApplyLock {
    /// Is the lock still ours? On PostgreSQL the lock lives as long as its connection; the
    /// token must also still be the current one.
    pub async fn still_held(&mut self, store: &Store) -> bool {
        let held = match &mut self.guard {
            Guard::Pg(conn) => sqlx::query_as::<_, (bool,)>(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                    AND pid = pg_backend_pid() AND granted AND objsubid = 1
                    AND ((classid::bigint << 32) | objid::bigint) = $1)",
            )
            .bind(PG_APPLY_LOCK)
            .fetch_one(conn.as_mut())
            .await
            .map(|(held,)| held)
            .unwrap_or(false),
            Guard::Lite(_) => true,
        };
        held && store.fence_current(self.token).await.unwrap_or(false)
    }

    /// Let the lock go now.
    pub async fn release(self) {
        match self.guard {
            Guard::Pg(conn) => {
                let _ = conn.close().await;
            }
            Guard::Lite(file) => {
                let _ = file.unlock();
            }
        }
    }
}
