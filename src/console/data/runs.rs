//! Runs, their detail, jobs and artifacts, and the run links a scope may follow.

use super::*;

#[derive(Serialize, JsonSchema)]
pub struct Runs {
    pub runs: Vec<Run>,
    pub jobs: Vec<QueueJob>,
    /// Saved plans still `planned` that have something to apply and are current, newest
    /// first (what `apply` with a `plan_id` is for).
    pub planned: Vec<Plan>,
    /// Plans still `planned` that are not worth applying: no changes, or outdated.
    pub set_aside: Vec<crate::console::views::SetAside>,
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
    let (planned, set_aside) = crate::console::views::triage_planned(st, planned).await?;
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

/// Clear the links to runs the request's scope does not see (a row of an environment in scope
/// that names a project-wide run, or another project's): the row stays, the link goes.
pub(in crate::console) async fn hide_unseen_runs(
    st: &AppState,
    links: Vec<&mut Option<Uuid>>,
) -> R<()> {
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
