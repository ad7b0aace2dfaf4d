//! The provider simulator: DigitalOcean-, Supabase-, Vercel-, Slack- and Plane-compatible
//! HTTP on loopback, each under its own prefix (`/digitalocean`, `/supabase`, …), stateful,
//! with fault injection and a control API under `/_sim`.
//!
//! Handlers answer errors as ready `Response`s (the provider's own error shape), so helper
//! results carry a `Response` error by design.
#![allow(clippy::result_large_err)]

pub mod digitalocean;
pub mod faults;
pub mod plane;
pub mod slack;
pub mod supabase;
pub mod vercel;

use crate::provider::error::Provider;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use faults::{FaultConfig, FaultKind, Faults};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Everything the simulator holds.
#[derive(Debug)]
pub struct SimState {
    pub digitalocean: Mutex<digitalocean::DoState>,
    pub supabase: Mutex<supabase::SupabaseState>,
    pub vercel: Mutex<vercel::VercelState>,
    pub slack: Mutex<slack::SlackState>,
    pub plane: Mutex<plane::PlaneState>,
    pub faults: Mutex<Faults>,
    /// Requests per route (`GET /digitalocean/v2/droplets`), faults included.
    pub requests: Mutex<BTreeMap<String, u64>>,
    /// Base URL the simulator is reachable at (for absolute pagination links).
    pub base_url: Mutex<String>,
    /// Requests being handled right now (a killed client's request may still complete).
    pub in_flight: std::sync::atomic::AtomicUsize,
}

/// Lock a mutex, recovering from poisoning (a panicked handler must not wedge the server).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimState {
    pub fn new(faults: FaultConfig) -> Arc<SimState> {
        Arc::new(SimState {
            digitalocean: Mutex::new(digitalocean::DoState::default()),
            supabase: Mutex::new(supabase::SupabaseState::default()),
            vercel: Mutex::new(vercel::VercelState::default()),
            slack: Mutex::new(slack::SlackState::default()),
            plane: Mutex::new(plane::PlaneState::default()),
            faults: Mutex::new(Faults::new(faults)),
            requests: Mutex::new(BTreeMap::new()),
            base_url: Mutex::new(String::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        })
    }
    pub fn base_url(&self) -> String {
        lock(&self.base_url).clone()
    }
    /// Requests counted for routes starting with `prefix` (e.g. `GET /digitalocean`).
    pub fn request_count(&self, prefix: &str) -> u64 {
        lock(&self.requests)
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

pub type Shared = Arc<SimState>;

/// The whole simulator as one router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .nest("/digitalocean", digitalocean::routes(state.clone()))
        .nest("/supabase", supabase::routes())
        .nest("/vercel", vercel::routes())
        .nest("/slack", slack::routes())
        .nest("/plane", plane::routes())
        .route("/_sim/state", get(control_state))
        .route("/_sim/requests", get(control_requests))
        .route("/_sim/faults", post(control_faults))
        .route("/_sim/mutate", post(control_mutate))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_and_fault,
        ))
        .with_state(state)
}

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub faults: FaultConfig,
    /// How long asynchronous operations (droplet creates and actions, deletes, clusters)
    /// take to complete.
    pub delay: Duration,
    /// Accepted tokens, each its own account that sees only its own objects; any other
    /// token gets the provider's real authentication error. Empty: every token is accepted
    /// and all share one account (the demo).
    pub tokens: Vec<String>,
    /// DigitalOcean's hourly request budget per account (none: the real 5,000).
    pub do_hourly_limit: Option<u64>,
}

impl Default for SimOptions {
    /// What `odooops sim serve` starts with: the real APIs' pace (1.5 s per asynchronous
    /// operation), open accounts.
    fn default() -> Self {
        SimOptions {
            faults: FaultConfig::default(),
            delay: Duration::from_millis(1500),
            tokens: Vec::new(),
            do_hourly_limit: None,
        }
    }
}

