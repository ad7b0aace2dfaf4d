//! Secret sync: push each SecretRegistry key to its `syncTo` targets (Supabase project
//! secrets, Vercel project env vars), with the value read from the controller's environment
//! at call time. The report names keys and reasons — never a value — so it can be recorded
//! as evidence as is.

use super::error::ProviderError;
use super::secret::{SecretSource, SecretValue};
use super::supabase::{check_secret_name, Supabase};
use super::vercel::{EnvCreate, Vercel};
use crate::ssot::{SecretSource as Where, Ssot};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where a value can be pushed.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Supabase,
    Vercel,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Supabase => "supabase",
            Target::Vercel => "vercel",
        })
    }
}

/// A key (or one of its targets) not pushed, and why.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Skipped {
    pub name: String,
    /// `None` when the whole key was skipped (e.g. no value).
    pub target: Option<Target>,
    pub reason: String,
}

/// What happened at one target.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct TargetReport {
    pub target: Target,
    /// The Supabase project ref or the Vercel project.
    pub destination: String,
    /// Names written (or, in a dry run, that would be written), sorted.
    pub pushed: Vec<String>,
    /// Names already holding the same value (Supabase compares digests), sorted.
    pub unchanged: Vec<String>,
    pub error: Option<ProviderError>,
}

/// The outcome of one sync, ready to be recorded.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct SyncReport {
    /// No target failed.
    pub ok: bool,
    pub dry_run: bool,
    /// The SSOT revision the registry was read from.
    pub revision: String,
    /// Names pushed to at least one target, sorted.
    pub pushed: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub targets: Vec<TargetReport>,
}

/// Names with their values, for one target.
pub type Batch = Vec<(String, SecretValue)>;

/// Decide, per target, which keys to push with which value; everything else is skipped
/// with a reason. Pure apart from reading values from `secrets`.
fn plan(
    ssot: &Ssot,
    secrets: &dyn SecretSource,
    has_supabase: bool,
    has_vercel: bool,
) -> (BTreeMap<Target, Batch>, Vec<Skipped>) {
    let mut batches: BTreeMap<Target, Batch> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut seen = BTreeSet::new();
    for key in ssot.secret_keys() {
        if !seen.insert(key.name.as_str()) {
            continue;
        }
        let mut skip = |target: Option<Target>, reason: String| {
            skipped.push(Skipped {
                name: key.name.clone(),
                target,
                reason,
            })
        };
        let mut targets = Vec::new();
        for to in &key.sync_to {
            let t = match to {
                Where::Env => {
                    skip(
                        None,
                        "`env` is where values are read from; nothing to push".into(),
                    );
                    continue;
                }
                Where::Supabase => Target::Supabase,
                Where::Vercel => Target::Vercel,
            };
            if *to == key.source {
                skip(
                    Some(t),
                    format!("{t} is the key's source; it is not overwritten"),
                );
            } else if !targets.contains(&t) {
                targets.push(t);
            }
        }
        if targets.is_empty() {
            continue;
        }
        let Some(value) = secrets.get(&key.name) else {
            skip(
                None,
                format!(
                    "no value in the controller's environment; set `{}` and sync again",
                    key.name
                ),
            );
            continue;
        };
        for t in targets {
            let configured = match t {
                Target::Supabase => has_supabase,
                Target::Vercel => has_vercel,
            };
            if !configured {
                skip(Some(t), format!("no {t} project is configured for sync"));
                continue;
            }
            if t == Target::Supabase {
                if let Err(e) = check_secret_name(&key.name) {
                    skip(Some(t), e.error);
                    continue;
                }
            }
            batches
                .entry(t)
                .or_default()
                .push((key.name.clone(), value.clone()));
        }
    }
    (batches, skipped)
}

/// Push every registry key to its `syncTo` targets. With `dry_run`, targets are read (to
/// find unchanged values) but nothing is written.
pub async fn sync(
    ssot: &Ssot,
    secrets: &dyn SecretSource,
    supabase: Option<(&Supabase, &str)>,
    vercel: Option<&Vercel>,
    dry_run: bool,
) -> SyncReport {
    let (batches, skipped) = plan(ssot, secrets, supabase.is_some(), vercel.is_some());
    let mut targets = Vec::new();
    for (target, batch) in batches {
        let report = match (target, supabase, vercel) {
            (Target::Supabase, Some((client, project_ref)), _) => {
                push_supabase(client, project_ref, batch, dry_run).await
            }
            (Target::Vercel, _, Some(client)) => push_vercel(client, batch, dry_run).await,
            // plan() only batches configured targets.
            _ => continue,
        };
        tracing::info!(
            target_provider = %report.target,
            pushed = report.pushed.len(),
            unchanged = report.unchanged.len(),
            failed = report.error.is_some(),
            dry_run,
            "secret sync"
        );
        targets.push(report);
    }
    let pushed: BTreeSet<String> = targets
        .iter()
        .filter(|t| t.error.is_none())
        .flat_map(|t| t.pushed.iter().cloned())
        .collect();
    SyncReport {
        ok: targets.iter().all(|t| t.error.is_none()),
        dry_run,
        revision: ssot.revision.clone(),
        pushed: pushed.into_iter().collect(),
        skipped,
        targets,
    }
}

