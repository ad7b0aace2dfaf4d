//! Runs & plans, run detail, jobs and the action forms.

use super::overview::runs_table;
use super::*;

// ------------------------------------------------------------------ runs

pub(super) fn action_forms(st: &AppState, ctx: &Ctx) -> String {
    if ctx.role < Role::Operator {
        return "<p class=\"empty\">Actions need an operator token (<a href=\"/login\">sign in</a>).</p>".into();
    }
    let mut envs = String::from("<option value=\"\">all environments</option>");
    for e in data::environments(st) {
        let _ = write!(envs, "<option value=\"{0}\">{0}</option>", esc(&e));
    }
    let mut out = String::from("<div class=\"cards\">");
    for (kind, _) in crate::console::api::ACTIONS {
        let _ = write!(
            out,
            "<form class=\"inline card\" method=\"post\" action=\"/actions/{kind}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"idempotency_key\" value=\"{key}\">\
             <select name=\"environment\">{envs}</select> <button type=\"submit\">{kind}</button></form>",
            csrf = esc(&ctx.csrf),
            key = uuid::Uuid::new_v4(),
        );
    }
    out.push_str("</div>");
    out
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
    p.h2("Actions");
    p.raw(&action_forms(&st, &ctx));
    p.h2("Runs");
    runs_table(&mut p, &d.runs);
    p.h2("Queued jobs");
    let rows: Vec<Vec<String>> = d
        .jobs
        .iter()
        .map(|j| {
            vec![
                format!(
                    "<a href=\"/jobs/{0}\"><code>{1}</code></a>",
                    j.id,
                    &j.id.to_string()[..8]
                ),
                esc(&j.queue),
                badge(&j.status),
                j.attempts.to_string(),
                ts(&j.updated_at),
            ]
        })
        .collect();
    p.table(
        &["Job", "Queue", "Status", "Attempts", "Updated"],
        &rows,
        "The work queue is empty.",
    );
    respond(&ctx, &p)
}

pub async fn run(State(st): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let d = match data::run(&st, &id).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let r = &d.run;
    let mut p = Page::new(
        format!("Run {}", &r.id.to_string()[..8]),
        Maturity::Beta,
        &[
            "ops.runs",
            "ops.plans",
            "ops.diffs",
            "ops.actions",
            "ops.run_events",
            "ops.artifacts",
        ],
    );
    p.raw(&format!(
        "<p>{} {} · trigger {} · actor {} · environment {} · revision <code>{}</code> · correlation <code>{}</code> · started {}</p>",
        badge(&r.status), esc(&r.kind), esc(&r.trigger), esc(&r.actor), opt(r.environment.as_deref()), esc(&r.ssot_revision), esc(&r.correlation_id), ts(&r.started_at)
    ));
    p.h2("Plans");
    if d.plans.is_empty() {
        p.empty("This run saved no plan.");
    }
    for plan in &d.plans {
        p.raw(&format!(
            "<p>Plan <code>{}</code> {} · artifact {}</p><pre>{}</pre>",
            plan.id,
            badge(&plan.status),
            plan.artifact_sha256
                .as_deref()
                .map_or("—".into(), artifact_link),
            esc(&plan.rendered)
        ));
    }
    p.h2("Diffs");
    if d.diffs.is_empty() {
        p.empty("No diffs: nothing differed.");
    }
    for diff in &d.diffs {
        p.raw(&format!(
            "<h3>{} {}/{}</h3>{}",
            opt(diff.environment.as_deref()),
            esc(&diff.resource_kind),
            esc(&diff.resource_name),
            diff_block(&diff.unified)
        ));
    }
    p.h2("Actions");
    let rows: Vec<Vec<String>> = d
        .actions
        .iter()
        .map(|a| {
            vec![
                esc(&a.operation),
                esc(&format!("{}/{}", a.resource_kind, a.resource_name)),
                badge(&a.status),
                a.attempts.to_string(),
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
            "Ledger key",
            "Error",
        ],
        &rows,
        "No actions in this run.",
    );
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
    let j = match data::job(&st, &id).await {
        Ok(j) => j,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(
        format!("Job {}", &j.id.to_string()[..8]),
        Maturity::Scaffold,
        &["ops.work_queue"],
    );
    p.raw(&format!(
        "<p>{} on queue <code>{}</code> · attempts {} · created {}</p><pre>{}</pre>",
        badge(&j.status),
        esc(&j.queue),
        j.attempts,
        ts(&j.created_at),
        esc(&serde_json::to_string_pretty(&j.payload).unwrap_or_default())
    ));
    p.para("A worker claims the job and records its run; the run then appears under Runs & Plans.");
    respond(&ctx, &p)
}

#[derive(serde::Deserialize)]
pub struct ActionForm {
    csrf: String,
    idempotency_key: String,
    #[serde(default)]
    environment: Option<String>,
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
    match crate::console::api::enqueue_action(&st, &kind, f.environment, &f.idempotency_key, &actor)
        .await
    {
        Ok(a) => Redirect::to(&format!("/jobs/{}", a.job.id)).into_response(),
        Err(e) => fail(e),
    }
}