/// A running simulator on loopback.
pub struct Running {
    pub addr: SocketAddr,
    /// The first account's state (the only one when every token is accepted).
    pub state: Shared,
    accounts: Arc<Accounts>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Base URL of one provider (`http://127.0.0.1:PORT/digitalocean`).
    pub fn provider_url(&self, p: Provider) -> String {
        format!("{}/{}", self.url(), p.as_str())
    }
    /// The state of the account `token` names (`None`: not an account of this simulator).
    pub fn account(&self, token: &str) -> Option<Shared> {
        self.accounts.by_token.get(token).map(|(s, _)| s.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Start the simulator in-process on `listen` (use port 0 for any free port), every token
/// accepted, asynchronous operations completing after 200 ms: strict about order (nothing
/// is ready at once), quick enough for tests.
pub async fn start(listen: &str, faults: FaultConfig) -> std::io::Result<Running> {
    start_with(
        listen,
        SimOptions {
            faults,
            delay: Duration::from_millis(200),
            ..SimOptions::default()
        },
    )
    .await
}

/// Start the simulator in-process with `options`.
pub async fn start_with(listen: &str, options: SimOptions) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let account = || {
        let state = SimState::new(options.faults.clone());
        *lock(&state.base_url) = base.clone();
        {
            let mut d = lock(&state.digitalocean);
            d.delay = options.delay;
            d.hourly_limit = options.do_hourly_limit;
        }
        let app = router(state.clone());
        (state, app)
    };
    let open = options.tokens.is_empty().then(account);
    let by_token: BTreeMap<String, (Shared, Router)> = options
        .tokens
        .iter()
        .map(|t| (t.clone(), account()))
        .collect();
    let primary = match (&open, options.tokens.first()) {
        (Some((s, _)), _) => s.clone(),
        (None, Some(t)) => by_token[t].0.clone(),
        (None, None) => unreachable!("open when there is no token"),
    };
    let accounts = Arc::new(Accounts { open, by_token });
    let app = Router::new()
        .fallback(dispatch)
        .with_state(accounts.clone());
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running {
        addr,
        state: primary,
        accounts,
        handle,
    })
}

/// The simulator's accounts: one open account, or one per accepted token.
struct Accounts {
    open: Option<(Shared, Router)>,
    by_token: BTreeMap<String, (Shared, Router)>,
}

/// The credential a request carries, as its provider reads it.
fn credential(p: Provider, headers: &HeaderMap) -> Option<String> {
    match p {
        Provider::Plane => headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.trim().is_empty())
            .map(str::to_string),
        _ => bearer(headers),
    }
}

/// Each provider's answer to a token it does not know.
fn unauthenticated(p: Provider) -> Response {
    match p {
        Provider::Digitalocean => error(
            p,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unable to authenticate you",
        ),
        Provider::Supabase => error(p, StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
        Provider::Vercel => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": {"code": "forbidden", "message": "Not authorized", "invalidToken": true}})),
        )
            .into_response(),
        // The Web API answers HTTP 200 with `ok: false`.
        Provider::Slack => Json(json!({"ok": false, "error": "invalid_auth"})).into_response(),
        Provider::Plane | Provider::Host => error(
            p,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Given API token is not valid",
        ),
    }
}

/// Route a request to its account: the open one, or the one its token names. The control
/// API (`/_sim/...`) takes `?token=T` to reach another account than the first.
async fn dispatch(State(accounts): State<Arc<Accounts>>, req: Request) -> Response {
    use tower::ServiceExt;
    let first = || {
        accounts
            .open
            .as_ref()
            .or_else(|| accounts.by_token.values().next())
    };
    let target = if let Some(open) = &accounts.open {
        Some(open)
    } else if req.uri().path().starts_with("/_sim/") {
        let token = req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(str::to_string)
        });
        match token {
            Some(t) => accounts.by_token.get(&t),
            None => first(),
        }
    } else {
        match provider_of(req.uri().path()) {
            // Slack's incoming webhooks carry no token: the URL is the secret.
            Some(Provider::Slack) if req.uri().path().starts_with("/slack/services/") => first(),
            Some(p) => match credential(p, req.headers()) {
                // A missing credential gets the provider's own "not provided" answer.
                None => first(),
                Some(t) => match accounts.by_token.get(&t) {
                    Some(acct) => Some(acct),
                    None => return unauthenticated(p),
                },
            },
            None => first(),
        }
    };
    let Some((_, app)) = target else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": "no such simulator account"})),
        )
            .into_response();
    };
    match app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

