//! The idempotency ledger (`ops.actions`): a row is committed before its side effect;
//! reconcile rows are claimed by compare-and-set and written with the fencing token of the
//! apply lock ([`super::locks`]), so a deposed applier cannot act. Plus the recorded
//! inventory of the objects we own (`ops.managed_objects`).

use super::types::*;
use super::{now, with_pool, Result, Store, StoreError};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One object of the recorded inventory.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct ManagedObject {
    pub resource_key: String,
    pub kind: String,
    pub environment: String,
    pub name: String,
    /// The provider's id (`zone/record id` for DNS records, `cluster id/name` in a cluster).
    pub provider_id: String,
}

/// Operations of reconcile actions (what counts for a resource's generation).
const RECONCILE_OPS: &str = "('create', 'update', 'replace', 'delete')";

impl Store {
    // ------------------------------------------------------------ ledger

    /// Record an action before its side effect. Exactly one of several concurrent callers with
    /// the same dedupe key gets `Inserted`; the others get `Existing` with the winner's row.
    pub async fn ledger_insert(&self, a: &NewAction) -> Result<LedgerInsert> {
        let t = now();
        let ins = self.sql(
            "INSERT INTO ops.actions (id, dedupe_key, plan_id, run_id, resource_kind, resource_name, operation, status, attempts, request_summary, created_at, updated_at, resource_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $9, $10)
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING *",
        );
        let inserted = with_pool!(self, p => sqlx::query_as::<_, Action>(&ins)
            .bind(Uuid::now_v7())
            .bind(&a.dedupe_key)
            .bind(a.plan_id)
            .bind(a.run_id)
            .bind(&a.resource_kind)
            .bind(&a.resource_name)
            .bind(&a.operation)
            .bind(&a.request_summary)
            .bind(t)
            .bind(&a.resource_key)
            .fetch_optional(p)
            .await?);
        if let Some(row) = inserted {
            return Ok(LedgerInsert::Inserted(row));
        }
        match self.ledger_get(&a.dedupe_key).await? {
            Some(row) => Ok(LedgerInsert::Existing(row)),
            None => Err(StoreError::Invalid(format!(
                "ledger row {:?} conflicted but is gone (deleted concurrently?); retry",
                a.dedupe_key
            ))),
        }
    }

    pub async fn ledger_get(&self, dedupe_key: &str) -> Result<Option<Action>> {
        let sql = self.sql("SELECT * FROM ops.actions WHERE dedupe_key = $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Action>(&sql).bind(dedupe_key).fetch_optional(p).await?),
        )
    }

    /// Update a ledger row; `None` fields keep their value.
    pub async fn ledger_update(&self, id: Uuid, u: &ActionUpdate) -> Result<Action> {
        let sql = self.sql(
            "UPDATE ops.actions SET
                status = COALESCE($2, status),
                attempts = attempts + $3,
                provider_request_id = COALESCE($4, provider_request_id),
                response_summary = COALESCE($5, response_summary),
                error = COALESCE($6, error),
                updated_at = $7
             WHERE id = $1 RETURNING *",
        );
        let row = with_pool!(self, p => sqlx::query_as::<_, Action>(&sql)
            .bind(id)
            .bind(u.status.map(|s| s.as_str()))
            .bind(if u.bump_attempts { 1i32 } else { 0i32 })
            .bind(&u.provider_request_id)
            .bind(&u.response_summary)
            .bind(&u.error)
            .bind(now())
            .fetch_optional(p)
            .await?);
        row.ok_or_else(|| StoreError::Invalid(format!("action {id} not found")))
    }

    /// Ledger rows that were left pending or in flight (e.g. by a crash): observe and adopt.
    pub async fn unfinished_actions(&self) -> Result<Vec<Action>> {
        let sql = self.sql("SELECT * FROM ops.actions WHERE status IN ('pending', 'in_flight') ORDER BY created_at");
        Ok(with_pool!(self, p => sqlx::query_as::<_, Action>(&sql).fetch_all(p).await?))
    }

    /// Succeeded ledger rows of `operation` whose `<dedupe_key>:resolved` sibling has not
    /// succeeded yet: the notifications still waiting for their "resolved" follow-up.
    pub async fn ledger_awaiting_resolution(&self, operation: &str) -> Result<Vec<Action>> {
        let sql = self.sql(
            "SELECT * FROM ops.actions a WHERE a.operation = $1 AND a.status = 'succeeded'
               AND NOT EXISTS (SELECT 1 FROM ops.actions r
                               WHERE r.dedupe_key = a.dedupe_key || ':resolved' AND r.status = 'succeeded')
             ORDER BY a.created_at",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Action>(&sql).bind(operation).fetch_all(p).await?),
        )
    }

