//! `odooops plan | apply | diff | drift | demo`: the reconcile engine from the command line.

use super::{Output, EXIT_ERROR, EXIT_OK, EXIT_USAGE};
use crate::provider::http::Metrics;
use crate::reconcile::engine::{Context, Detail, Engine};
use crate::reconcile::render;
use crate::ssot::{self, Ssot};
use anyhow::{anyhow, Context as _};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

/// Where providers are reached: the SSOT's accounts, or a simulator.
pub struct Target<'a> {
    pub sim: Option<&'a str>,
    pub database_url: Option<&'a str>,
    pub data_dir: &'a Path,
}

pub fn load_ssot(dir: &Path) -> anyhow::Result<Ssot> {
    ssot::load_checked(dir).map_err(|(diagnostics, summary)| {
        eprint!("{diagnostics}");
        anyhow!("{summary}")
    })
}

pub async fn engine(ssot: &Ssot, t: &Target<'_>) -> anyhow::Result<Engine> {
    let store = super::open_store(super::SsotRef::Loaded(ssot), t.database_url, t.data_dir).await?;
    Ok(
        Engine::connect(ssot, store, t.sim, Arc::new(Metrics::default()))?
            .with_delivery(t.data_dir),
    )
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub struct PlanArgs<'a> {
    pub env: Option<&'a str>,
    pub output: Output,
    pub out: Option<&'a Path>,
    pub detailed_exitcode: bool,
    pub allow_destroy_production: bool,
}

pub fn plan(dir: &Path, t: &Target<'_>, a: PlanArgs<'_>) -> anyhow::Result<i32> {
    let ssot = load_ssot(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let engine = engine(&ssot, t).await?;
        let ctx = Context { only_env: a.env.map(str::to_string), allow_destroy_production: a.allow_destroy_production, ..Context::default() };
        let planned = engine.plan(&ssot, &ctx).await?;
        let json = serde_json::json!({"ok": true, "plan_id": planned.plan_id, "run_id": planned.run_id, "plan": planned.plan});
        if let Some(out) = a.out {
            std::fs::write(out, serde_json::to_vec_pretty(&json)?).with_context(|| format!("writing {}", out.display()))?;
        }
        match a.output {
            Output::Json => println!("{}", serde_json::to_string_pretty(&json)?),
            Output::Text => {
                print!("{}", render::plan_text(&planned.plan, color()));
                println!("Saved plan {} (run {}). Apply it with: odooops apply {}", planned.plan_id, planned.run_id, planned.plan_id);
            }
        }
        engine.store.close().await;
        Ok(if a.detailed_exitcode && planned.plan.has_changes() { 2 } else { EXIT_OK })
    })
}

/// `odooops apply` flags.
pub struct ApplyOptions {
    pub auto_approve: bool,
    pub allow_destroy_production: bool,
    /// Environments applied at the same time.
    pub parallelism: usize,
    /// How long to wait for the store's apply lock.
    pub lock_timeout: std::time::Duration,
}

pub fn apply(
    dir: &Path,
    t: &Target<'_>,
    plan_id: Option<&str>,
    o: &ApplyOptions,
) -> anyhow::Result<i32> {
    if plan_id.is_none() && !o.auto_approve {
        eprintln!("error: pass a saved plan id (from `odooops plan`) or --auto-approve to plan and apply in one step");
        return Ok(EXIT_USAGE);
    }
    let ssot = load_ssot(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut engine = engine(&ssot, t).await?;
        engine.concurrency = o.parallelism;
        let ctx = Context {
            allow_destroy_production: o.allow_destroy_production,
            lock_wait: o.lock_timeout,
            ..Context::default()
        };
        let id = match plan_id {
            Some(id) => id.parse().map_err(|_| anyhow!("`{id}` is not a plan id"))?,
            None => {
                let planned = engine.plan(&ssot, &ctx).await?;
                print!("{}", render::plan_text(&planned.plan, color()));
                planned.plan_id
            }
        };
        let result = engine.apply(&ssot, id, &ctx).await;
        engine.store.close().await;
        let applied = result?;
        println!(
            "Apply complete: {} succeeded, {} adopted, {} already done, {} failed (run {}).",
            applied.succeeded, applied.adopted, applied.skipped, applied.failed, applied.run_id
        );
        if !applied.stale.is_empty() {
            eprintln!(
                "error: not applied, stale since the plan was made: {}; re-plan them (`odooops plan`)",
                applied.stale.join(", ")
            );
            return Ok(EXIT_ERROR);
        }
        Ok(EXIT_OK)
    })
}

pub fn diff(dir: &Path, t: &Target<'_>, env: Option<&str>) -> anyhow::Result<i32> {
    let ssot = load_ssot(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let engine = engine(&ssot, t).await?;
        let ctx = Context {
            only_env: env.map(str::to_string),
            ..Context::default()
        };
        let diffs = engine
            .observe_and_diff(&ssot, &ctx, Detail::Full)
            .await?
            .diffs;
        print!("{}", render::diff_text(&diffs, color()));
        engine.store.close().await;
        Ok(EXIT_OK)
    })
}

pub fn drift(dir: &Path, t: &Target<'_>, output: Output) -> anyhow::Result<i32> {
    let ssot = load_ssot(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let engine = engine(&ssot, t).await?;
        // A detection pass records findings (and resolves converged ones) as evidence.
        engine.plan(&ssot, &Context::default()).await?;
        let open = engine.store.open_drift(None, 1000).await?;
        match output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"ok": true, "open": open}))?
            ),
            Output::Text => {
                if open.is_empty() {
                    println!("No open drift.");
                }
                for f in &open {
                    println!(
                        "{}/{}/{} {}: live {} ≠ desired {} (since {})",
                        f.environment,
                        f.resource_kind,
                        f.resource_name,
                        f.field_path,
                        f.observed.clone().unwrap_or_default(),
                        f.desired.clone().unwrap_or_default(),
                        f.first_seen.to_rfc3339()
                    );
                }
            }
        }
        engine.store.close().await;
        Ok(if open.is_empty() { EXIT_OK } else { EXIT_ERROR })
    })
}
