//! What is read is normalized so an unchanged object compares equal to its desired form
//! (server defaults, aliases, order and computed fields are not drift), and what is sent is
//! built from the same types.

use super::{
    sorted, strings, ClusterSpec, Droplet, DropletCreate, Firewall, LiveCluster, LiveDroplet,
    LiveFirewall, LiveRecord, Record, Rule,
};
use crate::provider::error::{Provider, ProviderError};
use serde_json::{json, Value};

pub(super) fn decode(msg: &str) -> ProviderError {
    ProviderError::new(Provider::Digitalocean, "decode", msg.to_string())
}

/// Normalize a droplet object of the API. An image DigitalOcean no longer names by slug
/// (deprecated images keep only their numeric id) reads as its id: `image` is create-only,
/// so such a difference is never acted on.
pub fn normalize_droplet(v: &Value) -> Result<LiveDroplet, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| decode("droplet without id"))?;
    let features = strings(v.get("features"));
    let image = v
        .pointer("/image/slug")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            v.pointer("/image/id")
                .and_then(Value::as_u64)
                .map(|n| n.to_string())
        })
        .unwrap_or_default();
    let ipv4 = v
        .pointer("/networks/v4")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|n| n["type"] == "public"))
        .and_then(|n| n["ip_address"].as_str())
        .map(str::to_string);
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(LiveDroplet {
        id,
        status: text("status"),
        locked: v.get("locked").and_then(Value::as_bool).unwrap_or(false),
        ipv4,
        droplet: Droplet {
            name: text("name"),
            region: v
                .pointer("/region/slug")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            // `size_slug` is authoritative; `size.slug` is the same value nested.
            size: v
                .get("size_slug")
                .and_then(Value::as_str)
                .or_else(|| v.pointer("/size/slug").and_then(Value::as_str))
                .unwrap_or("")
                .to_string(),
            image,
            tags: sorted(strings(v.get("tags"))),
            monitoring: features.iter().any(|f| f == "monitoring"),
            backups: features.iter().any(|f| f == "backups"),
            ipv6: features.iter().any(|f| f == "ipv6"),
        },
    })
}

fn normalize_ports(protocol: &str, ports: &str) -> String {
    match (protocol, ports) {
        ("icmp", _) => String::new(),
        (_, "0") | (_, "") | (_, "1-65535") => "all".to_string(),
        (_, p) => p.to_string(),
    }
}

fn normalize_rules(v: Option<&Value>, side: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|r| {
                    let protocol = r["protocol"].as_str().unwrap_or("").to_lowercase();
                    let ports = normalize_ports(&protocol, r["ports"].as_str().unwrap_or(""));
                    Rule {
                        addresses: sorted(strings(r.get(side).and_then(|s| s.get("addresses")))),
                        tags: sorted(strings(r.get(side).and_then(|s| s.get("tags")))),
                        protocol,
                        ports,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    rules.sort();
    rules
}

/// Normalize a firewall object: rule order, port aliases and source order are not drift.
pub fn normalize_firewall(v: &Value) -> Result<LiveFirewall, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| decode("firewall without id"))?;
    Ok(LiveFirewall {
        id: id.to_string(),
        firewall: Firewall {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            inbound: normalize_rules(v.get("inbound_rules"), "sources"),
            outbound: normalize_rules(v.get("outbound_rules"), "destinations"),
            tags: sorted(strings(v.get("tags"))),
        },
    })
}

/// The same normalization for a desired firewall.
pub fn canonical_firewall(mut f: Firewall) -> Firewall {
    for r in f.inbound.iter_mut().chain(f.outbound.iter_mut()) {
        r.protocol = r.protocol.to_lowercase();
        r.ports = normalize_ports(&r.protocol, &r.ports);
        r.addresses = sorted(std::mem::take(&mut r.addresses));
        r.tags = sorted(std::mem::take(&mut r.tags));
    }
    f.inbound.sort();
    f.outbound.sort();
    f.tags = sorted(f.tags);
    f
}

fn rules_json(rules: &[Rule], side: &str) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut o = json!({"protocol": r.protocol, side: {"addresses": r.addresses, "tags": r.tags}});
                if r.protocol != "icmp" {
                    o["ports"] = json!(if r.ports == "all" { "0" } else { r.ports.as_str() });
                }
                o
            })
            .collect(),
    )
}

/// The request body for a firewall (POST and the full-replacement PUT).
pub fn firewall_body(f: &Firewall) -> Value {
    json!({
        "name": f.name,
        "inbound_rules": rules_json(&f.inbound, "sources"),
        "outbound_rules": rules_json(&f.outbound, "destinations"),
        "tags": f.tags,
        "droplet_ids": [],
    })
}

/// The request body for a droplet create.
pub fn droplet_body(c: &DropletCreate) -> Value {
    let d = &c.droplet;
    json!({
        "name": d.name, "region": d.region, "size": d.size, "image": d.image,
        "ssh_keys": c.ssh_keys, "backups": d.backups, "ipv6": d.ipv6, "monitoring": d.monitoring,
        "tags": d.tags, "user_data": c.user_data, "with_droplet_agent": true,
    })
}

/// The body of tag/untag resource requests: droplet ids as strings.
pub fn tag_resources_body(ids: &[u64]) -> Value {
    json!({"resources": ids.iter().map(|id| json!({"resource_id": id.to_string(), "resource_type": "droplet"})).collect::<Vec<_>>()})
}

/// The request body for a record create (POST) and replacement (PUT).
pub fn record_body(r: &Record) -> Value {
    json!({"type": r.kind, "name": r.name, "data": r.data, "ttl": r.ttl})
}

