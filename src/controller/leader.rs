//! Leadership of the controller: a standby waits, a leader runs the loop (SSOT watch,
//! resync, backoff retries, the work queue, backup schedules) while its leadership is
//! re-checked in the background ([`LeaderWatch`]).

use super::{guarded, jittered, wait_shutdown, watch, Controller};
use crate::store::{Level, NotLeader, Trigger};
use anyhow::Context as _;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch as signal;

/// Re-checks leadership in the background every `interval`, even while a long reconcile
/// runs: when the lock is lost, `flag` turns false and the apply in progress stops before
/// its next side effect (its ledger writes are fenced as well).
struct LeaderWatch {
    release: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderWatch {
    pub(super) fn start(
        mut guard: crate::store::LeaderGuard,
        flag: Arc<AtomicBool>,
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
    pub(super) async fn release(mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Controller {
    /// Standby until leadership is ours, lead until it is lost or we are told to stop.
    pub(super) async fn lead_or_wait(
        &mut self,
        shutdown: &mut signal::Receiver<bool>,
    ) -> anyhow::Result<()> {
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
    pub(super) async fn lead(
        &mut self,
        guard: crate::store::LeaderGuard,
        shutdown: &mut signal::Receiver<bool>,
    ) -> anyhow::Result<bool> {
        let guard = LeaderWatch::start(guard, self.leading.clone(), self.opts.leader_check);
        // A directory is watched (and followed through a symlink flip); a git source is
        // fetched on every resync.
        let mut ssot_watch = match &self.source {
            crate::git::SsotSource::Dir(dir) => Some(
                watch::SsotWatch::start(dir, self.opts.debounce)
                    .with_context(|| format!("watching {}", dir.display()))?,
            ),
            crate::git::SsotSource::Git { .. } => None,
        };
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
                changed = async {
                    match ssot_watch.as_mut() {
                        Some(w) => w.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    let Some(paths) = changed else {
                        anyhow::bail!("the SSOT watcher stopped");
                    };
                    tracing::info!(?paths, "SSOT files changed");
                    // git-sync flipped `current`: watch the tree it points at now, before
                    // reading it, so that no edit made there while it is reconciled is missed.
                    let now = self.source.watched_target();
                    if let (Some(w), Some(now), crate::git::SsotSource::Dir(dir)) =
                        (ssot_watch.as_ref(), now, &self.source)
                    {
                        if crate::git::flipped(w.target(), &now) {
                            tracing::info!(target = %now.display(), "the SSOT symlink flipped: watching its new target");
                            ssot_watch = Some(
                                watch::SsotWatch::start(dir, self.opts.debounce)
                                    .with_context(|| format!("watching {}", dir.display()))?,
                            );
                        }
                    }
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
