//! A deploy as a transaction. The new release is prepared beside the one serving (Odoo's
//! source, a virtualenv, the code, the config), then:
//!
//! - code only (no module to install or update): the new release starts on the free slot,
//!   the proxy switches to it once `/web/health` passes and it is warmed up, then the old
//!   slot is drained and stops — the old release serves until the new one is healthy;
//! - with database changes: a backup first (when a release serves already), the old slot
//!   stops, `odoo-bin -i/-u … --stop-after-init` runs as a bounded job, then the new slot
//!   starts and the proxy switches.
//!
//! A failure at any step puts the previous release back: the new slot is stopped, the
//! database is restored from the pre-update backup when the update ran, the old slot runs
//! again and the proxy points at it. Every step is journaled with its duration and outcome.

use super::layout::{Layout, Slot};
use super::proxy::{self, ProxySpec};
use super::service::{self, SlotRun, Supervisor};
use super::state::{self, HostState};
use super::transport::{HostError, Transport};
use super::{conf, prepare};
use crate::provider::SecretValue;
use crate::ssot::{Environment, Project};
use crate::store::ReleaseStep;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where each finished step is recorded (`ops.releases.steps`).
pub trait Journal: Send + Sync {
    fn step<'a>(&'a self, step: ReleaseStep) -> BoxFuture<'a, ()>;
}

/// The database's safety net: a backup before an update, restored when it fails.
pub trait Safeguard: Send + Sync {
    /// Back the environment's database up; the backup's id.
    fn backup<'a>(&'a self) -> BoxFuture<'a, Result<String, String>>;
    /// Put the database back as backup `id` holds it.
    fn restore<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// What a deploy delivers.
pub struct Deploy<'a> {
    pub project: &'a Project,
    pub env: &'a Environment,
    pub transport: &'a Transport,
    pub layout: Layout,
    pub supervisor: Supervisor,
    pub proxy: Option<ProxySpec>,
    /// The release's id (the `ops.releases` row).
    pub release_id: String,
    pub commit: &'a str,
    /// The code at `commit`, on this machine.
    pub code_dir: &'a Path,
    pub odoo_revision: &'a str,
    /// Odoo's source at `odoo_revision`, on this machine.
    pub odoo_dir: &'a Path,
    /// Odoo's requirements followed by the repository's.
    pub requirements: Vec<u8>,
    pub python: &'a str,
    /// `NAME=value` of the secrets file (never logged, never stored).
    pub secrets: Vec<(String, SecretValue)>,
    /// Initialize the database (the environment's first release).
    pub initialize: bool,
    pub install: Vec<String>,
    pub update: Vec<String>,
    /// Load Odoo's demo data at initialization (development only).
    pub demo: bool,
    pub update_timeout: Duration,
    pub venv_timeout: Duration,
    pub health_timeout: Duration,
}

/// A release that serves.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub slot: Slot,
    pub state: HostState,
    pub backup_id: Option<String>,
    /// The update's log (`-i`/`-u`), when one ran.
    pub log: Option<Vec<u8>>,
}

/// A deploy that failed, and what was put back.
#[derive(Debug, Clone)]
pub struct DeployFailure {
    pub step: String,
    pub error: String,
    /// The previous release serves again (or there was none to put back).
    pub rolled_back: bool,
    /// A release served before this deploy.
    pub had_previous: bool,
    /// The database was restored from this pre-update backup.
    pub restored: Option<String>,
    pub backup_id: Option<String>,
    pub log: Option<Vec<u8>>,
}

impl std::fmt::Display for DeployFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.step, self.error)?;
        match (&self.restored, self.rolled_back) {
            (_, true) if !self.had_previous => write!(f, "; nothing served before"),
            (Some(b), true) => write!(
                f,
                "; the previous release serves again, the database restored from backup {b}"
            ),
            (None, true) => write!(f, "; the previous release serves again"),
            (_, false) => write!(f, "; the previous release could not be put back"),
        }
    }
}

impl Deploy<'_> {
    fn db_change(&self) -> bool {
        self.initialize || !self.install.is_empty() || !self.update.is_empty()
    }

    /// `odoo-bin` arguments of the database step.
    fn update_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.initialize {
            let mut mods = vec!["base".to_string()];
            mods.extend(self.install.iter().cloned());
            args.push("-i".to_string());
            args.push(mods.join(","));
            if !self.demo {
                args.push("--without-demo=all".to_string());
            }
            return args;
        }
        if !self.update.is_empty() {
            args.push("-u".to_string());
            args.push(self.update.join(","));
        }
        if !self.install.is_empty() {
            args.push("-i".to_string());
            args.push(self.install.join(","));
        }
        args
    }
}

