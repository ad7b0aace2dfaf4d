//! Plane API v1, simulated: the current user, work items (cursor pagination, external-id
//! filters, 409 on a duplicate `external_id` + `external_source`), states and labels. Shapes
//! follow the drf-spectacular description (`PaginatedWorkItemResponse`, `Issue`, `State`,
//! `Label`); auth failures answer 403 like the open-source server; every answer carries
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds, no limit header).

use super::{lock, merge, now, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

mod lists;
pub use lists::paginated;
use lists::{create_label, list_labels, list_states, page_of};

const PRIORITIES: [&str; 5] = ["urgent", "high", "medium", "low", "none"];
/// Seeded states: name, group, colour.
const STATES: [(&str, &str, &str); 5] = [
    ("Backlog", "backlog", "#60646C"),
    ("Todo", "unstarted", "#60646C"),
    ("In Progress", "started", "#F59E0B"),
    ("Done", "completed", "#46A758"),
    ("Cancelled", "cancelled", "#9AA4BC"),
];
const LABELS: [(&str, &str); 3] = [
    ("odooops", "#3F76FF"),
    ("drift", "#F59E0B"),
    ("security", "#DC2626"),
];
/// Fields a create or PATCH may set on a work item.
const WRITABLE: [&str; 13] = [
    "name",
    "description_html",
    "priority",
    "state",
    "assignees",
    "labels",
    "parent",
    "estimate_point",
    "type_id",
    "start_date",
    "target_date",
    "external_id",
    "external_source",
];

/// One project: its states, labels and work items (in creation order).
#[derive(Debug, Default)]
pub struct Project {
    pub id: String,
    pub workspace: String,
    pub states: Vec<Value>,
    pub labels: Vec<Value>,
    pub items: Vec<Value>,
    next_sequence: i64,
}

#[derive(Debug)]
pub struct PlaneState {
    /// The user every valid key belongs to.
    pub user_id: String,
    /// Workspace ids by slug.
    pub workspaces: BTreeMap<String, String>,
    /// Projects by id (created on first use, with the default states and labels).
    pub projects: BTreeMap<String, Project>,
    /// Keys answered with "Given API token is not valid".
    pub invalid_keys: Vec<String>,
    /// Requests allowed per key per minute (`API_KEY_RATE_LIMIT`, 60 by default).
    pub rate_limit_per_minute: u64,
    window: (i64, HashMap<String, u64>),
}

impl Default for PlaneState {
    fn default() -> Self {
        PlaneState {
            user_id: Uuid::new_v4().to_string(),
            workspaces: BTreeMap::new(),
            projects: BTreeMap::new(),
            invalid_keys: Vec::new(),
            rate_limit_per_minute: 60,
            window: (0, HashMap::new()),
        }
    }
}

impl PlaneState {
    pub fn snapshot(&self) -> Value {
        json!({
            "projects": self.projects.values().map(|p| json!({
                "id": p.id, "workspace": p.workspace, "states": p.states,
                "labels": p.labels, "work_items": p.items,
            })).collect::<Vec<_>>(),
        })
    }

    /// `work_item` (id = uuid): merge `set` or delete.
    pub fn mutate(
        &mut self,
        kind: &str,
        id: &str,
        set: &Value,
        delete: bool,
    ) -> Result<(), String> {
        if kind != "work_item" {
            return Err(format!("unknown plane kind `{kind}`"));
        }
        for p in self.projects.values_mut() {
            if let Some(i) = p.items.iter().position(|w| w["id"] == id) {
                if delete {
                    p.items.remove(i);
                } else {
                    merge(&mut p.items[i], set);
                }
                return Ok(());
            }
        }
        Err(format!("no work item `{id}`"))
    }

    /// The project, created with the default states and labels on first use.
    pub fn project(&mut self, slug: &str, project_id: &str) -> Result<&mut Project, Response> {
        if Uuid::parse_str(project_id).is_err() {
            return Err(detail(StatusCode::NOT_FOUND, "Not found."));
        }
        let workspace = self
            .workspaces
            .entry(slug.to_string())
            .or_insert_with(|| Uuid::new_v4().to_string())
            .clone();
        let user = self.user_id.clone();
        Ok(self
            .projects
            .entry(project_id.to_string())
            .or_insert_with(|| seed_project(project_id, &workspace, &user)))
    }

    /// Insert a work item directly (test seeding), as a create would.
    pub fn seed_item(&mut self, slug: &str, project_id: &str, fields: &Value) -> Option<Value> {
        let user = self.user_id.clone();
        let p = self.project(slug, project_id).ok()?;
        let item = p.new_item(fields, &user);
        p.items.push(item.clone());
        Some(item)
    }
}

fn seed_project(id: &str, workspace: &str, user: &str) -> Project {
    let ts = now();
    let base = |name: &str, color: &str| {
        json!({
            "id": Uuid::new_v4().to_string(), "created_at": ts, "updated_at": ts, "deleted_at": null,
            "name": name, "description": "", "color": color, "external_source": null,
            "external_id": null, "created_by": user, "updated_by": null, "project": id,
            "workspace": workspace,
        })
    };
    let states = STATES
        .iter()
        .enumerate()
        .map(|(i, (name, group, color))| {
            let mut s = base(name, color);
            merge(
                &mut s,
                &json!({"slug": name.to_lowercase().replace(' ', "-"), "sequence": (i as f64 + 1.0) * 15000.0,
                        "group": group, "is_triage": false, "default": i == 0}),
            );
            s
        })
        .collect();
    let labels = LABELS
        .iter()
        .enumerate()
        .map(|(i, (name, color))| {
            let mut l = base(name, color);
            merge(
                &mut l,
                &json!({"sort_order": (i as f64 + 1.0) * 65535.0, "parent": null}),
            );
            l
        })
        .collect();
    Project {
        id: id.to_string(),
        workspace: workspace.to_string(),
        states,
        labels,
        items: Vec::new(),
        next_sequence: 0,
    }
}

impl Project {
    fn new_item(&mut self, fields: &Value, user: &str) -> Value {
        self.next_sequence += 1;
        let ts = now();
        let default_state = self
            .states
            .iter()
            .find(|s| s["default"] == true)
            .map(|s| s["id"].clone())
            .unwrap_or(Value::Null);
        let mut item = json!({
            "id": Uuid::new_v4().to_string(), "type_id": null, "created_at": ts, "updated_at": ts,
            "deleted_at": null, "point": null, "name": "", "description_html": "<p></p>",
            "description_binary": null, "priority": "none", "start_date": null, "target_date": null,
            "sequence_id": self.next_sequence, "sort_order": 65535.0 * self.next_sequence as f64,
            "completed_at": null, "archived_at": null, "is_draft": false,
            "external_source": null, "external_id": null, "created_by": user, "updated_by": null,
            "project": self.id, "workspace": self.workspace, "parent": null,
            "state": default_state, "estimate_point": null, "type": null,
            "assignees": [], "labels": [],
        });
        merge(&mut item, fields);
        self.stamp_completion(&mut item);
        item
    }

    fn state_group(&self, state: &Value) -> Option<&str> {
        self.states
            .iter()
            .find(|s| &s["id"] == state)
            .and_then(|s| s["group"].as_str())
    }

    fn stamp_completion(&self, item: &mut Value) {
        item["completed_at"] = match self.state_group(&item["state"]) {
            Some("completed") => json!(item["updated_at"].clone()),
            _ => Value::Null,
        };
    }

    /// Serializer-style validation of a create or PATCH body; answers the 400 body.
    fn validate(&self, body: &Map<String, Value>, create: bool) -> Result<Value, Value> {
        let mut errors = Map::new();
        let mut clean = Map::new();
        match body.get("name") {
            None if create => {
                errors.insert("name".into(), json!(["This field is required."]));
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                errors.insert("name".into(), json!(["This field may not be blank."]));
            }
            Some(v) if !v.is_string() => {
                errors.insert("name".into(), json!(["Not a valid string."]));
            }
            _ => {}
        }
        if let Some(p) = body.get("priority") {
            if !p.as_str().is_some_and(|p| PRIORITIES.contains(&p)) {
                errors.insert(
                    "priority".into(),
                    json!([format!("{p} is not a valid choice.")]),
                );
            }
        }
        if let Some(s) = body.get("state").filter(|s| !s.is_null()) {
            if self.state_group(s).is_none() {
                return Err(json!({"error": "State is not valid please pass a valid state_id"}));
            }
        }
        if let Some(labels) = body.get("labels") {
            let known = labels
                .as_array()
                .is_some_and(|a| a.iter().all(|l| self.labels.iter().any(|k| &k["id"] == l)));
            if !known {
                errors.insert(
                    "labels".into(),
                    json!(["Invalid pk - object does not exist."]),
                );
            }
        }
        if !errors.is_empty() {
            return Err(Value::Object(errors));
        }
        for k in WRITABLE {
            if let Some(v) = body.get(k) {
                clean.insert(k.to_string(), v.clone());
            }
        }
        Ok(Value::Object(clean))
    }

    fn duplicate(&self, id: &Value, source: &Value, except: &Value) -> Option<Value> {
        if id.is_null() || source.is_null() {
            return None;
        }
        self.items
            .iter()
            .find(|w| {
                &w["external_id"] == id && &w["external_source"] == source && &w["id"] != except
            })
            .map(|w| w["id"].clone())
    }
}

pub fn routes() -> Router<Shared> {
    let wi = "/api/v1/workspaces/{slug}/projects/{project_id}/work-items";
    Router::new()
        .route("/api/v1/users/me/", get(me))
        .route(&format!("{wi}/"), get(list_items).post(create_item))
        .route(
            &format!("{wi}/{{pk}}/"),
            get(get_item).patch(patch_item).delete(delete_item),
        )
        .route(
            "/api/v1/workspaces/{slug}/projects/{project_id}/states/",
            get(list_states),
        )
        .route(
            "/api/v1/workspaces/{slug}/projects/{project_id}/labels/",
            get(list_labels).post(create_label),
        )
}

fn detail(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({"detail": msg}))).into_response()
}

