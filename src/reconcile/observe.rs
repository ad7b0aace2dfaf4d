//! Observe (I/O at the edge): live state through the adapters in bulk — one paginated list
//! per object type per provider account per cycle, never one call per environment — mapped
//! onto the same keys as the desired objects, each marked ours or not.
//!
//! Ownership is observed, never assumed: droplets are ours by their ownership tags,
//! firewalls by their name and the environment tag they apply to, clusters by the
//! management tag; DNS records and the databases and users inside a cluster carry no tags,
//! so they are ours only when the recorded inventory (`ops.managed_objects`) lists them —
//! or when an interrupted create of ours left its pending ledger row (Crossplane's
//! create-pending marker). A same-named object that is not ours is a conflict, never
//! adopted.

use super::desired::droplet_of_ref;
use super::diff::{Desired, Live, ObjectKey, ObjectKind};
use crate::provider::digitalocean::{
    DigitalOcean, LiveCluster, LiveDroplet, LiveFirewall, LiveRecord,
};
use crate::provider::ProviderError;
use crate::store::ManagedObject;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const ENV_TAG: &str = "odooops:env:";
const MANAGED_TAG: &str = "odooops:managed";

/// Kinds whose ownership is the recorded inventory.
pub const INVENTORIED: &[ObjectKind] = &[
    ObjectKind::DnsRecord,
    ObjectKind::Database,
    ObjectKind::DatabaseUser,
];

/// What is ours without a tag: the recorded inventory and the pending creates.
#[derive(Debug, Default)]
pub struct Ownership {
    /// `env/kind/name` → the recorded object.
    pub inventory: BTreeMap<String, ManagedObject>,
    /// `env/kind/name` of creates a crash left pending or in flight.
    pub pending: BTreeSet<String>,
}

impl Ownership {
    /// Ours: recorded under this key with this id, or recorded by another environment with
    /// the same id (a database user several environments share), or a create of ours is
    /// pending for it.
    fn owns(&self, key: &ObjectKey, provider_id: &str) -> bool {
        let k = key.to_string();
        self.pending.contains(&k)
            || self
                .inventory
                .get(&k)
                .is_some_and(|o| o.provider_id == provider_id)
            || self
                .inventory
                .values()
                .any(|o| o.kind == key.kind.as_str() && o.provider_id == provider_id)
    }
}

/// What one observation cycle read, for the environments in scope, kept in the adapters'
/// compact typed form: comparable JSON values are made one environment at a time
/// ([`Observed::take_env`]), so a cycle over thousands of environments never holds them all
/// as JSON.
#[derive(Debug, Default)]
pub struct Observed {
    /// Droplets and firewalls by the environment their ownership tag names.
    droplets: BTreeMap<String, Vec<LiveDroplet>>,
    firewalls: BTreeMap<String, Vec<LiveFirewall>>,
    /// A records by (zone, record name), in the zones read.
    records: BTreeMap<(String, String), Vec<LiveRecord>>,
    clusters_by_name: BTreeMap<String, LiveCluster>,
    /// Public IPv4 of each droplet, by droplet name.
    pub droplet_ips: BTreeMap<String, String>,
    /// Cluster ids by cluster name.
    pub clusters: BTreeMap<String, String>,
    pub ownership: Ownership,
    /// (cluster, user) pairs some environment of the SSOT still wants: a recorded user
    /// another environment shares is never offered for deletion.
    pub wanted_users: BTreeSet<(String, String)>,
}

/// What the desired state needs read, besides droplets and firewalls.
#[derive(Debug, Default, Clone)]
pub struct Wants {
    /// DNS zones any environment in scope uses (or holds recorded records in).
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

/// The zone of a recorded DNS record (`zone/id`).
pub fn record_zone(provider_id: &str) -> Option<&str> {
    provider_id.rsplit_once('/').map(|(z, _)| z)
}

/// Read everything the environments in scope (`in_scope` by environment name) of one
/// account could correspond to: one paginated list per object type, objects of other
/// environments dropped page by page.
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
            obs.records
                .entry((zone.clone(), r.record.name.clone()))
                .or_default()
                .push(r);
        }
    }
    for c in clusters {
        obs.clusters.insert(c.spec.name.clone(), c.id.clone());
        obs.clusters_by_name.insert(c.spec.name.clone(), c);
    }
    Ok(obs)
}

impl Observed {
    /// Fold another account's observation into this one (environments and cluster names
    /// are unique across accounts).
    pub fn absorb(&mut self, other: Observed) {
        self.droplets.extend(other.droplets);
        self.firewalls.extend(other.firewalls);
        self.records.extend(other.records);
        self.clusters_by_name.extend(other.clusters_by_name);
        self.droplet_ips.extend(other.droplet_ips);
        self.clusters.extend(other.clusters);
    }

    fn record_live(&self, key: ObjectKey, zone: &str, r: &LiveRecord) -> Live {
        let provider_id = format!("{zone}/{}", r.id);
        Live {
            owned: self.ownership.owns(&key, &provider_id),
            key,
            id: r.id.to_string(),
            value: json!({"zone": zone, "record": r.record}),
        }
    }