async fn timed<T>(
    journal: &dyn Journal,
    name: &str,
    fut: impl std::future::Future<Output = Result<(T, Value), String>>,
) -> Result<T, (String, String)> {
    let started_at = chrono::Utc::now();
    let t = Instant::now();
    let r = fut.await;
    let (outcome, detail) = match &r {
        Ok((_, d)) => ("ok", d.clone()),
        Err(e) => ("failed", json!({"error": e})),
    };
    journal
        .step(ReleaseStep {
            name: name.to_string(),
            started_at,
            duration_ms: t.elapsed().as_millis() as u64,
            outcome: outcome.to_string(),
            detail,
        })
        .await;
    r.map(|(v, _)| v).map_err(|e| (name.to_string(), e))
}

fn s(e: HostError) -> String {
    e.to_string()
}

/// Run the deploy; on failure put the previous release back.
pub async fn deploy(
    d: &Deploy<'_>,
    journal: &dyn Journal,
    safe: &dyn Safeguard,
) -> Result<Deployed, DeployFailure> {
    let t = d.transport;
    let l = &d.layout;
    let prev = state::read(t, l).await.ok().flatten();
    let slot = prev.as_ref().map(|p| p.slot.other()).unwrap_or(Slot::A);
    let mut progress = Progress::default();
    let result = run(d, journal, safe, prev.as_ref(), slot, &mut progress).await;
    match result {
        Ok(done) => Ok(done),
        Err((step, error)) => {
            let (rolled_back, restored) =
                rollback(d, journal, safe, prev.as_ref(), slot, &progress).await;
            Err(DeployFailure {
                step,
                error,
                rolled_back,
                had_previous: prev.is_some(),
                restored,
                backup_id: progress.backup_id.clone(),
                log: progress.log.clone(),
            })
        }
    }
}

/// How far a deploy got (what a rollback has to undo).
#[derive(Default, Debug)]
struct Progress {
    backup_id: Option<String>,
    old_stopped: bool,
    updated: bool,
    new_started: bool,
    switched: bool,
    log: Option<Vec<u8>>,
    odoo: String,
    venv: String,
}

async fn read_log(t: &Transport, path: &str) -> Option<Vec<u8>> {
    t.run(
        "reading the update log",
        r#"cat "$1" 2>/dev/null || true"#,
        &[path],
        None,
        Duration::from_secs(60),
    )
    .await
    .ok()
    .map(|e| e.stdout)
}

