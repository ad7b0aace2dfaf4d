//! Plan (pure): ordered actions from diffs, with dependencies and deterministic dedupe keys.
//! Deletes happen only for owned objects of environments that opted into pruning, and never
//! in production without an explicit flag.

use super::diff::{Change, ObjectKey, ObjectKind, ResourceDiff};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Action {
    pub index: usize,
    pub op: Op,
    pub diff: ResourceDiff,
    /// Indexes of actions that must succeed first.
    pub depends_on: Vec<usize>,
    /// resource + operation + hash of the desired spec: the idempotency ledger's key.
    pub dedupe_key: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
    /// Deletes held back by policy (no prune, not owned): drift to report, not act on.
    pub held: usize,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Plan {
    pub revision: String,
    /// Fingerprint of the live state the plan was made against (stale-plan check).
    pub live_fingerprint: String,
    pub actions: Vec<Action>,
    pub summary: Summary,
    /// Changes seen but not planned (detect-only environments, held deletes).
    pub detected_only: Vec<ResourceDiff>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }
}

/// Per-environment policy the planner needs.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvPolicy {
    pub production: bool,
    pub prune: bool,
    pub detect_only: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("refusing to plan: the desired state is empty (an empty read is never \"delete everything\")")]
    EmptyDesired,
    #[error("refusing to destroy production objects without --allow-destroy-production: {0}")]
    ProductionDestroy(String),
}

/// The fingerprint of the live state a plan was made against (the stale-plan check),
/// accumulated one live object at a time: each object's id and canonical JSON are hashed
/// when it is added, and the digests are combined in key order at the end.
#[derive(Debug, Default)]
pub struct Fingerprint(Vec<(ObjectKey, [u8; 32])>);

impl Fingerprint {
    pub fn add(&mut self, key: &ObjectKey, id: &str, value: &Value) {
        let mut h = Sha256::new();
        h.update(id.as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(value).unwrap_or_default());
        self.0.push((key.clone(), h.finalize().into()));
    }

