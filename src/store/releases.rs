//! Releases (`ops.releases`): one row per deploy of Odoo to an environment, its steps
//! appended as they finish, closed with its outcome. The latest healthy release of each
//! environment is what the engine compares a desired release with — read in one query,
//! without asking any host.

use super::{now, with_pool, Result, Store, StoreError, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// How a release ended.
pub const RELEASE_DEPLOYING: &str = "deploying";
pub const RELEASE_HEALTHY: &str = "healthy";
pub const RELEASE_FAILED: &str = "failed";
pub const RELEASE_ROLLED_BACK: &str = "rolled_back";
pub const RELEASE_SUPERSEDED: &str = "superseded";
/// Its controller died mid-deploy; the next apply undid it (and deploys it again).
pub const RELEASE_INTERRUPTED: &str = "interrupted";

#[derive(Clone, Debug, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Release {
    pub id: Uuid,
    pub environment: String,
    pub run_id: Option<Uuid>,
    pub commit_sha: String,
    pub odoo_revision: String,
    pub config_digest: String,
    pub requirements_digest: Option<String>,
    pub secrets_digest: Option<String>,
    pub modules_installed: Value,
    pub modules_updated: Value,
    pub status: String,
    pub trigger: String,
    pub actor: String,
    pub previous_release_id: Option<Uuid>,
    pub backup_id: Option<Uuid>,
    pub steps: Value,
    pub log_sha256: Option<String>,
    pub url: Option<String>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// A release about to be deployed.
#[derive(Clone, Debug, Default)]
pub struct NewRelease {
    pub environment: String,
    pub run_id: Option<Uuid>,
    pub commit_sha: String,
    pub odoo_revision: String,
    pub config_digest: String,
    pub requirements_digest: Option<String>,
    pub secrets_digest: Option<String>,
    pub modules_installed: Vec<String>,
    pub modules_updated: Vec<String>,
    pub trigger: String,
    pub actor: String,
    pub previous_release_id: Option<Uuid>,
}

/// One step of a deploy, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStep {
    pub name: String,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    /// `ok`, `failed` or `skipped`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// How a release ended.
#[derive(Clone, Debug, Default)]
pub struct ReleaseEnd {
    pub status: String,
    pub backup_id: Option<Uuid>,
    pub log_sha256: Option<String>,
    pub url: Option<String>,
    pub error: Option<String>,
}

impl Store {
    pub async fn begin_release(&self, r: &NewRelease) -> Result<Release> {
        let sql = self.sql(
            "INSERT INTO ops.releases (id, environment, run_id, commit_sha, odoo_revision, config_digest,
                requirements_digest, secrets_digest, modules_installed, modules_updated, status, trigger,
                actor, previous_release_id, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'deploying', $11, $12, $13, $14) RETURNING *",
        );
        let json = |v: &[String]| serde_json::to_value(v).unwrap_or(Value::Array(Vec::new()));
        Ok(with_pool!(self, p => sqlx::query_as::<_, Release>(&sql)
            .bind(Uuid::now_v7())
            .bind(&r.environment)
            .bind(r.run_id)
            .bind(&r.commit_sha)
            .bind(&r.odoo_revision)
            .bind(&r.config_digest)
            .bind(&r.requirements_digest)
            .bind(&r.secrets_digest)
            .bind(json(&r.modules_installed))
            .bind(json(&r.modules_updated))
            .bind(&r.trigger)
            .bind(&r.actor)
            .bind(r.previous_release_id)
            .bind(now())
            .fetch_one(p)
            .await?))
    }

    /// Append a finished step.
    pub async fn release_step(&self, id: Uuid, step: &ReleaseStep) -> Result<()> {
        let mut row = self
            .release(id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("release {id} not found")))?;
        let mut steps: Vec<Value> = row.steps.as_array().cloned().unwrap_or_default();
        steps.push(serde_json::to_value(step).unwrap_or(Value::Null));
        row.steps = Value::Array(steps);
        let sql = self.sql("UPDATE ops.releases SET steps = $2 WHERE id = $1");
        with_pool!(self, p => {
            sqlx::query(&sql).bind(id).bind(&row.steps).execute(p).await?;
        });
        Ok(())
    }

    /// Close a release with its outcome.
    pub async fn finish_release(&self, id: Uuid, end: &ReleaseEnd) -> Result<Release> {
        let sql = self.sql(
            "UPDATE ops.releases SET status = $2, backup_id = COALESCE($3, backup_id),
                log_sha256 = COALESCE($4, log_sha256), url = COALESCE($5, url), error = $6,
                finished_at = $7
             WHERE id = $1 RETURNING *",
        );
        let row = with_pool!(self, p => sqlx::query_as::<_, Release>(&sql)
            .bind(id)
            .bind(&end.status)
            .bind(end.backup_id)
            .bind(&end.log_sha256)
            .bind(&end.url)
            .bind(&end.error)
            .bind(now())
            .fetch_optional(p)
            .await?);
        row.ok_or_else(|| StoreError::Invalid(format!("release {id} not found")))
    }

    /// Replace what a release says is installed with what its database says (Odoo's
    /// auto-installed modules and dependencies included).
    pub async fn set_release_modules(&self, id: Uuid, installed: &[String]) -> Result<()> {
        let sql = self.sql("UPDATE ops.releases SET modules_installed = $2 WHERE id = $1");
        with_pool!(self, p => {
            sqlx::query(&sql)
                .bind(id)
                .bind(serde_json::to_value(installed).unwrap_or(Value::Array(Vec::new())))
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Mark every other healthy release of `environment` superseded by `by`.
    pub async fn supersede_releases(&self, environment: &str, by: Uuid) -> Result<u64> {
        let sql = self.sql(
            "UPDATE ops.releases SET status = 'superseded'
             WHERE environment = $1 AND status = 'healthy' AND id <> $2",
        );
        Ok(with_pool!(self, p => sqlx::query(&sql)
            .bind(environment)
            .bind(by)
            .execute(p)
            .await?
            .rows_affected()))
    }

    pub async fn release(&self, id: Uuid) -> Result<Option<Release>> {
        let sql = self.sql("SELECT * FROM ops.releases WHERE id = $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Release>(&sql).bind(id).fetch_optional(p).await?),
        )
    }

    /// The releases of `environment` (every environment when `None`), newest first.
    pub async fn releases(&self, environment: Option<&str>, limit: i64) -> Result<Vec<Release>> {
        Ok(match environment {
            Some(env) => {
                let sql = self.sql(
                    "SELECT * FROM ops.releases WHERE environment = $1
                     ORDER BY started_at DESC, id DESC LIMIT $2",
                );
                with_pool!(self, p => sqlx::query_as::<_, Release>(&sql)
                    .bind(env)
                    .bind(limit)
                    .fetch_all(p)
                    .await?)
            }
            None => {
                let sql = self
                    .sql("SELECT * FROM ops.releases ORDER BY started_at DESC, id DESC LIMIT $1");
                with_pool!(self, p => sqlx::query_as::<_, Release>(&sql)
                    .bind(limit)
                    .fetch_all(p)
                    .await?)
            }
        })
    }

    /// The release each environment serves now (its latest healthy one), in one query.
    pub async fn serving_releases(&self) -> Result<Vec<Release>> {
        let sql = self.sql(
            "SELECT * FROM ops.releases r WHERE r.status = 'healthy' AND NOT EXISTS (
                SELECT 1 FROM ops.releases n WHERE n.environment = r.environment
                  AND n.status = 'healthy' AND (n.started_at > r.started_at
                  OR (n.started_at = r.started_at AND n.id > r.id)))
             ORDER BY r.environment",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Release>(&sql).fetch_all(p).await?))
    }

    /// The latest release of each environment, whatever its status, in one query.
    pub async fn latest_releases(&self) -> Result<Vec<Release>> {
        let sql = self.sql(
            "SELECT * FROM ops.releases r WHERE NOT EXISTS (
                SELECT 1 FROM ops.releases n WHERE n.environment = r.environment
                  AND (n.started_at > r.started_at
                  OR (n.started_at = r.started_at AND n.id > r.id)))
             ORDER BY r.environment",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Release>(&sql).fetch_all(p).await?))
    }

    /// The environments a release ever served (healthy, or superseded since).
    pub async fn served_environments(&self) -> Result<Vec<String>> {
        let sql = self.sql(
            "SELECT DISTINCT environment FROM ops.releases
             WHERE status IN ('healthy', 'superseded') ORDER BY environment",
        );
        Ok(with_pool!(self, p => sqlx::query_scalar::<_, String>(&sql).fetch_all(p).await?))
    }

    /// Releases left `deploying` (by a process that died).
    pub async fn unfinished_releases(&self) -> Result<Vec<Release>> {
        let sql =
            self.sql("SELECT * FROM ops.releases WHERE status = 'deploying' ORDER BY started_at");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Release>(&sql).fetch_all(p).await?))
    }
}
