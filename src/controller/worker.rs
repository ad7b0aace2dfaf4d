//! The controller's side jobs: the work-queue consumer (console actions and webhooks turned
//! into runs) and the probe server (/metrics, /healthz, /readyz).

use super::metrics::ControllerMetrics;
use super::{guarded, Controller};
use crate::provider::http::Metrics as HttpMetrics;
use crate::reconcile::engine::Context;
use crate::store::{QueueJob, Store, Trigger};
use anyhow::{anyhow, bail};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch as signal;

/// Queues the controller consumes, in priority order.
pub const QUEUES: &[&str] = &["reconcile", "gates", "backup"];

/// Attempts before a failing job is marked failed for good.
pub const MAX_ATTEMPTS: i32 = 3;

async fn heartbeat(store: Store, id: uuid::Uuid, worker: String, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        match store.extend_lease(id, &worker, lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %id, "job lease lost while running");
                return;
            }
            Err(e) => tracing::warn!(job = %id, error = %e, "could not extend a job lease"),
        }
    }
}

impl Controller {
    /// Claim and run every ready job. `None` when a shutdown interrupted a job (it is
    /// released back to the queue).
    pub(crate) async fn drain_queue(
        &mut self,
        shutdown: &mut signal::Receiver<bool>,
    ) -> Option<()> {
        let worker = self.opts.worker_id.clone();
        let lease = self.opts.lease;
        loop {
            if *shutdown.borrow() {
                return None;
            }
            let mut claimed = None;
            for q in QUEUES {
                match self.store.claim(q, &worker, lease).await {
                    Ok(Some(job)) => {
                        claimed = Some(job);
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(queue = q, error = %e, "could not poll the work queue");
                        return Some(());
                    }
                }
            }
            let Some(job) = claimed else {
                return Some(());
            };
            let hb = tokio::spawn(heartbeat(self.store.clone(), job.id, worker.clone(), lease));
            tracing::info!(job = %job.id, queue = %job.queue, payload = %job.payload, "running a queued job");
            self.reload().await;
            let grace = self.opts.grace;
            let out = guarded(self.dispatch(&job), shutdown, grace).await;
            hb.abort();
            match out {
                None => {
                    let _ = self
                        .store
                        .fail(
                            job.id,
                            &worker,
                            "released: the controller shut down",
                            Some(Duration::ZERO),
                        )
                        .await;
                    self.metrics.job(&job.queue, "released");
                    return None;
                }
                Some(Ok(result)) => {
                    if let Err(e) = self
                        .store
                        .complete_with_result(job.id, &worker, &result)
                        .await
                    {
                        tracing::warn!(job = %job.id, error = %e, "could not mark a job done");
                    }
                    self.metrics.job(&job.queue, "done");
                }
                Some(Err(e)) => {
                    let retry = (job.attempts < MAX_ATTEMPTS)
                        .then(|| Duration::from_secs(15 * job.attempts.max(1) as u64));
                    let _ = self
                        .store
                        .fail(job.id, &worker, &format!("{e:#}"), retry)
                        .await;
                    self.metrics
                        .job(&job.queue, if retry.is_some() { "retry" } else { "failed" });
                }
            }
        }
    }

    /// Enqueue the backups whose `BackupPolicy` schedule fired since the environment's last
    /// backup (or since this controller last enqueued one, so a failing backup waits for the
    /// next firing instead of being re-queued every minute). Environments whose database
    /// cannot be reached from here are reported once, not queued.
    pub(crate) async fn schedule_backups(&mut self) {
        let now = chrono::Utc::now();
        let mut last = Vec::new();
        for policy in self.ssot.backup_policies() {
            let env = policy.spec.environment.clone();
            match self.store.backups(Some(&env), 1).await {
                Ok(rows) => {
                    if let Some(b) = rows.first() {
                        last.push((env.clone(), b.started_at.unwrap_or(b.created_at)));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "backup schedule: could not read the last backups");
                    return;
                }
            }
            if let Some(at) = self.scheduled.get(&env) {
                last.push((env, *at));
            }
        }
        for env in crate::odoo::backup::due_backups(&self.ssot, &last, now) {
            if let Err(e) = crate::odoo::backup::resolve_db_url(&self.ssot, &env, None) {
                if self.unreachable.insert(env.clone()) {
                    self.event(
                        crate::store::Level::Warn,
                        Some(&env),
                        format!("scheduled backup of {env} not queued: {e}"),
                        json!({}),
                    )
                    .await;
                }
                continue;
            }
            self.unreachable.remove(&env);
            let payload = json!({"action": "backup", "environment": env, "trigger": "schedule"});
            match self
                .store
                .enqueue("backup", &format!("schedule:backup:{env}"), &payload, None)
                .await
            {
                Ok(_) => {
                    self.scheduled.insert(env, now);
                }
                Err(e) => tracing::warn!(error = %e, "could not enqueue a scheduled backup"),
            }
        }
    }

