//! Apply a stored plan under the store's apply lock. Each scope (environment, or a
//! project's clusters) is checked against the plan on its own: a scope whose live state or
//! desired inputs changed is stale and left for a re-plan, a failed action holds the rest
//! of its own environment only, and every other environment proceeds. Project scopes run
//! first (a database waits for its cluster); environments run concurrently, each in plan
//! order.

use super::observe::Detail;
use super::{Applied, Context, Engine, EngineError};
use crate::reconcile::actuate::{self, ActCx, ReleaseCx, Shared};
use crate::reconcile::desired::{self, is_shared_scope, EnvPlanInput};
use crate::reconcile::notify::{ApplyFailure, CycleOutcome};
use crate::reconcile::plan::{Action, Op, Plan};
use crate::ssot::Ssot;
use crate::store::{
    ActionStatus, ActionUpdate, ApplyLock, LedgerInsert, Level, ManagedObject, NewAction, NewRun,
    PlanStatus, RunKind, RunStatus, StoreError,
};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// What every scope's apply shares.
struct Run<'a> {
    ssot: &'a Ssot,
    ctx: &'a Context,
    plan_id: Uuid,
    run_id: Uuid,
    corr: &'a str,
    inputs: &'a BTreeMap<String, EnvPlanInput>,
    shared: &'a Shared,
    /// The apply lock's fencing token.
    fence: i64,
    release: Option<&'a ReleaseCx<'a>>,
}

/// Per-scope outcome of an apply.
#[derive(Default)]
struct Outcome {
    succeeded: usize,
    adopted: usize,
    skipped: usize,
    failed: Vec<ApplyFailure>,
    /// Resources (`env/kind/name`) whose action is done: succeeded, adopted or done before.
    done: Vec<String>,
}

/// Who holds the lock, for messages: `actor (pid N)`.
fn holder(ctx: &Context) -> String {
    format!("{} (pid {})", ctx.actor, std::process::id())
}

impl Engine {
    /// Apply a stored plan. Refused when it is not `planned`.
    pub async fn apply(
        &self,
        ssot: &Ssot,
        plan_id: Uuid,
        ctx: &Context,
    ) -> Result<Applied, EngineError> {
        let row = self
            .store
            .plan(plan_id)
            .await?
            .ok_or(EngineError::NoPlan(plan_id))?;
        if row.status != PlanStatus::Planned.as_str() {
            return Err(EngineError::NotPlanned(plan_id, row.status));
        }
        let plan: Plan = serde_json::from_value(row.plan)
            .map_err(|e| EngineError::Stale(format!("unreadable plan: {e}")))?;
        self.apply_plan(ssot, plan_id, plan, ctx).await
    }

    /// Apply plan `plan_id` as just made by [`Engine::plan`] (still `planned`), without
    /// reading it back from the store, holding the store's apply lock throughout.
    pub async fn apply_plan(
        &self,
        ssot: &Ssot,
        plan_id: Uuid,
        plan: Plan,
        ctx: &Context,
    ) -> Result<Applied, EngineError> {
        let lock = self.store.lock_apply(&holder(ctx), ctx.lock_wait).await?;
        let result = self.apply_locked(ssot, plan_id, plan, ctx, &lock).await;
        lock.release().await;
        result
    }