    pub async fn actions_for_plan(&self, plan_id: Uuid) -> Result<Vec<Action>> {
        let sql = self.sql("SELECT * FROM ops.actions WHERE plan_id = $1 ORDER BY created_at");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Action>(&sql).bind(plan_id).fetch_all(p).await?),
        )
    }

    /// Claim a ledger row for execution (compare-and-set): `pending` or `failed` becomes
    /// `in_flight` with `fence`, only while `fence` is the apply lock's current token. `None`
    /// when another applier claimed or finished it first, or the token is stale — tell
    /// which with [`Store::fence_current`].
    pub async fn ledger_claim(&self, id: Uuid, fence: i64) -> Result<Option<Action>> {
        let sql = self.sql(
            "UPDATE ops.actions SET status = 'in_flight', attempts = attempts + 1, fence = $2, updated_at = $3
             WHERE id = $1 AND status IN ('pending', 'failed')
               AND (SELECT token FROM ops.leases WHERE name = 'apply') = $2
             RETURNING *",
        );
        Ok(with_pool!(self, p => sqlx::query_as::<_, Action>(&sql)
            .bind(id)
            .bind(fence)
            .bind(now())
            .fetch_optional(p)
            .await?))
    }

    /// Record the outcome of a claimed row: accepted only from the holder of `fence` while
    /// it is still the current token (else [`StoreError::Fenced`]).
    pub async fn ledger_finish(&self, id: Uuid, fence: i64, u: &ActionUpdate) -> Result<Action> {
        let sql = self.sql(
            "UPDATE ops.actions SET
                status = COALESCE($2, status),
                provider_request_id = COALESCE($3, provider_request_id),
                response_summary = COALESCE($4, response_summary),
                error = COALESCE($5, error),
                updated_at = $6, fence = $7
             WHERE id = $1 AND (fence IS NULL OR fence <= $7)
               AND (SELECT token FROM ops.leases WHERE name = 'apply') = $7
             RETURNING *",
        );
        let row = with_pool!(self, p => sqlx::query_as::<_, Action>(&sql)
            .bind(id)
            .bind(u.status.map(|s| s.as_str()))
            .bind(&u.provider_request_id)
            .bind(&u.response_summary)
            .bind(&u.error)
            .bind(now())
            .bind(fence)
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::Fenced(fence))
    }

    /// Whether `fence` is still the apply lock's current token.
    pub async fn fence_current(&self, fence: i64) -> Result<bool> {
        let sql = self.sql("SELECT token FROM ops.leases WHERE name = 'apply'");
        let token: Option<i64> =
            with_pool!(self, p => sqlx::query_scalar(&sql).fetch_optional(p).await?);
        Ok(token == Some(fence))
    }

    /// Each resource's generation: how many reconcile actions on it have succeeded (or
    /// been adopted). A planned action's key names the generation it starts from, so a new
    /// fault of a healed resource is a new key while a replayed plan keeps its own.
    pub async fn ledger_generations(&self, resources: &[String]) -> Result<BTreeMap<String, u32>> {
        let mut out = BTreeMap::new();
        for chunk in resources.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = self.sql_owned(format!(
                "SELECT resource_key, COUNT(*) FROM ops.actions
                 WHERE resource_key IN ({}) AND status IN ('succeeded', 'adopted')
                   AND operation IN {RECONCILE_OPS}
                 GROUP BY resource_key",
                marks.join(", ")
            ));
            let rows: Vec<(String, i64)> = with_pool!(self, p => {
                let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
                for r in chunk {
                    q = q.bind(r);
                }
                q.fetch_all(p).await?
            });
            out.extend(rows.into_iter().map(|(k, n)| (k, n as u32)));
        }
        Ok(out)
    }

    // ------------------------------------------------------------ recorded inventory

    /// Record (or move) an object we own.
    pub async fn record_managed(&self, o: &ManagedObject, action_id: Option<Uuid>) -> Result<()> {
        let sql = self.sql(
            "INSERT INTO ops.managed_objects (resource_key, kind, environment, name, provider_id, action_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (resource_key) DO UPDATE SET provider_id = EXCLUDED.provider_id,
                 action_id = EXCLUDED.action_id, updated_at = EXCLUDED.updated_at",
        );
        with_pool!(self, p => {
            sqlx::query(&sql)
                .bind(&o.resource_key)
                .bind(&o.kind)
                .bind(&o.environment)
                .bind(&o.name)
                .bind(&o.provider_id)
                .bind(action_id)
                .bind(now())
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Forget an object we deleted.
    pub async fn forget_managed(&self, resource_key: &str) -> Result<()> {
        let sql = self.sql("DELETE FROM ops.managed_objects WHERE resource_key = $1");
        with_pool!(self, p => {
            sqlx::query(&sql).bind(resource_key).execute(p).await?;
        });
        Ok(())
    }

    /// The recorded inventory of the given kinds.
    pub async fn managed_objects(&self, kinds: &[&str]) -> Result<Vec<ManagedObject>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=kinds.len()).map(|i| format!("${i}")).collect();
        let sql = self.sql_owned(format!(
            "SELECT resource_key, kind, environment, name, provider_id FROM ops.managed_objects
             WHERE kind IN ({}) ORDER BY resource_key",
            marks.join(", ")
        ));
        Ok(with_pool!(self, p => {
            let mut q = sqlx::query_as::<_, ManagedObject>(&sql);
            for k in kinds {
                q = q.bind(*k);
            }
            q.fetch_all(p).await?
        }))
    }
}