    /// Turn one job into a run.
    async fn dispatch(&mut self, job: &QueueJob) -> anyhow::Result<Value> {
        let p = &job.payload;
        let action = p["action"].as_str().unwrap_or_default();
        let env = p["environment"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let trigger = match p["trigger"].as_str() {
            Some("webhook") => Trigger::Webhook,
            Some("schedule") => Trigger::Schedule,
            _ => Trigger::Console,
        };
        match (job.queue.as_str(), action) {
            ("reconcile", "apply") if p["plan_id"].is_string() => {
                let id = p["plan_id"]
                    .as_str()
                    .and_then(|s| uuid::Uuid::parse_str(s).ok())
                    .ok_or_else(|| anyhow!("plan_id is not a UUID"))?;
                let ctx = Context {
                    trigger,
                    actor: format!("controller/{}", self.opts.worker_id),
                    only_env: env,
                    ..Context::default()
                };
                let applied = self.engine.apply(&self.ssot, id, &ctx).await?;
                Ok(json!({"run_id": applied.run_id, "plan_id": id, "applied": applied}))
            }
            ("reconcile", "plan" | "apply" | "resync" | "reconcile") => {
                // A push names the commit to deploy (its `after`), not whatever the
                // branch's head is by the time this runs.
                if let (Some(e), Some(sha)) = (&env, p["after"].as_str()) {
                    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                        self.pushed.insert(e.clone(), sha.to_ascii_lowercase());
                    }
                }
                let report = self.reconcile(trigger, env, action != "plan").await;
                match &report.error {
                    Some(err) => bail!(
                        "{err} (run {})",
                        report
                            .run_id
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "-".into())
                    ),
                    None => Ok(json!({
                        "run_id": report.apply_run_id.or(report.run_id),
                        "plan_run_id": report.run_id,
                        "plan_id": report.plan_id,
                        "actions": report.actions,
                        "skipped_envs": report.skipped_envs,
                    })),
                }
            }
            ("gates", _) => {
                let opts = crate::gates::run::RunOptions {
                    environment: env,
                    databases: crate::gates::run::databases_from_env(&self.ssot),
                    addons_paths: self.opts.addons_paths.clone(),
                    actor: format!("controller/{}", self.opts.worker_id),
                    trigger,
                };
                let report = crate::gates::run::run_bounded(
                    &self.ssot,
                    &opts,
                    &self.store,
                    &crate::jobs::CancelToken::new(),
                )
                .await?;
                Ok(
                    json!({"run_id": report.run_id, "failed": report.failed(), "environments": report.environments}),
                )
            }
            ("backup", _) => {
                // A shutdown cancels the job (its pg_dump/pg_restore is killed and partial
                // artifacts and databases are removed) instead of leaving it to the grace drop.
                let cancel = crate::jobs::CancelToken::new();
                let on_stop = cancel.clone();
                let mut stop = self.stop.clone();
                let watcher = tokio::spawn(async move {
                    super::wait_shutdown(&mut stop).await;
                    on_stop.cancel();
                });
                // A backup without an environment (the console's "all") is one backup per
                // environment that has a BackupPolicy.
                let targets: Vec<Value> = match (action, env.as_deref()) {
                    ("backup", None) => self
                        .ssot
                        .backup_policies()
                        .map(|b| {
                            let mut one = p.clone();
                            one["environment"] = json!(b.spec.environment);
                            one
                        })
                        .collect(),
                    _ => vec![p.clone()],
                };
                let mut results = Vec::new();
                let mut failures = Vec::new();
                for one in &targets {
                    match crate::odoo::backup::run_queued_with(
                        &self.store,
                        &self.ssot,
                        one,
                        &crate::jobs::JobsConfig::default(),
                        &cancel,
                    )
                    .await
                    {
                        Ok(v) => results.push(v),
                        Err(e) => failures.push(format!("{}: {e:#}", one["environment"])),
                    }
                }
                let out = match (failures.is_empty(), targets.len()) {
                    (true, 1) => Ok(results.pop().unwrap_or(Value::Null)),
                    (true, _) => Ok(json!({"backups": results})),
                    (false, _) => Err(anyhow!("{}", failures.join("; "))),
                };
                watcher.abort();
                out
            }
            (q, a) => bail!("unknown job {q}/{a:?}"),
        }
    }
}

#[derive(Clone)]
struct Probe {
    store: Store,
    http: Arc<HttpMetrics>,
    metrics: Arc<ControllerMetrics>,
}

/// Serve /metrics, /healthz and /readyz until aborted. Every answer but /metrics is JSON.
pub(crate) async fn serve_probes(
    listener: tokio::net::TcpListener,
    store: Store,
    http: Arc<HttpMetrics>,
    metrics: Arc<ControllerMetrics>,
) {
    let app = Router::new()
        .route("/metrics", get(prometheus))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"ok": false, "error": {"code": "no_such_route", "message": "the controller serves /metrics, /healthz and /readyz"}})),
            )
        })
        .with_state(Probe { store, http, metrics });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the probe server stopped");
    }
}

fn role(m: &ControllerMetrics) -> &'static str {
    if m.leader.load(Ordering::Relaxed) {
        "leader"
    } else {
        "standby"
    }
}

async fn prometheus(State(p): State<Probe>) -> Response {
    let body = p.metrics.render(&p.store, &p.http).await;
    (
        [(header::CONTENT_TYPE, crate::console::metrics::CONTENT_TYPE)],
        body,
    )
        .into_response()
}

async fn healthz(State(p): State<Probe>) -> Json<Value> {
    Json(json!({"ok": true, "data": {"status": "ok", "role": role(&p.metrics)}}))
}

async fn readyz(State(p): State<Probe>) -> Response {
    match p.store.ping().await {
        Ok(()) => Json(json!({"ok": true, "data": {
            "status": "ready",
            "role": role(&p.metrics),
            "ssot_valid": p.metrics.ssot_valid.load(Ordering::Relaxed),
        }}))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"ok": false, "error": {"code": "not_ready", "message": "the evidence store is unreachable"}})),
            )
                .into_response()
        }
    }
}