fn names(batch: &[(String, SecretValue)]) -> Vec<String> {
    let mut v: Vec<String> = batch.iter().map(|(n, _)| n.clone()).collect();
    v.sort();
    v
}

/// Push a batch to one Supabase project (values already equal are left alone).
pub async fn push_supabase(
    client: &Supabase,
    project_ref: &str,
    batch: Batch,
    dry_run: bool,
) -> TargetReport {
    let mut report = TargetReport {
        target: Target::Supabase,
        destination: project_ref.to_string(),
        pushed: Vec::new(),
        unchanged: Vec::new(),
        error: None,
    };
    let live = match client.list_secrets(project_ref).await {
        Ok(l) => l,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let (same, changed): (Batch, Batch) = batch
        .into_iter()
        .partition(|(name, value)| live.iter().any(|m| &m.name == name && m.holds(value)));
    report.unchanged = names(&same);
    report.pushed = names(&changed);
    if !dry_run {
        if let Err(e) = client.upsert_secrets(project_ref, &changed).await {
            report.pushed.clear();
            report.error = Some(e);
        }
    }
    report
}

/// Push a batch to the Vercel project of `client` (upsert).
pub async fn push_vercel(client: &Vercel, batch: Batch, dry_run: bool) -> TargetReport {
    let mut report = TargetReport {
        target: Target::Vercel,
        destination: client.project().to_string(),
        pushed: names(&batch),
        unchanged: Vec::new(),
        error: None,
    };
    if !dry_run {
        let vars: Vec<EnvCreate> = batch
            .into_iter()
            .map(|(name, value)| EnvCreate::encrypted(&name, value))
            .collect();
        if let Err(e) = client.upsert_env(&vars).await {
            report.pushed.clear();
            report.error = Some(e);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::secret::StaticSecrets;
    use crate::ssot::{Kind, Resource};
    use serde_json::json;

    fn ssot(keys: serde_json::Value) -> Ssot {
        let doc = json!({"apiVersion": "odooops.dev/v1alpha1", "kind": "SecretRegistry",
                         "metadata": {"name": "secrets"}, "spec": {"keys": keys}});
        let r = Resource::from_value(Kind::SecretRegistry, doc).expect("registry");
        Ssot {
            resources: vec![r],
            revision: "sha256:test".into(),
        }
    }

    #[test]
    fn plans_targets_and_explains_every_skip() {
        let s = ssot(json!([
            {"name": "STRIPE_KEY", "source": "env", "syncTo": ["supabase", "vercel"]},
            {"name": "MISSING_KEY", "source": "env", "syncTo": ["vercel"]},
            {"name": "SUPABASE_URL", "source": "env", "syncTo": ["supabase"]},
            {"name": "FROM_SUPABASE", "source": "supabase", "syncTo": ["supabase"]},
            {"name": "LOCAL_ONLY", "source": "env"},
        ]));
        let value = format!("unit-{}", "canary-plan");
        let secrets = StaticSecrets::default()
            .with("STRIPE_KEY", &value)
            .with("SUPABASE_URL", &value)
            .with("FROM_SUPABASE", &value)
            .with("LOCAL_ONLY", &value);
        let (batches, skipped) = plan(&s, &secrets, true, false);
        assert_eq!(
            batches.get(&Target::Supabase).map(|b| names(b)),
            Some(vec!["STRIPE_KEY".to_string()])
        );
        assert!(!batches.contains_key(&Target::Vercel));
        let why: Vec<(String, Option<Target>)> =
            skipped.iter().map(|s| (s.name.clone(), s.target)).collect();
        assert_eq!(
            why,
            vec![
                ("STRIPE_KEY".to_string(), Some(Target::Vercel)),
                ("MISSING_KEY".to_string(), None),
                ("SUPABASE_URL".to_string(), Some(Target::Supabase)),
                ("FROM_SUPABASE".to_string(), Some(Target::Supabase)),
            ]
        );
        let shown = format!("{batches:?} {skipped:?}");
        assert!(!shown.contains(&value), "plans print no value");
    }
}
