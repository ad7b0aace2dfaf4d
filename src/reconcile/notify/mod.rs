//! Notifications, once per finding: a drift finding opened by a plan, or an apply action
//! that failed, is posted to Slack and tracked as a Plane work item for every `Notifier` its
//! environment lists; when the finding is resolved — the drift finding closed, or the failed
//! resource seen converged by a later plan or applied by a later apply — the same work item
//! is moved to `Done` and a "resolved" (or "recovered") message posted, once.
//!
//! Every side effect is a ledger row first (constitution rule 6): the dedupe key
//! `notify:<subject>:<notifier>:<channel>` (`…:resolved` for the follow-up) is committed
//! before the post, so a re-plan that sees the same open finding finds the succeeded row
//! and sends nothing. External ids (Slack `ts`, Plane work item id) are kept in the row's
//! response summary, where the follow-up finds them. A failed post is recorded (row
//! `failed`, a warning event) and retried on the next cycle; it never fails the reconcile.
//! Detect-only environments notify too: that is their point.

use super::evidence;
use crate::provider::http::{Metrics, Sleeper, TokioSleeper};
use crate::provider::plane::Finding;
use crate::provider::SecretSource;
use crate::ssot::{Environment, NotifierSpec, NotifyEvent, Ssot, Stage};
use crate::store::{Action, DriftFinding, Level, Store, StoreError};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Ledger operation of a finding's Slack post / Plane work item (the rows that await a
/// "resolved" follow-up), and of their follow-ups.
pub const OP_SLACK: &str = "notify_slack";
pub const OP_PLANE: &str = "notify_plane";
pub const OP_SLACK_RESOLVED: &str = "notify_slack_resolved";
pub const OP_PLANE_RESOLVED: &str = "notify_plane_resolved";
/// An apply failure's Slack post / Plane work item (the channel is in the request), and
/// their follow-ups once the resource is converged.
pub const OP_APPLY_FAILED: &str = "notify_apply_failed";
pub const OP_APPLY_RECOVERED: &str = "notify_apply_recovered";

/// How notifiers are reached. Base URLs default to the SSOT project's provider settings
/// (else the real APIs); the simulator sets them.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// Slack Web API root (`https://slack.com`), for bot-token posts. Webhook posts go to
    /// the webhook URL itself.
    pub slack_base: Option<String>,
    /// Plane API root (`https://api.plane.so`).
    pub plane_base: Option<String>,
    pub metrics: Arc<Metrics>,
    pub sleeper: Arc<dyn Sleeper>,
    pub timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            slack_base: None,
            plane_base: None,
            metrics: Arc::new(Metrics::default()),
            sleeper: Arc::new(TokioSleeper),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Who notifies: the ledger and events go to `store`, secrets (webhook URLs, tokens) are
/// read from `secrets`, notifiers are reached as `config` says.
pub struct Notifications<'a> {
    pub store: &'a Store,
    pub secrets: &'a dyn SecretSource,
    pub config: &'a NotifyConfig,
}

impl Notifications<'_> {
    async fn event(
        &self,
        run: Uuid,
        corr: &str,
        level: Level,
        env: Option<&str>,
        msg: String,
        fields: Value,
    ) {
        evidence::event(self.store, run, corr, level, env, msg, fields).await
    }
}

/// An apply action that failed, to be notified.
#[derive(Clone, Debug)]
pub struct ApplyFailure {
    /// What happened, in the message: `apply failed`, `change refused`.
    pub what: &'static str,
    pub env: String,
    /// `env/kind/name`.
    pub resource: String,
    pub dedupe_key: String,
    pub error: String,
}

/// What a reconcile cycle learned about its resources, for the apply-failure notices.
pub struct CycleOutcome<'a> {
    /// Actions that failed in this cycle (an apply), to announce.
    pub failures: &'a [ApplyFailure],
    /// Whether the cycle saw a resource (`env`, `env/kind/name`) converged: the test that
    /// closes an announced apply failure.
    pub settled: &'a (dyn Fn(&str, &str) -> bool + Sync),
}

/// What one notification pass did (for the run's evidence).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NotifyReport {
    pub sent: usize,
    pub already_sent: usize,
    pub failed: usize,
}

enum Outcome {
    Sent,
    Already,
    Failed,
}

/// How a finding's follow-up is sent (on the channel of the announcement it follows).
struct FollowUp {
    /// Ledger operation of the follow-up of a Slack post, and of a Plane work item.
    slack_op: &'static str,
    plane_op: &'static str,
    /// What the message says happened.
    text: &'static str,
    /// The Slack notifier must still subscribe to this event to be told.
    event: NotifyEvent,
}

const DRIFT_RESOLVED: FollowUp = FollowUp {
    slack_op: OP_SLACK_RESOLVED,
    plane_op: OP_PLANE_RESOLVED,
    text: "drift resolved",
    event: NotifyEvent::DriftResolved,
};

