//! Server-rendered pages. Each one labels its maturity and data sources and has a stable
//! empty state; the data comes from [`super::data`], shared with the JSON API.

use super::auth::{self, Principal, Role};
use super::data::{self, EventQuery};
use super::errors::ApiError;
use super::html::{artifact_link, badge, diff_block, esc, opt, ts, url_enc, Maturity, Page};
use super::{hv, AppState};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, MethodRouter};
use axum::Form;
use std::fmt::Write as _;

/// Request context of a page: who asks, and the CSRF token for its forms.
pub struct Ctx {
    pub role: Role,
    pub csrf: String,
    new_csrf: bool,
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Self::Rejection> {
        let role = parts.extensions.get::<Principal>().map_or(Role::Anonymous, |p| p.role);
        let existing = auth::cookie(&parts.headers, auth::CSRF_COOKIE)
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        let (csrf, new_csrf) = match existing {
            Some(c) => (c.to_string(), false),
            None => (auth::new_csrf(), true),
        };
        Ok(Ctx { role, csrf, new_csrf, path: parts.uri.path().to_string() })
    }
}

fn respond(ctx: &Ctx, page: &Page) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.render(&ctx.path),
    )
        .into_response();
    if ctx.new_csrf {
        r.headers_mut().append(
            header::SET_COOKIE,
            hv(&format!("{}={}; Path=/; SameSite=Strict", auth::CSRF_COOKIE, ctx.csrf)),
        );
    }
    r
}

/// An HTML error page.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let mut p = Page::new(
        format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error")),
        Maturity::Beta,
        &[],
    );
    p.para(message);
    if status == StatusCode::UNAUTHORIZED {
        p.raw("<p><a href=\"/login\">Sign in with a console token</a></p>");
    }
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], p.render("")).into_response()
}

fn fail(e: ApiError) -> Response {
    error_page(e.status, &e.message)
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    error_page(StatusCode::NOT_FOUND, &format!("no page at {}", uri.path()))
}

/// The handler of a NAV route (unknown paths answer 404, which the nav test catches).
pub fn nav_handler(path: &str) -> MethodRouter<AppState> {
    match path {
        "/" => get(overview),
        "/environments" => get(environments),
        "/drift" => get(drift),
        "/runs" => get(runs),
        "/gates" => get(gates),
        "/backups" => get(backups),
        "/modules" => get(modules),
        "/secrets" => get(secrets),
        "/events" => get(events),
        "/inventory" => get(inventory),
        "/settings" => get(settings),
        _ => get(not_found),
    }
}

fn run_link(id: &uuid::Uuid) -> String {
    format!("<a href=\"/runs/{id}\"><code>{}</code></a>", &id.to_string()[..8])
}

fn env_link(name: &str) -> String {
    format!("<a href=\"/environments/{}\">{}</a>", url_enc(name), esc(name))
}

fn json_cell(v: &Option<serde_json::Value>) -> String {
    match v {
        Some(v) => format!("<code>{}</code>", esc(&v.to_string())),
        None => "—".into(),
    }
}

// ------------------------------------------------------------------ overview

/// Inline SVG step chart of open drift findings over time.
pub fn drift_chart(series: &[(crate::store::Timestamp, i64)]) -> String {
    let (w, h, pad) = (640.0_f64, 140.0_f64, 24.0_f64);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"open drift findings over time\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    if series.len() < 2 {
        let _ = write!(svg, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#667085\">No drift recorded in the last 30 days</text></svg>", w / 2.0, h / 2.0);
        return svg;
    }
    let t0 = series[0].0.timestamp_millis() as f64;
    let t1 = (series[series.len() - 1].0.timestamp_millis() as f64).max(t0 + 1.0);
    let max = series.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let x = |t: &crate::store::Timestamp| pad + (t.timestamp_millis() as f64 - t0) / (t1 - t0) * (w - 2.0 * pad);
    let y = |n: i64| h - pad - (n as f64 / max) * (h - 2.0 * pad);
    let mut d = format!("M{:.1},{:.1}", x(&series[0].0), y(series[0].1));
    for win in series.windows(2) {
        let _ = write!(d, " H{:.1} V{:.1}", x(&win[1].0), y(win[1].1));
    }
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#e4e7ec\"/>\
         <path d=\"{d}\" fill=\"none\" stroke=\"#714b67\" stroke-width=\"2\"/>\
         <text x=\"{pad}\" y=\"14\" font-size=\"11\" fill=\"#667085\">max {max}</text>\
         <text x=\"{pad}\" y=\"{h1}\" font-size=\"11\" fill=\"#667085\">{start}</text>\
         <text x=\"{r}\" y=\"{h1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#667085\">{end}</text></svg>",
        b = h - pad,
        r = w - pad,
        h1 = h - 6.0,
        start = ts(&series[0].0),
        end = ts(&series[series.len() - 1].0),
    );
    svg
}

