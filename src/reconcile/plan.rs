//! Plan (pure): ordered actions from diffs, with dependencies and deterministic dedupe keys.
//! Deletes happen only for owned objects of environments that opted into pruning, and never
//! in production without an explicit flag. What cannot be done safely is refused with a
//! reason and holds its own environment only: the others are planned as usual.

use super::diff::{Change, FieldPolicy, ObjectKey, ObjectKind, ResourceDiff};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Replace,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Replace => "replace",
            Op::Delete => "delete",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Action {
    pub index: usize,
    pub op: Op,
    pub diff: ResourceDiff,
    /// Indexes of actions that must succeed first.
    pub depends_on: Vec<usize>,
    /// The idempotency ledger's key: resource + operation + the resource's generation +
    /// hash of the desired and observed values. A replay of the same plan finds its rows; a
    /// new fault of a healed resource is a new generation, hence a new key.
    pub dedupe_key: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
    /// Changes seen but not acted on: deletes held back by policy (no prune, not owned),
    /// create-only fields that differ.
    pub held: usize,
    /// Changes refused (conflicts, data-losing changes, production destroys without the
    /// flag); each holds its environment.
    #[serde(default)]
    pub refused: usize,
}

/// Why a change is not planned, holding its environment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Refusal {
    /// The environment held (`@project` for a project-scoped object).
    pub env: String,
    /// `env/kind/name`.
    pub resource: String,
    /// `conflict`, `data_loss` or `production_destroy`.
    pub kind: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Plan {
    pub revision: String,
    /// Fingerprint of the live state the plan was made against (every scope combined).
    pub live_fingerprint: String,
    /// The same per scope (environment, or `@project`): desired inputs and live objects.
    /// Apply re-checks each scope it acts on; a changed scope is stale alone.
    #[serde(default)]
    pub fingerprints: BTreeMap<String, String>,
    pub actions: Vec<Action>,
    pub summary: Summary,
    /// Changes seen but not planned (detect-only environments, held deletes, create-only
    /// fields, the actions of held environments).
    pub detected_only: Vec<ResourceDiff>,
    /// Refused changes; their environments are held.
    #[serde(default)]
    pub refused: Vec<Refusal>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }
    /// The environments held by a refusal.
    pub fn held_envs(&self) -> BTreeSet<&str> {
        self.refused.iter().map(|r| r.env.as_str()).collect()
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
}

/// The fingerprint of the live state a plan was made against (the stale-plan check),
/// accumulated one object at a time per scope: each live object's id and canonical JSON
/// are hashed when added, a scope's desired inputs as one digest, and the digests are
/// combined in key order at the end.
#[derive(Debug, Default)]
pub struct Fingerprint {
    live: Vec<(ObjectKey, [u8; 32])>,
    desired: BTreeMap<String, [u8; 32]>,
}

/// What a finished [`Fingerprint`] gives: the combined value and one per scope.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fingerprints {
    pub combined: String,
    pub by_scope: BTreeMap<String, String>,
}

impl Fingerprint {
    pub fn add(&mut self, key: &ObjectKey, id: &str, value: &Value) {
        let mut h = Sha256::new();
        h.update(id.as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(value).unwrap_or_default());
        self.live.push((key.clone(), h.finalize().into()));
    }

    /// The desired inputs of `scope` (its resources' specs and desired objects).
    pub fn add_desired(&mut self, scope: &str, digest: [u8; 32]) {
        self.desired.insert(scope.to_string(), digest);
    }

    pub fn finish(mut self) -> Fingerprints {
        self.live.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all = Sha256::new();
        let mut scopes: BTreeMap<String, Sha256> = BTreeMap::new();
        for (scope, d) in &self.desired {
            let h = scopes.entry(scope.clone()).or_default();
            h.update(b"desired\0");
            h.update(d);
        }
        for (key, digest) in &self.live {
            all.update(key.to_string().as_bytes());
            all.update([0]);
            all.update(digest);
            let h = scopes.entry(key.env.clone()).or_default();
            h.update(key.to_string().as_bytes());
            h.update([0]);
            h.update(digest);
        }
        Fingerprints {
            combined: format!("sha256:{}", hex::encode(all.finalize())),
            by_scope: scopes
                .into_iter()
                .map(|(s, h)| (s, format!("sha256:{}", hex::encode(h.finalize()))))
                .collect(),
        }
    }
}

