//! Plan: observe, diff, plan, and store it all as evidence — the diffs, the drift findings
//! (refusals and conflicts included), the plan itself, and the notices of what it refused.

use super::observe::Detail;
use super::{policies, Context, Engine, EngineError};
use crate::reconcile::diff::{Change, ResourceDiff};
use crate::reconcile::notify::{ApplyFailure, CycleOutcome};
use crate::reconcile::plan::{self, Plan, PlanInput};
use crate::reconcile::render;
use crate::ssot::Ssot;
use crate::store::{self, DriftObservation, Level, NewDiff, NewPlan, NewRun, RunKind, RunStatus};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use uuid::Uuid;

/// What `plan` produced.
#[derive(Debug, Clone)]
pub struct Planned {
    pub run_id: Uuid,
    pub plan_id: Uuid,
    pub plan: Plan,
    pub text: String,
}

/// The notice of a refusal: announced once per resource and reason kind.
fn refusal_notice(r: &plan::Refusal) -> ApplyFailure {
    ApplyFailure {
        what: "change refused",
        env: r.env.clone(),
        resource: r.resource.clone(),
        dedupe_key: format!("refused:{}:{}", r.resource, r.kind),
        error: r.reason.clone(),
    }
}

impl Engine {
    /// Plan: observe, diff, plan, and store it all as evidence.
    pub async fn plan(&self, ssot: &Ssot, ctx: &Context) -> Result<Planned, EngineError> {
        let run = self
            .store
            .begin_run(&NewRun {
                kind: RunKind::Plan,
                trigger: ctx.trigger,
                ssot_revision: ssot.revision.clone(),
                actor: ctx.actor.clone(),
                environment: ctx.only_env.clone(),
                correlation_id: None,
            })
            .await?;
        let corr = run.correlation_id.clone();
        let result = self.plan_in_run(ssot, ctx, run.id, &corr).await;
        let (status, summary) = match &result {
            Ok(p) => (
                RunStatus::Succeeded,
                json!({"plan_id": p.plan_id, "summary": p.plan.summary}),
            ),
            Err(e) => {
                self.event(
                    run.id,
                    &corr,
                    Level::Error,
                    None,
                    format!("plan failed: {e}"),
                    json!({}),
                )
                .await;
                (RunStatus::Failed, json!({"error": e.to_string()}))
            }
        };
        self.store.finish_run(run.id, status, &summary).await?;
        result
    }

