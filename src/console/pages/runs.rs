//! Runs & plans, run detail, jobs and the action forms.

use super::*;
use crate::console::views::{self, Changes};

// ------------------------------------------------------------------ runs

/// `<option>`s of `envs`, `first` as the empty choice (None: no empty choice).
pub(super) fn env_options(envs: &[String], first: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(label) = first {
        let _ = write!(out, "<option value=\"\">{}</option>", esc(label));
    }
    for e in envs {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(e));
    }
    out
}

/// One action form: hidden CSRF and idempotency key, then `fields` (already-safe HTML).
pub(super) fn action_form_html(ctx: &Ctx, kind: &str, fields: &str, label: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"/actions/{kind}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"idempotency_key\" value=\"{key}\">\
         {fields} <button type=\"submit\">{label}</button></form>",
        csrf = esc(&ctx.csrf),
        key = uuid::Uuid::new_v4(),
        label = esc(label),
    )
}

pub(super) const NEED_OPERATOR: &str =
    "<p class=\"empty\">Actions need an operator token (<a href=\"/login\">sign in</a>).</p>";

pub(super) fn action_forms(st: &AppState, ctx: &Ctx) -> String {
    let select = format!(
        "<select name=\"environment\" aria-label=\"environment\">{}</select>",
        env_options(&data::environments(st), Some("all environments"))
    );
    let mut out = String::from("<div class=\"actions\">");
    for (kind, _) in crate::console::api::ACTIONS {
        // restore and clone need a backup or a source: their forms are on the Backups page.
        if crate::console::api::action_fields(kind)
            .iter()
            .any(|(_, required)| *required)
        {
            continue;
        }
        out.push_str(&action_or_signin(ctx, None, kind, &select, kind, kind));
    }
    out.push_str("</div>");
    out
}

/// Runs with a label people tell apart, what they changed and how long they took.
pub(super) fn runs_table(p: &mut Page, runs: &[crate::store::Run], empty: &str) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                run_ref(r),
                esc(&r.trigger),
                r.environment.as_deref().map_or("all".into(), env_link),
                badge(&r.status),
                Changes::of(r).map_or("—".into(), |c| esc(&c.text())),
                views::duration_secs(&r.started_at, &r.finished_at)
                    .map_or("running".into(), duration),
                ts(&r.started_at),
                esc(&r.actor),
            ]
        })
        .collect();
    p.table(
        &[
            "Run",
            "Trigger",
            "Environment",
            "Status",
            "Changes",
            "Took",
            "Started",
            "Actor",
        ],
        &rows,
        empty,
    );
}

pub(super) fn actions_table(p: &mut Page, actions: &[crate::store::Action], empty: &str) {
    let rows: Vec<Vec<String>> = actions
        .iter()
        .map(|a| {
            vec![
                esc(&a.operation),
                esc(&format!("{}/{}", a.resource_kind, a.resource_name)),
                badge(&a.status),
                a.attempts.to_string(),
                a.plan_id.as_ref().map_or("—".into(), plan_link),
                a.run_id.as_ref().map_or("—".into(), run_link),
                format!("<code>{}</code>", esc(&a.dedupe_key)),
                opt(a.error.as_deref()),
            ]
        })
        .collect();
    p.table(
        &[
            "Operation",
            "Resource",
            "Outcome",
            "Attempts",
            "Plan",
            "Run",
            "Ledger key",
            "Error",
        ],
        &rows,
        empty,
    );
}

