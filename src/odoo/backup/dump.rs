//! `odooops backup run` and `backup download`.

use super::pg::{facts, CountingOutput, DbFacts, PgTarget, Stderr};
use super::progress::{human_bytes, Progress};
use super::{environment, event, policy, resolve_db_url, BackupError, BackupKind};
use crate::jobs::CancelToken;
use crate::odoo::retention::{self, BackupMeta, BackupStatus};
use crate::ssot::{Retention, Ssot};
use crate::store::{
    BackupDetails, JobStatus, Level, NewBackup, NewRun, RunKind, RunStatus, Store, StoredBlob,
    Trigger,
};
use serde::Serialize;
use serde_json::json;
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

pub const DUMP_MEDIA_TYPE: &str = "application/vnd.postgresql.pg-dump-custom";
pub const FILESTORE_MEDIA_TYPE: &str = "application/x-tar";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.odooops.backup-manifest+json";

/// What to back up.
#[derive(Clone, Debug)]
pub struct BackupRequest {
    pub environment: String,
    /// Database URL override; default: the environment's `database.urlSecret`.
    pub db_url: Option<String>,
    /// The filestore directory (`<data_dir>/filestore/<db>`); included when the policy says so.
    pub filestore: Option<PathBuf>,
    pub kind: BackupKind,
    pub trigger: Trigger,
    pub actor: String,
    /// A progress line on stderr when it is a terminal.
    pub progress: bool,
    /// Used to stop the dump (the bounded-job runner passes its own).
    pub cancel: CancelToken,
}