    /// The live objects of `env` mapped onto the keys of its `desired` objects, taken out
    /// of the observation (each environment is taken once); recorded objects of `env` that
    /// are no longer desired come too (candidates for pruning).
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
        let wanted: BTreeSet<&ObjectKey> = desired.iter().map(|d| &d.key).collect();
        for d in desired {
            match d.key.kind {
                // DNS records: the desired (zone, name) pairs; of several records of that
                // name, the one the inventory records.
                ObjectKind::DnsRecord => {
                    let (Some(zone), Some(name)) =
                        (d.value["zone"].as_str(), d.value["record"]["name"].as_str())
                    else {
                        continue;
                    };
                    let Some(found) = self.records.get(&(zone.to_string(), name.to_string()))
                    else {
                        continue;
                    };
                    let recorded = self
                        .ownership
                        .inventory
                        .get(&d.key.to_string())
                        .map(|o| o.provider_id.clone());
                    let pick = found
                        .iter()
                        .find(|r| recorded.as_deref() == Some(&format!("{zone}/{}", r.id)))
                        .or_else(|| found.first());
                    if let Some(r) = pick {
                        live.push(self.record_live(d.key.clone(), zone, r));
                    }
                }
                // Managed databases and users: where the inventory recorded ours (so one
                // that the SSOT moves to another cluster is seen where it is), else in the
                // cluster the desired state names.
                ObjectKind::Database | ObjectKind::DatabaseUser => {
                    let recorded = self
                        .ownership
                        .inventory
                        .get(&d.key.to_string())
                        .and_then(|o| o.provider_id.split_once('/'))
                        .and_then(|(cid, _)| self.clusters_by_name.values().find(|c| c.id == cid));
                    let named = d.value["cluster"].as_str().unwrap_or("");
                    let Some(c) = recorded.or_else(|| self.clusters_by_name.get(named)) else {
                        continue;
                    };
                    let present = match d.key.kind {
                        ObjectKind::Database => c.databases.contains(&d.key.name),
                        _ => c.users.contains(&d.key.name),
                    };
                    if present {
                        let id = format!("{}/{}", c.id, d.key.name);
                        let mut value = d.value.clone();
                        value["cluster"] = json!(c.spec.name);
                        live.push(Live {
                            owned: self.ownership.owns(&d.key, &id),
                            key: d.key.clone(),
                            id,
                            value,
                        });
                    }
                }
                _ => {}
            }
        }
        // Recorded objects of this environment that are no longer desired.
        let recorded: Vec<ManagedObject> = self
            .ownership
            .inventory
            .values()
            .filter(|o| o.environment == env)
            .cloned()
            .collect();
        for o in recorded {
            let Some(kind) = ObjectKind::parse(&o.kind) else {
                continue;
            };
            let k = key(kind, &o.name);
            if wanted.contains(&k) {
                continue;
            }
            match kind {
                ObjectKind::DnsRecord => {
                    let Some((zone, id)) = o.provider_id.rsplit_once('/') else {
                        continue;
                    };
                    let found = self
                        .records
                        .iter()
                        .filter(|((z, _), _)| z == zone)
                        .flat_map(|(_, rs)| rs.iter())
                        .find(|r| r.id.to_string() == id)
                        .cloned();
                    if let Some(r) = found {
                        live.push(self.record_live(k, zone, &r));
                    }
                }
                ObjectKind::Database | ObjectKind::DatabaseUser => {
                    let Some((cluster_id, name)) = o.provider_id.split_once('/') else {
                        continue;
                    };
                    let Some(c) = self.clusters_by_name.values().find(|c| c.id == cluster_id)
                    else {
                        continue;
                    };
                    let present = match kind {
                        ObjectKind::Database => c.databases.iter().any(|d| d == name),
                        _ => c.users.iter().any(|u| u == name),
                    };
                    let shared = kind == ObjectKind::DatabaseUser
                        && self
                            .wanted_users
                            .contains(&(c.spec.name.clone(), name.to_string()));
                    if present && !shared {
                        live.push(Live {
                            owned: true,
                            value: json!({"provider": "digitalocean", "cluster": c.spec.name, "name": name}),
                            key: k,
                            id: o.provider_id.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        live
    }

    /// The connection host and port of every cluster read that has one, by name.
    pub fn cluster_hosts(&self) -> BTreeMap<String, (String, u16)> {
        self.clusters_by_name
            .iter()
            .filter(|(_, c)| !c.host.is_empty())
            .map(|(n, c)| (n.clone(), (c.host.clone(), c.port)))
            .collect()
    }

    /// The live clusters the desired cluster objects name (ours by the management tag).
    pub fn take_clusters(&mut self, desired: &[Desired]) -> Vec<Live> {
        desired
            .iter()
            .filter(|d| d.key.kind == ObjectKind::DatabaseCluster)
            .filter_map(|d| {
                let c = self.clusters_by_name.get(&d.key.name)?;
                Some(Live {
                    key: d.key.clone(),
                    id: c.id.clone(),
                    value: serde_json::to_value(&c.spec).unwrap_or(Value::Null),
                    owned: c.tags.iter().any(|t| t == MANAGED_TAG),
                })
            })
            .collect()
    }

    /// Environments with owned droplets, firewalls or recorded objects not yet taken (not
    /// in the SSOT).
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
