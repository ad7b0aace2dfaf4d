//! The continuous controller, `odooops run`: the one long-lived process.
//!
//! It takes leadership of the store (PostgreSQL advisory lock; on SQLite an exclusive lock
//! file, so a second process is refused), then loops:
//! - a change under the SSOT tree (debounced) reloads it and reconciles;
//! - a resync every `resync` ± jitter reloads and reconciles everything;
//! - jobs from `ops.work_queue` (console actions, webhooks) are claimed under a lease that a
//!   heartbeat extends, run, and completed with their run id;
//! - environments whose reconcile failed wait out an exponential backoff;
//! - leadership is re-checked; a lost lock stops the loop and the process waits as a standby.
//!
//! Reconciles are serialized in the leader (one at a time, so one per environment at a
//! time); the engine observes in bulk once per reconcile and applies environments
//! concurrently. A shutdown signal lets in-flight work finish within a grace period, else
//! drops it (the ledger resolves interrupted actions by observation on the next start) and
//! releases its job back to the queue.

pub mod backoff;
mod cycle;
mod leader;
pub mod metrics;
pub mod watch;
mod worker;

use crate::provider::http::Metrics as HttpMetrics;
use crate::reconcile::engine::Engine;
use crate::ssot::Ssot;
use crate::store::{Level, NewEvent, Store};
use anyhow::Context as _;
use backoff::Backoff;
use metrics::ControllerMetrics;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch as signal;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub ssot_dir: PathBuf,
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Point every provider adapter at a simulator.
    pub sim: Option<String>,
    /// Address of /metrics, /healthz and /readyz (port 0: any free port).
    pub listen: String,
    pub resync: Duration,
    /// Fraction of `resync` added or removed at random (0.1 = ±10 %).
    pub jitter: f64,
    pub debounce: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How often the work queue is polled.
    pub poll: Duration,
    /// How often a standby tries to take leadership, and the leader re-checks it.
    pub leader_check: Duration,
    /// Time given to in-flight work after a shutdown signal.
    pub grace: Duration,
    /// Lease of a claimed job (a heartbeat extends it).
    pub lease: Duration,
    /// One reconcile and one pass over the queue, then exit.
    pub once: bool,
    pub worker_id: String,
    /// Addons paths for the module gate of queued gate runs.
    pub addons_paths: Vec<PathBuf>,
    /// Environments this controller has not yet reconciled that one cycle takes on; the rest
    /// follow in immediate further cycles. Bounds the plan (and memory) of a first rollout.
    pub batch: usize,
    /// Environments applied at the same time (each environment's actions stay in order).
    pub parallelism: usize,
    /// How many controllers run against the store (`--replicas`): more than one needs a
    /// shared PostgreSQL store.
    pub replicas: u32,
}

impl Options {
    pub fn new(ssot_dir: PathBuf, data_dir: PathBuf) -> Options {
        Options {
            ssot_dir,
            database_url: None,
            data_dir,
            sim: None,
            listen: "127.0.0.1:9464".into(),
            resync: Duration::from_secs(300),
            jitter: 0.1,
            debounce: Duration::from_millis(250),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(600),
            poll: Duration::from_millis(500),
            leader_check: Duration::from_secs(2),
            grace: Duration::from_secs(30),
            lease: Duration::from_secs(120),
            once: false,
            worker_id: format!(
                "{}:{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
                std::process::id()
            ),
            addons_paths: Vec::new(),
            batch: 500,
            parallelism: crate::reconcile::engine::DEFAULT_CONCURRENCY,
            replicas: 1,
        }
    }
}

/// The reconcile interval with jitter, so that several controllers (or many projects) do
/// not hit the providers in lock-step.
pub fn jittered(resync: Duration, jitter: f64) -> Duration {
    let j = jitter.clamp(0.0, 0.9);
    let factor = 1.0 + j * (fastrand::f64() * 2.0 - 1.0);
    resync.mul_f64(factor)
}

/// What one reconcile did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CycleReport {
    pub run_id: Option<uuid::Uuid>,
    pub plan_id: Option<uuid::Uuid>,
    pub apply_run_id: Option<uuid::Uuid>,
    pub actions: usize,
    pub failed_envs: Vec<String>,
    pub skipped_envs: Vec<String>,
    /// Not-yet-reconciled environments left for the next cycle (`Options::batch`).
    pub deferred_envs: usize,
    pub error: Option<String>,
}

pub(crate) struct Controller {
    opts: Options,
    store: Store,
    http: Arc<HttpMetrics>,
    metrics: Arc<ControllerMetrics>,
    ssot: Ssot,
    engine: Engine,
    git: Option<String>,
    backoff: Backoff,
    /// A clone of the shutdown signal, for jobs that cancel themselves.
    stop: signal::Receiver<bool>,
    /// When this controller last queued a scheduled backup, per environment.
    scheduled: std::collections::BTreeMap<String, chrono::DateTime<chrono::Utc>>,
    /// Environments whose scheduled backup could not be queued (reported once).
    unreachable: BTreeSet<String>,
    /// Environments this controller reconciled without failure at least once.
    settled: BTreeSet<String>,
    /// The next cycle only continues a batched rollout ([`Controller::continue_rollout`]).
    continuing: bool,
    /// A cycle deferred environments: run the next one at once.
    more: bool,
    /// Commits pushes named (by environment), for the next reconcile to deploy.
    pushed: std::collections::BTreeMap<String, String>,
    /// Whether this controller still leads: re-checked in the background while it leads
    /// ([`LeaderWatch`]), read by every apply before each action.
    leading: Arc<std::sync::atomic::AtomicBool>,
}