fn runs_table(p: &mut Page, runs: &[crate::store::Run]) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                run_link(&r.id),
                esc(&r.kind),
                esc(&r.trigger),
                opt(r.environment.as_deref()),
                badge(&r.status),
                ts(&r.started_at),
                esc(&r.actor),
            ]
        })
        .collect();
    p.table(&["Run", "Kind", "Trigger", "Environment", "Status", "Started", "Actor"], &rows, "No runs recorded yet. Run `odooops plan` or `odooops demo`.");
}

async fn overview(State(st): State<AppState>, ctx: Ctx) -> Response {
    let o = match data::overview(&st).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Overview", Maturity::Beta, &["ssot", "ops.runs", "ops.drift_findings", "ops.gate_results", "ops.work_queue"]);
    let rate = o.gate_pass_rate.map_or("—".to_string(), |r| format!("{:.0}%", r * 100.0));
    p.raw(&format!(
        "<div class=\"cards\"><div class=\"card\"><div class=\"n\">{}</div>open drift findings</div>\
         <div class=\"card\"><div class=\"n\">{}</div>gate pass rate</div>\
         <div class=\"card\"><div class=\"n\">{}</div>jobs queued</div>\
         <div class=\"card\"><div class=\"n\">{}</div>environments</div></div>",
        o.open_drift,
        esc(&rate),
        o.queue_depth,
        o.environments.len()
    ));
    p.h2("Health per environment");
    let rows: Vec<Vec<String>> = o
        .environments
        .iter()
        .map(|e| {
            vec![
                env_link(&e.name),
                esc(&e.stage),
                esc(&e.branch),
                badge(&e.health),
                e.open_drift.to_string(),
                e.last_run.as_ref().map_or("—".into(), |r| format!("{} {}", run_link(&r.id), badge(&r.status))),
            ]
        })
        .collect();
    p.table(&["Environment", "Stage", "Branch", "Health", "Open drift", "Last run"], &rows, "No environments: the SSOT defines none (or none was loaded).");
    p.h2("Drift over time (30 days)");
    p.raw(&drift_chart(&o.drift_series));
    p.h2("Last runs");
    runs_table(&mut p, &o.last_runs);
    respond(&ctx, &p)
}

// ------------------------------------------------------------------ environments

async fn environments(State(st): State<AppState>, ctx: Ctx) -> Response {
    let o = match data::overview(&st).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Environments", Maturity::Beta, &["ssot", "ops.runs", "ops.drift_findings"]);
    let rows: Vec<Vec<String>> = o
        .environments
        .iter()
        .map(|e| vec![env_link(&e.name), esc(&e.project), esc(&e.stage), esc(&e.branch), esc(&e.maturity), badge(&e.health), e.open_drift.to_string()])
        .collect();
    p.table(&["Name", "Project", "Stage", "Branch", "Maturity", "Health", "Open drift"], &rows, "No environments in the SSOT.");
    respond(&ctx, &p)
}

pub async fn environment(State(st): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> Response {
    let d = match data::environment(&st, &name).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut p = Page::new(format!("Environment {}", d.name), Maturity::Beta, &["ssot", "ops.backups", "ops.gate_runs", "ops.drift_findings"]);
    if let Some(h) = &d.health {
        p.raw(&format!("<p>Health: {} · stage {} · branch <code>{}</code></p>", badge(&h.health), esc(&h.stage), esc(&h.branch)));
    }
    p.h2("Desired settings (SSOT)");
    let pretty = serde_json::to_string_pretty(&d.desired).unwrap_or_default();
    p.raw(&format!("<pre>{}</pre>", esc(&pretty)));
    p.h2("Last backup");
    match &d.last_backup {
        Some(b) => p.raw(&format!("<p>{} · {} · {} bytes · {}</p>", ts(&b.created_at), esc(&b.kind), b.size_bytes, artifact_link(&b.sha256))),
        None => p.empty("No backup recorded for this environment."),
    };
    p.h2("Gates");
    let rows: Vec<Vec<String>> = d.gate_runs.iter().map(|g| vec![format!("<code>{}</code>", &g.id.to_string()[..8]), badge(&g.status), ts(&g.started_at)]).collect();
    p.table(&["Gate run", "Status", "Started"], &rows, "No gate runs for this environment.");
    p.h2("Open drift");
    drift_table(&mut p, &d.open_drift);
    respond(&ctx, &p)
}

fn drift_table(p: &mut Page, findings: &[crate::store::DriftFinding]) {
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            vec![
                env_link(&f.environment),
                esc(&format!("{}/{}", f.resource_kind, f.resource_name)),
                format!("<code>{}</code>", esc(&f.field_path)),
                json_cell(&f.desired),
                json_cell(&f.observed),
                ts(&f.first_seen),
                f.last_run_id.as_ref().map_or("—".into(), run_link),
            ]
        })
        .collect();
    p.table(&["Environment", "Resource", "Field", "Desired", "Observed", "First seen", "Last run"], &rows, "No open drift: live state matches the SSOT.");
}

