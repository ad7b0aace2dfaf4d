//! `odooops backup prune`: GFS retention over the recorded backups of each environment
//! ([`crate::odoo::retention::select`]): survivors get their class recorded, the others lose
//! their row and every artifact no remaining backup shares (dump, filestore, manifest).

use super::{event, policy};
use crate::odoo::retention::{self, BackupMeta, BackupStatus};
use crate::ssot::Ssot;
use crate::store::{Backup, Level, NewRun, RunKind, RunStatus, Store, StoreError, Trigger};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct PruneRequest {
    /// One environment, or every environment with backups.
    pub environment: Option<String>,
    pub dry_run: bool,
    pub now: DateTime<Utc>,
    pub trigger: Trigger,
    pub actor: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct EnvPrune {
    pub environment: String,
    /// Survivors with the reason they survive (daily, weekly, monthly, manual, newest).
    pub keep: Vec<(Uuid, String)>,
    pub prune: Vec<Uuid>,
    /// Artifacts deleted (none on a dry run).
    pub artifacts_deleted: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PruneOutcome {
    pub run_id: Option<Uuid>,
    pub dry_run: bool,
    pub environments: Vec<EnvPrune>,
}

fn meta(b: &Backup) -> BackupMeta {
    BackupMeta {
        id: b.id.to_string(),
        taken_at: b.created_at,
        kind: if b.kind == "manual" {
            retention::BackupKind::Manual
        } else {
            retention::BackupKind::Automatic
        },
        status: BackupStatus::Succeeded,
    }
}

fn class_name(c: retention::KeepClass) -> &'static str {
    match c {
        retention::KeepClass::Daily => "daily",
        retention::KeepClass::Weekly => "weekly",
        retention::KeepClass::Monthly => "monthly",
        retention::KeepClass::Manual => "manual",
        retention::KeepClass::Newest => "newest",
    }
}

pub async fn prune(
    store: &Store,
    ssot: &Ssot,
    req: &PruneRequest,
) -> Result<PruneOutcome, StoreError> {
    let all = store.backups(req.environment.as_deref(), 1_000_000).await?;
    let mut by_env: BTreeMap<String, Vec<Backup>> = BTreeMap::new();
    for b in all {
        by_env.entry(b.environment.clone()).or_default().push(b);
    }
    let run_id = if req.dry_run {
        None
    } else {
        Some(
            store
                .begin_run(&NewRun {
                    kind: RunKind::Backup,
                    trigger: req.trigger,
                    ssot_revision: ssot.revision.clone(),
                    actor: req.actor.clone(),
                    environment: req.environment.clone(),
                    correlation_id: None,
                })
                .await?
                .id,
        )
    };
    let mut out = Vec::new();
    let r: Result<(), StoreError> = async {
        for (env, backups) in &by_env {
            let retention = policy(ssot, env)
                .map(|p| p.spec.retention.clone())
                .unwrap_or_default();
            let metas: Vec<BackupMeta> = backups.iter().map(meta).collect();
            let plan = retention::select(&retention, &metas, req.now);
            let parse = |s: &str| Uuid::parse_str(s).ok();
            let mut e = EnvPrune {
                environment: env.clone(),
                keep: plan
                    .keep
                    .iter()
                    .filter_map(|(id, c)| parse(id).map(|u| (u, class_name(*c).to_string())))
                    .collect(),
                prune: plan.prune.iter().filter_map(|id| parse(id)).collect(),
                artifacts_deleted: Vec::new(),
            };
            if !req.dry_run {
                // Its blobs are deleted where the environment's backups go.
                let blobs = super::store_for(store, ssot, env)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                for (id, class) in &e.keep {
                    store.set_backup_retention_class(*id, class).await?;
                }
                for id in &e.prune {
                    let Some(b) = backups.iter().find(|b| b.id == *id) else {
                        continue;
                    };
                    store.delete_backup(*id).await?;
                    for sha in [
                        Some(&b.sha256),
                        b.filestore_sha256.as_ref(),
                        b.manifest_sha256.as_ref(),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        if !store.artifact_used_by_backups(sha).await? {
                            blobs.forget_artifact(sha).await?;
                            e.artifacts_deleted.push(sha.clone());
                        }
                    }
                    event(
                        store,
                        Level::Info,
                        "backup",
                        env,
                        run_id,
                        format!("backup {id} pruned (taken {})", b.created_at.to_rfc3339()),
                        json!({"backup_id": id, "kind": b.kind, "taken_at": b.created_at}),
                    )
                    .await;
                }
            }
            out.push(e);
        }
        Ok(())
    }
    .await;
    if let Some(run) = run_id {
        let summary = json!({
            "pruned": out.iter().map(|e| e.prune.len()).sum::<usize>(),
            "kept": out.iter().map(|e| e.keep.len()).sum::<usize>(),
            "artifacts_deleted": out.iter().map(|e| e.artifacts_deleted.len()).sum::<usize>(),
            "error": r.as_ref().err().map(|e| e.to_string()),
        });
        let status = if r.is_ok() {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        store.finish_run(run, status, &summary).await?;
    }
    r?;
    Ok(PruneOutcome {
        run_id,
        dry_run: req.dry_run,
        environments: out,
    })
}
