//! Deploys a dead controller left `deploying`, settled before an apply acts: the host says
//! whether the deploy had finished (its state names the release) — then it is recorded
//! healthy — or it is undone ([`crate::host::deploy::recover`]): the update job and the new
//! slot stopped, the database restored from the deploy's pre-update backup, the previous
//! release serving again. Runs under the apply lock, so no other deploy of this store is
//! alive; the host's deploy lock left by the dead one is then given up.

use super::observe::Observation;
use super::{Context, Engine, EngineError};
use crate::host::deploy::{self, Interrupted, Recovered};
use crate::reconcile::actuate::{Backups, StoreJournal};
use crate::reconcile::release::{self, Target};
use crate::ssot::Ssot;
use crate::store::{
    Level, NewRun, Release, ReleaseEnd, RunKind, RunStatus, RELEASE_FAILED, RELEASE_HEALTHY,
    RELEASE_INTERRUPTED,
};
use serde_json::json;

/// The pre-update backup a release's journal recorded.
fn backup_of(r: &Release) -> Option<String> {
    r.steps.as_array()?.iter().find_map(|s| {
        (s["name"] == "pre-update backup" && s["outcome"] == "ok")
            .then(|| s["detail"]["backup_id"].as_str().map(str::to_string))
            .flatten()
    })
}

impl Engine {
    /// Settle the interrupted deploys of the environments in scope. Whether any was (the
    /// caller then observes again).
    pub(super) async fn recover_releases(
        &self,
        ssot: &Ssot,
        ctx: &Context,
        obs: &Observation,
    ) -> Result<bool, EngineError> {
        let Some(config) = &self.delivery else {
            return Ok(false);
        };
        let dead: Vec<Release> = self
            .store
            .unfinished_releases()
            .await?
            .into_iter()
            .filter(|r| ctx.in_scope(&r.environment))
            .collect();
        if dead.is_empty() {
            return Ok(false);
        }
        let run = self
            .store
            .begin_run(&NewRun {
                kind: RunKind::Apply,
                trigger: ctx.trigger,
                ssot_revision: ssot.revision.clone(),
                actor: ctx.actor.clone(),
                environment: ctx.only_env.clone(),
                correlation_id: None,
            })
            .await?;
        let corr = run.correlation_id.clone();
        let mut failed = 0;
        for r in &dead {
            let name = r.environment.as_str();
            let found = ssot
                .environment(name)
                .filter(|e| e.spec.delivery.is_some())
                .and_then(|e| ssot.project(&e.spec.project).map(|p| (p, e)));
            let Some((project, env)) = found else {
                self.store
                    .finish_release(
                        r.id,
                        &ReleaseEnd {
                            status: RELEASE_FAILED.into(),
                            error: Some(
                                "interrupted; the environment no longer delivers Odoo".into(),
                            ),
                            ..Default::default()
                        },
                    )
                    .await?;
                continue;
            };
            let target = match Target::of(project, env, self.secrets.as_ref(), &obs.droplet_ips) {
                Ok(t) => t,
                Err(e) => {
                    failed += 1;
                    self.event(run.id, &corr, Level::Error, Some(name),
                        format!("release {} was interrupted and its host cannot be reached to settle it: {e}", r.id),
                        json!({"release_id": r.id})).await;
                    continue;
                }
            };
            let values =
                release::host_secrets(project, env, self.secrets.as_ref(), &obs.cluster_hosts)
                    .unwrap_or_default();
            let journal = StoreJournal {
                store: &self.store,
                release: r.id,
            };
            let safe = Backups {
                store: &self.store,
                ssot,
                env: name,
                db_url: release::database_url(env, &values),
                trigger: ctx.trigger,
                actor: ctx.actor.clone(),
            };
            let id = r.id.to_string();
            let outcome = deploy::recover(
                &Interrupted {
                    transport: &target.transport,
                    layout: target.layout.clone(),
                    supervisor: target.supervisor,
                    proxy: target.proxy.clone(),
                    release_id: &id,
                    backup_id: backup_of(r),
                    health_timeout: config.health_timeout,
                },
                &journal,
                &safe,
            )
            .await;
            let (end, msg) = match outcome {
                Ok(Recovered::Completed(st)) => (
                    ReleaseEnd {
                        status: RELEASE_HEALTHY.into(),
                        url: Some(target.url(st.slot)),
                        ..Default::default()
                    },
                    format!("release {id} had finished before its controller died: it serves"),
                ),
                Ok(Recovered::RolledBack { restored, previous }) => (
                    ReleaseEnd {
                        status: RELEASE_INTERRUPTED.into(),
                        error: Some(format!(
                            "interrupted (its controller died); rolled back{}",
                            restored
                                .as_deref()
                                .map(|b| format!(", the database restored from backup {b}"))
                                .unwrap_or_default()
                        )),
                        ..Default::default()
                    },
                    format!(
                        "release {id} was interrupted: rolled back{}",
                        previous
                            .map(|p| format!(", release {p} serves again"))
                            .unwrap_or_default()
                    ),
                ),
                Err(e) => {
                    failed += 1;
                    self.event(
                        run.id,
                        &corr,
                        Level::Error,
                        Some(name),
                        format!("release {id} was interrupted and could not be settled: {e}"),
                        json!({"release_id": id}),
                    )
                    .await;
                    continue;
                }
            };
            let healthy = end.status == RELEASE_HEALTHY;
            self.store.finish_release(r.id, &end).await?;
            if healthy {
                self.store.supersede_releases(name, r.id).await?;
            }
            let _ = crate::host::lock::release(&target.transport, &target.layout, &id).await;
            self.event(
                run.id,
                &corr,
                if healthy { Level::Info } else { Level::Warn },
                Some(name),
                msg,
                json!({"release_id": id}),
            )
            .await;
        }
        let status = if failed == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        self.store
            .finish_run(
                run.id,
                status,
                &json!({"interrupted_releases": dead.len(), "unsettled": failed}),
            )
            .await?;
        Ok(true)
    }
}