fn dedupe_key(d: &ResourceDiff, op: Op, generation: u32) -> String {
    let mut h = Sha256::new();
    h.update(
        serde_json::to_string(&d.after)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update([0]);
    h.update(d.live_id.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(
        serde_json::to_string(&d.before)
            .unwrap_or_default()
            .as_bytes(),
    );
    let digest = hex::encode(h.finalize());
    format!("{}:{}:g{generation}:{}", d.key, op.as_str(), &digest[..16])
}

/// What the planner is given besides the diffs.
#[derive(Debug)]
pub struct PlanInput<'a> {
    pub revision: &'a str,
    pub policies: &'a BTreeMap<String, EnvPolicy>,
    pub desired_count: usize,
    pub fingerprints: Fingerprints,
    pub allow_destroy_production: bool,
    /// Each resource's generation (`env/kind/name` → successful actions so far).
    pub generations: &'a BTreeMap<String, u32>,
}

fn refusal(d: &ResourceDiff) -> Option<(&'static str, String)> {
    match d.change {
        Change::Conflict => Some((
            "conflict",
            format!(
                "conflict: {} `{}` exists (id {}) but is not ours — not adopted, not changed; rename ours in the SSOT or remove that one by hand",
                d.key.kind.as_str(),
                d.key.name,
                d.live_id.as_deref().unwrap_or("?")
            ),
        )),
        Change::Refused => {
            let fields: Vec<&str> = d
                .fields
                .iter()
                .filter(|f| f.policy == FieldPolicy::Refuse)
                .map(|f| f.path.as_str())
                .collect();
            let why = match d.key.kind {
                ObjectKind::Database => "a database is never replaced by an empty one: move its data with `odooops backup run` and `odooops backup restore`",
                _ => "the engine never makes this change (it would lose data); do it by hand, or declare a new cluster",
            };
            Some(("data_loss", format!("refused: {} of {} — {why}", fields.join(", "), d.key)))
        }
        _ => None,
    }
}

/// Turn diffs into an ordered plan.
pub fn plan(diffs: Vec<ResourceDiff>, input: PlanInput<'_>) -> Result<Plan, PlanError> {
    if input.desired_count == 0 {
        return Err(PlanError::EmptyDesired);
    }
    let policies = input.policies;
    let mut summary = Summary::default();
    let mut detected_only = Vec::new();
    let mut chosen: Vec<(Op, ResourceDiff)> = Vec::new();
    let mut refused: Vec<Refusal> = Vec::new();
    for d in diffs {
        let policy = policies.get(&d.key.env);
        if let Some((kind, reason)) = refusal(&d) {
            summary.refused += 1;
            refused.push(Refusal {
                env: d.key.env.clone(),
                resource: d.key.to_string(),
                kind: kind.to_string(),
                reason,
            });
            detected_only.push(d);
            continue;
        }
        let op = match d.change {
            Change::NoOp => {
                summary.no_op += 1;
                continue;
            }
            Change::Held => {
                summary.held += 1;
                detected_only.push(d);
                continue;
            }
            Change::Create => Op::Create,
            Change::Update => Op::Update,
            Change::Replace => Op::Replace,
            Change::Delete => Op::Delete,
            Change::Refused | Change::Conflict => continue,
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
            if policy.is_some_and(|p| p.production) && !input.allow_destroy_production {
                summary.refused += 1;
                refused.push(Refusal {
                    env: d.key.env.clone(),
                    resource: d.key.to_string(),
                    kind: "production_destroy".into(),
                    reason: format!(
                        "refusing to destroy production object {} ({}) without --allow-destroy-production",
                        d.key,
                        op.as_str()
                    ),
                });
                detected_only.push(d);
                continue;
            }
        }
        chosen.push((op, d));
    }
    // A refusal holds its whole environment: its other changes wait with it.
    let held: BTreeSet<String> = refused.iter().map(|r| r.env.clone()).collect();
    let (kept, waiting): (Vec<_>, Vec<_>) = chosen
        .into_iter()
        .partition(|(_, d)| !held.contains(&d.key.env));
    detected_only.extend(waiting.into_iter().map(|(_, d)| d));
    let mut chosen = kept;
    // Deletes run after everything else and in reverse dependency order.
    chosen.sort_by(|(oa, a), (ob, b)| {
        let rank = |op: &Op, kind: ObjectKind| match op {
            Op::Delete => 10 + (ObjectKind::MAX_ORDER - kind.order()),
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
        let generation = input
            .generations
            .get(&d.key.to_string())
            .copied()
            .unwrap_or(0);
        actions.push(Action {
            index,
            op,
            dedupe_key: dedupe_key(&d, op, generation),
            diff: d,
            depends_on,
        });
    }
    refused.sort_by(|a, b| a.resource.cmp(&b.resource));
    Ok(Plan {
        revision: input.revision.to_string(),
        live_fingerprint: input.fingerprints.combined,
        fingerprints: input.fingerprints.by_scope,
        actions,
        summary,
        detected_only,
        refused,
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
