//! `odooops backup restore`: restore into a NEW database, verify it against the manifest,
//! neutralize it when the target is not production, and only then swap it in.

use super::neutral::{self, Neutralization};
use super::pg::{facts, Admin, ModuleVersion, PgTarget, Stderr};
use super::{environment, event, resolve_db_url, BackupError};
use crate::jobs::CancelToken;
use crate::odoo::neutralize::RulesChoice;
use crate::ssot::{Ssot, Stage};
use crate::store::{Backup, Level, NewRun, RunKind, RunStatus, Store, Trigger};
use serde::Serialize;
use serde_json::json;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct RestoreRequest {
    pub backup_id: Uuid,
    /// The environment restored into.
    pub environment: String,
    /// Its database URL; default: the environment's `database.urlSecret`.
    pub db_url: Option<String>,
    /// The project's addons paths for neutralization scripts (non-production targets),
    /// searched after the Odoo source's own folders.
    pub addons_paths: Vec<PathBuf>,
    /// The rules that neutralize a non-production target: the Odoo source the database
    /// belongs to, or the built-in rules; unknown is refused before anything changes.
    pub rules: RulesChoice,
    /// The environment's filestore directory, replaced by the backup's (kept as
    /// `<dir>.old_<ts>`); untouched when None or when the backup has no filestore.
    pub filestore: Option<PathBuf>,
    pub trigger: Trigger,
    pub actor: String,
    pub cancel: CancelToken,
    /// A release putting back the pre-update backup of this very environment: the database
    /// is restored as it was, never neutralized (it is the environment's own).
    pub rollback: bool,
}

impl RestoreRequest {
    pub fn new(backup_id: Uuid, environment: &str) -> RestoreRequest {
        RestoreRequest {
            backup_id,
            environment: environment.to_string(),
            db_url: None,
            addons_paths: Vec::new(),
            rules: RulesChoice::Unknown,
            filestore: None,
            trigger: Trigger::Cli,
            actor: "odooops".to_string(),
            cancel: CancelToken::new(),
            rollback: false,
        }
    }
}

/// The restored database compared with the manifest.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    pub expected_objects: u64,
    pub actual_objects: u64,
    pub expected_modules: usize,
    pub actual_modules: usize,
    /// Every difference, in words (empty when ok).
    pub differences: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RestoreOutcome {
    pub run_id: Uuid,
    pub backup_id: Uuid,
    pub environment: String,
    /// The database now serving the environment (the restored copy, renamed).
    pub database: String,
    /// The previous database, kept under this name (none when there was none).
    pub old_database: Option<String>,
    pub verification: Verification,
    pub neutralized: bool,
    pub neutralization_sha256: Option<String>,
    /// What neutralized it: the Odoo source (path, revision) or the built-in rules.
    pub neutralized_with: Option<String>,
    /// Whether the filestore was restored, and where the previous one was kept.
    pub filestore_restored: bool,
    pub old_filestore: Option<String>,
    pub duration_ms: u64,
}

/// Restore a recorded backup into an environment.
pub async fn restore(
    store: &Store,
    ssot: &Ssot,
    req: &RestoreRequest,
) -> Result<RestoreOutcome, BackupError> {
    let env = environment(ssot, &req.environment)?;
    let backup = store
        .backup(req.backup_id)
        .await?
        .ok_or_else(|| BackupError::NotFound(req.backup_id.to_string()))?;
    // The dump lives where its environment's backups go.
    let store = &super::store_for(store, ssot, &backup.environment)?;
    let url = resolve_db_url(ssot, &req.environment, req.db_url.as_deref())?;
    let target = PgTarget::parse(&url)?;
    // A non-production target is neutralized: settle the rules and check them against the
    // backup's modules before anything changes.
    let own_rollback = req.rollback
        && backup.environment == req.environment
        && backup.kind == super::BackupKind::PreUpdate.as_str();
    if req.rollback && !own_rollback {
        return Err(BackupError::Invalid(format!(
            "backup {} is not a pre-update backup of {}: a rollback restores only those",
            backup.id, req.environment
        )));
    }
    let neutralization = if env.spec.stage != Stage::Production && !own_rollback {
        let n = neutral::prepare(ssot, &req.environment, &req.rules, &req.addons_paths)?;
        neutral::precheck_backup(&n, &backup)?;
        Some(n)
    } else {
        None
    };
    let run = store
        .begin_run(&NewRun {
            kind: RunKind::Restore,
            trigger: req.trigger,
            ssot_revision: ssot.revision.clone(),
            actor: req.actor.clone(),
            environment: Some(req.environment.clone()),
            correlation_id: None,
        })
        .await?;
    let r = restore_into(
        store,
        run.id,
        &backup,
        &req.environment,
        &target,
        neutralization.as_ref(),
        req.filestore.as_deref(),
        &req.cancel,
    )
    .await;
    finish(store, run.id, &req.environment, "restore", &r).await?;
    r.map(|s| RestoreOutcome {
        run_id: run.id,
        backup_id: backup.id,
        environment: req.environment.clone(),
        database: target.database(),
        old_database: s.old_database,
        verification: s.verification,
        neutralized: s.neutralization_sha256.is_some(),
        neutralization_sha256: s.neutralization_sha256,
        neutralized_with: neutralization.as_ref().map(Neutralization::describe),
        filestore_restored: s.filestore_restored,
        old_filestore: s.old_filestore.map(|p| p.display().to_string()),
        duration_ms: s.duration_ms,
    })
}

