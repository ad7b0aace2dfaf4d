//! `/api/openapi.json`: an OpenAPI 3.0 document generated from [`API_ROUTES`], the table the
//! tests hold the router to. It is served as the document itself (not in the envelope), so
//! Swagger UI and client generators read it. Response schemas are typed: each route's `data`
//! is the JSON Schema of the Rust type its handler serializes (`schemars`, OpenAPI 3.0 dialect),
//! under `components/schemas`, inside the `{"ok":true,"data":…}` envelope; every error is the
//! `Error` envelope.

use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

mod routes;
pub use routes::*;

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
                json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": super::data::DRIFT_LIST}),
                "At most this many open findings in `open`, most recently seen first (the counts cover all)",
            ),
        ],
        "/api/drift/history" => vec![
            query(
                "environment",
                json!({"type": "string"}),
                "Only this environment's findings (empty: all)",
            ),
            query(
                "days",
                json!({"type": "integer", "minimum": 1, "maximum": super::views::MAX_DAYS, "default": super::views::DRIFT_DAYS}),
                "How many days back, ending now",
            ),
        ],
        "/api/jobs" => vec![query(
            "status",
            json!({"type": "string", "enum": super::views::JOB_STATUSES}),
            "Only jobs of this status (empty: all)",
        )],
        "/api/runs" => vec![query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": super::data::RUN_LIST}),
            "At most this many runs, newest first",
        )],
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

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// A success answer: the envelope around the route's `data` schema.
fn ok_response(description: &str, data: &Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["ok", "data"],
        "properties": {"ok": {"type": "boolean", "enum": [true]}, "data": data}
    }}}})
}

/// Schemas of what the handlers serialize, in the OpenAPI 3.0 dialect (`nullable`, refs under
/// `#/components/schemas`).
struct Schemas(SchemaGenerator);

impl Schemas {
    fn new() -> Schemas {
        let settings = SchemaSettings::openapi3().with(|s| {
            s.contract = Contract::Serialize;
            s.meta_schema = None;
        });
        Schemas(settings.into_generator())
    }

    /// The schema of `T` (a `$ref` for named types), with the dialect's transforms applied.
    fn of<T: JsonSchema>(&mut self) -> Value {
        let mut schema: Schema = self.0.subschema_for::<T>();
        for t in self.0.transforms_mut() {
            t.transform(&mut schema);
        }
        let mut v = schema.to_value();
        fix_dialect(&mut v);
        v
    }

    fn definitions(mut self) -> Map<String, Value> {
        let mut defs = self.0.take_definitions(true);
        for v in defs.values_mut() {
            fix_dialect(v);
        }
        defs
    }
}

/// What `schemars`' OpenAPI 3.0 output still holds that 3.0 does not allow, fixed in one
/// schema and its subschemas: a `true` schema (any value) becomes `{}`, and a tuple's
/// `items: [a, b]` becomes `items: {anyOf: [a, b]}`. Only schema positions are visited
/// (`nullable: true` and `default` values are not schemas).
fn fix_dialect(v: &mut Value) {
    match v {
        Value::Bool(true) => *v = json!({}),
        Value::Object(o) => {
            if let Some(Value::Array(items)) = o.get("items").cloned() {
                let mut uniq: Vec<Value> = Vec::new();
                for i in items {
                    if !uniq.contains(&i) {
                        uniq.push(i);
                    }
                }
                let merged = if uniq.len() == 1 {
                    uniq.remove(0)
                } else {
                    json!({"anyOf": uniq})
                };
                o.insert("items".into(), merged);
                o.remove("additionalItems");
            }
            for key in ["items", "not"] {
                if let Some(child) = o.get_mut(key) {
                    fix_dialect(child);
                }
            }
            if let Some(Value::Object(_)) = o.get("additionalProperties") {
                if let Some(child) = o.get_mut("additionalProperties") {
                    fix_dialect(child);
                }
            }
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                props.values_mut().for_each(fix_dialect);
            }
            for key in ["anyOf", "oneOf", "allOf"] {
                if let Some(Value::Array(a)) = o.get_mut(key) {
                    a.iter_mut().for_each(fix_dialect);
                }
            }
        }
        _ => {}
    }
}

