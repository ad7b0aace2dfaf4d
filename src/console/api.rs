//! `/api/**` handlers: the pages' data as JSON in the envelope, and operator actions.

use super::auth::Principal;
use super::data::{self, EventQuery};
use super::errors::{ok, ApiError, ApiResult, Data, Query};
use super::{hv, AppState};
use crate::store::{Enqueued, QueueJob};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub async fn overview(State(st): State<AppState>) -> ApiResult<data::Overview> {
    Ok(ok(data::overview(&st).await?))
}

pub async fn environments(State(st): State<AppState>) -> ApiResult<Vec<data::EnvHealth>> {
    Ok(ok(data::overview(&st).await?.environments))
}

pub async fn environment(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<data::EnvDetail> {
    Ok(ok(data::environment(&st, &name).await?))
}

#[derive(Deserialize, Default)]
pub struct EnvFilter {
    pub environment: Option<String>,
}

pub async fn drift(
    State(st): State<AppState>,
    Query(q): Query<EnvFilter>,
) -> ApiResult<data::Drift> {
    let env = q.environment.filter(|e| !e.is_empty());
    Ok(ok(data::drift(&st, env.as_deref()).await?))
}

pub async fn runs(State(st): State<AppState>) -> ApiResult<data::Runs> {
    Ok(ok(data::runs(&st).await?))
}

pub async fn run(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<data::RunDetail> {
    Ok(ok(data::run(&st, &id).await?))
}

pub async fn run_events(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Vec<crate::store::Event>> {
    Ok(ok(data::run(&st, &id).await?.events))
}

pub async fn job(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<QueueJob> {
    Ok(ok(data::job(&st, &id).await?))
}

pub async fn gates(State(st): State<AppState>) -> ApiResult<data::Gates> {
    Ok(ok(data::gates(&st).await?))
}

pub async fn backups(State(st): State<AppState>) -> ApiResult<data::Backups> {
    Ok(ok(data::backups(&st).await?))
}

pub async fn modules(State(st): State<AppState>) -> ApiResult<Vec<data::EnvModules>> {
    Ok(ok(data::modules(&st)))
}

pub async fn secrets(State(st): State<AppState>) -> ApiResult<data::Secrets> {
    Ok(ok(data::secrets(&st).await?))
}

pub async fn events(
    State(st): State<AppState>,
    Query(q): Query<EventQuery>,
) -> ApiResult<Vec<crate::store::Event>> {
    Ok(ok(data::events(&st, &q).await?))
}

pub async fn inventory(
    State(st): State<AppState>,
) -> ApiResult<Vec<crate::store::InventoryObject>> {
    Ok(ok(data::inventory(&st).await?))
}

pub async fn settings(State(st): State<AppState>) -> ApiResult<data::Settings> {
    Ok(ok(data::settings(&st).await?))
}

pub async fn artifact(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    crate::store::validate_artifact_id(&id)?;
    let a = st
        .store
        .artifact(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("artifact {id} not found")))?;
    Ok(ok(
        json!({"artifact": a, "links": {"content": format!("/artifacts/{id}")}}),
    ))
}

/// Test-only route (mounted with `Config::test_routes`): proves panics become JSON 500s.
pub async fn test_panic() -> ApiResult<()> {
    panic!("deliberate panic from /api/_test/panic");
}

// ------------------------------------------------------------------ actions

/// The operator actions and the queue each lands on.
pub const ACTIONS: &[(&str, &str)] = &[
    ("plan", "reconcile"),
    ("apply", "reconcile"),
    ("resync", "reconcile"),
    ("gates", "gates"),
    ("backup", "backup"),
];

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    pub environment: Option<String>,
}

#[derive(Serialize)]
pub struct ActionAnswer {
    pub action: String,
    /// True when this Idempotency-Key was seen before and the first answer is returned.
    pub replayed: bool,
    pub job: QueueJob,
    pub links: serde_json::Value,
}

/// Validate and enqueue an action; returns the answer and whether the job is new.
pub async fn enqueue_action(
    st: &AppState,
    kind: &str,
    environment: Option<String>,
    idempotency_key: &str,
    actor: &str,
) -> Result<ActionAnswer, ApiError> {
    let Some((_, queue)) = ACTIONS.iter().find(|(k, _)| *k == kind) else {
        return Err(ApiError::not_found(format!(
            "unknown action {kind:?}; expected one of: plan, apply, resync, gates, backup"
        )));
    };
    if idempotency_key.is_empty()
        || idempotency_key.len() > 200
        || !idempotency_key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "send an Idempotency-Key header: 1-200 printable ASCII characters, unique per intended action",
        ));
    }
    let environment = environment.filter(|e| !e.is_empty());
    if let Some(env) = &environment {
        if !data::environments(st).iter().any(|e| e == env) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_environment",
                format!("no environment {env:?} in the SSOT"),
            ));
        }
    }
    let key = format!("console:{kind}:{idempotency_key}");
    let payload = json!({
        "action": kind,
        "environment": environment,
        "idempotency_key": idempotency_key,
        "requested_by": actor,
    });
    let answer = |job: QueueJob, replayed: bool| ActionAnswer {
        action: kind.to_string(),
        replayed,
        links: json!({"job": format!("/api/jobs/{}", job.id), "page": format!("/jobs/{}", job.id)}),
        job,
    };
    let check = |job: &QueueJob| -> Result<(), ApiError> {
        if job.payload.get("environment") != payload.get("environment") {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            ));
        }
        Ok(())
    };
    if let Some(job) = st.store.job_by_dedupe_key(&key).await? {
        check(&job)?;
        return Ok(answer(job, true));
    }
    match st.store.enqueue(queue, &key, &payload, None).await? {
        Enqueued::New(job) => Ok(answer(job, false)),
        Enqueued::Existing(job) => {
            check(&job)?;
            Ok(answer(job, true))
        }
    }
}

pub async fn action(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let parsed: ActionBody = if body.iter().all(|b| b.is_ascii_whitespace()) {
        ActionBody::default()
    } else {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("invalid JSON body: {e}"),
            )
        })?
    };
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_string();
    let actor = format!("console:{}", p.role.as_str());
    let a = enqueue_action(&st, &kind, parsed.environment, &idem, &actor).await?;
    let status = if a.replayed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let location = format!("/api/jobs/{}", a.job.id);
    let mut r = Data(status, a).into_response();
    r.headers_mut().insert(header::LOCATION, hv(&location));
    Ok(r)
}