impl BackupRequest {
    pub fn new(environment: &str, kind: BackupKind) -> BackupRequest {
        BackupRequest {
            environment: environment.to_string(),
            db_url: None,
            filestore: None,
            kind,
            trigger: match kind {
                BackupKind::Scheduled => Trigger::Schedule,
                BackupKind::Manual | BackupKind::PreUpdate => Trigger::Cli,
            },
            actor: "odooops".to_string(),
            progress: false,
            cancel: CancelToken::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BackupOutcome {
    pub backup_id: Uuid,
    pub run_id: Uuid,
    pub environment: String,
    pub kind: BackupKind,
    pub database: String,
    pub dump_sha256: String,
    pub dump_bytes: u64,
    pub filestore_sha256: Option<String>,
    pub filestore_bytes: Option<u64>,
    pub manifest_sha256: String,
    pub manifest: serde_json::Value,
    pub duration_ms: u64,
}

/// Take a backup with full evidence: a run, a backup job, events, the dump, the filestore,
/// the manifest artifact and the `ops.backups` row.
pub async fn run_backup(
    store: &Store,
    ssot: &Ssot,
    req: &BackupRequest,
) -> Result<BackupOutcome, BackupError> {
    let env = environment(ssot, &req.environment)?;
    let store = &super::store_for(store, ssot, &req.environment)?;
    let pol = policy(ssot, &req.environment);
    let retention = pol.map(|p| p.spec.retention.clone()).unwrap_or_default();
    if req.kind == BackupKind::Manual {
        check_manual_quota(store, &req.environment, &retention).await?;
    }
    let url = resolve_db_url(ssot, &req.environment, req.db_url.as_deref())?;
    let target = PgTarget::parse(&url)?;
    let include_filestore = pol.map(|p| p.spec.include_filestore).unwrap_or(true);
    let run = store
        .begin_run(&NewRun {
            kind: RunKind::Backup,
            trigger: req.trigger,
            ssot_revision: ssot.revision.clone(),
            actor: req.actor.clone(),
            environment: Some(req.environment.clone()),
            correlation_id: None,
        })
        .await?;
    let job_kind = if include_filestore && req.filestore.is_some() {
        "full"
    } else {
        "database"
    };
    let job = store
        .begin_backup_job(Some(run.id), &req.environment, job_kind)
        .await?;
    event(
        store,
        Level::Info,
        "backup",
        &req.environment,
        Some(run.id),
        format!(
            "{} backup of {} started",
            req.kind.as_str(),
            target.database()
        ),
        json!({"database": target.database(), "server": target.shown(), "kind": req.kind.as_str(),
               "stage": env.spec.stage.as_str()}),
    )
    .await;
    let r = take(store, req, &target, include_filestore, run.id, job.id).await;
    match &r {
        Ok(o) => {
            store
                .finish_backup_job(job.id, JobStatus::Succeeded, None)
                .await?;
            store
                .finish_run(
                    run.id,
                    RunStatus::Succeeded,
                    &json!({"backup_id": o.backup_id, "dump_sha256": o.dump_sha256, "dump_bytes": o.dump_bytes,
                            "filestore_bytes": o.filestore_bytes, "duration_ms": o.duration_ms}),
                )
                .await?;
        }
        Err(e) => {
            let msg = e.to_string();
            store
                .finish_backup_job(job.id, JobStatus::Failed, Some(&msg))
                .await?;
            let status = if matches!(e, BackupError::Cancelled) {
                RunStatus::Cancelled
            } else {
                RunStatus::Failed
            };
            event(
                store,
                Level::Error,
                "backup",
                &req.environment,
                Some(run.id),
                format!("backup failed: {msg}"),
                json!({"error": msg}),
            )
            .await;
            store
                .finish_run(run.id, status, &json!({"error": msg}))
                .await?;
        }
    }
    r
}

async fn check_manual_quota(
    store: &Store,
    env: &str,
    retention: &Retention,
) -> Result<(), BackupError> {
    let history: Vec<BackupMeta> = store
        .backups(Some(env), 10_000)
        .await?
        .into_iter()
        .map(|b| BackupMeta {
            id: b.id.to_string(),
            taken_at: b.created_at,
            kind: if b.kind == "manual" {
                retention::BackupKind::Manual
            } else {
                retention::BackupKind::Automatic
            },
            status: BackupStatus::Succeeded,
        })
        .collect();
    if retention::manual_allowed(retention, &history, crate::store::now()) {
        Ok(())
    } else {
        Err(BackupError::ManualQuota {
            environment: env.to_string(),
            limit: retention.manual_per_day,
        })
    }
}

/// The dump, filestore and manifest; on any failure nothing half-made is left behind.
async fn take(
    store: &Store,
    req: &BackupRequest,
    target: &PgTarget,
    include_filestore: bool,
    run_id: Uuid,
    job_id: Uuid,
) -> Result<BackupOutcome, BackupError> {
    let started_at = crate::store::now();
    let t0 = Instant::now();
    // One REPEATABLE READ transaction exports the snapshot pg_dump reads; the manifest's facts
    // come from the same snapshot, so they describe exactly what was dumped.
    let mut conn = target.connect().await?;
    let snap = async {
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut conn)
            .await?;
        sqlx::query_scalar::<_, String>("SELECT pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await
    }
    .await
    .map_err(|e| BackupError::Database {
        what: format!("exporting a snapshot of {}", target.shown()),
        source: e,
    })?;
    let facts = facts(&mut conn, &target.shown()).await?;
    let app = format!("odooops-pg_dump-{}", Uuid::new_v4().simple());
    let dump = dump_db(store, req, target, &snap, &app).await;
    if dump.is_err() {
        // A killed pg_dump can leave its server session behind (e.g. waiting on a lock, still
        // holding the locks it took): end it.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = $1",
        )
        .bind(&app)
        .execute(&mut conn)
        .await;
    }
    let _ = conn.close().await;
    let (blob, _) = dump?;
    let dump_ms = t0.elapsed().as_millis() as u64;
    event(
        store,
        Level::Info,
        "backup",
        &req.environment,
        Some(run_id),
        format!(
            "database dumped: {} in {:.1}s",
            human_bytes(blob.size),
            dump_ms as f64 / 1000.0
        ),
        json!({"sha256": blob.sha256, "bytes": blob.size, "ms": dump_ms}),
    )
    .await;
    let mut created = vec![blob.sha256.clone()];
    let rest = async {
        store
            .record_artifact(&blob, super::dump::DUMP_MEDIA_TYPE, Some(run_id))
            .await?;
        let filestore = match (&req.filestore, include_filestore) {
            (Some(dir), true) => {
                let fs = super::filestore::tar(store, dir, &req.cancel).await?;
                created.push(fs.sha256.clone());
                store
                    .record_artifact(&fs, FILESTORE_MEDIA_TYPE, Some(run_id))
                    .await?;
                event(
                    store,
                    Level::Info,
                    "backup",
                    &req.environment,
                    Some(run_id),
                    format!("filestore archived: {}", human_bytes(fs.size)),
                    json!({"sha256": fs.sha256, "bytes": fs.size, "dir": dir.display().to_string()}),
                )
                .await;
                Some(fs)
            }
            (None, true) => {
                event(
                    store,
                    Level::Warn,
                    "backup",
                    &req.environment,
                    Some(run_id),
                    "filestore not included: no filestore directory given (--filestore DIR)",
                    json!({}),
                )
                .await;
                None
            }
            _ => None,
        };
        let finished_at = crate::store::now();
        let manifest = manifest_json(
            req,
            target,
            &facts,
            &blob,
            filestore.as_ref(),
            started_at,
            finished_at,
        );
        let bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BackupError::Invalid(format!("serializing the manifest: {e}")))?;
        let man = store
            .put_artifact(&bytes, MANIFEST_MEDIA_TYPE, Some(run_id))
            .await?;
        created.push(man.sha256.clone());
        let row = store
            .record_backup_details(
                &NewBackup {
                    job_id: Some(job_id),
                    environment: req.environment.clone(),
                    kind: req.kind.as_str().to_string(),
                    size_bytes: i64::try_from(blob.size).unwrap_or(i64::MAX),
                    sha256: blob.sha256.clone(),
                    location: blob.uri.clone(),
                    retention_class: match req.kind {
                        BackupKind::Scheduled => "daily".to_string(),
                        BackupKind::Manual => "manual".to_string(),
                        BackupKind::PreUpdate => "pre-update".to_string(),
                    },
                    expires_at: None,
                },
                &BackupDetails {
                    run_id: Some(run_id),
                    filestore_sha256: filestore.as_ref().map(|f| f.sha256.clone()),
                    filestore_size_bytes: filestore
                        .as_ref()
                        .map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)),
                    manifest_sha256: Some(man.sha256.clone()),
                    manifest: manifest.clone(),
                    started_at: Some(started_at),
                },
            )
            .await?;
        event(
            store,
            Level::Info,
            "backup",
            &req.environment,
            Some(run_id),
            format!("backup {} recorded", row.id),
            json!({"backup_id": row.id, "manifest_sha256": man.sha256}),
        )
        .await;
        Ok::<_, BackupError>(BackupOutcome {
            backup_id: row.id,
            run_id,
            environment: req.environment.clone(),
            kind: req.kind,
            database: target.database(),
            dump_sha256: blob.sha256.clone(),
            dump_bytes: blob.size,
            filestore_sha256: filestore.as_ref().map(|f| f.sha256.clone()),
            filestore_bytes: filestore.as_ref().map(|f| f.size),
            manifest_sha256: man.sha256.clone(),
            manifest,
            duration_ms: t0.elapsed().as_millis() as u64,
        })
    }
    .await;
    if rest.is_err() {
        for sha in &created {
            forget_unless_used(store, sha).await;
        }
    }
    if req.cancel.is_cancelled() && rest.is_err() {
        return Err(BackupError::Cancelled);
    }
    rest
}

