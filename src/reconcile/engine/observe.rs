//! Observe and diff: the shared first half of plan and apply. One bulk read per object type
//! per provider account, then a comparison one environment at a time (desired objects
//! made, live objects taken, diffed, dropped), so memory follows the changes, not the
//! number of environments.

use super::{ignores, Context, Engine, EngineError};
use crate::reconcile::desired::{self, is_shared_scope};
use crate::reconcile::diff::{self, Change, Desired, Live, ObjectKind, ResourceDiff};
use crate::reconcile::observe::{self, Observed, Ownership, Wants, INVENTORIED};
use crate::reconcile::plan::{Fingerprint, Fingerprints};
use crate::reconcile::release::{self, Recorded, Wanted};
use crate::reconcile::secrets;
use crate::ssot::{Environment, Project, Ssot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How much of each object's diff `observe_and_diff` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Values, field changes and the unified text of every changed object (plan, diff).
    Full,
    /// The key and the kind of change only (apply's staleness check).
    Changes,
}

/// What observe-and-diff produced for the environments in scope.
#[derive(Debug)]
pub struct Observation {
    /// Per-resource diffs in key order; an unchanged object's carries no values.
    pub diffs: Vec<ResourceDiff>,
    /// The fingerprint of every scope compared (the stale-plan check).
    pub fingerprints: Fingerprints,
    /// How many desired objects there were (zero is an error, never "delete everything").
    pub desired_count: usize,
    /// Public IPv4 of each droplet in scope, by droplet name.
    pub droplet_ips: BTreeMap<String, String>,
    /// Cluster ids by cluster name.
    pub clusters: BTreeMap<String, String>,
    /// Connection host and port of each cluster, by name.
    pub cluster_hosts: BTreeMap<String, (String, u16)>,
    /// The git sources releases were computed from (none: no environment in scope
    /// delivers Odoo).
    pub sources: Option<release::Sources>,
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Engine {
    /// What is ours without a tag: the recorded inventory and the creates a crash left.
    async fn ownership(&self) -> Result<Ownership, EngineError> {
        let kinds: Vec<&str> = INVENTORIED.iter().map(|k| k.as_str()).collect();
        let inventory = self
            .store
            .managed_objects(&kinds)
            .await?
            .into_iter()
            .map(|o| (o.resource_key.clone(), o))
            .collect();
        let pending = self
            .store
            .unfinished_actions()
            .await?
            .into_iter()
            .filter(|a| a.operation == "create" || a.operation == "replace")
            .filter_map(|a| a.resource_key)
            .collect();
        Ok(Ownership { inventory, pending })
    }

    /// Observe and diff (no evidence).
    pub async fn observe_and_diff(
        &self,
        ssot: &Ssot,
        ctx: &Context,
        detail: Detail,
    ) -> Result<Observation, EngineError> {
        let sp = &self.secret_providers;
        let projects: BTreeMap<&str, &Project> = ssot
            .projects()
            .map(|p| (p.metadata.name.as_str(), p))
            .collect();
        let envs: Vec<(&Project, &Environment)> = ssot
            .environments()
            .filter(|e| ctx.in_scope(&e.metadata.name))
            .filter_map(|e| projects.get(e.spec.project.as_str()).map(|p| (*p, e)))
            .collect();
        drop(projects);
        let ownership = self.ownership().await?;
        // What to read per account: the zones and databases in use (and the zones of
        // recorded records), and the secret names wanted.
        let mut wants: BTreeMap<usize, Wants> = BTreeMap::new();
        let mut secrets_wanted = Vec::new();
        for (project, env) in &envs {
            let Some(i) = self.accounts.index_of(&project.metadata.name) else {
                continue;
            };
            wants.entry(i).or_default().add(desired::reads(env));
            secrets_wanted.extend(
                secrets::desired(ssot, project, env)
                    .into_iter()
                    .filter(|d| sp.reaches(d.key.kind, &project.metadata.name)),
            );
        }
        for o in ownership.inventory.values() {
            let Some(env) = ssot.environment(&o.environment) else {
                continue;
            };
            let (Some(i), Some(zone)) = (
                self.accounts.index_of(&env.spec.project),
                observe::record_zone(&o.provider_id).filter(|_| o.kind == "dns_record"),
            ) else {
                continue;
            };
            if ctx.in_scope(&o.environment) {
                wants.entry(i).or_default().zones.insert(zone.to_string());
            }
        }
        let in_scope_of = |i: usize| {
            move |env: &str| match ssot.environment(env) {
                Some(e) => ctx.in_scope(env) && self.accounts.index_of(&e.spec.project) == Some(i),
                // Objects of environments no longer in the SSOT: wherever they are.
                None => ctx.only_env.is_none() && !ctx.skip_envs.contains(env),
            }
        };
        let reads = self.accounts.all().map(|(i, dig)| {
            let w = wants.get(&i).cloned().unwrap_or_default();
            let in_scope = in_scope_of(i);
            async move { observe::observe(dig, &w, &in_scope).await }
        });
        let (observed, secret_live) = tokio::try_join!(
            futures::future::try_join_all(reads),
            secrets::observe(ssot, sp, &secrets_wanted),
        )
        .map_err(EngineError::Observe)?;
        drop(secrets_wanted);
        let mut all = Observed::default();
        all.ownership = ownership;
        all.wanted_users = ssot
            .environments()
            .filter_map(|e| {
                let db = &e.spec.database;
                Some((db.cluster.clone()?, db.user.clone()?))
            })
            .collect();
        for o in observed {
            all.absorb(o);
        }
        let cluster_hosts = all.cluster_hosts();
        // Releases: the git sources read once, the recorded releases in three queries.
        let delivering: Vec<(&Project, &Environment)> = envs
            .iter()
            .filter(|(_, e)| e.spec.delivery.is_some())
            .copied()
            .collect();
        let (sources, recorded) = match (&self.delivery, delivering.is_empty()) {
            (_, true) => (None, Recorded::default()),
            (None, false) => (None, self.recorded_releases().await?),
            (Some(cfg), false) => (
                Some(
                    release::Sources::prepare(
                        cfg.sources.clone(),
                        &delivering,
                        self.secrets.as_ref(),
                        ctx.commits.clone(),
                    )
                    .await,
                ),
                self.recorded_releases().await?,
            ),
        };
        drop(delivering);
        let mut secret_live_by_env: BTreeMap<String, Vec<Live>> = BTreeMap::new();
        for l in secret_live.into_iter().filter(|l| ctx.in_scope(&l.key.env)) {
            secret_live_by_env
                .entry(l.key.env.clone())
                .or_default()
                .push(l);
        }
        let ignores = ignores(ssot);
        let mut fingerprint = Fingerprint::default();
        let mut diffs = Vec::new();
        let mut desired_count = 0;
        // Release diffs held after the comparison, with why; and releases that cannot be
        // computed (held, no desired value).
        let mut held_releases: BTreeMap<String, String> = BTreeMap::new();
        let mut blocked: Vec<ResourceDiff> = Vec::new();
        let mut compare = |wanted: &[Desired], live: &[Live]| {
            for l in live {
                fingerprint.add(&l.key, &l.id, &l.value);
            }
            for mut d in diff::diff(wanted, live, &ignores) {
                // An unchanged object needs only its key past this point; so does every
                // object when only the changes are asked for.
                if d.change == Change::NoOp || detail == Detail::Changes {
                    d.before = None;
                    d.after = None;
                    d.fields = Vec::new();
                    d.text = String::new();
                }
                diffs.push(d);
            }
        };
        // Project-scoped objects first: the database clusters the environments use.
        let clusters = desired::clusters(ssot, envs.iter().map(|(_, e)| *e));
        let cluster_live = all.take_clusters(&clusters);
        let mut by_scope: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for c in &clusters {
            by_scope
                .entry(c.key.env.as_str())
                .or_default()
                .push(&c.value);
        }
        let digests: Vec<(String, [u8; 32])> = by_scope
            .into_iter()
            .map(|(scope, values)| (scope.to_string(), desired::digest(&values)))
            .collect();
        desired_count += clusters.len();
        compare(&clusters, &cluster_live);
        drop((clusters, cluster_live));
        let mut desired_digests = digests;
        for (project, env) in &envs {
            let name = env.metadata.name.as_str();
            let mut wanted = desired::with_secrets(ssot, project, env);
            wanted.retain(|d| sp.reaches(d.key.kind, &project.metadata.name));
            let mut live = all.take_env(name, &wanted);
            // A droplet about to be replaced gets a new address: what references it is
            // planned with the reference unresolved, so apply updates it after the replace.
            let droplets = |d: &Desired| d.key.kind == ObjectKind::Droplet;
            let replaced: Vec<String> = diff::diff(
                &wanted
                    .iter()
                    .filter(|d| droplets(d))
                    .cloned()
                    .collect::<Vec<_>>(),
                &live
                    .iter()
                    .filter(|l| l.key.kind == ObjectKind::Droplet)
                    .cloned()
                    .collect::<Vec<_>>(),
                &ignores,
            )
            .into_iter()
            .filter(|d| d.change == Change::Replace)
            .map(|d| d.key.name)
            .collect();
            if replaced.is_empty() {
                observe::resolve_refs(&mut wanted, &all.droplet_ips);
            } else {
                let mut ips = all.droplet_ips.clone();
                for name in &replaced {
                    ips.remove(name);
                }
                observe::resolve_refs(&mut wanted, &ips);
            }
            live.extend(secret_live_by_env.remove(name).unwrap_or_default());
            if env.spec.delivery.is_some() {
                let serving = recorded.serving.get(name);
                let w = match &sources {
                    Some(src) => {
                        release::wanted(
                            src,
                            self.secrets.as_ref(),
                            project,
                            env,
                            &recorded,
                            &cluster_hosts,
                        )
                        .await
                    }
                    None => Wanted::Blocked(
                        "this process delivers no releases (it was started without a data directory)"
                            .into(),
                    ),
                };
                let note = release::note(&w);
                match w {
                    Wanted::Release(d) => {
                        wanted.push(d);
                        live.extend(serving.map(release::live));
                    }
                    Wanted::FailedBefore { desired, .. } => {
                        wanted.push(desired);
                        live.extend(serving.map(release::live));
                        held_releases.insert(name.to_string(), note.unwrap_or_default());
                    }
                    Wanted::Blocked(_) => {
                        let before = serving.map(|r| release::live(r).value);
                        blocked.push(ResourceDiff {
                            key: release::key(name),
                            change: Change::Held,
                            live_id: serving.map(|r| r.id.to_string()),
                            owned: true,
                            before,
                            after: None,
                            fields: Vec::new(),
                            text: String::new(),
                            note,
                        });
                    }
                }
            }
            desired_count += wanted.len();
            let values: Vec<&Value> = wanted.iter().map(|d| &d.value).collect();
            let (env_spec, project_spec) = (to_value(&env.spec), to_value(&project.spec));
            let mut parts = vec![&env_spec, &project_spec];
            parts.extend(values);
            desired_digests.push((name.to_string(), desired::digest(&parts)));
            compare(&wanted, &live);
        }
        // Live objects of environments no longer in the SSOT are candidates for pruning only
        // through an environment policy; without one they are held.
        let mut gone: BTreeSet<String> = all.remaining_envs();
        gone.extend(secret_live_by_env.keys().cloned());
        for env in gone {
            let mut live = all.take_env(&env, &[]);
            live.extend(secret_live_by_env.remove(&env).unwrap_or_default());
            compare(&[], &live);
        }
        for (scope, d) in desired_digests {
            fingerprint.add_desired(&scope, d);
        }
        for d in diffs
            .iter_mut()
            .filter(|d| d.key.kind == ObjectKind::Release && d.change != Change::NoOp)
        {
            if let Some(note) = held_releases.remove(&d.key.env) {
                d.change = Change::Held;
                d.note = Some(note);
            }
        }
        diffs.extend(blocked);
        // Keys are unique: an in-place sort orders them the same without a scratch copy
        // of every diff (a stable sort's buffer is the fleet's size at the peak).
        diffs.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        debug_assert!(diffs
            .iter()
            .all(|d| !is_shared_scope(&d.key.env) || d.key.kind == ObjectKind::DatabaseCluster));
        Ok(Observation {
            diffs,
            fingerprints: fingerprint.finish(),
            desired_count,
            droplet_ips: std::mem::take(&mut all.droplet_ips),
            clusters: std::mem::take(&mut all.clusters),
            cluster_hosts,
            sources,
        })
    }

    /// The serving and latest release of every environment, and those ever served.
    async fn recorded_releases(&self) -> Result<Recorded, EngineError> {
        let (serving, latest, served) = tokio::try_join!(
            self.store.serving_releases(),
            self.store.latest_releases(),
            self.store.served_environments(),
        )?;
        Ok(Recorded::from_rows(serving, latest, served))
    }
}
