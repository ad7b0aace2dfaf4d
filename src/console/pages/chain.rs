//! The plan page, the jobs list and the correlation jump: the links of the evidence chain
//! that have no page of their own elsewhere.

use super::*;
use crate::console::views::{self, JobRow};

pub async fn plan(State(st): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let v = match views::plan(&st, &id).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let plan = &v.plan;
    let mut p = Page::new(
        format!("Plan ·{}", short_id(&plan.id)),
        Maturity::Beta,
        &["ops.plans", "ops.diffs", "ops.actions", "ops.runs"],
    );
    let made_by = v
        .run
        .as_ref()
        .map_or_else(|| run_link(&plan.run_id), run_ref);
    let applied = if v.applied_by.is_empty() {
        "not applied yet".to_string()
    } else {
        v.applied_by
            .iter()
            .map(|r| format!("{} {}", run_ref(r), badge(&r.status)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    p.raw(&format!(
        "<dl class=\"kv\"><dt>Status</dt><dd>{}</dd><dt>Made by</dt><dd>{made_by}</dd>\
         <dt>Applied by</dt><dd>{applied}</dd><dt>Actions</dt><dd>{}</dd>\
         <dt>SSOT revision</dt><dd><code>{}</code></dd><dt>Saved</dt><dd>{}</dd>\
         <dt>Artifact</dt><dd>{}</dd><dt>Id</dt><dd><code>{}</code></dd></dl>",
        badge(&plan.status),
        v.action_count,
        esc(&plan.ssot_revision),
        ts(&plan.created_at),
        plan.artifact_sha256
            .as_deref()
            .map_or("—".into(), artifact_link),
        plan.id
    ));
    if plan.status == "planned" && v.action_count > 0 {
        let env = v.run.as_ref().and_then(|r| r.environment.clone());
        p.raw(&format!(
            "<div class=\"actions\">{}</div>",
            action_or_signin(
                &ctx,
                env.as_deref(),
                "apply",
                &format!(
                    "<input type=\"hidden\" name=\"plan_id\" value=\"{}\">",
                    plan.id
                ),
                "Apply this plan",
                "apply this plan"
            )
        ));
    } else if v.action_count == 0 {
        p.empty("This plan has no changes: there is nothing to apply.");
    }
    p.h2("Plan");
    p.raw(&format!("<pre>{}</pre>", esc(&plan.rendered)));
    p.h2("Diffs it was made from");
    if v.diffs.is_empty() {
        p.empty("The run that made this plan recorded no diffs.");
    }
    for diff in &v.diffs {
        p.raw(&format!(
            "<h3>{} {}/{}</h3>{}",
            opt(diff.environment.as_deref()),
            esc(&diff.resource_kind),
            esc(&diff.resource_name),
            diff_block(&diff.unified)
        ));
    }
    p.h2("Actions carrying it out");
    runs::actions_table(
        &mut p,
        &v.actions,
        "No ledger action has been recorded for this plan yet.",
    );
    respond(&ctx, &p)
}

#[derive(serde::Deserialize, Default)]
pub struct JobsQ {
    status: Option<String>,
}

pub(super) fn jobs_table(p: &mut Page, jobs: &[JobRow], empty: &str) {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                job_link(&j.job.id),
                esc(j.action.as_deref().unwrap_or(&j.job.queue)),
                j.environment.as_deref().map_or("all".into(), env_link),
                badge(&j.job.status),
                j.job.attempts.to_string(),
                j.run_id.as_ref().map_or("—".into(), run_link),
                opt(j.job.last_error.as_deref()),
                ts(&j.job.updated_at),
            ]
        })
        .collect();
    p.table(
        &[
            "Job",
            "Action",
            "Environment",
            "Status",
            "Attempts",
            "Run",
            "Error",
            "Updated",
        ],
        &rows,
        empty,
    );
}

pub(super) async fn jobs(
    State(st): State<AppState>,
    ctx: Ctx,
    q: Result<Query<JobsQ>, QueryRejection>,
) -> Response {
    let status = q
        .ok()
        .and_then(|Query(q)| q.status)
        .filter(|s| !s.is_empty());
    let mut p = Page::new("Jobs", Maturity::Beta, &["ops.work_queue"]);
    let mut filter = String::from(
        "<form class=\"filters\" method=\"get\" action=\"/jobs\"><label for=\"job-status\">Status</label>\
         <select id=\"job-status\" name=\"status\"><option value=\"\">any</option>",
    );
    for s in views::JOB_STATUSES {
        let sel = if status.as_deref() == Some(*s) {
            " selected"
        } else {
            ""
        };
        let _ = write!(filter, "<option value=\"{s}\"{sel}>{s}</option>");
    }
    filter.push_str("</select> <button type=\"submit\">Filter</button></form>");
    p.raw(&filter);
    match views::jobs(&st, status.as_deref()).await {
        Ok(jobs) => jobs_table(
            &mut p,
            &jobs,
            "No jobs: operator actions, webhooks and scheduled backups queue them here.",
        ),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            p.empty(&e.message);
        }
        Err(e) => return fail(e),
    }
    respond(&ctx, &p)
}

/// `/correlations/{id}`: the run that began the correlation, else its events; 404 when the
/// request's scope sees neither (a run or events of another project's, as an unknown id).
pub async fn correlation(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match st.store.run_by_correlation(&id).await {
        Ok(Some(r)) if crate::console::access::visible(&st, r.environment.as_deref()) => {
            return Redirect::to(&format!("/runs/{}", r.id)).into_response()
        }
        Ok(_) => {}
        Err(e) => return fail(e.into()),
    }
    let q = EventQuery {
        correlation_id: Some(id.clone()),
        limit: Some(1),
        ..EventQuery::default()
    };
    match data::events(&st, &q).await {
        Ok(events) if !events.is_empty() => {
            Redirect::to(&format!("/events?correlation_id={}", url_enc(&id))).into_response()
        }
        Ok(_) => error_page(
            StatusCode::NOT_FOUND,
            &format!(
                "correlation {:?} not found",
                id.chars().take(64).collect::<String>()
            ),
        ),
        Err(e) => fail(e),
    }
}