// ------------------------------------------------------------------ drift

#[derive(serde::Deserialize, Default)]
pub struct EnvQ {
    environment: Option<String>,
}

async fn drift(State(st): State<AppState>, ctx: Ctx, q: Result<Query<EnvQ>, QueryRejection>) -> Response {
    let env = q.ok().and_then(|Query(q)| q.environment).filter(|e| !e.is_empty());
    let d = match data::drift(&st, env.as_deref()).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Drift", Maturity::Beta, &["ops.drift_findings"]);
    p.h2("Open findings by environment");
    let rows: Vec<Vec<String>> = d.by_environment.iter().map(|c| vec![format!("<a href=\"/drift?environment={}\">{}</a>", url_enc(&c.environment), esc(&c.environment)), c.open.to_string()]).collect();
    p.table(&["Environment", "Open"], &rows, "No open drift.");
    p.h2("By field");
    let rows: Vec<Vec<String>> = d.by_field.iter().map(|c| vec![esc(&c.environment), format!("<code>{}</code>", esc(&c.field_path)), c.open.to_string()]).collect();
    p.table(&["Environment", "Field", "Open"], &rows, "No open drift.");
    p.h2(&match &env {
        Some(e) => format!("Open findings in {e}"),
        None => "Open findings".into(),
    });
    drift_table(&mut p, &d.open);
    respond(&ctx, &p)
}

// ------------------------------------------------------------------ runs

fn action_forms(st: &AppState, ctx: &Ctx) -> String {
    if ctx.role < Role::Operator {
        return "<p class=\"empty\">Actions need an operator token (<a href=\"/login\">sign in</a>).</p>".into();
    }
    let mut envs = String::from("<option value=\"\">all environments</option>");
    for e in data::environments(st) {
        let _ = write!(envs, "<option value=\"{0}\">{0}</option>", esc(&e));
    }
    let mut out = String::from("<div class=\"cards\">");
    for (kind, _) in super::api::ACTIONS {
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

async fn runs(State(st): State<AppState>, ctx: Ctx) -> Response {
    let d = match data::runs(&st).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Runs & Plans", Maturity::Beta, &["ops.runs", "ops.plans", "ops.work_queue"]);
    p.h2("Actions");
    p.raw(&action_forms(&st, &ctx));
    p.h2("Runs");
    runs_table(&mut p, &d.runs);
    p.h2("Queued jobs");
    let rows: Vec<Vec<String>> = d
        .jobs
        .iter()
        .map(|j| vec![format!("<a href=\"/jobs/{0}\"><code>{1}</code></a>", j.id, &j.id.to_string()[..8]), esc(&j.queue), badge(&j.status), j.attempts.to_string(), ts(&j.updated_at)])
        .collect();
    p.table(&["Job", "Queue", "Status", "Attempts", "Updated"], &rows, "The work queue is empty.");
    respond(&ctx, &p)
}

pub async fn run(State(st): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let d = match data::run(&st, &id).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let r = &d.run;
    let mut p = Page::new(format!("Run {}", &r.id.to_string()[..8]), Maturity::Beta, &["ops.runs", "ops.plans", "ops.diffs", "ops.actions", "ops.run_events", "ops.artifacts"]);
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
            plan.artifact_sha256.as_deref().map_or("—".into(), artifact_link),
            esc(&plan.rendered)
        ));
    }
    p.h2("Diffs");
    if d.diffs.is_empty() {
        p.empty("No diffs: nothing differed.");
    }
    for diff in &d.diffs {
        p.raw(&format!("<h3>{} {}/{}</h3>{}", opt(diff.environment.as_deref()), esc(&diff.resource_kind), esc(&diff.resource_name), diff_block(&diff.unified)));
    }
    p.h2("Actions");
    let rows: Vec<Vec<String>> = d
        .actions
        .iter()
        .map(|a| vec![esc(&a.operation), esc(&format!("{}/{}", a.resource_kind, a.resource_name)), badge(&a.status), a.attempts.to_string(), format!("<code>{}</code>", esc(&a.dedupe_key)), opt(a.error.as_deref())])
        .collect();
    p.table(&["Operation", "Resource", "Outcome", "Attempts", "Ledger key", "Error"], &rows, "No actions in this run.");
    p.h2("Artifacts");
    let rows: Vec<Vec<String>> = d.artifacts.iter().map(|a| vec![artifact_link(&a.sha256), esc(&a.media_type), a.size_bytes.to_string()]).collect();
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
    let mut p = Page::new(format!("Job {}", &j.id.to_string()[..8]), Maturity::Scaffold, &["ops.work_queue"]);
    p.raw(&format!(
        "<p>{} on queue <code>{}</code> · attempts {} · created {}</p><pre>{}</pre>",
        badge(&j.status), esc(&j.queue), j.attempts, ts(&j.created_at), esc(&serde_json::to_string_pretty(&j.payload).unwrap_or_default())
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
        return error_page(StatusCode::FORBIDDEN, "the form's CSRF token does not match its cookie; reload the page and retry");
    }
    let actor = format!("console:{}", ctx.role.as_str());
    match super::api::enqueue_action(&st, &kind, f.environment, &f.idempotency_key, &actor).await {
        Ok(a) => Redirect::to(&format!("/jobs/{}", a.job.id)).into_response(),
        Err(e) => fail(e),
    }
}

