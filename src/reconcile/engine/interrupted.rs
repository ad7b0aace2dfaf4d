//! Ledger rows left `pending`/`in_flight` by a process that died are resolved by what is
//! observed now: an object that exists and matches was done (adopted, and recorded in the
//! inventory when it has no tags); anything else is closed as interrupted and left to this
//! plan's own actions (whose creates look and adopt before acting), so nothing is ever done
//! twice.

use super::{Engine, EngineError};
use crate::reconcile::diff::{Change, ObjectKind, ResourceDiff};
use crate::ssot::Ssot;
use crate::store::{ActionStatus, ActionUpdate, Level, ManagedObject};
use serde_json::json;
use uuid::Uuid;

impl Engine {
    /// A `scoped` apply (one environment, or some held back) sees only part of the live
    /// state: rows of resources outside what it observed are left for a full apply.
    pub(super) async fn resolve_interrupted(
        &self,
        ssot: &Ssot,
        diffs: &[ResourceDiff],
        scoped: bool,
        run_id: Uuid,
        corr: &str,
        fence: i64,
    ) -> Result<(), EngineError> {
        for row in self.store.unfinished_actions().await? {
            // Notification rows have their own retry; reconcile rows name their resource.
            if row.resource_kind == "notification" {
                continue;
            }
            let current = diffs.iter().find(|d| match &row.resource_key {
                Some(k) => d.key.to_string() == *k,
                None => d.key.kind.as_str() == row.resource_kind && d.key.name == row.resource_name,
            });
            if current.is_none() && scoped {
                continue;
            }
            // An object that exists was made by the interrupted action (its pending row was
            // the mark): it is ours, adopted as it is, and this plan converges it.
            let (status, note) = match current {
                Some(d) if d.change == Change::NoOp => (
                    ActionStatus::Adopted,
                    "interrupted; observed converged after restart",
                ),
                // A create (or replace) that made its object: ours, adopted.
                Some(d)
                    if d.live_id.is_some()
                        && d.change != Change::Conflict
                        && (row.operation == "create" || row.operation == "replace") =>
                {
                    (
                        ActionStatus::Adopted,
                        "interrupted; the object exists and is adopted (the fresh plan converges it)",
                    )
                }
                // An update still pending (a release half deployed, a resize): not done; the
                // fresh plan's action — the same key when nothing else changed — does it.
                Some(d) if d.change == Change::Update => (
                    ActionStatus::Failed,
                    "interrupted before it finished; the fresh plan does it again",
                ),
                Some(_) => (
                    ActionStatus::Failed,
                    "interrupted; superseded by a fresh plan after restart",
                ),
                None => (
                    ActionStatus::Failed,
                    "interrupted; the resource is no longer desired",
                ),
            };
            // Rows a crash left were never finished: claim, then settle them, fenced.
            if self.store.ledger_claim(row.id, fence).await?.is_none()
                && !self.store.fence_current(fence).await?
            {
                return Err(crate::store::StoreError::Fenced(fence).into());
            }
            self.store
                .ledger_finish(
                    row.id,
                    fence,
                    &ActionUpdate {
                        status: Some(status),
                        error: (status == ActionStatus::Failed).then(|| note.to_string()),
                        response_summary: Some(
                            json!({"resolved_by": format!("run:{run_id}"), "note": note}),
                        ),
                        ..Default::default()
                    },
                )
                .await?;
            if let (ActionStatus::Adopted, Some(d)) = (status, current) {
                self.adopt_into_inventory(ssot, d, row.id).await?;
            }
            self.event(
                run_id,
                corr,
                Level::Warn,
                None,
                format!(
                    "ledger {} ({}/{}): {note}",
                    row.dedupe_key, row.resource_kind, row.resource_name
                ),
                json!({"ledger_id": row.id}),
            )
            .await;
        }
        Ok(())
    }

    /// An object an interrupted create of ours made, found converged: ours from now on (in
    /// the recorded inventory; for kinds without tags that is what makes it ours).
    async fn adopt_into_inventory(
        &self,
        ssot: &Ssot,
        d: &ResourceDiff,
        action_id: Uuid,
    ) -> Result<(), EngineError> {
        let Some(id) = &d.live_id else {
            return Ok(());
        };
        let provider_id = match d.key.kind {
            ObjectKind::DnsRecord => {
                let Some(zone) = ssot
                    .environment(&d.key.env)
                    .and_then(|e| e.spec.domain.as_ref())
                    .map(|dom| dom.zone.clone())
                else {
                    return Ok(());
                };
                format!("{zone}/{id}")
            }
            _ => id.clone(),
        };
        self.store
            .record_managed(
                &ManagedObject {
                    resource_key: d.key.to_string(),
                    kind: d.key.kind.as_str().to_string(),
                    environment: d.key.env.clone(),
                    name: d.key.name.clone(),
                    provider_id,
                },
                Some(action_id),
            )
            .await?;
        Ok(())
    }
}
