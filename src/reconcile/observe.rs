//! Observe (I/O at the edge): live state through the adapters in bulk — one paginated list
//! per object type per provider per cycle, never one call per environment — mapped onto the
//! same keys as the desired objects.

use super::desired::droplet_ip_ref;
use super::diff::{Desired, Live, ObjectKey, ObjectKind};
use crate::provider::digitalocean::DigitalOcean;
use crate::provider::ProviderError;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const ENV_TAG: &str = "odooops:env:";
const MANAGED_TAG: &str = "odooops:managed";

/// What one observation cycle read.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub live: Vec<Live>,
    /// Public IPv4 of each droplet, by droplet name.
    pub droplet_ips: BTreeMap<String, String>,
    /// Provider ids not part of the comparable value (droplet ids, cluster ids).
    pub ids: BTreeMap<ObjectKey, String>,
    /// Cluster ids by cluster name.
    pub clusters: BTreeMap<String, String>,
}

fn env_of(tags: &[String]) -> Option<String> {
    tags.iter()
        .find_map(|t| t.strip_prefix(ENV_TAG))
        .map(str::to_string)
}

/// Read everything the desired objects could correspond to.
pub async fn observe(dig: &DigitalOcean, desired: &[Desired]) -> Result<Observed, ProviderError> {
    let mut obs = Observed::default();
    let wanted_records: BTreeMap<(String, String), ObjectKey> = desired
        .iter()
        .filter(|d| d.key.kind == ObjectKind::DnsRecord)
        .filter_map(|d| {
            let zone = d.value["zone"].as_str()?.to_string();
            let name = d.value["record"]["name"].as_str()?.to_string();
            Some(((zone, name), d.key.clone()))
        })
        .collect();
    let zones: BTreeSet<&String> = wanted_records.keys().map(|(z, _)| z).collect();
    let wants_db = desired
        .iter()
        .any(|d| matches!(d.key.kind, ObjectKind::Database | ObjectKind::DatabaseUser));
    // The lists are independent: read them at the same time.
    let (droplets, firewalls, records, clusters) = tokio::try_join!(
        dig.observe_droplets(MANAGED_TAG),
        dig.observe_firewalls("odooops-"),
        futures::future::try_join_all(
            zones
                .iter()
                .map(|zone| async move { dig.observe_records(zone).await.map(|r| (*zone, r)) })
        ),
        async {
            if wants_db {
                dig.observe_clusters(None).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;

    // Droplets: one list of everything we manage.
    for d in droplets {
        let Some(env) = env_of(&d.droplet.tags) else {
            continue;
        };
        if let Some(ip) = &d.ipv4 {
            obs.droplet_ips.insert(d.droplet.name.clone(), ip.clone());
        }
        let key = ObjectKey {
            kind: ObjectKind::Droplet,
            env,
            name: d.droplet.name.clone(),
        };
        obs.ids.insert(key.clone(), d.id.to_string());
        obs.live.push(Live {
            key,
            id: d.id.to_string(),
            value: serde_json::to_value(&d.droplet).unwrap_or(Value::Null),
            owned: true,
        });
    }

    // Firewalls: one list; ours are named `odooops-…` and apply to an environment tag.
    for f in firewalls {
        let Some(env) = env_of(&f.firewall.tags) else {
            continue;
        };
        let key = ObjectKey {
            kind: ObjectKind::Firewall,
            env,
            name: f.firewall.name.clone(),
        };
        obs.ids.insert(key.clone(), f.id.clone());
        obs.live.push(Live {
            key,
            id: f.id,
            value: serde_json::to_value(&f.firewall).unwrap_or(Value::Null),
            owned: true,
        });
    }

    // DNS records: one list per zone that any environment uses.
    for (zone, list) in records {
        for r in list {
            if r.record.kind != "A" {
                continue;
            }
            if let Some(key) = wanted_records.get(&(zone.clone(), r.record.name.clone())) {
                obs.ids.insert(key.clone(), r.id.to_string());
                obs.live.push(Live {
                    key: key.clone(),
                    id: r.id.to_string(),
                    value: json!({"zone": zone, "record": r.record}),
                    owned: true,
                });
            }
        }
    }

    // Managed databases: one (unpaginated) list of clusters, with their dbs and users.
    if wants_db {
        for c in &clusters {
            obs.clusters.insert(c.name.clone(), c.id.clone());
        }
        for d in desired
            .iter()
            .filter(|d| matches!(d.key.kind, ObjectKind::Database | ObjectKind::DatabaseUser))
        {
            let cluster_name = d.value["cluster"].as_str().unwrap_or("");
            let Some(c) = clusters.iter().find(|c| c.name == cluster_name) else {
                continue;
            };
            let present = match d.key.kind {
                ObjectKind::Database => c.databases.contains(&d.key.name),
                _ => c.users.contains(&d.key.name),
            };
            if present {
                obs.live.push(Live {
                    key: d.key.clone(),
                    id: format!("{}/{}", c.id, d.key.name),
                    value: d.value.clone(),
                    owned: true,
                });
            }
        }
    }
    Ok(obs)
}

/// Replace `${droplet:NAME.ipv4}` references with observed addresses (unknown ones stay,
/// and are resolved at apply time once the droplet exists).
pub fn resolve_refs(desired: &mut [Desired], ips: &BTreeMap<String, String>) {
    let by_ref: BTreeMap<String, &String> =
        ips.iter().map(|(n, ip)| (droplet_ip_ref(n), ip)).collect();
    for d in desired
        .iter_mut()
        .filter(|d| d.key.kind == ObjectKind::DnsRecord)
    {
        if let Some(data) = d.value.pointer_mut("/record/data") {
            if let Some(ip) = data.as_str().and_then(|r| by_ref.get(r)) {
                *data = json!(ip);
            }
        }
    }
}
