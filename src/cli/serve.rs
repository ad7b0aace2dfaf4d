//! `odooops serve`: the console over the evidence store.

use super::EXIT_OK;
use crate::console::{self, Config};
use crate::ssot::Ssot;
use crate::store::Store;
use anyhow::Context as _;
use std::path::Path;

pub fn run(
    ssot_dir: &Path,
    database_url: Option<&str>,
    data_dir: &Path,
    listen: &str,
) -> anyhow::Result<i32> {
    let ssot = super::reconcile::load_ssot(ssot_dir)?;
    // A console only reads: it trades memory for read speed on an SQLite store.
    crate::store::set_sqlite_profile(crate::store::SqliteProfile::Reader);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let store =
            super::open_store(super::SsotRef::Loaded(&ssot), database_url, data_dir).await?;
        serve(store, Config::from_env(Some(ssot)), listen).await?;
        Ok(EXIT_OK)
    })
}

/// Bind, print the URL and serve until SIGTERM or SIGINT: the listener stops accepting,
/// requests in flight finish, and the process exits 0.
pub async fn serve(store: Store, mut cfg: Config, listen: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen} (is another console running there?)"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() && cfg.auth.any_public() {
        eprintln!("warning: publicRead is on and the console listens on {addr}, beyond loopback");
    }
    for key in &cfg.auth.missing {
        eprintln!("warning: console token key {key} is not set in the environment; that token is disabled");
    }
    cfg.listen = addr.to_string();
    println!("== console on http://{addr}/ (store: {})", store.location());
    let app = console::router(store, cfg);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            super::run::wait_for_signal().await;
            eprintln!("== signal received: the console stops");
        })
        .await
        .context("serving the console")?;
    Ok(())
}

/// The console of the demo: read-only for everyone on loopback (the quickstart has no tokens).
pub fn demo_config(ssot: Ssot) -> Config {
    let mut cfg = Config::from_env(Some(ssot));
    cfg.auth.public_read = true;
    cfg
}