/// The request body for a PostgreSQL cluster create, from its desired spec.
pub fn cluster_body(c: &ClusterSpec, tags: &[String]) -> Value {
    json!({"name": c.name, "engine": c.engine, "version": c.version, "region": c.region,
           "size": c.size, "num_nodes": c.nodes, "tags": tags})
}

pub(super) fn normalize_record(zone: &str, v: &Value) -> Result<LiveRecord, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| decode("record without id"))?;
    Ok(LiveRecord {
        id,
        zone: zone.to_string(),
        record: Record {
            kind: v["type"].as_str().unwrap_or("").to_string(),
            name: v["name"].as_str().unwrap_or("").to_string(),
            // DNS data is case-insensitive for names; trailing dots are aliases.
            data: v["data"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches('.')
                .to_string(),
            ttl: v["ttl"].as_u64().unwrap_or(1800),
        },
    })
}

/// A cluster as we compare it; its connection details (with the admin password) are
/// never kept.
pub(super) fn normalize_cluster(v: &Value) -> Result<LiveCluster, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| decode("database without id"))?;
    let users: Vec<String> = v
        .get("users")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
    Ok(LiveCluster {
        id: id.to_string(),
        status: text("status"),
        spec: ClusterSpec {
            name: text("name"),
            engine: text("engine"),
            version: v["version"]
                .as_str()
                .map(str::to_string)
                .or_else(|| v["version"].as_u64().map(|n| n.to_string()))
                .unwrap_or_default(),
            region: text("region"),
            size: text("size"),
            nodes: v["num_nodes"].as_u64().unwrap_or(1) as u32,
        },
        tags: sorted(strings(v.get("tags"))),
        host: v
            .pointer("/connection/host")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        port: v
            .pointer("/connection/port")
            .and_then(Value::as_u64)
            .unwrap_or(25060) as u16,
        databases: sorted(
            strings(v.get("db_names"))
                .into_iter()
                .filter(|d| d != "defaultdb")
                .collect(),
        ),
        users: sorted(users.into_iter().filter(|u| u != "doadmin").collect()),
    })
}

/// An inventory copy of an API object without what must never be stored: a cluster's
/// connection details carry the admin password.
pub fn redacted(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in [
            "connection",
            "private_connection",
            "standby_connection",
            "standby_private_connection",
        ] {
            o.remove(k);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewall_normalization_ignores_order_and_aliases() {
        let live = json!({
            "id": "fw-1", "name": "odooops-acme-staging", "tags": ["b", "a"],
            "inbound_rules": [
                {"protocol": "TCP", "ports": "443", "sources": {"addresses": ["::/0", "0.0.0.0/0"]}},
                {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["203.0.113.10/32"]}}
            ],
            "outbound_rules": [{"protocol": "tcp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0"]}}]
        });
        let got = normalize_firewall(&live).expect("normalize").firewall;
        let desired = canonical_firewall(Firewall {
            name: "odooops-acme-staging".into(),
            inbound: vec![
                Rule {
                    protocol: "tcp".into(),
                    ports: "22".into(),
                    addresses: vec!["203.0.113.10/32".into()],
                    tags: vec![],
                },
                Rule {
                    protocol: "tcp".into(),
                    ports: "443".into(),
                    addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
                    tags: vec![],
                },
            ],
            outbound: vec![Rule {
                protocol: "tcp".into(),
                ports: "all".into(),
                addresses: vec!["0.0.0.0/0".into()],
                tags: vec![],
            }],
            tags: vec!["a".into(), "b".into()],
        });
        assert_eq!(got, desired);
        // And what we send reads back the same.
        let mut sent = firewall_body(&desired);
        sent["id"] = json!("fw-1");
        assert_eq!(
            normalize_firewall(&sent).expect("normalize").firewall,
            desired
        );
    }

    #[test]
    fn droplet_normalization_reads_computed_fields_away() {
        let live = json!({
            "id": 7, "name": "acme-staging", "status": "active", "size_slug": "s-2vcpu-4gb",
            "size": {"slug": "s-2vcpu-4gb"}, "region": {"slug": "fra1"}, "image": {"slug": "ubuntu-24-04-x64", "id": 1},
            "tags": ["odooops:env:staging", "odooops:project:acme", "odooops:env:staging"],
            "features": ["monitoring", "private_networking"],
            "networks": {"v4": [{"ip_address": "10.0.0.2", "type": "private"}, {"ip_address": "203.0.113.7", "type": "public"}]}
        });
        let d = normalize_droplet(&live).expect("normalize");
        assert_eq!(d.ipv4.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            d.droplet.tags,
            vec!["odooops:env:staging", "odooops:project:acme"]
        );
        assert!(d.droplet.monitoring && !d.droplet.backups);
    }

    #[test]
    fn a_new_droplet_has_no_address_and_a_cluster_keeps_no_password() {
        let new = json!({"id": 8, "name": "x", "status": "new", "locked": true, "networks": {"v4": [], "v6": []}});
        let d = normalize_droplet(&new).expect("normalize");
        assert_eq!((d.ipv4, d.status.as_str(), d.locked), (None, "new", true));
        let c = json!({"id": "c1", "name": "pg", "engine": "pg", "version": "16", "status": "online",
                       "connection": {"uri": "postgresql://doadmin:test-secret@h/db", "password": "test-secret"}});
        let text = serde_json::to_string(&normalize_cluster(&c).expect("cluster")).expect("json");
        assert!(!text.contains("test-secret"), "{text}");
        assert!(!redacted(c).to_string().contains("test-secret"));
    }
}
