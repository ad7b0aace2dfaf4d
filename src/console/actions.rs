//! Operator actions (`POST /api/actions/{kind}`, and the pages' forms): a body checked
//! field by field, the operator role on every target's project, then a queue job enqueued
//! under an idempotency key.

use super::access::Scope;
use super::auth::{Principal, Role};
use super::data;
use super::errors::{ApiError, Data};
use super::{hv, AppState};
use crate::store::{Enqueued, QueueJob};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The operator actions and the queue each lands on.
pub const ACTIONS: &[(&str, &str)] = &[
    ("plan", "reconcile"),
    ("apply", "reconcile"),
    ("resync", "reconcile"),
    ("gates", "gates"),
    ("backup", "backup"),
    ("restore", "backup"),
    ("clone", "backup"),
];

/// The body fields each action accepts: (field, required). `environment` is the target.
pub fn action_fields(kind: &str) -> &'static [(&'static str, bool)] {
    match kind {
        "apply" => &[("environment", false), ("plan_id", false)],
        "restore" => &[("environment", true), ("backup_id", true)],
        "clone" => &[("environment", true), ("from", true)],
        _ => &[("environment", false)],
    }
}

/// The JSON body of an action (and the fields of its HTML form); empty strings count as
/// absent, as an HTML `<select>` sends them.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    pub environment: Option<String>,
    pub plan_id: Option<String>,
    pub backup_id: Option<String>,
    pub from: Option<String>,
}