/// Remove an artifact this job wrote unless a backup row (or an older artifact row of a
/// different run) refers to it.
pub(crate) async fn forget_unless_used(store: &Store, sha: &str) {
    match store.artifact_used_by_backups(sha).await {
        Ok(false) => {
            if let Err(e) = store.forget_artifact(sha).await {
                tracing::warn!(error = %e, sha, "removing a partial artifact failed");
            }
        }
        Ok(true) => {}
        Err(e) => tracing::warn!(error = %e, sha, "checking an artifact's use failed"),
    }
}

#[allow(clippy::too_many_arguments)]
fn manifest_json(
    req: &BackupRequest,
    target: &PgTarget,
    facts: &DbFacts,
    dump: &StoredBlob,
    filestore: Option<&StoredBlob>,
    started_at: chrono::DateTime<chrono::Utc>,
    finished_at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    json!({
        "format": "odooops.backup/v1",
        "environment": req.environment,
        "kind": req.kind.as_str(),
        "database": target.database(),
        "postgres_version": facts.postgres_version,
        "odoo_version": facts.odoo_version,
        "modules": facts.modules,
        "tables": facts.tables,
        "sequences": facts.sequences,
        "objects": facts.objects,
        "dump": {"sha256": dump.sha256, "size_bytes": dump.size, "format": "pg_dump -Fc"},
        "filestore": filestore.map(|f| json!({"sha256": f.sha256, "size_bytes": f.size, "format": "tar"})),
        "started_at": started_at.to_rfc3339(),
        "finished_at": finished_at.to_rfc3339(),
        "duration_ms": (finished_at - started_at).num_milliseconds(),
    })
}

