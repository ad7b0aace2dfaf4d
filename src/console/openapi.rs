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
        "Open drift findings by environment and field (?environment=)",
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
        "/api/actions/{kind}",
        Access::Write,
        "Enqueue plan|apply|resync|gates|backup (Idempotency-Key header required)",
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

fn params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in API_ROUTES {
        let mut op = json!({
            "summary": route.summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}},
                "default": {"description": "Error envelope", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}}
            }
        });
        let ps = params(route.path);
        if !ps.is_empty() {
            op["parameters"] = Value::Array(ps);
        }
        match route.access {
            Access::Read => op["security"] = json!([{"bearer": []}, {}]),
            Access::Write => {
                op["security"] = json!([{"bearer": []}]);
                op["responses"]["202"] = json!({"description": "Enqueued"});
                op["parameters"] = {
                    let mut v = op["parameters"].as_array().cloned().unwrap_or_default();
                    v.push(json!({"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"type": "string"}}));
                    Value::Array(v)
                };
            }
            Access::Signed => op["security"] = json!([]),
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "OdooOps console API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "required": ["ok"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "data": {},
                        "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
                    }
                }
            }
        }
    })
}

pub async fn handler() -> Data<Value> {
    ok(document())
}
