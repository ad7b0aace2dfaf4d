//! The engine: plan (observe → diff → plan, stored as evidence) and apply (ledger row
//! committed before every side effect, then the outcome), for one SSOT revision.

use super::desired::{self, droplet_ip_ref, EnvPlanInput};
use super::diff::{self, Change, Desired, Live, ObjectKind, ResourceDiff};
use super::notify::{ApplyFailure, CycleOutcome, NotifyConfig};
use super::observe;
use super::plan::{self, Action, EnvPolicy, Op, Plan, PlanError};
use super::render;
use super::secrets::{self, SecretProviders};
use crate::provider::digitalocean::{DigitalOcean, Droplet, DropletCreate, Firewall, Record};
use crate::provider::secret_sync;
use crate::provider::{owner_tags, EnvSecrets, ProviderError, SecretSource};
use crate::ssot::{Environment, Project, ReconcileMode, Ssot, Stage};
use crate::store::{
    self, ActionStatus, ActionUpdate, DriftObservation, LedgerInsert, Level, NewAction, NewDiff,
    NewEvent, NewPlan, NewRun, PlanStatus, RunKind, RunStatus, Store, Trigger,
};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Mutex;
use uuid::Uuid;

/// Environments applied at the same time, by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("observing live state failed (nothing was planned): {0}")]
    Observe(ProviderError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("plan {0} not found")]
    NoPlan(Uuid),
    #[error("plan {0} is {1}, not planned: re-plan")]
    NotPlanned(Uuid, String),
    #[error("stale plan: {0}; re-plan")]
    Stale(String),
    #[error("{failed} of {total} actions failed (see run {run})")]
    ApplyFailed {
        failed: usize,
        total: usize,
        run: Uuid,
    },
}

/// Who asked, and how.
#[derive(Clone, Debug)]
pub struct Context {
    pub trigger: Trigger,
    pub actor: String,
    pub only_env: Option<String>,
    /// Environments left out of this reconcile (the controller's per-environment backoff):
    /// neither their desired nor their live objects are planned.
    pub skip_envs: BTreeSet<String>,
    pub allow_destroy_production: bool,
}

impl Context {
    /// Whether this reconcile covers `env`: the one asked for (if any), not held back.
    pub fn in_scope(&self, env: &str) -> bool {
        self.only_env.as_deref().is_none_or(|o| o == env) && !self.skip_envs.contains(env)
    }
}

impl Default for Context {
    fn default() -> Self {
        Context {
            trigger: Trigger::Cli,
            actor: "cli".into(),
            only_env: None,
            skip_envs: Default::default(),
            allow_destroy_production: false,
        }
    }
}

pub struct Engine {
    pub store: Store,
    pub digitalocean: DigitalOcean,
    /// Supabase and Vercel, for secret-presence objects (none: not observed, not planned).
    pub secret_providers: SecretProviders,
    /// Where secret values are read at apply time (never stored).
    pub secrets: Arc<dyn SecretSource>,
    /// How Slack and Plane notifiers are reached.
    pub notify: NotifyConfig,
    /// Environments applied concurrently (each environment's actions stay in order).
    pub concurrency: usize,
}

impl Engine {
    /// An engine with DigitalOcean only: no Supabase/Vercel secret objects, secret values
    /// from the process environment, notifiers at their SSOT/real addresses, the default
    /// concurrency.
    pub fn new(store: Store, digitalocean: DigitalOcean) -> Engine {
        Engine {
            store,
            digitalocean,
            secret_providers: SecretProviders::default(),
            secrets: Arc::new(EnvSecrets),
            notify: NotifyConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// What every environment's apply shares.
struct ApplyShared<'a> {
    ssot: &'a Ssot,
    plan_id: Uuid,
    run_id: Uuid,
    corr: &'a str,
    inputs: &'a BTreeMap<String, EnvPlanInput>,
    /// Droplet addresses by name (a record waits for its droplet's).
    ips: &'a Mutex<BTreeMap<String, String>>,
    /// Cluster ids by name; held while a missing cluster is created, so two environments
    /// sharing a cluster never create it twice.
    clusters: &'a Mutex<BTreeMap<String, String>>,
}

/// Per-environment outcome of an apply.
#[derive(Default)]
struct EnvOutcome {
    succeeded: usize,
    adopted: usize,
    skipped: usize,
    failed: Vec<ApplyFailure>,
    /// Resources (`env/kind/name`) whose action is done: succeeded, adopted or done before.
    done: Vec<String>,
}

/// How much of each object's diff `observe_and_diff` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Values, field changes and the unified text of every changed object (plan, diff).
    Full,
    /// The key and the kind of change only (apply's staleness check).
    Changes,
}

/// What `plan` produced.
#[derive(Debug, Clone)]
pub struct Planned {
    pub run_id: Uuid,
    pub plan_id: Uuid,
    pub plan: Plan,
    pub text: String,
}

/// What observe-and-diff produced for the environments in scope.
#[derive(Debug)]
pub struct Observation {
    /// Per-resource diffs in key order; an unchanged object's carries no values.
    pub diffs: Vec<ResourceDiff>,
    /// The fingerprint of every live object compared (the stale-plan check).
    pub fingerprint: String,
    /// How many desired objects there were (zero is an error, never "delete everything").
    pub desired_count: usize,
    /// Public IPv4 of each droplet in scope, by droplet name.
    pub droplet_ips: BTreeMap<String, String>,
    /// Cluster ids by cluster name.
    pub clusters: BTreeMap<String, String>,
}

/// What `apply` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub run_id: Uuid,
    pub plan_id: Uuid,
    pub succeeded: usize,
    pub adopted: usize,
    pub skipped: usize,
    pub failed: usize,
}

