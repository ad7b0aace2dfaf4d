//! View models of the control-plane pages: the environment page (Odoo.sh's branch view), the
//! plan page, the jobs list, the overview board and the drift charts. Shared by the HTML pages
//! and the JSON API like [`super::data`], and like it scoped to the request's projects (see
//! [`super::access`]): a record outside the scope is a 404 as a missing one, lists are
//! filtered, and a run over every environment counts only for a reader of every project.

use super::access::{check_env_filter, fetch, job_visible, plan_visible, sees_all, visible, Scope};
use super::data::{self, EnvHealth};
use super::errors::ApiError;
use super::AppState;
use crate::ssot::model::Stage;
use crate::store::{
    Action, Backup, Diff, DriftFinding, DriftSpan, GateResult, InventoryObject, ManagedRow, Plan,
    QueueJob, Release, Run, Timestamp,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

mod environment;
pub use environment::*;

pub(super) type R<T> = Result<T, ApiError>;

/// Releases listed on an environment page (the chart reads up to [`DEPLOY_CHART`]).
pub const RELEASE_LIST: i64 = 50;
pub const DEPLOY_CHART: i64 = 200;
/// Days of drift the charts show unless asked otherwise.
pub const DRIFT_DAYS: i64 = 30;

// ------------------------------------------------------------------ runs and plans

/// What a run changed, from its summary: a plan's counts, or an apply's outcomes.
#[derive(Clone, Debug, Default, Serialize, PartialEq, JsonSchema)]
pub struct Changes {
    pub create: u64,
    pub update: u64,
    pub replace: u64,
    pub delete: u64,
    /// Apply outcomes.
    pub done: u64,
    pub failed: u64,
}

impl Changes {
    pub fn of(run: &Run) -> Option<Changes> {
        let s = &run.summary;
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        if let Some(p) = s.get("summary").filter(|v| v.is_object()) {
            return Some(Changes {
                create: n(p, "create"),
                update: n(p, "update"),
                replace: n(p, "replace"),
                delete: n(p, "delete"),
                ..Changes::default()
            });
        }
        if s.get("succeeded").is_some() || s.get("failed").is_some_and(Value::is_u64) {
            return Some(Changes {
                done: n(s, "succeeded") + n(s, "adopted"),
                failed: n(s, "failed"),
                ..Changes::default()
            });
        }
        None
    }

    pub fn planned(&self) -> u64 {
        self.create + self.update + self.replace + self.delete
    }

    /// `+2 ~1 -0` for a plan, `3 done, 1 failed` for an apply, `no changes` when empty.
    pub fn text(&self) -> String {
        if self.done + self.failed > 0 {
            return format!("{} done, {} failed", self.done, self.failed);
        }
        if self.planned() == 0 {
            return "no changes".into();
        }
        let mut parts = Vec::new();
        for (sym, n) in [
            ("+", self.create),
            ("~", self.update),
            ("±", self.replace),
            ("−", self.delete),
        ] {
            if n > 0 {
                parts.push(format!("{sym}{n}"));
            }
        }
        parts.join(" ")
    }
}

/// Seconds a run took (None while it runs).
pub fn duration_secs(started: &Timestamp, finished: &Option<Timestamp>) -> Option<f64> {
    finished.map(|f| (f - *started).num_milliseconds().max(0) as f64 / 1000.0)
}

/// Number of actions a stored plan holds.
pub fn plan_actions(plan: &Plan) -> usize {
    plan.plan
        .get("actions")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// A planned plan the runs page does not offer for apply, and why.
#[derive(Serialize, JsonSchema)]
pub struct SetAside {
    pub plan_id: Uuid,
    pub run_id: Uuid,
    pub reason: String,
}

/// Split `planned` plans (newest first) into those worth applying and those set aside: a
/// plan with no action, one made from another SSOT revision than the console's, and one
/// followed by a newer plan of the same scope.
pub async fn triage_planned(st: &AppState, planned: Vec<Plan>) -> R<(Vec<Plan>, Vec<SetAside>)> {
    let current = st.ssot.as_ref().map(|s| s.revision.clone());
    let mut seen_scopes: Vec<Option<String>> = Vec::new();
    let (mut keep, mut aside) = (Vec::new(), Vec::new());
    for plan in planned {
        let scope = st.store.run(plan.run_id).await?.and_then(|r| r.environment);
        let reason = if plan_actions(&plan) == 0 {
            Some("no changes: nothing to apply".to_string())
        } else if seen_scopes.contains(&scope) {
            Some("outdated: a newer plan covers the same environments".to_string())
        } else if current.as_ref().is_some_and(|c| *c != plan.ssot_revision) {
            Some(format!(
                "outdated: made from SSOT revision {}, the console runs {}",
                plan.ssot_revision,
                current.as_deref().unwrap_or_default()
            ))
        } else {
            None
        };
        if !seen_scopes.contains(&scope) {
            seen_scopes.push(scope);
        }
        match reason {
            Some(reason) => aside.push(SetAside {
                plan_id: plan.id,
                run_id: plan.run_id,
                reason,
            }),
            None => keep.push(plan),
        }
    }
    Ok((keep, aside))
}

#[derive(Serialize, JsonSchema)]
pub struct PlanView {
    pub plan: Plan,
    /// The run that made the plan.
    pub run: Option<Run>,
    pub action_count: usize,
    pub summary: Value,
    /// The diffs the plan was made from (its run's).
    pub diffs: Vec<Diff>,
    /// The ledger actions carrying out the plan.
    pub actions: Vec<Action>,
    /// The runs that applied it, newest first.
    pub applied_by: Vec<Run>,
}

pub async fn plan(st: &AppState, id: &str) -> R<PlanView> {
    let id = data::parse_uuid(id, "plan id")?;
    let plan = match st.store.plan(id).await? {
        Some(p) if plan_visible(st, &p).await? => p,
        _ => return Err(ApiError::not_found(format!("plan {id} not found"))),
    };
    let (run, diffs, actions, mut applied_by) = futures::try_join!(
        st.store.run(plan.run_id),
        st.store.diffs_for_run(plan.run_id),
        st.store.actions_for_plan(id),
        st.store.runs_applying_plan(id),
    )?;
    applied_by.retain(|r| visible(st, r.environment.as_deref()));
    Ok(PlanView {
        action_count: plan_actions(&plan),
        summary: plan.plan.get("summary").cloned().unwrap_or(Value::Null),
        plan,
        run,
        diffs,
        actions,
        applied_by,
    })
}

// ------------------------------------------------------------------ jobs

#[derive(Serialize, JsonSchema)]
pub struct JobRow {
    #[serde(flatten)]
    pub job: QueueJob,
    pub action: Option<String>,
    pub environment: Option<String>,
    pub run_id: Option<Uuid>,
}

impl JobRow {
    pub fn of(job: QueueJob) -> JobRow {
        JobRow {
            action: job.payload["action"].as_str().map(str::to_string),
            environment: job.payload["environment"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            run_id: data::result_id(&job.result, "run_id"),
            job,
        }
    }
}

/// Jobs the jobs list shows.
pub const JOB_LIST: i64 = 200;

pub const JOB_STATUSES: &[&str] = &["queued", "claimed", "done", "failed"];

pub async fn jobs(st: &AppState, status: Option<&str>) -> R<Vec<JobRow>> {
    if let Some(s) = status {
        if !JOB_STATUSES.contains(&s) {
            return Err(ApiError::bad_request(format!(
                "status must be one of {}, got {s:?}",
                JOB_STATUSES.join(", ")
            )));
        }
    }
    let mut jobs = st.store.jobs(status, fetch(st, JOB_LIST)).await?;
    if !sees_all(st) {
        jobs.retain(|j| job_visible(st, j));
        jobs.truncate(JOB_LIST as usize);
    }
    Ok(jobs.into_iter().map(JobRow::of).collect())
}

// ------------------------------------------------------------------ the overview board

#[derive(Serialize, JsonSchema)]
pub struct BoardRow {
    #[serde(flatten)]
    pub env: EnvHealth,
    pub client: String,
    /// The latest release, whatever its status.
    pub latest_release: Option<Release>,
    /// The release serving now.
    pub serving: Option<Release>,
    /// Its last run (its own or one over every environment) failed, or its latest release
    /// did not end healthy.
    pub failing: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct Board {
    pub rows: Vec<BoardRow>,
    pub projects: Vec<String>,
    pub clients: Vec<String>,
    pub failed_runs: Vec<Run>,
    pub failed_jobs: Vec<QueueJob>,
    pub total: usize,
}

#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct BoardQuery {
    pub project: Option<String>,
    pub client: Option<String>,
    /// Substring of the environment's name.
    pub q: Option<String>,
}

/// Failures first, then drift, then unknown, then healthy; by name within each.
fn rank(r: &BoardRow) -> u8 {
    if r.failing {
        0
    } else if r.env.open_drift > 0 {
        1
    } else if r.env.health == "unknown" {
        2
    } else {
        3
    }
}

/// The board of `envs` (the environments' health, as [`data::environment_list`] or the
/// overview's `environments` give it).
pub async fn board(st: &AppState, q: &BoardQuery, envs: Vec<EnvHealth>) -> R<Board> {
    let (mut latest, mut serving, mut failed_runs, mut failed_jobs) = futures::try_join!(
        async { Ok::<_, ApiError>(st.store.latest_releases().await?) },
        async { Ok(st.store.serving_releases().await?) },
        async { Ok(st.store.failed_runs(fetch(st, 10)).await?) },
        async { Ok(st.store.jobs(Some("failed"), fetch(st, 10)).await?) },
    )?;
    if !sees_all(st) {
        failed_runs.retain(|r| visible(st, r.environment.as_deref()));
        failed_runs.truncate(10);
        failed_jobs.retain(|j| job_visible(st, j));
        failed_jobs.truncate(10);
        latest.retain(|r| visible(st, Some(&r.environment)));
        serving.retain(|r| visible(st, Some(&r.environment)));
        let links = latest
            .iter_mut()
            .chain(serving.iter_mut())
            .map(|r| &mut r.run_id)
            .collect();
        data::hide_unseen_runs(st, links).await?;
    }
    let pick = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (project, client, needle) = (pick(&q.project), pick(&q.client), pick(&q.q));
    // Indexed once: one pass over the SSOT and the release lists, not one per row.
    use std::collections::HashMap;
    let client_by_env: HashMap<&str, String> = st
        .ssot
        .iter()
        .flat_map(|s| s.environments())
        .map(|e| (e.metadata.name.as_str(), EnvHealth::client_of(e)))
        .collect();
    let client_of = |e: &EnvHealth| {
        client_by_env
            .get(e.name.as_str())
            .cloned()
            .unwrap_or_else(|| e.project.clone())
    };
    // The first row of an environment wins, as a search in list order would.
    fn by_env(list: &[Release]) -> HashMap<&str, &Release> {
        let mut m = HashMap::new();
        for r in list {
            m.entry(r.environment.as_str()).or_insert(r);
        }
        m
    }
    let (latest, serving) = (by_env(&latest), by_env(&serving));
    let total = envs.len();
    let mut projects: Vec<String> = envs.iter().map(|e| e.project.clone()).collect();
    projects.sort();
    projects.dedup();
    let mut clients: Vec<String> = envs.iter().map(client_of).collect();
    clients.sort();
    clients.dedup();
    let mut rows: Vec<BoardRow> = envs
        .into_iter()
        .filter(|e| project.as_ref().is_none_or(|p| *p == e.project))
        .filter(|e| needle.as_ref().is_none_or(|n| e.name.contains(n.as_str())))
        .map(|e| {
            let latest_release = latest.get(e.name.as_str()).map(|r| (*r).clone());
            let serving = serving.get(e.name.as_str()).map(|r| (*r).clone());
            let failing = e.last_run.as_ref().is_some_and(|r| r.status == "failed")
                || latest_release.as_ref().is_some_and(|r| {
                    matches!(
                        r.status.as_str(),
                        crate::store::RELEASE_FAILED
                            | crate::store::RELEASE_ROLLED_BACK
                            | crate::store::RELEASE_INTERRUPTED
                    )
                });
            BoardRow {
                client: client_of(&e),
                env: e,
                latest_release,
                serving,
                failing,
            }
        })
        .filter(|r| client.as_ref().is_none_or(|c| *c == r.client))
        .collect();
    rows.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.env.name.cmp(&b.env.name)));
    Ok(Board {
        rows,
        projects,
        clients,
        failed_runs,
        failed_jobs,
        total,
    })
}

// ------------------------------------------------------------------ drift charts

/// At most this many finding lives and resolved findings in a drift history.
const SPAN_LIMIT: i64 = 50_000;
const RESOLVED_LIMIT: i64 = 2_000;

#[derive(Serialize, JsonSchema)]
pub struct DriftHistory {
    pub from: Timestamp,
    pub to: Timestamp,
    pub days: i64,
    pub spans: Vec<DriftSpan>,
    pub resolved: Vec<DriftFinding>,
}

/// The longest range the drift charts show.
pub const MAX_DAYS: i64 = 365;

pub async fn drift_history(st: &AppState, environment: Option<&str>, days: i64) -> R<DriftHistory> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "days must be between 1 and {MAX_DAYS}, got {days}"
        )));
    }
    check_env_filter(st, environment)?;
    let to = crate::store::now();
    let from = to - chrono::Duration::days(days);
    let (spans, resolved) = if environment.is_some() || sees_all(st) {
        futures::try_join!(
            st.store.drift_spans(environment, from, SPAN_LIMIT),
            st.store.resolved_drift(environment, from, RESOLVED_LIMIT),
        )?
    } else {
        // A partial scope: its environments' findings, one query each, merged.
        let (mut spans, mut resolved) = (Vec::new(), Vec::new());
        for env in Scope::current().environments(st.ssot.as_ref()) {
            spans.extend(st.store.drift_spans(Some(&env), from, SPAN_LIMIT).await?);
            resolved.extend(
                st.store
                    .resolved_drift(Some(&env), from, RESOLVED_LIMIT)
                    .await?,
            );
        }
        spans.sort_by_key(|s| s.first_seen);
        spans.truncate(SPAN_LIMIT as usize);
        resolved.sort_by_key(|f| std::cmp::Reverse(f.resolved_at));
        resolved.truncate(RESOLVED_LIMIT as usize);
        (spans, resolved)
    };
    Ok(DriftHistory {
        from,
        to,
        days,
        spans,
        resolved,
    })
}
