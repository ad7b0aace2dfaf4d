//! Desired state (pure): the provider objects each environment should have, derived from
//! the SSOT. Every object is keyed by (environment, kind, name) and carries the canonical
//! comparable value the adapters' normalization produces for live objects.

use super::diff::{Desired, ObjectKey, ObjectKind};
use crate::odoo::render;
use crate::provider::digitalocean::{
    canonical_firewall, ClusterSpec, Droplet, Firewall, Record, Rule,
};
use crate::provider::owner_tags;
use crate::ssot::{DatabaseCluster, DatabaseProvider, Environment, Project, Ssot};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The scope of a shared object (a database cluster): `@<name>`, its own, beside the
/// environments that use it.
pub fn shared_scope(name: &str) -> String {
    format!("@{name}")
}

/// Whether a scope is a shared object's (`@…`), not an environment's.
pub fn is_shared_scope(scope: &str) -> bool {
    scope.starts_with('@')
}

/// The project whose account holds a cluster: its `project`, else the project of the first
/// environment (by name) that uses it.
pub fn cluster_project<'a>(ssot: &'a Ssot, c: &'a DatabaseCluster) -> Option<&'a str> {
    c.spec.project.as_deref().or_else(|| {
        ssot.environments()
            .filter(|e| e.spec.database.cluster.as_deref() == Some(c.metadata.name.as_str()))
            .min_by(|a, b| a.metadata.name.cmp(&b.metadata.name))
            .map(|e| e.spec.project.as_str())
    })
}

/// The desired form of a `DatabaseCluster`: its spec, the region defaulting to its
/// project's; `None` when no project holds it.
pub fn cluster_spec(ssot: &Ssot, c: &DatabaseCluster) -> Option<ClusterSpec> {
    let project = ssot.project(cluster_project(ssot, c)?)?;
    Some(ClusterSpec {
        name: c.metadata.name.clone(),
        engine: "pg".into(),
        version: c.spec.version.clone(),
        region: c
            .spec
            .region
            .clone()
            .or_else(|| project.spec.default_region.clone())
            .unwrap_or_default(),
        size: c.spec.size.clone(),
        nodes: c.spec.nodes,
    })
}

/// The ownership tag of a cluster (managed; a cluster is shared, so no project or
/// environment tag).
pub fn cluster_tags() -> Vec<String> {
    vec!["odooops:managed".to_string()]
}

/// The desired cluster objects the given environments use (each once), each in its own
/// scope.
pub fn clusters<'a>(ssot: &'a Ssot, envs: impl Iterator<Item = &'a Environment>) -> Vec<Desired> {
    let mut out: BTreeMap<String, Desired> = BTreeMap::new();
    for env in envs {
        let db = &env.spec.database;
        if db.provider != DatabaseProvider::Digitalocean {
            continue;
        }
        let Some(c) = db.cluster.as_deref().and_then(|n| ssot.database_cluster(n)) else {
            continue;
        };
        let Some(spec) = cluster_spec(ssot, c) else {
            continue;
        };
        out.entry(spec.name.clone()).or_insert_with(|| Desired {
            key: ObjectKey {
                kind: ObjectKind::DatabaseCluster,
                env: shared_scope(&spec.name),
                name: spec.name.clone(),
            },
            value: to_value(&spec),
        });
    }
    out.into_values().collect()
}

/// A digest of what an environment's desired state is made from: its spec, its project's
/// spec and its desired objects (the per-scope stale-plan check).
pub fn digest(parts: &[&Value]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(serde_json::to_vec(p).unwrap_or_default());
        h.update([0]);
    }
    h.finalize().into()
}

/// Placeholder for a value only known once another object exists (the droplet's address).
pub fn droplet_ip_ref(droplet: &str) -> String {
    format!("${{droplet:{droplet}.ipv4}}")
}

/// The droplet a [`droplet_ip_ref`] names.
pub fn droplet_of_ref(reference: &str) -> Option<&str> {
    reference
        .strip_prefix("${droplet:")
        .and_then(|r| r.strip_suffix(".ipv4}"))
}

/// Droplet name of an environment.
pub fn droplet_name(project: &str, env: &str) -> String {
    format!("{project}-{env}")
}

/// Firewall name of an environment (its ownership mark: firewalls carry no tags of their own).
pub fn firewall_name(project: &str, env: &str) -> String {
    format!("odooops-{project}-{env}")
}

