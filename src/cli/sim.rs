//! `odooops sim serve`: the provider simulator on loopback.

use super::EXIT_OK;
use crate::provider::Provider;
use crate::sim::{self, faults::FaultConfig};

pub fn serve(
    listen: &str,
    faults: Option<&str>,
    do_hourly_limit: Option<u64>,
) -> anyhow::Result<i32> {
    let cfg = match faults {
        Some(spec) => FaultConfig::parse(spec).map_err(|e| anyhow::anyhow!("--faults: {e}"))?,
        None => FaultConfig::default(),
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let running = sim::start(listen, cfg).await?;
        if let Some(n) = do_hourly_limit {
            sim::lock(&running.state.digitalocean).hourly_limit = Some(n);
        }
        println!("provider simulator listening on {}", running.url());
        for p in Provider::ALL {
            println!("  {:<13} {}", p.as_str(), running.provider_url(p));
        }
        println!(
            "  control       {}/_sim/state  /_sim/requests  /_sim/faults  /_sim/mutate",
            running.url()
        );
        tokio::signal::ctrl_c().await?;
        anyhow::Ok(())
    })?;
    Ok(EXIT_OK)
}
