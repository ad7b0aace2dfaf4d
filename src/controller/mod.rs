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

use crate::git::{load_with_fallback, SsotFinding, SsotLoadError, SsotSource};
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
    /// Where the SSOT comes from: `None` is the directory `ssot_dir` (followed through a
    /// symlink flip, as git-sync's `current`); a git remote is fetched on every resync.
    pub source: Option<SsotSource>,
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
            source: None,
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
    /// Where the SSOT comes from.
    source: SsotSource,
    /// The invalid head last reported (reported once).
    invalid_head: Option<String>,
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

    /// Re-read the SSOT (fetching a git source) and record its revision. Returns true when
    /// the content changed. An invalid head keeps the last valid revision (and says so in
    /// the evidence, once per head).
    async fn reload(&mut self) -> bool {
        let loaded = load_with_fallback(&self.source, &self.opts.data_dir, &self.store).await;
        match loaded {
            Ok(loaded) => {
                match &loaded.finding {
                    None => self.metrics.ssot_valid.store(true, Ordering::Relaxed),
                    Some(f) => {
                        self.metrics.ssot_valid.store(false, Ordering::Relaxed);
                        if self.invalid_head.as_deref() != Some(f.head.as_str()) {
                            self.invalid_head = Some(f.head.clone());
                            self.head_finding(f).await;
                        }
                    }
                }
                let git = loaded
                    .commit
                    .clone()
                    .or_else(|| watch::git_revision(&loaded.dir));
                let ssot = loaded.ssot;
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
                        json!({"ssot_revision": ssot.revision, "git_revision": git, "previous": self.ssot.revision, "source": self.source.key()}),
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
            Err(e) => {
                if self.metrics.ssot_valid.swap(false, Ordering::Relaxed) {
                    let text = match &e {
                        SsotLoadError::Invalid { rendered, .. } => rendered.clone(),
                        other => other.to_string(),
                    };
                    tracing::error!("{e}");
                    self.event(
                        Level::Error,
                        None,
                        format!(
                            "the SSOT cannot be read ({e}); reconciling the last valid revision"
                        ),
                        json!({"last_valid": self.ssot.revision, "diagnostics": text}),
                    )
                    .await;
                }
                false
            }
        }
    }

    /// The head of the SSOT is invalid and an earlier valid revision serves: an error event
    /// naming the first error's file and line.
    async fn head_finding(&self, f: &SsotFinding) {
        tracing::error!(head = %f.head, used = %f.used, "the SSOT head is invalid");
        self.event(
            Level::Error,
            None,
            format!(
                "{}: the SSOT head {} is invalid ({} errors; first {}:{}:{}: {}); reconciling the last valid revision {}",
                f.code, f.head, f.error_count, f.file, f.line, f.column, f.message, f.used
            ),
            serde_json::to_value(f).unwrap_or(serde_json::Value::Null),
        )
        .await;
    }
}

/// The SSOT and the store a controller starts with: the source's head when it is valid
/// (its `Project.spec.store`); else the default store (`--database-url` or the embedded
/// file), where the last valid revision recorded for the source is read and loaded.
async fn initial_load(
    opts: &Options,
    source: &SsotSource,
) -> anyhow::Result<(crate::git::LoadedSsot, Store)> {
    let head = source
        .checkout(&opts.data_dir)
        .await
        .with_context(|| format!("reading the SSOT from {}", source.key()))?;
    let report = crate::ssot::load(&head.dir, &crate::ssot::Limits::default());
    let head_ssot = report.into_ssot();
    let first = Store::open_for(
        head_ssot.as_ref(),
        opts.database_url.as_deref(),
        &opts.data_dir,
        opts.replicas,
    )
    .await
    .context("opening the evidence store")?;
    let loaded = load_with_fallback(source, &opts.data_dir, &first)
        .await
        .map_err(|e| match &e {
            SsotLoadError::Invalid { rendered, .. } => anyhow::anyhow!("{rendered}\n{e}"),
            _ => anyhow::anyhow!(e),
        })?;
    if head_ssot.is_some() {
        return Ok((loaded, first));
    }
    // The head was invalid: the store is the one the last valid revision names.
    first.close().await;
    let store = Store::open_for(
        Some(&loaded.ssot),
        opts.database_url.as_deref(),
        &opts.data_dir,
        opts.replicas,
    )
    .await
    .context("opening the evidence store")?;
    Ok((loaded, store))
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
    let source = opts
        .source
        .clone()
        .unwrap_or_else(|| SsotSource::Dir(opts.ssot_dir.clone()));
    // The same store every process of this SSOT opens (its Project.spec.store and
    // artifacts, unless --database-url says otherwise).
    let (loaded, store) = initial_load(&opts, &source).await?;
    let finding = loaded.finding.clone();
    let git = loaded
        .commit
        .clone()
        .or_else(|| watch::git_revision(&loaded.dir));
    let ssot = loaded.ssot;
    let http = Arc::new(HttpMetrics::default());
    let metrics = Arc::new(ControllerMetrics::default());
    metrics
        .ssot_valid
        .store(finding.is_none(), Ordering::Relaxed);
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
        git,
        invalid_head: finding.as_ref().map(|f| f.head.clone()),
        source,
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
    if let Some(f) = &finding {
        ctl.head_finding(f).await;
    }
    let result = ctl.lead_or_wait(&mut shutdown).await;
    server.abort();
    ctl.store.close().await;
    result
}