/// Everything the engine needs to act on one environment that is not compared (the
/// cloud-init user data is rendered only when a droplet is created: [`user_data`]).
#[derive(Clone, Debug, PartialEq)]
pub struct EnvPlanInput {
    pub environment: String,
    pub project: String,
    pub ssh_keys: Vec<String>,
    pub owner_tag: String,
    pub region: String,
}

/// The desired objects of one environment (what acting on it needs besides: [`plan_input`]).
pub fn environment(project: &Project, env: &Environment) -> Vec<Desired> {
    let p = &project.metadata.name;
    let e = &env.metadata.name;
    let key = |kind, name: &str| ObjectKey {
        kind,
        env: e.clone(),
        name: name.to_string(),
    };
    let [managed, project_tag, env_tag] = owner_tags(p, e);
    let mut out = Vec::new();

    // Database first: it must exist before Odoo boots.
    let db = &env.spec.database;
    let (cluster, db_key) = match db.provider {
        DatabaseProvider::Digitalocean => (db.cluster.clone().unwrap_or_default(), "cluster"),
        DatabaseProvider::Supabase => (db.project_ref.clone().unwrap_or_default(), "projectRef"),
        DatabaseProvider::Postgres => (String::from("external"), "server"),
    };
    if db.provider == DatabaseProvider::Digitalocean {
        out.push(Desired {
            key: key(ObjectKind::Database, &db.name),
            value: json!({"provider": "digitalocean", db_key: cluster, "name": db.name}),
        });
        if let Some(user) = &db.user {
            out.push(Desired {
                key: key(ObjectKind::DatabaseUser, user),
                value: json!({"provider": "digitalocean", db_key: cluster, "name": user}),
            });
        }
    }

    let mut tags = vec![managed, project_tag, env_tag.clone()];
    tags.extend(env.spec.host.tags.iter().cloned());
    let droplet = Droplet {
        name: droplet_name(p, e),
        region: region(project, env),
        size: env.spec.host.size.clone(),
        image: env.spec.host.image.clone(),
        tags,
        monitoring: env.spec.host.monitoring,
        backups: env.spec.host.backups,
        ipv6: env.spec.host.ipv6,
    }
    .canonical();
    out.push(Desired {
        key: key(ObjectKind::Droplet, &droplet.name),
        value: to_value(&droplet),
    });

    if let Some(d) = &env.spec.domain {
        let record = Record {
            kind: "A".into(),
            name: d.record.clone(),
            data: droplet_ip_ref(&droplet.name),
            ttl: d.ttl as u64,
        };
        out.push(Desired {
            key: key(ObjectKind::DnsRecord, &format!("{}.{}", d.record, d.zone)),
            value: json!({"zone": d.zone, "record": to_value(&record)}),
        });
    }

    let fw = firewall(p, e, &env_tag, env);
    out.push(Desired {
        key: key(ObjectKind::Firewall, &fw.name),
        value: to_value(&fw),
    });

    out
}

/// What acting on an environment needs besides its desired objects.
pub fn plan_input(project: &Project, env: &Environment) -> EnvPlanInput {
    let p = &project.metadata.name;
    let e = &env.metadata.name;
    let [_, _, owner_tag] = owner_tags(p, e);
    EnvPlanInput {
        environment: e.clone(),
        project: p.clone(),
        ssh_keys: env.spec.host.ssh_keys.clone(),
        owner_tag,
        region: region(project, env),
    }
}

/// An environment's region: its own, else its project's default.
fn region(project: &Project, env: &Environment) -> String {
    env.spec
        .host
        .region
        .clone()
        .or_else(|| project.spec.default_region.clone())
        .unwrap_or_default()
}

/// What observing an environment needs read besides droplets and firewalls, as
/// [`environment`] decides it: the DNS zone of its record, and whether it has a managed
/// database on DigitalOcean.
pub fn reads(env: &Environment) -> (Option<&str>, bool) {
    (
        env.spec.domain.as_ref().map(|d| d.zone.as_str()),
        env.spec.database.provider == DatabaseProvider::Digitalocean,
    )
}

