//! Delivering a release: the code exported at its commit, Odoo's source at its revision, the
//! requirements, the secret values read from the registry (and checked against the plan's
//! digest), then [`crate::host::deploy`] on the environment's host — a transaction whose
//! every step is journaled into `ops.releases`, whose pre-update backup and rollback restore
//! are the backup code's, and whose update log becomes an artifact (secret values scrubbed).
//! One deploy per host at a time: a lock directory on the host names the release holding it.

use super::{bad, Act, ActCx, Actuator, Done};
use crate::host::deploy::{self, Deploy, DeployFailure, Journal, Safeguard};
use crate::odoo::backup::{self, BackupKind, BackupRequest, RestoreRequest};
use crate::provider::{Provider, ProviderError, SecretValue};
use crate::reconcile::plan::Action;
use crate::reconcile::release::{self, ReleaseValue, Sources, Target};
use crate::ssot::{Environment, Project, Stage};
use crate::store::{
    NewRelease, ReleaseEnd, ReleaseStep, Store, RELEASE_FAILED, RELEASE_HEALTHY,
    RELEASE_ROLLED_BACK,
};
use futures::future::BoxFuture;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Bounds of a deploy's long steps.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub sources: crate::reconcile::release::SourcesConfig,
    pub update_timeout: Duration,
    pub venv_timeout: Duration,
    pub health_timeout: Duration,
}

impl DeliveryConfig {
    pub fn new(data_dir: &std::path::Path) -> DeliveryConfig {
        DeliveryConfig {
            sources: crate::reconcile::release::SourcesConfig::new(data_dir),
            update_timeout: Duration::from_secs(3600),
            venv_timeout: Duration::from_secs(1800),
            health_timeout: Duration::from_secs(300),
        }
    }
}

/// What a release action needs beyond the common context.
pub struct ReleaseCx<'a> {
    pub store: &'a Store,
    pub sources: &'a Sources,
    pub config: &'a DeliveryConfig,
    pub run_id: Uuid,
    pub trigger: crate::store::Trigger,
    pub actor: String,
    /// Connection host and port of each database cluster, by name.
    pub cluster_hosts: &'a BTreeMap<String, (String, u16)>,
}

pub struct ReleaseActuator;

fn host_err(code: &str, m: impl Into<String>) -> ProviderError {
    ProviderError::new(Provider::Host, code, m.into())
}

impl Actuator for ReleaseActuator {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(deliver(cx, a))
    }
    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        Box::pin(deliver(cx, a))
    }
    fn delete<'a>(&'a self, _cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        let key = a.diff.key.to_string();
        Box::pin(async move {
            Err(bad(&format!(
                "{key}: a release is never deleted by the engine (stop serving by removing the environment's host)"
            )))
        })
    }
}

pub(crate) struct StoreJournal<'a> {
    pub store: &'a Store,
    pub release: Uuid,
}

impl Journal for StoreJournal<'_> {
    fn step<'a>(&'a self, step: ReleaseStep) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.store.release_step(self.release, &step).await {
                tracing::warn!(error = %e, release = %self.release, "recording a release step failed");
            }
        })
    }
}

/// The pre-update backup and its restore, through the backup code (`ops.backups`, runs,
/// artifacts; the environment's BackupPolicy storage).
pub(crate) struct Backups<'a> {
    pub store: &'a Store,
    pub ssot: &'a crate::ssot::Ssot,
    pub env: &'a str,
    pub db_url: Option<String>,
    pub trigger: crate::store::Trigger,
    pub actor: String,
}

impl Safeguard for Backups<'_> {
    fn backup<'a>(&'a self) -> BoxFuture<'a, Result<String, String>> {
        let mut req = BackupRequest::new(self.env, BackupKind::PreUpdate);
        req.db_url = self.db_url.clone();
        req.trigger = self.trigger;
        req.actor = self.actor.clone();
        let (store, ssot) = (self.store.clone(), self.ssot.clone());
        Box::pin(async move {
            off_task(move || async move { backup::run_backup(&store, &ssot, &req).await })
                .await?
                .map(|o| o.backup_id.to_string())
                .map_err(|e| e.to_string())
        })
    }
    fn restore<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        let parsed = backup::parse_backup_id(id).map_err(|e| e.to_string());
        let (store, ssot) = (self.store.clone(), self.ssot.clone());
        let (env, db_url, trigger, actor) = (
            self.env.to_string(),
            self.db_url.clone(),
            self.trigger,
            self.actor.clone(),
        );
        Box::pin(async move {
            let mut req = RestoreRequest::new(parsed?, &env);
            req.db_url = db_url;
            req.rollback = true;
            req.trigger = trigger;
            req.actor = actor;
            off_task(move || async move { backup::restore(&store, &ssot, &req).await })
                .await?
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Run `make()`'s future to completion on a blocking thread of the runtime. The backup
/// code's futures hold `&mut PgConnection` across awaits, which the compiler cannot prove
/// `Send` for every lifetime; an actuator's future must be `Send`.
async fn off_task<F, Fut, T>(make: F) -> Result<T, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(make()))
        .await
        .map_err(|e| e.to_string())
}

