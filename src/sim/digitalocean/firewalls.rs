//! Cloud firewalls: rules validated like the real API's (protocol, ports for tcp/udp,
//! addresses), PUT replaces the whole firewall.

use super::catalog;
use super::{answer, listed, not_found, page, unprocessable, Q};
use crate::sim::{lock, now, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/firewalls", get(list_firewalls).post(create_firewall))
        .route(
            "/v2/firewalls/{id}",
            get(get_firewall)
                .put(update_firewall)
                .delete(delete_firewall),
        )
        .route(
            "/v2/firewalls/{id}/droplets",
            post(firewall_add_droplets).delete(firewall_remove_droplets),
        )
}

fn check_rule(r: &Value, side: &str) -> Result<(), String> {
    let protocol = r.get("protocol").and_then(Value::as_str).unwrap_or("");
    if !matches!(protocol, "tcp" | "udp" | "icmp") {
        return Err("rule protocol must be tcp, udp or icmp".into());
    }
    let ports = r.get("ports").and_then(Value::as_str).unwrap_or("");
    if protocol != "icmp" {
        if ports.is_empty() {
            return Err(format!("ports is required for {protocol} rules"));
        }
        if !catalog::ports_ok(ports) {
            return Err(format!(
                "ports `{ports}` must be a port, a range (8000-9000), 0 or all"
            ));
        }
    }
    let targets = r.get(side);
    for a in targets
        .and_then(|t| t.get("addresses"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match a.as_str() {
            Some(a) if catalog::cidr_ok(a) => {}
            _ => return Err(format!("{side} address {a} is not an IP address or CIDR")),
        }
    }
    Ok(())
}

fn firewall_from(b: &Value, id: &str, created_at: &str) -> Result<Value, Response> {
    let Some(name) = b.get("name").and_then(Value::as_str) else {
        return Err(unprocessable("name is required"));
    };
    if !catalog::hostname_ok(name) {
        return Err(unprocessable(
            "name may only contain letters, numbers, dashes and periods",
        ));
    }
    for (dir, side) in [
        ("inbound_rules", "sources"),
        ("outbound_rules", "destinations"),
    ] {
        for r in b.get(dir).and_then(Value::as_array).into_iter().flatten() {
            check_rule(r, side).map_err(|m| unprocessable(&m))?;
        }
    }
    for t in b
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !t.as_str().is_some_and(catalog::tag_ok) {
            return Err(unprocessable(&format!("tag {t} is not a valid tag name")));
        }
    }
    Ok(json!({
        "id": id, "name": name, "status": "succeeded", "created_at": created_at, "pending_changes": [],
        "inbound_rules": b.get("inbound_rules").cloned().unwrap_or(json!([])),
        "outbound_rules": b.get("outbound_rules").cloned().unwrap_or(json!([])),
        "droplet_ids": b.get("droplet_ids").cloned().unwrap_or(json!([])),
        "tags": b.get("tags").cloned().unwrap_or(json!([])),
    }))
}

async fn list_firewalls(State(s): State<Shared>, Query(q): Q) -> Response {
    let st = lock(&s.digitalocean);
    let paged = page(
        &s,
        "/v2/firewalls",
        &q,
        "firewalls",
        st.firewalls.values().collect(),
    );
    drop(st);
    listed(&s, paged)
}

async fn create_firewall(State(s): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(Json(b)) = body else {
        return unprocessable("request body must be JSON");
    };
    let id = uuid::Uuid::new_v4().to_string();
    match firewall_from(&b, &id, &now()) {
        Ok(fw) => {
            lock(&s.digitalocean).firewalls.insert(id, fw.clone());
            answer(&s, StatusCode::ACCEPTED, Some(json!({"firewall": fw})))
        }
        Err(r) => r,
    }
}

async fn get_firewall(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let fw = lock(&s.digitalocean).firewalls.get(&id).cloned();
    match fw {
        Some(fw) => answer(&s, StatusCode::OK, Some(json!({"firewall": fw}))),
        None => not_found(),
    }
}

async fn update_firewall(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(b)) = body else {
        return unprocessable("request body must be JSON");
    };
    let created = match lock(&s.digitalocean).firewalls.get(&id) {
        Some(fw) => fw["created_at"].as_str().unwrap_or_default().to_string(),
        None => return not_found(),
    };
    // PUT replaces the whole firewall.
    match firewall_from(&b, &id, &created) {
        Ok(fw) => {
            lock(&s.digitalocean).firewalls.insert(id, fw.clone());
            answer(&s, StatusCode::OK, Some(json!({"firewall": fw})))
        }
        Err(r) => r,
    }
}

async fn delete_firewall(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let removed = lock(&s.digitalocean).firewalls.remove(&id);
    match removed {
        Some(_) => answer(&s, StatusCode::NO_CONTENT, None),
        None => not_found(),
    }
}

fn edit_firewall_droplets(s: &Shared, id: &str, b: &Value, add: bool) -> Response {
    let ids: Vec<Value> = b
        .get("droplet_ids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut st = lock(&s.digitalocean);
    let Some(fw) = st.firewalls.get_mut(id) else {
        return not_found();
    };
    let mut current: Vec<Value> = fw["droplet_ids"].as_array().cloned().unwrap_or_default();
    if add {
        for i in ids {
            if !current.contains(&i) {
                current.push(i);
            }
        }
    } else {
        current.retain(|x| !ids.contains(x));
    }
    fw["droplet_ids"] = json!(current);
    drop(st);
    answer(s, StatusCode::NO_CONTENT, None)
}

async fn firewall_add_droplets(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    edit_firewall_droplets(&s, &id, &body.map(|b| b.0).unwrap_or(Value::Null), true)
}

async fn firewall_remove_droplets(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    edit_firewall_droplets(&s, &id, &body.map(|b| b.0).unwrap_or(Value::Null), false)
}
