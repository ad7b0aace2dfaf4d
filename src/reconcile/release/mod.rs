//! The release of Odoo an environment serves, reconciled like every other object.
//!
//! **Desired**: the code commit its branch points at (or the commit a push named), Odoo's
//! pinned revision, digests of the rendered `odoo.conf`, of the Python requirements (Odoo's
//! then the repository's `requirements.txt`) and of the secret *values* Odoo is given (never
//! the values), and what the release does to the database: modules to install, modules to
//! update (by content checksum and manifest version, as OCA's `module_auto_update`) and the
//! installed dependents the update cascades to.
//!
//! **Live**: the environment's serving release as `ops.releases` records it — one query for
//! every environment, no SSH session. A release has nothing pending for the database, so a
//! desired release with modules to install or update always differs from it.
//!
//! A release that failed (and was rolled back) is not tried again for the same inputs: the
//! change is held with a note until a new commit, config or secret value makes a new one.

mod host;
mod sources;

pub use host::{database_url, host_secrets, reachable, Target};
pub use sources::{Sources, SourcesConfig};

use super::diff::{Desired, Live, ObjectKey, ObjectKind};
use crate::git::ModuleChanges;
use crate::odoo::render;
use crate::provider::SecretSource;
use crate::ssot::{Environment, Project};
use crate::store::{Release, RELEASE_FAILED, RELEASE_ROLLED_BACK};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The name of an environment's release object (one per environment).
pub const OBJECT_NAME: &str = "odoo";

/// What a release is made of (the compared value, without the database consequence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    pub commit: String,
    pub odoo: String,
    pub config: String,
    pub requirements: String,
    pub secrets: String,
}

impl Inputs {
    /// The same inputs as a recorded release's?
    pub fn same_as(&self, r: &Release) -> bool {
        r.commit_sha == self.commit
            && r.odoo_revision == self.odoo
            && r.config_digest == self.config
            && r.requirements_digest.as_deref() == Some(self.requirements.as_str())
            && r.secrets_digest.as_deref() == Some(self.secrets.as_str())
    }
}

/// The database work of a release (empty: none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseWork {
    /// The environment's first release: a new database (`-i base` and the modules).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub initialize: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub install: Vec<String>,
    /// Module → why (`content changed`, `version 1.0 → 1.1`, `no baseline`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub update: BTreeMap<String, String>,
    /// Installed dependents Odoo updates with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cascade: Vec<String>,
    /// Installed modules the new commit no longer has (Odoo keeps them installed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl DatabaseWork {
    pub fn from_changes(c: &ModuleChanges, initialize: bool) -> DatabaseWork {
        DatabaseWork {
            initialize,
            install: c.install.clone(),
            update: c
                .update
                .iter()
                .map(|(m, r)| (m.clone(), reason_text(r)))
                .collect(),
            cascade: c.cascade.clone(),
            removed: c.removed.clone(),
        }
    }
    /// Does `-i`/`-u` run?
    pub fn touches_database(&self) -> bool {
        self.initialize || !self.install.is_empty() || !self.update.is_empty()
    }
}

fn reason_text(r: &crate::git::Reason) -> String {
    use crate::git::Reason;
    match r {
        Reason::ContentChanged => "content changed".into(),
        Reason::VersionBumped { from, to } => format!(
            "version {} → {}",
            from.as_deref().unwrap_or("none"),
            to.as_deref().unwrap_or("none")
        ),
        Reason::NoBaseline => "no baseline (content of the serving release unknown)".into(),
    }
}

/// The compared value of a release: its inputs and its database work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseValue {
    #[serde(flatten)]
    pub inputs: Inputs,
    pub database: DatabaseWork,
}

