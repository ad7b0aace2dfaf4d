//! Droplets and their actions, asynchronous as on the real API.

use super::catalog::{self, region_object, size_facts, size_object};
use super::{answer, has_tag, listed, not_found, page, unprocessable, DoState, Transition, Q};
use crate::sim::{lock, merge, now, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v2/droplets",
            get(list_droplets)
                .post(create_droplet)
                .delete(delete_droplets_by_tag),
        )
        .route("/v2/droplets/{id}", get(get_droplet).delete(delete_droplet))
        .route(
            "/v2/droplets/{id}/actions",
            post(droplet_action).get(list_droplet_actions),
        )
        .route(
            "/v2/droplets/{id}/actions/{action_id}",
            get(get_droplet_action),
        )
        .route("/v2/actions/{id}", get(get_action))
}

pub(super) fn apply_size(d: &mut Value, slug: &str) {
    let (vcpus, memory, disk, _) = size_facts(slug).unwrap_or((1, 1024, 25, 6.0));
    merge(
        d,
        &json!({"size_slug": slug, "size": size_object(slug), "vcpus": vcpus, "memory": memory, "disk": disk}),
    );
}

fn set_feature(d: &mut Value, feature: &str, on: bool) {
    let mut features: Vec<Value> = d["features"].as_array().cloned().unwrap_or_default();
    features.retain(|f| f != feature);
    if on {
        features.push(json!(feature));
    }
    d["features"] = json!(features);
}

/// The public address handed to droplet `id`.
fn address(st: &DoState, id: u64) -> String {
    let base = u32::from(st.address_base);
    std::net::Ipv4Addr::from(base + (id % 250) as u32).to_string()
}

/// A create completed: the droplet is up, with its public addresses.
pub(super) fn up(st: &mut DoState, id: u64) {
    let ip = address(st, id);
    let Some(d) = st.droplets.get_mut(&id) else {
        return;
    };
    d["status"] = json!("active");
    d["locked"] = json!(false);
    let mut v6 = Vec::new();
    if d["features"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "ipv6"))
    {
        v6.push(json!({"ip_address": format!("2001:db8::{:x}", id % 65536), "netmask": 64, "gateway": "2001:db8::1", "type": "public"}));
    }
    d["networks"] = json!({
        "v4": [
            {"ip_address": ip, "netmask": "255.255.255.0", "gateway": "203.0.113.254", "type": "public"},
            {"ip_address": format!("10.110.0.{}", id % 250 + 1), "netmask": "255.255.240.0", "gateway": "10.110.0.1", "type": "private"}
        ],
        "v6": v6,
    });
    for a in st.actions.values_mut() {
        if a["resource_id"] == id && a["type"] == "create" {
            a["status"] = json!("completed");
            a["completed_at"] = json!(now());
        }
    }
}

/// An action completed: its effect is applied and the droplet unlocked.
pub(super) fn action_done(st: &mut DoState, action_id: u64) {
    let Some(a) = st.actions.get_mut(&action_id) else {
        return;
    };
    a["status"] = json!("completed");
    a["completed_at"] = json!(now());
    let kind = a["type"].as_str().unwrap_or_default().to_string();
    let params = a.get("_params").cloned().unwrap_or(Value::Null);
    if let Some(o) = a.as_object_mut() {
        o.remove("_params");
    }
    let Some(id) = a["resource_id"].as_u64() else {
        return;
    };
    let Some(d) = st.droplets.get_mut(&id) else {
        return;
    };
    d["locked"] = json!(false);
    match kind.as_str() {
        "resize" => {
            if let Some(size) = params["size"].as_str() {
                apply_size(d, size);
            }
        }
        "power_off" | "shutdown" => d["status"] = json!("off"),
        "power_on" | "reboot" | "power_cycle" => d["status"] = json!("active"),
        "rename" => {
            if let Some(n) = params["name"].as_str() {
                d["name"] = json!(n);
            }
        }
        "enable_backups" => set_feature(d, "backups", true),
        "disable_backups" => set_feature(d, "backups", false),
        "enable_ipv6" => set_feature(d, "ipv6", true),
        _ => {}
    }
}

