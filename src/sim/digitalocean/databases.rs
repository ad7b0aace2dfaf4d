//! Managed database clusters, their databases and users. A cluster is `creating` (no
//! connection URI, no databases or users can be added) until it is `online`; a resize puts
//! it in `resizing` until it is `online` again.

use super::catalog;
use super::{answer, has_tag, name_of, not_found, unprocessable, DoState, Transition, Q};
use crate::sim::{lock, now, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/databases", get(list_clusters).post(create_cluster))
        .route(
            "/v2/databases/{id}",
            get(get_cluster).delete(delete_cluster),
        )
        .route("/v2/databases/{id}/resize", put(resize_cluster))
        .route("/v2/databases/{id}/dbs", get(list_dbs).post(create_db))
        .route(
            "/v2/databases/{id}/dbs/{name}",
            get(get_db).delete(delete_db),
        )
        .route(
            "/v2/databases/{id}/users",
            get(list_users).post(create_user),
        )
        .route(
            "/v2/databases/{id}/users/{name}",
            get(get_user).delete(delete_user),
        )
}

/// A cluster is ready: `online`, with its connection URI (the admin password is part of
/// the URI, as on the real API; the adapters never keep it).
pub(super) fn online(st: &mut DoState, id: &str) {
    if let Some(c) = st.clusters.get_mut(id) {
        c["status"] = json!("online");
        let host = c["connection"]["host"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let password = format!("sim-{}", uuid::Uuid::new_v4().simple());
        c["connection"]["uri"] = json!(format!(
            "postgresql://doadmin:{password}@{host}:25060/defaultdb?sslmode=require"
        ));
        c["connection"]["password"] = json!(password);
    }
}

async fn list_clusters(State(s): State<Shared>, Query(q): Q) -> Response {
    let items: Vec<Value> = lock(&s.digitalocean)
        .clusters
        .values()
        .filter(|c| q.get("tag_name").is_none_or(|t| has_tag(c, t)))
        .cloned()
        .collect();
    // Unpaginated, as documented.
    answer(&s, StatusCode::OK, Some(json!({"databases": items})))
}

async fn create_cluster(State(s): State<Shared>, body: Option<Json<Value>>) -> Response {
    let b = body.map(|b| b.0).unwrap_or(Value::Null);
    let (Some(name), Some(engine), Some(size), Some(region), Some(nodes)) = (
        b.get("name").and_then(Value::as_str),
        b.get("engine").and_then(Value::as_str),
        b.get("size").and_then(Value::as_str),
        b.get("region").and_then(Value::as_str),
        b.get("num_nodes").and_then(Value::as_u64),
    ) else {
        return unprocessable("name, engine, size, region and num_nodes are required");
    };
    if !catalog::hostname_ok(name) || name.len() < 3 {
        return unprocessable(&format!("{name} is not a valid cluster name"));
    }
    if engine != "pg" {
        return unprocessable(&format!("engine {engine} is not simulated (pg only)"));
    }
    if !catalog::REGIONS.contains(&region) {
        return unprocessable(&format!("{region} is not a valid region"));
    }
    if !catalog::cluster_size_ok(size) {
        return unprocessable(&format!("{size} is not a valid database size"));
    }
    if !(1..=3).contains(&nodes) {
        return unprocessable("num_nodes must be within 1..3");
    }
    let version = b
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("16")
        .to_string();
    if !catalog::PG_VERSIONS.contains(&version.as_str()) {
        return unprocessable(&format!("{version} is not a valid PostgreSQL version"));
    }
    let mut st = lock(&s.digitalocean);
    if st.clusters.values().any(|c| c["name"] == name) {
        drop(st);
        return unprocessable("a database cluster with this name already exists");
    }
    let id = uuid::Uuid::new_v4().to_string();
    let host = format!("{name}-do-user-0.b.db.ondigitalocean.com");
    let cluster = json!({
        "id": id, "name": name, "engine": engine, "version": version,
        "num_nodes": nodes, "size": size, "region": region, "status": "creating", "created_at": now(),
        "tags": b.get("tags").cloned().unwrap_or(json!([])), "db_names": ["defaultdb"],
        "connection": {"protocol": "postgresql", "host": host, "port": 25060, "user": "doadmin", "database": "defaultdb", "ssl": true, "uri": ""},
        "users": [{"name": "doadmin", "role": "primary"}],
        "maintenance_window": {"day": "tuesday", "hour": "01:00:00", "pending": false},
        "storage_size_mib": 10240
    });
    st.clusters.insert(id.clone(), cluster.clone());
    st.later(Transition::ClusterOnline(id));
    drop(st);
    answer(&s, StatusCode::CREATED, Some(json!({"database": cluster})))
}

async fn get_cluster(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let c = lock(&s.digitalocean).clusters.get(&id).cloned();
    match c {
        Some(c) => answer(&s, StatusCode::OK, Some(json!({"database": c}))),
        None => not_found(),
    }
}

async fn delete_cluster(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let removed = lock(&s.digitalocean).clusters.remove(&id);
    match removed {
        Some(_) => answer(&s, StatusCode::NO_CONTENT, None),
        None => not_found(),
    }
}

async fn resize_cluster(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let b = body.map(|b| b.0).unwrap_or(Value::Null);
    let (Some(size), Some(nodes)) = (
        b.get("size").and_then(Value::as_str),
        b.get("num_nodes").and_then(Value::as_u64),
    ) else {
        return unprocessable("size and num_nodes are required");
    };
    if !catalog::cluster_size_ok(size) || !(1..=3).contains(&nodes) {
        return unprocessable("size must be a database size and num_nodes within 1..3");
    }
    let mut st = lock(&s.digitalocean);
    let Some(c) = st.clusters.get_mut(&id) else {
        drop(st);
        return not_found();
    };
    if c["status"] != "online" {
        drop(st);
        return unprocessable("the database cluster is not online");
    }
    c["status"] = json!("resizing");
    c["size"] = json!(size);
    c["num_nodes"] = json!(nodes);
    st.later(Transition::ClusterOnline(id));
    drop(st);
    answer(&s, StatusCode::ACCEPTED, None)
}

/// Edit a cluster that must be online (databases and users cannot be added before).
fn with_online<T>(s: &Shared, id: &str, f: impl FnOnce(&mut Value) -> T) -> Result<T, Response> {
    let mut st = lock(&s.digitalocean);
    match st.clusters.get_mut(id) {
        None => Err(not_found()),
        Some(c) if c["status"] == "creating" => Err(unprocessable(
            "the database cluster is still being created; try again when it is online",
        )),
        Some(c) => Ok(f(c)),
    }
}

fn with_cluster<T>(s: &Shared, id: &str, f: impl FnOnce(&mut Value) -> T) -> Option<T> {
    lock(&s.digitalocean).clusters.get_mut(id).map(f)
}

async fn list_dbs(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    match with_cluster(&s, &id, |c| {
        c["db_names"].as_array().cloned().unwrap_or_default()
    }) {
        Some(names) => {
            let dbs: Vec<Value> = names.into_iter().map(|n| json!({"name": n})).collect();
            answer(&s, StatusCode::OK, Some(json!({"dbs": dbs})))
        }
        None => not_found(),
    }
}

async fn create_db(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(name) = name_of(&body) else {
        return unprocessable("name is required");
    };
    let added = with_online(&s, &id, |c| {
        let mut names = c["db_names"].as_array().cloned().unwrap_or_default();
        if names.iter().any(|n| n == name.as_str()) {
            return false;
        }
        names.push(json!(name));
        c["db_names"] = json!(names);
        true
    });
    match added {
        Err(r) => r,
        Ok(false) => unprocessable("database already exists"),
        Ok(true) => answer(&s, StatusCode::CREATED, Some(json!({"db": {"name": name}}))),
    }
}

async fn get_db(State(s): State<Shared>, Path((id, name)): Path<(String, String)>) -> Response {
    let found = with_cluster(&s, &id, |c| {
        c["db_names"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n == name.as_str()))
    });
    match found {
        Some(true) => answer(&s, StatusCode::OK, Some(json!({"db": {"name": name}}))),
        _ => not_found(),
    }
}

