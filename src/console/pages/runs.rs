//! Runs & plans, run detail, jobs and the action forms.

use super::overview::runs_table;
use super::*;

// ------------------------------------------------------------------ runs

/// `<option>`s of the SSOT's environments, `first` as the empty choice (None: no empty choice).
pub(super) fn env_options(st: &AppState, first: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(label) = first {
        let _ = write!(out, "<option value=\"\">{}</option>", esc(label));
    }
    for e in data::environments(st) {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(&e));
    }
    out
}

/// One action form: hidden CSRF and idempotency key, then `fields` (already-safe HTML).
pub(super) fn action_form_html(ctx: &Ctx, kind: &str, fields: &str, label: &str) -> String {
    format!(
        "<form class=\"inline card\" method=\"post\" action=\"/actions/{kind}\">\
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
    if ctx.role < Role::Operator {
        return NEED_OPERATOR.into();
    }
    let select = format!(
        "<select name=\"environment\">{}</select>",
        env_options(st, Some("all environments"))
    );
    let mut out = String::from("<div class=\"cards\">");
    for (kind, _) in crate::console::api::ACTIONS {
        // restore and clone need a backup or a source: their forms are on the Backups page.
        if crate::console::api::action_fields(kind)
            .iter()
            .any(|(_, required)| *required)
        {
            continue;
        }
        out.push_str(&action_form_html(ctx, kind, &select, kind));
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
    p.h2("Saved plans awaiting apply");
    let rows: Vec<Vec<String>> = d
        .planned
        .iter()
        .map(|plan| {
            let apply = if ctx.role >= Role::Operator {
                action_form_html(
                    &ctx,
                    "apply",
                    &format!(
                        "<input type=\"hidden\" name=\"plan_id\" value=\"{}\">",
                        plan.id
                    ),
                    "apply this plan",
                )
            } else {
                "—".into()
            };
            vec![
                format!("<code>{}</code>", &plan.id.to_string()[..8]),
                run_link(&plan.run_id),
                badge(&plan.status),
                format!("<code>{}</code>", esc(&plan.ssot_revision)),
                ts(&plan.created_at),
                apply,
            ]
        })
        .collect();
    p.table(
        &["Plan", "Run", "Status", "Revision", "Saved", "Apply"],
        &rows,
        "No saved plan is waiting: run a plan first.",
    );
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
    let v = match data::job(&st, &id).await {
        Ok(j) => j,
        Err(e) => return fail(e),
    };
    let j = &v.job;
    let mut p = Page::new(
        format!("Job {}", &j.id.to_string()[..8]),
        Maturity::Beta,
        &["ops.work_queue"],
    );
    let mut rows = vec![
        vec!["Status".into(), badge(&j.status)],
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
        rows.push(vec![
            "Backup".into(),
            format!(
                "<a href=\"/backups#backup-{b}\"><code>{}</code></a>",
                &b.to_string()[..8]
            ),
        ]);
    }
    p.table(&["Job", ""], &rows, "");
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
