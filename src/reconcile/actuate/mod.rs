//! Actuators: one per object kind, behind one trait (Crossplane's `ExternalClient`:
//! create, update, delete — each idempotent, each safe to repeat after a crash). The engine
//! only orchestrates: it commits the ledger row, picks the actuator for the object's kind
//! and records what it answers. Observation is the other half of the contract and is done
//! in bulk, one list per kind per account ([`super::observe`]), never per object.

mod cluster;
mod database;
mod droplet;
mod firewall;
mod record;
mod release;
mod secret;

pub use release::{scrub, DeliveryConfig, ReleaseCx};
pub(crate) use release::{Backups, StoreJournal};

use super::desired::EnvPlanInput;
use super::diff::{FieldPolicy, ObjectKind};
use super::plan::{Action, Op};
use super::secrets::SecretProviders;
use crate::provider::digitalocean::DigitalOcean;
use crate::provider::{Provider, ProviderError, SecretSource};
use crate::ssot::Ssot;
use crate::store::ActionStatus;
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::sync::Mutex;

/// What every action of one apply shares.
#[derive(Debug, Default)]
pub struct Shared {
    /// Droplet addresses by droplet name (a record waits for its droplet's).
    pub ips: Mutex<BTreeMap<String, String>>,
    /// Cluster ids by cluster name (a database waits for its cluster).
    pub clusters: Mutex<BTreeMap<String, String>>,
    /// Provider ids of the databases and users this apply created or adopted (a user
    /// several environments share is created by the first and adopted by the others).
    pub made: Mutex<std::collections::BTreeSet<String>>,
}

/// Everything an actuator may use for one action.
pub struct ActCx<'a> {
    pub ssot: &'a Ssot,
    /// The DigitalOcean account of the action's project.
    pub dig: Option<&'a DigitalOcean>,
    pub secret_providers: &'a SecretProviders,
    /// Where secret values are read at apply time (never stored).
    pub secrets: &'a dyn SecretSource,
    /// The environment's plan input (none for project-scoped objects).
    pub input: Option<&'a EnvPlanInput>,
    /// The project the action's object belongs to.
    pub project: &'a str,
    pub shared: &'a Shared,
    /// A retry, or a ledger row a crash left: look for what an earlier attempt may have
    /// made before creating (and adopt it). A first attempt skips the look where looking
    /// is expensive; the plan's fresh observation saw nothing.
    pub look_first: bool,
    /// What delivering a release needs (none: this engine delivers no releases).
    pub release: Option<&'a ReleaseCx<'a>>,
}

impl ActCx<'_> {
    pub fn dig(&self) -> Result<&DigitalOcean, ProviderError> {
        self.dig.ok_or_else(|| {
            bad(&format!(
                "no DigitalOcean account for project `{}`",
                self.project
            ))
        })
    }
    pub fn input(&self) -> Result<&EnvPlanInput, ProviderError> {
        self.input
            .ok_or_else(|| bad("the environment is no longer in the SSOT"))
    }
}

/// What an actuator did.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub status: ActionStatus,
    /// The ledger row's response summary (ids and names, never secret values).
    pub response: Value,
    /// The provider's id, kept in the recorded inventory (`ops.managed_objects`).
    pub provider_id: Option<String>,
}

impl Done {
    pub fn new(adopted: bool, response: Value) -> Done {
        Done {
            status: if adopted {
                ActionStatus::Adopted
            } else {
                ActionStatus::Succeeded
            },
            response,
            provider_id: None,
        }
    }
    pub fn with_id(mut self, id: impl Into<String>) -> Done {
        self.provider_id = Some(id.into());
        self
    }
}

pub type Act<'a> = BoxFuture<'a, Result<Done, ProviderError>>;

/// One object kind's side effects.
pub trait Actuator: Sync {
    fn create<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a>;
    fn update<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a>;
    fn delete<'a>(&'a self, cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a>;
    /// Destroy and re-create; a kind that cannot be replaced says so.
    fn replace<'a>(&'a self, _cx: &'a ActCx<'a>, a: &'a Action) -> Act<'a> {
        let key = a.diff.key.to_string();
        Box::pin(async move { Err(bad(&format!("{key} cannot be replaced"))) })
    }
}

/// The actuator of a kind.
pub fn for_kind(kind: ObjectKind) -> &'static dyn Actuator {
    match kind {
        ObjectKind::DatabaseCluster => &cluster::ClusterActuator,
        ObjectKind::Database | ObjectKind::DatabaseUser => &database::DatabaseActuator,
        ObjectKind::Droplet => &droplet::DropletActuator,
        ObjectKind::Firewall => &firewall::FirewallActuator,
        ObjectKind::DnsRecord => &record::RecordActuator,
        ObjectKind::SupabaseSecret | ObjectKind::VercelEnv => &secret::SecretActuator,
        ObjectKind::Release => &release::ReleaseActuator,
    }
}

/// Carry out one planned action.
pub async fn execute(cx: &ActCx<'_>, a: &Action) -> Result<Done, ProviderError> {
    let act = for_kind(a.diff.key.kind);
    match a.op {
        Op::Create => act.create(cx, a).await,
        Op::Update => act.update(cx, a).await,
        Op::Replace => act.replace(cx, a).await,
        Op::Delete => act.delete(cx, a).await,
    }
}

/// A plan that cannot be carried out as written.
pub(crate) fn bad(m: &str) -> ProviderError {
    ProviderError::new(Provider::Digitalocean, "plan", m.to_string())
}

/// The desired value of an action, typed.
pub(crate) fn after<T: serde::de::DeserializeOwned>(a: &Action) -> Result<T, ProviderError> {
    serde_json::from_value(a.diff.after.clone().unwrap_or(Value::Null))
        .map_err(|e| bad(&e.to_string()))
}

/// The field changes an update makes in place (create-only ones are drift, not actions).
pub(crate) fn in_place(a: &Action) -> impl Iterator<Item = &super::diff::FieldChange> {
    a.diff
        .fields
        .iter()
        .filter(|f| f.policy == FieldPolicy::InPlace)
}
