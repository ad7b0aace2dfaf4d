//! Drift findings, gates, backups, secret syncs, inventory and webhook deliveries.

use super::types::*;
use super::{now, with_pool, Result, Store, StoreError};
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

impl Store {
    // ------------------------------------------------------------ drift

    /// Record observed drift: opens a finding per (environment, resource, field) or refreshes
    /// `last_seen` of the open one. Returns the number of rows written.
    pub async fn upsert_drift(&self, obs: &[DriftObservation]) -> Result<u64> {
        // One row per key per statement (PostgreSQL refuses to upsert a row twice in one
        // statement): the last observation of a key wins.
        let mut seen = std::collections::HashMap::new();
        for (i, o) in obs.iter().enumerate() {
            seen.insert(
                (
                    &o.environment,
                    &o.resource_kind,
                    &o.resource_name,
                    &o.field_path,
                ),
                i,
            );
        }
        let mut idx: Vec<usize> = seen.into_values().collect();
        idx.sort_unstable();
        let rows: Vec<&DriftObservation> = idx.into_iter().map(|i| &obs[i]).collect();
        let t = now();
        let head = self.sql(
            "INSERT INTO ops.drift_findings (id, environment, resource_kind, resource_name, field_path, desired, observed, first_seen, last_seen, last_run_id) ",
        );
        let tail = " ON CONFLICT (environment, resource_kind, resource_name, field_path) WHERE resolved_at IS NULL
             DO UPDATE SET desired = excluded.desired, observed = excluded.observed,
                           last_seen = excluded.last_seen, last_run_id = excluded.last_run_id";
        let mut n = 0;
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for chunk in rows.chunks(1000) {
                let mut qb = QueryBuilder::new(head.as_ref());
                qb.push_values(chunk, |mut b, o| {
                    b.push_bind(Uuid::now_v7())
                        .push_bind(&o.environment)
                        .push_bind(&o.resource_kind)
                        .push_bind(&o.resource_name)
                        .push_bind(&o.field_path)
                        .push_bind(&o.desired)
                        .push_bind(&o.observed)
                        .push_bind(t)
                        .push_bind(t)
                        .push_bind(o.run_id);
                });
                qb.push(tail);
                n += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        });
        Ok(n)
    }

    /// Resolve open findings of a resource (one field, or every field when `field_path` is
    /// `None`); `resolved_by` names the run, actor or "converged". Returns how many closed.
    pub async fn resolve_drift(
        &self,
        environment: &str,
        resource_kind: &str,
        resource_name: &str,
        field_path: Option<&str>,
        resolved_by: &str,
    ) -> Result<u64> {
        let sql = self.sql(
            "UPDATE ops.drift_findings SET resolved_at = $5, resolved_by = $6
             WHERE resolved_at IS NULL AND environment = $1 AND resource_kind = $2 AND resource_name = $3
               AND ($4 IS NULL OR field_path = $4)",
        );
        Ok(with_pool!(self, p => sqlx::query(&sql)
            .bind(environment)
            .bind(resource_kind)
            .bind(resource_name)
            .bind(field_path)
            .bind(now())
            .bind(resolved_by)
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// Open findings, most recently seen first; all environments when `environment` is None.
    pub async fn open_drift(
        &self,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DriftFinding>> {
        Ok(match environment {
            Some(env) => {
                let sql = self.sql(
                    "SELECT * FROM ops.drift_findings WHERE resolved_at IS NULL AND environment = $1
                     ORDER BY last_seen DESC LIMIT $2",
                );
                with_pool!(self, p => sqlx::query_as::<_, DriftFinding>(&sql)
                    .bind(env).bind(limit).fetch_all(p).await?)
            }
            None => {
                let sql = self.sql(
                    "SELECT * FROM ops.drift_findings WHERE resolved_at IS NULL ORDER BY last_seen DESC LIMIT $1",
                );
                with_pool!(self, p => sqlx::query_as::<_, DriftFinding>(&sql).bind(limit).fetch_all(p).await?)
            }
        })
    }

    /// Number of open findings per environment (the console's overview).
    pub async fn open_drift_by_env(&self) -> Result<Vec<DriftCount>> {
        let sql = self.sql(
            "SELECT environment, count(*) AS open FROM ops.drift_findings WHERE resolved_at IS NULL
             GROUP BY environment ORDER BY environment",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, DriftCount>(&sql).fetch_all(p).await?))
    }

    // ------------------------------------------------------------ gates

    pub async fn begin_gate_run(&self, run_id: Option<Uuid>, environment: &str) -> Result<GateRun> {
        let sql = self.sql(
            "INSERT INTO ops.gate_runs (id, run_id, environment, status, started_at) VALUES ($1, $2, $3, 'running', $4) RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, GateRun>(&sql)
            .bind(Uuid::now_v7()).bind(run_id).bind(environment).bind(now())
            .fetch_one(p).await?))
    }

    pub async fn record_gate_result(&self, r: &NewGateResult) -> Result<GateResult> {
        if let Some(sha) = &r.evidence_sha256 {
            super::validate_artifact_id(sha)?;
        }
        let sql = self.sql(
            "INSERT INTO ops.gate_results (gate_run_id, gate, environment, outcome, measured, threshold, evidence_sha256, message, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, GateResult>(&sql)
            .bind(r.gate_run_id).bind(&r.gate).bind(&r.environment).bind(r.outcome.as_str())
            .bind(&r.measured).bind(&r.threshold).bind(&r.evidence_sha256).bind(&r.message).bind(now())
            .fetch_one(p).await?))
    }

    pub async fn finish_gate_run(&self, id: Uuid, status: GateRunStatus) -> Result<GateRun> {
        let sql = self.sql(
            "UPDATE ops.gate_runs SET status = $2, finished_at = $3 WHERE id = $1 RETURNING *",
        );
        let row = with_pool!(self, p => sqlx::query_as::<_, GateRun>(&sql)
            .bind(id).bind(status.as_str()).bind(now()).fetch_optional(p).await?);
        row.ok_or_else(|| StoreError::Invalid(format!("gate run {id} not found")))
    }

    pub async fn gate_results(&self, gate_run_id: Uuid) -> Result<Vec<GateResult>> {
        let sql = self.sql("SELECT * FROM ops.gate_results WHERE gate_run_id = $1 ORDER BY id");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, GateResult>(&sql).bind(gate_run_id).fetch_all(p).await?),
        )
    }

    // ------------------------------------------------------------ backups

    pub async fn begin_backup_job(
        &self,
        run_id: Option<Uuid>,
        environment: &str,
        kind: &str,
    ) -> Result<BackupJob> {
        let sql = self.sql(
            "INSERT INTO ops.backup_jobs (id, run_id, environment, kind, status, started_at) VALUES ($1, $2, $3, $4, 'running', $5) RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, BackupJob>(&sql)
            .bind(Uuid::now_v7()).bind(run_id).bind(environment).bind(kind).bind(now())
            .fetch_one(p).await?))
    }

    pub async fn finish_backup_job(
        &self,
        id: Uuid,
        status: JobStatus,
        error: Option<&str>,
    ) -> Result<BackupJob> {
        let sql = self.sql(
            "UPDATE ops.backup_jobs SET status = $2, error = $3, finished_at = $4 WHERE id = $1 RETURNING *",
        );
        let row = with_pool!(self, p => sqlx::query_as::<_, BackupJob>(&sql)
            .bind(id).bind(status.as_str()).bind(error).bind(now()).fetch_optional(p).await?);
        row.ok_or_else(|| StoreError::Invalid(format!("backup job {id} not found")))
    }

    /// Record a backup manifest.
    pub async fn record_backup(&self, b: &NewBackup) -> Result<Backup> {
        self.record_backup_details(b, &BackupDetails::default())
            .await
    }

    /// Record a backup with its run, filestore tarball and full manifest.
    pub async fn record_backup_details(&self, b: &NewBackup, d: &BackupDetails) -> Result<Backup> {
        super::validate_artifact_id(&b.sha256)?;
        for id in [&d.filestore_sha256, &d.manifest_sha256]
            .into_iter()
            .flatten()
        {
            super::validate_artifact_id(id)?;
        }
        let manifest = if d.manifest.is_null() {
            Value::Object(Default::default())
        } else {
            d.manifest.clone()
        };
        let sql = self.sql(
            "INSERT INTO ops.backups (id, job_id, environment, kind, size_bytes, sha256, location, retention_class, created_at, expires_at,
                                      run_id, filestore_sha256, filestore_size_bytes, manifest_sha256, manifest, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Backup>(&sql)
            .bind(Uuid::now_v7()).bind(b.job_id).bind(&b.environment).bind(&b.kind).bind(b.size_bytes)
            .bind(&b.sha256).bind(&b.location).bind(&b.retention_class).bind(now())
            .bind(b.expires_at.map(super::truncate_micros))
            .bind(d.run_id).bind(&d.filestore_sha256).bind(d.filestore_size_bytes).bind(&d.manifest_sha256)
            .bind(&manifest).bind(d.started_at.map(super::truncate_micros))
            .fetch_one(p).await?))
    }

    /// One backup by id.
    pub async fn backup(&self, id: Uuid) -> Result<Option<Backup>> {
        let sql = self.sql("SELECT * FROM ops.backups WHERE id = $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Backup>(&sql).bind(id).fetch_optional(p).await?),
        )
    }

    /// Delete a backup row (its artifacts are the caller's business); true when it existed.
    pub async fn delete_backup(&self, id: Uuid) -> Result<bool> {
        let sql = self.sql("DELETE FROM ops.backups WHERE id = $1");
        let n = with_pool!(self, p => sqlx::query(&sql).bind(id).execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// Record why a backup survives a prune (daily, weekly, monthly, manual, newest).
    pub async fn set_backup_retention_class(&self, id: Uuid, class: &str) -> Result<()> {
        let sql = self.sql("UPDATE ops.backups SET retention_class = $2 WHERE id = $1");
        with_pool!(self, p => { sqlx::query(&sql).bind(id).bind(class).execute(p).await?; });
        Ok(())
    }

    /// Whether any backup row still refers to an artifact (dump, filestore or manifest).
    pub async fn artifact_used_by_backups(&self, sha256: &str) -> Result<bool> {
        let sql = self.sql(
            "SELECT count(*) FROM ops.backups WHERE $1 IN (sha256, filestore_sha256, manifest_sha256)",
        );
        let n: i64 =
            with_pool!(self, p => sqlx::query_scalar(&sql).bind(sha256).fetch_one(p).await?);
        Ok(n > 0)
    }

    /// The newest backup whose dump, filestore or manifest is this artifact.
    pub async fn backup_by_artifact(&self, sha256: &str) -> Result<Option<Backup>> {
        let sql = self.sql(
            "SELECT * FROM ops.backups WHERE $1 IN (sha256, filestore_sha256, manifest_sha256)
             ORDER BY created_at DESC LIMIT 1",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Backup>(&sql).bind(sha256).fetch_optional(p).await?),
        )
    }

    /// Backups, newest first; all environments when `environment` is None.
    pub async fn backups(&self, environment: Option<&str>, limit: i64) -> Result<Vec<Backup>> {
        let sql = self.sql(
            "SELECT * FROM ops.backups WHERE ($1 IS NULL OR environment = $1) ORDER BY created_at DESC LIMIT $2",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Backup>(&sql)
            .bind(environment).bind(limit).fetch_all(p).await?))
    }

    // ------------------------------------------------------------ secret syncs

    /// Record a secret push: key names only (values never reach the store).
    pub async fn record_secret_sync(&self, s: &NewSecretSync) -> Result<SecretSyncRun> {
        let sql = self.sql(
            "INSERT INTO ops.secret_sync_runs (id, run_id, target, environment, pushed_keys, skipped_keys, outcome, message, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        );
        let pushed = Value::from(s.pushed_keys.clone());
        let skipped = Value::from(s.skipped_keys.clone());
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, SecretSyncRun>(&sql)
            .bind(Uuid::now_v7()).bind(s.run_id).bind(&s.target).bind(&s.environment)
            .bind(&pushed).bind(&skipped).bind(&s.outcome).bind(&s.message).bind(now())
            .fetch_one(p).await?),
        )
    }

    pub async fn secret_syncs(
        &self,
        target: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SecretSyncRun>> {
        let sql = self.sql(
            "SELECT * FROM ops.secret_sync_runs WHERE ($1 IS NULL OR target = $1) ORDER BY created_at DESC LIMIT $2",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, SecretSyncRun>(&sql)
            .bind(target).bind(limit).fetch_all(p).await?),
        )
    }

    // ------------------------------------------------------------ inventory

    /// Record one ingest of observed provider objects; returns the ingest id.
    pub async fn ingest_inventory(
        &self,
        run_id: Option<Uuid>,
        objects: &[ObservedObject],
    ) -> Result<Uuid> {
        let ingest = Uuid::now_v7();
        let t = now();
        let head = self.sql(
            "INSERT INTO ops.inventory (ingest_id, run_id, provider, object_type, object_id, name, environment, owned, attributes, observed_at) ",
        );
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for chunk in objects.chunks(1000) {
                let mut qb = QueryBuilder::new(head.as_ref());
                qb.push_values(chunk, |mut b, o| {
                    b.push_bind(ingest).push_bind(run_id).push_bind(&o.provider).push_bind(&o.object_type)
                        .push_bind(&o.object_id).push_bind(&o.name).push_bind(&o.environment)
                        .push_bind(o.owned).push_bind(&o.attributes).push_bind(t);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(ingest)
    }

    pub async fn inventory(&self, ingest_id: Uuid) -> Result<Vec<InventoryObject>> {
        let sql = self.sql("SELECT * FROM ops.inventory WHERE ingest_id = $1 ORDER BY id");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, InventoryObject>(&sql).bind(ingest_id).fetch_all(p).await?),
        )
    }

    // ------------------------------------------------------------ webhooks

    /// Record a webhook delivery if its id is new. Returns true when new (process it), false
    /// for a redelivery (acknowledge and skip).
    pub async fn record_webhook_delivery(
        &self,
        delivery_id: &str,
        source: &str,
        signature_ok: bool,
        payload_sha256: Option<&str>,
    ) -> Result<bool> {
        let sql = self.sql(
            "INSERT INTO ops.webhook_deliveries (delivery_id, source, received_at, signature_ok, processed, payload_sha256)
             VALUES ($1, $2, $3, $4, false, $5) ON CONFLICT (delivery_id) DO NOTHING",
        );
        let n = with_pool!(self, p => sqlx::query(&sql)
            .bind(delivery_id).bind(source).bind(now()).bind(signature_ok).bind(payload_sha256)
            .execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    pub async fn mark_webhook_processed(&self, delivery_id: &str) -> Result<bool> {
        let sql = self.sql(
            "UPDATE ops.webhook_deliveries SET processed = true, processed_at = $2 WHERE delivery_id = $1",
        );
        let n = with_pool!(self, p => sqlx::query(&sql).bind(delivery_id).bind(now()).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    pub async fn webhook_delivery(&self, delivery_id: &str) -> Result<Option<WebhookDelivery>> {
        let sql = self.sql("SELECT * FROM ops.webhook_deliveries WHERE delivery_id = $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, WebhookDelivery>(&sql).bind(delivery_id).fetch_optional(p).await?),
        )
    }
}
