//! `odooops sim serve`: the provider simulator on loopback.

use super::EXIT_OK;
use crate::provider::Provider;
use crate::sim::{self, faults::FaultConfig, SimOptions};
use std::time::Duration;

/// `odooops sim serve` flags.
pub struct ServeArgs<'a> {
    pub listen: &'a str,
    pub faults: Option<&'a str>,
    pub do_hourly_limit: Option<u64>,
    pub tokens: Vec<String>,
    pub delay_ms: u64,
}

pub fn serve(a: ServeArgs<'_>) -> anyhow::Result<i32> {
    let faults = match a.faults {
        Some(spec) => FaultConfig::parse(spec).map_err(|e| anyhow::anyhow!("--faults: {e}"))?,
        None => FaultConfig::default(),
    };
    let options = SimOptions {
        faults,
        delay: Duration::from_millis(a.delay_ms),
        tokens: a.tokens,
        do_hourly_limit: a.do_hourly_limit,
    };
    let accounts = options.tokens.len();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let running = sim::start_with(a.listen, options).await?;
        println!("provider simulator listening on {}", running.url());
        for p in Provider::ALL {
            println!("  {:<13} {}", p.as_str(), running.provider_url(p));
        }
        println!(
            "  control       {}/_sim/state  /_sim/requests  /_sim/faults  /_sim/mutate",
            running.url()
        );
        if accounts == 0 {
            println!("  accounts      open: every token is accepted (pass --token T for strict accounts)");
        } else {
            println!("  accounts      {accounts} (one per --token; any other token is refused)");
        }
        println!("  async delay   {} ms", a.delay_ms);
        tokio::signal::ctrl_c().await?;
        anyhow::Ok(())
    })?;
    Ok(EXIT_OK)
}
