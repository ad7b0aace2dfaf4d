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
pub mod metrics;
pub mod watch;
mod worker;

use crate::provider::http::Metrics as HttpMetrics;
use crate::reconcile::engine::{Context, Engine, EngineError};
use crate::ssot::Ssot;
use crate::store::{Level, NewEvent, NotLeader, Store, Trigger};
use anyhow::Context as _;
use backoff::Backoff;
use metrics::{ControllerMetrics, Outcome};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// Whether this controller still leads: re-checked in the background while it leads
    /// ([`LeaderWatch`]), read by every apply before each action.
    leading: Arc<std::sync::atomic::AtomicBool>,
}

/// Re-checks leadership in the background every `interval`, even while a long reconcile
/// runs: when the lock is lost, `flag` turns false and the apply in progress stops before
/// its next side effect (its ledger writes are fenced as well).
struct LeaderWatch {
    release: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderWatch {
    fn start(
        mut guard: crate::store::LeaderGuard,
        flag: Arc<std::sync::atomic::AtomicBool>,
        interval: Duration,
    ) -> LeaderWatch {
        flag.store(true, Ordering::SeqCst);
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    _ = tokio::time::sleep(interval) => {
                        if !guard.still_held().await {
                            flag.store(false, Ordering::SeqCst);
                            break;
                        }
                    }
                }
            }
            flag.store(false, Ordering::SeqCst);
            guard.release().await;
        });
        LeaderWatch {
            release: Some(tx),
            task,
        }
    }

    /// Give leadership up now.
    async fn release(mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
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

    fn env_names(&self, only: Option<&str>) -> BTreeSet<String> {
        self.ssot
            .environments()
            .map(|e| e.metadata.name.clone())
            .filter(|n| only.is_none_or(|o| o == n))
            .collect()
    }

    /// The next batch of a rollout: only environments not yet reconciled.
    async fn continue_rollout(&mut self) -> CycleReport {
        self.continuing = true;
        self.reconcile(Trigger::Resync, None, true).await
    }

    /// One reconcile: plan (always evidence) and, when `apply` and there are changes, apply.
    pub(crate) async fn reconcile(
        &mut self,
        trigger: Trigger,
        only_env: Option<String>,
        apply: bool,
    ) -> CycleReport {
        let started = Instant::now();
        let mut report = CycleReport::default();
        let scope = self.env_names(only_env.as_deref());
        // An explicit request for one environment overrides its backoff.
        let mut skip: BTreeSet<String> = if only_env.is_some() {
            BTreeSet::new()
        } else {
            self.backoff.waiting(Instant::now())
        };
        report.skipped_envs = skip.iter().cloned().collect();
        // A first rollout (or a restart) takes not-yet-reconciled environments in batches;
        // a cycle that only continues one plans just its batch (the settled environments
        // were planned by the cycle before and come again with the next trigger).
        let continuing = std::mem::take(&mut self.continuing) && self.more;
        self.more = false;
        if continuing {
            skip.extend(self.settled.iter().cloned());
        }
        if only_env.is_none() {
            let fresh: Vec<String> = scope
                .iter()
                .filter(|e| !skip.contains(*e) && !self.settled.contains(*e))
                .cloned()
                .collect();
            if fresh.len() > self.opts.batch.max(1) {
                let deferred = &fresh[self.opts.batch.max(1)..];
                report.deferred_envs = deferred.len();
                skip.extend(deferred.iter().cloned());
                self.more = true;
            }
        }
        if scope.is_empty() || scope.iter().all(|e| skip.contains(e)) {
            report.error = (scope.is_empty() && only_env.is_some()).then(|| {
                format!(
                    "no environment {:?} in the SSOT",
                    only_env.unwrap_or_default()
                )
            });
            return report;
        }
        let ctx = Context {
            trigger,
            actor: format!("controller/{}", self.opts.worker_id),
            only_env,
            skip_envs: skip.clone(),
            allow_destroy_production: false,
            // Wait for an apply of another process (`odooops apply`) to finish.
            lock_wait: std::time::Duration::from_secs(600),
            leadership: Some(self.leading.clone()),
        };
        let in_scope: Vec<String> = scope.difference(&skip).cloned().collect();
        let outcome = self
            .plan_and_apply(&ctx, apply, &in_scope, &mut report)
            .await;
        let now = Instant::now();
        for env in &in_scope {
            if report.failed_envs.contains(env) {
                let delay = self.backoff.failed(env, now);
                tracing::warn!(
                    env,
                    delay_s = delay.as_secs_f64(),
                    "reconcile failed; backing off"
                );
            } else {
                self.backoff.succeeded(env);
                self.settled.insert(env.clone());
            }
        }
        if let Some(err) = &report.error {
            self.event(
                Level::Error,
                ctx.only_env.as_deref(),
                format!("reconcile failed: {err}"),
                json!({"failed_envs": report.failed_envs, "run_id": report.run_id, "trigger": trigger.as_str()}),
            )
            .await;
        }
        self.metrics
            .reconciled(outcome, started.elapsed().as_secs_f64());
        report
    }

    async fn plan_and_apply(
        &mut self,
        ctx: &Context,
        apply: bool,
        in_scope: &[String],
        report: &mut CycleReport,
    ) -> Outcome {
        // A plan made stale between planning and applying (someone changed the cloud in
        // those milliseconds) is re-planned once.
        for attempt in 0..2 {
            let planned = match self.engine.plan(&self.ssot, ctx).await {
                Ok(p) => p,
                Err(e) => {
                    report.error = Some(e.to_string());
                    report.failed_envs = in_scope.to_vec();
                    return Outcome::Failure;
                }
            };
            report.run_id = Some(planned.run_id);
            report.plan_id = Some(planned.plan_id);
            report.actions = planned.plan.actions.len();
            if !apply || !planned.plan.has_changes() {
                return if planned.plan.has_changes() || !planned.plan.detected_only.is_empty() {
                    Outcome::Success
                } else {
                    Outcome::Noop
                };
            }
            // Which environment each action belongs to, to tell which ones failed.
            let action_envs: BTreeMap<String, String> = planned
                .plan
                .actions
                .iter()
                .map(|a| (a.dedupe_key.clone(), a.diff.key.env.clone()))
                .collect();
            match self
                .engine
                .apply_plan(&self.ssot, planned.plan_id, planned.plan, ctx)
                .await
            {
                Ok(applied) => {
                    report.apply_run_id = Some(applied.run_id);
                    return Outcome::Success;
                }
                Err(EngineError::ApplyFailed { run, .. }) => {
                    report.apply_run_id = Some(run);
                    report.failed_envs = self.failed_envs(&action_envs, run).await;
                    report.error = Some(format!(
                        "actions failed in {} (see run {run})",
                        report.failed_envs.join(", ")
                    ));
                    return Outcome::Failure;
                }
                Err(EngineError::Stale(why)) if attempt == 0 => {
                    tracing::info!(%why, "plan went stale before apply; re-planning");
                }
                Err(e) => {
                    report.error = Some(e.to_string());
                    report.failed_envs = in_scope.to_vec();
                    return Outcome::Failure;
                }
            }
        }
        report.error = Some("the plan went stale twice in a row".into());
        report.failed_envs = in_scope.to_vec();
        Outcome::Failure
    }

    /// Environments with a failed action in an apply run (ledger rows carry the plan's
    /// dedupe keys; the plan knows each key's environment).
    async fn failed_envs(
        &self,
        action_envs: &BTreeMap<String, String>,
        run: uuid::Uuid,
    ) -> Vec<String> {
        let failed: BTreeSet<String> = match self.store.actions_for_run(run).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|a| a.status == "failed")
                .map(|a| a.dedupe_key)
                .collect(),
            Err(_) => BTreeSet::new(),
        };
        let envs: BTreeSet<&String> = action_envs
            .iter()
            .filter(|(key, _)| failed.contains(*key))
            .map(|(_, env)| env)
            .collect();
        // A failure that cannot be attributed: every planned environment waits.
        let envs = if envs.is_empty() {
            action_envs.values().collect()
        } else {
            envs
        };
        envs.into_iter().cloned().collect()
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
    let mut engine = Engine::connect(ssot, store, opts.sim.as_deref(), http)?;
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