/// Key check and per-key throttle; the answer gets the rate-limit headers.
fn guard(s: &Shared, headers: &HeaderMap) -> Result<(String, u64, i64), Response> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.trim().is_empty())
        .map(str::to_string);
    let mut st = lock(&s.plane);
    let Some(key) = key else {
        return Err(detail(
            StatusCode::FORBIDDEN,
            "Authentication credentials were not provided.",
        ));
    };
    if st.invalid_keys.contains(&key) {
        return Err(detail(
            StatusCode::FORBIDDEN,
            "Given API token is not valid",
        ));
    }
    let minute = chrono::Utc::now().timestamp() / 60;
    if st.window.0 != minute {
        st.window = (minute, HashMap::new());
    }
    let limit = st.rate_limit_per_minute;
    let used = st.window.1.entry(key.clone()).or_default();
    let reset = (minute + 1) * 60;
    if *used >= limit {
        let wait = (reset - chrono::Utc::now().timestamp()).max(1);
        let mut r = detail(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Request was throttled. Expected available in {wait} seconds."),
        );
        headers_on(&mut r, 0, reset);
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        return Err(r);
    }
    *used += 1;
    Ok((key, limit - *used, reset))
}

fn headers_on(r: &mut Response, remaining: u64, reset: i64) {
    for (k, v) in [
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
}

/// Run `f` behind the guard and put the rate-limit headers on whatever it answers.
fn guarded(s: &Shared, headers: &HeaderMap, f: impl FnOnce() -> Response) -> Response {
    match guard(s, headers) {
        Err(r) => r,
        Ok((_, remaining, reset)) => {
            let mut r = f();
            headers_on(&mut r, remaining, reset);
            r
        }
    }
}

type Q = Query<HashMap<String, String>>;
type ProjectPath = Path<(String, String)>;
type ItemPath = Path<(String, String, String)>;

async fn me(State(s): State<Shared>, headers: HeaderMap) -> Response {
    guarded(&s, &headers, || {
        let id = lock(&s.plane).user_id.clone();
        Json(json!({
            "id": id, "first_name": "OdooOps", "last_name": "Bot", "email": "bot@odooops.invalid",
            "avatar": "", "avatar_url": "", "display_name": "odooops",
        }))
        .into_response()
    })
}

async fn list_items(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid)): ProjectPath,
    Query(q): Q,
) -> Response {
    guarded(&s, &headers, || {
        let (per_page, page) = match page_of(&q) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let mut st = lock(&s.plane);
        let p = match st.project(&slug, &pid) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let mut items: Vec<Value> = p
            .items
            .iter()
            .filter(|w| {
                ["external_id", "external_source"].iter().all(|k| {
                    q.get(*k)
                        .is_none_or(|want| w[*k].as_str() == Some(want.as_str()))
                })
            })
            .cloned()
            .collect();
        // Default order is `-created_at`: newest first (sequence breaks same-second ties).
        let order = q.get("order_by").map_or("-created_at", String::as_str);
        if order.starts_with('-') {
            items.reverse();
        }
        Json(paginated(&items, per_page, page)).into_response()
    })
}