// ------------------------------------------------------------------ gates, backups, modules, secrets

async fn gates(State(st): State<AppState>, ctx: Ctx) -> Response {
    let g = match data::gates(&st).await {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Gates", Maturity::Beta, &["ssot", "ops.gate_runs", "ops.gate_results"]);
    p.h2("Defined gates");
    let rows: Vec<Vec<String>> = g.defined.iter().map(|d| vec![esc(&d.name), esc(&d.gate_type), esc(&d.severity), format!("<code>{}</code>", esc(&d.params.to_string()))]).collect();
    p.table(&["Gate", "Type", "Severity", "Params"], &rows, "No gates defined in the SSOT.");
    p.h2("Recent results");
    let rows: Vec<Vec<String>> = g
        .results
        .iter()
        .map(|r| vec![esc(&r.gate), env_link(&r.environment), badge(&r.outcome), json_cell(&r.measured), json_cell(&r.threshold), esc(&r.message), r.evidence_sha256.as_deref().map_or("—".into(), artifact_link), ts(&r.created_at)])
        .collect();
    p.table(&["Gate", "Environment", "Outcome", "Measured", "Threshold", "Message", "Evidence", "At"], &rows, "No gate results recorded yet.");
    respond(&ctx, &p)
}

async fn backups(State(st): State<AppState>, ctx: Ctx) -> Response {
    let b = match data::backups(&st).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Backups", Maturity::Beta, &["ssot", "ops.backups", "ops.artifacts"]);
    p.h2("Policies");
    let rows: Vec<Vec<String>> = b
        .policies
        .iter()
        .map(|v| vec![esc(v["metadata"]["name"].as_str().unwrap_or("")), esc(v["spec"]["environment"].as_str().unwrap_or("")), format!("<code>{}</code>", esc(v["spec"]["schedule"].as_str().unwrap_or("")))])
        .collect();
    p.table(&["Policy", "Environment", "Schedule"], &rows, "No backup policies in the SSOT.");
    p.h2("Backups");
    let rows: Vec<Vec<String>> = b
        .backups
        .iter()
        .map(|k| vec![env_link(&k.environment), esc(&k.kind), k.size_bytes.to_string(), esc(&k.retention_class), artifact_link(&k.sha256), ts(&k.created_at), k.expires_at.as_ref().map_or("—".into(), ts)])
        .collect();
    p.table(&["Environment", "Kind", "Bytes", "Retention", "Dump", "Created", "Expires"], &rows, "No backups recorded yet.");
    respond(&ctx, &p)
}

async fn modules(State(st): State<AppState>, ctx: Ctx) -> Response {
    let mut p = Page::new("Modules", Maturity::Scaffold, &["ssot (Environment.modules, ModuleSet waves)"]);
    let envs = data::modules(&st);
    if envs.is_empty() {
        p.empty("No environments in the SSOT.");
    }
    for e in &envs {
        p.h2(&e.environment);
        p.raw(&format!("<p>Module set: {} · core policy: {} · install: <code>{}</code></p>", opt(e.module_set.as_deref()), opt(e.core_policy.as_deref()), esc(&e.install.join(", "))));
        let rows: Vec<Vec<String>> = e.waves.iter().map(|w| vec![w.wave.to_string(), opt(w.name.as_deref()), format!("<code>{}</code>", esc(&w.modules.join(", ")))]).collect();
        p.table(&["Wave", "Name", "Allowed modules"], &rows, "No module set: only the modules listed under install.");
    }
    respond(&ctx, &p)
}

async fn secrets(State(st): State<AppState>, ctx: Ctx) -> Response {
    let s = match data::secrets(&st).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Secrets", Maturity::Beta, &["ssot (SecretRegistry)", "process environment (presence only)", "ops.secret_sync_runs"]);
    p.para("Presence only: whether the variable is set in this console's environment. Values are never shown.");
    let rows: Vec<Vec<String>> = s.keys.iter().map(|k| vec![format!("<code>{}</code>", esc(&k.name)), esc(&k.source), esc(&k.required_by.join(", ")), badge(if k.present { "present" } else { "missing" })]).collect();
    p.table(&["Key", "Source", "Required by", "Present"], &rows, "No secret registry keys in the SSOT.");
    p.h2("Sync runs");
    let rows: Vec<Vec<String>> = s.syncs.iter().map(|r| vec![esc(&r.target), opt(r.environment.as_deref()), badge(&r.outcome), esc(&r.pushed_keys.to_string()), ts(&r.created_at)]).collect();
    p.table(&["Target", "Environment", "Outcome", "Pushed keys", "At"], &rows, "No secret sync recorded yet.");
    respond(&ctx, &p)
}

// ------------------------------------------------------------------ events, inventory, settings

fn events_table(p: &mut Page, events: &[crate::store::Event]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| vec![ts(&e.ts), badge(&e.level), esc(&e.service), opt(e.environment.as_deref()), e.correlation_id.as_deref().map_or("—".into(), |c| format!("<a href=\"/events?correlation_id={}\"><code>{}</code></a>", url_enc(c), esc(c))), esc(&e.message)])
        .collect();
    p.table(&["Time", "Level", "Service", "Environment", "Correlation", "Message"], &rows, "No events.");
}