impl ReleaseValue {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The key of an environment's release object.
pub fn key(env: &str) -> ObjectKey {
    ObjectKey {
        kind: ObjectKind::Release,
        env: env.to_string(),
        name: OBJECT_NAME.to_string(),
    }
}

/// The live object of a serving release.
pub fn live(r: &Release) -> Live {
    let v = ReleaseValue {
        inputs: Inputs {
            commit: r.commit_sha.clone(),
            odoo: r.odoo_revision.clone(),
            config: r.config_digest.clone(),
            requirements: r.requirements_digest.clone().unwrap_or_default(),
            secrets: r.secrets_digest.clone().unwrap_or_default(),
        },
        database: DatabaseWork::default(),
    };
    Live {
        key: key(&r.environment),
        id: r.id.to_string(),
        value: v.to_value(),
        owned: true,
    }
}

/// The digest of an environment's rendered `odoo.conf` (its `${NAME}` references, not the
/// values; slot paths and ports are the host's business).
pub fn config_digest(project: &Project, env: &Environment) -> String {
    format!(
        "sha256:{}",
        crate::host::prepare::digest(render::odoo_conf(project, env).as_bytes())
    )
}

/// The modules an environment installs.
pub fn wanted_modules(env: &Environment) -> Vec<String> {
    let mut v = env.spec.modules.install.clone();
    v.sort();
    v.dedup();
    v
}

/// The modules a release leaves installed: those installed before and those it installs.
pub fn installed_after(before: &[String], work: &DatabaseWork) -> Vec<String> {
    let mut v: Vec<String> = before.iter().chain(work.install.iter()).cloned().collect();
    v.sort();
    v.dedup();
    v
}

/// What a recorded release says is installed (`modules_installed`, a JSON list).
pub fn installed_of(r: &Release) -> Vec<String> {
    r.modules_installed
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One environment's desired release, or why there is none to deploy.
#[derive(Debug, Clone)]
pub enum Wanted {
    Release(Desired),
    /// The same inputs failed before (release id, error): held until they change.
    FailedBefore {
        desired: Desired,
        release: String,
        error: String,
    },
    /// It cannot be computed (a git, source or secret problem): the environment's release
    /// is refused with this reason until fixed.
    Blocked(String),
}

/// The environments' recorded releases the engine needs: the serving one, the latest, and
/// which environments ever had one serve.
#[derive(Debug, Default)]
pub struct Recorded {
    pub serving: BTreeMap<String, Release>,
    pub latest: BTreeMap<String, Release>,
    pub served: std::collections::BTreeSet<String>,
}

impl Recorded {
    pub fn from_rows(serving: Vec<Release>, latest: Vec<Release>, served: Vec<String>) -> Recorded {
        Recorded {
            served: served.into_iter().collect(),
            serving: serving
                .into_iter()
                .map(|r| (r.environment.clone(), r))
                .collect(),
            latest: latest
                .into_iter()
                .map(|r| (r.environment.clone(), r))
                .collect(),
        }
    }
}

/// Compute one environment's desired release.
pub async fn wanted(
    sources: &Sources,
    secrets: &dyn SecretSource,
    project: &Project,
    env: &Environment,
    recorded: &Recorded,
    cluster_hosts: &BTreeMap<String, (String, u16)>,
) -> Wanted {
    let name = env.metadata.name.as_str();
    let serving = recorded.serving.get(name);
    if let Err(e) = reachable(env, secrets) {
        return Wanted::Blocked(e);
    }
    let code = match sources.commit_of(project, env).await {
        Ok(c) => c,
        Err(e) => return Wanted::Blocked(e),
    };
    let odoo = match sources.odoo_of(project) {
        Ok(o) => o,
        Err(e) => return Wanted::Blocked(e),
    };
    let requirements = match sources.requirements(project, &code).await {
        Ok(r) => r,
        Err(e) => return Wanted::Blocked(e),
    };
    let values = match host_secrets(project, env, secrets, cluster_hosts) {
        Ok(v) => v,
        Err(e) => return Wanted::Blocked(e),
    };
    let inputs = Inputs {
        commit: code.clone(),
        odoo: odoo.revision.clone(),
        config: config_digest(project, env),
        requirements: format!("sha256:{}", crate::host::prepare::digest(&requirements)),
        secrets: crate::host::prepare::secrets_digest(&values),
    };
    drop(values);
    let wanted = wanted_modules(env);
    let database = match serving {
        // Same code, every wanted module installed: nothing for the database.
        Some(s)
            if s.commit_sha == code && {
                let have = installed_of(s);
                wanted.iter().all(|m| have.contains(m))
            } =>
        {
            DatabaseWork::default()
        }
        _ => {
            let deployed = match serving {
                Some(s) => match sources.module_states(project, &s.commit_sha).await {
                    Ok(m) => Some(m),
                    Err(e) => return Wanted::Blocked(e),
                },
                None => None,
            };
            let new = match sources.module_states(project, &code).await {
                Ok(m) => m,
                Err(e) => return Wanted::Blocked(e),
            };
            let installed = serving.map(installed_of);
            let changes = crate::git::module_changes(
                deployed.as_deref(),
                &new,
                &wanted,
                installed.as_deref(),
            );
            // No release ever served: the database is new.
            let initialize = serving.is_none() && !recorded.served.contains(name);
            DatabaseWork::from_changes(&changes, initialize)
        }
    };
    let desired = Desired {
        key: key(name),
        value: ReleaseValue { inputs, database }.to_value(),
    };
    let inputs: Inputs = match serde_json::from_value(desired.value.clone()) {
        Ok(i) => i,
        Err(e) => return Wanted::Blocked(e.to_string()),
    };
    if let Some(last) = recorded.latest.get(name) {
        let failed = last.status == RELEASE_FAILED || last.status == RELEASE_ROLLED_BACK;
        if failed && inputs.same_as(last) {
            return Wanted::FailedBefore {
                desired,
                release: last.id.to_string(),
                error: last.error.clone().unwrap_or_default(),
            };
        }
    }
    Wanted::Release(desired)
}

/// The note of a held or refused release, for plans and findings.
pub fn note(w: &Wanted) -> Option<String> {
    match w {
        Wanted::Release(_) => None,
        Wanted::FailedBefore { release, error, .. } => Some(format!(
            "release {release} of these inputs failed and was rolled back ({error}); not retried until the commit, config, requirements or secrets change"
        )),
        Wanted::Blocked(reason) => Some(reason.clone()),
    }
}

/// The evidence summary of a release value (for ledger rows and events).
pub fn summary(v: &ReleaseValue) -> Value {
    json!({
        "commit": v.inputs.commit,
        "odoo": v.inputs.odoo,
        "install": v.database.install,
        "update": v.database.update.keys().collect::<Vec<_>>(),
        "initialize": v.database.initialize,
    })
}
