//! Server-rendered pages. Each one labels its maturity and data sources and has a stable
//! empty state; the data comes from [`super::data`], shared with the JSON API.

use super::auth::{self, Principal, Role};
use super::data::{self, EventQuery};
use super::errors::ApiError;
use super::html::{
    artifact_link, badge, diff_block, duration, esc, opt, run_label, short_id, ts, url_enc,
    Maturity, Page,
};
use super::{hv, AppState};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, MethodRouter};
use axum::Form;
use std::fmt::Write as _;

mod chain;
mod environment;
mod evidence;
mod overview;
mod runs;
mod tables;

pub use chain::{correlation, plan};
pub use environment::environment;
pub use runs::{action_form, job, run};
use runs::{action_form_html, env_options, NEED_OPERATOR};

/// Request context of a page: who asks, and the CSRF token for its forms.
pub struct Ctx {
    pub role: Role,
    pub csrf: String,
    new_csrf: bool,
    pub path: String,
    /// The console's state (the SSOT: which project an environment is of).
    st: AppState,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Ctx, Self::Rejection> {
        let role = parts
            .extensions
            .get::<Principal>()
            .map_or(Role::Anonymous, |p| p.role);
        let existing = auth::cookie(&parts.headers, auth::CSRF_COOKIE)
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        let (csrf, new_csrf) = match existing {
            Some(c) => (c.to_string(), false),
            None => (auth::new_csrf(), true),
        };
        Ok(Ctx {
            role,
            csrf,
            new_csrf,
            path: parts.uri.path().to_string(),
            st: st.clone(),
        })
    }
}

pub(super) fn respond(ctx: &Ctx, page: &Page) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.render(&ctx.path),
    )
        .into_response();
    if ctx.new_csrf {
        r.headers_mut().append(
            header::SET_COOKIE,
            hv(&format!(
                "{}={}; Path=/; SameSite=Strict",
                auth::CSRF_COOKIE,
                ctx.csrf
            )),
        );
    }
    r
}

/// An HTML error page.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let mut p = Page::error(format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    ));
    p.para(message);
    if status == StatusCode::UNAUTHORIZED {
        p.raw("<p><a href=\"/login\">Sign in with a console token</a></p>");
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        p.render(""),
    )
        .into_response()
}

pub(super) fn fail(e: ApiError) -> Response {
    error_page(e.status, &e.message)
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    error_page(StatusCode::NOT_FOUND, &format!("no page at {}", uri.path()))
}

/// The handler of a NAV route (unknown paths answer 404, which the nav test catches).
pub fn nav_handler(path: &str) -> MethodRouter<AppState> {
    match path {
        "/" => get(overview::overview),
        "/environments" => get(overview::environments),
        "/drift" => get(overview::drift),
        "/runs" => get(runs::runs),
        "/jobs" => get(chain::jobs),
        "/gates" => get(evidence::gates),
        "/backups" => get(evidence::backups),
        "/modules" => get(evidence::modules),
        "/secrets" => get(evidence::secrets),
        "/events" => get(evidence::events),
        "/inventory" => get(evidence::inventory),
        "/settings" => get(evidence::settings),
        _ => get(not_found),
    }
}

/// A link to a run known by id only: the id's random tail.
pub(super) fn run_link(id: &uuid::Uuid) -> String {
    format!(
        "<a href=\"/runs/{id}\" title=\"run {id}\">run ·{}</a>",
        short_id(id)
    )
}

/// A link to a run labelled by kind, start time and the id's random tail.
pub(super) fn run_ref(r: &crate::store::Run) -> String {
    format!(
        "<a href=\"/runs/{}\" title=\"run {}\">{}</a>",
        r.id,
        r.id,
        esc(&run_label(&r.kind, &r.started_at, &r.id))
    )
}

pub(super) fn plan_link(id: &uuid::Uuid) -> String {
    format!(
        "<a href=\"/plans/{id}\" title=\"plan {id}\">plan ·{}</a>",
        short_id(id)
    )
}

pub(super) fn job_link(id: &uuid::Uuid) -> String {
    format!(
        "<a href=\"/jobs/{id}\" title=\"job {id}\">job ·{}</a>",
        short_id(id)
    )
}

pub(super) fn backup_link(id: &uuid::Uuid) -> String {
    format!(
        "<a href=\"/backups#backup-{id}\" title=\"backup {id}\">backup ·{}</a>",
        short_id(id)
    )
}

