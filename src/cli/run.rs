//! `odooops run`: the continuous controller.

use super::EXIT_OK;
use crate::controller::{self, Options};
use crate::reconcile::engine::DEFAULT_CONCURRENCY;
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Address of /metrics, /healthz and /readyz (port 0: any free port, printed); in a
    /// cluster, 0.0.0.0:9464 so Prometheus can scrape it. `--metrics-listen` is the same flag.
    #[arg(
        long,
        visible_alias = "metrics-listen",
        default_value = "127.0.0.1:9464",
        env = "ODOOOPS_CONTROLLER_LISTEN"
    )]
    pub listen: String,
    /// Full resync interval (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub resync: Duration,
    /// Random spread of the resync interval, as a fraction (0.1 = ±10 %).
    #[arg(long, default_value_t = 0.1)]
    pub jitter: f64,
    /// Quiet time after an SSOT file change before reconciling.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// First delay after an environment's reconcile fails (doubles per failure).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub backoff_base: Duration,
    /// Ceiling of the per-environment backoff.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub backoff_max: Duration,
    /// Work-queue poll interval.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub poll: Duration,
    /// How often a standby tries to lead (and the leader re-checks its lock).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_check: Duration,
    /// Time in-flight work gets to finish after SIGTERM/SIGINT.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Reconcile once, run the queued jobs, and exit.
    #[arg(long)]
    pub once: bool,
    /// This process's name in leases and evidence (default HOSTNAME:PID).
    #[arg(long)]
    pub worker_id: Option<String>,
    /// Addons paths for queued gate runs: DIR[,DIR…].
    #[arg(long)]
    pub addons_path: Option<String>,
    /// Environments not yet reconciled by this process taken on per cycle (a first rollout
    /// of thousands goes in batches, bounding the plan held in memory).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Environments applied at the same time; each environment's actions stay in order.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = super::parse_parallelism)]
    pub parallelism: usize,
}

/// `250ms`, `30s`, `5m`, `2h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 250ms, 30s, 5m or 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=7.0 * 86400.0).contains(&secs) {
        return Err(format!("{s:?}: out of range (0 to 7 days)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(
    ssot_dir: &Path,
    source: Option<crate::git::SsotSource>,
    database_url: Option<String>,
    data_dir: &Path,
    sim: Option<String>,
    a: RunArgs,
) -> anyhow::Result<i32> {
    if !(0.0..=0.9).contains(&a.jitter) {
        anyhow::bail!("--jitter {}: expected a fraction from 0 to 0.9", a.jitter);
    }
    let mut opts = Options::new(ssot_dir.to_path_buf(), data_dir.to_path_buf());
    opts.source = source;
    opts.database_url = database_url;
    opts.sim = sim;
    opts.replicas = super::REPLICAS.get().copied().unwrap_or(1);
    opts.listen = a.listen;
    opts.resync = a.resync.max(Duration::from_secs(1));
    opts.jitter = a.jitter;
    opts.debounce = a.debounce;
    opts.backoff_base = a.backoff_base;
    opts.backoff_max = a.backoff_max.max(a.backoff_base);
    opts.poll = a.poll.max(Duration::from_millis(50));
    opts.leader_check = a.leader_check.max(Duration::from_millis(100));
    opts.grace = a.grace;
    opts.once = a.once;
    opts.batch = a.batch.max(1);
    opts.parallelism = a.parallelism;
    if let Some(w) = a.worker_id {
        opts.worker_id = w;
    }
    opts.addons_paths = a
        .addons_path
        .as_deref()
        .map(crate::odoo::graph::split_paths)
        .unwrap_or_default();
    few_malloc_arenas();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            eprintln!("== signal received: stopping (in-flight work gets its grace period)");
            let _ = tx.send(true);
        });
        controller::run(opts, rx).await
    })?;
    Ok(EXIT_OK)
}

/// The first SIGTERM or SIGINT (as a container's PID 1, where neither has a default action).
pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The controller is a long-lived process whose work moves between a few runtime threads.
/// glibc gives each thread its own malloc arena (up to eight per core), and memory freed in
/// one arena is not reused by another, so the resident size drifts far above what is in
/// use. Two arenas keep it close (measured in BENCHMARKS.md). An explicit
/// `MALLOC_ARENA_MAX` in the environment wins.
///
/// Large buffers (a batch's plan as JSON text, a list page) are mapped and unmapped on
/// their own: glibc otherwise raises its mmap threshold after the first such free, and the
/// next ones are carved from the heap, where they stay resident. An explicit
/// `MALLOC_MMAP_THRESHOLD_` wins.
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only sets an allocator parameter; it is called before the
            // runtime starts its threads, with a documented option and value.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above; 256 KiB is within the documented range.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("30d").is_err());
    }
}
