//! `odooops clone --from production --to staging`: a backup of the source (fresh, or the
//! latest recorded), restored into the target's new database, verified, NEUTRALIZED and
//! post-checked, then swapped in. Never into a production environment.

use super::dump::{run_backup, BackupRequest};
use super::neutral;
use super::pg::PgTarget;
use super::restore::{finish, restore_into, Verification};
use super::{environment, event, resolve_db_url, BackupError, BackupKind};
use crate::jobs::CancelToken;
use crate::odoo::neutralize::RulesChoice;
use crate::ssot::{Ssot, Stage};
use crate::store::{Level, NewRun, RunKind, Store, Trigger};
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct CloneRequest {
    pub from: String,
    pub to: String,
    pub db_from: Option<String>,
    pub db_to: Option<String>,
    /// The project's addons paths, searched for neutralization scripts after the Odoo
    /// source's own folders.
    pub addons_paths: Vec<PathBuf>,
    /// The rules that neutralize the copy: the Odoo source the database belongs to, or the
    /// built-in rules; unknown is refused before anything changes.
    pub rules: RulesChoice,
    /// The source's filestore (archived by the fresh backup) and the target's (replaced).
    pub filestore_from: Option<PathBuf>,
    pub filestore_to: Option<PathBuf>,
    /// Restore the latest recorded backup of the source instead of taking a fresh one.
    pub use_latest_backup: bool,
    pub trigger: Trigger,
    pub actor: String,
    pub cancel: CancelToken,
}

impl CloneRequest {
    pub fn new(from: &str, to: &str) -> CloneRequest {
        CloneRequest {
            from: from.to_string(),
            to: to.to_string(),
            db_from: None,
            db_to: None,
            addons_paths: Vec::new(),
            rules: RulesChoice::Unknown,
            filestore_from: None,
            filestore_to: None,
            use_latest_backup: false,
            trigger: Trigger::Cli,
            actor: "odooops".to_string(),
            cancel: CancelToken::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CloneOutcome {
    pub run_id: Uuid,
    pub from: String,
    pub to: String,
    pub backup_id: Uuid,
    pub fresh_backup: bool,
    pub database: String,
    pub old_database: Option<String>,
    pub verification: Verification,
    pub neutralization_sha256: String,
    /// What neutralized it: the Odoo source (path, revision) or the built-in rules.
    pub neutralized_with: String,
    pub filestore_restored: bool,
    pub old_filestore: Option<String>,
    pub duration_ms: u64,
}

pub async fn clone(
    store: &Store,
    ssot: &Ssot,
    req: &CloneRequest,
) -> Result<CloneOutcome, BackupError> {
    environment(ssot, &req.from)?;
    let to = environment(ssot, &req.to)?;
    if to.spec.stage == Stage::Production {
        return Err(BackupError::Invalid(format!(
            "refusing to clone into {}: it is a production environment (clone targets are staging or development, and are always neutralized)",
            req.to
        )));
    }
    if req.from == req.to {
        return Err(BackupError::Invalid(format!(
            "--from and --to are both {}: a clone needs two environments",
            req.to
        )));
    }
    let to_url = resolve_db_url(ssot, &req.to, req.db_to.as_deref())?;
    let target = PgTarget::parse(&to_url)?;
    // The source URL is needed only for a fresh backup; resolve it early to fail fast.
    let from_url = if req.use_latest_backup {
        None
    } else {
        Some(resolve_db_url(ssot, &req.from, req.db_from.as_deref())?)
    };
    if let Some(u) = &from_url {
        let src = PgTarget::parse(u)?;
        if src.shown() == target.shown() {
            return Err(BackupError::Invalid(format!(
                "source and target are the same database ({})",
                target.shown()
            )));
        }
    }
    // Neutralization is mandatory: settle its rules and check them against the source's
    // installed modules before taking a backup (a recorded backup is checked by the restore).
    let neutralization = neutral::prepare(ssot, &req.to, &req.rules, &req.addons_paths)?;
    if let Some(u) = &from_url {
        neutral::precheck_live(&neutralization, &PgTarget::parse(u)?).await?;
    }
    let run = store
        .begin_run(&NewRun {
            kind: RunKind::Clone,
            trigger: req.trigger,
            ssot_revision: ssot.revision.clone(),
            actor: req.actor.clone(),
            environment: Some(req.to.clone()),
            correlation_id: None,
        })
        .await?;
    event(
        store,
        Level::Info,
        "clone",
        &req.to,
        Some(run.id),
        format!("clone {} → {} started", req.from, req.to),
        json!({"from": req.from, "to": req.to, "target": target.shown(), "latest": req.use_latest_backup}),
    )
    .await;
    let r = async {
        let (backup, fresh) = if let Some(u) = &from_url {
            let mut b = BackupRequest::new(&req.from, BackupKind::Manual);
            b.db_url = Some(u.clone());
            b.filestore = req.filestore_from.clone();
            b.trigger = req.trigger;
            b.actor = req.actor.clone();
            b.cancel = req.cancel.clone();
            let o = run_backup(store, ssot, &b).await?;
            let row = store
                .backup(o.backup_id)
                .await?
                .ok_or_else(|| BackupError::NotFound(o.backup_id.to_string()))?;
            (row, true)
        } else {
            let row = store
                .backups(Some(&req.from), 1)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    BackupError::Invalid(format!(
                        "no recorded backup of {} to clone from (drop --latest to take one)",
                        req.from
                    ))
                })?;
            (row, false)
        };
        event(
            store,
            Level::Info,
            "clone",
            &req.to,
            Some(run.id),
            format!("cloning from backup {}", backup.id),
            json!({"backup_id": backup.id, "fresh": fresh}),
        )
        .await;
        // The source's dump is read where the source's backups go.
        let source = super::store_for(store, ssot, &req.from)?;
        let swapped = restore_into(
            &source,
            run.id,
            &backup,
            &req.to,
            &target,
            Some(&neutralization),
            req.filestore_to.as_deref(),
            &req.cancel,
        )
        .await?;
        Ok::<_, BackupError>((backup, fresh, swapped))
    }
    .await;
    finish(store, run.id, &req.to, "clone", &r).await?;
    let (backup, fresh, s) = r?;
    Ok(CloneOutcome {
        run_id: run.id,
        from: req.from.clone(),
        to: req.to.clone(),
        backup_id: backup.id,
        fresh_backup: fresh,
        database: target.database(),
        old_database: s.old_database,
        verification: s.verification,
        neutralization_sha256: s.neutralization_sha256.unwrap_or_default(),
        neutralized_with: neutralization.describe(),
        filestore_restored: s.filestore_restored,
        old_filestore: s.old_filestore.map(|p| p.display().to_string()),
        duration_ms: s.duration_ms,
    })
}
