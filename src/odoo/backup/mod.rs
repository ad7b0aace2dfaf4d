//! Odoo backups, restore and clone, each a bounded job with evidence.
//!
//! - [`run_backup`]: `pg_dump -Fc` of an environment's database streamed into the artifact
//!   store while hashed and counted (never buffered whole), the filestore as a tarball when the
//!   policy includes it, and a manifest (sha256, sizes, PostgreSQL and Odoo versions, installed
//!   modules, tables + sequences) read in the dump's own snapshot.
//! - [`restore()`]: into a NEW database, verified against the manifest, then swapped in
//!   (old → `<db>_old_<ts>`); a failed verification leaves the old database untouched.
//! - [`clone()`]: backup of the source, restore into the target's new database, mandatory
//!   neutralization (the Odoo source's own scripts, refused when unknown) and its post-check,
//!   then swap. Never into production.
//! - [`prune()`]: GFS retention ([`crate::odoo::retention`]) over the recorded backups.
//! - [`run_queued`]: the controller's entry point for queued jobs, through the bounded runner.
//! - [`due_backups`]: which environments' schedules fired since their last backup (pure).

mod clone;
mod download;
mod dump;
mod filestore;
mod neutral;
pub mod pg;
mod progress;
mod prune;
mod queued;
mod restore;
mod schedule;

pub use clone::{clone, CloneOutcome, CloneRequest};
pub use download::download;
pub use dump::{run_backup, BackupOutcome, BackupRequest};
pub use prune::{prune, EnvPrune, PruneOutcome, PruneRequest};
pub use queued::{bounded, job_timeout, run_queued, run_queued_with};
pub use restore::{restore, RestoreOutcome, RestoreRequest, Verification};
pub use schedule::due_backups;

use crate::provider::secret::{EnvSecrets, SecretSource};
use crate::ssot::{BackupPolicy, Environment, Ssot};
use crate::store::{Level, NewEvent, Store, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Scheduled (by the policy's cron), manual (asked for by a person), or taken by a release
/// before it updates the database (kept like scheduled ones, never counted in the manual
/// quota).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    Scheduled,
    Manual,
    PreUpdate,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Scheduled => "scheduled",
            BackupKind::Manual => "manual",
            BackupKind::PreUpdate => "pre-update",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Invalid(String),
    #[error("no environment `{0}` in the SSOT (see `odooops validate`)")]
    UnknownEnvironment(String),
    #[error("backup {0} not found (see `odooops backup list`)")]
    NotFound(String),
    #[error("{what}: {source}")]
    Database {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Tool {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run {program}: {source} (is the PostgreSQL client installed and on PATH?)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("evidence store: {0}")]
    Store(#[from] StoreError),
    #[error("restore verification failed, nothing was swapped: {0}")]
    Verification(String),
    #[error("neutralization failed, nothing was swapped: {0}")]
    Neutralization(String),
    /// Neutralization cannot be done faithfully (no Odoo source, a module found nowhere, a
    /// series mismatch): refused before anything changed.
    #[error("{0}")]
    Refused(String),
    #[error("manual backup quota reached for {environment}: {limit} per UTC day (retention.manualPerDay)")]
    ManualQuota { environment: String, limit: u32 },
    #[error("cancelled")]
    Cancelled,
}

/// The environment, or an error naming it.
pub(crate) fn environment<'a>(ssot: &'a Ssot, name: &str) -> Result<&'a Environment, BackupError> {
    ssot.environment(name)
        .ok_or_else(|| BackupError::UnknownEnvironment(name.to_string()))
}

/// The backup policy of an environment (the first one naming it).
pub(crate) fn policy<'a>(ssot: &'a Ssot, env: &str) -> Option<&'a BackupPolicy> {
    ssot.backup_policies().find(|p| p.spec.environment == env)
}

/// The store a backup of `env` is written to and read from: its BackupPolicy's `storage`
/// when it names one (credentials by registry key, from the environment), else the store's
/// own artifact store (the project's `artifacts`).
pub fn store_for(store: &Store, ssot: &Ssot, env: &str) -> Result<Store, BackupError> {
    match policy(ssot, env).and_then(|p| p.spec.storage.as_ref()) {
        Some(storage) => Ok(store.clone().with_artifacts(crate::store::artifact_store(
            storage,
            &crate::provider::EnvSecrets,
        )?)),
        None => Ok(store.clone()),
    }
}

/// The variable the gates read an environment's database URL from, also honoured here.
pub fn env_db_var(env: &str) -> String {
    format!("ODOOOPS_ENV_DB_{}", env.to_uppercase().replace('-', "_"))
}

/// An environment's database URL: the override, else the value of its `database.urlSecret`
/// registry key from the process environment, else `ODOOOPS_ENV_DB_<ENV>`.
pub fn resolve_db_url(
    ssot: &Ssot,
    env: &str,
    override_url: Option<&str>,
) -> Result<String, BackupError> {
    if let Some(u) = override_url.filter(|u| !u.trim().is_empty()) {
        return Ok(u.to_string());
    }
    let e = environment(ssot, env)?;
    if let Some(key) = &e.spec.database.url_secret {
        if let Some(v) = EnvSecrets.get(key) {
            return Ok(v.expose().to_string());
        }
        return Err(BackupError::Invalid(format!(
            "environment {env}: database.urlSecret `{key}` is not set in this process's environment (export it, or pass --db URL)"
        )));
    }
    if let Ok(v) = std::env::var(env_db_var(env)) {
        if !v.trim().is_empty() {
            return Ok(v);
        }
    }
    Err(BackupError::Invalid(format!(
        "environment {env} has no database URL: set spec.database.urlSecret (and export that key), export {}, or pass --db URL",
        env_db_var(env)
    )))
}

/// Append one event of a backup/restore/clone run (a failure to record is logged, not fatal).
pub(crate) async fn event(
    store: &Store,
    level: Level,
    service: &str,
    env: &str,
    run_id: Option<Uuid>,
    message: impl Into<String>,
    fields: serde_json::Value,
) {
    let mut e = NewEvent::new(level, service, message);
    e.environment = Some(env.to_string());
    e.run_id = run_id;
    e.correlation_id = run_id.map(|r| r.to_string());
    e.fields = fields;
    if let Err(err) = store.append_events(&[e]).await {
        tracing::warn!(error = %err, "recording an event failed");
    }
}

/// Parse a backup id given on a command line or in a queue payload.
pub fn parse_backup_id(s: &str) -> Result<Uuid, BackupError> {
    Uuid::parse_str(s.trim()).map_err(|_| {
        BackupError::Invalid(format!(
            "invalid backup id {s:?}: expected a UUID (see `odooops backup list`)"
        ))
    })
}