async fn list_droplets(State(s): State<Shared>, Query(q): Q) -> Response {
    let paged = {
        let st = lock(&s.digitalocean);
        let items: Vec<&Value> = st
            .droplets
            .values()
            .filter(|d| q.get("tag_name").is_none_or(|t| has_tag(d, t)))
            .filter(|d| q.get("name").is_none_or(|n| d["name"] == n.as_str()))
            .collect();
        page(&s, "/v2/droplets", &q, "droplets", items)
    };
    listed(&s, paged)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

async fn create_droplet(State(s): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(Json(b)) = body else {
        return unprocessable("request body must be JSON");
    };
    let names: Vec<String> = match (
        b.get("name").and_then(Value::as_str),
        b.get("names").and_then(Value::as_array),
    ) {
        (Some(n), _) => vec![n.to_string()],
        (None, Some(ns)) => ns
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => return unprocessable("name is required"),
    };
    if let Some(bad) = names.iter().find(|n| !catalog::hostname_ok(n)) {
        return unprocessable(&format!(
            "{bad} is not a valid name: only valid hostname characters are allowed (a-z, A-Z, 0-9, . and -)"
        ));
    }
    let Some(size) = b.get("size").and_then(Value::as_str) else {
        return unprocessable("size is required");
    };
    let Some(image) = b.get("image").and_then(|i| {
        i.as_str()
            .map(str::to_string)
            .or_else(|| i.as_u64().map(|n| n.to_string()))
    }) else {
        return unprocessable("image is required");
    };
    if size_facts(size).is_none() {
        return unprocessable(&format!("{size} is not a valid size"));
    }
    if !catalog::image_ok(&image) {
        return unprocessable(&format!("{image} is not a valid image"));
    }
    let region = b
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or("nyc3")
        .to_string();
    if !catalog::REGIONS.contains(&region.as_str()) {
        return unprocessable(&format!("{region} is not a valid region"));
    }
    let tags = strings(b.get("tags"));
    if let Some(bad) = tags.iter().find(|t| !catalog::tag_ok(t)) {
        return unprocessable(&format!(
            "tag `{bad}` may only contain letters, numbers, colons, dashes and underscores"
        ));
    }
    if b.get("user_data")
        .and_then(Value::as_str)
        .is_some_and(|u| u.len() > 64 * 1024)
    {
        return unprocessable("user_data is limited to 64 KiB");
    }
    let mut created = Vec::new();
    let mut actions = Vec::new();
    {
        let mut st = lock(&s.digitalocean);
        for name in &names {
            let id = st.id();
            let action_id = st.id();
            let mut features = vec!["private_networking"];
            for (flag, feature) in [
                ("monitoring", "monitoring"),
                ("ipv6", "ipv6"),
                ("backups", "backups"),
            ] {
                if b.get(flag).and_then(Value::as_bool) == Some(true) {
                    features.push(feature);
                }
            }
            // A new droplet has no address yet: it is `new` and locked by its create action.
            let slug: Value = if image.chars().all(|c| c.is_ascii_digit()) {
                Value::Null
            } else {
                json!(image)
            };
            let image_id: u64 = image.parse().unwrap_or(100_000 + image.len() as u64);
            let mut d = json!({
                "id": id, "name": name, "memory": 0, "vcpus": 0, "disk": 0, "locked": true, "status": "new",
                "kernel": null, "created_at": now(), "features": features, "backup_ids": [],
                "next_backup_window": if features.contains(&"backups") { json!({"start": now(), "end": now()}) } else { Value::Null },
                "snapshot_ids": [], "image": {"id": image_id, "name": image, "slug": slug, "distribution": "Ubuntu", "public": true,
                    "regions": [region], "type": "base", "min_disk_size": 7, "size_gigabytes": 2.36, "created_at": now(), "status": "available"},
                "volume_ids": [], "size": {}, "size_slug": size,
                "networks": {"v4": [], "v6": []},
                "region": region_object(&region), "tags": tags, "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000", "disk_info": []
            });
            apply_size(&mut d, size);
            if let Some(ud) = b.get("user_data").and_then(Value::as_str) {
                st.user_data.insert(id, ud.to_string());
            }
            for t in &tags {
                st.tags
                    .entry(t.clone())
                    .or_insert_with(|| json!({"name": t}));
            }
            st.droplets.insert(id, d.clone());
            st.droplets_created += 1;
            let action = json!({"id": action_id, "status": "in-progress", "type": "create", "started_at": now(), "completed_at": null,
                                "resource_id": id, "resource_type": "droplet", "region": region_object(&region), "region_slug": region});
            st.actions.insert(action_id, action);
            st.later(Transition::DropletUp(id));
            created.push(d);
            actions.push(json!({"id": action_id, "rel": "create", "href": format!("{}/digitalocean/v2/actions/{action_id}", s.base_url())}));
        }
    }
    let body = if created.len() == 1 && b.get("name").is_some() {
        json!({"droplet": created[0], "links": {"actions": actions}})
    } else {
        json!({"droplets": created, "links": {"actions": actions}})
    };
    answer(&s, StatusCode::ACCEPTED, Some(body))
}

async fn get_droplet(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let d = lock(&s.digitalocean).droplets.get(&id).cloned();
    match d {
        Some(d) => answer(&s, StatusCode::OK, Some(json!({"droplet": d}))),
        None => not_found(),
    }
}

/// Start destroying a droplet: it lingers, `off` and locked, until it is gone.
fn destroy(st: &mut DoState, id: u64) {
    if let Some(d) = st.droplets.get_mut(&id) {
        d["status"] = json!("off");
        d["locked"] = json!(true);
        st.later(Transition::DropletGone(id));
    }
}

async fn delete_droplet(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let found = {
        let mut st = lock(&s.digitalocean);
        let found = st.droplets.contains_key(&id);
        destroy(&mut st, id);
        found
    };
    if found {
        answer(&s, StatusCode::NO_CONTENT, None)
    } else {
        not_found()
    }
}

async fn delete_droplets_by_tag(State(s): State<Shared>, Query(q): Q) -> Response {
    let Some(tag) = q.get("tag_name") else {
        return unprocessable("tag_name is required");
    };
    {
        let mut st = lock(&s.digitalocean);
        let ids: Vec<u64> = st
            .droplets
            .iter()
            .filter(|(_, d)| has_tag(d, tag))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            destroy(&mut st, id);
        }
    }
    answer(&s, StatusCode::NO_CONTENT, None)
}

