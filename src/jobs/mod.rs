//! Bounded jobs: every backup, restore, clone, gate or sync runs under a wall-clock timeout
//! (the environment's `limits.jobTimeoutSeconds`, else a default per kind) and can be
//! cancelled. On timeout or cancel the job's [`CancelToken`] fires; the job kills its child
//! processes (`pg_dump`, `pg_restore`) and removes what it left half-made, then returns. A job
//! that ignores the signal is dropped after a grace period (children are `kill_on_drop`).
//!
//! Each execution is a row in `ops.job_runs` (duration, outcome). After `disable_after`
//! consecutive timeouts (Odoo.sh: 3) the job — kind + environment — is disabled: it refuses
//! to run, with a message naming `odooops jobs enable`, until re-enabled.

use crate::store::{JobOutcome, JobRun, JobState, Level, NewEvent, Store, StoreError};
use serde::Serialize;
use serde_json::json;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// What kind of job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Backup,
    Restore,
    Clone,
    Gate,
    Sync,
}

impl JobKind {
    pub const ALL: [JobKind; 5] = [
        JobKind::Backup,
        JobKind::Restore,
        JobKind::Clone,
        JobKind::Gate,
        JobKind::Sync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Restore => "restore",
            JobKind::Clone => "clone",
            JobKind::Gate => "gate",
            JobKind::Sync => "sync",
        }
    }

    /// The bound when the environment sets none.
    pub fn default_timeout(self) -> Duration {
        Duration::from_secs(match self {
            JobKind::Backup | JobKind::Restore => 3 * 3600,
            JobKind::Clone => 4 * 3600,
            JobKind::Gate | JobKind::Sync => 15 * 60,
        })
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown job kind {s:?}; expected one of: backup, restore, clone, gate, sync"
                )
            })
    }
}

/// The bound of a job of `kind` on an environment with `limits.jobTimeoutSeconds` = `seconds`.
pub fn timeout_for(kind: JobKind, seconds: Option<u64>) -> Duration {
    seconds
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or_else(|| kind.default_timeout())
}

/// A cancellation signal shared by a job and whoever may stop it. Cheap to clone; cancelling
/// any clone cancels them all.
#[derive(Clone, Debug)]
pub struct CancelToken(Arc<watch::Sender<bool>>);

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken(Arc::new(watch::channel(false).0))
    }
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once cancelled (at once if already).
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = rx.wait_for(|c| *c).await;
    }
    /// A token that Ctrl-C cancels (the CLI verbs' bounded jobs). Needs a Tokio runtime.
    pub fn on_ctrl_c() -> CancelToken {
        let t = CancelToken::new();
        let c = t.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ncancelling…");
                c.cancel();
            }
        });
        t
    }
    /// An owned future resolving on cancel (for readers that poll it).
    pub fn cancelled_owned(&self) -> impl Future<Output = ()> + Send + 'static {
        let me = self.clone();
        async move { me.cancelled().await }
    }
}

/// What a job gets: its cancel signal, and a slot for the evidence run it opened.
#[derive(Clone, Debug, Default)]
pub struct JobCtx {
    pub cancel: CancelToken,
    run: Arc<Mutex<Option<Uuid>>>,
}

impl JobCtx {
    pub fn new(cancel: CancelToken) -> JobCtx {
        JobCtx {
            cancel,
            run: Arc::default(),
        }
    }
    /// Tie the job execution to the evidence run it opened.
    pub fn set_run(&self, id: Uuid) {
        if let Ok(mut g) = self.run.lock() {
            *g = Some(id);
        }
    }
    pub fn run_id(&self) -> Option<Uuid> {
        self.run.lock().ok().and_then(|g| *g)
    }
}

/// Runner settings.
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// Consecutive timeouts after which a job is disabled (Odoo.sh: 3).
    pub disable_after: u32,
    /// How long a job may take to clean up after its signal before it is dropped.
    pub grace: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            disable_after: 3,
            grace: Duration::from_secs(30),
        }
    }
}

/// One job to run.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub kind: JobKind,
    pub environment: String,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError<E: std::fmt::Display> {
    #[error("job {kind} on {environment} is disabled: {reason}; re-enable it with `odooops jobs enable {kind} --env {environment}`")]
    Disabled {
        kind: JobKind,
        environment: String,
        reason: String,
    },
    #[error("job {kind} on {environment} timed out after {}s (limits.jobTimeoutSeconds); it was stopped and its partial output removed", .after.as_secs_f64())]
    Timeout {
        kind: JobKind,
        environment: String,
        after: Duration,
    },
    #[error(
        "job {kind} on {environment} was cancelled; it was stopped and its partial output removed"
    )]
    Cancelled { kind: JobKind, environment: String },
    #[error("{0}")]
    Failed(E),
    #[error("recording the job: {0}")]
    Store(#[from] StoreError),
}

impl<E: std::fmt::Display> JobError<E> {
    pub fn outcome(&self) -> JobOutcome {
        match self {
            JobError::Disabled { .. } => JobOutcome::Refused,
            JobError::Timeout { .. } => JobOutcome::Timeout,
            JobError::Cancelled { .. } => JobOutcome::Cancelled,
            JobError::Failed(_) | JobError::Store(_) => JobOutcome::Failed,
        }
    }
}

enum Stop {
    Timeout,
    Cancelled,
}