impl ActionBody {
    fn field(&self, name: &str) -> Option<&str> {
        let v = match name {
            "environment" => &self.environment,
            "plan_id" => &self.plan_id,
            "backup_id" => &self.backup_id,
            "from" => &self.from,
            _ => &None,
        };
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ActionAnswer {
    pub action: String,
    /// True when this Idempotency-Key was seen before and the first answer is returned.
    pub replayed: bool,
    pub job: QueueJob,
    pub links: JobAnswerLinks,
}

#[derive(Serialize, JsonSchema)]
pub struct JobAnswerLinks {
    /// `/api/jobs/{id}`.
    pub job: String,
    /// `/jobs/{id}`.
    pub page: String,
}

fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn known_environment(st: &AppState, field: &str, env: &str) -> Result<(), ApiError> {
    if data::environments(st).iter().any(|e| e == env) {
        Ok(())
    } else {
        Err(unprocessable(
            "unknown_environment",
            format!("{field}: no environment {env:?} in the SSOT"),
        ))
    }
}

/// Whether an environment's stage is `production` (never a clone target).
pub fn is_production(st: &AppState, env: &str) -> bool {
    st.ssot
        .as_ref()
        .and_then(|s| s.environment(env))
        .is_some_and(|e| e.spec.stage == crate::ssot::model::Stage::Production)
}

fn uuid_field(field: &str, v: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(v).map_err(|_| {
        unprocessable(
            "invalid_id",
            format!(
                "{field} must be a UUID, got {:?}",
                v.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// Check the body against the action and build the queue payload (without the per-request
/// `idempotency_key` and `requested_by`).
async fn action_payload(
    st: &AppState,
    kind: &str,
    body: &ActionBody,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let fields = action_fields(kind);
    for name in ["environment", "plan_id", "backup_id", "from"] {
        let spec = fields.iter().find(|(f, _)| *f == name);
        match (spec, body.field(name)) {
            (None, Some(_)) => {
                return Err(unprocessable(
                    "unexpected_field",
                    format!("{name}: the {kind} action takes no such field"),
                ))
            }
            (Some((_, true)), None) => {
                return Err(unprocessable(
                    "missing_field",
                    format!("{name}: required by the {kind} action"),
                ))
            }
            _ => {}
        }
    }
    let environment = body.field("environment").map(str::to_string);
    if let Some(env) = &environment {
        known_environment(st, "environment", env)?;
    }
    let mut payload = serde_json::Map::new();
    payload.insert("action".into(), json!(kind));
    match kind {
        "apply" => {
            let plan_id = match body.field("plan_id") {
                Some(v) => {
                    let id = uuid_field("plan_id", v)?;
                    let plan = match st.store.plan(id).await? {
                        Some(p) if super::access::plan_visible(st, &p).await? => p,
                        _ => {
                            return Err(unprocessable(
                                "unknown_plan",
                                format!("plan_id: no plan {id}"),
                            ))
                        }
                    };
                    if plan.status != "planned" {
                        return Err(unprocessable(
                            "plan_not_applicable",
                            format!(
                                "plan_id: plan {id} is {}, only a planned plan can be applied",
                                plan.status
                            ),
                        ));
                    }
                    Some(id.to_string())
                }
                None => None,
            };
            payload.insert("plan_id".into(), json!(plan_id));
        }
        "restore" => {
            let v = body.field("backup_id").unwrap_or_default();
            let id = uuid_field("backup_id", v)?;
            let backup = st.store.backup(id).await?;
            let Some(backup) = backup.filter(|b| super::access::visible(st, Some(&b.environment)))
            else {
                return Err(unprocessable(
                    "unknown_backup",
                    format!("backup_id: no backup {id}"),
                ));
            };
            // A restore copies the backup's data as a clone copies its source's: it needs
            // the operator role on the backup's environment too.
            let role = Scope::current().role_on_env(st.ssot.as_ref(), &backup.environment);
            if role != Some(Role::Operator) {
                return Err(ApiError::forbidden(format!(
                    "the restore action on a backup of environment {:?} needs the operator role there",
                    backup.environment
                )));
            }
            payload.insert("backup_id".into(), json!(id.to_string()));
        }
        "clone" => {
            let from = body.field("from").unwrap_or_default().to_string();
            known_environment(st, "from", &from)?;
            let to = environment.clone().unwrap_or_default();
            if from == to {
                return Err(unprocessable(
                    "clone_onto_itself",
                    "environment: the clone target must differ from `from`",
                ));
            }
            if is_production(st, &to) {
                return Err(unprocessable(
                    "clone_into_production",
                    format!("environment: {to:?} is a production environment; clone refuses to overwrite production (restore a backup instead)"),
                ));
            }
            payload.insert("from".into(), json!(from));
        }
        _ => {}
    }
    payload.insert("environment".into(), json!(environment));
    Ok(payload)
}

/// The request part of a queued payload (what an Idempotency-Key replay must match): the
/// action and its non-null fields, without the per-request `idempotency_key`/`requested_by`.
fn request_part(payload: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if let Some(o) = payload.as_object() {
        for (k, v) in o {
            if k != "idempotency_key" && k != "requested_by" && !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::Value::Object(out)
}

/// The request part of a body as it would be queued (ids in canonical form).
fn body_request(kind: &str, body: &ActionBody) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("action".into(), json!(kind));
    for name in ["environment", "plan_id", "backup_id", "from"] {
        if let Some(v) = body.field(name) {
            let v = match name {
                "plan_id" | "backup_id" => uuid::Uuid::parse_str(v)
                    .map(|u| u.to_string())
                    .unwrap_or_else(|_| v.to_string()),
                _ => v.to_string(),
            };
            out.insert(name.into(), json!(v));
        }
    }
    serde_json::Value::Object(out)
}

/// Writes need the operator role on the project of every environment the action names, or
/// on every project when it names none. An environment outside the scope is answered as an
/// unknown one (422), so its existence is not revealed. Checked before an Idempotency-Key
/// replay, so a replay never shows another project's job.
fn operator_on_targets(st: &AppState, kind: &str, body: &ActionBody) -> Result<(), ApiError> {
    let scope = Scope::current();
    let ssot = st.ssot.as_ref();
    let need = |role: Option<Role>, what: String| -> Result<(), ApiError> {
        match role {
            Some(Role::Operator) => Ok(()),
            _ => Err(ApiError::forbidden(format!(
                "the {kind} action on {what} needs the operator role there"
            ))),
        }
    };
    let targets: Vec<(&str, &str)> = ["environment", "from"]
        .iter()
        .filter_map(|f| body.field(f).map(|v| (*f, v)))
        .collect();
    if targets.is_empty() {
        return need(scope.role_on_all(ssot), "every project".into());
    }
    for (field, env) in targets {
        match scope.role_on_env(ssot, env) {
            None => {
                return Err(unprocessable(
                    "unknown_environment",
                    format!("{field}: no environment {env:?} in the SSOT"),
                ))
            }
            role => need(role, format!("environment {env:?}"))?,
        }
    }
    Ok(())
}

/// Validate and enqueue an action; returns the answer and whether the job is new.
pub async fn enqueue_action(
    st: &AppState,
    kind: &str,
    body: &ActionBody,
    idempotency_key: &str,
    actor: &str,
) -> Result<ActionAnswer, ApiError> {
    let Some((_, queue)) = ACTIONS.iter().find(|(k, _)| *k == kind) else {
        let known: Vec<&str> = ACTIONS.iter().map(|(k, _)| *k).collect();
        return Err(ApiError::not_found(format!(
            "unknown action {kind:?}; expected one of: {}",
            known.join(", ")
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
    operator_on_targets(st, kind, body)?;
    let request = body_request(kind, body);
    let key = format!("console:{kind}:{idempotency_key}");
    let check = |job: &QueueJob| -> Result<(), ApiError> {
        if request_part(&job.payload) != request {
            return Err(unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            ));
        }
        Ok(())
    };
    let answer = |job: QueueJob, replayed: bool| ActionAnswer {
        action: kind.to_string(),
        replayed,
        links: JobAnswerLinks {
            job: format!("/api/jobs/{}", job.id),
            page: format!("/jobs/{}", job.id),
        },
        job,
    };
    // A replay answers with the first job even when its inputs have changed since (the plan
    // it applied is no longer `planned`).
    if let Some(job) = st.store.job_by_dedupe_key(&key).await? {
        check(&job)?;
        return Ok(answer(job, true));
    }
    let mut payload = action_payload(st, kind, body).await?;
    payload.insert("idempotency_key".into(), json!(idempotency_key));
    payload.insert("requested_by".into(), json!(actor));
    let payload = serde_json::Value::Object(payload);
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
            if e.classify() == serde_json::error::Category::Data {
                unprocessable("invalid_body", format!("invalid action body: {e}"))
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("invalid JSON body: {e}"),
                )
            }
        })?
    };
    // Forms send empty fields for "none"; a JSON body says so with null or by leaving the
    // field out, so an empty string there is a malformed value.
    for name in ["environment", "plan_id", "backup_id", "from"] {
        let v = match name {
            "environment" => &parsed.environment,
            "plan_id" => &parsed.plan_id,
            "backup_id" => &parsed.backup_id,
            _ => &parsed.from,
        };
        if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(unprocessable(
                "empty_field",
                format!("{name}: empty; leave the field out or send null"),
            ));
        }
    }
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_string();
    let actor = format!("console:{}", p.role.as_str());
    let a = enqueue_action(&st, &kind, &parsed, &idem, &actor).await?;
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