/// Replace every secret value (of four characters or more) in `log` with `***`.
pub fn scrub(log: &[u8], values: &[(String, SecretValue)]) -> Vec<u8> {
    let mut text = String::from_utf8_lossy(log).into_owned();
    for (_, v) in values {
        let v = v.expose();
        if v.len() >= 4 {
            text = text.replace(v, "***");
        }
    }
    text.into_bytes()
}

fn env_of<'a>(cx: &'a ActCx<'a>) -> Result<(&'a Project, &'a Environment), ProviderError> {
    let input = cx.input()?;
    let env = cx
        .ssot
        .environment(&input.environment)
        .ok_or_else(|| bad("the environment is no longer in the SSOT"))?;
    let project = cx
        .ssot
        .project(&env.spec.project)
        .ok_or_else(|| bad("the project is no longer in the SSOT"))?;
    Ok((project, env))
}

async fn deliver(cx: &ActCx<'_>, a: &Action) -> Result<Done, ProviderError> {
    let rc = cx
        .release
        .ok_or_else(|| bad("this engine delivers no releases (no data directory)"))?;
    let value: ReleaseValue = super::after(a)?;
    let (project, env) = env_of(cx)?;
    let name = env.metadata.name.as_str();
    let ips = cx.shared.ips.lock().await.clone();
    let target = Target::of(project, env, cx.secrets, &ips).map_err(|e| bad(&e))?;
    let values = release::host_secrets(project, env, cx.secrets, rc.cluster_hosts)
        .map_err(|e| host_err("secret_missing", e))?;
    if crate::host::prepare::secrets_digest(&values) != value.inputs.secrets {
        return Err(bad(
            "the secret values changed since the plan was made; re-plan",
        ));
    }
    let fail = |e: String| host_err("source", e);
    let code_dir = rc
        .sources
        .code_dir(project, &value.inputs.commit)
        .await
        .map_err(fail)?;
    let odoo_dir = rc.sources.odoo_dir(project).await.map_err(fail)?;
    let requirements = rc
        .sources
        .requirements(project, &value.inputs.commit)
        .await
        .map_err(fail)?;
    let previous = a
        .diff
        .live_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok());
    let installed_before = match previous {
        Some(id) => rc
            .store
            .release(id)
            .await
            .map_err(|e| host_err("store", e.to_string()))?
            .map(|r| release::installed_of(&r))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let store_err = |e: crate::store::StoreError| host_err("store", e.to_string());
    let row = rc
        .store
        .begin_release(&NewRelease {
            environment: name.to_string(),
            run_id: Some(rc.run_id),
            commit_sha: value.inputs.commit.clone(),
            odoo_revision: value.inputs.odoo.clone(),
            config_digest: value.inputs.config.clone(),
            requirements_digest: Some(value.inputs.requirements.clone()),
            secrets_digest: Some(value.inputs.secrets.clone()),
            modules_installed: release::installed_after(&installed_before, &value.database),
            modules_updated: value.database.update.keys().cloned().collect(),
            trigger: rc.trigger.as_str().to_string(),
            actor: rc.actor.clone(),
            previous_release_id: previous,
        })
        .await
        .map_err(store_err)?;
    let trigger = rc.trigger;
    let safe = Backups {
        store: rc.store,
        ssot: cx.ssot,
        env: name,
        db_url: release::database_url(env, &values),
        trigger,
        actor: rc.actor.clone(),
    };
    let journal = StoreJournal {
        store: rc.store,
        release: row.id,
    };
    let lock =
        crate::host::lock::acquire(&target.transport, &target.layout, &row.id.to_string()).await;
    if let Err(e) = lock {
        rc.store
            .finish_release(
                row.id,
                &ReleaseEnd {
                    status: RELEASE_FAILED.into(),
                    error: Some(e.to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(store_err)?;
        return Err(host_err("host_locked", e.to_string()));
    }
    let odoo_rev = value.inputs.odoo.clone();
    let d = Deploy {
        project,
        env,
        transport: &target.transport,
        layout: target.layout.clone(),
        supervisor: target.supervisor,
        proxy: target.proxy.clone(),
        release_id: row.id.to_string(),
        commit: &value.inputs.commit,
        code_dir: &code_dir,
        odoo_revision: &odoo_rev,
        odoo_dir: &odoo_dir,
        requirements,
        python: &target.python,
        secrets: values.clone(),
        initialize: value.database.initialize,
        install: value.database.install.clone(),
        update: value.database.update.keys().cloned().collect(),
        demo: value.database.initialize && env.spec.stage == Stage::Development,
        update_timeout: rc.config.update_timeout,
        venv_timeout: rc.config.venv_timeout,
        health_timeout: rc.config.health_timeout,
    };
    let result = deploy::deploy(&d, &journal, &safe).await;
    let log = match &result {
        Ok(done) => done.log.clone(),
        Err(f) => f.log.clone(),
    };
    let log_sha = match log {
        Some(bytes) if !bytes.is_empty() => rc
            .store
            .put_artifact(&scrub(&bytes, &values), "text/plain", Some(rc.run_id))
            .await
            .ok()
            .map(|a| a.sha256),
        _ => None,
    };
    let _ =
        crate::host::lock::release(&target.transport, &target.layout, &row.id.to_string()).await;
    match result {
        Ok(done) => {
            let url = target.url(done.slot);
            let backup_id = done
                .backup_id
                .as_deref()
                .and_then(|b| Uuid::parse_str(b).ok());
            rc.store
                .finish_release(
                    row.id,
                    &ReleaseEnd {
                        status: RELEASE_HEALTHY.into(),
                        backup_id,
                        log_sha256: log_sha.clone(),
                        url: Some(url.clone()),
                        error: None,
                    },
                )
                .await
                .map_err(store_err)?;
            rc.store
                .supersede_releases(name, row.id)
                .await
                .map_err(store_err)?;
            // What Odoo says is installed now (its auto-installs included), when the
            // database answers; else the release keeps what it asked for.
            let read = match safe.db_url.as_deref() {
                Some(url) => installed_modules(url).await,
                None => Err("no database URL in the host secrets".into()),
            };
            let modules_read = match read {
                Ok(installed) => {
                    rc.store
                        .set_release_modules(row.id, &installed)
                        .await
                        .map_err(store_err)?;
                    json!(installed.len())
                }
                Err(e) => json!({"error": e}),
            };
            Ok(Done::new(
                false,
                json!({
                    "release_id": row.id, "commit": value.inputs.commit, "url": url,
                    "slot": done.slot.as_str(), "backup_id": done.backup_id,
                    "installed": value.database.install, "updated": value.database.update.keys().collect::<Vec<_>>(),
                    "log_sha256": log_sha, "modules_read": modules_read,
                }),
            )
            .with_id(row.id.to_string()))
        }
        Err(f) => {
            let status = if f.rolled_back && f.had_previous {
                RELEASE_ROLLED_BACK
            } else {
                RELEASE_FAILED
            };
            rc.store
                .finish_release(
                    row.id,
                    &ReleaseEnd {
                        status: status.into(),
                        backup_id: f.backup_id.as_deref().and_then(|b| Uuid::parse_str(b).ok()),
                        log_sha256: log_sha,
                        url: None,
                        error: Some(f.to_string()),
                    },
                )
                .await
                .map_err(store_err)?;
            Err(failure(row.id, &f))
        }
    }
}

fn failure(release: Uuid, f: &DeployFailure) -> ProviderError {
    let mut e = host_err("deploy_failed", format!("release {release}: {f}"));
    e.retryable = false;
    e
}

/// The modules Odoo's database says are installed, by name.
async fn installed_modules(url: &str) -> Result<Vec<String>, String> {
    use sqlx::Connection as _;
    let opts = crate::provider::postgres::parse_url(url).map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(15),
        sqlx::PgConnection::connect_with(&opts),
    )
    .await
    .map_err(|_| "connecting to the database timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(names)
}