fn policies(ssot: &Ssot) -> BTreeMap<String, EnvPolicy> {
    ssot.environments()
        .map(|e| {
            (
                e.metadata.name.clone(),
                EnvPolicy {
                    production: e.spec.stage == Stage::Production,
                    prune: e.spec.reconcile.prune,
                    detect_only: e.spec.reconcile.mode == ReconcileMode::DetectOnly,
                },
            )
        })
        .collect()
}

fn ignores(ssot: &Ssot) -> BTreeMap<String, Vec<String>> {
    ssot.environments()
        .map(|e| (e.metadata.name.clone(), e.spec.reconcile.ignore.clone()))
        .collect()
}

impl Engine {
    pub(crate) async fn event(
        &self,
        run: Uuid,
        corr: &str,
        level: Level,
        env: Option<&str>,
        msg: String,
        fields: Value,
    ) {
        let mut e = NewEvent::new(level, "reconcile", msg);
        e.run_id = Some(run);
        e.correlation_id = Some(corr.to_string());
        e.environment = env.map(str::to_string);
        e.fields = fields;
        // Evidence writes are best effort only for log lines; ledger writes are not.
        if let Err(err) = self.store.append_events(&[e]).await {
            tracing::warn!(%err, "could not record event");
        }
    }

    /// Observe and diff (no evidence): the shared first half of plan and apply.
    ///
    /// Observation is one bulk read per object type; the comparison then runs one
    /// environment at a time (desired objects made, live objects taken, diffed, dropped), so
    /// memory follows the changes, not the number of environments.
    pub async fn observe_and_diff(
        &self,
        ssot: &Ssot,
        ctx: &Context,
        detail: Detail,
    ) -> Result<Observation, EngineError> {
        let in_scope = |env: &str| ctx.in_scope(env);
        // Secret objects exist only where the engine can reach their provider.
        let sp = &self.secret_providers;
        let reachable = |d: &Desired| match d.key.kind {
            ObjectKind::SupabaseSecret => sp.supabase.is_some(),
            ObjectKind::VercelEnv => sp.vercel.is_some(),
            _ => true,
        };
        let projects: BTreeMap<&str, &Project> = ssot
            .projects()
            .map(|p| (p.metadata.name.as_str(), p))
            .collect();
        let envs: Vec<(&Project, &Environment)> = ssot
            .environments()
            .filter(|e| in_scope(&e.metadata.name))
            .filter_map(|e| projects.get(e.spec.project.as_str()).map(|p| (*p, e)))
            .collect();
        drop(projects);
        // What to read: the zones and databases in use, and the secret names wanted.
        let mut wants = observe::Wants::default();
        let mut secrets_wanted = Vec::new();
        for (project, env) in &envs {
            wants.add(desired::reads(env));
            secrets_wanted.extend(
                secrets::desired(ssot, project, env)
                    .into_iter()
                    .filter(reachable),
            );
        }
        let (mut observed, secret_live) = tokio::try_join!(
            observe::observe(&self.digitalocean, &wants, &in_scope),
            secrets::observe(ssot, sp, &secrets_wanted),
        )
        .map_err(EngineError::Observe)?;
        drop(secrets_wanted);
        let mut secret_live_by_env: BTreeMap<String, Vec<Live>> = BTreeMap::new();
        for l in secret_live.into_iter().filter(|l| in_scope(&l.key.env)) {
            secret_live_by_env
                .entry(l.key.env.clone())
                .or_default()
                .push(l);
        }
        let ignores = ignores(ssot);
        let mut fingerprint = plan::Fingerprint::default();
        let mut diffs = Vec::new();
        let mut desired_count = 0;
        let mut compare = |wanted: &[Desired], live: &[Live]| {
            for l in live {
                fingerprint.add(&l.key, &l.id, &l.value);
            }
            for mut d in diff::diff(wanted, live, &ignores) {
                // An unchanged object needs only its key past this point; so does every
                // object when only the changes are asked for.
                if d.change == Change::NoOp || detail == Detail::Changes {
                    d.before = None;
                    d.after = None;
                    d.fields = Vec::new();
                    d.text = String::new();
                }
                diffs.push(d);
            }
        };
        for (project, env) in &envs {
            let name = env.metadata.name.as_str();
            let mut wanted = desired::with_secrets(ssot, project, env);
            wanted.retain(reachable);
            observe::resolve_refs(&mut wanted, &observed.droplet_ips);
            let mut live = observed.take_env(name, &wanted);
            live.extend(secret_live_by_env.remove(name).unwrap_or_default());
            desired_count += wanted.len();
            compare(&wanted, &live);
        }
        // Live objects of environments no longer in the SSOT are candidates for pruning only
        // through an environment policy; without one they are held.
        let mut gone = observed.remaining_envs();
        gone.extend(secret_live_by_env.keys().cloned());
        for env in gone {
            let mut live = observed.take_env(&env, &[]);
            live.extend(secret_live_by_env.remove(&env).unwrap_or_default());
            compare(&[], &live);
        }
        diffs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Observation {
            diffs,
            fingerprint: fingerprint.finish(),
            desired_count,
            droplet_ips: std::mem::take(&mut observed.droplet_ips),
            clusters: std::mem::take(&mut observed.clusters),
        })
    }

    /// Plan: observe, diff, plan, and store it all as evidence.
    pub async fn plan(&self, ssot: &Ssot, ctx: &Context) -> Result<Planned, EngineError> {
        let run = self
            .store
            .begin_run(&NewRun {
                kind: RunKind::Plan,
                trigger: ctx.trigger,
                ssot_revision: ssot.revision.clone(),
                actor: ctx.actor.clone(),
                environment: ctx.only_env.clone(),
                correlation_id: None,
            })
            .await?;
        let corr = run.correlation_id.clone();
        let result = self.plan_in_run(ssot, ctx, run.id, &corr).await;
        let (status, summary) = match &result {
            Ok(p) => (
                RunStatus::Succeeded,
                json!({"plan_id": p.plan_id, "summary": p.plan.summary}),
            ),
            Err(e) => {
                self.event(
                    run.id,
                    &corr,
                    Level::Error,
                    None,
                    format!("plan failed: {e}"),
                    json!({}),
                )
                .await;
                (RunStatus::Failed, json!({"error": e.to_string()}))
            }
        };
        self.store.finish_run(run.id, status, &summary).await?;
        result
    }

    async fn plan_in_run(
        &self,
        ssot: &Ssot,
        ctx: &Context,
        run_id: Uuid,
        corr: &str,
    ) -> Result<Planned, EngineError> {
        let obs = self.observe_and_diff(ssot, ctx, Detail::Full).await?;
        let diffs = obs.diffs;
        // Diff evidence goes in chunks: a rollout batch is thousands of creates, and each
        // row copies its resource's values.
        let changed: Vec<&ResourceDiff> =
            diffs.iter().filter(|d| d.change != Change::NoOp).collect();
        for chunk in changed.chunks(256) {
            let rows: Vec<NewDiff> = chunk
                .iter()
                .map(|d| NewDiff {
                    run_id,
                    environment: Some(d.key.env.clone()),
                    resource_kind: d.key.kind.as_str().to_string(),
                    resource_name: d.key.name.clone(),
                    before: d.before.clone(),
                    after: d.after.clone(),
                    changes: serde_json::to_value(&d.fields).unwrap_or(Value::Null),
                    unified: d.text.clone(),
                })
                .collect();
            self.store.insert_diffs(&rows).await?;
        }
        drop(changed);
        self.record_drift(&diffs, run_id, ctx.only_env.as_deref())
            .await?;
        let plan = plan::plan(
            &ssot.revision,
            diffs,
            &policies(ssot),
            obs.desired_count,
            obs.fingerprint,
            ctx.allow_destroy_production,
        )?;
        let text = render::plan_text(&plan, false);
        // The plan's JSON artifact is written by save_plan (one serialization, no copies).
        let row = self
            .store
            .save_plan(NewPlan {
                run_id,
                ssot_revision: ssot.revision.clone(),
                live_fingerprint: plan.live_fingerprint.clone(),
                plan: serde_json::to_string(&plan).map_err(|e| {
                    store::StoreError::Invalid(format!("the plan does not serialize: {e}"))
                })?,
                rendered: text,
            })
            .await?;
        self.store
            .put_artifact(
                row.rendered.as_bytes(),
                "text/plain; charset=utf-8",
                Some(run_id),
            )
            .await?;
        let text = row.rendered;
        // A resource of an environment this plan covered, with no action, is converged.
        let pending: BTreeSet<String> = plan
            .actions
            .iter()
            .map(|a| a.diff.key.to_string())
            .collect();
        let settled = |env: &str, resource: &str| {
            ctx.in_scope(env) && ssot.environment(env).is_some() && !pending.contains(resource)
        };
        let notified = self
            .notify_cycle(
                ssot,
                ctx.only_env.as_deref(),
                run_id,
                corr,
                &CycleOutcome {
                    failures: &[],
                    settled: &settled,
                },
            )
            .await;
        if notified != Default::default() {
            self.event(
                run_id,
                corr,
                Level::Info,
                ctx.only_env.as_deref(),
                format!(
                    "notifications: {} sent, {} already sent, {} failed",
                    notified.sent, notified.already_sent, notified.failed
                ),
                serde_json::to_value(&notified).unwrap_or(Value::Null),
            )
            .await;
        }
        self.event(
            run_id,
            corr,
            Level::Info,
            ctx.only_env.as_deref(),
            format!("planned: {}", render::summary_line(&plan)),
            json!({"plan_id": row.id}),
        )
        .await;
        Ok(Planned {
            run_id,
            plan_id: row.id,
            plan,
            text,
        })
    }

    /// Drift: a field of an existing object that differs from desired is a finding; a
    /// resource that matches again resolves its open findings.
    async fn record_drift(
        &self,
        diffs: &[ResourceDiff],
        run_id: Uuid,
        only_env: Option<&str>,
    ) -> Result<(), EngineError> {
        // Only resources with an open finding need a resolve (one read, not one write per
        // converged object).
        let open: BTreeSet<(String, String, String)> = self
            .store
            .open_drift(only_env, i64::MAX)
            .await?
            .into_iter()
            .map(|f| (f.environment, f.resource_kind, f.resource_name))
            .collect();
        let mut obs = Vec::new();
        for d in diffs {
            match d.change {
                Change::Update | Change::Replace => {
                    for f in &d.fields {
                        obs.push(DriftObservation {
                            environment: d.key.env.clone(),
                            resource_kind: d.key.kind.as_str().to_string(),
                            resource_name: d.key.name.clone(),
                            field_path: f.path.clone(),
                            desired: Some(f.after.clone()),
                            observed: Some(f.before.clone()),
                            run_id: Some(run_id),
                        });
                    }
                }
                Change::NoOp
                    if open.contains(&(
                        d.key.env.clone(),
                        d.key.kind.as_str().to_string(),
                        d.key.name.clone(),
                    )) =>
                {
                    self.store
                        .resolve_drift(
                            &d.key.env,
                            d.key.kind.as_str(),
                            &d.key.name,
                            None,
                            &format!("run:{run_id}"),
                        )
                        .await?;
                }
                Change::NoOp | Change::Create | Change::Delete => {}
            }
        }
        if !obs.is_empty() {
            self.store.upsert_drift(&obs).await?;
        }
        Ok(())
    }

    /// Apply a stored plan. Refused when the SSOT revision or the live state changed.
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
    /// reading it back from the store. Refused when the SSOT revision or the live state
    /// changed.
    pub async fn apply_plan(
        &self,
        ssot: &Ssot,
        plan_id: Uuid,
        plan: Plan,
        ctx: &Context,
    ) -> Result<Applied, EngineError> {
        if plan.revision != ssot.revision {
            self.store
                .set_plan_status(plan_id, PlanStatus::Stale)
                .await?;
            return Err(EngineError::Stale(format!(
                "the SSOT changed since the plan was made ({} → {})",
                plan.revision, ssot.revision
            )));
        }
        // The plan holds the changes; this look only checks that the live state is the one
        // planned against and settles rows a crash left, so it keeps each object's key and
        // kind of change, not its values.
        let obs = self.observe_and_diff(ssot, ctx, Detail::Changes).await?;
        if obs.fingerprint != plan.live_fingerprint {
            self.store
                .set_plan_status(plan_id, PlanStatus::Stale)
                .await?;
            return Err(EngineError::Stale(
                "the live state changed since the plan was made".into(),
            ));
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
        self.resolve_interrupted(&obs.diffs, scoped, run.id, &corr)
            .await?;
        drop(obs.diffs);
        // Plan inputs of the environments with something to do.
        let inputs: BTreeMap<String, EnvPlanInput> = plan
            .actions
            .iter()
            .map(|a| a.diff.key.env.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter_map(|name| {
                let env = ssot.environment(name)?;
                let project = ssot.project(&env.spec.project)?;
                Some((name.to_string(), desired::plan_input(project, env)))
            })
            .collect();
        let ips = Mutex::new(obs.droplet_ips);
        let clusters = Mutex::new(obs.clusters);
        // Independent environments run concurrently (bounded); each environment's actions
        // run in plan order, so its dependencies (database → droplet → record) hold.
        let mut by_env: BTreeMap<&str, Vec<&Action>> = BTreeMap::new();
        for a in &plan.actions {
            by_env.entry(a.diff.key.env.as_str()).or_default().push(a);
        }
        let shared = ApplyShared {
            ssot,
            plan_id,
            run_id: run.id,
            corr: &corr,
            inputs: &inputs,
            ips: &ips,
            clusters: &clusters,
        };
        let results: Vec<Result<EnvOutcome, EngineError>> =
            futures::stream::iter(by_env.into_iter().map(|(env, actions)| {
                let shared = &shared;
                async move { self.apply_env(env, &actions, shared).await }
            }))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut out = Applied {
            run_id: run.id,
            plan_id,
            succeeded: 0,
            adopted: 0,
            skipped: 0,
            failed: 0,
        };
        let mut failures = Vec::new();
        let mut done = BTreeSet::new();
        let mut first_error = None;
        for r in results {
            match r {
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
        self.notify_cycle(ssot, ctx.only_env.as_deref(), run.id, &corr, &cycle)
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
            self.store
                .set_plan_status(plan_id, PlanStatus::Applied)
                .await?;
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

    /// One environment's actions, in plan order; after a failure the rest are skipped.
    async fn apply_env(
        &self,
        env: &str,
        actions: &[&Action],
        sh: &ApplyShared<'_>,
    ) -> Result<EnvOutcome, EngineError> {
        let mut out = EnvOutcome::default();
        let (run_id, corr) = (sh.run_id, sh.corr);
        for action in actions {
            if !out.failed.is_empty() {
                out.skipped += 1;
                self.event(
                    run_id,
                    corr,
                    Level::Warn,
                    Some(env),
                    format!(
                        "skipped {} (an earlier action of {env} failed)",
                        action.diff.key
                    ),
                    json!({"dedupe_key": action.dedupe_key}),
                )
                .await;
                continue;
            }
            let ledger = self
                .store
                .ledger_insert(&NewAction {
                    dedupe_key: action.dedupe_key.clone(),
                    plan_id: Some(sh.plan_id),
                    run_id: Some(run_id),
                    resource_kind: action.diff.key.kind.as_str().to_string(),
                    resource_name: action.diff.key.name.clone(),
                    operation: format!("{:?}", action.op).to_lowercase(),
                    request_summary: Some(json!({"env": env, "fields": action.diff.fields.iter().map(|f| &f.path).collect::<Vec<_>>()})),
                })
                .await?;
            let row = match &ledger {
                LedgerInsert::Existing(a)
                    if a.status == ActionStatus::Succeeded.as_str()
                        || a.status == ActionStatus::Adopted.as_str() =>
                {
                    out.skipped += 1;
                    out.done.push(action.diff.key.to_string());
                    self.event(
                        run_id,
                        corr,
                        Level::Info,
                        Some(env),
                        format!("{} already done (ledger {})", action.diff.key, a.id),
                        json!({"dedupe_key": action.dedupe_key}),
                    )
                    .await;
                    continue;
                }
                other => other.action().clone(),
            };
            self.store
                .ledger_update(
                    row.id,
                    &ActionUpdate {
                        status: Some(ActionStatus::InFlight),
                        bump_attempts: true,
                        ..Default::default()
                    },
                )
                .await?;
            let input = sh.inputs.get(env);
            // No earlier attempt of this dedupe key: the plan's fresh observation is all a
            // create needs to know (a retry, or a row a crash left, looks again).
            let first_attempt = ledger.is_inserted();
            match self
                .execute(sh.ssot, action, input, sh.ips, sh.clusters, first_attempt)
                .await
            {
                Ok((status, response)) => {
                    self.store
                        .ledger_update(
                            row.id,
                            &ActionUpdate {
                                status: Some(status),
                                response_summary: Some(response.clone()),
                                ..Default::default()
                            },
                        )
                        .await?;
                    if status == ActionStatus::Adopted {
                        out.adopted += 1;
                    } else {
                        out.succeeded += 1;
                    }
                    out.done.push(action.diff.key.to_string());
                    self.store
                        .resolve_drift(
                            env,
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
                        Some(env),
                        format!("{:?} {} {}", action.op, action.diff.key, status.as_str())
                            .to_lowercase(),
                        response,
                    )
                    .await;
                }
                Err(e) => {
                    self.store
                        .ledger_update(
                            row.id,
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
                        Some(env),
                        format!("{:?} {} failed: {e}", action.op, action.diff.key),
                        serde_json::to_value(&e).unwrap_or(Value::Null),
                    )
                    .await;
                    out.failed.push(ApplyFailure {
                        env: env.to_string(),
                        resource: action.diff.key.to_string(),
                        dedupe_key: action.dedupe_key.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Ledger rows left `pending`/`in_flight` by a process that died are resolved by what is
    /// observed now: an object that exists and matches was done (adopted); anything else is
    /// closed as interrupted and left to this plan's own actions (whose creates observe and
    /// adopt before acting), so nothing is ever done twice.
    ///
    /// A `scoped` apply (one environment, or some held back) sees only part of the live
    /// state: rows of resources outside what it observed are left for a full apply.
    async fn resolve_interrupted(
        &self,
        diffs: &[ResourceDiff],
        scoped: bool,
        run_id: Uuid,
        corr: &str,
    ) -> Result<(), EngineError> {
        for row in self.store.unfinished_actions().await? {
            let current = diffs.iter().find(|d| {
                d.key.kind.as_str() == row.resource_kind && d.key.name == row.resource_name
            });
            if current.is_none() && scoped {
                continue;
            }
            let (status, note) = match current {
                Some(d) if d.change == Change::NoOp => (
                    ActionStatus::Adopted,
                    "interrupted; observed converged after restart",
                ),
                Some(_) => (
                    ActionStatus::Failed,
                    "interrupted; superseded by a fresh plan after restart",
                ),
                None => (
                    ActionStatus::Failed,
                    "interrupted; the resource is no longer desired",
                ),
            };
            self.store
                .ledger_update(
                    row.id,
                    &ActionUpdate {
                        status: Some(status),
                        error: (status == ActionStatus::Failed).then(|| note.to_string()),
                        response_summary: Some(
                            json!({"resolved_by": format!("run:{run_id}"), "note": note}),
                        ),
                        ..Default::default()
                    },
                )
                .await?;
            self.event(
                run_id,
                corr,
                Level::Warn,
                None,
                format!(
                    "ledger {} ({}/{}): {note}",
                    row.dedupe_key, row.resource_kind, row.resource_name
                ),
                json!({"ledger_id": row.id}),
            )
            .await;
        }
        Ok(())
    }

    /// One side effect. Creates observe first and adopt what exists.
    async fn execute(
        &self,
        ssot: &Ssot,
        action: &Action,
        input: Option<&EnvPlanInput>,
        ips: &Mutex<BTreeMap<String, String>>,
        clusters: &Mutex<BTreeMap<String, String>>,
        first_attempt: bool,
    ) -> Result<(ActionStatus, Value), ProviderError> {
        let dig = &self.digitalocean;
        let d = &action.diff;
        let after = d.after.clone().unwrap_or(Value::Null);
        let live_id = d.live_id.clone().unwrap_or_default();
        let bad = |m: &str| {
            ProviderError::new(
                crate::provider::Provider::Digitalocean,
                "plan",
                m.to_string(),
            )
        };
        match (d.key.kind, action.op) {
            (ObjectKind::Droplet, Op::Create | Op::Replace) => {
                let droplet: Droplet =
                    serde_json::from_value(after).map_err(|e| bad(&e.to_string()))?;
                let input = input.ok_or_else(|| bad("no plan input for the environment"))?;
                if action.op == Op::Replace {
                    if let Ok(id) = live_id.parse::<u64>() {
                        dig.delete_droplet(id).await?;
                    }
                }
                // A droplet already in place (created before a crash, before our ledger update)
                // is adopted, never created twice.
                let user_data = desired::user_data(ssot, input)
                    .ok_or_else(|| bad("the environment is no longer in the SSOT"))?;
                let create = DropletCreate {
                    droplet,
                    user_data,
                    ssh_keys: input.ssh_keys.clone(),
                };
                let (live, status) = match dig
                    .find_droplet(&input.owner_tag, &create.droplet.name)
                    .await?
                {
                    Some(l) => (l, ActionStatus::Adopted),
                    None => (
                        dig.create_droplet(&create, &input.owner_tag).await?,
                        ActionStatus::Succeeded,
                    ),
                };
                if let Some(ip) = &live.ipv4 {
                    ips.lock()
                        .await
                        .insert(live.droplet.name.clone(), ip.clone());
                }
                Ok((status, json!({"id": live.id, "ipv4": live.ipv4})))
            }
            (ObjectKind::Droplet, Op::Update) => {
                let id: u64 = live_id.parse().map_err(|_| bad("droplet without id"))?;
                let mut done = Vec::new();
                for f in &d.fields {
                    match f.path.as_str() {
                        "/size" => {
                            dig.resize_droplet(id, f.after.as_str().unwrap_or_default())
                                .await?
                        }
                        // Tags: add the missing, remove the extra — never an ownership tag.
                        "/tags" => {
                            let list = |v: &Value| -> Vec<String> {
                                v.as_array()
                                    .map(|a| {
                                        a.iter()
                                            .filter_map(|t| t.as_str().map(str::to_string))
                                            .collect()
                                    })
                                    .unwrap_or_default()
                            };
                            let (want, have) = (list(&f.after), list(&f.before));
                            let owner: Vec<String> = match input {
                                Some(i) => owner_tags(&i.project, &i.environment).to_vec(),
                                None => Vec::new(),
                            };
                            for t in want.iter().filter(|t| !have.contains(t)) {
                                dig.tag_droplets(t, &[id]).await?;
                                done.push(json!({"tag": t}));
                            }
                            for t in have
                                .iter()
                                .filter(|t| !want.contains(t) && !owner.contains(t))
                                .filter(|t| !t.starts_with("odooops:"))
                            {
                                dig.untag_droplets(t, &[id]).await?;
                                done.push(json!({"untag": t}));
                            }
                        }
                        "/backups" => {
                            dig.set_backups(id, f.after.as_bool().unwrap_or(false))
                                .await?
                        }
                        "/ipv6" if f.after == Value::Bool(true) => dig.enable_ipv6(id).await?,
                        other => {
                            return Err(bad(&format!(
                            "{other} of a droplet cannot change in place; it is recorded as drift"
                        )))
                        }
                    }
                }
                Ok((ActionStatus::Succeeded, json!({"id": id, "tags": done})))
            }
            (ObjectKind::Droplet, Op::Delete) => {
                dig.delete_droplet(live_id.parse().map_err(|_| bad("droplet without id"))?)
                    .await?;
                Ok((ActionStatus::Succeeded, json!({"id": live_id})))
            }
            (ObjectKind::Firewall, Op::Create | Op::Replace) => {
                let fw: Firewall =
                    serde_json::from_value(after).map_err(|e| bad(&e.to_string()))?;
                let (live, adopted) = dig.create_firewall(&fw, first_attempt).await?;
                let status = if adopted {
                    ActionStatus::Adopted
                } else {
                    ActionStatus::Succeeded
                };
                Ok((status, json!({"id": live.id})))
            }
            (ObjectKind::Firewall, Op::Update) => {
                let fw: Firewall =
                    serde_json::from_value(after).map_err(|e| bad(&e.to_string()))?;
                let live = dig.update_firewall(&live_id, &fw).await?;
                Ok((ActionStatus::Succeeded, json!({"id": live.id})))
            }
            (ObjectKind::Firewall, Op::Delete) => {
                dig.delete_firewall(&live_id).await?;
                Ok((ActionStatus::Succeeded, json!({"id": live_id})))
            }
            (ObjectKind::DnsRecord, op) => {
                let zone = after["zone"]
                    .as_str()
                    .or_else(|| d.before.as_ref().and_then(|b| b["zone"].as_str()))
                    .unwrap_or("")
                    .to_string();
                if op == Op::Delete {
                    dig.delete_record(
                        &zone,
                        live_id.parse().map_err(|_| bad("record without id"))?,
                    )
                    .await?;
                    return Ok((ActionStatus::Succeeded, json!({"id": live_id})));
                }
                let mut record: Record = serde_json::from_value(after["record"].clone())
                    .map_err(|e| bad(&e.to_string()))?;
                for (name, ip) in ips.lock().await.iter() {
                    if record.data == droplet_ip_ref(name) {
                        record.data = ip.clone();
                    }
                }
                if record.data.starts_with("${") {
                    return Err(bad("the droplet's address is not known yet"));
                }
                dig.ensure_domain(&zone).await?;
                let live = match (op, live_id.parse::<u64>()) {
                    (Op::Update, Ok(id)) => dig.update_record(&zone, id, &record).await?,
                    _ => dig.create_record(&zone, &record).await?,
                };
                Ok((
                    ActionStatus::Succeeded,
                    json!({"id": live.id, "data": live.record.data}),
                ))
            }
            (ObjectKind::SupabaseSecret | ObjectKind::VercelEnv, op) => {
                let (dest, name) = secrets::parts(
                    d.after
                        .as_ref()
                        .or(d.before.as_ref())
                        .unwrap_or(&Value::Null),
                )
                .ok_or_else(|| bad("secret object without destination or name"))?;
                let which = if d.key.kind == ObjectKind::SupabaseSecret {
                    crate::provider::Provider::Supabase
                } else {
                    crate::provider::Provider::Vercel
                };
                let unconfigured = || {
                    ProviderError::new(
                        which,
                        "not_configured",
                        format!(
                            "no {} client is configured for secret objects",
                            which.as_str()
                        ),
                    )
                };
                if op == Op::Delete {
                    if d.key.kind == ObjectKind::SupabaseSecret {
                        let sb = self
                            .secret_providers
                            .supabase
                            .as_ref()
                            .ok_or_else(unconfigured)?;
                        sb.delete_secrets(&dest, std::slice::from_ref(&name))
                            .await?;
                    } else {
                        let http = self
                            .secret_providers
                            .vercel
                            .as_ref()
                            .ok_or_else(unconfigured)?;
                        let vercel = secrets::vercel_for(ssot, http, &dest);
                        for id in live_id.split(',').filter(|i| !i.is_empty()) {
                            vercel.delete_env(id).await?;
                        }
                    }
                    return Ok((
                        ActionStatus::Succeeded,
                        json!({"destination": dest, "name": name}),
                    ));
                }
                // The value is read now, from the registry's source, and goes straight to
                // the provider through the secret-sync path; nothing of it is returned.
                let value = self.secrets.get(&name).ok_or_else(|| {
                    ProviderError::new(
                        which,
                        "secret_missing",
                        format!("secret `{name}` is not set in the controller's environment; set it and reconcile again"),
                    )
                })?;
                let batch = vec![(name.clone(), value)];
                let report = if d.key.kind == ObjectKind::SupabaseSecret {
                    let sb = self
                        .secret_providers
                        .supabase
                        .as_ref()
                        .ok_or_else(unconfigured)?;
                    secret_sync::push_supabase(sb, &dest, batch, false).await
                } else {
                    let http = self
                        .secret_providers
                        .vercel
                        .as_ref()
                        .ok_or_else(unconfigured)?;
                    let vercel = secrets::vercel_for(ssot, http, &dest);
                    secret_sync::push_vercel(&vercel, batch, false).await
                };
                if let Some(e) = report.error {
                    return Err(e);
                }
                Ok((
                    ActionStatus::Succeeded,
                    json!({"destination": dest, "name": name, "pushed": report.pushed, "unchanged": report.unchanged}),
                ))
            }
            (ObjectKind::Database | ObjectKind::DatabaseUser, op) => {
                let cluster_name = after["cluster"]
                    .as_str()
                    .or_else(|| d.before.as_ref().and_then(|b| b["cluster"].as_str()))
                    .unwrap_or("")
                    .to_string();
                let mut clusters = clusters.lock().await;
                let cluster_id = match clusters.get(&cluster_name) {
                    Some(id) => id.clone(),
                    None => {
                        let region = input
                            .map(|i| i.region.as_str())
                            .filter(|r| !r.is_empty())
                            .unwrap_or("fra1");
                        let c = dig
                            .create_cluster(
                                &cluster_name,
                                region,
                                "db-s-1vcpu-1gb",
                                &["odooops:managed".to_string()],
                            )
                            .await?;
                        clusters.insert(cluster_name.clone(), c.id.clone());
                        c.id
                    }
                };
                drop(clusters);
                match (d.key.kind, op) {
                    (ObjectKind::Database, Op::Delete) => {
                        dig.delete_database(&cluster_id, &d.key.name).await?
                    }
                    (ObjectKind::Database, _) => {
                        dig.ensure_database(&cluster_id, &d.key.name).await?
                    }
                    (_, Op::Delete) => dig.delete_user(&cluster_id, &d.key.name).await?,
                    _ => dig.ensure_user(&cluster_id, &d.key.name).await?,
                }
                Ok((
                    ActionStatus::Succeeded,
                    json!({"cluster": cluster_id, "name": d.key.name}),
                ))
            }
        }
    }
}
