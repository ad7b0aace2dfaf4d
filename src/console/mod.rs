//! The console (`odooops serve`): server-rendered pages, the `/api/**` JSON API (one
//! envelope for every answer), operator actions onto the work queue, GitHub and Plane
//! webhooks, artifact downloads, `/metrics`, `/healthz` and `/readyz`.
//!
//! Layers, outermost first: body limit → envelope (rewrites any non-JSON `/api` error from
//! the framework into the envelope) → panic catcher (JSON 500 on `/api`, HTML elsewhere) →
//! authentication (bearer token or cookie, roles, the request's project [`access::Scope`]) →
//! handlers (which see only what the scope covers).

pub mod access;
pub mod actions;
pub mod api;
pub mod auth;
pub mod charts;
pub mod data;
pub mod errors;
pub mod html;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod views;
pub mod webhooks;

use crate::ssot::Ssot;
use crate::store::{Store, Timestamp};
use auth::{Auth, Principal, Role};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use errors::ApiError;
use futures::FutureExt;
use std::sync::Arc;

/// Every navigation entry: (route, label). A test requests each one.
pub const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/environments", "Environments"),
    ("/drift", "Drift"),
    ("/runs", "Runs & Plans"),
    ("/jobs", "Jobs"),
    ("/gates", "Gates"),
    ("/backups", "Backups"),
    ("/modules", "Modules"),
    ("/secrets", "Secrets"),
    ("/events", "Events"),
    ("/inventory", "Inventory"),
    ("/settings", "Settings"),
];

/// Default request-body limit (webhooks and actions are small).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Environment variables holding the webhook secrets.
pub const GITHUB_SECRET_ENV: &str = "ODOOOPS_GITHUB_WEBHOOK_SECRET";
pub const PLANE_SECRET_ENV: &str = "ODOOOPS_PLANE_WEBHOOK_SECRET";

/// How the console is set up.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub ssot: Option<Ssot>,
    pub auth: Auth,
    pub github_secret: Option<Vec<u8>>,
    pub plane_secret: Option<Vec<u8>>,
    /// Bytes; 0 means [`DEFAULT_BODY_LIMIT`].
    pub body_limit: usize,
    /// Mount test-only routes (`/api/_test/panic`).
    pub test_routes: bool,
    /// Shown on the settings page.
    pub listen: String,
}

impl Config {
    /// Tokens and webhook secrets from the process environment.
    pub fn from_env(ssot: Option<Ssot>) -> Config {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let auth = ssot
            .as_ref()
            .map(|s| Auth::from_ssot(s, env))
            .unwrap_or_default();
        Config {
            auth,
            github_secret: env(GITHUB_SECRET_ENV).map(String::into_bytes),
            plane_secret: env(PLANE_SECRET_ENV).map(String::into_bytes),
            ssot,
            ..Config::default()
        }
    }
}

/// Shared state of the handlers.
pub struct Inner {
    pub store: Store,
    pub ssot: Option<Ssot>,
    pub auth: Auth,
    pub github_secret: Option<Vec<u8>>,
    pub plane_secret: Option<Vec<u8>>,
    pub listen: String,
    pub started_at: Timestamp,
}

pub type AppState = Arc<Inner>;

/// The whole application.
pub fn router(store: Store, cfg: Config) -> Router {
    let limit = if cfg.body_limit == 0 {
        DEFAULT_BODY_LIMIT
    } else {
        cfg.body_limit
    };
    let state: AppState = Arc::new(Inner {
        store,
        ssot: cfg.ssot,
        auth: cfg.auth,
        github_secret: cfg.github_secret,
        plane_secret: cfg.plane_secret,
        listen: cfg.listen,
        started_at: crate::store::now(),
    });
    let mut api = Router::new()
        .route("/overview", get(api::overview))
        .route("/environments", get(api::environments))
        .route("/environments/{name}", get(api::environment))
        .route("/drift", get(api::drift))
        .route("/drift/history", get(api::drift_history))
        .route("/plans/{id}", get(api::plan))
        .route("/jobs", get(api::jobs))
        .route("/runs", get(api::runs))
        .route("/runs/{id}", get(api::run))
        .route("/runs/{id}/events", get(api::run_events))
        .route("/jobs/{id}", get(api::job))
        .route("/gates", get(api::gates))
        .route("/backups", get(api::backups))
        .route("/modules", get(api::modules))
        .route("/secrets", get(api::secrets))
        .route("/events", get(api::events))
        .route("/inventory", get(api::inventory))
        .route("/settings", get(api::settings))
        .route("/artifacts/{id}", get(api::artifact))
        .route("/openapi.json", get(openapi::handler))
        .route("/actions/{kind}", post(api::action))
        .route("/webhooks/github", post(webhooks::github))
        .route("/webhooks/plane", post(webhooks::plane));
    if cfg.test_routes {
        api = api.route("/_test/panic", get(api::test_panic));
    }
    let api = api.fallback(api_no_route);
    let mut app = Router::new();
    for (path, _) in NAV {
        app = app.route(path, get(pages::nav_handler(path)));
    }
    app.route("/environments/{name}", get(pages::environment))
        .route("/runs/{id}", get(pages::run))
        .route("/jobs/{id}", get(pages::job))
        .route("/plans/{id}", get(pages::plan))
        .route("/correlations/{id}", get(pages::correlation))
        .route("/artifacts/{id}", get(pages::artifact))
        .route("/actions/{kind}", post(pages::action_form))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/static/style.css", get(style))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::handler))
        .nest("/api", api)
        .route("/api", get(api_no_route))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn(envelope))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serve until the listener fails or the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    cfg: Config,
) -> std::io::Result<()> {
    axum::serve(listener, router(store, cfg)).await
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

async fn api_no_route(method: Method, uri: axum::extract::OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        format!(
            "no API route {method} {}; see /api/openapi.json",
            uri.0.path()
        ),
    )
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        html::STYLE,
    )
        .into_response()
}

