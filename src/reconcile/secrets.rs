//! Secret presence as desired objects: "secret NAME present" in a Supabase project and "env
//! var NAME present" in a Vercel project, for the registry keys an environment lists under
//! `secrets` whose `syncTo` names that provider. Names only: a value never enters a desired
//! object, a diff, a plan or evidence; it is read from the controller's environment (the
//! registry's [`SecretSource`](crate::provider::SecretSource)) at apply time, by the
//! secret-sync path.
//!
//! Observation is one list per destination (Supabase project ref, Vercel project) per cycle.
//! A live name that is a registry key syncing to that provider but that no environment wants
//! there is ours and extra: it is offered for deletion (only with `prune`) under the first
//! environment (by name) that uses the destination. Names outside the registry are never
//! touched.

use super::diff::{Desired, Live, ObjectKey, ObjectKind};
use crate::provider::supabase::{check_secret_name, Supabase};
use crate::provider::vercel::Vercel;
use crate::provider::{HttpClient, ProviderError};
use crate::ssot::{DatabaseProvider, Environment, Project, SecretSource as Where, Ssot};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The Supabase project an environment's secrets go to: its database's project ref (provider
/// `supabase`), else the project's Supabase account `projectId`.
pub fn supabase_destination(project: &Project, env: &Environment) -> Option<String> {
    let db = &env.spec.database;
    if db.provider == DatabaseProvider::Supabase {
        if let Some(r) = &db.project_ref {
            return Some(r.clone());
        }
    }
    project
        .spec
        .providers
        .supabase
        .as_ref()
        .and_then(|a| a.project_id.clone())
}

/// The Vercel project an environment's env vars go to (the project's Vercel account).
pub fn vercel_destination(project: &Project) -> Option<String> {
    project
        .spec
        .providers
        .vercel
        .as_ref()
        .and_then(|a| a.project_id.clone())
}

fn object(kind: ObjectKind, env: &str, dest: &str, name: &str) -> Desired {
    Desired {
        key: ObjectKey {
            kind,
            env: env.to_string(),
            name: format!("{dest}/{name}"),
        },
        value: json!({"destination": dest, "name": name, "present": true}),
    }
}

/// Registry keys syncing to each provider (the names we own there).
fn owned_names(ssot: &Ssot) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut sb = BTreeSet::new();
    let mut vc = BTreeSet::new();
    for k in ssot.secret_keys() {
        if k.sync_to.contains(&Where::Supabase) && k.source != Where::Supabase {
            sb.insert(k.name.clone());
        }
        if k.sync_to.contains(&Where::Vercel) && k.source != Where::Vercel {
            vc.insert(k.name.clone());
        }
    }
    (sb, vc)
}

/// Desired presence objects of one environment.
pub fn desired(ssot: &Ssot, project: &Project, env: &Environment) -> Vec<Desired> {
    if env.spec.secrets.is_empty() {
        return Vec::new();
    }
    let (sb, vc) = owned_names(ssot);
    let e = &env.metadata.name;
    let mut out = Vec::new();
    for name in &env.spec.secrets {
        if sb.contains(name) && check_secret_name(name).is_ok() {
            if let Some(dest) = supabase_destination(project, env) {
                out.push(object(ObjectKind::SupabaseSecret, e, &dest, name));
            }
        }
        if vc.contains(name) {
            if let Some(dest) = vercel_destination(project) {
                out.push(object(ObjectKind::VercelEnv, e, &dest, name));
            }
        }
    }
    out
}

/// Where the engine reaches Supabase and Vercel: per project (its own account), else the
/// client for every project (none: that provider's secret objects are not observed).
#[derive(Clone, Debug, Default)]
pub struct SecretProviders {
    pub supabase: Option<Supabase>,
    /// The Vercel API client; bound to a project (and the account's team) per destination.
    pub vercel: Option<HttpClient>,
    pub supabase_by_project: BTreeMap<String, Supabase>,
    pub vercel_by_project: BTreeMap<String, HttpClient>,
}