fn body_object(body: &str) -> Result<Map<String, Value>, Response> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(detail(StatusCode::BAD_REQUEST, "JSON parse error.")),
    }
}

async fn create_item(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid)): ProjectPath,
    body: String,
) -> Response {
    guarded(&s, &headers, || {
        let body = match body_object(&body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = lock(&s.plane);
        let user = st.user_id.clone();
        let p = match st.project(&slug, &pid) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let clean = match p.validate(&body, true) {
            Ok(c) => c,
            Err(e) => return (StatusCode::BAD_REQUEST, Json(e)).into_response(),
        };
        if let Some(id) = p.duplicate(
            &clean["external_id"],
            &clean["external_source"],
            &Value::Null,
        ) {
            return (
                StatusCode::CONFLICT,
                Json(json!({"error": "Issue with the same external id and external source already exists", "id": id})),
            )
                .into_response();
        }
        let item = p.new_item(&clean, &user);
        p.items.push(item.clone());
        (StatusCode::CREATED, Json(item)).into_response()
    })
}

fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "No Issue matches the given query.")
}

async fn get_item(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid, pk)): ItemPath,
) -> Response {
    guarded(&s, &headers, || {
        let mut st = lock(&s.plane);
        match st.project(&slug, &pid) {
            Err(r) => r,
            Ok(p) => match p.items.iter().find(|w| w["id"] == pk.as_str()) {
                Some(w) => Json(w.clone()).into_response(),
                None => not_found(),
            },
        }
    })
}

