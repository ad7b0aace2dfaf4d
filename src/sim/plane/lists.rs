//! Plane's list answers: the cursor (`<per_page>:<page>:<is_prev>`), the paginated envelope,
//! and the state and label endpoints.

use super::{body_object, detail, guarded, lock, now, Project, ProjectPath, Shared, Q};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

const MAX_PER_PAGE: usize = 100;
const DEFAULT_PER_PAGE: usize = 100;

/// Parse `<per_page>:<page>:<is_prev>`; the `per_page` query wins when given.
pub(super) fn page_of(q: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let bad = |m: &str| detail(StatusCode::BAD_REQUEST, m);
    let mut per_page = DEFAULT_PER_PAGE;
    let mut page = 0;
    if let Some(c) = q.get("cursor") {
        let parts: Vec<&str> = c.split(':').collect();
        let nums: Option<Vec<usize>> = parts.iter().map(|p| p.parse().ok()).collect();
        match nums.as_deref() {
            Some([pp, pg, _]) if *pp > 0 => (per_page, page) = (*pp, *pg),
            _ => return Err(bad("Invalid cursor parameter.")),
        }
    }
    if let Some(pp) = q.get("per_page") {
        per_page = pp
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad("Invalid per_page parameter."))?;
    }
    if per_page > MAX_PER_PAGE {
        return Err(bad(&format!(
            "Invalid per_page value. Cannot exceed {MAX_PER_PAGE}."
        )));
    }
    Ok((per_page, page))
}

/// The full paginated envelope Plane answers for lists.
pub fn paginated(all: &[Value], per_page: usize, page: usize) -> Value {
    let total = all.len();
    let start = page.saturating_mul(per_page).min(total);
    let results: Vec<Value> = all.iter().skip(start).take(per_page).cloned().collect();
    json!({
        "grouped_by": null, "sub_grouped_by": null, "total_count": total,
        "next_cursor": format!("{per_page}:{}:0", page + 1),
        "prev_cursor": format!("{per_page}:{}:1", page.saturating_sub(1)),
        "next_page_results": start + results.len() < total,
        "prev_page_results": page > 0 && total > 0,
        "count": results.len(), "total_pages": total.div_ceil(per_page),
        "total_results": total, "extra_stats": null, "results": results,
    })
}

pub(super) async fn list_states(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid)): ProjectPath,
    Query(q): Q,
) -> Response {
    list_of(&s, &headers, &slug, &pid, &q, |p| &p.states)
}

pub(super) async fn list_labels(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((slug, pid)): ProjectPath,
    Query(q): Q,
) -> Response {
    list_of(&s, &headers, &slug, &pid, &q, |p| &p.labels)
}

fn list_of(
    s: &Shared,
    headers: &HeaderMap,
    slug: &str,
    pid: &str,
    q: &HashMap<String, String>,
    pick: impl FnOnce(&Project) -> &Vec<Value>,
) -> Response {
    guarded(s, headers, || {
        let (per_page, page) = match page_of(q) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let mut st = lock(&s.plane);
        match st.project(slug, pid) {
            Err(r) => r,
            Ok(p) => Json(paginated(pick(p), per_page, page)).into_response(),
        }
    })
}

pub(super) async fn create_label(
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
        let Some(name) = body
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
        else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"name": ["This field is required."]})),
            )
                .into_response();
        };
        let mut st = lock(&s.plane);
        let user = st.user_id.clone();
        let p = match st.project(&slug, &pid) {
            Ok(p) => p,
            Err(r) => return r,
        };
        if let Some(l) = p.labels.iter().find(|l| l["name"] == name) {
            return (
                StatusCode::CONFLICT,
                Json(json!({"error": "Label with the same name already exists in the project", "id": l["id"]})),
            )
                .into_response();
        }
        let ts = now();
        let label = json!({
            "id": Uuid::new_v4().to_string(), "created_at": ts, "updated_at": ts, "deleted_at": null,
            "name": name, "description": body.get("description").cloned().unwrap_or(json!("")),
            "color": body.get("color").cloned().unwrap_or(json!("#3F76FF")),
            "sort_order": 65535.0 * (p.labels.len() as f64 + 1.0),
            "external_source": null, "external_id": null, "created_by": user, "updated_by": null,
            "workspace": p.workspace, "project": p.id, "parent": null,
        });
        p.labels.push(label.clone());
        (StatusCode::CREATED, Json(label)).into_response()
    })
}