    async fn plan_in_run(
        &self,
        ssot: &Ssot,
        ctx: &Context,
        run_id: Uuid,
        corr: &str,
    ) -> Result<Planned, EngineError> {
        let obs = self.observe_and_diff(ssot, ctx, Detail::Full).await?;
        let diffs = obs.diffs;
        // Diff evidence goes in chunks: a rollout batch is thousands of creates, and each
        // row copies its resource's values.
        let changed: Vec<&ResourceDiff> =
            diffs.iter().filter(|d| d.change != Change::NoOp).collect();
        for chunk in changed.chunks(256) {
            let rows: Vec<NewDiff> = chunk
                .iter()
                .map(|d| NewDiff {
                    run_id,
                    environment: Some(d.key.env.clone()),
                    resource_kind: d.key.kind.as_str().to_string(),
                    resource_name: d.key.name.clone(),
                    before: d.before.clone(),
                    after: d.after.clone(),
                    changes: serde_json::to_value(&d.fields).unwrap_or(Value::Null),
                    unified: d.text.clone(),
                })
                .collect();
            self.store.insert_diffs(&rows).await?;
        }
        // Each resource's generation, for the keys of the actions it may get.
        let keys: Vec<String> = changed.iter().map(|d| d.key.to_string()).collect();
        drop(changed);
        let generations = self.store.ledger_generations(&keys).await?;
        self.record_drift(&diffs, run_id, ctx.only_env.as_deref())
            .await?;
        let policies = policies(ssot);
        let plan = plan::plan(
            diffs,
            PlanInput {
                revision: &ssot.revision,
                policies: &policies,
                desired_count: obs.desired_count,
                fingerprints: obs.fingerprints,
                allow_destroy_production: ctx.allow_destroy_production,
                generations: &generations,
            },
        )?;
        let text = render::plan_text(&plan, false);
        // The plan's JSON artifact is written by save_plan (one serialization, no copies).
        let row = self
            .store
            .save_plan(NewPlan {
                run_id,
                ssot_revision: ssot.revision.clone(),
                live_fingerprint: plan.live_fingerprint.clone(),
                plan: serde_json::to_string(&plan).map_err(|e| {
                    store::StoreError::Invalid(format!("the plan does not serialize: {e}"))
                })?,
                rendered: text,
            })
            .await?;
        self.store
            .put_artifact(
                row.rendered.as_bytes(),
                "text/plain; charset=utf-8",
                Some(run_id),
            )
            .await?;
        let text = row.rendered;
        for r in &plan.refused {
            self.event(
                run_id,
                corr,
                Level::Warn,
                Some(&r.env),
                format!("{} held: {}", r.env, r.reason),
                json!({"resource": r.resource, "kind": r.kind}),
            )
            .await;
        }
        // A resource of an environment this plan covered, with no action and nothing
        // refused, is converged.
        let pending: BTreeSet<String> = plan
            .actions
            .iter()
            .map(|a| a.diff.key.to_string())
            .chain(plan.refused.iter().map(|r| r.resource.clone()))
            .collect();
        let settled = |env: &str, resource: &str| {
            ctx.in_scope(env) && ssot.environment(env).is_some() && !pending.contains(resource)
        };
        let refusals: Vec<ApplyFailure> = plan.refused.iter().map(refusal_notice).collect();
        let notified = self
            .notifications()
            .notify_cycle(
                ssot,
                ctx.only_env.as_deref(),
                run_id,
                corr,
                &CycleOutcome {
                    failures: &refusals,
                    settled: &settled,
                },
            )
            .await;
        if notified != Default::default() {
            self.event(
                run_id,
                corr,
                Level::Info,
                ctx.only_env.as_deref(),
                format!(
                    "notifications: {} sent, {} already sent, {} failed",
                    notified.sent, notified.already_sent, notified.failed
                ),
                serde_json::to_value(&notified).unwrap_or(Value::Null),
            )
            .await;
        }
        self.event(
            run_id,
            corr,
            Level::Info,
            ctx.only_env.as_deref(),
            format!("planned: {}", render::summary_line(&plan)),
            json!({"plan_id": row.id}),
        )
        .await;
        Ok(Planned {
            run_id,
            plan_id: row.id,
            plan,
            text,
        })
    }

    /// Drift: a field of an existing object that differs from desired is a finding (a
    /// conflict — a same-named object that is not ours — is one at `/`); a resource that
    /// matches again resolves its open findings.
    async fn record_drift(
        &self,
        diffs: &[ResourceDiff],
        run_id: Uuid,
        only_env: Option<&str>,
    ) -> Result<(), EngineError> {
        // Only resources with an open finding need a resolve (one read, not one write per
        // converged object).
        let open: BTreeSet<(String, String, String)> = self
            .store
            .open_drift(only_env, i64::MAX)
            .await?
            .into_iter()
            .map(|f| (f.environment, f.resource_kind, f.resource_name))
            .collect();
        let mut obs = Vec::new();
        let finding =
            |d: &ResourceDiff, path: &str, desired: Value, observed: Value| DriftObservation {
                environment: d.key.env.clone(),
                resource_kind: d.key.kind.as_str().to_string(),
                resource_name: d.key.name.clone(),
                field_path: path.to_string(),
                desired: Some(desired),
                observed: Some(observed),
                run_id: Some(run_id),
            };
        for d in diffs {
            match d.change {
                Change::Update | Change::Replace | Change::Held | Change::Refused => {
                    for f in &d.fields {
                        obs.push(finding(d, &f.path, f.after.clone(), f.before.clone()));
                    }
                    if let (true, Some(note)) = (d.fields.is_empty(), &d.note) {
                        obs.push(finding(
                            d,
                            "/",
                            json!({"held": note}),
                            d.before.clone().unwrap_or(Value::Null),
                        ));
                    }
                }
                Change::Conflict => obs.push(finding(
                    d,
                    "/",
                    json!({"owner": "odooops"}),
                    json!({"conflict": "exists, not ours", "id": d.live_id}),
                )),
                Change::NoOp
                    if open.contains(&(
                        d.key.env.clone(),
                        d.key.kind.as_str().to_string(),
                        d.key.name.clone(),
                    )) =>
                {
                    self.store
                        .resolve_drift(
                            &d.key.env,
                            d.key.kind.as_str(),
                            &d.key.name,
                            None,
                            &format!("run:{run_id}"),
                        )
                        .await?;
                }
                Change::NoOp | Change::Create | Change::Delete => {}
            }
        }
        if !obs.is_empty() {
            self.store.upsert_drift(&obs).await?;
        }
        Ok(())
    }
}