/// The icon browsers ask for on every page (a missing one is a console error).
async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        html::FAVICON,
    )
        .into_response()
}

async fn healthz() -> errors::Data<serde_json::Value> {
    errors::ok(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(st): State<AppState>) -> Result<errors::Data<serde_json::Value>, ApiError> {
    st.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: store unreachable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the evidence store is unreachable",
        )
    })?;
    Ok(errors::ok(serde_json::json!({"status": "ready"})))
}

/// Routes that need no token: probes, the stylesheet, the login form and the webhooks (which
/// authenticate by signature).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz"
            | "/readyz"
            | "/static/style.css"
            | "/static/favicon.svg"
            | "/favicon.ico"
            | "/login"
            | "/logout"
    ) || path.starts_with("/api/webhooks/")
}

async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let api = is_api(&path);
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let header_token = auth::bearer(req.headers()).map(str::to_string);
    let cookie_token = auth::cookie(req.headers(), auth::TOKEN_COOKIE).map(str::to_string);
    let mut principal = Principal {
        role: Role::Anonymous,
        via_header: false,
    };
    let mut scope = st.auth.anonymous_scope();
    let presented = header_token
        .clone()
        .or_else(|| cookie_token.clone().filter(|c| !c.is_empty()));
    if let Some(tok) = &presented {
        match st.auth.scope_of(tok) {
            Some(s) => {
                principal = Principal {
                    role: st.auth.role_of(tok).unwrap_or(Role::Anonymous),
                    via_header: header_token.is_some(),
                };
                scope = s;
            }
            None if !is_public(&path) => {
                return deny(
                    api,
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "the token presented is not valid",
                    ),
                );
            }
            None => {}
        }
    }
    if !is_public(&path) {
        let needed = if write { Role::Operator } else { Role::Viewer };
        let role = if api && write && !principal.via_header {
            // API writes accept only the Authorization header (cookies ride along cross-site).
            Role::Anonymous
        } else {
            principal.role
        };
        // Reads need some project in scope (a token's, or a publicRead one); writes an
        // operator role somewhere, checked per project by the action itself.
        let allowed = if write {
            role >= needed
        } else {
            !scope.is_empty()
        };
        if !allowed {
            let err = if role == Role::Anonymous {
                ApiError::unauthorized()
            } else {
                ApiError::forbidden(format!(
                    "this needs the {} role; your token has {}",
                    needed.as_str(),
                    role.as_str()
                ))
            };
            return deny(api, err);
        }
    }
    req.extensions_mut().insert(principal);
    scope.run(next.run(req)).await
}

fn deny(api: bool, err: ApiError) -> Response {
    if api {
        err.into_response()
    } else {
        pages::error_page(err.status, &err.message)
    }
}

async fn catch_panic(req: Request, next: Next) -> Response {
    let api = is_api(req.uri().path());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, request_id = %request_id, "handler panicked");
            let msg = "internal error: the handler panicked; see the server log";
            if api {
                ApiError::internal(msg).into_response()
            } else {
                pages::error_page(StatusCode::INTERNAL_SERVER_ERROR, msg)
            }
        }
    }
}

/// The id of one request: set by [`envelope`] for every request, echoed in `x-request-id`,
/// in every `/api` error body (`error.requestId`) and in the panic log line.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Every `/api` answer is a JSON envelope: framework errors (405, 413, 415, …) that come back
/// as text are rewritten, an empty success becomes `{"ok":true,"data":null}`, and every error
/// carries `error.status` and `error.requestId`.
async fn envelope(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::now_v7().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let api = is_api(req.uri().path());
    let resp = next.run(req).await;
    let mut out = if api {
        api_envelope(resp, &id).await
    } else {
        resp
    };
    let h = out.headers_mut();
    h.insert("x-request-id", hv(&id));
    h.insert("x-content-type-options", hv("nosniff"));
    h.insert("x-frame-options", hv("DENY"));
    h.insert("referrer-policy", hv("same-origin"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            hv("default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"),
        );
    }
    out
}

async fn api_envelope(resp: Response, request_id: &str) -> Response {
    let status = resp.status();
    if status.is_success() && status != StatusCode::NO_CONTENT {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 256 * 1024)
        .await
        .unwrap_or_default();
    let mut value = if status == StatusCode::NO_CONTENT {
        serde_json::json!({"ok": true, "data": null})
    } else {
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) if is_json && v["error"].is_object() => v,
            _ => {
                let text = String::from_utf8_lossy(&bytes).trim().to_string();
                let message = if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    text
                };
                let e = ApiError::from_status(status, message);
                errors::envelope_error(e.code, &e.message)
            }
        }
    };
    if let Some(err) = value.get_mut("error").and_then(|e| e.as_object_mut()) {
        err.insert("status".into(), status.as_u16().into());
        err.insert("requestId".into(), request_id.into());
    }
    let code = if status == StatusCode::NO_CONTENT {
        StatusCode::OK
    } else {
        status
    };
    let mut out = errors::json_response(code, &value);
    for (k, v) in parts.headers.iter() {
        if k == header::ALLOW || k == header::WWW_AUTHENTICATE || k == header::LOCATION {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Header value from a string we built (falls back to an empty value, never panics).
pub fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}
