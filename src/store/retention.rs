//! Retention of evidence rows and artifacts. The policy is data; the cut-offs are a pure
//! function of the policy and the clock; `Store::prune` applies them. An artifact referenced by
//! a backup inside its retention (`expires_at` null or in the future), by a plan or by a gate
//! result is never deleted.

use super::{now, with_pool, Result, Store, Timestamp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long to keep each kind of evidence; `None` keeps it forever.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Events older than this.
    pub events: Option<Duration>,
    /// Finished runs started before this, with their plans, diffs and gate runs (cascade).
    pub runs: Option<Duration>,
    /// Drift findings resolved longer ago than this.
    pub resolved_drift: Option<Duration>,
    pub webhook_deliveries: Option<Duration>,
    pub inventory: Option<Duration>,
    pub secret_syncs: Option<Duration>,
    /// Work-queue jobs done or failed longer ago than this.
    pub finished_jobs: Option<Duration>,
    /// Backup manifests (and job rows) whose `expires_at` passed longer ago than this.
    pub expired_backups: Option<Duration>,
    /// Unreferenced artifacts created before this.
    pub artifacts: Option<Duration>,
}

const DAY: u64 = 24 * 3600;

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            events: Some(Duration::from_secs(30 * DAY)),
            runs: Some(Duration::from_secs(180 * DAY)),
            resolved_drift: Some(Duration::from_secs(90 * DAY)),
            webhook_deliveries: Some(Duration::from_secs(14 * DAY)),
            inventory: Some(Duration::from_secs(30 * DAY)),
            secret_syncs: Some(Duration::from_secs(180 * DAY)),
            finished_jobs: Some(Duration::from_secs(7 * DAY)),
            expired_backups: Some(Duration::from_secs(30 * DAY)),
            artifacts: Some(Duration::from_secs(90 * DAY)),
        }
    }
}

/// The instants before which each kind of evidence goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetentionCutoffs {
    pub now: Timestamp,
    pub events: Option<Timestamp>,
    pub runs: Option<Timestamp>,
    pub resolved_drift: Option<Timestamp>,
    pub webhook_deliveries: Option<Timestamp>,
    pub inventory: Option<Timestamp>,
    pub secret_syncs: Option<Timestamp>,
    pub finished_jobs: Option<Timestamp>,
    pub expired_backups: Option<Timestamp>,
    pub artifacts: Option<Timestamp>,
}

impl RetentionPolicy {
    /// Pure: the cut-offs of this policy at `now`.
    pub fn cutoffs(&self, now: Timestamp) -> RetentionCutoffs {
        let c = |d: Option<Duration>| {
            d.map(|d| {
                chrono::Duration::from_std(d)
                    .ok()
                    .and_then(|d| now.checked_sub_signed(d))
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
            })
        };
        RetentionCutoffs {
            now,
            events: c(self.events),
            runs: c(self.runs),
            resolved_drift: c(self.resolved_drift),
            webhook_deliveries: c(self.webhook_deliveries),
            inventory: c(self.inventory),
            secret_syncs: c(self.secret_syncs),
            finished_jobs: c(self.finished_jobs),
            expired_backups: c(self.expired_backups),
            artifacts: c(self.artifacts),
        }
    }
}

/// Rows (and blobs) deleted by one prune.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    pub events: u64,
    pub runs: u64,
    pub resolved_drift: u64,
    pub webhook_deliveries: u64,
    pub inventory: u64,
    pub secret_syncs: u64,
    pub finished_jobs: u64,
    pub expired_backups: u64,
    pub artifacts: u64,
}

/// Artifacts that nothing live refers to ($1 = now, $2 = cut-off).
const UNREFERENCED_ARTIFACTS: &str = "SELECT a.sha256 FROM ops.artifacts a
    WHERE a.created_at < $2
      AND NOT EXISTS (SELECT 1 FROM ops.backups b WHERE a.sha256 IN (b.sha256, b.filestore_sha256, b.manifest_sha256) AND (b.expires_at IS NULL OR b.expires_at > $1))
      AND NOT EXISTS (SELECT 1 FROM ops.plans p WHERE p.artifact_sha256 = a.sha256)
      AND NOT EXISTS (SELECT 1 FROM ops.gate_results g WHERE g.evidence_sha256 = a.sha256)";