fn load(dir: &std::path::Path) -> Result<Ssot, String> {
    crate::ssot::load_checked(dir)
        .map_err(|(diagnostics, summary)| format!("{summary}\n{diagnostics}"))
}

async fn wait_shutdown(rx: &mut signal::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            // The sender is gone: nobody can ask us to stop any more.
            std::future::pending::<()>().await;
        }
    }
}

/// Run `work`; on a shutdown signal let it finish within `grace`, else drop it (`None`).
async fn guarded<F: Future>(
    work: F,
    shutdown: &mut signal::Receiver<bool>,
    grace: Duration,
) -> Option<F::Output> {
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => Some(out),
        _ = wait_shutdown(shutdown) => {
            tracing::info!(grace_s = grace.as_secs_f64(), "shutdown: finishing in-flight work");
            tokio::time::timeout(grace, work).await.ok()
        }
    }
}

impl Controller {
    async fn event(&self, level: Level, env: Option<&str>, msg: String, fields: Value) {
        let mut e = NewEvent::new(level, "controller", msg);
        e.environment = env.map(str::to_string);
        e.fields = fields;
        if let Err(err) = self.store.append_events(&[e]).await {
            tracing::warn!(%err, "could not record a controller event");
        }
    }

    /// Re-read the SSOT tree and its git revision. Returns true when the content changed.
    /// An invalid tree keeps the last valid one (and says so in the evidence).
    async fn reload(&mut self) -> bool {
        let git = watch::git_revision(&self.opts.ssot_dir);
        match load(&self.opts.ssot_dir) {
            Ok(ssot) => {
                self.metrics.ssot_valid.store(true, Ordering::Relaxed);
                let changed = ssot.revision != self.ssot.revision;
                if changed || git != self.git {
                    match engine_for(&self.opts, &ssot, self.store.clone(), self.http.clone()) {
                        Ok(engine) => self.engine = engine,
                        Err(e) => {
                            self.event(
                                Level::Error,
                                None,
                                format!(
                                    "SSOT reloaded but its provider accounts are unusable: {e:#}"
                                ),
                                json!({}),
                            )
                            .await;
                            return false;
                        }
                    }
                    self.event(
                        Level::Info,
                        None,
                        format!("SSOT reloaded: {}", ssot.revision),
                        json!({"ssot_revision": ssot.revision, "git_revision": git, "previous": self.ssot.revision}),
                    )
                    .await;
                    let names: BTreeSet<String> = ssot
                        .environments()
                        .map(|e| e.metadata.name.clone())
                        .collect();
                    self.backoff.retain(&names);
                    self.settled.retain(|e| names.contains(e));
                    self.ssot = ssot;
                    self.git = git;
                }
                changed
            }
            Err(text) => {
                if self.metrics.ssot_valid.swap(false, Ordering::Relaxed) {
                    tracing::error!("{text}");
                    self.event(
                        Level::Error,
                        None,
                        "the SSOT tree is invalid; reconciling the last valid revision".into(),
                        json!({"last_valid": self.ssot.revision, "diagnostics": text}),
                    )
                    .await;
                }
                false
            }
        }
    }
}

/// Run the controller until `shutdown` turns true (or, with `once`, after one pass).
/// The engine the controller reconciles `ssot` with: the CLI's, its provider requests
/// counted in `http`, applying `opts.parallelism` environments at a time.
fn engine_for(
    opts: &Options,
    ssot: &Ssot,
    store: Store,
    http: Arc<HttpMetrics>,
) -> anyhow::Result<Engine> {
    let mut engine =
        Engine::connect(ssot, store, opts.sim.as_deref(), http)?.with_delivery(&opts.data_dir);
    engine.concurrency = opts.parallelism;
    Ok(engine)
}

pub async fn run(opts: Options, mut shutdown: signal::Receiver<bool>) -> anyhow::Result<()> {
    let ssot = load(&opts.ssot_dir).map_err(|e| anyhow::anyhow!(e))?;
    // The same store every process of this SSOT opens (its Project.spec.store and
    // artifacts, unless --database-url says otherwise).
    let store = Store::open_for(
        Some(&ssot),
        opts.database_url.as_deref(),
        &opts.data_dir,
        opts.replicas,
    )
    .await
    .context("opening the evidence store")?;
    let http = Arc::new(HttpMetrics::default());
    let metrics = Arc::new(ControllerMetrics::default());
    metrics.ssot_valid.store(true, Ordering::Relaxed);
    let engine = engine_for(&opts, &ssot, store.clone(), http.clone())?;
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| {
            format!(
                "binding {} (is another controller running there?)",
                opts.listen
            )
        })?;
    let addr = listener.local_addr()?;
    println!(
        "== controller on http://{addr}/ (/metrics, /healthz, /readyz; store: {})",
        store.location()
    );
    let server = tokio::spawn(worker::serve_probes(
        listener,
        store.clone(),
        http.clone(),
        metrics.clone(),
    ));
    let mut ctl = Controller {
        git: watch::git_revision(&opts.ssot_dir),
        backoff: Backoff::new(opts.backoff_base, opts.backoff_max),
        stop: shutdown.clone(),
        scheduled: Default::default(),
        unreachable: BTreeSet::new(),
        settled: BTreeSet::new(),
        continuing: false,
        more: false,
        pushed: Default::default(),
        leading: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        opts,
        store,
        http,
        metrics,
        ssot,
        engine,
    };
    let result = ctl.lead_or_wait(&mut shutdown).await;
    server.abort();
    ctl.store.close().await;
    result
}
