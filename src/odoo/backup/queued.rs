//! The controller's entry point for queued backup/restore/clone jobs, each run through the
//! bounded-job runner ([`crate::jobs`]).

use super::{
    clone, parse_backup_id, restore, run_backup, BackupError, BackupKind, BackupRequest,
    CloneRequest, RestoreRequest,
};
use crate::jobs::{run_bounded, timeout_for, CancelToken, JobError, JobKind, JobSpec, JobsConfig};
use crate::odoo::neutralize::RulesChoice;
use crate::ssot::Ssot;
use crate::store::{Store, Trigger};
use anyhow::{anyhow, Context};
use serde_json::Value;
use std::time::Duration;

/// The bound of a job on an environment: its `limits.jobTimeoutSeconds`, else the kind's
/// default.
pub fn job_timeout(ssot: &Ssot, kind: JobKind, env: &str) -> Duration {
    let secs = ssot
        .environment(env)
        .and_then(|e| e.spec.limits.job_timeout_seconds);
    timeout_for(kind, secs)
}

fn text<'a>(payload: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| anyhow!("queued job payload: field `{field}` (string) is required"))
}

/// Run one queued job: `{"action":"backup","environment":E}` (optional `"kind":"manual"`),
/// `{"action":"restore","backup_id":ID,"environment":TO}`,
/// `{"action":"clone","from":F,"environment":TO}`. Database URLs come from the environments'
/// `database.urlSecret` keys; the Odoo source that neutralizes a non-production copy from
/// `ODOOOPS_ODOO_SRC` in the controller's environment (without it, such a job is refused).
/// Returns the outcome as JSON.
pub async fn run_queued(store: &Store, ssot: &Ssot, payload: &Value) -> anyhow::Result<Value> {
    run_queued_with(
        store,
        ssot,
        payload,
        &JobsConfig::default(),
        &CancelToken::new(),
    )
    .await
}

/// [`run_queued`] with explicit runner settings and a cancel handle.
pub async fn run_queued_with(
    store: &Store,
    ssot: &Ssot,
    payload: &Value,
    cfg: &JobsConfig,
    cancel: &CancelToken,
) -> anyhow::Result<Value> {
    let action = text(payload, "action")?;
    let env = text(payload, "environment")?;
    let value = match action {
        "backup" => {
            let kind = match payload.get("kind").and_then(Value::as_str) {
                Some("manual") => BackupKind::Manual,
                Some("scheduled") | None => BackupKind::Scheduled,
                Some(other) => {
                    return Err(anyhow!(
                        "queued backup: kind {other:?} is not scheduled or manual"
                    ))
                }
            };
            let mut req = BackupRequest::new(env, kind);
            req.trigger = match kind {
                BackupKind::Scheduled => Trigger::Schedule,
                BackupKind::Manual | BackupKind::PreUpdate => Trigger::Console,
            };
            req.actor = "controller".into();
            let o = bounded(store, ssot, cfg, JobKind::Backup, env, cancel, |ctx| {
                req.cancel = ctx.cancel.clone();
                async move {
                    let o = run_backup(store, ssot, &req).await;
                    if let Ok(o) = &o {
                        ctx.set_run(o.run_id);
                    }
                    o
                }
            })
            .await?;
            serde_json::to_value(o)?
        }
        "restore" => {
            let id = parse_backup_id(text(payload, "backup_id")?)?;
            let mut req = RestoreRequest::new(id, env);
            req.rules = RulesChoice::from_env();
            req.trigger = Trigger::Console;
            req.actor = "controller".into();
            let o = bounded(store, ssot, cfg, JobKind::Restore, env, cancel, |ctx| {
                req.cancel = ctx.cancel.clone();
                async move {
                    let o = restore(store, ssot, &req).await;
                    if let Ok(o) = &o {
                        ctx.set_run(o.run_id);
                    }
                    o
                }
            })
            .await?;
            serde_json::to_value(o)?
        }
        "clone" => {
            let from = text(payload, "from")?;
            let mut req = CloneRequest::new(from, env);
            req.rules = RulesChoice::from_env();
            req.trigger = Trigger::Console;
            req.actor = "controller".into();
            let o = bounded(store, ssot, cfg, JobKind::Clone, env, cancel, |ctx| {
                req.cancel = ctx.cancel.clone();
                async move {
                    let o = clone(store, ssot, &req).await;
                    if let Ok(o) = &o {
                        ctx.set_run(o.run_id);
                    }
                    o
                }
            })
            .await?;
            serde_json::to_value(o)?
        }
        other => {
            return Err(anyhow!(
                "queued job payload: unknown action {other:?} (expected backup, restore or clone)"
            ))
        }
    };
    Ok(value)
}

/// Run a backup-family job under the environment's bound.
pub async fn bounded<T, F, Fut>(
    store: &Store,
    ssot: &Ssot,
    cfg: &JobsConfig,
    kind: JobKind,
    env: &str,
    cancel: &CancelToken,
    job: F,
) -> anyhow::Result<T>
where
    F: FnOnce(crate::jobs::JobCtx) -> Fut,
    Fut: std::future::Future<Output = Result<T, BackupError>>,
{
    let spec = JobSpec {
        kind,
        environment: env.to_string(),
        timeout: job_timeout(ssot, kind, env),
    };
    run_bounded(store, cfg, &spec, cancel, job)
        .await
        .map_err(|e: JobError<BackupError>| anyhow::Error::new(e))
        .with_context(|| format!("{kind} job on {env}"))
}