fn provider_of(path: &str) -> Option<Provider> {
    let first = path.trim_start_matches('/').split('/').next()?;
    Provider::ALL.into_iter().find(|p| p.as_str() == first)
}

/// Decrements the in-flight count when a request ends, even when its future is dropped.
struct InFlight(Shared);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl SimState {
    /// Wait (up to `deadline`) until no request is being handled; true when idle.
    pub async fn wait_idle(&self, deadline: Duration) -> bool {
        let until = std::time::Instant::now() + deadline;
        while self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            if std::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

async fn count_and_fault(State(state): State<Shared>, req: Request, next: Next) -> Response {
    state
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let _in_flight = InFlight(state.clone());
    let path = req.uri().path().to_string();
    let method = req.method().as_str().to_string();
    *lock(&state.requests)
        .entry(format!("{} {}", req.method(), route_key(&path)))
        .or_default() += 1;
    let (fault, latency, retry_after, timeout) = {
        let mut f = lock(&state.faults);
        let c = &f.config;
        let (latency, retry_after, timeout) = (c.latency_ms, c.retry_after_secs, c.timeout_ms);
        (f.decide_for(&method, &path), latency, retry_after, timeout)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let provider = provider_of(&path);
    let Some(kind) = fault else {
        return next.run(req).await;
    };
    let p = provider.unwrap_or(Provider::Digitalocean);
    match kind {
        FaultKind::TooMany => {
            // Each provider's own 429 body: Slack `{"ok":false,"error":"ratelimited"}`, Plane
            // (DRF) `{"detail":"Request was throttled. …"}`, the others `too_many_requests`.
            let (code, message) = match p {
                Provider::Slack => ("ratelimited", "ratelimited".to_string()),
                Provider::Plane => (
                    "throttled",
                    format!("Request was throttled. Expected available in {retry_after} seconds."),
                ),
                _ => ("too_many_requests", "API rate limit exceeded.".to_string()),
            };
            let mut r = error(p, StatusCode::TOO_MANY_REQUESTS, code, &message);
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
        FaultKind::ServerError => error(
            p,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Unexpected server-side error",
        ),
        FaultKind::Unavailable => error(
            p,
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Service temporarily unavailable",
        ),
        FaultKind::Timeout => {
            tokio::time::sleep(Duration::from_millis(timeout)).await;
            error(
                p,
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "upstream timed out",
            )
        }
        FaultKind::Malformed => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"droplets\": [{\"id\": ",
        )
            .into_response(),
        FaultKind::Reset | FaultKind::Truncate => {
            let head: Result<axum::body::Bytes, std::io::Error> =
                Ok(axum::body::Bytes::from_static(b"{\"partial\": [1, 2,"));
            let tail: Result<axum::body::Bytes, std::io::Error> = Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ));
            let chunks = if kind == FaultKind::Reset {
                vec![tail]
            } else {
                vec![head, tail]
            };
            let body = Body::from_stream(futures::stream::iter(chunks));
            (StatusCode::OK, [("content-type", "application/json")], body).into_response()
        }
    }
}

/// Collapse ids in a path so counts group by route (`/v2/droplets/123` → `/v2/droplets/:id`).
fn route_key(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let idish = !seg.is_empty()
                && (seg.chars().all(|c| c.is_ascii_digit())
                    || (seg.len() >= 20 && seg.chars().all(|c| c.is_ascii_hexdigit() || c == '-')));
            if idish {
                ":id"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An error answer in the provider's own shape.
pub fn error(p: Provider, status: StatusCode, code: &str, message: &str) -> Response {
    let body = match p {
        Provider::Digitalocean => {
            json!({"id": code, "message": message, "request_id": uuid::Uuid::new_v4().to_string()})
        }
        Provider::Supabase => json!({"message": message}),
        Provider::Vercel => json!({"error": {"code": code, "message": message}}),
        Provider::Slack => json!({"ok": false, "error": code}),
        Provider::Plane | Provider::Host => json!({"detail": message}),
    };
    (status, Json(body)).into_response()
}

/// Bearer-token check shared by the providers that use one.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string)
}

async fn not_found(req: Request) -> Response {
    let p = provider_of(req.uri().path()).unwrap_or(Provider::Digitalocean);
    error(
        p,
        StatusCode::NOT_FOUND,
        "not_found",
        "The resource you were accessing could not be found.",
    )
}

async fn control_state(State(s): State<Shared>) -> Json<Value> {
    lock(&s.digitalocean).tick();
    Json(json!({
        "digitalocean": lock(&s.digitalocean).snapshot(),
        "supabase": lock(&s.supabase).snapshot(),
        "vercel": lock(&s.vercel).snapshot(),
        "slack": lock(&s.slack).snapshot(),
        "plane": lock(&s.plane).snapshot(),
        "faults_fired": lock(&s.faults).fired(),
    }))
}

async fn control_requests(State(s): State<Shared>) -> Json<Value> {
    Json(json!(lock(&s.requests).clone()))
}

async fn control_faults(State(s): State<Shared>, body: String) -> Response {
    let parsed = serde_json::from_str::<FaultConfig>(&body).or_else(|_| FaultConfig::parse(&body));
    match parsed {
        Ok(cfg) => {
            *lock(&s.faults) = Faults::new(cfg);
            Json(json!({"ok": true})).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"ok": false, "error": e})),
        )
            .into_response(),
    }
}