async fn droplet_action(
    State(s): State<Shared>,
    Path(id): Path<u64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(b)) = body else {
        return unprocessable("request body must be JSON");
    };
    let kind = b
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut st = lock(&s.digitalocean);
    let Some(d) = st.droplets.get(&id) else {
        drop(st);
        return not_found();
    };
    let region = d["region"]["slug"].as_str().unwrap_or("nyc3").to_string();
    let running = d["status"] == "active";
    if d["locked"] == true {
        drop(st);
        return unprocessable("Droplet already has a pending event.");
    }
    let mut params = json!({});
    match kind.as_str() {
        "resize" => {
            let Some(size) = b.get("size").and_then(Value::as_str) else {
                drop(st);
                return unprocessable("size is required for resize");
            };
            if size_facts(size).is_none() {
                drop(st);
                return unprocessable(&format!("{size} is not a valid size"));
            }
            if running {
                drop(st);
                return unprocessable(
                    "Droplet is currently on. Please power it off to run this event.",
                );
            }
            params = json!({"size": size});
        }
        "rename" => match b.get("name").and_then(Value::as_str) {
            Some(n) if catalog::hostname_ok(n) => params = json!({"name": n}),
            _ => {
                drop(st);
                return unprocessable("name must be a valid hostname");
            }
        },
        "power_off" | "shutdown" | "power_on" | "reboot" | "power_cycle" | "enable_backups"
        | "disable_backups" | "enable_ipv6" | "snapshot" | "password_reset" | "rebuild"
        | "restore" | "change_kernel" => {}
        _ => {
            drop(st);
            return unprocessable("type is not a valid droplet action");
        }
    }
    let action_id = st.id();
    let action = json!({"id": action_id, "status": "in-progress", "type": kind, "started_at": now(), "completed_at": null,
                        "resource_id": id, "resource_type": "droplet", "region": region_object(&region), "region_slug": region});
    let mut stored = action.clone();
    stored["_params"] = params;
    st.actions.insert(action_id, stored);
    if let Some(d) = st.droplets.get_mut(&id) {
        d["locked"] = json!(true);
    }
    st.later(Transition::ActionDone(action_id));
    drop(st);
    answer(&s, StatusCode::CREATED, Some(json!({"action": action})))
}

/// An action as the API shows it (without the simulator's own bookkeeping).
fn public(a: &Value) -> Value {
    let mut a = a.clone();
    if let Some(o) = a.as_object_mut() {
        o.remove("_params");
    }
    a
}

async fn get_action(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let a = lock(&s.digitalocean).actions.get(&id).map(public);
    match a {
        Some(a) => answer(&s, StatusCode::OK, Some(json!({"action": a}))),
        None => not_found(),
    }
}

async fn get_droplet_action(
    State(s): State<Shared>,
    Path((id, action_id)): Path<(u64, u64)>,
) -> Response {
    let a = lock(&s.digitalocean)
        .actions
        .get(&action_id)
        .filter(|a| a["resource_id"] == id)
        .map(public);
    match a {
        Some(a) => answer(&s, StatusCode::OK, Some(json!({"action": a}))),
        None => not_found(),
    }
}

async fn list_droplet_actions(
    State(s): State<Shared>,
    Path(id): Path<u64>,
    Query(q): Q,
) -> Response {
    let paged = {
        let st = lock(&s.digitalocean);
        if !st.droplets.contains_key(&id) {
            drop(st);
            return not_found();
        }
        let items: Vec<Value> = st
            .actions
            .values()
            .filter(|a| a["resource_id"] == id)
            .map(public)
            .collect();
        page(
            &s,
            &format!("/v2/droplets/{id}/actions"),
            &q,
            "actions",
            items.iter().collect(),
        )
    };
    listed(&s, paged)
}