/// Run `job` bounded by `spec.timeout` and `cancel`; record the execution, count consecutive
/// timeouts and disable the job after `cfg.disable_after` of them.
pub async fn run_bounded<T, E, F, Fut>(
    store: &Store,
    cfg: &JobsConfig,
    spec: &JobSpec,
    cancel: &CancelToken,
    job: F,
) -> Result<T, JobError<E>>
where
    E: std::fmt::Display,
    F: FnOnce(JobCtx) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let kind = spec.kind.as_str();
    let env = spec.environment.as_str();
    let timeout_ms = i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX);
    let state = store.job_state(kind, env).await?;
    if let Some(s) = state.as_ref().filter(|s| s.disabled) {
        let reason = s
            .disabled_reason
            .clone()
            .unwrap_or_else(|| "disabled".to_string());
        let row = store
            .begin_job_run(kind, env, timeout_ms, JobOutcome::Refused)
            .await?;
        store
            .finish_job_run(
                row.id,
                JobOutcome::Refused,
                Some(&reason),
                None,
                0,
                s.consecutive_timeouts,
            )
            .await?;
        event(
            store,
            Level::Warn,
            env,
            None,
            format!("job {kind} refused: disabled ({reason})"),
            json!({"job": kind, "job_run": row.id, "outcome": "refused"}),
        )
        .await;
        return Err(JobError::Disabled {
            kind: spec.kind,
            environment: env.to_string(),
            reason,
        });
    }
    let previous = state.map(|s| s.consecutive_timeouts).unwrap_or(0);
    let row = store
        .begin_job_run(kind, env, timeout_ms, JobOutcome::Running)
        .await?;
    let started = Instant::now();
    let inner = CancelToken::new();
    let ctx = JobCtx::new(inner.clone());
    let fut = job(ctx.clone());
    tokio::pin!(fut);
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    let mut stop: Option<Stop> = None;
    let result = loop {
        tokio::select! {
            r = &mut fut => break Some(r),
            _ = &mut deadline, if stop.is_none() => {
                stop = Some(Stop::Timeout);
                inner.cancel();
                grace.as_mut().reset(tokio::time::Instant::now() + cfg.grace);
            }
            _ = cancel.cancelled(), if stop.is_none() => {
                stop = Some(Stop::Cancelled);
                inner.cancel();
                grace.as_mut().reset(tokio::time::Instant::now() + cfg.grace);
            }
            _ = &mut grace, if stop.is_some() => break None,
        }
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let outcome: Result<T, JobError<E>> = match (result, stop) {
        (Some(Ok(v)), _) => Ok(v),
        (_, Some(Stop::Timeout)) => Err(JobError::Timeout {
            kind: spec.kind,
            environment: env.to_string(),
            after: spec.timeout,
        }),
        (_, Some(Stop::Cancelled)) => Err(JobError::Cancelled {
            kind: spec.kind,
            environment: env.to_string(),
        }),
        (Some(Err(e)), None) => Err(JobError::Failed(e)),
        // The grace branch is only enabled once stopped.
        (None, None) => Err(JobError::Cancelled {
            kind: spec.kind,
            environment: env.to_string(),
        }),
    };
    let code = match &outcome {
        Ok(_) => JobOutcome::Ok,
        Err(e) => e.outcome(),
    };
    let consecutive = match code {
        JobOutcome::Timeout => previous.saturating_add(1),
        JobOutcome::Cancelled => previous,
        _ => 0,
    };
    let error = outcome.as_ref().err().map(|e| e.to_string());
    store
        .finish_job_run(
            row.id,
            code,
            error.as_deref(),
            ctx.run_id(),
            duration_ms,
            consecutive,
        )
        .await?;
    let disable = code == JobOutcome::Timeout
        && cfg.disable_after > 0
        && consecutive >= i32::try_from(cfg.disable_after).unwrap_or(i32::MAX);
    let reason = disable.then(|| format!("{consecutive} consecutive timeouts"));
    store
        .set_job_state(kind, env, consecutive, reason.as_deref())
        .await?;
    let level = if code == JobOutcome::Ok {
        Level::Info
    } else {
        Level::Warn
    };
    event(
        store,
        level,
        env,
        ctx.run_id(),
        format!("job {kind} {code} after {duration_ms} ms"),
        json!({"job": kind, "job_run": row.id, "outcome": code.as_str(), "duration_ms": duration_ms,
               "consecutive_timeouts": consecutive, "error": error}),
    )
    .await;
    if let Some(reason) = reason {
        event(
            store,
            Level::Error,
            env,
            ctx.run_id(),
            format!("job {kind} disabled after {reason}; re-enable with `odooops jobs enable {kind} --env {env}`"),
            json!({"job": kind, "disabled": true, "consecutive_timeouts": consecutive}),
        )
        .await;
    }
    outcome
}

/// Re-enable a disabled job (and reset its timeout count).
pub async fn enable(
    store: &Store,
    kind: JobKind,
    environment: &str,
) -> Result<JobState, StoreError> {
    let before = store.job_state(kind.as_str(), environment).await?;
    let state = store
        .set_job_state(kind.as_str(), environment, 0, None)
        .await?;
    let was = before.map(|s| s.disabled).unwrap_or(false);
    event(
        store,
        Level::Info,
        environment,
        None,
        format!(
            "job {kind} enabled{}",
            if was { " (was disabled)" } else { "" }
        ),
        json!({"job": kind.as_str(), "disabled": false, "was_disabled": was}),
    )
    .await;
    Ok(state)
}

/// Recent executions of a job (newest first).
pub async fn history(
    store: &Store,
    kind: Option<JobKind>,
    environment: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRun>, StoreError> {
    store
        .job_runs(kind.map(JobKind::as_str), environment, limit)
        .await
}

async fn event(
    store: &Store,
    level: Level,
    env: &str,
    run_id: Option<Uuid>,
    message: String,
    fields: serde_json::Value,
) {
    let mut e = NewEvent::new(level, "jobs", message);
    e.environment = Some(env.to_string());
    e.run_id = run_id;
    e.fields = fields;
    if let Err(err) = store.append_events(&[e]).await {
        tracing::warn!(error = %err, "recording a job event failed");
    }
}