async fn delete_db(State(s): State<Shared>, Path((id, name)): Path<(String, String)>) -> Response {
    let removed = with_cluster(&s, &id, |c| {
        let mut names = c["db_names"].as_array().cloned().unwrap_or_default();
        let before = names.len();
        names.retain(|n| n != name.as_str());
        let changed = names.len() != before;
        c["db_names"] = json!(names);
        changed
    });
    match removed {
        Some(true) => answer(&s, StatusCode::NO_CONTENT, None),
        _ => not_found(),
    }
}

async fn list_users(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    match with_cluster(&s, &id, |c| c["users"].clone()) {
        Some(users) => answer(&s, StatusCode::OK, Some(json!({"users": users}))),
        None => not_found(),
    }
}

async fn create_user(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(name) = name_of(&body) else {
        return unprocessable("name is required");
    };
    // The password is generated by the provider and answered once; the simulator never
    // stores it in its visible state.
    let user = json!({"name": name, "role": "normal"});
    let added = with_online(&s, &id, |c| {
        let mut users = c["users"].as_array().cloned().unwrap_or_default();
        if users.iter().any(|u| u["name"] == name.as_str()) {
            return false;
        }
        users.push(user.clone());
        c["users"] = json!(users);
        true
    });
    match added {
        Err(r) => r,
        Ok(false) => unprocessable("user already exists"),
        Ok(true) => {
            let mut answer_user = user;
            answer_user["password"] =
                json!(format!("sim-generated-{}", uuid::Uuid::new_v4().simple()));
            answer(&s, StatusCode::CREATED, Some(json!({"user": answer_user})))
        }
    }
}

async fn get_user(State(s): State<Shared>, Path((id, name)): Path<(String, String)>) -> Response {
    let user = with_cluster(&s, &id, |c| {
        c["users"]
            .as_array()
            .and_then(|a| a.iter().find(|u| u["name"] == name.as_str()).cloned())
    })
    .flatten();
    match user {
        Some(u) => answer(&s, StatusCode::OK, Some(json!({"user": u}))),
        None => not_found(),
    }
}

async fn delete_user(
    State(s): State<Shared>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let removed = with_cluster(&s, &id, |c| {
        let mut users = c["users"].as_array().cloned().unwrap_or_default();
        let before = users.len();
        users.retain(|u| u["name"] != name.as_str());
        let changed = users.len() != before;
        c["users"] = json!(users);
        changed
    });
    match removed {
        Some(true) => answer(&s, StatusCode::NO_CONTENT, None),
        _ => not_found(),
    }
}
