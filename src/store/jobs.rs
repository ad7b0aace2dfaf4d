//! Bounded jobs: one row per execution (`ops.job_runs`) and the state of each job, kind +
//! environment (`ops.job_states`: consecutive timeouts, disabled or not). The policy (when to
//! disable) lives in `crate::jobs`; these are its statements.

use super::types::*;
use super::{now, with_pool, Result, Store, StoreError};
use uuid::Uuid;

impl Store {
    /// Record the start of a job execution.
    pub async fn begin_job_run(
        &self,
        kind: &str,
        environment: &str,
        timeout_ms: i64,
        outcome: JobOutcome,
    ) -> Result<JobRun> {
        let sql = self.sql(
            "INSERT INTO ops.job_runs (id, kind, environment, timeout_ms, outcome, started_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, JobRun>(&sql)
            .bind(Uuid::now_v7()).bind(kind).bind(environment).bind(timeout_ms)
            .bind(outcome.as_str()).bind(now())
            .fetch_one(p).await?))
    }

    /// Record the end of a job execution.
    pub async fn finish_job_run(
        &self,
        id: Uuid,
        outcome: JobOutcome,
        error: Option<&str>,
        run_id: Option<Uuid>,
        duration_ms: i64,
        consecutive_timeouts: i32,
    ) -> Result<JobRun> {
        let sql = self.sql(
            "UPDATE ops.job_runs SET outcome = $2, error = $3, run_id = $4, duration_ms = $5,
                    consecutive_timeouts = $6, finished_at = $7
              WHERE id = $1 RETURNING *",
        );
        let row = with_pool!(self, p => sqlx::query_as::<_, JobRun>(&sql)
            .bind(id).bind(outcome.as_str()).bind(error).bind(run_id).bind(duration_ms)
            .bind(consecutive_timeouts).bind(now())
            .fetch_optional(p).await?);
        row.ok_or_else(|| StoreError::Invalid(format!("job run {id} not found")))
    }

    /// The state of a job, if it ever ran.
    pub async fn job_state(&self, kind: &str, environment: &str) -> Result<Option<JobState>> {
        let sql = self.sql("SELECT * FROM ops.job_states WHERE kind = $1 AND environment = $2");
        Ok(with_pool!(self, p => sqlx::query_as::<_, JobState>(&sql)
            .bind(kind).bind(environment).fetch_optional(p).await?))
    }

    /// Every job state (disabled ones first).
    pub async fn job_states(&self) -> Result<Vec<JobState>> {
        let sql =
            self.sql("SELECT * FROM ops.job_states ORDER BY disabled DESC, kind, environment");
        Ok(with_pool!(self, p => sqlx::query_as::<_, JobState>(&sql).fetch_all(p).await?))
    }

    /// Write a job's state (insert or replace).
    pub async fn set_job_state(
        &self,
        kind: &str,
        environment: &str,
        consecutive_timeouts: i32,
        disabled_reason: Option<&str>,
    ) -> Result<JobState> {
        let disabled = disabled_reason.is_some();
        let at = disabled.then(now);
        let sql = self.sql(
            "INSERT INTO ops.job_states (kind, environment, consecutive_timeouts, disabled, disabled_reason, disabled_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (kind, environment) DO UPDATE SET
                consecutive_timeouts = excluded.consecutive_timeouts, disabled = excluded.disabled,
                disabled_reason = excluded.disabled_reason, disabled_at = excluded.disabled_at,
                updated_at = excluded.updated_at
             RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, JobState>(&sql)
            .bind(kind).bind(environment).bind(consecutive_timeouts).bind(disabled)
            .bind(disabled_reason).bind(at).bind(now())
            .fetch_one(p).await?))
    }

    /// Job executions, newest first, optionally of one kind and/or environment.
    pub async fn job_runs(
        &self,
        kind: Option<&str>,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobRun>> {
        let sql = self.sql(
            "SELECT * FROM ops.job_runs WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR environment = $2)
             ORDER BY started_at DESC, id DESC LIMIT $3",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, JobRun>(&sql)
            .bind(kind).bind(environment).bind(limit).fetch_all(p).await?))
    }
}