const APPLY_RECOVERED: FollowUp = FollowUp {
    slack_op: OP_APPLY_RECOVERED,
    plane_op: OP_APPLY_RECOVERED,
    text: "apply recovered",
    // Told of the failure, told of the recovery.
    event: NotifyEvent::ApplyFailed,
};

/// `apply failed` → `Apply failed`.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A string field of a notification row's request summary (empty when absent).
fn request_field<'a>(row: &'a Action, name: &str) -> &'a str {
    row.request_summary
        .as_ref()
        .and_then(|r| r.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn short(v: &Option<Value>) -> String {
    let s = v.as_ref().map(Value::to_string).unwrap_or_default();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

fn drift_subject(f: &DriftFinding) -> String {
    format!(
        "{}/{}/{} {}",
        f.environment, f.resource_kind, f.resource_name, f.field_path
    )
}

/// An environment and the notifiers (name, spec) it lists.
type EnvNotifiers<'a> = (&'a Environment, Vec<(String, &'a NotifierSpec)>);

/// Who to tell, per environment in scope.
fn targets<'a>(ssot: &'a Ssot, only: Option<&str>) -> BTreeMap<String, EnvNotifiers<'a>> {
    let notifiers: BTreeMap<&str, &NotifierSpec> = ssot
        .notifiers()
        .map(|n| (n.metadata.name.as_str(), &n.spec))
        .collect();
    ssot.environments()
        .filter(|e| only.is_none_or(|o| e.metadata.name == o))
        .filter(|e| !e.spec.notifiers.is_empty())
        .map(|e| {
            let list = e
                .spec
                .notifiers
                .iter()
                .filter_map(|n| notifiers.get(n.as_str()).map(|s| (n.clone(), *s)))
                .collect();
            (e.metadata.name.clone(), (e, list))
        })
        .collect()
}

mod channels;
mod follow_up;

impl Notifications<'_> {
    /// Notify newly opened findings, resolved findings, apply failures and recovered apply
    /// failures of the environments in scope. Never fails: problems are evidence, retried
    /// next cycle.
    pub async fn notify_cycle(
        &self,
        ssot: &Ssot,
        only_env: Option<&str>,
        run_id: Uuid,
        corr: &str,
        cycle: &CycleOutcome<'_>,
    ) -> NotifyReport {
        let mut report = NotifyReport::default();
        if let Err(e) = self
            .notify_inner(ssot, only_env, run_id, corr, cycle, &mut report)
            .await
        {
            self.event(
                run_id,
                corr,
                Level::Warn,
                only_env,
                format!("notifications interrupted (retried next cycle): {e}"),
                json!({}),
            )
            .await;
        }
        report
    }

    async fn notify_inner(
        &self,
        ssot: &Ssot,
        only_env: Option<&str>,
        run_id: Uuid,
        corr: &str,
        cycle: &CycleOutcome<'_>,
        report: &mut NotifyReport,
    ) -> Result<(), StoreError> {
        let who = targets(ssot, only_env);
        let awaiting_slack = self.store.ledger_awaiting_resolution(OP_SLACK).await?;
        let awaiting_plane = self.store.ledger_awaiting_resolution(OP_PLANE).await?;
        let awaiting_apply = self
            .store
            .ledger_awaiting_resolution(OP_APPLY_FAILED)
            .await?;
        if who.is_empty()
            && awaiting_slack.is_empty()
            && awaiting_plane.is_empty()
            && awaiting_apply.is_empty()
        {
            return Ok(());
        }
        let mut count = |o: Outcome| match o {
            Outcome::Sent => report.sent += 1,
            Outcome::Already => report.already_sent += 1,
            Outcome::Failed => report.failed += 1,
        };
        // Always read: a finding still open must never get its "resolved" follow-up.
        let open = self.store.open_drift(only_env, i64::MAX).await?;
        let open_ids: BTreeSet<String> = open.iter().map(|f| f.id.to_string()).collect();

        // 1. Opened findings.
        for f in &open {
            let Some((env, notifiers)) = who.get(&f.environment) else {
                continue;
            };
            let subject = drift_subject(f);
            let text = format!(
                "[odooops] drift detected: {subject}: live {} ≠ desired {}",
                short(&f.observed),
                short(&f.desired)
            );
            for (name, spec) in notifiers {
                let request = |channel: &str| {
                    json!({"env": f.environment, "notifier": name, "channel": channel,
                           "finding": f.id.to_string(), "subject": subject})
                };
                if spec
                    .slack
                    .as_ref()
                    .is_some_and(|s| s.events.contains(&NotifyEvent::DriftDetected))
                {
                    let o = self
                        .deliver(
                            run_id,
                            corr,
                            &f.environment,
                            format!("notify:{}:{name}:slack", f.id),
                            OP_SLACK,
                            &subject,
                            request("slack"),
                            || self.slack_post(ssot, env, spec, &text),
                        )
                        .await?;
                    count(o);
                }
                if let Some(p) = spec
                    .plane
                    .as_ref()
                    .filter(|p| p.work_items_for.contains(&NotifyEvent::DriftDetected))
                {
                    let finding = Finding {
                        external_id: format!("odooops-drift-{}", f.id),
                        name: format!("Drift: {subject}"),
                        description_html: format!(
                            "<p>{}: live <code>{}</code>, desired <code>{}</code> (since {}).</p>",
                            html_escape(&subject),
                            html_escape(&short(&f.observed)),
                            html_escape(&short(&f.desired)),
                            f.first_seen.to_rfc3339()
                        ),
                        priority: if env.spec.stage == Stage::Production {
                            "high".into()
                        } else {
                            "medium".into()
                        },
                        labels: p.label.iter().cloned().chain(["drift".into()]).collect(),
                        state: None,
                    };
                    let o = self
                        .deliver(
                            run_id,
                            corr,
                            &f.environment,
                            format!("notify:{}:{name}:plane", f.id),
                            OP_PLANE,
                            &subject,
                            request("plane"),
                            || async {
                                let plane = self.plane_for(ssot, env, spec)?;
                                let item = plane
                                    .ensure_work_item(&finding)
                                    .await
                                    .map_err(|e| e.to_string())?;
                                Ok(json!({"work_item_id": item.id, "sequence_id": item.sequence_id}))
                            },
                        )
                        .await?;
                    count(o);
                }
            }
        }

        // 2. Resolved findings: the follow-up of every announced finding no longer open.
        for row in awaiting_slack.iter().chain(awaiting_plane.iter()) {
            let env_name = request_field(row, "env");
            if only_env.is_some_and(|o| o != env_name)
                || open_ids.contains(request_field(row, "finding"))
            {
                continue;
            }
            count(
                self.follow_up(ssot, &who, row, &DRIFT_RESOLVED, run_id, corr)
                    .await?,
            );
        }

        // 3. Apply failures: once per failed action (its ledger dedupe key).
        for fail in cycle.failures {
            let Some((env, notifiers)) = who.get(&fail.env) else {
                continue;
            };
            let text = format!("[odooops] {}: {}: {}", fail.what, fail.resource, fail.error);
            for (name, spec) in notifiers {
                let request = |channel: &str| {
                    json!({"env": fail.env, "notifier": name, "channel": channel,
                           "action": fail.dedupe_key, "subject": fail.resource})
                };
                if spec
                    .slack
                    .as_ref()
                    .is_some_and(|s| s.events.contains(&NotifyEvent::ApplyFailed))
                {
                    let o = self
                        .deliver(
                            run_id,
                            corr,
                            &fail.env,
                            format!("notify:apply:{}:{name}:slack", fail.dedupe_key),
                            OP_APPLY_FAILED,
                            &fail.resource,
                            request("slack"),
                            || self.slack_post(ssot, env, spec, &text),
                        )
                        .await?;
                    count(o);
                }
                if let Some(p) = spec
                    .plane
                    .as_ref()
                    .filter(|p| p.work_items_for.contains(&NotifyEvent::ApplyFailed))
                {
                    let finding = Finding {
                        external_id: format!("odooops-apply-{}", fail.dedupe_key),
                        name: format!("{}: {}", capitalized(fail.what), fail.resource),
                        description_html: format!("<p>{}</p>", html_escape(&fail.error)),
                        priority: if env.spec.stage == Stage::Production {
                            "urgent".into()
                        } else {
                            "high".into()
                        },
                        labels: p.label.iter().cloned().collect(),
                        state: None,
                    };
                    let o = self
                        .deliver(
                            run_id,
                            corr,
                            &fail.env,
                            format!("notify:apply:{}:{name}:plane", fail.dedupe_key),
                            OP_APPLY_FAILED,
                            &fail.resource,
                            request("plane"),
                            || async {
                                let plane = self.plane_for(ssot, env, spec)?;
                                let item = plane
                                    .ensure_work_item(&finding)
                                    .await
                                    .map_err(|e| e.to_string())?;
                                Ok(json!({"work_item_id": item.id}))
                            },
                        )
                        .await?;
                    count(o);
                }
            }
        }
        // 4. Recovered apply failures: the follow-up of every announced failure whose
        //    resource this cycle saw converged.
        for row in &awaiting_apply {
            let env_name = request_field(row, "env");
            if only_env.is_some_and(|o| o != env_name)
                || !(cycle.settled)(env_name, request_field(row, "subject"))
            {
                continue;
            }
            count(
                self.follow_up(ssot, &who, row, &APPLY_RECOVERED, run_id, corr)
                    .await?,
            );
        }
        Ok(())
    }
}
