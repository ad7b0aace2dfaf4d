//! `odooops demo`: the main job on the embedded default — no cloud account, no server.
//! Starts the provider simulator on loopback, reconciles an SSOT tree into it with the
//! SQLite evidence store, proves the second plan is empty, injects one drift and detects it.

use super::EXIT_OK;
use crate::provider::http::Metrics;
use crate::reconcile::engine::{Context, Engine};
use crate::reconcile::render;
use crate::sim;
use crate::store::EventFilter;
use anyhow::{bail, Context as _};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

pub fn run(
    tree: &Path,
    database_url: Option<&str>,
    data_dir: &Path,
    serve: Option<&str>,
) -> anyhow::Result<i32> {
    let ssot = super::reconcile::load_ssot(tree)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        // The simulator at the real APIs' pace: creates and actions complete after 1.5 s.
        let running = sim::start_with("127.0.0.1:0", sim::SimOptions::default()).await?;
        println!("== provider simulator on {}", running.url());
        let demo_dir = data_dir.join("demo");
        if database_url.is_none() && demo_dir.exists() {
            std::fs::remove_dir_all(&demo_dir)
                .with_context(|| format!("clearing {}", demo_dir.display()))?;
        }
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), database_url, &demo_dir).await?;
        println!("== evidence store: {}", store.location());
        let metrics = Arc::new(Metrics::default());
        let engine = Engine::connect(&ssot, store, Some(&running.url()), metrics.clone())?;
        let ctx = Context {
            actor: "demo".into(),
            ..Context::default()
        };

        println!("\n== 1. plan {} against an empty cloud", tree.display());
        let first = engine.plan(&ssot, &ctx).await?;
        print!("{}", render::plan_text(&first.plan, false));

        println!("\n== 2. apply plan {}", first.plan_id);
        let applied = engine.apply(&ssot, first.plan_id, &ctx).await?;
        println!(
            "applied: {} succeeded, {} adopted, {} failed (run {})",
            applied.succeeded, applied.adopted, applied.failed, applied.run_id
        );

        println!("\n== 3. plan again: converged means nothing to do");
        let second = engine.plan(&ssot, &ctx).await?;
        print!("{}", render::plan_text(&second.plan, false));
        if second.plan.has_changes() {
            bail!("the second plan is not empty: normalization leaves a perpetual diff");
        }

        // One drift, made out-of-band: someone resizes a droplet in the provider's console.
        let victim = {
            let st = sim::lock(&running.state.digitalocean);
            st.droplets
                .values()
                .find(|d| d["name"].as_str().is_some_and(|n| n.ends_with("-staging")))
                .or_else(|| st.droplets.values().next())
                .cloned()
        };
        if let Some(d) = victim {
            let id = d["id"].as_u64().unwrap_or_default().to_string();
            let name = d["name"].as_str().unwrap_or_default().to_string();
            sim::lock(&running.state.digitalocean)
                .mutate("droplet", &id, &json!({"size_slug": "s-8vcpu-16gb"}), false)
                .map_err(|e| anyhow::anyhow!(e))?;
            println!(
                "\n== 4. drift injected: droplet {name} resized to s-8vcpu-16gb outside OdooOps"
            );
        }

        println!("\n== 5. detect drift");
        let third = engine.plan(&ssot, &ctx).await?;
        print!("{}", render::plan_text(&third.plan, false));
        let open = engine.store.open_drift(None, 100).await?;
        for f in &open {
            println!(
                "open drift: {}/{}/{} {} live {} ≠ desired {}",
                f.environment,
                f.resource_kind,
                f.resource_name,
                f.field_path,
                f.observed.clone().unwrap_or_default(),
                f.desired.clone().unwrap_or_default()
            );
        }
        let events = engine
            .store
            .events(&EventFilter {
                limit: Some(1000),
                ..Default::default()
            })
            .await?;
        let runs = engine.store.recent_runs(100).await?;
        println!(
            "\n== evidence: {} runs, {} events, {} open drift findings; provider requests: {}",
            runs.len(),
            events.len(),
            open.len(),
            metrics.total(crate::provider::Provider::Digitalocean)
        );
        println!(
            "   read it back: odooops events --data-dir {}",
            demo_dir.display()
        );
        if open.is_empty() {
            engine.store.close().await;
            bail!("the injected drift was not detected");
        }
        if let Some(listen) = serve {
            println!("\n== 6. the console on this evidence (read-only; Ctrl-C to stop)");
            super::serve::serve(
                engine.store.clone(),
                super::serve::demo_config(ssot.clone()),
                listen,
            )
            .await?;
        }
        engine.store.close().await;
        Ok(EXIT_OK)
    })
}
