//! Health: the overview, the environments list and the drift view.

use super::*;

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
pub(super) fn env_names(st: &AppState) -> Vec<String> {
    Scope::current().environments(st.ssot.as_ref())
}

/// Runs the overview lists.
const LAST_RUNS: i64 = 10;

pub async fn overview(st: &AppState) -> R<Overview> {
    let all = sees_all(st);
    let drift = visible_drift_counts(st).await?;
    let recent = st.store.recent_runs(fetch(st, LAST_RUNS)).await?;
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
        last_runs: runs.into_iter().take(LAST_RUNS as usize).collect(),
        gate_pass_rate: (total > 0).then(|| pass as f64 / total as f64),
        gate_outcomes,
        queue_depth,
        drift_series: crate::console::charts::open_series(&spans, since, to),
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
    // Indexed once (first row of an environment wins), not searched per environment.
    let mut open_by_env: std::collections::HashMap<&str, i64> = Default::default();
    for d in drift {
        open_by_env.entry(d.environment.as_str()).or_insert(d.open);
    }
    let mut last_by_env: std::collections::HashMap<&str, &Run> = Default::default();
    for r in last {
        if let Some(env) = r.environment.as_deref() {
            last_by_env.entry(env).or_insert(r);
        }
    }
    ssot.environments()
        .filter(|e| scope.role_on(&e.spec.project).is_some())
        .map(|e| {
            let name = e.metadata.name.as_str();
            let open = open_by_env.get(name).copied().unwrap_or(0);
            let own = last_by_env.get(name).copied();
            let last_run = match (own, global) {
                (Some(o), Some(g)) if g.started_at > o.started_at => Some(g),
                (Some(o), _) => Some(o),
                (None, g) => g,
            }
            .cloned();
            EnvHealth::new(e, open, last_run)
        })
        .collect()
}

impl EnvHealth {
    /// An environment's health from its open findings and its last run.
    pub fn new(
        e: &crate::ssot::model::Environment,
        open_drift: i64,
        last_run: Option<Run>,
    ) -> Self {
        EnvHealth {
            name: e.metadata.name.clone(),
            project: e.spec.project.clone(),
            stage: value_str(&e.spec.stage),
            branch: e.spec.branch.clone(),
            maturity: value_str(&e.spec.maturity),
            health: health_of(open_drift, last_run.as_ref()).into(),
            open_drift,
            last_run,
        }
    }

    /// Its client: the `client` label, else its project.
    pub fn client_of(e: &crate::ssot::model::Environment) -> String {
        e.metadata
            .labels
            .get("client")
            .cloned()
            .unwrap_or_else(|| e.spec.project.clone())
    }
}

/// The latest run over every environment, when the request's scope sees every project (a
/// reader of some projects does not see runs of no project, nor count them as a last run).
pub(in crate::console) async fn visible_global_run(st: &AppState) -> R<Option<Run>> {
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
        let (by_environment, by_field, mut open) = futures::try_join!(
            visible_drift_counts(st),
            st.store.open_drift_by_field(environment),
            st.store.open_drift(environment, limit),
        )?;
        hide_unseen_runs(st, open.iter_mut().map(|f| &mut f.last_run_id).collect()).await?;
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
    // A finding of an environment in scope may name a project-wide run: the link goes.
    hide_unseen_runs(st, open.iter_mut().map(|f| &mut f.last_run_id).collect()).await?;
    Ok(Drift {
        by_environment,
        by_field,
        open,
    })
}
