//! The engine: plan (observe → diff → plan, stored as evidence) and apply (under the
//! store's apply lock; a ledger row committed and claimed before every side effect, then
//! the outcome, fenced), for one SSOT revision. It only orchestrates: the actuators
//! ([`super::actuate`]) make the changes, one per object kind.

mod apply;
mod interrupted;
mod observe;
mod planning;
mod releases;

use super::accounts::{self, AccountError, Accounts, Connect};
use super::actuate::DeliveryConfig;
use super::evidence;
use super::notify::{Notifications, NotifyConfig};
use super::plan::{EnvPolicy, PlanError};
use super::secrets::SecretProviders;
use crate::provider::digitalocean::DigitalOcean;
use crate::provider::{EnvSecrets, ProviderError, SecretSource};
use crate::ssot::{ReconcileMode, Ssot, Stage};
use crate::store::{self, Level, Store, Trigger};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub use observe::{Detail, Observation};
pub use planning::Planned;

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
    #[error(transparent)]
    Accounts(#[from] AccountError),
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
    #[error("leadership lost during the apply (run {run}); the new leader resumes")]
    LeadershipLost { run: Uuid },
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
    /// How long an apply waits for the store's apply lock held by another applier.
    pub lock_wait: Duration,
    /// The controller's leadership, re-checked before every action of a long apply: once
    /// it turns false the apply stops acting (its ledger writes are fenced anyway).
    pub leadership: Option<Arc<AtomicBool>>,
    /// Commits a push named, by environment: deployed instead of the branch head (unless
    /// the branch has moved on past them).
    pub commits: BTreeMap<String, String>,
}

impl Context {
    /// Whether this reconcile covers `env`: the one asked for (if any), not held back.
    pub fn in_scope(&self, env: &str) -> bool {
        self.only_env.as_deref().is_none_or(|o| o == env) && !self.skip_envs.contains(env)
    }

    fn still_leading(&self) -> bool {
        self.leadership
            .as_ref()
            .is_none_or(|l| l.load(Ordering::SeqCst))
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
            lock_wait: Duration::ZERO,
            leadership: None,
            commits: BTreeMap::new(),
        }
    }
}

pub struct Engine {
    pub store: Store,
    /// The DigitalOcean account of every project.
    pub accounts: Accounts,
    /// Supabase and Vercel, for secret-presence objects (none: not observed, not planned).
    pub secret_providers: SecretProviders,
    /// Where secret values are read at apply time (never stored).
    pub secrets: Arc<dyn SecretSource>,
    /// How Slack and Plane notifiers are reached.
    pub notify: NotifyConfig,
    /// Environments applied concurrently (each environment's actions stay in order).
    pub concurrency: usize,
    /// Where releases of Odoo come from and how long their steps may take (none: this
    /// engine delivers no releases; an environment with `spec.delivery` is then held).
    pub delivery: Option<DeliveryConfig>,
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
    /// Scopes (environments) whose live state or desired inputs changed since the plan:
    /// not applied, to be re-planned. The others were applied.
    pub stale: Vec<String>,
}

impl Engine {
    /// An engine with one DigitalOcean account for every project: no Supabase/Vercel secret
    /// objects, secret values from the process environment, notifiers at their SSOT/real
    /// addresses, the default concurrency.
    pub fn new(store: Store, digitalocean: DigitalOcean) -> Engine {
        Engine {
            store,
            accounts: Accounts::single(digitalocean),
            secret_providers: SecretProviders::default(),
            secrets: Arc::new(EnvSecrets),
            notify: NotifyConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            delivery: None,
        }
    }

    /// This engine delivers releases, with git mirrors and exports under `data_dir`.
    pub fn with_delivery(mut self, data_dir: &std::path::Path) -> Engine {
        self.delivery = Some(DeliveryConfig::new(data_dir));
        self
    }

    /// The engine for an SSOT: one client per provider account it names (tokens from the
    /// process environment by registry key), or every provider at the simulator.
    pub fn connect(
        ssot: &Ssot,
        store: Store,
        sim: Option<&str>,
        metrics: Arc<crate::provider::http::Metrics>,
    ) -> Result<Engine, AccountError> {
        let secrets: Arc<dyn SecretSource> = Arc::new(EnvSecrets);
        let c = Connect {
            sim,
            metrics: metrics.clone(),
            secrets: secrets.as_ref(),
        };
        let mut engine = Engine {
            store,
            accounts: accounts::digitalocean(ssot, &c)?,
            secret_providers: accounts::secret_providers(ssot, &c)?,
            secrets: secrets.clone(),
            notify: NotifyConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            delivery: None,
        };
        engine.notify.metrics = metrics;
        if let Some(url) = sim {
            let url = url.trim_end_matches('/');
            engine.notify.slack_base = Some(format!("{url}/slack"));
            engine.notify.plane_base = Some(format!("{url}/plane"));
        }
        Ok(engine)
    }

    fn notifications(&self) -> Notifications<'_> {
        Notifications {
            store: &self.store,
            secrets: self.secrets.as_ref(),
            config: &self.notify,
        }
    }

    pub(crate) async fn event(
        &self,
        run: Uuid,
        corr: &str,
        level: Level,
        env: Option<&str>,
        msg: String,
        fields: Value,
    ) {
        evidence::event(&self.store, run, corr, level, env, msg, fields).await
    }
}

/// Each scope's policy: environments by their SSOT settings; a cluster's scope is
/// production when any environment using it is, detect-only when all are, and never
/// pruned.
fn policies(ssot: &Ssot) -> BTreeMap<String, EnvPolicy> {
    let mut out: BTreeMap<String, EnvPolicy> = ssot
        .environments()
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
        .collect();
    for c in ssot.database_clusters() {
        let users: Vec<&EnvPolicy> = ssot
            .environments()
            .filter(|e| e.spec.database.cluster.as_deref() == Some(c.metadata.name.as_str()))
            .filter_map(|e| out.get(&e.metadata.name))
            .collect();
        let p = EnvPolicy {
            production: users.iter().any(|p| p.production),
            prune: false,
            detect_only: !users.is_empty() && users.iter().all(|p| p.detect_only),
        };
        out.insert(super::desired::shared_scope(&c.metadata.name), p);
    }
    out
}

fn ignores(ssot: &Ssot) -> BTreeMap<String, Vec<String>> {
    ssot.environments()
        .map(|e| (e.metadata.name.clone(), e.spec.reconcile.ignore.clone()))
        .collect()
}
