//! `odooops secrets sync` and `odooops inventory`: provider verbs that leave evidence.

use super::reconcile::{load_ssot, Target};
use super::{Output, EXIT_ERROR, EXIT_OK};
use crate::jobs::{run_bounded, CancelToken, JobKind, JobSpec, JobsConfig};
use crate::provider::http::{Auth, ClientConfig, HttpClient, Metrics};
use crate::provider::secret_sync::{self, Target as SyncTarget};
use crate::provider::supabase::Supabase;
use crate::provider::vercel::Vercel;
use crate::provider::{EnvSecrets, Provider, SecretSource, SecretValue};
use crate::ssot::{Ssot, Stage};
use crate::store::{NewRun, NewSecretSync, ObservedObject, RunKind, RunStatus, Trigger};
use anyhow::{anyhow, Context as _};
use serde_json::{json, Value};
use std::sync::Arc;

/// A client for `provider`: the simulator's, or the SSOT account's (token from the registry).
pub(super) fn client(
    ssot: &Ssot,
    sim: Option<&str>,
    provider: Provider,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<HttpClient>> {
    let cfg = match sim {
        Some(url) => ClientConfig::new(
            provider,
            &format!("{}/{}", url.trim_end_matches('/'), provider.as_str()),
            Auth::Bearer(SecretValue::new("sim-token")),
        ),
        None => {
            let Some((project, account)) = ssot.projects().find_map(|p| {
                p.spec
                    .providers
                    .accounts()
                    .into_iter()
                    .find(|(n, _)| *n == provider.as_str())
                    .map(|(_, a)| (p, a.clone()))
            }) else {
                return Ok(None);
            };
            let token = EnvSecrets.get(&account.token_secret).ok_or_else(|| {
                anyhow!(
                    "secret `{}` ({} token of project `{}`) is not set",
                    account.token_secret,
                    provider,
                    project.metadata.name
                )
            })?;
            let base = project
                .spec
                .providers
                .base_url(provider.as_str())
                .unwrap_or_default();
            ClientConfig::new(provider, &base, Auth::Bearer(token))
        }
    };
    Ok(Some(HttpClient::new(cfg, metrics.clone())?))
}

/// The Supabase project that receives secrets: the account's `projectId`, else the
/// production environment's database project.
fn supabase_ref(ssot: &Ssot) -> Option<String> {
    ssot.projects()
        .find_map(|p| {
            p.spec
                .providers
                .supabase
                .as_ref()
                .and_then(|a| a.project_id.clone())
        })
        .or_else(|| {
            ssot.environments()
                .find(|e| {
                    e.spec.stage == Stage::Production && e.spec.database.project_ref.is_some()
                })
                .and_then(|e| e.spec.database.project_ref.clone())
        })
}

pub fn secrets_sync(
    t: &Target<'_>,
    dir: &std::path::Path,
    dry_run: bool,
    output: Output,
) -> anyhow::Result<i32> {
    let ssot = load_ssot(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let supabase = client(&ssot, t.sim, Provider::Supabase, &metrics)?.map(Supabase::new);
        let vercel = match client(&ssot, t.sim, Provider::Vercel, &metrics)? {
            Some(http) => {
                let account = ssot
                    .projects()
                    .find_map(|p| p.spec.providers.vercel.clone());
                let project = account.as_ref().and_then(|a| a.project_id.clone());
                project.map(|p| {
                    Vercel::new(
                        http,
                        &p,
                        account.as_ref().and_then(|a| a.team_id.as_deref()),
                    )
                })
            }
            None => None,
        };
        let sref = supabase_ref(&ssot);
        let sb = match (&supabase, &sref) {
            (Some(c), Some(r)) => Some((c, r.as_str())),
            _ => None,
        };
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), t.database_url, t.data_dir).await?;
        // A bounded job like every other: a timeout, Ctrl-C cancels, the execution is recorded
        // in ops.job_runs, and consecutive timeouts disable it.
        let spec = JobSpec {
            kind: JobKind::Sync,
            timeout: crate::odoo::backup::job_timeout(&ssot, JobKind::Sync, "*"),
            environment: "*".to_string(),
        };
        let cancel = CancelToken::on_ctrl_c();
        let report = run_bounded(
            &store,
            &JobsConfig::default(),
            &spec,
            &cancel,
            |_ctx| async {
                Ok::<_, std::convert::Infallible>(
                    secret_sync::sync(&ssot, &EnvSecrets, sb, vercel.as_ref(), dry_run).await,
                )
            },
        )
        .await
        .context("secrets sync")?;
        let run = store
            .begin_run(&NewRun {
                kind: RunKind::Sync,
                trigger: Trigger::Cli,
                ssot_revision: ssot.revision.clone(),
                actor: "cli".into(),
                environment: None,
                correlation_id: None,
            })
            .await?;
        for target in &report.targets {
            let skipped: Vec<String> = report
                .skipped
                .iter()
                .filter(|s| s.target.is_none_or(|x| x == target.target))
                .map(|s| format!("{}: {}", s.name, s.reason))
                .collect();
            let name = match target.target {
                SyncTarget::Supabase => "supabase",
                SyncTarget::Vercel => "vercel",
            };
            store
                .record_secret_sync(&NewSecretSync {
                    run_id: Some(run.id),
                    target: format!("{name}:{}", target.destination),
                    environment: None,
                    pushed_keys: target.pushed.clone(),
                    skipped_keys: skipped,
                    outcome: if target.error.is_some() {
                        "failed".into()
                    } else if dry_run {
                        "dry_run".into()
                    } else {
                        "succeeded".into()
                    },
                    message: target
                        .error
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_default(),
                })
                .await?;
        }
        let status = if report.ok {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        store
            .finish_run(
                run.id,
                status,
                &json!({"pushed": report.pushed, "skipped": report.skipped.len()}),
            )
            .await?;
        store.close().await;
        match output {
            Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            Output::Text => {
                println!(
                    "{} secret sync: pushed {} key(s): {}",
                    if dry_run { "dry-run" } else { "" },
                    report.pushed.len(),
                    report.pushed.join(", ")
                );
                for s in &report.skipped {
                    println!("  skipped {}: {}", s.name, s.reason);
                }
                println!("run {}", run.id);
            }
        }
        Ok(if report.ok { EXIT_OK } else { EXIT_ERROR })
    })
}

