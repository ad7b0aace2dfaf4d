//! Read-side queries the console needs (lists and counts over the evidence), kept beside the
//! rest of the crate's SQL.

use super::types::*;
use super::{with_pool, Result, Store};
use uuid::Uuid;

/// Open drift findings of one field path: in one environment, or in all of them
/// (`environment` None).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct FieldCount {
    pub environment: Option<String>,
    pub field_path: String,
    pub open: i64,
}

/// A count per status (or outcome) value.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

impl Store {
    /// A cheap round trip to the database (readiness probes).
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, p => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p).await?);
        Ok(())
    }

    /// Number of runs per status.
    pub async fn runs_by_status(&self) -> Result<Vec<StatusCount>> {
        let sql = self
            .sql("SELECT status, count(*) AS count FROM ops.runs GROUP BY status ORDER BY status");
        Ok(with_pool!(self, p => sqlx::query_as::<_, StatusCount>(&sql).fetch_all(p).await?))
    }

    /// Jobs waiting or being worked on (queued or claimed).
    pub async fn queue_depth(&self) -> Result<i64> {
        let sql =
            self.sql("SELECT count(*) FROM ops.work_queue WHERE status IN ('queued', 'claimed')");
        Ok(with_pool!(self, p => sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await?))
    }

    /// Most recently updated jobs first.
    pub async fn recent_jobs(&self, limit: i64) -> Result<Vec<QueueJob>> {
        let sql = self.sql("SELECT * FROM ops.work_queue ORDER BY updated_at DESC LIMIT $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql).bind(limit).fetch_all(p).await?),
        )
    }

    /// The job holding a dedupe key, whatever its status.
    pub async fn job_by_dedupe_key(&self, dedupe_key: &str) -> Result<Option<QueueJob>> {
        let sql = self.sql("SELECT * FROM ops.work_queue WHERE dedupe_key = $1");
        Ok(with_pool!(self, p => sqlx::query_as::<_, QueueJob>(&sql)
            .bind(dedupe_key).fetch_optional(p).await?))
    }

    /// Open findings per field path, over every open finding: of one environment, or summed
    /// over all of them (`environment` None in the rows).
    pub async fn open_drift_by_field(&self, environment: Option<&str>) -> Result<Vec<FieldCount>> {
        Ok(match environment {
            Some(env) => {
                let sql = self.sql(
                    "SELECT environment, field_path, count(*) AS open FROM ops.drift_findings
                     WHERE resolved_at IS NULL AND environment = $1
                     GROUP BY environment, field_path ORDER BY environment, field_path",
                );
                with_pool!(self, p => sqlx::query_as::<_, FieldCount>(&sql)
                    .bind(env).fetch_all(p).await?)
            }
            None => {
                let sql = self.sql(
                    "SELECT NULL AS environment, field_path, count(*) AS open FROM ops.drift_findings
                     WHERE resolved_at IS NULL GROUP BY field_path ORDER BY field_path",
                );
                with_pool!(self, p => sqlx::query_as::<_, FieldCount>(&sql).fetch_all(p).await?)
            }
        })
    }

    /// The most recent run of each environment (runs without one are left out).
    pub async fn last_run_per_environment(&self) -> Result<Vec<Run>> {
        // The inner GROUP BY reads only the (environment, started_at) index.
        let sql = self.sql(
            "SELECT r.* FROM ops.runs r
             JOIN (SELECT environment, max(started_at) AS last FROM ops.runs
                   WHERE environment IS NOT NULL GROUP BY environment) l
               ON r.environment = l.environment AND r.started_at = l.last",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql).fetch_all(p).await?))
    }

    /// Plans still `planned`, newest first.
    pub async fn planned_plans(&self, limit: i64) -> Result<Vec<Plan>> {
        let sql = self.sql(
            "SELECT * FROM ops.plans WHERE status = 'planned' ORDER BY created_at DESC LIMIT $1",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Plan>(&sql).bind(limit).fetch_all(p).await?))
    }

    pub async fn plans_for_run(&self, run_id: Uuid) -> Result<Vec<Plan>> {
        let sql = self.sql("SELECT * FROM ops.plans WHERE run_id = $1 ORDER BY created_at");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Plan>(&sql).bind(run_id).fetch_all(p).await?))
    }

    pub async fn actions_for_run(&self, run_id: Uuid) -> Result<Vec<Action>> {
        let sql = self.sql("SELECT * FROM ops.actions WHERE run_id = $1 ORDER BY created_at");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Action>(&sql).bind(run_id).fetch_all(p).await?),
        )
    }

    /// Gate runs, newest first.
    pub async fn recent_gate_runs(&self, limit: i64) -> Result<Vec<GateRun>> {
        let sql = self.sql("SELECT * FROM ops.gate_runs ORDER BY started_at DESC LIMIT $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, GateRun>(&sql).bind(limit).fetch_all(p).await?),
        )
    }

    /// Gate results, newest first.
    pub async fn recent_gate_results(&self, limit: i64) -> Result<Vec<GateResult>> {
        let sql =
            self.sql("SELECT * FROM ops.gate_results ORDER BY created_at DESC, id DESC LIMIT $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, GateResult>(&sql).bind(limit).fetch_all(p).await?),
        )
    }

    /// Number of gate results per outcome.
    pub async fn gate_outcomes(&self) -> Result<Vec<StatusCount>> {
        let sql = self.sql(
            "SELECT outcome AS status, count(*) AS count FROM ops.gate_results GROUP BY outcome ORDER BY outcome",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, StatusCount>(&sql).fetch_all(p).await?))
    }

    /// Objects of the most recent inventory ingest.
    pub async fn latest_inventory(&self, limit: i64) -> Result<Vec<InventoryObject>> {
        let sql = self.sql(
            "SELECT * FROM ops.inventory WHERE ingest_id =
                (SELECT ingest_id FROM ops.inventory ORDER BY observed_at DESC, id DESC LIMIT 1)
             ORDER BY provider, object_type, object_id LIMIT $1",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, InventoryObject>(&sql).bind(limit).fetch_all(p).await?),
        )
    }

    /// Webhook deliveries, newest first.
    pub async fn recent_webhook_deliveries(&self, limit: i64) -> Result<Vec<WebhookDelivery>> {
        let sql =
            self.sql("SELECT * FROM ops.webhook_deliveries ORDER BY received_at DESC LIMIT $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, WebhookDelivery>(&sql).bind(limit).fetch_all(p).await?),
        )
    }
}