impl SecretProviders {
    pub fn supabase_for(&self, project: &str) -> Option<&Supabase> {
        self.supabase_by_project
            .get(project)
            .or(self.supabase.as_ref())
    }
    pub fn vercel_for(&self, project: &str) -> Option<&HttpClient> {
        self.vercel_by_project.get(project).or(self.vercel.as_ref())
    }
    /// Whether objects of `kind` for `project` can be observed and acted on.
    pub fn reaches(&self, kind: ObjectKind, project: &str) -> bool {
        match kind {
            ObjectKind::SupabaseSecret => self.supabase_for(project).is_some(),
            ObjectKind::VercelEnv => self.vercel_for(project).is_some(),
            _ => true,
        }
    }
}

/// One list per destination; live names mapped onto desired keys, extra owned names onto
/// the first environment using the destination.
pub async fn observe(
    ssot: &Ssot,
    providers: &SecretProviders,
    desired: &[Desired],
) -> Result<Vec<Live>, ProviderError> {
    let (sb_owned, vc_owned) = owned_names(ssot);
    let mut out = Vec::new();
    for (kind, owned) in [
        (ObjectKind::SupabaseSecret, &sb_owned),
        (ObjectKind::VercelEnv, &vc_owned),
    ] {
        // destination → (name → wanting envs), and the environments using it.
        let mut wanted: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for d in desired.iter().filter(|d| d.key.kind == kind) {
            let dest = d.value["destination"].as_str().unwrap_or_default();
            let name = d.value["name"].as_str().unwrap_or_default();
            wanted
                .entry(dest.to_string())
                .or_default()
                .entry(name.to_string())
                .or_default()
                .push(d.key.env.clone());
        }
        for (dest, names) in &wanted {
            let first_env = names.values().flatten().min().cloned().unwrap_or_default();
            let project = ssot
                .environment(&first_env)
                .map(|e| e.spec.project.as_str())
                .unwrap_or_default();
            let live: Vec<(String, String)> = match kind {
                ObjectKind::SupabaseSecret => {
                    let Some(sb) = providers.supabase_for(project) else {
                        continue;
                    };
                    sb.list_secrets(dest)
                        .await?
                        .into_iter()
                        .map(|m| (m.name.clone(), m.name))
                        .collect()
                }
                _ => {
                    let Some(http) = providers.vercel_for(project) else {
                        continue;
                    };
                    vercel_for(ssot, http, dest)
                        .list_env()
                        .await?
                        .into_iter()
                        .map(|v| (v.key, v.id))
                        .collect()
                }
            };
            // A Vercel key may exist once per target: one object, every id.
            let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, id) in live {
                ids.entry(name).or_default().push(id);
            }
            for (name, ids) in ids {
                let id = ids.join(",");
                let value = json!({"destination": dest, "name": name, "present": true});
                match names.get(&name) {
                    Some(envs) => out.extend(envs.iter().map(|env| Live {
                        key: ObjectKey {
                            kind,
                            env: env.clone(),
                            name: format!("{dest}/{name}"),
                        },
                        id: id.clone(),
                        value: value.clone(),
                        owned: true,
                    })),
                    None if owned.contains(&name) => out.push(Live {
                        key: ObjectKey {
                            kind,
                            env: first_env.clone(),
                            name: format!("{dest}/{name}"),
                        },
                        id,
                        value,
                        owned: true,
                    }),
                    None => {}
                }
            }
        }
    }
    Ok(out)
}

/// The Vercel adapter for a destination project, with the team of the account naming it.
pub fn vercel_for(ssot: &Ssot, http: &HttpClient, project: &str) -> Vercel {
    let team = ssot
        .projects()
        .filter_map(|p| p.spec.providers.vercel.as_ref())
        .find(|a| a.project_id.as_deref() == Some(project))
        .and_then(|a| a.team_id.clone());
    Vercel::new(http.clone(), project, team.as_deref())
}

/// Destination and name of a presence object's value.
pub fn parts(v: &Value) -> Option<(String, String)> {
    Some((
        v["destination"].as_str()?.to_string(),
        v["name"].as_str()?.to_string(),
    ))
}