async fn run(
    d: &Deploy<'_>,
    journal: &dyn Journal,
    safe: &dyn Safeguard,
    prev: Option<&HostState>,
    slot: Slot,
    p: &mut Progress,
) -> Result<Deployed, (String, String)> {
    let t = d.transport;
    let l = &d.layout;
    let odoo = timed(journal, "odoo source", async {
        prepare::odoo_source(t, l, d.odoo_revision, d.odoo_dir)
            .await
            .map(|o| (o, json!({"revision": d.odoo_revision})))
            .map_err(s)
    })
    .await?;
    let venv = timed(journal, "virtualenv", async {
        prepare::venv(t, l, d.python, &d.requirements, d.venv_timeout)
            .await
            .map(|v| {
                let digest = prepare::digest(&d.requirements);
                (v, json!({"requirements": digest}))
            })
            .map_err(s)
    })
    .await?;
    p.odoo = odoo.clone();
    p.venv = venv.clone();
    let release = timed(journal, "code", async {
        prepare::code(t, l, d.commit, d.code_dir)
            .await
            .map(|r| (r, json!({"commit": d.commit})))
            .map_err(s)
    })
    .await?;
    let conf_text = conf::slot_conf(d.project, d.env, l, slot, &release, &odoo);
    let config_digest = format!("sha256:{}", prepare::digest(conf_text.as_bytes()));
    timed(journal, "config", async {
        prepare::config(t, l, slot, &conf_text).await.map_err(s)?;
        prepare::secrets(t, l, &d.secrets).await.map_err(s)?;
        Ok((
            (),
            json!({"slot": slot.as_str(), "config": config_digest, "secrets": d.secrets.len()}),
        ))
    })
    .await?;
    let run = SlotRun {
        layout: l,
        slot,
        odoo: &odoo,
        venv: &venv,
    };
    if d.db_change() {
        if prev.is_some() {
            let id = timed(journal, "pre-update backup", async {
                safe.backup()
                    .await
                    .map(|id| (id.clone(), json!({"backup_id": id})))
            })
            .await?;
            p.backup_id = Some(id);
        }
        if let Some(old) = prev {
            timed(journal, "stop the serving release", async {
                service::stop(t, l, old.slot, d.supervisor, Duration::from_secs(30))
                    .await
                    .map(|_| ((), json!({"slot": old.slot.as_str()})))
                    .map_err(s)
            })
            .await?;
            p.old_stopped = true;
        }
        let args = d.update_args();
        let log = l.update_log(&d.release_id);
        p.updated = true;
        let r = timed(journal, "update", async {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            run.once(t, &argv, &log, d.update_timeout)
                .await
                .map(|_| ((), json!({"args": args})))
                .map_err(s)
        })
        .await;
        p.log = read_log(t, &log).await;
        r?;
    }
    p.new_started = true;
    let health_ms = timed(journal, "start", async {
        run.start(t, d.supervisor).await.map_err(s)?;
        let took = service::wait_healthy(t, l, slot, d.health_timeout)
            .await
            .map_err(s)?;
        service::warm(t, l, slot, d.health_timeout)
            .await
            .map_err(s)?;
        Ok((
            took.as_millis() as u64,
            json!({"slot": slot.as_str(), "healthy_after_ms": took.as_millis() as u64}),
        ))
    })
    .await?;
    if let Some(px) = &d.proxy {
        timed(journal, "switch", async {
            proxy::switch(t, px, l, slot, d.supervisor)
                .await
                .map(|_| ((), json!({"site": px.site, "slot": slot.as_str()})))
                .map_err(s)
        })
        .await?;
        p.switched = true;
    }
    if let (Some(old), false) = (prev, p.old_stopped) {
        // Requests in flight on the old slot finish before it stops.
        if p.switched {
            timed(journal, "drain the previous release", async {
                service::drain(
                    t,
                    l,
                    old.slot,
                    Duration::from_secs(1),
                    Duration::from_secs(10),
                )
                .await
                // How long it took is the step's own duration.
                .map(|_| ((), json!({"slot": old.slot.as_str()})))
                .map_err(s)
            })
            .await?;
        }
        timed(journal, "stop the previous release", async {
            service::stop(t, l, old.slot, d.supervisor, Duration::from_secs(30))
                .await
                .map(|_| ((), json!({"slot": old.slot.as_str()})))
                .map_err(s)
        })
        .await?;
    }
    let st = HostState {
        release_id: d.release_id.clone(),
        commit: d.commit.to_string(),
        odoo_revision: d.odoo_revision.to_string(),
        slot,
        odoo,
        venv,
        config_digest,
    };
    timed(journal, "record", async {
        state::write(t, l, &st)
            .await
            .map(|_| ((), json!({"health_ms": health_ms})))
            .map_err(s)
    })
    .await?;
    Ok(Deployed {
        slot,
        state: st,
        backup_id: p.backup_id.clone(),
        log: p.log.clone(),
    })
}