/// Out-of-band change, to create drift: `{"provider":"digitalocean","kind":"droplet","id":"…","set":{…}}`
/// merges `set` into the object; `"delete": true` removes it; `"create": {…}` (DigitalOcean
/// `record` or `db`) makes one by hand.
async fn control_mutate(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let provider = body.get("provider").and_then(Value::as_str).unwrap_or("");
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let id = body
        .get("id")
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default();
    let set = body.get("set").cloned().unwrap_or(Value::Null);
    let delete = body.get("delete").and_then(Value::as_bool).unwrap_or(false);
    // `"create": {…}` makes an object by hand (a foreign one: not ours).
    if let (Some(spec), "digitalocean") = (body.get("create"), provider) {
        return match lock(&s.digitalocean).create_foreign(kind, spec) {
            Ok(v) => Json(json!({"ok": true, "created": v})).into_response(),
            Err(e) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"ok": false, "error": e})),
            )
                .into_response(),
        };
    }
    let done = match provider {
        "digitalocean" => lock(&s.digitalocean).mutate(kind, &id, &set, delete),
        "supabase" => lock(&s.supabase).mutate(kind, &id, &set, delete),
        "vercel" => lock(&s.vercel).mutate(kind, &id, &set, delete),
        "plane" => lock(&s.plane).mutate(kind, &id, &set, delete),
        "slack" => lock(&s.slack).mutate(kind, &id, &set, delete),
        _ => Err(format!("unknown provider `{provider}`")),
    };
    match done {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": e})),
        )
            .into_response(),
    }
}

/// Merge `set` (an object) into `target`.
pub fn merge(target: &mut Value, set: &Value) {
    if let (Some(t), Some(s)) = (target.as_object_mut(), set.as_object()) {
        for (k, v) in s {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// RFC 3339 now.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_group_ids() {
        assert_eq!(
            route_key("/digitalocean/v2/droplets/12345"),
            "/digitalocean/v2/droplets/:id"
        );
        assert_eq!(
            route_key("/digitalocean/v2/droplets"),
            "/digitalocean/v2/droplets"
        );
    }
}