    async fn apply_locked(
        &self,
        ssot: &Ssot,
        plan_id: Uuid,
        plan: Plan,
        ctx: &Context,
        lock: &ApplyLock,
    ) -> Result<Applied, EngineError> {
        // The plan holds the changes; this look only checks that each scope is the one
        // planned against and settles rows a crash left, so it keeps each object's key and
        // kind of change, not its values.
        let mut obs = self.observe_and_diff(ssot, ctx, Detail::Changes).await?;
        // Deploys a dead controller left are settled first; what they changed is then seen.
        if self.recover_releases(ssot, ctx, &obs).await? {
            obs = self.observe_and_diff(ssot, ctx, Detail::Changes).await?;
        }
        let scopes: BTreeSet<&str> = plan
            .actions
            .iter()
            .map(|a| a.diff.key.env.as_str())
            .collect();
        let stale: BTreeSet<String> = if plan.fingerprints.is_empty() {
            // A plan from before per-scope fingerprints: all or nothing.
            if obs.fingerprints.combined != plan.live_fingerprint || plan.revision != ssot.revision
            {
                scopes.iter().map(|s| s.to_string()).collect()
            } else {
                BTreeSet::new()
            }
        } else {
            scopes
                .iter()
                .filter(|s| plan.fingerprints.get(**s) != obs.fingerprints.by_scope.get(**s))
                .map(|s| s.to_string())
                .collect()
        };
        if !scopes.is_empty() && stale.len() == scopes.len() {
            self.store
                .set_plan_status(plan_id, PlanStatus::Stale)
                .await?;
            return Err(EngineError::Stale(format!(
                "the live state or the desired inputs of {} changed since the plan was made",
                stale.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let run = self
            .store
            .begin_run(&NewRun {
                kind: RunKind::Apply,
                trigger: ctx.trigger,
                ssot_revision: ssot.revision.clone(),
                actor: ctx.actor.clone(),
                environment: ctx.only_env.clone(),
                correlation_id: None,
            })
            .await?;
        let corr = run.correlation_id.clone();
        let scoped = ctx.only_env.is_some() || !ctx.skip_envs.is_empty();
        self.resolve_interrupted(ssot, &obs.diffs, scoped, run.id, &corr, lock.token)
            .await?;
        drop(obs.diffs);
        for s in &stale {
            self.event(
                run.id,
                &corr,
                Level::Warn,
                Some(s),
                format!("{s} is stale (its live state or desired inputs changed since the plan): not applied; re-plan"),
                json!({"plan_id": plan_id}),
            )
            .await;
        }
        // Plan inputs of the environments with something to do.
        let inputs: BTreeMap<String, EnvPlanInput> = scopes
            .iter()
            .filter_map(|name| {
                let env = ssot.environment(name)?;
                let project = ssot.project(&env.spec.project)?;
                Some((name.to_string(), desired::plan_input(project, env)))
            })
            .collect();
        let shared = Shared {
            ips: tokio::sync::Mutex::new(obs.droplet_ips),
            clusters: tokio::sync::Mutex::new(obs.clusters),
            made: Default::default(),
        };
        let release_cx = match (&self.delivery, &obs.sources) {
            (Some(config), Some(sources)) => Some(ReleaseCx {
                store: &self.store,
                sources,
                config,
                run_id: run.id,
                trigger: ctx.trigger,
                actor: ctx.actor.clone(),
                cluster_hosts: &obs.cluster_hosts,
            }),
            _ => None,
        };
        let r = Run {
            ssot,
            ctx,
            plan_id,
            run_id: run.id,
            corr: &corr,
            inputs: &inputs,
            shared: &shared,
            fence: lock.token,
            release: release_cx.as_ref(),
        };
        let mut by_scope: BTreeMap<&str, Vec<&Action>> = BTreeMap::new();
        for a in &plan.actions {
            if !stale.contains(&a.diff.key.env) {
                by_scope.entry(a.diff.key.env.as_str()).or_default().push(a);
            }
        }
        // Shared scopes (clusters) first, then environments; each phase concurrent.
        let (projects, envs): (Vec<_>, Vec<_>) = by_scope
            .into_iter()
            .partition(|(scope, _)| is_shared_scope(scope));
        let mut results = Vec::new();
        for phase in [projects, envs] {
            let out: Vec<Result<Outcome, EngineError>> =
                futures::stream::iter(phase.into_iter().map(|(scope, actions)| {
                    let r = &r;
                    async move { self.apply_scope(scope, &actions, r).await }
                }))
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
            results.extend(out);
        }
        let mut out = Applied {
            run_id: run.id,
            plan_id,
            succeeded: 0,
            adopted: 0,
            skipped: 0,
            failed: 0,
            stale: stale.iter().cloned().collect(),
        };
        let mut failures = Vec::new();
        let mut done = BTreeSet::new();
        let mut first_error = None;
        for res in results {
            match res {
                Ok(o) => {
                    out.succeeded += o.succeeded;
                    out.adopted += o.adopted;
                    out.skipped += o.skipped;
                    out.failed += o.failed.len();
                    failures.extend(o.failed);
                    done.extend(o.done);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // Healed findings get their "resolved" follow-up; failed actions are announced, and
        // failures announced before whose resource is now applied get their follow-up.
        let settled = |_env: &str, resource: &str| done.contains(resource);
        let cycle = CycleOutcome {
            failures: &failures,
            settled: &settled,
        };
        self.notifications()
            .notify_cycle(ssot, ctx.only_env.as_deref(), run.id, &corr, &cycle)
            .await;
        if let Some(e) = first_error {
            self.store
                .finish_run(run.id, RunStatus::Failed, &json!({"error": e.to_string()}))
                .await?;
            return Err(e);
        }
        let status = if out.failed == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        if out.failed == 0 {
            let s = if out.stale.is_empty() {
                PlanStatus::Applied
            } else {
                PlanStatus::Partial
            };
            self.store.set_plan_status(plan_id, s).await?;
        }
        self.store
            .finish_run(
                run.id,
                status,
                &serde_json::to_value(&out).unwrap_or(Value::Null),
            )
            .await?;
        if out.failed > 0 {
            return Err(EngineError::ApplyFailed {
                failed: out.failed,
                total: plan.actions.len(),
                run: run.id,
            });
        }
        Ok(out)
    }

    /// One scope's actions, in plan order; after a failure the rest are skipped.
    async fn apply_scope(
        &self,
        scope: &str,
        actions: &[&Action],
        r: &Run<'_>,
    ) -> Result<Outcome, EngineError> {
        let mut out = Outcome::default();
        let (run_id, corr) = (r.run_id, r.corr);
        for action in actions {
            if !out.failed.is_empty() {
                out.skipped += 1;
                self.event(
                    run_id,
                    corr,
                    Level::Warn,
                    Some(scope),
                    format!(
                        "skipped {} (an earlier action of {scope} failed)",
                        action.diff.key
                    ),
                    json!({"dedupe_key": action.dedupe_key}),
                )
                .await;
                continue;
            }
            // A controller that lost its leadership stops before the next side effect.
            if !r.ctx.still_leading() {
                return Err(EngineError::LeadershipLost { run: run_id });
            }
            let resource = action.diff.key.to_string();
            let ledger = self
                .store
                .ledger_insert(&NewAction {
                    dedupe_key: action.dedupe_key.clone(),
                    plan_id: Some(r.plan_id),
                    run_id: Some(run_id),
                    resource_kind: action.diff.key.kind.as_str().to_string(),
                    resource_name: action.diff.key.name.clone(),
                    operation: action.op.as_str().to_string(),
                    request_summary: Some(json!({"env": scope, "fields": action.diff.fields.iter().map(|f| &f.path).collect::<Vec<_>>()})),
                    resource_key: Some(resource.clone()),
                })
                .await?;
            if let LedgerInsert::Existing(a) = &ledger {
                if a.status == ActionStatus::Succeeded.as_str()
                    || a.status == ActionStatus::Adopted.as_str()
                {
                    out.skipped += 1;
                    out.done.push(resource.clone());
                    self.event(
                        run_id,
                        corr,
                        Level::Info,
                        Some(scope),
                        format!("{} already done (ledger {})", action.diff.key, a.id),
                        json!({"dedupe_key": action.dedupe_key}),
                    )
                    .await;
                    continue;
                }
            }
            // Claim the row (compare-and-set, fenced): only one applier ever acts on it.
            let Some(row) = self.store.ledger_claim(ledger.action().id, r.fence).await? else {
                if !self.store.fence_current(r.fence).await? {
                    return Err(StoreError::Fenced(r.fence).into());
                }
                out.skipped += 1;
                self.event(
                    run_id,
                    corr,
                    Level::Warn,
                    Some(scope),
                    format!("{} is claimed by another applier: skipped", action.diff.key),
                    json!({"dedupe_key": action.dedupe_key}),
                )
                .await;
                continue;
            };
            let project = match r.ssot.environment(scope) {
                Some(e) => e.spec.project.as_str(),
                None => r
                    .ssot
                    .database_cluster(scope.trim_start_matches('@'))
                    .and_then(|c| desired::cluster_project(r.ssot, c))
                    .unwrap_or_default(),
            };
            let cx = ActCx {
                ssot: r.ssot,
                dig: self.accounts.for_project(project),
                secret_providers: &self.secret_providers,
                secrets: self.secrets.as_ref(),
                input: r.inputs.get(scope),
                project,
                shared: r.shared,
                // No earlier attempt of this key: the plan's fresh observation is all a
                // create needs to know (a retry, or a row a crash left, looks again).
                look_first: !ledger.is_inserted(),
                release: r.release,
            };
            match actuate::execute(&cx, action).await {
                Ok(done) => {
                    // The inventory first: a crash before the ledger row is finished leaves
                    // the row in flight (our pending mark) and the object recorded, so it is
                    // ours either way.
                    self.record_inventory(action, &done, row.id).await?;
                    self.store
                        .ledger_finish(
                            row.id,
                            r.fence,
                            &ActionUpdate {
                                status: Some(done.status),
                                response_summary: Some(done.response.clone()),
                                ..Default::default()
                            },
                        )
                        .await?;
                    if done.status == ActionStatus::Adopted {
                        out.adopted += 1;
                    } else {
                        out.succeeded += 1;
                    }
                    out.done.push(resource);
                    self.store
                        .resolve_drift(
                            scope,
                            action.diff.key.kind.as_str(),
                            &action.diff.key.name,
                            None,
                            &format!("run:{run_id}"),
                        )
                        .await?;
                    self.event(
                        run_id,
                        corr,
                        Level::Info,
                        Some(scope),
                        format!(
                            "{} {} {}",
                            action.op.as_str(),
                            action.diff.key,
                            done.status.as_str()
                        ),
                        done.response,
                    )
                    .await;
                }
                Err(e) => {
                    self.store
                        .ledger_finish(
                            row.id,
                            r.fence,
                            &ActionUpdate {
                                status: Some(ActionStatus::Failed),
                                error: Some(e.to_string()),
                                ..Default::default()
                            },
                        )
                        .await?;
                    self.event(
                        run_id,
                        corr,
                        Level::Error,
                        Some(scope),
                        format!("{} {} failed: {e}", action.op.as_str(), action.diff.key),
                        serde_json::to_value(&e).unwrap_or(Value::Null),
                    )
                    .await;
                    out.failed.push(ApplyFailure {
                        what: "apply failed",
                        env: scope.to_string(),
                        resource,
                        dedupe_key: action.dedupe_key.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Keep the recorded inventory (`ops.managed_objects`): a create or replace records what
    /// it made (or adopted), a delete forgets it. Every kind is recorded (the console's
    /// environment page lists it); for the kinds without ownership tags ([`crate::reconcile::observe::INVENTORIED`])
    /// the record is also what makes an object ours.
    async fn record_inventory(
        &self,
        action: &Action,
        done: &actuate::Done,
        action_id: Uuid,
    ) -> Result<(), EngineError> {
        let key = &action.diff.key;
        match (action.op, &done.provider_id) {
            (Op::Delete, _) => self.store.forget_managed(&key.to_string()).await?,
            (_, Some(id)) => {
                self.store
                    .record_managed(
                        &ManagedObject {
                            resource_key: key.to_string(),
                            kind: key.kind.as_str().to_string(),
                            environment: key.env.clone(),
                            name: key.name.clone(),
                            provider_id: id.clone(),
                        },
                        Some(action_id),
                    )
                    .await?
            }
            _ => {}
        }
        Ok(())
    }
}