/// Close a restore/clone run with its status and an event.
pub(crate) async fn finish<T>(
    store: &Store,
    run_id: Uuid,
    env: &str,
    service: &str,
    r: &Result<T, BackupError>,
) -> Result<(), BackupError> {
    match r {
        Ok(_) => {
            store
                .finish_run(run_id, RunStatus::Succeeded, &json!({"ok": true}))
                .await?;
        }
        Err(e) => {
            let msg = e.to_string();
            event(
                store,
                Level::Error,
                service,
                env,
                Some(run_id),
                format!("{service} failed: {msg}"),
                json!({"error": msg}),
            )
            .await;
            let status = if matches!(e, BackupError::Cancelled) {
                RunStatus::Cancelled
            } else {
                RunStatus::Failed
            };
            store
                .finish_run(run_id, status, &json!({"error": msg}))
                .await?;
        }
    }
    Ok(())
}

pub(crate) struct Swapped {
    pub old_database: Option<String>,
    pub verification: Verification,
    pub neutralization_sha256: Option<String>,
    pub filestore_restored: bool,
    pub old_filestore: Option<PathBuf>,
    pub duration_ms: u64,
}

/// The expected facts of a backup, from its manifest.
fn expected(backup: &Backup) -> Result<(u64, Vec<ModuleVersion>), BackupError> {
    let m = &backup.manifest;
    let objects = m.get("objects").and_then(|v| v.as_u64());
    let modules = m
        .get("modules")
        .cloned()
        .map(serde_json::from_value::<Vec<ModuleVersion>>);
    match (objects, modules) {
        (Some(o), Some(Ok(mods))) => Ok((o, mods)),
        _ => Err(BackupError::Verification(format!(
            "backup {} has no manifest (objects, modules) to verify a restore against",
            backup.id
        ))),
    }
}

/// Compare a restored database's facts with the manifest.
pub fn compare(
    expected_objects: u64,
    expected_modules: &[ModuleVersion],
    actual_objects: u64,
    actual_modules: &[ModuleVersion],
) -> Verification {
    let mut differences = Vec::new();
    if expected_objects != actual_objects {
        differences.push(format!(
            "tables + sequences: manifest {expected_objects}, restored {actual_objects}"
        ));
    }
    let exp: BTreeMap<&str, &Option<String>> = expected_modules
        .iter()
        .map(|m| (m.name.as_str(), &m.version))
        .collect();
    let act: BTreeMap<&str, &Option<String>> = actual_modules
        .iter()
        .map(|m| (m.name.as_str(), &m.version))
        .collect();
    for (name, v) in &exp {
        match act.get(name) {
            None => differences.push(format!("module {name} missing from the restored database")),
            Some(a) if a != v => differences.push(format!(
                "module {name}: manifest version {}, restored {}",
                v.as_deref().unwrap_or("-"),
                a.as_deref().unwrap_or("-")
            )),
            _ => {}
        }
    }
    for name in act.keys().filter(|n| !exp.contains_key(*n)) {
        differences.push(format!(
            "module {name} installed in the restored database but not in the manifest"
        ));
    }
    Verification {
        ok: differences.is_empty(),
        expected_objects,
        actual_objects,
        expected_modules: expected_modules.len(),
        actual_modules: actual_modules.len(),
        differences,
    }
}

