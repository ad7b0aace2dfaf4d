//! Diff (pure): desired objects against normalized live objects, per field with JSON-pointer
//! paths, plus a unified text diff of a canonical YAML-like rendering.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What kind of provider object.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A managed database cluster (a `DatabaseCluster` resource; project-scoped).
    DatabaseCluster,
    /// A managed database (cluster database, or Supabase project database).
    Database,
    /// A database role.
    DatabaseUser,
    Droplet,
    DnsRecord,
    Firewall,
    /// "Secret NAME present" in a Supabase project (names only, never values).
    SupabaseSecret,
    /// "Env var NAME present" in a Vercel project (names only, never values).
    VercelEnv,
    /// The release of Odoo an environment serves: code commit, Odoo revision, config,
    /// requirements, secret values (by digest), modules.
    Release,
}

/// How a field's change can be made.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldPolicy {
    /// Changed in place (an update).
    #[default]
    InPlace,
    /// Only by destroying and re-creating the object (a replace).
    Replace,
    /// Fixed when the object was created: a difference is recorded as drift and never
    /// acted on (a droplet's region or image).
    CreateOnly,
    /// Never done by the engine: it would lose data (a database moved to another cluster,
    /// a cluster's engine, version or region changed). Refused with a finding.
    Refuse,
}

impl ObjectKind {
    /// The highest [`ObjectKind::order`].
    pub const MAX_ORDER: u8 = 4;

