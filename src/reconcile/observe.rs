//! Observe (I/O at the edge): live state through the adapters in bulk — one paginated list
//! per object type per provider per cycle, never one call per environment — mapped onto the
//! same keys as the desired objects.

use super::desired::droplet_of_ref;
use super::diff::{Desired, Live, ObjectKey, ObjectKind};
use crate::provider::digitalocean::{
    DigitalOcean, LiveCluster, LiveDroplet, LiveFirewall, LiveRecord,
};
use crate::provider::ProviderError;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const ENV_TAG: &str = "odooops:env:";
const MANAGED_TAG: &str = "odooops:managed";

/// What one observation cycle read, for the environments in scope, kept in the adapters'
/// compact typed form: comparable JSON values are made one environment at a time
/// ([`Observed::take_env`]), so a cycle over thousands of environments never holds them all
/// as JSON.
#[derive(Debug, Default)]
pub struct Observed {
    /// Droplets and firewalls by the environment their ownership tag names.
    droplets: BTreeMap<String, Vec<LiveDroplet>>,
    firewalls: BTreeMap<String, Vec<LiveFirewall>>,
    /// A records by (zone, record name), in the zones the desired state uses.
    records: BTreeMap<(String, String), LiveRecord>,
    cluster_list: Vec<LiveCluster>,
    /// Public IPv4 of each droplet, by droplet name.
    pub droplet_ips: BTreeMap<String, String>,
    /// Cluster ids by cluster name.
    pub clusters: BTreeMap<String, String>,
}

/// What the desired state needs read, besides droplets and firewalls.
#[derive(Debug, Default)]
pub struct Wants {
    /// DNS zones any environment in scope uses.
    pub zones: BTreeSet<String>,
    /// Whether any environment in scope has a managed database.
    pub databases: bool,
}

impl Wants {
    /// Add what one environment's objects need read ([`super::desired::reads`]).
    pub fn add(&mut self, (zone, database): (Option<&str>, bool)) {
        if let Some(zone) = zone {
            if !self.zones.contains(zone) {
                self.zones.insert(zone.to_string());
            }
        }
        self.databases |= database;
    }
}

fn env_of(tags: &[String]) -> Option<String> {
    tags.iter()
        .find_map(|t| t.strip_prefix(ENV_TAG))
        .map(str::to_string)
}

/// Read everything the environments in scope (`in_scope` by environment name) could
/// correspond to: one paginated list per object type, objects of other environments dropped
/// page by page.
pub async fn observe(
    dig: &DigitalOcean,
    wants: &Wants,
    in_scope: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Observed, ProviderError> {
    let mut obs = Observed::default();
    let ours = |tags: &[String]| env_of(tags).is_some_and(|e| in_scope(&e));
    // The lists are independent: read them at the same time.
    let (droplets, firewalls, records, clusters) = tokio::try_join!(
        dig.observe_droplets_where(MANAGED_TAG, |d| ours(&d.droplet.tags)),
        dig.observe_firewalls_where("odooops-", |f| ours(&f.firewall.tags)),
        futures::future::try_join_all(wants.zones.iter().map(|zone| async move {
            dig.observe_records_where(zone, |r| r.record.kind == "A")
                .await
                .map(|r| (zone, r))
        })),
        async {
            if wants.databases {
                dig.observe_clusters(None).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    for d in droplets {
        let Some(env) = env_of(&d.droplet.tags) else {
            continue;
        };
        if let Some(ip) = &d.ipv4 {
            obs.droplet_ips.insert(d.droplet.name.clone(), ip.clone());
        }
        obs.droplets.entry(env).or_default().push(d);
    }
    for f in firewalls {
        if let Some(env) = env_of(&f.firewall.tags) {
            obs.firewalls.entry(env).or_default().push(f);
        }
    }
    for (zone, list) in records {
        for r in list {
            obs.records.insert((zone.clone(), r.record.name.clone()), r);
        }
    }
    for c in &clusters {
        obs.clusters.insert(c.name.clone(), c.id.clone());
    }
    obs.cluster_list = clusters;
    Ok(obs)
}

impl Observed {
    /// The live objects of `env` mapped onto the keys of its `desired` objects, taken out
    /// of the observation (each environment is taken once).
    pub fn take_env(&mut self, env: &str, desired: &[Desired]) -> Vec<Live> {
        let mut live = Vec::new();
        let key = |kind, name: &str| ObjectKey {
            kind,
            env: env.to_string(),
            name: name.to_string(),
        };
        for d in self.droplets.remove(env).unwrap_or_default() {
            live.push(Live {
                key: key(ObjectKind::Droplet, &d.droplet.name),
                id: d.id.to_string(),
                value: serde_json::to_value(&d.droplet).unwrap_or(Value::Null),
                owned: true,
            });
        }
        for f in self.firewalls.remove(env).unwrap_or_default() {
            live.push(Live {
                key: key(ObjectKind::Firewall, &f.firewall.name),
                id: f.id,
                value: serde_json::to_value(&f.firewall).unwrap_or(Value::Null),
                owned: true,
            });
        }
        for d in desired {
            match d.key.kind {
                // DNS records: the desired (zone, name) pairs.
                ObjectKind::DnsRecord => {
                    let (Some(zone), Some(name)) =
                        (d.value["zone"].as_str(), d.value["record"]["name"].as_str())
                    else {
                        continue;
                    };
                    if let Some(r) = self.records.remove(&(zone.to_string(), name.to_string())) {
                        live.push(Live {
                            key: d.key.clone(),
                            id: r.id.to_string(),
                            value: json!({"zone": zone, "record": r.record}),
                            owned: true,
                        });
                    }
                }
                // Managed databases and users: present in their cluster or not.
                ObjectKind::Database | ObjectKind::DatabaseUser => {
                    let cluster_name = d.value["cluster"].as_str().unwrap_or("");
                    let Some(c) = self.cluster_list.iter().find(|c| c.name == cluster_name) else {
                        continue;
                    };
                    let present = match d.key.kind {
                        ObjectKind::Database => c.databases.contains(&d.key.name),
                        _ => c.users.contains(&d.key.name),
                    };
                    if present {
                        live.push(Live {
                            key: d.key.clone(),
                            id: format!("{}/{}", c.id, d.key.name),
                            value: d.value.clone(),
                            owned: true,
                        });
                    }
                }
                _ => {}
            }
        }
        live
    }

    /// Environments with owned droplets or firewalls not yet taken (not in the SSOT).
    pub fn remaining_envs(&self) -> BTreeSet<String> {
        self.droplets
            .keys()
            .chain(self.firewalls.keys())
            .cloned()
            .collect()
    }
}

/// Replace `${droplet:NAME.ipv4}` references with observed addresses (unknown ones stay,
/// and are resolved at apply time once the droplet exists).
pub fn resolve_refs(desired: &mut [Desired], ips: &BTreeMap<String, String>) {
    for d in desired
        .iter_mut()
        .filter(|d| d.key.kind == ObjectKind::DnsRecord)
    {
        if let Some(data) = d.value.pointer_mut("/record/data") {
            // `${droplet:NAME.ipv4}` names its droplet: one lookup, no map of every reference.
            let ip = data
                .as_str()
                .and_then(droplet_of_ref)
                .and_then(|name| ips.get(name));
            if let Some(ip) = ip {
                *data = json!(ip);
            }
        }
    }
}
