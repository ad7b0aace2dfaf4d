//! The console's view models: one function per page, shared by the HTML pages and the JSON
//! API so both show the same data. Each keeps only what the request's [`Scope`] covers
//! (see [`super::access`]): lists are filtered, a single record outside it is a 404.

use super::access::{
    check_env_filter, fetch, hidden, job_visible, plan_visible, sees_all, visible,
    visible_drift_counts, Scope,
};
use super::errors::ApiError;
use super::AppState;
use crate::store::{
    Action, Artifact, Backup, DriftCount, DriftFinding, Event, EventFilter, FieldCount, GateResult,
    GateRun, InventoryObject, Level, Plan, QueueJob, Run, SecretSyncRun, StatusCount, Timestamp,
    WebhookDelivery,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

type R<T> = Result<T, ApiError>;

const LIST: i64 = 200;

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn value_str<T: Serialize>(v: &T) -> String {
    match to_value(v) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[derive(Serialize, JsonSchema)]
pub struct EnvHealth {
    pub name: String,
    pub project: String,
    pub stage: String,
    pub branch: String,
    pub maturity: String,
    /// `drifted`, `failed`, `in sync` or `unknown`.
    pub health: String,
    pub open_drift: i64,
    pub last_run: Option<Run>,
}

#[derive(Serialize, JsonSchema)]
pub struct Overview {
    pub environments: Vec<EnvHealth>,
    pub open_drift: i64,
    pub drift_by_environment: Vec<DriftCount>,
    pub last_runs: Vec<Run>,
    pub gate_outcomes: Vec<StatusCount>,
    /// Passed results over all results, when there is any.
    pub gate_pass_rate: Option<f64>,
    pub queue_depth: i64,
    /// Open findings over the last 30 days: the count 30 days ago, then (time, open count)
    /// at each change, ending now.
    pub drift_series: Vec<(Timestamp, i64)>,
}

/// The SSOT environments the request's scope sees.
fn env_names(st: &AppState) -> Vec<String> {
    Scope::current().environments(st.ssot.as_ref())
}

pub async fn overview(st: &AppState) -> R<Overview> {
    let all = sees_all(st);
    let drift = visible_drift_counts(st).await?;
    let recent = st.store.recent_runs(fetch(st, LIST)).await?;
    let (gate_outcomes, queue_depth) = if all {
        (
            st.store.gate_outcomes().await?,
            st.store.queue_depth().await?,
        )
    } else {
        // Of this scope only: from the most recent rows.
        let mut outcomes: Vec<StatusCount> = Vec::new();
        for r in st.store.recent_gate_results(5_000).await? {
            if !visible(st, Some(&r.environment)) {
                continue;
            }
            match outcomes.iter_mut().find(|c| c.status == r.outcome) {
                Some(c) => c.count += 1,
                None => outcomes.push(StatusCount {
                    status: r.outcome,
                    count: 1,
                }),
            }
        }
        outcomes.sort_by(|a, b| a.status.cmp(&b.status));
        let depth = st
            .store
            .recent_jobs(5_000)
            .await?
            .iter()
            .filter(|j| matches!(j.status.as_str(), "queued" | "claimed") && job_visible(st, j))
            .count() as i64;
        (outcomes, depth)
    };
    let to = crate::store::now();
    let since = to - chrono::Duration::days(30);
    let mut spans = st.store.drift_spans(None, since, 50_000).await?;
    if !all {
        spans.retain(|s| visible(st, Some(&s.environment)));
    }
    let last = st.store.last_run_per_environment().await?;
    let global = visible_global_run(st).await?;
    let environments = env_health(st, &drift, &last, global.as_ref());
    let runs: Vec<Run> = recent
        .into_iter()
        .filter(|r| visible(st, r.environment.as_deref()))
        .collect();
    let total: i64 = gate_outcomes.iter().map(|c| c.count).sum();
    let pass: i64 = gate_outcomes
        .iter()
        .filter(|c| c.status == "pass")
        .map(|c| c.count)
        .sum();
    Ok(Overview {
        environments,
        open_drift: drift.iter().map(|d| d.open).sum(),
        drift_by_environment: drift,
        last_runs: runs.into_iter().take(10).collect(),
        gate_pass_rate: (total > 0).then(|| pass as f64 / total as f64),
        gate_outcomes,
        queue_depth,
        drift_series: super::charts::open_series(&spans, since, to),
    })
}

/// An environment's health from its open findings and its last run (its own or one over
/// every environment, whichever is newer).
pub fn health_of(open_drift: i64, last_run: Option<&Run>) -> &'static str {
    if open_drift > 0 {
        "drifted"
    } else if last_run.is_some_and(|r| r.status == "failed") {
        "failed"
    } else if last_run.is_some() {
        "in sync"
    } else {
        "unknown"
    }
}

/// Health of every SSOT environment from the open-drift counts, each environment's last run
/// (`last`) and the latest run over every environment (`global`, which counts for each one:
/// an environment's "last run" is the newer of the two; None for a reader who does not see
/// every project, see [`visible_global_run`]).
fn env_health(
    st: &AppState,
    drift: &[DriftCount],
    last: &[Run],
    global: Option<&Run>,
) -> Vec<EnvHealth> {
    let Some(ssot) = &st.ssot else {
        return Vec::new();
    };
    let scope = Scope::current();
    ssot.environments()
        .filter(|e| scope.role_on(&e.spec.project).is_some())
        .map(|e| {
            let name = e.metadata.name.clone();
            let open = drift
                .iter()
                .find(|d| d.environment == name)
                .map_or(0, |d| d.open);
            let own = last
                .iter()
                .find(|r| r.environment.as_deref() == Some(&name));
            let last_run = match (own, global) {
                (Some(o), Some(g)) if g.started_at > o.started_at => Some(g),
                (Some(o), _) => Some(o),
                (None, g) => g,
            }
            .cloned();
            let health = health_of(open, last_run.as_ref());
            EnvHealth {
                project: e.spec.project.clone(),
                stage: value_str(&e.spec.stage),
                branch: e.spec.branch.clone(),
                maturity: value_str(&e.spec.maturity),
                health: health.into(),
                open_drift: open,
                last_run,
                name,
            }
        })
        .collect()
}

/// The latest run over every environment, when the request's scope sees every project (a
/// reader of some projects does not see runs of no project, nor count them as a last run).
pub(super) async fn visible_global_run(st: &AppState) -> R<Option<Run>> {
    if !sees_all(st) {
        return Ok(None);
    }
    Ok(st.store.latest_global_run().await?)
}

/// The environments list: health per environment without the overview's other panels.
pub async fn environment_list(st: &AppState) -> R<Vec<EnvHealth>> {
    let (drift, last, global) = futures::try_join!(
        async { Ok::<_, ApiError>(visible_drift_counts(st).await?) },
        async { Ok::<_, ApiError>(st.store.last_run_per_environment().await?) },
        visible_global_run(st),
    )?;
    Ok(env_health(st, &drift, &last, global.as_ref()))
}

pub fn environments(st: &AppState) -> Vec<String> {
    env_names(st)
}

/// How many open findings the drift list shows unless `limit` says otherwise.
pub const DRIFT_LIST: i64 = 100;

#[derive(Serialize, JsonSchema)]
pub struct Drift {
    /// Open findings per environment (all of them).
    pub by_environment: Vec<DriftCount>,
    /// Open findings per field path (all of them, not only the listed ones): of the selected
    /// environment, or summed over every environment when none is selected.
    pub by_field: Vec<FieldCount>,
    /// The most recently seen open findings, at most `limit`.
    pub open: Vec<DriftFinding>,
}

pub async fn drift(st: &AppState, environment: Option<&str>, limit: Option<i64>) -> R<Drift> {
    let limit = limit.unwrap_or(DRIFT_LIST);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and 1000, got {limit}"
        )));
    }
    check_env_filter(st, environment)?;
    if environment.is_some() || sees_all(st) {
        let (by_environment, by_field, open) = futures::try_join!(
            visible_drift_counts(st),
            st.store.open_drift_by_field(environment),
            st.store.open_drift(environment, limit),
        )?;
        return Ok(Drift {
            by_environment,
            by_field,
            open,
        });
    }
    // A partial scope: the sums and the list over its environments, one query each.
    let by_environment = visible_drift_counts(st).await?;
    let mut by_field: Vec<FieldCount> = Vec::new();
    let mut open: Vec<DriftFinding> = Vec::new();
    for d in &by_environment {
        for f in st.store.open_drift_by_field(Some(&d.environment)).await? {
            match by_field.iter_mut().find(|c| c.field_path == f.field_path) {
                Some(c) => c.open += f.open,
                None => by_field.push(FieldCount {
                    environment: None,
                    ..f
                }),
            }
        }
        open.extend(st.store.open_drift(Some(&d.environment), limit).await?);
    }
    by_field.sort_by(|a, b| a.field_path.cmp(&b.field_path));
    open.sort_by_key(|f| std::cmp::Reverse(f.last_seen));
    open.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(Drift {
        by_environment,
        by_field,
        open,
    })
}