/// The `data` schema of a route's success answer.
fn data_schema(s: &mut Schemas, route: &ApiRoute) -> Value {
    use super::{api, data, views, webhooks};
    use crate::store::{Event, InventoryObject};
    match route.path {
        "/api/overview" => s.of::<data::Overview>(),
        "/api/environments" => s.of::<Vec<data::EnvHealth>>(),
        "/api/environments/{name}" => s.of::<views::EnvPage>(),
        "/api/drift" => s.of::<data::Drift>(),
        "/api/drift/history" => s.of::<views::DriftHistory>(),
        "/api/plans/{id}" => s.of::<views::PlanView>(),
        "/api/jobs" => s.of::<Vec<views::JobRow>>(),
        "/api/runs" => s.of::<data::Runs>(),
        "/api/runs/{id}" => s.of::<data::RunDetail>(),
        "/api/runs/{id}/events" | "/api/events" => s.of::<Vec<Event>>(),
        "/api/jobs/{id}" => s.of::<data::JobView>(),
        "/api/gates" => s.of::<data::Gates>(),
        "/api/backups" => s.of::<data::Backups>(),
        "/api/modules" => s.of::<Vec<data::EnvModules>>(),
        "/api/secrets" => s.of::<data::Secrets>(),
        "/api/inventory" => s.of::<Vec<InventoryObject>>(),
        "/api/settings" => s.of::<data::Settings>(),
        "/api/artifacts/{id}" => s.of::<api::ArtifactAnswer>(),
        p if p.starts_with("/api/actions/") => s.of::<api::ActionAnswer>(),
        p if p.starts_with("/api/webhooks/") => s.of::<webhooks::WebhookAnswer>(),
        _ => json!({}),
    }
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

/// The OpenAPI document: every route with the statuses it really answers, 2xx with the
/// route's typed `data` in the envelope, every other status with the `Error` envelope.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let mut paths = Map::new();
    for route in API_ROUTES {
        if route.path == "/api/openapi.json" {
            paths.insert(route.path.to_string(), openapi_route(route));
            continue;
        }
        let data = data_schema(&mut schemas, route);
        let mut params = path_params(route.path);
        params.extend(query_params(route.path));
        let mut responses = Map::new();
        let mut op = json!({"summary": route.summary, "operationId": operation_id(route)});
        match route.access {
            Access::Read => {
                op["security"] = json!([{"bearer": []}, {}]);
                responses.insert("200".into(), ok_response("OK", &data));
                responses.insert(
                    "400".into(),
                    error("A malformed parameter, or a query parameter the route does not take (named in the message)"),
                );
                responses.insert(
                    "401".into(),
                    error("No token (and no project is publicRead), or an invalid token"),
                );
                if route.path.contains('{') {
                    responses.insert(
                        "404".into(),
                        error("Not found, or of a project the token cannot see"),
                    );
                } else if query_params(route.path)
                    .iter()
                    .any(|p| p["name"] == "environment")
                {
                    responses.insert(
                        "404".into(),
                        error("The environment is of a project the token cannot see"),
                    );
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
                    ok_response(
                        "A replay: the job of the first request with this Idempotency-Key",
                        &data,
                    ),
                );
                responses.insert(
                    "202".into(),
                    ok_response("Enqueued (Location: the job)", &data),
                );
                responses.insert(
                    "400".into(),
                    error("Missing Idempotency-Key or malformed JSON"),
                );
                responses.insert(
                    "401".into(),
                    error("No operator token in the Authorization header, or an invalid token"),
                );
                responses.insert(
                    "403".into(),
                    error("The token is not an operator's on the project of every environment the action names (none named: on every project)"),
                );
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
                    ok_response("Processed, or a duplicate delivery", &data),
                );
                responses.insert("202".into(), ok_response("Accepted: jobs enqueued", &data));
                responses.insert(
                    "400".into(),
                    error("Missing delivery id or malformed payload"),
                );
                responses.insert("401".into(), error("Missing or invalid signature"));
                responses.insert("413".into(), error("Body too large"));
                responses.insert("503".into(), error("The webhook secret is not configured"));
            }
        }
        responses.insert(
            "500".into(),
            error("The evidence store failed (details in the server log)"),
        );
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        op["responses"] = Value::Object(responses);
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method] = op;
    }
    let mut components = schemas.definitions();
    components.insert(
        "Error".into(),
        json!({
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
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "OdooOps console API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every answer but this document is a JSON envelope: {\"ok\":true,\"data\":…} or {\"ok\":false,\"error\":{…}}. A token sees the projects it is configured for (and anonymous callers the publicRead projects): lists hold only their environments, and anything else answers 404."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components
        }
    })
}

/// `/api/openapi.json` itself: the plain document, no envelope.
fn openapi_route(route: &ApiRoute) -> Value {
    json!({"get": {
        "summary": route.summary,
        "operationId": operation_id(route),
        "security": [{"bearer": []}, {}],
        "responses": {
            "200": {"description": "The OpenAPI 3.0 document", "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["openapi", "info", "paths"],
                "properties": {"openapi": {"type": "string"}, "info": {"type": "object"}, "paths": {"type": "object"}, "components": {"type": "object"}}
            }}}},
            "401": error("No token (and no project is publicRead), or an invalid token"),
            "500": error("Internal error")
        }
    }})
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

/// The document, built once (it depends only on the code).
pub fn cached() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(document)
}

/// `GET /api/openapi.json`: the plain document (Swagger UI and generators read it as is).
pub async fn handler() -> axum::response::Response {
    super::errors::json_response(axum::http::StatusCode::OK, cached())
}