    /// Apply order: clusters, then databases and secrets, droplets, then records and
    /// firewalls.
    pub fn order(self) -> u8 {
        match self {
            ObjectKind::DatabaseCluster => 0,
            ObjectKind::Database => 1,
            ObjectKind::DatabaseUser => 1,
            ObjectKind::SupabaseSecret | ObjectKind::VercelEnv => 1,
            ObjectKind::Droplet => 2,
            ObjectKind::Firewall => 3,
            ObjectKind::DnsRecord => 3,
            // Last: it needs the droplet's address, the database and the firewall.
            ObjectKind::Release => 4,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::DatabaseCluster => "database_cluster",
            ObjectKind::Database => "database",
            ObjectKind::DatabaseUser => "database_user",
            ObjectKind::Droplet => "droplet",
            ObjectKind::Firewall => "firewall",
            ObjectKind::DnsRecord => "dns_record",
            ObjectKind::Release => "release",
            ObjectKind::SupabaseSecret => "supabase_secret",
            ObjectKind::VercelEnv => "vercel_env",
        }
    }
    pub fn parse(s: &str) -> Option<ObjectKind> {
        [
            ObjectKind::DatabaseCluster,
            ObjectKind::Database,
            ObjectKind::DatabaseUser,
            ObjectKind::Droplet,
            ObjectKind::Firewall,
            ObjectKind::DnsRecord,
            ObjectKind::SupabaseSecret,
            ObjectKind::VercelEnv,
            ObjectKind::Release,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// How a change of the field at `f.path` can be made. Droplets: size (resize), tags,
    /// backups and enabling IPv6 change in place; region and image are fixed at create;
    /// the monitoring agent and disabling IPv6 need a replace (DigitalOcean has no action
    /// for them). A record's type needs a replace. A database never moves between clusters
    /// and a cluster's engine, version and region are never changed by the engine.
    pub fn policy(self, f: &FieldChange) -> FieldPolicy {
        let p = f.path.as_str();
        let under = |prefix: &str| p == prefix || p.starts_with(&format!("{prefix}/"));
        match self {
            ObjectKind::Droplet if under("/region") || under("/image") => FieldPolicy::CreateOnly,
            ObjectKind::Droplet if under("/monitoring") => FieldPolicy::Replace,
            ObjectKind::Droplet if under("/ipv6") && f.after == Value::Bool(false) => {
                FieldPolicy::Replace
            }
            ObjectKind::DnsRecord if under("/record/type") => FieldPolicy::Replace,
            ObjectKind::Database if under("/cluster") => FieldPolicy::Refuse,
            ObjectKind::DatabaseUser if under("/cluster") => FieldPolicy::Replace,
            ObjectKind::DatabaseCluster
                if under("/engine") || under("/version") || under("/region") =>
            {
                FieldPolicy::Refuse
            }
            _ => FieldPolicy::InPlace,
        }
    }
}

/// Identity of an object: its kind and its name (unique per kind within an environment).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: ObjectKind,
    pub env: String,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.env, self.kind.as_str(), self.name)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Desired {
    pub key: ObjectKey,
    /// Canonical comparable form.
    pub value: Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Live {
    pub key: ObjectKey,
    /// Provider id.
    pub id: String,
    /// Normalized comparable form.
    pub value: Value,
    /// Carries our ownership tags (or is in our recorded inventory).
    pub owned: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub before: Value,
    pub after: Value,
    /// How this change can be made (see [`ObjectKind::policy`]).
    #[serde(default, skip_serializing_if = "is_in_place")]
    pub policy: FieldPolicy,
}

fn is_in_place(p: &FieldPolicy) -> bool {
    *p == FieldPolicy::InPlace
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
    /// Only create-only fields differ: drift to record, never to act on.
    Held,
    /// A change the engine never makes (it would lose data): refused with a finding.
    Refused,
    /// The desired object's name is taken by a live object that is not ours: never
    /// adopted, never overwritten; a finding.
    Conflict,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ResourceDiff {
    pub key: ObjectKey,
    pub change: Change,
    pub live_id: Option<String>,
    pub owned: bool,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub fields: Vec<FieldChange>,
    /// Unified diff of the canonical rendering (empty for no-op).
    pub text: String,
    /// Why a held change is held (a release that failed before, or cannot be computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Compare desired with live. `ignore` maps an environment to JSON pointers never compared
/// (prefix match: `/tags` ignores every tag).
pub fn diff(
    desired: &[Desired],
    live: &[Live],
    ignore: &BTreeMap<String, Vec<String>>,
) -> Vec<ResourceDiff> {
    let live_by_key: BTreeMap<&ObjectKey, &Live> = live.iter().map(|l| (&l.key, l)).collect();
    let desired_keys: std::collections::BTreeSet<&ObjectKey> =
        desired.iter().map(|d| &d.key).collect();
    let mut out = Vec::new();
    for d in desired {
        let ign = ignore.get(&d.key.env).map(Vec::as_slice).unwrap_or(&[]);
        match live_by_key.get(&d.key) {
            None => out.push(ResourceDiff {
                key: d.key.clone(),
                change: Change::Create,
                live_id: None,
                owned: true,
                before: None,
                after: Some(d.value.clone()),
                fields: field_changes(&Value::Null, &d.value, "", ign),
                text: unified(None, Some(&d.value)),
                note: None,
            }),
            Some(l) => {
                let mut fields = field_changes(&l.value, &d.value, "", ign);
                for f in &mut fields {
                    f.policy = d.key.kind.policy(f);
                }
                let has = |p: FieldPolicy| fields.iter().any(|f| f.policy == p);
                let change = if !l.owned {
                    Change::Conflict
                } else if fields.is_empty() {
                    Change::NoOp
                } else if has(FieldPolicy::Refuse) {
                    Change::Refused
                } else if has(FieldPolicy::Replace) {
                    Change::Replace
                } else if has(FieldPolicy::InPlace) {
                    Change::Update
                } else {
                    Change::Held
                };
                let text = if fields.is_empty() && l.owned {
                    String::new()
                } else {
                    unified(Some(&l.value), Some(&d.value))
                };
                out.push(ResourceDiff {
                    key: d.key.clone(),
                    change,
                    live_id: Some(l.id.clone()),
                    owned: l.owned,
                    before: Some(l.value.clone()),
                    after: Some(d.value.clone()),
                    fields,
                    text,
                    note: None,
                });
            }
        }
    }
    for l in live {
        if !desired_keys.contains(&l.key) {
            out.push(ResourceDiff {
                key: l.key.clone(),
                change: Change::Delete,
                live_id: Some(l.id.clone()),
                owned: l.owned,
                before: Some(l.value.clone()),
                after: None,
                fields: field_changes(&l.value, &Value::Null, "", &[]),
                text: unified(Some(&l.value), None),
                note: None,
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn ignored(path: &str, ignore: &[String]) -> bool {
    ignore
        .iter()
        .any(|i| path == i || path.starts_with(&format!("{i}/")))
}

/// Field-level changes between two JSON values, as JSON pointers. Objects recurse; arrays and
/// scalars compare whole (list order was normalized by the adapters).
pub fn field_changes(
    before: &Value,
    after: &Value,
    path: &str,
    ignore: &[String],
) -> Vec<FieldChange> {
    if ignored(path, ignore) {
        return Vec::new();
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    let child = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    field_changes(
                        b.get(k).unwrap_or(&Value::Null),
                        a.get(k).unwrap_or(&Value::Null),
                        &child,
                        ignore,
                    )
                })
                .collect()
        }
        (Value::Null, Value::Object(a)) => a
            .iter()
            .flat_map(|(k, v)| field_changes(&Value::Null, v, &format!("{path}/{k}"), ignore))
            .collect(),
        (Value::Object(b), Value::Null) => b
            .iter()
            .flat_map(|(k, v)| field_changes(v, &Value::Null, &format!("{path}/{k}"), ignore))
            .collect(),
        (b, a) if b == a => Vec::new(),
        (b, a) => vec![FieldChange {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_string()
            },
            before: b.clone(),
            after: a.clone(),
            policy: FieldPolicy::InPlace,
        }],
    }
}

/// Canonical YAML-like rendering: sorted keys, one scalar per line.
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    render_into(v, 0, &mut out);
    out
}

fn render_into(v: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let child = &m[k];
                match child {
                    Value::Object(o) if !o.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render_into(child, indent + 1, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        for item in a {
                            match item {
                                Value::Object(_) => {
                                    out.push_str(&format!("{pad}-\n"));
                                    render_into(item, indent + 1, out);
                                }
                                scalar => out.push_str(&format!("{pad}- {scalar}\n")),
                            }
                        }
                    }
                    scalar => out.push_str(&format!("{pad}{k}: {scalar}\n")),
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{scalar}\n")),
    }
}

/// Unified diff of two renderings (`similar`).
pub fn unified(before: Option<&Value>, after: Option<&Value>) -> String {
    let b = before.map(render).unwrap_or_default();
    let a = after.map(render).unwrap_or_default();
    similar::TextDiff::from_lines(&b, &a)
        .unified_diff()
        .context_radius(3)
        .header("live", "desired")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(kind: ObjectKind, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            env: "staging".into(),
            name: name.into(),
        }
    }

    #[test]
    fn unchanged_objects_are_no_ops() {
        let v = json!({"size": "s-2vcpu-4gb", "tags": ["a", "b"]});
        let d = vec![Desired {
            key: key(ObjectKind::Droplet, "web"),
            value: v.clone(),
        }];
        let l = vec![Live {
            key: key(ObjectKind::Droplet, "web"),
            id: "1".into(),
            value: v,
            owned: true,
        }];
        let out = diff(&d, &l, &BTreeMap::new());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].change, Change::NoOp);
        assert!(out[0].text.is_empty());
    }

    #[test]
    fn field_paths_classify_update_replace_create_delete() {
        let d = vec![
            Desired {
                key: key(ObjectKind::Droplet, "web"),
                value: json!({"size": "s-4vcpu-8gb", "region": "fra1"}),
            },
            Desired {
                key: key(ObjectKind::Droplet, "moved"),
                value: json!({"size": "s-1vcpu-1gb", "region": "ams3"}),
            },
            Desired {
                key: key(ObjectKind::Firewall, "fw"),
                value: json!({"name": "fw"}),
            },
        ];
        let l = vec![
            Live {
                key: key(ObjectKind::Droplet, "web"),
                id: "1".into(),
                value: json!({"size": "s-2vcpu-4gb", "region": "fra1"}),
                owned: true,
            },
            Live {
                key: key(ObjectKind::Droplet, "moved"),
                id: "2".into(),
                value: json!({"size": "s-1vcpu-1gb", "region": "fra1"}),
                owned: true,
            },
            Live {
                key: key(ObjectKind::DnsRecord, "old"),
                id: "3".into(),
                value: json!({"data": "x"}),
                owned: true,
            },
        ];
        let out = diff(&d, &l, &BTreeMap::new());
        let by: BTreeMap<String, &ResourceDiff> =
            out.iter().map(|r| (r.key.name.clone(), r)).collect();
        assert_eq!(by["web"].change, Change::Update);
        assert_eq!(
            by["web"].fields,
            vec![FieldChange {
                path: "/size".into(),
                before: json!("s-2vcpu-4gb"),
                after: json!("s-4vcpu-8gb"),
                policy: FieldPolicy::InPlace,
            }]
        );
        assert!(
            by["web"].text.contains("-size: \"s-2vcpu-4gb\"")
                && by["web"].text.contains("+size: \"s-4vcpu-8gb\""),
            "{}",
            by["web"].text
        );
        // A region is fixed at create: drift to record, never a replace.
        assert_eq!(by["moved"].change, Change::Held);
        assert_eq!(by["fw"].change, Change::Create);
        assert_eq!(by["old"].change, Change::Delete);
    }

    #[test]
    fn ignored_paths_are_not_compared() {
        let d = vec![Desired {
            key: key(ObjectKind::Droplet, "web"),
            value: json!({"size": "b", "image": {"slug": "new"}}),
        }];
        let l = vec![Live {
            key: key(ObjectKind::Droplet, "web"),
            id: "1".into(),
            value: json!({"size": "b", "image": {"slug": "old"}}),
            owned: true,
        }];
        let ignore = BTreeMap::from([("staging".to_string(), vec!["/image".to_string()])]);
        assert_eq!(diff(&d, &l, &ignore)[0].change, Change::NoOp);
    }

    #[test]
    fn droplet_tags_backups_and_enabling_ipv6_are_updates_the_rest_replaces() {
        let live = json!({"tags": ["a"], "backups": false, "ipv6": false, "monitoring": true});
        let case = |after: Value| {
            let d = vec![Desired {
                key: key(ObjectKind::Droplet, "web"),
                value: after,
            }];
            let l = vec![Live {
                key: key(ObjectKind::Droplet, "web"),
                id: "1".into(),
                value: live.clone(),
                owned: true,
            }];
            diff(&d, &l, &BTreeMap::new())[0].change
        };
        let with = |k: &str, v: Value| {
            let mut x = live.clone();
            x[k] = v;
            x
        };
        assert_eq!(case(with("tags", json!(["a", "b"]))), Change::Update);
        assert_eq!(case(with("backups", json!(true))), Change::Update);
        assert_eq!(case(with("ipv6", json!(true))), Change::Update);
        assert_eq!(case(with("monitoring", json!(false))), Change::Replace);
        let mut on = live.clone();
        on["ipv6"] = json!(true);
        let d = vec![Desired {
            key: key(ObjectKind::Droplet, "web"),
            value: live.clone(),
        }];
        let l = vec![Live {
            key: key(ObjectKind::Droplet, "web"),
            id: "1".into(),
            value: on,
            owned: true,
        }];
        assert_eq!(
            diff(&d, &l, &BTreeMap::new())[0].change,
            Change::Replace,
            "IPv6 cannot be disabled in place"
        );
    }
}