#[derive(Serialize, JsonSchema)]
pub struct Runs {
    pub runs: Vec<Run>,
    pub jobs: Vec<QueueJob>,
    /// Saved plans still `planned` that have something to apply and are current, newest
    /// first (what `apply` with a `plan_id` is for).
    pub planned: Vec<Plan>,
    /// Plans still `planned` that are not worth applying: no changes, or outdated.
    pub set_aside: Vec<super::views::SetAside>,
    /// The most recent failed runs.
    pub failed: Vec<Run>,
}

/// How many runs the runs list shows unless `limit` says otherwise.
pub const RUN_LIST: i64 = LIST;

pub async fn runs(st: &AppState) -> R<Runs> {
    runs_limited(st, RUN_LIST).await
}

/// The runs list with at most `limit` runs (the API's `?limit=`).
pub async fn runs_limited(st: &AppState, limit: i64) -> R<Runs> {
    let all = sees_all(st);
    let mut runs = st.store.recent_runs(fetch(st, limit)).await?;
    let mut jobs = st.store.recent_jobs(fetch(st, 50)).await?;
    let mut failed = st.store.failed_runs(fetch(st, 10)).await?;
    let mut planned = Vec::new();
    for p in st.store.planned_plans(fetch(st, 50)).await? {
        if planned.len() < 50 && (all || plan_visible(st, &p).await?) {
            planned.push(p);
        }
    }
    if !all {
        runs.retain(|r| visible(st, r.environment.as_deref()));
        runs.truncate(usize::try_from(limit).unwrap_or(0));
        jobs.retain(|j| job_visible(st, j));
        jobs.truncate(50);
        failed.retain(|r| visible(st, r.environment.as_deref()));
        failed.truncate(10);
    }
    let (planned, set_aside) = super::views::triage_planned(st, planned).await?;
    Ok(Runs {
        runs,
        jobs,
        planned,
        set_aside,
        failed,
    })
}