/// Restore `backup` into a new database next to `target`, verify, optionally neutralize, and
/// swap. On any failure the new database is dropped and `target` is untouched.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn restore_into(
    store: &Store,
    run_id: Uuid,
    backup: &Backup,
    env: &str,
    target: &PgTarget,
    neutralization: Option<&Neutralization>,
    filestore_to: Option<&Path>,
    cancel: &CancelToken,
) -> Result<Swapped, BackupError> {
    let t0 = Instant::now();
    let (exp_objects, exp_modules) = expected(backup)?;
    if let Some(n) = neutralization {
        // Refuse before creating anything when the rules cannot cover the backup's modules.
        neutral::precheck_backup(n, backup)?;
    }
    let db = target.database();
    let short: String = backup
        .id
        .simple()
        .to_string()
        .chars()
        .rev()
        .take(8)
        .collect();
    let new_name = super::pg::derived_name(&db, &format!("_restore_{short}"));
    let fresh = target.with_database(&new_name);
    let mut admin = Admin::connect(target).await?;
    if admin.exists(&new_name).await? {
        // A leftover of an interrupted restore of the same backup: never served, safe to drop.
        admin.drop(&new_name).await?;
    }
    admin.create(&new_name).await?;
    event(
        store,
        Level::Info,
        "restore",
        env,
        Some(run_id),
        format!(
            "restoring backup {} into new database {new_name}",
            backup.id
        ),
        json!({"backup_id": backup.id, "database": new_name, "target": db}),
    )
    .await;
    let r = async {
        pg_restore(store, &backup.sha256, &fresh, cancel).await?;
        let mut conn = fresh.connect().await?;
        let got = facts(&mut conn, &fresh.shown()).await;
        let _ = conn.close().await;
        let got = got?;
        let v = compare(exp_objects, &exp_modules, got.objects, &got.modules);
        event(
            store,
            if v.ok { Level::Info } else { Level::Error },
            "restore",
            env,
            Some(run_id),
            if v.ok {
                format!(
                    "verified: {} objects and {} modules equal the manifest",
                    v.actual_objects, v.actual_modules
                )
            } else {
                format!("verification failed: {}", v.differences.join("; "))
            },
            json!({"verification": v}),
        )
        .await;
        if !v.ok {
            return Err(BackupError::Verification(v.differences.join("; ")));
        }
        let neutral = match neutralization {
            Some(n) => Some(neutral::neutralize_fresh(store, run_id, env, &fresh, n).await?),
            None => None,
        };
        let staged = match (filestore_to, &backup.filestore_sha256) {
            (Some(dir), Some(sha)) => {
                let staging = super::filestore::sibling(dir, &format!(".restore_{short}"));
                super::filestore::unpack(store, sha, &staging).await?;
                event(
                    store,
                    Level::Info,
                    "restore",
                    env,
                    Some(run_id),
                    format!("filestore unpacked into {}", staging.display()),
                    json!({"sha256": sha, "dir": staging.display().to_string()}),
                )
                .await;
                Some((staging, dir.to_path_buf()))
            }
            (Some(dir), None) => {
                event(
                    store,
                    Level::Warn,
                    "restore",
                    env,
                    Some(run_id),
                    format!(
                        "backup {} has no filestore; {} left as it is",
                        backup.id,
                        dir.display()
                    ),
                    json!({}),
                )
                .await;
                None
            }
            _ => None,
        };
        if cancel.is_cancelled() {
            if let Some((staging, _)) = &staged {
                let _ = tokio::fs::remove_dir_all(staging).await;
            }
            return Err(BackupError::Cancelled);
        }
        Ok::<_, BackupError>((v, neutral, staged))
    }
    .await;
    let (verification, neutralization_sha256, staged) = match r {
        Ok(x) => x,
        Err(e) => {
            if let Some(dir) = filestore_to {
                let _ = tokio::fs::remove_dir_all(super::filestore::sibling(
                    dir,
                    &format!(".restore_{short}"),
                ))
                .await;
            }
            let dropped = admin.drop(&new_name).await;
            admin.close().await;
            event(
                store,
                Level::Warn,
                "restore",
                env,
                Some(run_id),
                format!("new database {new_name} dropped; {db} untouched"),
                json!({"database": new_name, "dropped": dropped.is_ok()}),
            )
            .await;
            return Err(e);
        }
    };
    // Swap: the old database keeps its data under <db>_old_<ts> until someone drops it.
    let ts = chrono::Utc::now().timestamp();
    let old_name = super::pg::derived_name(&db, &format!("_old_{ts}"));
    let mut old_database = None;
    if admin.exists(&db).await? {
        admin.allow_connections(&db, false).await?;
        if let Err(e) = admin.rename(&db, &old_name).await {
            let _ = admin.allow_connections(&db, true).await;
            let _ = admin.drop(&new_name).await;
            admin.close().await;
            if let Some((staging, _)) = &staged {
                let _ = tokio::fs::remove_dir_all(staging).await;
            }
            return Err(e);
        }
        admin.allow_connections(&old_name, true).await?;
        old_database = Some(old_name.clone());
    }
    if let Err(e) = admin.rename(&new_name, &db).await {
        // Put the old one back; the verified copy stays for inspection.
        if old_database.is_some() {
            let _ = admin.rename(&old_name, &db).await;
        }
        admin.close().await;
        if let Some((staging, _)) = &staged {
            let _ = tokio::fs::remove_dir_all(staging).await;
        }
        return Err(e);
    }
    admin.close().await;
    let mut old_filestore = None;
    let filestore_restored = staged.is_some();
    if let Some((staging, dir)) = &staged {
        // The database is already swapped: a failure here is reported, the copy left in place.
        old_filestore = super::filestore::swap(staging, dir, ts).await?;
        event(
            store,
            Level::Info,
            "restore",
            env,
            Some(run_id),
            format!(
                "filestore swapped: {}{}",
                dir.display(),
                old_filestore
                    .as_deref()
                    .map(|o| format!("; the previous one is kept as {}", o.display()))
                    .unwrap_or_default()
            ),
            json!({"dir": dir.display().to_string(), "old": old_filestore.as_ref().map(|o| o.display().to_string())}),
        )
        .await;
    }
    event(
        store,
        Level::Info,
        "restore",
        env,
        Some(run_id),
        format!(
            "swapped: {new_name} is now {db}{}",
            old_database
                .as_deref()
                .map(|o| format!("; the previous database is kept as {o}"))
                .unwrap_or_default()
        ),
        json!({"database": db, "old_database": old_database, "from": new_name}),
    )
    .await;
    Ok(Swapped {
        old_database,
        verification,
        neutralization_sha256,
        filestore_restored,
        old_filestore,
        duration_ms: t0.elapsed().as_millis() as u64,
    })
}