/// Put the previous release back. Returns whether it serves again, and the backup the
/// database was restored from.
async fn rollback(
    d: &Deploy<'_>,
    journal: &dyn Journal,
    safe: &dyn Safeguard,
    prev: Option<&HostState>,
    slot: Slot,
    p: &Progress,
) -> (bool, Option<String>) {
    let t = d.transport;
    let l = &d.layout;
    if p.updated {
        // A timed-out job may still run on the host.
        let _ = service::kill_update(t, l).await;
    }
    if p.new_started || p.updated {
        let _ = timed(journal, "rollback: stop the new release", async {
            service::stop(t, l, slot, d.supervisor, Duration::from_secs(10))
                .await
                .map(|_| ((), json!({"slot": slot.as_str()})))
                .map_err(s)
        })
        .await;
    }
    let mut restored = None;
    if let (true, Some(id)) = (p.updated, &p.backup_id) {
        let ok = timed(journal, "rollback: restore the database", async {
            safe.restore(id)
                .await
                .map(|_| ((), json!({"backup_id": id})))
        })
        .await
        .is_ok();
        if ok {
            restored = Some(id.clone());
        } else {
            return (false, None);
        }
    }
    let Some(old) = prev else {
        // Nothing served before: nothing to put back.
        return (true, restored);
    };
    let back = timed(journal, "rollback: the previous release serves", async {
        let run = SlotRun {
            layout: l,
            slot: old.slot,
            odoo: &old.odoo,
            venv: &old.venv,
        };
        run.start(t, d.supervisor).await.map_err(s)?;
        service::wait_healthy(t, l, old.slot, d.health_timeout)
            .await
            .map_err(s)?;
        if let Some(px) = &d.proxy {
            proxy::switch(t, px, l, old.slot, d.supervisor)
                .await
                .map_err(s)?;
        }
        Ok(((), json!({"slot": old.slot.as_str(), "commit": old.commit})))
    })
    .await;
    (back.is_ok(), restored)
}

/// What a deploy whose controller died left, settled.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovered {
    /// It had finished: the host serves it.
    Completed(HostState),
    /// It was undone: the previous release (if any) serves, the database restored from
    /// this backup when one was taken.
    RolledBack {
        restored: Option<String>,
        previous: Option<String>,
    },
}

/// Where a dead deploy ran and what it had recorded.
pub struct Interrupted<'a> {
    pub transport: &'a Transport,
    pub layout: Layout,
    pub supervisor: Supervisor,
    pub proxy: Option<ProxySpec>,
    pub release_id: &'a str,
    /// The pre-update backup its journal recorded, if it took one.
    pub backup_id: Option<String>,
    pub health_timeout: Duration,
}

/// Settle a deploy whose controller died: finished (the host's state names it) or undone —
/// the update job stopped, the slot it used stopped, the database restored from its
/// pre-update backup when it took one, the previous release started again if it does not
/// answer, the proxy pointed at it. Each step is journaled.
pub async fn recover(
    r: &Interrupted<'_>,
    journal: &dyn Journal,
    safe: &dyn Safeguard,
) -> Result<Recovered, String> {
    let t = r.transport;
    let l = &r.layout;
    let state = state::read(t, l).await.map_err(s)?;
    if let Some(st) = state.as_ref().filter(|st| st.release_id == r.release_id) {
        return Ok(Recovered::Completed(st.clone()));
    }
    let new_slot = state.as_ref().map(|p| p.slot.other()).unwrap_or(Slot::A);
    timed(journal, "recovery: stop the interrupted release", async {
        service::kill_update(t, l).await.map_err(s)?;
        service::stop(t, l, new_slot, r.supervisor, Duration::from_secs(10))
            .await
            .map_err(s)?;
        Ok(((), json!({"slot": new_slot.as_str()})))
    })
    .await
    .map_err(|(_, e)| e)?;
    let mut restored = None;
    if let Some(id) = &r.backup_id {
        if let Some(old) = &state {
            // The database may have been changed: the old release stops while it is put back.
            let _ = service::stop(t, l, old.slot, r.supervisor, Duration::from_secs(30)).await;
        }
        timed(journal, "recovery: restore the database", async {
            safe.restore(id)
                .await
                .map(|_| ((), json!({"backup_id": id})))
        })
        .await
        .map_err(|(_, e)| e)?;
        restored = Some(id.clone());
    }
    let Some(old) = state else {
        return Ok(Recovered::RolledBack {
            restored,
            previous: None,
        });
    };
    timed(journal, "recovery: the previous release serves", async {
        if !service::healthy(t, l, old.slot).await {
            let run = SlotRun {
                layout: l,
                slot: old.slot,
                odoo: &old.odoo,
                venv: &old.venv,
            };
            run.start(t, r.supervisor).await.map_err(s)?;
            service::wait_healthy(t, l, old.slot, r.health_timeout)
                .await
                .map_err(s)?;
        }
        if let Some(px) = &r.proxy {
            proxy::switch(t, px, l, old.slot, r.supervisor)
                .await
                .map_err(s)?;
        }
        Ok(((), json!({"slot": old.slot.as_str(), "commit": old.commit})))
    })
    .await
    .map_err(|(_, e)| e)?;
    Ok(Recovered::RolledBack {
        restored,
        previous: Some(old.release_id.clone()),
    })
}