/// An artifact's metadata, when the scope covers the run that wrote it (or, for one no run
/// wrote, a backup of an environment in scope).
pub async fn artifact(st: &AppState, id: &str) -> R<Artifact> {
    crate::store::validate_artifact_id(id)?;
    let a = st
        .store
        .artifact(id)
        .await?
        .ok_or_else(|| hidden(format!("artifact {id}")))?;
    if sees_all(st) {
        return Ok(a);
    }
    let ok = match a.run_id {
        Some(run) => match st.store.run(run).await? {
            Some(r) => visible(st, r.environment.as_deref()),
            None => false,
        },
        None => st
            .store
            .backup_by_artifact(id)
            .await?
            .is_some_and(|b| visible(st, Some(&b.environment))),
    };
    if ok {
        Ok(a)
    } else {
        Err(hidden(format!("artifact {id}")))
    }
}

#[derive(Serialize, JsonSchema)]
pub struct RunDetail {
    pub run: Run,
    pub plans: Vec<Plan>,
    pub diffs: Vec<crate::store::Diff>,
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
    pub artifacts: Vec<Artifact>,
    /// The plans this run carried out (an apply run: named by its actions or its summary).
    pub applied_plans: Vec<Plan>,
    /// The diffs of the applied plans' runs (an apply run records none of its own).
    pub plan_diffs: Vec<crate::store::Diff>,
    /// The runs that applied the plans this run saved.
    pub applied_by: Vec<Run>,
    pub releases: Vec<crate::store::Release>,
    pub backups: Vec<Backup>,
    /// The jobs that started this run.
    pub jobs: Vec<QueueJob>,
}

