//! `/api/openapi.json`: an OpenAPI 3.0 document generated from [`API_ROUTES`], the table the
//! tests hold the router to.

use super::errors::{ok, Data};
use serde_json::{json, Map, Value};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Viewer token (or none with `publicRead`).
    Read,
    /// Operator token in the Authorization header.
    Write,
    /// HMAC signature of the body.
    Signed,
}

pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> ApiRoute {
    ApiRoute {
        method,
        path,
        access,
        summary,
    }
}

/// Every `/api` route (paths relative to the server root, `{x}` for parameters).
pub const API_ROUTES: &[ApiRoute] = &[
    r(
        "get",
        "/api/overview",
        Access::Read,
        "Health per environment, open drift, last runs, gate pass rate, drift over time",
    ),
    r(
        "get",
        "/api/environments",
        Access::Read,
        "Environments with health",
    ),
    r(
        "get",
        "/api/environments/{name}",
        Access::Read,
        "One environment: desired settings, last backup, gates, open drift",
    ),
    r(
        "get",
        "/api/drift",
        Access::Read,
        "Open drift counts by environment and by field, and the most recently seen open findings (?environment=&limit=)",
    ),
    r(
        "get",
        "/api/runs",
        Access::Read,
        "Recent runs and queue jobs",
    ),
    r(
        "get",
        "/api/runs/{id}",
        Access::Read,
        "One run: plans, diffs, actions, events, artifacts",
    ),
    r(
        "get",
        "/api/runs/{id}/events",
        Access::Read,
        "A run's event timeline, oldest first",
    ),
    r("get", "/api/jobs/{id}", Access::Read, "One work-queue job"),
    r(
        "get",
        "/api/gates",
        Access::Read,
        "Defined gates, gate runs and results",
    ),
    r(
        "get",
        "/api/backups",
        Access::Read,
        "Backup policies and recorded backups",
    ),
    r(
        "get",
        "/api/modules",
        Access::Read,
        "Allowed modules per environment (ModuleSet waves)",
    ),
    r(
        "get",
        "/api/secrets",
        Access::Read,
        "Secret registry keys with presence only, and sync runs",
    ),
    r(
        "get",
        "/api/events",
        Access::Read,
        "Events (?environment=&level=&correlation_id=&since=&limit=)",
    ),
    r(
        "get",
        "/api/inventory",
        Access::Read,
        "Objects of the latest inventory ingest",
    ),
    r(
        "get",
        "/api/settings",
        Access::Read,
        "Console settings (no secret values)",
    ),
    r(
        "get",
        "/api/artifacts/{id}",
        Access::Read,
        "Artifact metadata and its content link",
    ),
    r("get", "/api/openapi.json", Access::Read, "This document"),
    r(
        "post",
        "/api/actions/plan",
        Access::Write,
        "Enqueue a plan (optional environment)",
    ),
    r(
        "post",
        "/api/actions/apply",
        Access::Write,
        "Enqueue an apply: of a saved `planned` plan (plan_id) or of a fresh plan",
    ),
    r(
        "post",
        "/api/actions/resync",
        Access::Write,
        "Enqueue a full resync (optional environment)",
    ),
    r(
        "post",
        "/api/actions/gates",
        Access::Write,
        "Enqueue a gate run (optional environment)",
    ),
    r(
        "post",
        "/api/actions/backup",
        Access::Write,
        "Enqueue a backup (optional environment)",
    ),
    r(
        "post",
        "/api/actions/restore",
        Access::Write,
        "Enqueue a restore of backup_id into environment",
    ),
    r(
        "post",
        "/api/actions/clone",
        Access::Write,
        "Enqueue a clone of `from` into environment (never production)",
    ),
    r(
        "post",
        "/api/webhooks/github",
        Access::Signed,
        "GitHub webhook (X-Hub-Signature-256)",
    ),
    r(
        "post",
        "/api/webhooks/plane",
        Access::Signed,
        "Plane webhook (X-Plane-Signature)",
    ),
];

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = match (path, name) {
                (_, "id") if path.starts_with("/api/artifacts/") => {
                    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
                }
                (_, "id") => json!({"type": "string", "format": "uuid"}),
                _ => json!({"type": "string"}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

/// A query parameter; an empty value (`?environment=`) means the same as none, as HTML forms
/// send it (`allowEmptyValue`), except for integers.
fn query(name: &str, schema: Value, description: &str) -> Value {
    let empty_ok = schema["type"] != "integer";
    json!({"name": name, "in": "query", "required": false, "allowEmptyValue": empty_ok, "schema": schema, "description": description})
}

fn header_param(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": required, "schema": schema, "description": description})
}

fn query_params(path: &str) -> Vec<Value> {
    let levels: Vec<&str> = crate::store::Level::ALL
        .iter()
        .map(|l| l.as_str())
        .collect();
    match path {
        "/api/drift" => vec![
            query(
                "environment",
                json!({"type": "string"}),
                "Only this environment's findings (empty: all)",
            ),
            query(
                "limit",
                json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                "At most this many open findings in `open`, most recently seen first (the counts cover all)",
            ),
        ],
        "/api/events" => vec![
            query(
                "environment",
                json!({"type": "string"}),
                "Only this environment (empty: all)",
            ),
            query(
                "level",
                json!({"type": "string", "enum": levels}),
                "This level and more severe ones",
            ),
            query(
                "correlation_id",
                json!({"type": "string"}),
                "One correlation id",
            ),
            query(
                "since",
                json!({"type": "string", "format": "date-time"}),
                "RFC 3339; events at or after it",
            ),
            query(
                "limit",
                json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}),
                "At most this many events, newest first",
            ),
        ],
        _ => Vec::new(),
    }
}