async fn events(State(st): State<AppState>, ctx: Ctx, q: Result<Query<EventQuery>, QueryRejection>) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let mut p = Page::new("Events", Maturity::Beta, &["ops.run_events"]);
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or(""));
    let mut levels = String::from("<option value=\"\">any level</option>");
    for l in crate::store::Level::ALL {
        let sel = if q.level.as_deref() == Some(l.as_str()) { " selected" } else { "" };
        let _ = write!(levels, "<option value=\"{0}\"{sel}>{0}+</option>", l.as_str());
    }
    p.raw(&format!(
        "<form class=\"filters\" method=\"get\" action=\"/events\">\
         <input name=\"environment\" placeholder=\"environment\" value=\"{}\">\
         <select name=\"level\">{levels}</select>\
         <input name=\"correlation_id\" placeholder=\"correlation id\" value=\"{}\">\
         <input name=\"since\" placeholder=\"since (RFC 3339)\" value=\"{}\">\
         <button type=\"submit\">Filter</button></form>",
        v(&q.environment), v(&q.correlation_id), v(&q.since)
    ));
    match data::events(&st, &q).await {
        Ok(evs) => events_table(&mut p, &evs),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            p.raw(&format!("<p class=\"empty\">{}</p>", esc(&e.message)));
        }
        Err(e) => return fail(e),
    }
    respond(&ctx, &p)
}