pub fn parse_uuid(s: &str, what: &str) -> R<Uuid> {
    Uuid::parse_str(s).map_err(|_| {
        ApiError::bad_request(format!(
            "{what} must be a UUID, got {:?}",
            s.chars().take(64).collect::<String>()
        ))
    })
}

pub async fn run(st: &AppState, id: &str) -> R<RunDetail> {
    let id = parse_uuid(id, "run id")?;
    let run = st
        .store
        .run(id)
        .await?
        .filter(|r| visible(st, r.environment.as_deref()))
        .ok_or_else(|| ApiError::not_found(format!("run {id} not found")))?;
    let mut events = st
        .store
        .events(&EventFilter {
            run_id: Some(id),
            limit: Some(1000),
            ..Default::default()
        })
        .await?;
    events.reverse();
    let (plans, diffs, actions, artifacts, mut releases, mut backups, mut jobs) = futures::try_join!(
        st.store.plans_for_run(id),
        st.store.diffs_for_run(id),
        st.store.actions_for_run(id),
        st.store.artifacts_for_run(id),
        st.store.releases_for_run(id),
        st.store.backups_for_run(id),
        st.store.jobs_for_run(id),
    )?;
    let mut applied_ids: Vec<Uuid> = actions.iter().filter_map(|a| a.plan_id).collect();
    if let Some(p) = result_id(&Some(run.summary.clone()), "plan_id") {
        if run.kind == "apply" {
            applied_ids.push(p);
        }
    }
    applied_ids.sort();
    applied_ids.dedup();
    let mut applied_plans = Vec::new();
    let mut plan_diffs = Vec::new();
    for pid in applied_ids {
        if plans.iter().any(|p| p.id == pid) {
            continue;
        }
        if let Some(p) = st.store.plan(pid).await? {
            // Linked records are shown only when the scope covers them too.
            if plan_visible(st, &p).await? {
                plan_diffs.extend(st.store.diffs_for_run(p.run_id).await?);
                applied_plans.push(p);
            }
        }
    }
    let mut applied_by: Vec<Run> = Vec::new();
    for p in &plans {
        for r in st.store.runs_applying_plan(p.id).await? {
            if r.id != id
                && !applied_by.iter().any(|a| a.id == r.id)
                && visible(st, r.environment.as_deref())
            {
                applied_by.push(r);
            }
        }
    }
    releases.retain(|r| visible(st, Some(&r.environment)));
    backups.retain(|b| visible(st, Some(&b.environment)));
    jobs.retain(|j| job_visible(st, j));
    Ok(RunDetail {
        plans,
        diffs,
        actions,
        artifacts,
        events,
        applied_plans,
        plan_diffs,
        applied_by,
        releases,
        backups,
        jobs,
        run,
    })
}

/// A job with links to what its worker produced (`result.run_id`, `result.backup_id`).
#[derive(Serialize, JsonSchema)]
pub struct JobView {
    #[serde(flatten)]
    pub job: QueueJob,
    pub links: JobLinks,
}

#[derive(Serialize, Default, JsonSchema)]
pub struct JobLinks {
    pub page: String,
    /// `/runs/{run_id}` when the result names a run.
    pub run: Option<String>,
    /// `/backups#backup-{backup_id}` when the result names a backup.
    pub backup: Option<String>,
}