/// Stream `pg_dump -Fc` into the artifact store (hashed and counted as it goes). The blob
/// is written but not recorded; on failure or cancel it is removed.
async fn dump_db(
    store: &Store,
    req: &BackupRequest,
    target: &PgTarget,
    snapshot: &str,
    app: &str,
) -> Result<(StoredBlob, u64), BackupError> {
    let mut cmd = target.command("pg_dump");
    cmd.arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .env("PGAPPNAME", app);
    let mut child = cmd.spawn().map_err(|source| BackupError::Spawn {
        program: "pg_dump".into(),
        source,
    })?;
    let stderr = Stderr::collect(&mut child);
    let counter = Arc::new(AtomicU64::new(0));
    let Some(stdout) = child.stdout.take() else {
        return Err(BackupError::Invalid("pg_dump has no stdout".into()));
    };
    let progress = Progress::start("pg_dump", counter.clone(), req.progress);
    let reader = CountingOutput::new(stdout, counter.clone(), &req.cancel);
    let put = store.artifact_store().put_reader(reader).await;
    drop(progress);
    if req.cancel.is_cancelled() {
        let _ = child.start_kill();
        let _ = child.wait().await;
        if let Ok(b) = &put {
            forget_blob_unless_recorded(store, &b.sha256).await;
        }
        return Err(BackupError::Cancelled);
    }
    let status = tokio::select! {
        s = child.wait() => s.map_err(|source| BackupError::Spawn { program: "pg_dump".into(), source })?,
        _ = req.cancel.cancelled() => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            if let Ok(b) = &put {
                forget_blob_unless_recorded(store, &b.sha256).await;
            }
            return Err(BackupError::Cancelled);
        }
    };
    let err_text = stderr.text().await;
    match put {
        Ok(blob) if status.success() => {
            Ok((blob, counter.load(std::sync::atomic::Ordering::Relaxed)))
        }
        Ok(blob) => {
            forget_blob_unless_recorded(store, &blob.sha256).await;
            Err(BackupError::Tool {
                program: "pg_dump".into(),
                status: status.to_string(),
                stderr: err_text,
            })
        }
        Err(e) => Err(if status.success() {
            BackupError::Store(e)
        } else {
            BackupError::Tool {
                program: "pg_dump".into(),
                status: status.to_string(),
                stderr: err_text,
            }
        }),
    }
}

/// Delete a blob no `ops.artifacts` row refers to (a row means someone else's identical blob).
pub(super) async fn forget_blob_unless_recorded(store: &Store, sha: &str) {
    if let Ok(None) = store.artifact(sha).await {
        let _ = store.artifact_store().delete(sha).await;
    }
}