/// Inbound 80/443 (from `httpSources`, default anywhere) and 22 (only from `sshSources`);
/// outbound everything except port 25 (Odoo.sh parity: use 465/587).
pub fn firewall(project: &str, env: &str, env_tag: &str, spec: &Environment) -> Firewall {
    let anywhere = vec!["0.0.0.0/0".to_string(), "::/0".to_string()];
    let http = if spec.spec.firewall.http_sources.is_empty() {
        anywhere.clone()
    } else {
        spec.spec.firewall.http_sources.clone()
    };
    let rule = |protocol: &str, ports: &str, addresses: &[String]| Rule {
        protocol: protocol.into(),
        ports: ports.into(),
        addresses: addresses.to_vec(),
        tags: vec![],
    };
    let mut inbound = vec![rule("tcp", "80", &http), rule("tcp", "443", &http)];
    if !spec.spec.firewall.ssh_sources.is_empty() {
        inbound.push(rule("tcp", "22", &spec.spec.firewall.ssh_sources));
    }
    let outbound = vec![
        rule("tcp", "1-24", &anywhere),
        rule("tcp", "26-65535", &anywhere),
        rule("udp", "all", &anywhere),
        rule("icmp", "", &anywhere),
    ];
    canonical_firewall(Firewall {
        name: firewall_name(project, env),
        inbound,
        outbound,
        tags: vec![env_tag.to_string()],
    })
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The cloud-init user data of an environment's droplet (its rendered `odoo.conf` and the
/// official Odoo container), or `None` when the SSOT no longer has the environment.
pub fn user_data(ssot: &Ssot, input: &EnvPlanInput) -> Option<String> {
    let env = ssot.environment(&input.environment)?;
    let project = ssot.project(&input.project)?;
    Some(render::cloud_init(project, env))
}

/// The desired objects of one environment, its secret-presence objects included.
pub fn with_secrets(ssot: &Ssot, project: &Project, env: &Environment) -> Vec<Desired> {
    let mut objects = environment(project, env);
    objects.extend(super::secrets::desired(ssot, project, env));
    objects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssot::{self, Limits};
    use std::path::Path;

    /// Desired objects and plan inputs of every environment.
    fn all(ssot: &Ssot) -> (Vec<Desired>, Vec<EnvPlanInput>) {
        let mut objects = Vec::new();
        let mut inputs = Vec::new();
        for env in ssot.environments() {
            if let Some(project) = ssot.project(&env.spec.project) {
                objects.extend(with_secrets(ssot, project, env));
                inputs.push(plan_input(project, env));
            }
        }
        (objects, inputs)
    }

    fn sample() -> Ssot {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ssot");
        ssot::load(&dir, &Limits::default())
            .into_ssot()
            .expect("valid ssot")
    }

    #[test]
    fn every_environment_gets_droplet_firewall_and_record() {
        let s = sample();
        let (objects, inputs) = all(&s);
        assert_eq!(inputs.len(), 4);
        let staging: Vec<&Desired> = objects.iter().filter(|d| d.key.env == "staging").collect();
        let kinds: Vec<ObjectKind> = staging.iter().map(|d| d.key.kind).collect();
        assert!(
            kinds.contains(&ObjectKind::Droplet)
                && kinds.contains(&ObjectKind::Firewall)
                && kinds.contains(&ObjectKind::DnsRecord)
        );
        let droplet = staging
            .iter()
            .find(|d| d.key.kind == ObjectKind::Droplet)
            .expect("droplet");
        assert_eq!(
            droplet.value["tags"],
            json!([
                "acme",
                "odooops:env:staging",
                "odooops:managed",
                "odooops:project:acme"
            ])
        );
        assert_eq!(
            droplet.value["region"], "fra1",
            "the project's default region"
        );
        let input = inputs
            .iter()
            .find(|i| i.environment == "staging")
            .expect("input");
        assert!(user_data(&s, input)
            .expect("user data")
            .starts_with("#cloud-config"));
    }

    #[test]
    fn the_firewall_never_allows_outbound_port_25() {
        let s = sample();
        let env = s.environment("production").expect("production");
        let fw = firewall("acme", "production", "odooops:env:production", env);
        for r in &fw.outbound {
            if r.protocol == "tcp" {
                let (lo, hi) = r
                    .ports
                    .split_once('-')
                    .map(|(a, b)| (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0)))
                    .unwrap_or((0, 0));
                assert!(!(lo..=hi).contains(&25), "{r:?}");
                assert_ne!(r.ports, "all");
            }
        }
        let ssh = fw
            .inbound
            .iter()
            .find(|r| r.ports == "22")
            .expect("ssh rule");
        assert_eq!(ssh.addresses, vec!["203.0.113.10/32"]);
    }
}