/// A UUID named by `key` in a job result (ignored unless it parses: the worker's output is
/// not trusted to be well formed).
pub fn result_id(result: &Option<Value>, key: &str) -> Option<Uuid> {
    result
        .as_ref()
        .and_then(|r| r.get(key))
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

pub async fn job(st: &AppState, id: &str) -> R<JobView> {
    let id = parse_uuid(id, "job id")?;
    let job = st
        .store
        .job(id)
        .await?
        .filter(|j| job_visible(st, j))
        .ok_or_else(|| ApiError::not_found(format!("job {id} not found")))?;
    let links = JobLinks {
        page: format!("/jobs/{}", job.id),
        run: result_id(&job.result, "run_id").map(|r| format!("/runs/{r}")),
        backup: result_id(&job.result, "backup_id").map(|b| format!("/backups#backup-{b}")),
    };
    Ok(JobView { job, links })
}

#[derive(Serialize, JsonSchema)]
pub struct GateDef {
    pub name: String,
    pub gate_type: String,
    pub severity: String,
    pub scope: Value,
    pub params: Value,
}

#[derive(Serialize, JsonSchema)]
pub struct Gates {
    pub defined: Vec<GateDef>,
    pub outcomes: Vec<StatusCount>,
    pub runs: Vec<GateRun>,
    pub results: Vec<GateResult>,
}

pub async fn gates(st: &AppState) -> R<Gates> {
    let all = sees_all(st);
    let envs = env_names(st);
    let defined = st
        .ssot
        .iter()
        .flat_map(|s| s.gates())
        // A gate scoped to environments is shown where one of them is in scope; an unscoped
        // gate applies to every environment.
        .filter(|g| {
            all || g.spec.scope.environments.is_empty()
                || g.spec.scope.environments.iter().any(|e| envs.contains(e))
        })
        .map(|g| GateDef {
            name: g.metadata.name.clone(),
            gate_type: value_str(&g.spec.gate_type),
            severity: value_str(&g.spec.severity),
            scope: to_value(&g.spec.scope),
            params: to_value(&g.spec.params),
        })
        .collect();
    if all {
        return Ok(Gates {
            defined,
            outcomes: st.store.gate_outcomes().await?,
            runs: st.store.recent_gate_runs(LIST).await?,
            results: st.store.recent_gate_results(LIST).await?,
        });
    }
    let mut runs = st.store.recent_gate_runs(fetch(st, LIST)).await?;
    runs.retain(|r| visible(st, Some(&r.environment)));
    runs.truncate(LIST as usize);
    let all_results = st.store.recent_gate_results(5_000).await?;
    let mut outcomes: Vec<StatusCount> = Vec::new();
    let mut results = Vec::new();
    for r in all_results {
        if !visible(st, Some(&r.environment)) {
            continue;
        }
        match outcomes.iter_mut().find(|c| c.status == r.outcome) {
            Some(c) => c.count += 1,
            None => outcomes.push(StatusCount {
                status: r.outcome.clone(),
                count: 1,
            }),
        }
        if results.len() < LIST as usize {
            results.push(r);
        }
    }
    outcomes.sort_by(|a, b| a.status.cmp(&b.status));
    Ok(Gates {
        defined,
        outcomes,
        runs,
        results,
    })
}

#[derive(Serialize, JsonSchema)]
pub struct Backups {
    pub policies: Vec<Value>,
    pub backups: Vec<Backup>,
}

pub async fn backups(st: &AppState) -> R<Backups> {
    let mut backups = st.store.backups(None, fetch(st, LIST)).await?;
    backups.retain(|b| visible(st, Some(&b.environment)));
    backups.truncate(LIST as usize);
    Ok(Backups {
        policies: st
            .ssot
            .iter()
            .flat_map(|s| s.backup_policies())
            .filter(|p| visible(st, Some(&p.spec.environment)))
            .map(to_value)
            .collect(),
        backups,
    })
}

#[derive(Serialize, JsonSchema)]
pub struct WaveView {
    pub wave: u32,
    pub name: Option<String>,
    pub modules: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct EnvModules {
    pub environment: String,
    pub module_set: Option<String>,
    pub core_policy: Option<String>,
    pub install: Vec<String>,
    pub waves: Vec<WaveView>,
}

pub fn modules(st: &AppState) -> Vec<EnvModules> {
    let Some(ssot) = &st.ssot else {
        return Vec::new();
    };
    let scope = Scope::current();
    ssot.environments()
        .filter(|e| scope.role_on(&e.spec.project).is_some())
        .map(|e| {
            let set = e
                .spec
                .modules
                .module_set
                .as_deref()
                .and_then(|n| ssot.module_set(n));
            let mut waves: Vec<WaveView> = set
                .map(|s| {
                    s.spec
                        .waves
                        .iter()
                        .map(|w| WaveView {
                            wave: w.wave,
                            name: w.name.clone(),
                            modules: w.modules.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            waves.sort_by_key(|w| w.wave);
            EnvModules {
                environment: e.metadata.name.clone(),
                module_set: e.spec.modules.module_set.clone(),
                core_policy: set.map(|s| value_str(&s.spec.core_policy)),
                install: e.spec.modules.install.clone(),
                waves,
            }
        })
        .collect()
}

#[derive(Serialize, JsonSchema)]
pub struct SecretView {
    pub name: String,
    pub source: String,
    pub required_by: Vec<String>,
    /// Whether the variable is set in the console's process environment. Never the value.
    pub present: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct Secrets {
    pub keys: Vec<SecretView>,
    pub syncs: Vec<SecretSyncRun>,
}

pub async fn secrets(st: &AppState) -> R<Secrets> {
    let all = sees_all(st);
    let scope = Scope::current();
    // A partial scope sees the keys its environments or projects need.
    let mine: Vec<String> = st
        .ssot
        .iter()
        .flat_map(|s| s.projects())
        .map(|p| p.metadata.name.clone())
        .filter(|p| scope.role_on(p).is_some())
        .chain(env_names(st))
        .collect();
    let keys = st
        .ssot
        .iter()
        .flat_map(|s| s.secret_keys())
        .filter(|k| all || k.required_by.iter().any(|r| mine.contains(r)))
        .map(|k| SecretView {
            name: k.name.clone(),
            source: value_str(&k.source),
            required_by: k.required_by.clone(),
            present: std::env::var_os(&k.name).is_some_and(|v| !v.is_empty()),
        })
        .collect();
    let mut syncs = st.store.secret_syncs(None, fetch(st, LIST)).await?;
    syncs.retain(|s| visible(st, s.environment.as_deref()));
    syncs.truncate(LIST as usize);
    Ok(Secrets { keys, syncs })
}

/// Clear the links to runs the request's scope does not see (a row of an environment in scope
/// that names a project-wide run, or another project's): the row stays, the link goes.
pub(super) async fn hide_unseen_runs(st: &AppState, links: Vec<&mut Option<Uuid>>) -> R<()> {
    if sees_all(st) {
        return Ok(());
    }
    let mut runs: Vec<(Uuid, bool)> = Vec::new();
    for link in links {
        let Some(id) = *link else { continue };
        let seen = match runs.iter().find(|(r, _)| *r == id) {
            Some((_, seen)) => *seen,
            None => {
                let seen = st
                    .store
                    .run(id)
                    .await?
                    .is_some_and(|r| visible(st, r.environment.as_deref()));
                runs.push((id, seen));
                seen
            }
        };
        if !seen {
            *link = None;
        }
    }
    Ok(())
}

/// Query of the events page and `/api/events`.
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct EventQuery {
    pub environment: Option<String>,
    pub level: Option<String>,
    pub correlation_id: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    pub limit: Option<i64>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub async fn events(st: &AppState, q: &EventQuery) -> R<Vec<Event>> {
    let min_level = match nonempty(&q.level) {
        Some(l) => Some(l.parse::<Level>().map_err(ApiError::bad_request)?),
        None => None,
    };
    let since = match nonempty(&q.since) {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "since must be RFC 3339 (e.g. 2026-01-31T12:00:00Z): {e}"
                    ))
                })?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and 1000, got {limit}"
        )));
    }
    let environment = nonempty(&q.environment);
    check_env_filter(st, environment.as_deref())?;
    let filter = |environment: Option<String>| EventFilter {
        environment,
        min_level,
        since,
        correlation_id: nonempty(&q.correlation_id),
        run_id: None,
        limit: Some(limit),
    };
    if environment.is_some() || sees_all(st) {
        return Ok(st.store.events(&filter(environment)).await?);
    }
    // A partial scope: its environments' events (never those of no environment), merged
    // newest first.
    let mut out: Vec<Event> = Vec::new();
    for env in env_names(st) {
        out.extend(st.store.events(&filter(Some(env))).await?);
    }
    out.sort_by(|a, b| b.ts.cmp(&a.ts).then(b.id.cmp(&a.id)));
    out.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(out)
}

pub async fn inventory(st: &AppState) -> R<Vec<InventoryObject>> {
    let mut objects = st.store.latest_inventory(2000).await?;
    if sees_all(st) {
        return Ok(objects);
    }
    objects.retain(|o| visible(st, o.environment.as_deref()));
    // The ingest's run (often project-wide) is linked only when the scope covers it.
    let links = objects.iter_mut().map(|o| &mut o.run_id).collect();
    hide_unseen_runs(st, links).await?;
    Ok(objects)
}

#[derive(Serialize, JsonSchema)]
pub struct Settings {
    pub version: &'static str,
    pub listen: String,
    pub started_at: Timestamp,
    pub store_backend: crate::store::Backend,
    pub store_location: String,
    pub artifacts: String,
    pub ssot_revision: Option<String>,
    /// Every project is readable without a token.
    pub public_read: bool,
    /// Projects readable without a token (`console.publicRead`), of those in scope.
    pub public_projects: Vec<String>,
    /// Tokens configured (0 unless the scope covers every project).
    pub viewer_tokens: usize,
    pub operator_tokens: usize,
    /// Registry keys named as console tokens whose variable was unset at start-up.
    pub missing_token_keys: Vec<String>,
    pub github_webhook_configured: bool,
    pub plane_webhook_configured: bool,
    pub recent_webhooks: Vec<WebhookDelivery>,
}

pub async fn settings(st: &AppState) -> R<Settings> {
    use super::auth::Role;
    // The console-wide facts (token counts, webhook deliveries) only for a scope over every
    // project.
    let all = sees_all(st);
    let public_projects = st
        .auth
        .public_projects
        .iter()
        .filter(|p| all || Scope::current().role_on(p).is_some())
        .cloned()
        .collect();
    Ok(Settings {
        public_projects,
        version: env!("CARGO_PKG_VERSION"),
        listen: st.listen.clone(),
        started_at: st.started_at,
        store_backend: st.store.backend(),
        store_location: crate::store::redact_url(st.store.location()),
        artifacts: st.store.artifact_store().describe(),
        ssot_revision: st.ssot.as_ref().map(|s| s.revision.clone()),
        public_read: st.auth.public_read,
        viewer_tokens: if all {
            st.auth.token_count(Role::Viewer)
        } else {
            0
        },
        operator_tokens: if all {
            st.auth.token_count(Role::Operator)
        } else {
            0
        },
        missing_token_keys: if all {
            st.auth.missing.clone()
        } else {
            Vec::new()
        },
        github_webhook_configured: st.github_secret.is_some(),
        plane_webhook_configured: st.plane_secret.is_some(),
        recent_webhooks: if all {
            st.store.recent_webhook_deliveries(50).await?
        } else {
            Vec::new()
        },
    })
}
