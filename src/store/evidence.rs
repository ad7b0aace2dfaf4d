//! Runs, plans, diffs and the event stream (the idempotency ledger is in `ledger.rs`).

use super::types::*;
use super::{now, with_pool, Pool, Result, Store, StoreError};
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

/// Rows per multi-row INSERT (keeps well under both backends' bind-parameter limits).
const BATCH_ROWS: usize = 1000;

impl Store {
    // ------------------------------------------------------------ runs

    /// Record the start of a run; the row is committed before this returns.
    pub async fn begin_run(&self, run: &NewRun) -> Result<Run> {
        let id = Uuid::now_v7();
        let corr = run.correlation_id.clone().unwrap_or_else(|| id.to_string());
        let sql = self.sql(
            "INSERT INTO ops.runs (id, kind, trigger, ssot_revision, actor, environment, correlation_id, status, summary, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9) RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql)
            .bind(id)
            .bind(run.kind.as_str())
            .bind(run.trigger.as_str())
            .bind(&run.ssot_revision)
            .bind(&run.actor)
            .bind(&run.environment)
            .bind(&corr)
            .bind(Value::Object(Default::default()))
            .bind(now())
            .fetch_one(p)
            .await?))
    }

    /// Record the end of a run with its status and summary (counts, errors, …).
    pub async fn finish_run(&self, id: Uuid, status: RunStatus, summary: &Value) -> Result<Run> {
        let sql = self.sql("UPDATE ops.runs SET status = $2, summary = $3, finished_at = $4 WHERE id = $1 RETURNING *");
        let row = with_pool!(self, p => sqlx::query_as::<_, Run>(&sql)
            .bind(id)
            .bind(status.as_str())
            .bind(summary)
            .bind(now())
            .fetch_optional(p)
            .await?);
        row.ok_or_else(|| StoreError::Invalid(format!("run {id} not found")))
    }

    pub async fn run(&self, id: Uuid) -> Result<Option<Run>> {
        let sql = self.sql("SELECT * FROM ops.runs WHERE id = $1");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql).bind(id).fetch_optional(p).await?))
    }

    /// Most recent runs first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<Run>> {
        let sql = self.sql("SELECT * FROM ops.runs ORDER BY started_at DESC LIMIT $1");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Run>(&sql).bind(limit).fetch_all(p).await?))
    }

    // ------------------------------------------------------------ plans

    /// Save a plan: the row, and its JSON as an artifact (`application/json`) so it can be
    /// linked and downloaded by id. The plan comes as JSON text, written to both as is: a
    /// plan of thousands of creates is megabytes, and no copy of it is made here.
    pub async fn save_plan(&self, plan: NewPlan) -> Result<SavedPlan> {
        let artifact = self
            .put_artifact(plan.plan.as_bytes(), "application/json", Some(plan.run_id))
            .await?;
        let t = now();
        let id = Uuid::now_v7();
        let sql = self.sql_owned(format!(
            "INSERT INTO ops.plans (id, run_id, ssot_revision, live_fingerprint, plan, rendered, status, artifact_sha256, created_at, updated_at)
             VALUES ($1, $2, $3, $4, {}, $6, 'planned', $7, $8, $8)",
            if self.is_pg() { "$5::jsonb" } else { "$5" }
        ));
        with_pool!(self, p => sqlx::query(&sql)
            .bind(id)
            .bind(plan.run_id)
            .bind(&plan.ssot_revision)
            .bind(&plan.live_fingerprint)
            .bind(&plan.plan)
            .bind(&plan.rendered)
            .bind(&artifact.sha256)
            .bind(t)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(SavedPlan {
            id,
            artifact_sha256: artifact.sha256,
            rendered: plan.rendered,
        })
    }

    /// Set a plan's status (the plan itself, which may be large, is not read back).
    pub async fn set_plan_status(&self, id: Uuid, status: PlanStatus) -> Result<()> {
        let sql = self.sql("UPDATE ops.plans SET status = $2, updated_at = $3 WHERE id = $1");
        let changed = with_pool!(self, p => sqlx::query(&sql)
            .bind(id)
            .bind(status.as_str())
            .bind(now())
            .execute(p)
            .await?
            .rows_affected());
        if changed == 0 {
            return Err(StoreError::Invalid(format!("plan {id} not found")));
        }
        Ok(())
    }

    /// Mark every `planned` plan except `keep` as superseded; returns how many changed.
    pub async fn supersede_plans(&self, keep: Uuid) -> Result<u64> {
        let sql = self.sql("UPDATE ops.plans SET status = 'superseded', updated_at = $2 WHERE status = 'planned' AND id <> $1");
        Ok(
            with_pool!(self, p => sqlx::query(&sql).bind(keep).bind(now()).execute(p).await?.rows_affected()),
        )
    }

    pub async fn plan(&self, id: Uuid) -> Result<Option<Plan>> {
        let sql = self.sql("SELECT * FROM ops.plans WHERE id = $1");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Plan>(&sql).bind(id).fetch_optional(p).await?))
    }

    // ------------------------------------------------------------ diffs

    /// Insert diff rows in batches inside one transaction; returns the number inserted.
    pub async fn insert_diffs(&self, diffs: &[NewDiff]) -> Result<u64> {
        let t = now();
        let head = self.sql(
            "INSERT INTO ops.diffs (run_id, environment, resource_kind, resource_name, before, after, changes, unified, created_at) ",
        );
        let mut n = 0;
        if let Pool::Pg(p) = &self.pool {
            // One statement per batch with nine array parameters: far less to parse and plan
            // than thousands of placeholders.
            let sql = "INSERT INTO ops.diffs (run_id, environment, resource_kind, resource_name, before, after, changes, unified, created_at)
                SELECT r, e, k, n, b, a, c, u, $9
                FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[], $8::text[])
                  AS t(r, e, k, n, b, a, c, u)";
            let mut tx = p.begin().await?;
            for chunk in diffs.chunks(BATCH_ROWS) {
                n += sqlx::query(sql)
                    .bind(chunk.iter().map(|d| d.run_id).collect::<Vec<_>>())
                    .bind(
                        chunk
                            .iter()
                            .map(|d| d.environment.as_deref())
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|d| d.resource_kind.as_str())
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|d| d.resource_name.as_str())
                            .collect::<Vec<_>>(),
                    )
                    .bind(chunk.iter().map(|d| d.before.as_ref()).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|d| d.after.as_ref()).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|d| &d.changes).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|d| d.unified.as_str()).collect::<Vec<_>>())
                    .bind(t)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            return Ok(n);
        }
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for chunk in diffs.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::new(head.as_ref());
                qb.push_values(chunk, |mut b, d| {
                    b.push_bind(d.run_id)
                        .push_bind(&d.environment)
                        .push_bind(&d.resource_kind)
                        .push_bind(&d.resource_name)
                        .push_bind(&d.before)
                        .push_bind(&d.after)
                        .push_bind(&d.changes)
                        .push_bind(&d.unified)
                        .push_bind(t);
                });
                n += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        });
        Ok(n)
    }

    pub async fn diffs_for_run(&self, run_id: Uuid) -> Result<Vec<Diff>> {
        let sql = self.sql("SELECT * FROM ops.diffs WHERE run_id = $1 ORDER BY id");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Diff>(&sql).bind(run_id).fetch_all(p).await?))
    }

    // ------------------------------------------------------------ events

    /// Append events in batches inside one transaction; returns the number inserted.
    pub async fn append_events(&self, events: &[NewEvent]) -> Result<u64> {
        let head = self.sql(
            "INSERT INTO ops.run_events (ts, level, service, environment, correlation_id, run_id, message, fields) ",
        );
        let mut n = 0;
        if let Pool::Pg(p) = &self.pool {
            let sql = "INSERT INTO ops.run_events (ts, level, service, environment, correlation_id, run_id, message, fields)
                SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::jsonb[])";
            let mut tx = p.begin().await?;
            for chunk in events.chunks(BATCH_ROWS) {
                n += sqlx::query(sql)
                    .bind(
                        chunk
                            .iter()
                            .map(|e| super::truncate_micros(e.ts))
                            .collect::<Vec<_>>(),
                    )
                    .bind(chunk.iter().map(|e| e.level.as_str()).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|e| e.service.as_str()).collect::<Vec<_>>())
                    .bind(
                        chunk
                            .iter()
                            .map(|e| e.environment.as_deref())
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|e| e.correlation_id.as_deref())
                            .collect::<Vec<_>>(),
                    )
                    .bind(chunk.iter().map(|e| e.run_id).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|e| e.message.as_str()).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|e| &e.fields).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            return Ok(n);
        }
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for chunk in events.chunks(BATCH_ROWS) {
                let mut qb = QueryBuilder::new(head.as_ref());
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(super::truncate_micros(e.ts))
                        .push_bind(e.level.as_str())
                        .push_bind(&e.service)
                        .push_bind(&e.environment)
                        .push_bind(&e.correlation_id)
                        .push_bind(e.run_id)
                        .push_bind(&e.message)
                        .push_bind(&e.fields);
                });
                n += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        });
        Ok(n)
    }

    /// Events matching the filter, newest first.
    pub async fn events(&self, f: &EventFilter) -> Result<Vec<Event>> {
        let limit = f.limit.unwrap_or(100).clamp(1, 10_000);
        let table = if self.is_pg() {
            "ops.run_events"
        } else {
            "ops_run_events"
        };
        with_pool!(self, p => {
            let mut qb = QueryBuilder::new(format!("SELECT * FROM {table} WHERE 1=1"));
            if let Some(env) = &f.environment {
                qb.push(" AND environment = ").push_bind(env);
            }
            if let Some(level) = f.min_level {
                if level > Level::Trace {
                    qb.push(" AND level IN (");
                    let mut sep = qb.separated(", ");
                    for l in level.at_least() {
                        sep.push_bind(l);
                    }
                    qb.push(")");
                }
            }
            if let Some(since) = f.since {
                qb.push(" AND ts >= ").push_bind(since);
            }
            if let Some(c) = &f.correlation_id {
                qb.push(" AND correlation_id = ").push_bind(c);
            }
            if let Some(r) = f.run_id {
                qb.push(" AND run_id = ").push_bind(r);
            }
            qb.push(" ORDER BY ts DESC, id DESC LIMIT ").push_bind(limit);
            Ok(qb.build_query_as::<Event>().fetch_all(p).await?)
        })
    }
}