    pub fn finish(mut self) -> String {
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = Sha256::new();
        for (key, digest) in &self.0 {
            h.update(key.to_string().as_bytes());
            h.update([0]);
            h.update(digest);
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

fn dedupe_key(d: &ResourceDiff, op: Op) -> String {
    let mut h = Sha256::new();
    h.update(
        serde_json::to_string(&d.after)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(d.live_id.as_deref().unwrap_or("").as_bytes());
    let digest = hex::encode(h.finalize());
    format!(
        "{}:{}:{}",
        d.key,
        serde_json::to_value(op)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        &digest[..16]
    )
}

/// Turn diffs into an ordered plan.
pub fn plan(
    revision: &str,
    diffs: Vec<ResourceDiff>,
    policies: &BTreeMap<String, EnvPolicy>,
    desired_count: usize,
    live_fingerprint: String,
    allow_destroy_production: bool,
) -> Result<Plan, PlanError> {
    if desired_count == 0 {
        return Err(PlanError::EmptyDesired);
    }
    let mut summary = Summary::default();
    let mut detected_only = Vec::new();
    let mut chosen: Vec<(Op, ResourceDiff)> = Vec::new();
    let mut blocked = Vec::new();
    for d in diffs {
        let policy = policies.get(&d.key.env);
        let op = match d.change {
            Change::NoOp => {
                summary.no_op += 1;
                continue;
            }
            Change::Create => Op::Create,
            Change::Update => Op::Update,
            Change::Replace => Op::Replace,
            Change::Delete => Op::Delete,
        };
        if policy.is_some_and(|p| p.detect_only) {
            detected_only.push(d);
            continue;
        }
        if op == Op::Delete || op == Op::Replace {
            // Prune only what we own, only where the policy opts in.
            let prunable = d.owned && policy.is_some_and(|p| p.prune);
            if op == Op::Delete && !prunable {
                summary.held += 1;
                detected_only.push(d);
                continue;
            }
            if policy.is_some_and(|p| p.production) && !allow_destroy_production {
                blocked.push(d.key.to_string());
                continue;
            }
        }
        chosen.push((op, d));
    }
    if !blocked.is_empty() {
        return Err(PlanError::ProductionDestroy(blocked.join(", ")));
    }
    // Deletes run after everything else and in reverse dependency order.
    chosen.sort_by(|(oa, a), (ob, b)| {
        let rank = |op: &Op, kind: ObjectKind| match op {
            Op::Delete => 10 + (3 - kind.order()),
            _ => kind.order(),
        };
        (rank(oa, a.key.kind), &a.key).cmp(&(rank(ob, b.key.kind), &b.key))
    });
    let mut actions: Vec<Action> = Vec::with_capacity(chosen.len());
    // Earlier non-delete actions of each environment: (index, kind order).
    let mut by_env: BTreeMap<String, Vec<(usize, u8)>> = BTreeMap::new();
    for (index, (op, d)) in chosen.into_iter().enumerate() {
        match op {
            Op::Create => summary.create += 1,
            Op::Update => summary.update += 1,
            Op::Replace => summary.replace += 1,
            Op::Delete => summary.delete += 1,
        }
        // Same environment, earlier kind in the order: a dependency.
        let order = d.key.kind.order();
        let depends_on = if op == Op::Delete {
            Vec::new()
        } else {
            let earlier = by_env.entry(d.key.env.clone()).or_default();
            let deps = earlier
                .iter()
                .filter(|(_, o)| *o < order)
                .map(|(i, _)| *i)
                .collect();
            earlier.push((index, order));
            deps
        };
        actions.push(Action {
            index,
            op,
            dedupe_key: dedupe_key(&d, op),
            diff: d,
            depends_on,
        });
    }
    Ok(Plan {
        revision: revision.to_string(),
        live_fingerprint,
        actions,
        summary,
        detected_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::diff::{diff, Desired, Live, ObjectKey};
    use serde_json::json;

    fn key(kind: ObjectKind, env: &str, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            env: env.into(),
            name: name.into(),
        }
    }
    fn policies(prod_prune: bool, dev_detect: bool) -> BTreeMap<String, EnvPolicy> {
        BTreeMap::from([
            (
                "prod".into(),
                EnvPolicy {
                    production: true,
                    prune: prod_prune,
                    detect_only: false,
                },
            ),
            (
                "stg".into(),
                EnvPolicy {
                    production: false,
                    prune: true,
                    detect_only: false,
                },
            ),
            (
                "dev".into(),
                EnvPolicy {
                    production: false,
                    prune: true,
                    detect_only: dev_detect,
                },
            ),
        ])
    }

    #[test]
    fn creates_are_ordered_database_droplet_then_record_and_firewall() {
        let d = vec![
            Desired {
                key: key(ObjectKind::DnsRecord, "stg", "r"),
                value: json!({}),
            },
            Desired {
                key: key(ObjectKind::Firewall, "stg", "f"),
                value: json!({}),
            },
            Desired {
                key: key(ObjectKind::Droplet, "stg", "d"),
                value: json!({}),
            },
            Desired {
                key: key(ObjectKind::Database, "stg", "db"),
                value: json!({}),
            },
        ];
        let p = plan(
            "rev",
            diff(&d, &[], &BTreeMap::new()),
            &policies(false, false),
            4,
            String::new(),
            false,
        )
        .expect("plan");
        let kinds: Vec<ObjectKind> = p.actions.iter().map(|a| a.diff.key.kind).collect();
        assert_eq!(
            kinds,
            vec![
                ObjectKind::Database,
                ObjectKind::Droplet,
                ObjectKind::DnsRecord,
                ObjectKind::Firewall
            ]
        );
        assert_eq!(p.actions[1].depends_on, vec![0]);
        assert_eq!(p.actions[2].depends_on, vec![0, 1]);
        assert_eq!(p.summary.create, 4);
        // Deterministic keys.
        let again = plan(
            "rev",
            diff(&d, &[], &BTreeMap::new()),
            &policies(false, false),
            4,
            String::new(),
            false,
        )
        .expect("plan");
        assert_eq!(
            p.actions.iter().map(|a| &a.dedupe_key).collect::<Vec<_>>(),
            again
                .actions
                .iter()
                .map(|a| &a.dedupe_key)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn prune_safety_and_the_production_guard() {
        let desired = vec![Desired {
            key: key(ObjectKind::Droplet, "stg", "keep"),
            value: json!({"a": 1}),
        }];
        let live = vec![
            Live {
                key: key(ObjectKind::Droplet, "stg", "keep"),
                id: "1".into(),
                value: json!({"a": 1}),
                owned: true,
            },
            Live {
                key: key(ObjectKind::Droplet, "stg", "owned-extra"),
                id: "2".into(),
                value: json!({}),
                owned: true,
            },
            Live {
                key: key(ObjectKind::Droplet, "stg", "foreign"),
                id: "3".into(),
                value: json!({}),
                owned: false,
            },
            Live {
                key: key(ObjectKind::Droplet, "prod", "old"),
                id: "4".into(),
                value: json!({}),
                owned: true,
            },
        ];
        let diffs = diff(&desired, &live, &BTreeMap::new());
        // prod does not prune: its extra is held; staging prunes only what it owns.
        let p = plan(
            "rev",
            diffs.clone(),
            &policies(false, false),
            1,
            String::new(),
            false,
        )
        .expect("plan");
        let deleted: Vec<&str> = p
            .actions
            .iter()
            .filter(|a| a.op == Op::Delete)
            .map(|a| a.diff.key.name.as_str())
            .collect();
        assert_eq!(deleted, vec!["owned-extra"]);
        assert_eq!(p.summary.held, 2);
        // prod prunes: refused without the flag, allowed with it.
        assert!(matches!(
            plan(
                "rev",
                diffs.clone(),
                &policies(true, false),
                1,
                String::new(),
                false
            ),
            Err(PlanError::ProductionDestroy(_))
        ));
        let p = plan("rev", diffs, &policies(true, false), 1, String::new(), true).expect("plan");
        assert_eq!(p.summary.delete, 2);
    }

    #[test]
    fn empty_desired_state_is_an_error() {
        let live = vec![Live {
            key: key(ObjectKind::Droplet, "stg", "x"),
            id: "1".into(),
            value: json!({}),
            owned: true,
        }];
        assert_eq!(
            plan(
                "rev",
                diff(&[], &live, &BTreeMap::new()),
                &policies(false, false),
                0,
                String::new(),
                false
            ),
            Err(PlanError::EmptyDesired)
        );
    }

    #[test]
    fn detect_only_environments_plan_nothing() {
        let desired = vec![Desired {
            key: key(ObjectKind::Droplet, "dev", "d"),
            value: json!({"size": "b"}),
        }];
        let live = vec![Live {
            key: key(ObjectKind::Droplet, "dev", "d"),
            id: "1".into(),
            value: json!({"size": "a"}),
            owned: true,
        }];
        let p = plan(
            "rev",
            diff(&desired, &live, &BTreeMap::new()),
            &policies(false, true),
            1,
            String::new(),
            false,
        )
        .expect("plan");
        assert!(!p.has_changes());
        assert_eq!(p.detected_only.len(), 1);
        assert_eq!(p.detected_only[0].fields[0].path, "/size");
    }
}