async fn inventory(State(st): State<AppState>, ctx: Ctx) -> Response {
    let inv = match data::inventory(&st).await {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Inventory", Maturity::Scaffold, &["ops.inventory (latest ingest)"]);
    let rows: Vec<Vec<String>> = inv
        .iter()
        .map(|o| vec![esc(&o.provider), esc(&o.object_type), format!("<code>{}</code>", esc(&o.object_id)), opt(o.name.as_deref()), opt(o.environment.as_deref()), badge(if o.owned { "owned" } else { "foreign" }), ts(&o.observed_at)])
        .collect();
    p.table(&["Provider", "Type", "Id", "Name", "Environment", "Ownership", "Observed"], &rows, "No inventory ingested yet. Run `odooops inventory`.");
    respond(&ctx, &p)
}

async fn settings(State(st): State<AppState>, ctx: Ctx) -> Response {
    let s = match data::settings(&st).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut p = Page::new("Settings", Maturity::Scaffold, &["console configuration", "ssot (Project.console)", "ops.webhook_deliveries"]);
    let yes = |b: bool| if b { "yes" } else { "no" };
    let rows = vec![
        vec!["Version".into(), esc(s.version)],
        vec!["Listening on".into(), esc(&s.listen)],
        vec!["Started".into(), ts(&s.started_at)],
        vec!["Evidence store".into(), format!("{} <code>{}</code>", esc(&format!("{:?}", s.store_backend)), esc(&s.store_location))],
        vec!["Artifacts".into(), format!("<code>{}</code>", esc(&s.artifacts))],
        vec!["SSOT revision".into(), opt(s.ssot_revision.as_deref())],
        vec!["Public read".into(), yes(s.public_read).into()],
        vec!["Tokens".into(), format!("{} viewer, {} operator", s.viewer_tokens, s.operator_tokens)],
        vec!["Token keys not set".into(), esc(&s.missing_token_keys.join(", "))],
        vec!["GitHub webhook".into(), yes(s.github_webhook_configured).into()],
        vec!["Plane webhook".into(), yes(s.plane_webhook_configured).into()],
        vec!["Signed in as".into(), esc(ctx.role.as_str())],
    ];
    p.table(&["Setting", "Value"], &rows, "");
    p.h2("Recent webhook deliveries");
    let rows: Vec<Vec<String>> = s.recent_webhooks.iter().map(|d| vec![format!("<code>{}</code>", esc(&d.delivery_id)), esc(&d.source), badge(if d.processed { "done" } else { "pending" }), ts(&d.received_at)]).collect();
    p.table(&["Delivery", "Source", "Processed", "Received"], &rows, "No webhook deliveries yet.");
    if ctx.role > Role::Anonymous {
        p.raw(&format!("<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Sign out</button></form>", esc(&ctx.csrf)));
    }
    respond(&ctx, &p)
}

// ------------------------------------------------------------------ artifacts, login

pub async fn artifact(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(e) = crate::store::validate_artifact_id(&id) {
        return error_page(StatusCode::BAD_REQUEST, &e.to_string());
    }
    match st.store.read_artifact(&id).await {
        Ok((meta, bytes)) => {
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, hv(&meta.media_type));
            h.insert("x-content-type-options", hv("nosniff"));
            h.insert(header::CONTENT_SECURITY_POLICY, hv("sandbox; default-src 'none'"));
            h.insert(header::CACHE_CONTROL, hv("public, max-age=31536000, immutable"));
            r
        }
        Err(e) => fail(e.into()),
    }
}

pub async fn login_form(ctx: Ctx) -> Response {
    let mut p = Page::new("Sign in", Maturity::Scaffold, &["Project.console.tokens"]);
    p.raw(&format!(
        "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"password\" name=\"token\" placeholder=\"console token\" autocomplete=\"off\"> <button type=\"submit\">Sign in</button></form>",
        esc(&ctx.csrf)
    ));
    respond(&ctx, &p)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    csrf: String,
    token: String,
}

pub async fn login(State(st): State<AppState>, headers: HeaderMap, form: Result<Form<LoginForm>, FormRejection>) -> Response {
    let Ok(Form(f)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "the form is incomplete");
    };
    if !auth::csrf_ok(&headers, &f.csrf) {
        return error_page(StatusCode::FORBIDDEN, "the form's CSRF token does not match its cookie; reload the page and retry");
    }
    if st.auth.role_of(f.token.trim()).is_none() {
        return error_page(StatusCode::UNAUTHORIZED, "that token is not valid");
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        hv(&format!("{}={}; Path=/; HttpOnly; SameSite=Strict", auth::TOKEN_COOKIE, f.token.trim())),
    );
    r
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(headers: HeaderMap, form: Result<Form<CsrfForm>, FormRejection>) -> Response {
    match form {
        Ok(Form(f)) if auth::csrf_ok(&headers, &f.csrf) => {
            let mut r = Redirect::to("/").into_response();
            r.headers_mut().append(header::SET_COOKIE, hv(&format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", auth::TOKEN_COOKIE)));
            r
        }
        _ => error_page(StatusCode::FORBIDDEN, "the form's CSRF token does not match its cookie"),
    }
}