/// The same guard, re-checked at delete time ($1 = now, $2 = cut-off, $3 = id).
const DELETE_ARTIFACT: &str = "DELETE FROM ops.artifacts WHERE sha256 = $3 AND created_at < $2
      AND NOT EXISTS (SELECT 1 FROM ops.backups b WHERE $3 IN (b.sha256, b.filestore_sha256, b.manifest_sha256) AND (b.expires_at IS NULL OR b.expires_at > $1))
      AND NOT EXISTS (SELECT 1 FROM ops.plans p WHERE p.artifact_sha256 = $3)
      AND NOT EXISTS (SELECT 1 FROM ops.gate_results g WHERE g.evidence_sha256 = $3)";

impl Store {
    /// Apply a retention policy now.
    pub async fn prune(&self, policy: &RetentionPolicy) -> Result<PruneReport> {
        self.prune_at(&policy.cutoffs(now())).await
    }

    /// Apply explicit cut-offs (tests pass a clock of their own).
    pub async fn prune_at(&self, c: &RetentionCutoffs) -> Result<PruneReport> {
        let mut r = PruneReport::default();
        let del = |sql: &'static str| self.sql(sql);
        if let Some(t) = c.events {
            let sql = del("DELETE FROM ops.run_events WHERE ts < $1");
            r.events =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.runs {
            let sql = del("DELETE FROM ops.runs WHERE finished_at IS NOT NULL AND started_at < $1");
            r.runs =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.resolved_drift {
            let sql = del(
                "DELETE FROM ops.drift_findings WHERE resolved_at IS NOT NULL AND resolved_at < $1",
            );
            r.resolved_drift =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.webhook_deliveries {
            let sql = del("DELETE FROM ops.webhook_deliveries WHERE received_at < $1");
            r.webhook_deliveries =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.inventory {
            let sql = del("DELETE FROM ops.inventory WHERE observed_at < $1");
            r.inventory =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.secret_syncs {
            let sql = del("DELETE FROM ops.secret_sync_runs WHERE created_at < $1");
            r.secret_syncs =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.finished_jobs {
            let sql = del(
                "DELETE FROM ops.work_queue WHERE status IN ('done', 'failed') AND updated_at < $1",
            );
            r.finished_jobs =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
        }
        if let Some(t) = c.expired_backups {
            let sql =
                del("DELETE FROM ops.backups WHERE expires_at IS NOT NULL AND expires_at < $1");
            r.expired_backups =
                with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected());
            let sql = del(
                "DELETE FROM ops.backup_jobs WHERE finished_at IS NOT NULL AND finished_at < $1
                 AND NOT EXISTS (SELECT 1 FROM ops.backups b WHERE b.job_id = ops.backup_jobs.id)",
            );
            with_pool!(self, p => {
                sqlx::query(&sql).bind(t).execute(p).await?;
            });
        }
        if let Some(t) = c.artifacts {
            let sql = del(UNREFERENCED_ARTIFACTS);
            let ids: Vec<String> = with_pool!(self, p => sqlx::query_scalar(&sql).bind(c.now).bind(t).fetch_all(p).await?);
            let sql = del(DELETE_ARTIFACT);
            for id in ids {
                let n = with_pool!(self, p => sqlx::query(&sql).bind(c.now).bind(t).bind(&id)
                    .execute(p).await?.rows_affected());
                if n == 1 {
                    self.artifact_store().delete(&id).await?;
                    r.artifacts += 1;
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cutoffs_are_now_minus_each_duration() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 1, 31, 0, 0, 0)
            .single()
            .expect("valid date");
        let p = RetentionPolicy {
            events: Some(Duration::from_secs(DAY)),
            artifacts: None,
            ..Default::default()
        };
        let c = p.cutoffs(now);
        assert_eq!(
            c.events,
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 1, 30, 0, 0, 0)
                    .single()
                    .expect("valid")
            )
        );
        assert_eq!(c.artifacts, None);
        assert_eq!(c.runs, Some(now - chrono::Duration::days(180)));
    }

    #[test]
    fn huge_durations_do_not_overflow() {
        let p = RetentionPolicy {
            events: Some(Duration::MAX),
            ..Default::default()
        };
        let _ = p.cutoffs(chrono::Utc::now());
    }
}