/// The failed runs, in a box of their own at the top of a page (nothing when there are none).
pub(super) fn failures_box(
    p: &mut Page,
    failed: &[crate::store::Run],
    jobs: &[crate::store::QueueJob],
) {
    if failed.is_empty() && jobs.is_empty() {
        return;
    }
    p.raw("<section class=\"failures\" aria-label=\"failures\">");
    p.h2("Failures");
    if !failed.is_empty() {
        let items: Vec<String> = failed
            .iter()
            .map(|r| {
                let err = r.summary["error"].as_str().unwrap_or_default();
                format!(
                    "<li>{} {} {}</li>",
                    run_ref(r),
                    r.environment
                        .as_deref()
                        .map_or("all environments".into(), env_link),
                    esc(&err.chars().take(200).collect::<String>())
                )
            })
            .collect();
        p.raw(&format!("<ul>{}</ul>", items.concat()));
    }
    if !jobs.is_empty() {
        let items: Vec<String> = jobs
            .iter()
            .map(|j| {
                format!(
                    "<li>{} {} {}</li>",
                    job_link(&j.id),
                    esc(j.payload["action"].as_str().unwrap_or(&j.queue)),
                    esc(&j
                        .last_error
                        .as_deref()
                        .unwrap_or_default()
                        .chars()
                        .take(200)
                        .collect::<String>())
                )
            })
            .collect();
        p.raw(&format!("<ul>{}</ul>", items.concat()));
    }
    p.raw("</section>");
}

pub(super) async fn runs(State(st): State<AppState>, ctx: Ctx) -> Response {
    let d = match data::runs(&st).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        "Runs & Plans",
        Maturity::Beta,
        &["ops.runs", "ops.plans", "ops.work_queue"],
    );
    failures_box(&mut p, &d.failed, &[]);
    p.h2("Actions");
    p.raw(&action_forms(&st, &ctx));
    p.h2("Saved plans awaiting apply");
    let rows: Vec<Vec<String>> = d
        .planned
        .iter()
        .map(|plan| {
            vec![
                plan_link(&plan.id),
                run_link(&plan.run_id),
                views::plan_actions(plan).to_string(),
                format!("<code>{}</code>", esc(&plan.ssot_revision)),
                ts(&plan.created_at),
                action_or_signin(
                    &ctx,
                    None,
                    "apply",
                    &format!(
                        "<input type=\"hidden\" name=\"plan_id\" value=\"{}\">",
                        plan.id
                    ),
                    "apply",
                    "apply this plan",
                ),
            ]
        })
        .collect();
    p.table(
        &["Plan", "Made by", "Actions", "Revision", "Saved", "Apply"],
        &rows,
        "No saved plan is waiting with changes to apply.",
    );
    if !d.set_aside.is_empty() {
        let rows: Vec<Vec<String>> = d
            .set_aside
            .iter()
            .map(|a| vec![plan_link(&a.plan_id), run_link(&a.run_id), esc(&a.reason)])
            .collect();
        p.raw("<details><summary>Plans not offered for apply</summary>");
        p.table(&["Plan", "Made by", "Why"], &rows, "");
        p.raw("</details>");
    }
    p.h2("Runs");
    runs_table(
        &mut p,
        &d.runs,
        "No runs recorded yet. Run `odooops plan` or `odooops demo`.",
    );
    p.h2("Recent jobs");
    let jobs: Vec<views::JobRow> = d.jobs.into_iter().take(20).map(views::JobRow::of).collect();
    super::chain::jobs_table(&mut p, &jobs, "The work queue is empty.");
    p.raw("<p><a href=\"/jobs\">All jobs</a></p>");
    respond(&ctx, &p)
}

