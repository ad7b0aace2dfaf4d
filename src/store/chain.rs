//! Read-side queries that link one piece of evidence to the others (the console's evidence
//! chain: run ↔ plan ↔ apply ↔ actions ↔ releases ↔ backups ↔ jobs), and the inputs of its
//! charts. Every query is bounded by a `LIMIT` or by an indexed key.

use super::types::*;
use super::{with_pool, Result, Store, Timestamp};
use uuid::Uuid;

/// One drift finding's life: when it was first seen and when (if) it was resolved.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct DriftSpan {
    pub environment: String,
    pub first_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

/// A managed object of one environment with the time it was recorded.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct ManagedRow {
    pub resource_key: String,
    pub kind: String,
    pub name: String,
    pub provider_id: String,
    pub updated_at: Timestamp,
    /// The address the action that made it answered with (a droplet's IPv4), if any.
    pub address: Option<String>,
}

impl Store {
    /// The runs that applied plan `plan_id`: those whose ledger actions name it, and apply
    /// runs whose summary names it (an apply that found nothing left to do), newest first.
    pub async fn runs_applying_plan(&self, plan_id: Uuid) -> Result<Vec<Run>> {
        let sql = self.sql(
            "SELECT * FROM ops.runs WHERE id IN (SELECT run_id FROM ops.actions WHERE plan_id = $1)
                OR (kind = 'apply' AND summary->>'plan_id' = $2)
             ORDER BY started_at DESC LIMIT 50",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql)
            .bind(plan_id)
            .bind(plan_id.to_string())
            .fetch_all(p)
            .await?))
    }

    /// The releases a run deployed.
    pub async fn releases_for_run(&self, run_id: Uuid) -> Result<Vec<super::Release>> {
        let sql = self
            .sql("SELECT * FROM ops.releases WHERE run_id = $1 ORDER BY started_at DESC LIMIT 200");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, super::Release>(&sql)
            .bind(run_id)
            .fetch_all(p)
            .await?),
        )
    }

    /// The backups a run took (pre-update backups of its releases, backup runs).
    pub async fn backups_for_run(&self, run_id: Uuid) -> Result<Vec<Backup>> {
        let sql = self
            .sql("SELECT * FROM ops.backups WHERE run_id = $1 ORDER BY created_at DESC LIMIT 200");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Backup>(&sql)
            .bind(run_id)
            .fetch_all(p)
            .await?))
    }

    /// The jobs whose result names `run_id` (the job that started the run).
    pub async fn jobs_for_run(&self, run_id: Uuid) -> Result<Vec<QueueJob>> {
        let sql = self.sql(
            "SELECT * FROM ops.work_queue WHERE result->>'run_id' = $1 OR result->>'plan_run_id' = $1
             ORDER BY updated_at DESC LIMIT 20",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql)
            .bind(run_id.to_string())
            .fetch_all(p)
            .await?))
    }

    /// The first run of a correlation id.
    pub async fn run_by_correlation(&self, correlation_id: &str) -> Result<Option<Run>> {
        let sql = self.sql(
            "SELECT * FROM ops.runs WHERE correlation_id = $1 ORDER BY started_at, id LIMIT 1",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql)
            .bind(correlation_id)
            .fetch_optional(p)
            .await?))
    }

    /// The latest run over every environment (no `environment`): it counts for each of them.
    pub async fn latest_global_run(&self) -> Result<Option<Run>> {
        let sql = self.sql(
            "SELECT * FROM ops.runs WHERE environment IS NULL ORDER BY started_at DESC LIMIT 1",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql).fetch_optional(p).await?))
    }

    /// Failed runs, newest first.
    pub async fn failed_runs(&self, limit: i64) -> Result<Vec<Run>> {
        let sql = self.sql(
            "SELECT * FROM ops.runs WHERE status = 'failed' ORDER BY started_at DESC LIMIT $1",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql).bind(limit).fetch_all(p).await?))
    }

    /// Jobs of one status (all when `None`), most recently updated first.
    pub async fn jobs(&self, status: Option<&str>, limit: i64) -> Result<Vec<QueueJob>> {
        Ok(match status {
            Some(s) => {
                let sql = self.sql(
                    "SELECT * FROM ops.work_queue WHERE status = $1 ORDER BY updated_at DESC LIMIT $2",
                );
                with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql)
                    .bind(s).bind(limit).fetch_all(p).await?)
            }
            None => self.recent_jobs(limit).await?,
        })
    }

    /// The lives of the findings open at any time since `since` (of one environment, or of
    /// all), oldest first: the input of the drift-over-time charts.
    pub async fn drift_spans(
        &self,
        environment: Option<&str>,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<DriftSpan>> {
        Ok(match environment {
            Some(env) => {
                let sql = self.sql(
                    "SELECT environment, first_seen, resolved_at FROM ops.drift_findings
                     WHERE environment = $1 AND (resolved_at IS NULL OR resolved_at >= $2)
                     ORDER BY first_seen LIMIT $3",
                );
                with_pool!(self, p => sqlx::query_as::<_, DriftSpan>(&sql)
                    .bind(env).bind(since).bind(limit).fetch_all(p).await?)
            }
            None => {
                let sql = self.sql(
                    "SELECT environment, first_seen, resolved_at FROM ops.drift_findings
                     WHERE resolved_at IS NULL OR resolved_at >= $1
                     ORDER BY first_seen LIMIT $2",
                );
                with_pool!(self, p => sqlx::query_as::<_, DriftSpan>(&sql)
                    .bind(since).bind(limit).fetch_all(p).await?)
            }
        })
    }

    /// Findings resolved since `since` (of one environment, or of all), latest first.
    pub async fn resolved_drift(
        &self,
        environment: Option<&str>,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<DriftFinding>> {
        Ok(match environment {
            Some(env) => {
                let sql = self.sql(
                    "SELECT * FROM ops.drift_findings WHERE resolved_at >= $1 AND environment = $2
                     ORDER BY resolved_at DESC LIMIT $3",
                );
                with_pool!(self, p => sqlx::query_as::<_, DriftFinding>(&sql)
                    .bind(since).bind(env).bind(limit).fetch_all(p).await?)
            }
            None => {
                let sql = self.sql(
                    "SELECT * FROM ops.drift_findings WHERE resolved_at >= $1
                     ORDER BY resolved_at DESC LIMIT $2",
                );
                with_pool!(self, p => sqlx::query_as::<_, DriftFinding>(&sql)
                    .bind(since).bind(limit).fetch_all(p).await?)
            }
        })
    }

    /// The recorded inventory of one environment (objects this controller made or adopted).
    pub async fn managed_in(&self, environment: &str) -> Result<Vec<ManagedRow>> {
        let sql = self.sql(
            "SELECT m.resource_key, m.kind, m.name, m.provider_id, m.updated_at,
                    a.response_summary->>'ipv4' AS address
             FROM ops.managed_objects m LEFT JOIN ops.actions a ON a.id = m.action_id
             WHERE m.environment = $1 ORDER BY m.kind, m.name LIMIT 500",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, ManagedRow>(&sql)
            .bind(environment).fetch_all(p).await?))
    }

    /// Objects of one environment in the most recent inventory ingest.
    pub async fn inventory_in(&self, environment: &str) -> Result<Vec<InventoryObject>> {
        let sql = self.sql(
            "SELECT * FROM ops.inventory WHERE environment = $1 AND ingest_id =
                (SELECT ingest_id FROM ops.inventory ORDER BY observed_at DESC, id DESC LIMIT 1)
             ORDER BY provider, object_type, object_id LIMIT 500",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, InventoryObject>(&sql)
            .bind(environment).fetch_all(p).await?),
        )
    }

    /// Gate results of one environment, newest first.
    pub async fn gate_results_in(&self, environment: &str, limit: i64) -> Result<Vec<GateResult>> {
        let sql = self.sql(
            "SELECT * FROM ops.gate_results WHERE environment = $1
             ORDER BY created_at DESC, id DESC LIMIT $2",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, GateResult>(&sql)
            .bind(environment).bind(limit).fetch_all(p).await?))
    }

    /// Number of releases of one environment.
    pub async fn release_count(&self, environment: &str) -> Result<i64> {
        let sql = self.sql("SELECT count(*) FROM ops.releases WHERE environment = $1");
        Ok(with_pool!(self, p => sqlx::query_scalar::<_, i64>(&sql)
            .bind(environment).fetch_one(p).await?))
    }

    /// Runs of one environment and runs over every environment, newest first.
    pub async fn runs_in(&self, environment: &str, limit: i64) -> Result<Vec<Run>> {
        let sql = self.sql(
            "SELECT * FROM (SELECT * FROM ops.runs WHERE environment = $1
                              ORDER BY started_at DESC LIMIT $2) a
             UNION ALL
             SELECT * FROM (SELECT * FROM ops.runs WHERE environment IS NULL
                              ORDER BY started_at DESC LIMIT $2) b
             ORDER BY started_at DESC LIMIT $2",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql)
            .bind(environment).bind(limit).fetch_all(p).await?))
    }

    /// Open findings of one environment (the partial index on open findings).
    pub async fn open_drift_count(&self, environment: &str) -> Result<i64> {
        let sql = self.sql(
            "SELECT count(*) FROM ops.drift_findings WHERE environment = $1 AND resolved_at IS NULL",
        );
        Ok(with_pool!(self, p => sqlx::query_scalar::<_, i64>(&sql)
            .bind(environment).fetch_one(p).await?))
    }

    /// When the last `limit` finished deploys of one environment started and ended, and how
    /// they ended (the deploy-duration chart), newest first.
    pub async fn release_timings(
        &self,
        environment: &str,
        limit: i64,
    ) -> Result<Vec<ReleaseTiming>> {
        let sql = self.sql(
            "SELECT started_at, finished_at, status FROM ops.releases
             WHERE environment = $1 AND finished_at IS NOT NULL
             ORDER BY started_at DESC LIMIT $2",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, ReleaseTiming>(&sql)
            .bind(environment).bind(limit).fetch_all(p).await?),
        )
    }

    /// The jobs of one environment (their payload's `environment`), most recently updated first.
    pub async fn jobs_in(&self, environment: &str, limit: i64) -> Result<Vec<QueueJob>> {
        let sql = self.sql(
            "SELECT * FROM ops.work_queue WHERE payload->>'environment' = $1
             ORDER BY updated_at DESC LIMIT $2",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql)
            .bind(environment).bind(limit).fetch_all(p).await?))
    }
}

/// A deploy's timing (see [`Store::release_timings`]).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct ReleaseTiming {
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: String,
}