/// Whether the asker may run operator actions on `environment` (None: on everything): the
/// operator role on that environment's project (on every project for None), as the action
/// itself checks it (see [`super::access`]).
pub(super) fn may_operate(ctx: &Ctx, environment: Option<&str>) -> bool {
    let scope = super::access::Scope::current();
    let ssot = ctx.st.ssot.as_ref();
    let role = match environment {
        Some(e) => scope.role_on_env(ssot, e),
        None => scope.role_on_all(ssot),
    };
    ctx.role >= Role::Operator && role == Some(Role::Operator)
}

/// An operator action: its form for an operator, else the button disabled with a
/// "sign in to …" link (`verb`: what the action does, e.g. "deploy").
pub(super) fn action_or_signin(
    ctx: &Ctx,
    environment: Option<&str>,
    kind: &str,
    fields: &str,
    label: &str,
    verb: &str,
) -> String {
    if may_operate(ctx, environment) {
        return runs::action_form_html(ctx, kind, fields, label);
    }
    let why = if ctx.role == Role::Anonymous {
        format!("<a href=\"/login\">sign in to {}</a>", esc(verb))
    } else {
        format!(
            "<a href=\"/login\">sign in as an operator to {}</a>",
            esc(verb)
        )
    };
    format!(
        "<span class=\"off\"><button type=\"button\" disabled>{}</button> {why}</span>",
        esc(label)
    )
}

pub(super) fn env_link(name: &str) -> String {
    format!(
        "<a href=\"/environments/{}\">{}</a>",
        url_enc(name),
        esc(name)
    )
}

pub(super) fn json_cell(v: &Option<serde_json::Value>) -> String {
    match v {
        Some(v) => format!("<code>{}</code>", esc(&v.to_string())),
        None => "—".into(),
    }
}

pub(super) fn events_table(p: &mut Page, events: &[crate::store::Event]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                ts(&e.ts),
                badge(&e.level),
                esc(&e.service),
                opt(e.environment.as_deref()),
                match (&e.run_id, e.correlation_id.as_deref()) {
                    (Some(r), _) => run_link(r),
                    (None, Some(c)) => format!(
                        "<a href=\"/correlations/{}\">{}</a>",
                        url_enc(c),
                        esc(&c
                            .chars()
                            .rev()
                            .take(6)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<String>())
                    ),
                    (None, None) => "—".into(),
                },
                esc(&e.message),
            ]
        })
        .collect();
    p.table(
        &["Time", "Level", "Service", "Environment", "Run", "Message"],
        &rows,
        "No events.",
    );
}

// ------------------------------------------------------------------ artifacts, login

pub async fn artifact(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(e) = crate::store::validate_artifact_id(&id) {
        return error_page(StatusCode::BAD_REQUEST, &e.to_string());
    }
    // Access: only an artifact of a run (or backup) the request's scope covers.
    if let Err(e) = data::artifact(&st, &id).await {
        return fail(e);
    }
    match st.store.read_artifact(&id).await {
        Ok((meta, bytes)) => {
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, hv(&meta.media_type));
            h.insert("x-content-type-options", hv("nosniff"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                hv("sandbox; default-src 'none'"),
            );
            h.insert(
                header::CACHE_CONTROL,
                hv("public, max-age=31536000, immutable"),
            );
            r
        }
        Err(e) => fail(e.into()),
    }
}

pub async fn login_form(ctx: Ctx) -> Response {
    let mut p = Page::new("Sign in", Maturity::Scaffold, &["Project.console.tokens"]);
    p.raw(&format!(
        "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"token\">Console token</label> <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\"> <button type=\"submit\">Sign in</button></form>",
        esc(&ctx.csrf)
    ));
    respond(&ctx, &p)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    csrf: String,
    token: String,
}

pub async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
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
    if st.auth.role_of(f.token.trim()).is_none() {
        return error_page(StatusCode::UNAUTHORIZED, "that token is not valid");
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        hv(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            auth::TOKEN_COOKIE,
            f.token.trim()
        )),
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
            r.headers_mut().append(
                header::SET_COOKIE,
                hv(&format!(
                    "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                    auth::TOKEN_COOKIE
                )),
            );
            r
        }
        _ => error_page(
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match its cookie",
        ),
    }
}
