//! Tags and tagging droplets.

use super::catalog;
use super::{answer, listed, name_of, not_found, page, unprocessable, DoState, Q};
use crate::sim::{lock, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/tags", get(list_tags).post(create_tag))
        .route("/v2/tags/{name}", get(get_tag).delete(delete_tag))
        .route(
            "/v2/tags/{name}/resources",
            post(tag_resources).delete(untag_resources),
        )
}

async fn list_tags(State(s): State<Shared>, Query(q): Q) -> Response {
    let items: Vec<Value> = {
        let st = lock(&s.digitalocean);
        st.tags.keys().map(|t| tag_object(&st, t)).collect()
    };
    listed(&s, page(&s, "/v2/tags", &q, "tags", items.iter().collect()))
}

fn tag_object(st: &DoState, name: &str) -> Value {
    let count = st
        .droplets
        .values()
        .filter(|d| super::has_tag(d, name))
        .count();
    json!({"name": name, "resources": {"count": count, "droplets": {"count": count}}})
}

async fn create_tag(State(s): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(name) = name_of(&body) else {
        return unprocessable("name is required");
    };
    if !catalog::tag_ok(&name) {
        return unprocessable(
            "tag names may only contain letters, numbers, colons, dashes and underscores",
        );
    }
    let tag = {
        let mut st = lock(&s.digitalocean);
        st.tags.insert(name.clone(), json!({"name": name}));
        tag_object(&st, &name)
    };
    answer(&s, StatusCode::CREATED, Some(json!({"tag": tag})))
}

async fn get_tag(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    let tag = {
        let st = lock(&s.digitalocean);
        st.tags.contains_key(&name).then(|| tag_object(&st, &name))
    };
    match tag {
        Some(t) => answer(&s, StatusCode::OK, Some(json!({"tag": t}))),
        None => not_found(),
    }
}

async fn delete_tag(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    let removed = lock(&s.digitalocean).tags.remove(&name);
    match removed {
        Some(_) => answer(&s, StatusCode::NO_CONTENT, None),
        None => not_found(),
    }
}

/// Droplet ids of a tag/untag body (`resources: [{resource_id, resource_type}]`).
fn tag_targets(body: &Option<Json<Value>>) -> Result<Vec<u64>, Response> {
    let Some(Json(b)) = body else {
        return Err(unprocessable("request body must be JSON"));
    };
    let Some(items) = b.get("resources").and_then(Value::as_array) else {
        return Err(unprocessable("resources is required"));
    };
    let mut ids = Vec::new();
    for r in items {
        if r.get("resource_type").and_then(Value::as_str) != Some("droplet") {
            return Err(unprocessable("only droplet resources are simulated"));
        }
        match r
            .get("resource_id")
            .and_then(Value::as_str)
            .and_then(|i| i.parse().ok())
        {
            Some(id) => ids.push(id),
            None => return Err(unprocessable("resource_id must be a string droplet id")),
        }
    }
    Ok(ids)
}

fn retag(s: &Shared, name: &str, body: &Option<Json<Value>>, add: bool) -> Response {
    let ids = match tag_targets(body) {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let mut st = lock(&s.digitalocean);
    if !st.tags.contains_key(name) {
        drop(st);
        return not_found();
    }
    for id in ids {
        if let Some(d) = st.droplets.get_mut(&id) {
            let mut tags: Vec<Value> = d["tags"].as_array().cloned().unwrap_or_default();
            tags.retain(|t| t != name);
            if add {
                tags.push(json!(name));
            }
            d["tags"] = json!(tags);
        }
    }
    drop(st);
    answer(s, StatusCode::NO_CONTENT, None)
}

async fn tag_resources(
    State(s): State<Shared>,
    Path(name): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    retag(&s, &name, &body, true)
}

async fn untag_resources(
    State(s): State<Shared>,
    Path(name): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    retag(&s, &name, &body, false)
}
