//! One reconcile of the controller: which environments this cycle takes (backoff, the
//! batches of a first rollout), plan, apply (re-planned once when a scope went stale), and
//! which environments failed.

use super::{Controller, CycleReport};
use crate::controller::metrics::Outcome;
use crate::reconcile::engine::{Context, EngineError};
use crate::store::{Level, Trigger};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

impl Controller {
    pub(super) fn env_names(&self, only: Option<&str>) -> BTreeSet<String> {
        self.ssot
            .environments()
            .map(|e| e.metadata.name.clone())
            .filter(|n| only.is_none_or(|o| o == n))
            .collect()
    }

    /// The next batch of a rollout: only environments not yet reconciled.
    pub(super) async fn continue_rollout(&mut self) -> CycleReport {
        self.continuing = true;
        self.reconcile(Trigger::Resync, None, true).await
    }

    /// One reconcile: plan (always evidence) and, when `apply` and there are changes, apply.
    pub(crate) async fn reconcile(
        &mut self,
        trigger: Trigger,
        only_env: Option<String>,
        apply: bool,
    ) -> CycleReport {
        let started = Instant::now();
        let mut report = CycleReport::default();
        let scope = self.env_names(only_env.as_deref());
        // An explicit request for one environment overrides its backoff.
        let mut skip: BTreeSet<String> = if only_env.is_some() {
            BTreeSet::new()
        } else {
            self.backoff.waiting(Instant::now())
        };
        report.skipped_envs = skip.iter().cloned().collect();
        // A first rollout (or a restart) takes not-yet-reconciled environments in batches;
        // a cycle that only continues one plans just its batch (the settled environments
        // were planned by the cycle before and come again with the next trigger).
        let continuing = std::mem::take(&mut self.continuing) && self.more;
        self.more = false;
        if continuing {
            skip.extend(self.settled.iter().cloned());
        }
        if only_env.is_none() {
            let fresh: Vec<String> = scope
                .iter()
                .filter(|e| !skip.contains(*e) && !self.settled.contains(*e))
                .cloned()
                .collect();
            if fresh.len() > self.opts.batch.max(1) {
                let deferred = &fresh[self.opts.batch.max(1)..];
                report.deferred_envs = deferred.len();
                skip.extend(deferred.iter().cloned());
                self.more = true;
            }
        }
        if scope.is_empty() || scope.iter().all(|e| skip.contains(e)) {
            report.error = (scope.is_empty() && only_env.is_some()).then(|| {
                format!(
                    "no environment {:?} in the SSOT",
                    only_env.unwrap_or_default()
                )
            });
            return report;
        }
        let ctx = Context {
            trigger,
            actor: format!("controller/{}", self.opts.worker_id),
            only_env,
            skip_envs: skip.clone(),
            allow_destroy_production: false,
            // Wait for an apply of another process (`odooops apply`) to finish.
            lock_wait: std::time::Duration::from_secs(600),
            leadership: Some(self.leading.clone()),
            commits: std::mem::take(&mut self.pushed),
        };
        let in_scope: Vec<String> = scope.difference(&skip).cloned().collect();
        let outcome = self
            .plan_and_apply(&ctx, apply, &in_scope, &mut report)
            .await;
        let now = Instant::now();
        for env in &in_scope {
            if report.failed_envs.contains(env) {
                let delay = self.backoff.failed(env, now);
                tracing::warn!(
                    env,
                    delay_s = delay.as_secs_f64(),
                    "reconcile failed; backing off"
                );
            } else {
                self.backoff.succeeded(env);
                self.settled.insert(env.clone());
            }
        }
        if let Some(err) = &report.error {
            self.event(
                Level::Error,
                ctx.only_env.as_deref(),
                format!("reconcile failed: {err}"),
                json!({"failed_envs": report.failed_envs, "run_id": report.run_id, "trigger": trigger.as_str()}),
            )
            .await;
        }
        self.metrics
            .reconciled(outcome, started.elapsed().as_secs_f64());
        report
    }

    async fn plan_and_apply(
        &mut self,
        ctx: &Context,
        apply: bool,
        in_scope: &[String],
        report: &mut CycleReport,
    ) -> Outcome {
        // A plan made stale between planning and applying (someone changed the cloud in
        // those milliseconds) is re-planned once.
        for attempt in 0..2 {
            let planned = match self.engine.plan(&self.ssot, ctx).await {
                Ok(p) => p,
                Err(e) => {
                    report.error = Some(e.to_string());
                    report.failed_envs = in_scope.to_vec();
                    return Outcome::Failure;
                }
            };
            report.run_id = Some(planned.run_id);
            report.plan_id = Some(planned.plan_id);
            report.actions = planned.plan.actions.len();
            if !apply || !planned.plan.has_changes() {
                return if planned.plan.has_changes() || !planned.plan.detected_only.is_empty() {
                    Outcome::Success
                } else {
                    Outcome::Noop
                };
            }
            // Which environment each action belongs to, to tell which ones failed.
            let action_envs: BTreeMap<String, String> = planned
                .plan
                .actions
                .iter()
                .map(|a| (a.dedupe_key.clone(), a.diff.key.env.clone()))
                .collect();
            match self
                .engine
                .apply_plan(&self.ssot, planned.plan_id, planned.plan, ctx)
                .await
            {
                Ok(applied) => {
                    report.apply_run_id = Some(applied.run_id);
                    return Outcome::Success;
                }
                Err(EngineError::ApplyFailed { run, .. }) => {
                    report.apply_run_id = Some(run);
                    report.failed_envs = self.failed_envs(&action_envs, run).await;
                    report.error = Some(format!(
                        "actions failed in {} (see run {run})",
                        report.failed_envs.join(", ")
                    ));
                    return Outcome::Failure;
                }
                Err(EngineError::Stale(why)) if attempt == 0 => {
                    tracing::info!(%why, "plan went stale before apply; re-planning");
                }
                Err(e) => {
                    report.error = Some(e.to_string());
                    report.failed_envs = in_scope.to_vec();
                    return Outcome::Failure;
                }
            }
        }
        report.error = Some("the plan went stale twice in a row".into());
        report.failed_envs = in_scope.to_vec();
        Outcome::Failure
    }

    /// Environments with a failed action in an apply run (ledger rows carry the plan's
    /// dedupe keys; the plan knows each key's environment).
    async fn failed_envs(
        &self,
        action_envs: &BTreeMap<String, String>,
        run: uuid::Uuid,
    ) -> Vec<String> {
        let failed: BTreeSet<String> = match self.store.actions_for_run(run).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|a| a.status == "failed")
                .map(|a| a.dedupe_key)
                .collect(),
            Err(_) => BTreeSet::new(),
        };
        let envs: BTreeSet<&String> = action_envs
            .iter()
            .filter(|(key, _)| failed.contains(*key))
            .map(|(_, env)| env)
            .collect();
        // A failure that cannot be attributed: every planned environment waits.
        let envs = if envs.is_empty() {
            action_envs.values().collect()
        } else {
            envs
        };
        envs.into_iter().cloned().collect()
    }
}