async fn patch_item(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid, pk)): ItemPath,
    body: String,
) -> Response {
    guarded(&s, &headers, || {
        let body = match body_object(&body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = lock(&s.plane);
        let user = st.user_id.clone();
        let p = match st.project(&slug, &pid) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let Some(i) = p.items.iter().position(|w| w["id"] == pk.as_str()) else {
            return not_found();
        };
        let clean = match p.validate(&body, false) {
            Ok(c) => c,
            Err(e) => return (StatusCode::BAD_REQUEST, Json(e)).into_response(),
        };
        let mut next = p.items[i].clone();
        merge(&mut next, &clean);
        if let Some(id) = p.duplicate(&next["external_id"], &next["external_source"], &next["id"]) {
            return (
                StatusCode::CONFLICT,
                Json(json!({"error": "Issue with the same external id and external source already exists", "id": id})),
            )
                .into_response();
        }
        merge(&mut next, &json!({"updated_at": now(), "updated_by": user}));
        p.stamp_completion(&mut next);
        p.items[i] = next.clone();
        Json(next).into_response()
    })
}

async fn delete_item(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid, pk)): ItemPath,
) -> Response {
    guarded(&s, &headers, || {
        let mut st = lock(&s.plane);
        let p = match st.project(&slug, &pid) {
            Ok(p) => p,
            Err(r) => return r,
        };
        match p.items.iter().position(|w| w["id"] == pk.as_str()) {
            Some(i) => {
                p.items.remove(i);
                StatusCode::NO_CONTENT.into_response()
            }
            None => not_found(),
        }
    })
}