/// `pg_restore` from the artifact, streamed through its stdin.
async fn pg_restore(
    store: &Store,
    sha: &str,
    into: &PgTarget,
    cancel: &CancelToken,
) -> Result<(), BackupError> {
    let mut reader = store.artifact_store().open_reader(sha).await?;
    let mut cmd = into.command("pg_restore");
    cmd.arg("--exit-on-error")
        .arg("--no-owner")
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().map_err(|source| BackupError::Spawn {
        program: "pg_restore".into(),
        source,
    })?;
    let stderr = Stderr::collect(&mut child);
    let stdin = child.stdin.take();
    let done = {
        let work = async {
            let mut feed_err = None;
            if let Some(mut stdin) = stdin {
                if let Err(e) = tokio::io::copy(&mut reader, &mut stdin).await {
                    feed_err = Some(e);
                }
                drop(stdin);
            }
            (feed_err, child.wait().await)
        };
        tokio::select! {
            r = work => Some(r),
            _ = cancel.cancelled() => None,
        }
    };
    let Some((feed_err, status)) = done else {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return Err(BackupError::Cancelled);
    };
    let status = status.map_err(|source| BackupError::Spawn {
        program: "pg_restore".into(),
        source,
    })?;
    let text = stderr.text().await;
    if !status.success() {
        return Err(BackupError::Tool {
            program: "pg_restore".into(),
            status: status.to_string(),
            stderr: text,
        });
    }
    if let Some(e) = feed_err {
        return Err(BackupError::Io {
            path: format!("artifact {sha}"),
            source: e,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, v: &str) -> ModuleVersion {
        ModuleVersion {
            name: name.into(),
            version: Some(v.into()),
        }
    }

    #[test]
    fn compare_names_every_difference() {
        let exp = [m("base", "17.0.1.3"), m("sale", "17.0.1.0")];
        assert!(compare(10, &exp, 10, &exp).ok);
        let got = [m("base", "17.0.1.4"), m("stock", "17.0.1.0")];
        let v = compare(10, &exp, 9, &got);
        assert!(!v.ok);
        assert_eq!(v.differences.len(), 4, "{:?}", v.differences);
        assert!(v.differences[0].contains("manifest 10, restored 9"));
    }
}
