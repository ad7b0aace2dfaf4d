//! The durable work queue: jobs with a dedupe key, claimed under a lease that lapses when the
//! holder dies. PostgreSQL claims with `FOR UPDATE SKIP LOCKED`; SQLite inside `BEGIN
//! IMMEDIATE` (one writer at a time, so no two workers can claim the same job).

use super::types::*;
use super::{now, Pool, Result, Store};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Store {
    /// Enqueue a job unless one with the same dedupe key is queued or claimed. A finished
    /// (done/failed) job with that key is re-armed with the new payload.
    pub async fn enqueue(
        &self,
        queue: &str,
        dedupe_key: &str,
        payload: &Value,
        delay: Option<Duration>,
    ) -> Result<Enqueued> {
        let t = now();
        let run_after = t + chrono_dur(delay.unwrap_or_default());
        let sql = self.sql(
            "INSERT INTO ops.work_queue AS q (id, queue, dedupe_key, payload, status, attempts, run_after, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6)
             ON CONFLICT (dedupe_key) DO UPDATE SET
                queue = excluded.queue, payload = excluded.payload, status = 'queued', attempts = 0,
                run_after = excluded.run_after, claimed_by = NULL, lease_expires_at = NULL,
                last_error = NULL, result = NULL, updated_at = excluded.updated_at
             WHERE q.status IN ('done', 'failed')
             RETURNING *",
        );
        let row = super::with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql)
            .bind(Uuid::now_v7()).bind(queue).bind(dedupe_key).bind(payload).bind(run_after).bind(t)
            .fetch_optional(p).await?);
        if let Some(job) = row {
            return Ok(Enqueued::New(job));
        }
        let sql = self.sql("SELECT * FROM ops.work_queue WHERE dedupe_key = $1");
        let existing = super::with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql)
            .bind(dedupe_key).fetch_one(p).await?);
        Ok(Enqueued::Existing(existing))
    }

    /// Claim the next ready job of `queue` for `worker` under a lease of `lease`.
    pub async fn claim(
        &self,
        queue: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<QueueJob>> {
        let t = now();
        let until = t + chrono_dur(lease);
        match &self.pool {
            Pool::Pg(p) => {
                let sql = "UPDATE ops.work_queue SET status = 'claimed', claimed_by = $2, lease_expires_at = $3,
                              attempts = attempts + 1, updated_at = $4
                           WHERE id = (SELECT id FROM ops.work_queue
                                       WHERE queue = $1 AND status = 'queued' AND run_after <= $4
                                       ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                           RETURNING *";
                Ok(sqlx::query_as::<_, QueueJob>(sql)
                    .bind(queue)
                    .bind(worker)
                    .bind(until)
                    .bind(t)
                    .fetch_optional(p)
                    .await?)
            }
            Pool::Lite(p) => {
                let sql = "UPDATE ops_work_queue SET status = 'claimed', claimed_by = $2, lease_expires_at = $3,
                              attempts = attempts + 1, updated_at = $4
                           WHERE id = (SELECT id FROM ops_work_queue
                                       WHERE queue = $1 AND status = 'queued' AND run_after <= $4
                                       ORDER BY run_after, id LIMIT 1)
                           RETURNING *";
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let job = sqlx::query_as::<_, QueueJob>(sql)
                    .bind(queue)
                    .bind(worker)
                    .bind(until)
                    .bind(t)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(job)
            }
        }
    }

    /// Extend the lease of a job this worker holds; false when the lease was lost.
    pub async fn extend_lease(&self, id: Uuid, worker: &str, lease: Duration) -> Result<bool> {
        let t = now();
        let sql = self.sql(
            "UPDATE ops.work_queue SET lease_expires_at = $3, updated_at = $4
             WHERE id = $1 AND claimed_by = $2 AND status = 'claimed'",
        );
        let n = super::with_pool!(self, p => sqlx::query(&sql)
            .bind(id).bind(worker).bind(t + chrono_dur(lease)).bind(t)
            .execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Mark a claimed job done; false when this worker no longer holds it.
    pub async fn complete(&self, id: Uuid, worker: &str) -> Result<bool> {
        let sql = self.sql(
            "UPDATE ops.work_queue SET status = 'done', lease_expires_at = NULL, updated_at = $3
             WHERE id = $1 AND claimed_by = $2 AND status = 'claimed'",
        );
        let n = super::with_pool!(self, p => sqlx::query(&sql)
            .bind(id).bind(worker).bind(now()).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Mark a claimed job done and keep what it produced (`result`, e.g. `{"run_id": …}`),
    /// which the console's job page links; false when this worker no longer holds it.
    pub async fn complete_with_result(
        &self,
        id: Uuid,
        worker: &str,
        result: &Value,
    ) -> Result<bool> {
        let sql = self.sql(
            "UPDATE ops.work_queue SET status = 'done', lease_expires_at = NULL, result = $3, updated_at = $4
             WHERE id = $1 AND claimed_by = $2 AND status = 'claimed'",
        );
        let n = super::with_pool!(self, p => sqlx::query(&sql)
            .bind(id).bind(worker).bind(result).bind(now()).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Record a failure: requeue after `retry_after`, or mark failed when `None`.
    pub async fn fail(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_after: Option<Duration>,
    ) -> Result<bool> {
        let t = now();
        let (status, run_after) = match retry_after {
            Some(d) => ("queued", t + chrono_dur(d)),
            None => ("failed", t),
        };
        let sql = self.sql(
            "UPDATE ops.work_queue SET status = $3, run_after = $4, last_error = $5, claimed_by = NULL,
                lease_expires_at = NULL, updated_at = $6
             WHERE id = $1 AND claimed_by = $2 AND status = 'claimed'",
        );
        let n = super::with_pool!(self, p => sqlx::query(&sql)
            .bind(id).bind(worker).bind(status).bind(run_after).bind(error).bind(t)
            .execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Return jobs whose lease lapsed (their holder died) to the queue; returns how many.
    pub async fn release_expired_leases(&self) -> Result<u64> {
        let t = now();
        let sql = self.sql(
            "UPDATE ops.work_queue SET status = 'queued', claimed_by = NULL, lease_expires_at = NULL, updated_at = $1
             WHERE status = 'claimed' AND lease_expires_at < $1",
        );
        Ok(
            super::with_pool!(self, p => sqlx::query(&sql).bind(t).execute(p).await?.rows_affected()),
        )
    }

    pub async fn job(&self, id: Uuid) -> Result<Option<QueueJob>> {
        let sql = self.sql("SELECT * FROM ops.work_queue WHERE id = $1");
        Ok(
            super::with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql).bind(id).fetch_optional(p).await?),
        )
    }
}