pub fn inventory(t: &Target<'_>, dir: &std::path::Path, output: Output) -> anyhow::Result<i32> {
    let ssot = load_ssot(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let secrets = EnvSecrets;
        let accounts = crate::reconcile::accounts::digitalocean(
            &ssot,
            &crate::reconcile::accounts::Connect {
                sim: t.sim,
                metrics,
                secrets: &secrets,
            },
        )?;
        // Every account's objects, one inventory.
        let mut inv = json!({"droplets": [], "firewalls": [], "domains": [], "databases": []});
        for (_, dig) in accounts.all() {
            let part = dig.inventory().await?;
            for kind in ["droplets", "firewalls", "domains", "databases"] {
                if let (Some(all), Some(more)) = (inv[kind].as_array_mut(), part[kind].as_array()) {
                    all.extend(more.iter().cloned());
                }
            }
        }
        let mut objects = Vec::new();
        for (kind, id_field) in [
            ("droplets", "id"),
            ("firewalls", "id"),
            ("domains", "name"),
            ("databases", "id"),
        ] {
            for o in inv[kind].as_array().into_iter().flatten() {
                let tags: Vec<&str> = o["tags"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                objects.push(ObservedObject {
                    provider: "digitalocean".into(),
                    object_type: kind.trim_end_matches('s').into(),
                    object_id: o[id_field]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| o[id_field].to_string()),
                    name: o["name"].as_str().map(str::to_string),
                    environment: tags
                        .iter()
                        .find_map(|t| t.strip_prefix("odooops:env:"))
                        .map(str::to_string),
                    owned: tags.contains(&"odooops:managed")
                        || o["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("odooops-")),
                    attributes: o.clone(),
                });
            }
        }
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), t.database_url, t.data_dir).await?;
        let run = store
            .begin_run(&NewRun {
                kind: RunKind::Sync,
                trigger: Trigger::Cli,
                ssot_revision: ssot.revision.clone(),
                actor: "cli".into(),
                environment: None,
                correlation_id: None,
            })
            .await?;
        let ingest = store.ingest_inventory(Some(run.id), &objects).await?;
        store
            .finish_run(
                run.id,
                RunStatus::Succeeded,
                &json!({"ingest_id": ingest, "objects": objects.len()}),
            )
            .await?;
        store.close().await;
        match output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"ok": true, "ingest_id": ingest, "objects": objects.len()})
                )?
            ),
            Output::Text => println!(
                "inventory: {} objects recorded (ingest {ingest}, run {})",
                objects.len(),
                run.id
            ),
        }
        Ok(EXIT_OK)
    })
}