impl Controller {
    /// Standby until leadership is ours, lead until it is lost or we are told to stop.
    async fn lead_or_wait(&mut self, shutdown: &mut signal::Receiver<bool>) -> anyhow::Result<()> {
        let mut announced = false;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            match self.store.try_lead().await? {
                Ok(guard) => {
                    println!(
                        "== leading the reconcile loop (worker {})",
                        self.opts.worker_id
                    );
                    self.metrics.leader.store(true, Ordering::Relaxed);
                    self.event(
                        Level::Info,
                        None,
                        format!("controller {} leads", self.opts.worker_id),
                        json!({"git_revision": self.git}),
                    )
                    .await;
                    let lost = self.lead(guard, shutdown).await?;
                    self.metrics.leader.store(false, Ordering::Relaxed);
                    if !lost || self.opts.once {
                        return Ok(());
                    }
                    self.event(
                        Level::Warn,
                        None,
                        format!(
                            "controller {} lost leadership; standing by",
                            self.opts.worker_id
                        ),
                        json!({}),
                    )
                    .await;
                    announced = false;
                }
                Err(NotLeader::SqliteHeld { lock_file, holder }) => {
                    anyhow::bail!(
                        "another `odooops run` ({holder}) is running against this SQLite store (lock file {}). \
                         SQLite supports one controller: stop the other one, or use PostgreSQL \
                         (--database-url postgres://…) to run several controllers for high availability",
                        lock_file.display()
                    );
                }
                Err(NotLeader::Standby) => {
                    if self.opts.once {
                        anyhow::bail!("another controller leads this store; --once does not wait as a standby");
                    }
                    if !announced {
                        println!("== standby: another controller leads this store");
                        announced = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.opts.leader_check) => {}
                        _ = wait_shutdown(shutdown) => return Ok(()),
                    }
                }
            }
        }
    }

    /// The leader's loop. Returns Ok(true) when leadership was lost, Ok(false) on shutdown.
    async fn lead(
        &mut self,
        guard: crate::store::LeaderGuard,
        shutdown: &mut signal::Receiver<bool>,
    ) -> anyhow::Result<bool> {
        let guard = LeaderWatch::start(guard, self.leading.clone(), self.opts.leader_check);
        let mut ssot_watch = watch::SsotWatch::start(&self.opts.ssot_dir, self.opts.debounce)
            .with_context(|| format!("watching {}", self.opts.ssot_dir.display()))?;
        let grace = self.opts.grace;
        // A fresh leader first reconciles everything.
        self.reload().await;
        if guarded(self.reconcile(Trigger::Resync, None, true), shutdown, grace)
            .await
            .is_none()
        {
            guard.release().await;
            return Ok(false);
        }
        while self.more {
            if guarded(self.continue_rollout(), shutdown, grace)
                .await
                .is_none()
            {
                guard.release().await;
                return Ok(false);
            }
        }
        if self.opts.once {
            self.drain_queue(shutdown).await;
            guard.release().await;
            return Ok(false);
        }
        let mut next_resync =
            tokio::time::Instant::now() + jittered(self.opts.resync, self.opts.jitter);
        let mut poll = tokio::time::interval(self.opts.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Backup schedules are cron expressions at minute resolution.
        let mut schedule = tokio::time::interval(Duration::from_secs(30));
        schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut check = tokio::time::interval(self.opts.leader_check);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = shutdown.clone();
        loop {
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let retry_at = self
                .backoff
                .next_due(Instant::now())
                .map(tokio::time::Instant::from_std)
                .unwrap_or(far);
            let more = self.more;
            let done = tokio::select! {
                _ = wait_shutdown(&mut stop) => None,
                // Environments a batch deferred go next, before anything waits.
                _ = std::future::ready(()), if more => {
                    guarded(self.continue_rollout(), shutdown, grace).await.map(|_| ())
                }
                changed = ssot_watch.changed() => {
                    let Some(paths) = changed else {
                        anyhow::bail!("the SSOT watcher stopped");
                    };
                    tracing::info!(?paths, "SSOT files changed");
                    let work = async {
                        if self.reload().await {
                            self.reconcile(Trigger::Watch, None, true).await;
                        }
                    };
                    guarded(work, shutdown, grace).await
                }
                _ = tokio::time::sleep_until(next_resync) => {
                    next_resync = tokio::time::Instant::now() + jittered(self.opts.resync, self.opts.jitter);
                    let work = async {
                        self.reload().await;
                        self.reconcile(Trigger::Resync, None, true).await;
                    };
                    guarded(work, shutdown, grace).await
                }
                _ = tokio::time::sleep_until(retry_at), if retry_at < far => {
                    guarded(self.reconcile(Trigger::Resync, None, true), shutdown, grace).await.map(|_| ())
                }
                _ = poll.tick() => {
                    tracing::trace!("polling the work queue");
                    self.drain_queue(shutdown).await
                }
                _ = schedule.tick() => {
                    self.schedule_backups().await;
                    Some(())
                }
                _ = check.tick() => {
                    if !self.leading.load(Ordering::SeqCst) {
                        tracing::error!("leadership lost (the store connection holding the lock is gone)");
                        guard.release().await;
                        return Ok(true);
                    }
                    let _ = self.store.release_expired_leases().await;
                    Some(())
                }
            };
            if done.is_none() || *shutdown.borrow() {
                println!("== shutting down (worker {})", self.opts.worker_id);
                self.event(
                    Level::Info,
                    None,
                    format!("controller {} stopped", self.opts.worker_id),
                    json!({}),
                )
                .await;
                guard.release().await;
                return Ok(false);
            }
        }
    }
}
