//! Leadership of the continuous controller (`odooops run`).
//!
//! On PostgreSQL several controllers may share one store: the leader holds a session-level
//! advisory lock on a connection of its own, taken out of the pool. If the process dies, its
//! connection closes and PostgreSQL releases the lock, so a standby takes over. On SQLite
//! the store is a local file and only one controller may run against it: an exclusive lock
//! on a file beside the database says so, and a second process is refused.

use super::{Pool, Result, Store, StoreError};
use sqlx::Connection;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

/// The advisory lock key of the controller loop ("odooops:controller").
pub const PG_LEADER_LOCK: i64 = 0x6f64_6f6f_6c65_6164;

/// Proof of leadership; dropping it gives leadership up.
#[derive(Debug)]
pub enum LeaderGuard {
    Pg(Box<sqlx::PgConnection>),
    Lite { file: std::fs::File, path: PathBuf },
}

/// Why leadership could not be taken.
#[derive(Debug)]
pub enum NotLeader {
    /// Another controller leads on PostgreSQL: wait as a standby.
    Standby,
    /// Another controller runs on this SQLite store: refuse to start.
    SqliteHeld { lock_file: PathBuf, holder: String },
}

impl Store {
    /// Try once to become the leader.
    pub async fn try_lead(&self) -> Result<std::result::Result<LeaderGuard, NotLeader>> {
        match &self.pool {
            Pool::Pg(pool) => {
                let mut conn = pool.acquire().await?.detach();
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(PG_LEADER_LOCK)
                    .fetch_one(&mut conn)
                    .await?;
                if got {
                    Ok(Ok(LeaderGuard::Pg(Box::new(conn))))
                } else {
                    let _ = conn.close().await;
                    Ok(Err(NotLeader::Standby))
                }
            }
            Pool::Lite(_) => {
                let db = self.location().trim_start_matches("sqlite:");
                let path = PathBuf::from(format!("{db}.controller.lock"));
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
                        Ok(Ok(LeaderGuard::Lite { file, path }))
                    }
                    Err(std::fs::TryLockError::WouldBlock) => {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        Ok(Err(NotLeader::SqliteHeld {
                            lock_file: path,
                            holder: if holder.is_empty() {
                                "another process".into()
                            } else {
                                holder
                            },
                        }))
                    }
                    Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
                }
            }
        }
    }
}

impl LeaderGuard {
    /// Is leadership still held? On PostgreSQL the lock lives as long as its connection.
    pub async fn still_held(&mut self) -> bool {
        match self {
            LeaderGuard::Pg(conn) => sqlx::query_as::<_, (bool,)>(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                    AND pid = pg_backend_pid() AND granted AND objsubid = 1
                    AND ((classid::bigint << 32) | objid::bigint) = $1)",
            )
            .bind(PG_LEADER_LOCK)
            .fetch_one(conn.as_mut())
            .await
            .map(|(held,)| held)
            .unwrap_or(false),
            LeaderGuard::Lite { .. } => true,
        }
    }

    /// Give leadership up now (closing the connection releases the advisory lock).
    pub async fn release(self) {
        match self {
            LeaderGuard::Pg(conn) => {
                let _ = conn.close().await;
            }
            LeaderGuard::Lite { file, path } => {
                // The file stays: removing it would let a process that opened it before
                // the removal lock an orphaned inode while a third locks a new file.
                let _ = file.unlock();
                drop((file, path));
            }
        }
    }
}