fn response(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn error(description: &str) -> Value {
    response(description, "Error")
}

/// The JSON body an action accepts (unknown fields are refused).
fn action_body(kind: &str) -> Value {
    let fields = super::api::action_fields(kind);
    let mut props = Map::new();
    for (name, _) in fields {
        let (schema, description) = match *name {
            "environment" => (
                json!({"type": "string", "nullable": true}),
                "Target environment (an SSOT Environment name)",
            ),
            "plan_id" => (
                json!({"type": "string", "format": "uuid", "nullable": true}),
                "A saved plan whose status is `planned`",
            ),
            "backup_id" => (
                json!({"type": "string", "format": "uuid"}),
                "A recorded backup",
            ),
            "from" => (json!({"type": "string"}), "Source environment"),
            _ => (json!({"type": "string"}), ""),
        };
        let mut schema = schema;
        schema["description"] = json!(description);
        props.insert(name.to_string(), schema);
    }
    let required: Vec<&str> = fields.iter().filter(|(_, r)| *r).map(|(n, _)| *n).collect();
    let mut body = json!({"type": "object", "additionalProperties": false, "properties": props});
    if !required.is_empty() {
        body["required"] = json!(required);
    }
    body
}

/// The OpenAPI document: every route with the statuses it really answers, each with the
/// envelope schema (`Ok` for 2xx, `Error` otherwise).
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in API_ROUTES {
        let mut params = path_params(route.path);
        params.extend(query_params(route.path));
        let mut responses = Map::new();
        let mut op = json!({"summary": route.summary, "operationId": operation_id(route)});
        match route.access {
            Access::Read => {
                op["security"] = json!([{"bearer": []}, {}]);
                responses.insert("200".into(), response("OK", "Ok"));
                if !params.is_empty() {
                    responses.insert("400".into(), error("A malformed parameter"));
                }
                responses.insert(
                    "401".into(),
                    error("No token (and publicRead is off), or an invalid token"),
                );
                if route.path.contains('{') {
                    responses.insert("404".into(), error("Not found"));
                }
            }
            Access::Write => {
                let kind = route.path.rsplit('/').next().unwrap_or_default();
                op["security"] = json!([{"bearer": []}]);
                params.push(header_param(
                    "Idempotency-Key",
                    true,
                    json!({"type": "string", "pattern": "^[!-~]{1,200}$"}),
                    "Unique per intended action; a replay returns the first job",
                ));
                op["requestBody"] = json!({
                    "required": false,
                    "content": {"application/json": {"schema": action_body(kind)}}
                });
                responses.insert(
                    "200".into(),
                    response(
                        "A replay: the job of the first request with this Idempotency-Key",
                        "Ok",
                    ),
                );
                responses.insert("202".into(), response("Enqueued (Location: the job)", "Ok"));
                responses.insert(
                    "400".into(),
                    error("Missing Idempotency-Key or malformed JSON"),
                );
                responses.insert(
                    "401".into(),
                    error("No operator token in the Authorization header, or an invalid token"),
                );
                responses.insert("403".into(), error("The token is not an operator's"));
                responses.insert("413".into(), error("Body too large"));
                responses.insert("415".into(), error("Body not application/json"));
                responses.insert("422".into(), error("A field is wrong for this action: unknown environment, plan or backup, clone into production, or an Idempotency-Key reused for a different request"));
            }
            Access::Signed => {
                op["security"] = json!([]);
                let (sig, delivery) = if route.path.ends_with("/github") {
                    ("X-Hub-Signature-256", "X-GitHub-Delivery")
                } else {
                    ("X-Plane-Signature", "X-Plane-Delivery")
                };
                params.push(header_param(
                    sig,
                    true,
                    json!({"type": "string"}),
                    "HMAC-SHA256 of the body",
                ));
                params.push(header_param(
                    delivery,
                    false,
                    json!({"type": "string"}),
                    "Delivery id (deduplication)",
                ));
                op["requestBody"] = json!({
                    "required": false,
                    "content": {"application/json": {"schema": {"type": "object"}}}
                });
                responses.insert(
                    "200".into(),
                    response("Processed, or a duplicate delivery", "Ok"),
                );
                responses.insert("202".into(), response("Accepted: jobs enqueued", "Ok"));
                responses.insert(
                    "400".into(),
                    error("Missing delivery id or malformed payload"),
                );
                responses.insert("401".into(), error("Missing or invalid signature"));
                responses.insert("413".into(), error("Body too large"));
                responses.insert("503".into(), error("The webhook secret is not configured"));
            }
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        op["responses"] = Value::Object(responses);
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "OdooOps console API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every answer is a JSON envelope: {\"ok\":true,\"data\":…} or {\"ok\":false,\"error\":{…}}."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Ok": {
                    "type": "object",
                    "required": ["ok", "data"],
                    "properties": {
                        "ok": {"type": "boolean", "enum": [true]},
                        "data": {}
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["ok", "error"],
                    "properties": {
                        "ok": {"type": "boolean", "enum": [false]},
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "status", "requestId"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "status": {"type": "integer"},
                                "requestId": {"type": "string"}
                            }
                        }
                    }
                }
            }
        }
    })
}

fn operation_id(route: &ApiRoute) -> String {
    let mut id = String::from(route.method);
    for seg in route.path.trim_start_matches("/api/").split('/') {
        let seg = seg.trim_matches(|c| c == '{' || c == '}');
        id.push('_');
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

pub async fn handler() -> Data<Value> {
    ok(document())
}