pub async fn run(State(st): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let d = match data::run(&st, &id).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let r = &d.run;
    let mut p = Page::new(
        format!("Run {}", run_label(&r.kind, &r.started_at, &r.id)),
        Maturity::Beta,
        &[
            "ops.runs",
            "ops.plans",
            "ops.diffs",
            "ops.actions",
            "ops.releases",
            "ops.backups",
            "ops.run_events",
            "ops.artifacts",
        ],
    );
    let took =
        views::duration_secs(&r.started_at, &r.finished_at).map_or("running".into(), duration);
    let started_by = if d.jobs.is_empty() {
        esc(&r.trigger)
    } else {
        format!(
            "{} via {}",
            esc(&r.trigger),
            d.jobs
                .iter()
                .map(|j| job_link(&j.id))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    p.raw(&format!(
        "<dl class=\"kv\"><dt>Status</dt><dd>{} {}</dd><dt>Changes</dt><dd>{}</dd>\
         <dt>Environment</dt><dd>{}</dd><dt>Started by</dt><dd>{started_by} · actor {}</dd>\
         <dt>Started</dt><dd>{} (took {})</dd><dt>SSOT revision</dt><dd><code>{}</code></dd>\
         <dt>Correlation</dt><dd><code>{}</code></dd><dt>Id</dt><dd><code>{}</code></dd></dl>",
        badge(&r.status),
        esc(&r.kind),
        Changes::of(r).map_or("—".into(), |c| esc(&c.text())),
        r.environment
            .as_deref()
            .map_or("all environments".into(), env_link),
        esc(&r.actor),
        ts(&r.started_at),
        esc(&took),
        esc(&r.ssot_revision),
        esc(&r.correlation_id),
        r.id,
    ));
    if let Some(err) = r.summary["error"].as_str() {
        p.raw(&format!(
            "<section class=\"failures\" aria-label=\"error\"><h2>Error</h2><pre>{}</pre></section>",
            esc(err)
        ));
    }
    p.h2("Plans");
    if d.plans.is_empty() && d.applied_plans.is_empty() {
        p.empty("This run neither saved nor applied a plan.");
    }
    for plan in &d.plans {
        let applied = if d.applied_by.is_empty() {
            "not applied yet".to_string()
        } else {
            format!(
                "applied by {}",
                d.applied_by
                    .iter()
                    .map(run_ref)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        p.raw(&format!(
            "<p>Saved {} {} · {} actions · {applied} · artifact {}</p><pre>{}</pre>",
            plan_link(&plan.id),
            badge(&plan.status),
            views::plan_actions(plan),
            plan.artifact_sha256
                .as_deref()
                .map_or("—".into(), artifact_link),
            esc(&plan.rendered)
        ));
    }
    for plan in &d.applied_plans {
        p.raw(&format!(
            "<p>Applied {} {} · made by {} · artifact {}</p><pre>{}</pre>",
            plan_link(&plan.id),
            badge(&plan.status),
            run_link(&plan.run_id),
            plan.artifact_sha256
                .as_deref()
                .map_or("—".into(), artifact_link),
            esc(&plan.rendered)
        ));
    }
    p.h2("Diffs");
    let (diffs, from_plan) = if d.diffs.is_empty() {
        (&d.plan_diffs, true)
    } else {
        (&d.diffs, false)
    };
    if diffs.is_empty() {
        p.empty("No diffs: nothing differed.");
    } else if from_plan {
        p.para("Recorded by the run that made the applied plan:");
    }
    for diff in diffs.iter() {
        p.raw(&format!(
            "<h3>{} {}/{}</h3>{}",
            opt(diff.environment.as_deref()),
            esc(&diff.resource_kind),
            esc(&diff.resource_name),
            diff_block(&diff.unified)
        ));
    }
    p.h2("Actions");
    actions_table(&mut p, &d.actions, "No actions in this run.");
    if !d.releases.is_empty() {
        p.h2("Releases");
        super::environment::releases_table(&mut p, &d.releases, true);
    }
    if !d.backups.is_empty() {
        p.h2("Backups");
        let rows: Vec<Vec<String>> = d
            .backups
            .iter()
            .map(|b| {
                vec![
                    backup_link(&b.id),
                    env_link(&b.environment),
                    esc(&b.kind),
                    b.size_bytes.to_string(),
                    artifact_link(&b.sha256),
                    ts(&b.created_at),
                ]
            })
            .collect();
        p.table(
            &["Backup", "Environment", "Kind", "Bytes", "Dump", "Created"],
            &rows,
            "",
        );
    }
    p.h2("Artifacts");
    let rows: Vec<Vec<String>> = d
        .artifacts
        .iter()
        .map(|a| {
            vec![
                artifact_link(&a.sha256),
                esc(&a.media_type),
                a.size_bytes.to_string(),
            ]
        })
        .collect();
    p.table(&["Artifact", "Type", "Bytes"], &rows, "No artifacts.");
    p.h2("Event timeline");
    events_table(&mut p, &d.events);
    respond(&ctx, &p)
}

pub async fn job(State(st): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let v = match data::job(&st, &id).await {
        Ok(j) => j,
        Err(e) => return fail(e),
    };
    let j = &v.job;
    let mut p = Page::new(
        format!("Job ·{}", short_id(&j.id)),
        Maturity::Beta,
        &["ops.work_queue"],
    );
    let env = j.payload["environment"].as_str().filter(|e| !e.is_empty());
    let mut rows = vec![
        vec!["Status".into(), badge(&j.status)],
        vec![
            "Action".into(),
            esc(j.payload["action"].as_str().unwrap_or_default()),
        ],
        vec![
            "Environment".into(),
            env.map_or("all environments".into(), env_link),
        ],
        vec![
            "Requested by".into(),
            esc(j.payload["requested_by"].as_str().unwrap_or("—")),
        ],
        vec!["Queue".into(), format!("<code>{}</code>", esc(&j.queue))],
        vec!["Attempts".into(), j.attempts.to_string()],
        vec!["Last error".into(), opt(j.last_error.as_deref())],
        vec!["Created".into(), ts(&j.created_at)],
        vec!["Updated".into(), ts(&j.updated_at)],
    ];
    if let Some(run) = data::result_id(&j.result, "run_id") {
        rows.push(vec!["Run".into(), run_link(&run)]);
    }
    if let Some(b) = data::result_id(&j.result, "backup_id") {
        rows.push(vec!["Backup".into(), backup_link(&b)]);
    }
    if let Some(plan) = data::result_id(&j.result, "plan_id").or_else(|| {
        j.payload["plan_id"]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
    }) {
        rows.push(vec!["Plan".into(), plan_link(&plan)]);
    }
    rows.push(vec!["Id".into(), format!("<code>{}</code>", j.id)]);
    p.table(&["Field", "Value"], &rows, "");
    p.raw("<p><a href=\"/jobs\">All jobs</a></p>");
    p.h2("Request");
    p.raw(&format!(
        "<pre>{}</pre>",
        esc(&serde_json::to_string_pretty(&j.payload).unwrap_or_default())
    ));
    p.h2("Result");
    match &j.result {
        Some(r) => {
            p.raw(&format!(
                "<pre>{}</pre>",
                esc(&serde_json::to_string_pretty(r).unwrap_or_default())
            ));
        }
        None => {
            p.empty("No result yet: a worker records one when it completes the job; its run then appears under Runs & Plans.");
        }
    }
    respond(&ctx, &p)
}

#[derive(serde::Deserialize)]
pub struct ActionForm {
    csrf: String,
    idempotency_key: String,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    plan_id: Option<String>,
    #[serde(default)]
    backup_id: Option<String>,
    #[serde(default)]
    from: Option<String>,
}

pub async fn action_form(
    State(st): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(kind): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "the form is incomplete");
    };
    if !auth::csrf_ok(&headers, &f.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match its cookie; reload the page and retry",
        );
    }
    let actor = format!("console:{}", ctx.role.as_str());
    let body = crate::console::api::ActionBody {
        environment: f.environment,
        plan_id: f.plan_id,
        backup_id: f.backup_id,
        from: f.from,
    };
    match crate::console::api::enqueue_action(&st, &kind, &body, &f.idempotency_key, &actor).await {
        Ok(a) => Redirect::to(&format!("/jobs/{}", a.job.id)).into_response(),
        Err(e) => fail(e),
    }
}
