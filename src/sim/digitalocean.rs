//! DigitalOcean API v2, simulated: droplets (+ actions), firewalls, domains and records,
//! managed databases (clusters, dbs, users), tags and the account. Shapes, pagination
//! (`page`/`per_page`, absolute `links.pages.next`), rate-limit headers and error bodies
//! follow the official OpenAPI description.

use super::{bearer, error, lock, merge, now, Shared};
use crate::provider::error::Provider;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

const P: Provider = Provider::Digitalocean;
const TAG_PATTERN_OK: fn(&str) -> bool = |t| {
    !t.is_empty()
        && t.len() <= 255
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'))
};

#[derive(Debug, Default)]
pub struct DoState {
    next_id: u64,
    pub droplets: BTreeMap<u64, Value>,
    /// Droplet user data (not part of the API's droplet object), by droplet id.
    pub user_data: BTreeMap<u64, String>,
    pub actions: BTreeMap<u64, Value>,
    pub firewalls: BTreeMap<String, Value>,
    pub domains: BTreeMap<String, Value>,
    pub records: BTreeMap<String, BTreeMap<u64, Value>>,
    pub clusters: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, Value>,
    /// Requests answered in the current hour, for the `ratelimit-*` headers.
    used: u64,
    /// The hourly request budget announced in `ratelimit-*` headers (none: DigitalOcean's
    /// 5,000). Benchmarks that converge thousands of objects raise it.
    pub hourly_limit: Option<u64>,
    /// Droplets ever created (a request cut off before the handler ran creates none).
    pub droplets_created: u64,
}

impl DoState {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        3_164_000 + self.next_id
    }
    pub fn snapshot(&self) -> Value {
        json!({
            "droplets": self.droplets.values().collect::<Vec<_>>(),
            "user_data": self.user_data,
            "firewalls": self.firewalls.values().collect::<Vec<_>>(),
            "domains": self.domains.values().collect::<Vec<_>>(),
            "records": self.records,
            "databases": self.clusters.values().collect::<Vec<_>>(),
            "tags": self.tags.keys().collect::<Vec<_>>(),
        })
    }
    pub fn mutate(
        &mut self,
        kind: &str,
        id: &str,
        set: &Value,
        delete: bool,
    ) -> Result<(), String> {
        let target = match kind {
            "droplet" => {
                let n: u64 = id.parse().map_err(|_| format!("bad droplet id `{id}`"))?;
                if delete {
                    return self
                        .droplets
                        .remove(&n)
                        .map(|_| ())
                        .ok_or_else(|| "no such droplet".into());
                }
                // A size change out-of-band also changes the derived fields.
                if let Some(slug) = set.get("size_slug").and_then(Value::as_str) {
                    if let Some(d) = self.droplets.get_mut(&n) {
                        apply_size(d, slug);
                    }
                }
                self.droplets.get_mut(&n)
            }
            "firewall" => {
                if delete {
                    return self
                        .firewalls
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| "no such firewall".into());
                }
                self.firewalls.get_mut(id)
            }
            "database" => {
                if delete {
                    return self
                        .clusters
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| "no such database".into());
                }
                self.clusters.get_mut(id)
            }
            "record" => {
                let n: u64 = id.parse().map_err(|_| format!("bad record id `{id}`"))?;
                let mut found = None;
                for recs in self.records.values_mut() {
                    if delete {
                        if recs.remove(&n).is_some() {
                            return Ok(());
                        }
                    } else if let Some(r) = recs.get_mut(&n) {
                        found = Some(r);
                        break;
                    }
                }
                found
            }
            other => return Err(format!("unknown DigitalOcean kind `{other}`")),
        };
        let t = target.ok_or_else(|| format!("no {kind} `{id}`"))?;
        merge(t, set);
        Ok(())
    }
}

/// vCPUs, memory (MiB), disk (GiB), monthly price of the size slugs we know.
fn size_facts(slug: &str) -> Option<(u64, u64, u64, f64)> {
    Some(match slug {
        "s-1vcpu-512mb-10gb" => (1, 512, 10, 4.0),
        "s-1vcpu-1gb" => (1, 1024, 25, 6.0),
        "s-1vcpu-2gb" => (1, 2048, 50, 12.0),
        "s-2vcpu-2gb" => (2, 2048, 60, 18.0),
        "s-2vcpu-4gb" => (2, 4096, 80, 24.0),
        "s-4vcpu-8gb" => (4, 8192, 160, 48.0),
        "s-8vcpu-16gb" => (8, 16384, 320, 96.0),
        "g-2vcpu-8gb" => (2, 8192, 25, 63.0),
        "g-4vcpu-16gb" => (4, 16384, 50, 126.0),
        _ => return None,
    })
}

fn size_object(slug: &str) -> Value {
    let (vcpus, memory, disk, price) = size_facts(slug).unwrap_or((1, 1024, 25, 6.0));
    json!({
        "slug": slug, "memory": memory, "vcpus": vcpus, "disk": disk, "transfer": 1.0,
        "price_monthly": price, "price_hourly": price / 730.0,
        "regions": ["ams3", "blr1", "fra1", "lon1", "nyc1", "nyc3", "sfo3", "sgp1", "syd1", "tor1"],
        "available": true, "description": "Basic"
    })
}

fn apply_size(d: &mut Value, slug: &str) {
    let (vcpus, memory, disk, _) = size_facts(slug).unwrap_or((1, 1024, 25, 6.0));
    merge(
        d,
        &json!({"size_slug": slug, "size": size_object(slug), "vcpus": vcpus, "memory": memory, "disk": disk}),
    );
}

fn region_object(slug: &str) -> Value {
    json!({"slug": slug, "name": slug.to_uppercase(), "sizes": ["s-1vcpu-1gb", "s-2vcpu-4gb"], "available": true,
           "features": ["backups", "ipv6", "metadata", "install_agent", "storage"]})
}

pub fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/v2/account", get(account))
        .route(
            "/v2/droplets",
            get(list_droplets)
                .post(create_droplet)
                .delete(delete_droplets_by_tag),
        )
        .route("/v2/droplets/{id}", get(get_droplet).delete(delete_droplet))
        .route("/v2/droplets/{id}/actions", post(droplet_action))
        .route("/v2/actions/{id}", get(get_action))
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
        .route("/v2/domains", get(list_domains).post(create_domain))
        .route("/v2/domains/{name}", get(get_domain).delete(delete_domain))
        .route(
            "/v2/domains/{name}/records",
            get(list_records).post(create_record),
        )
        .route(
            "/v2/domains/{name}/records/{id}",
            get(get_record)
                .put(update_record)
                .patch(update_record)
                .delete(delete_record),
        )
        .route("/v2/databases", get(list_clusters).post(create_cluster))
        .route(
            "/v2/databases/{id}",
            get(get_cluster).delete(delete_cluster),
        )
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
        .route("/v2/tags", get(list_tags).post(create_tag))
        .route("/v2/tags/{name}", get(get_tag).delete(delete_tag))
        .route(
            "/v2/tags/{name}/resources",
            post(tag_resources).delete(untag_resources),
        )
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

type Q = Query<HashMap<String, String>>;

/// The `name` of a JSON body, required by every create.
fn name_of(body: &Option<Json<Value>>) -> Option<String> {
    body.as_ref()
        .and_then(|b| b.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Auth check plus the rate-limit headers every DigitalOcean answer carries.
/// Every DigitalOcean route: refuse a missing bearer token like the real API, and count the
/// request for the `ratelimit-*` headers.
async fn authenticate(State(s): State<Shared>, req: Request, next: Next) -> Response {
    if bearer(req.headers()).is_none() {
        return error(
            P,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unable to authenticate you.",
        );
    }
    lock(&s.digitalocean).used += 1;
    next.run(req).await
}

fn answer(s: &Shared, status: StatusCode, body: Option<Value>) -> Response {
    let (used, limit) = {
        let st = lock(&s.digitalocean);
        (st.used, st.hourly_limit.unwrap_or(5000))
    };
    let mut r = match body {
        Some(b) => (status, Json(b)).into_response(),
        None => status.into_response(),
    };
    let reset = chrono::Utc::now().timestamp() + 3600;
    for (k, v) in [
        ("ratelimit-limit", limit),
        ("ratelimit-remaining", limit.saturating_sub(used)),
        ("ratelimit-reset", reset as u64),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn unprocessable(msg: &str) -> Response {
    error(
        P,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
        msg,
    )
}

fn not_found() -> Response {
    error(
        P,
        StatusCode::NOT_FOUND,
        "not_found",
        "The resource you were accessing could not be found.",
    )
}

/// One page of `items` under `key`, with `links.pages` and `meta.total`.
fn page(
    s: &Shared,
    path: &str,
    q: &HashMap<String, String>,
    key: &str,
    items: Vec<&Value>,
) -> Result<Value, Response> {
    let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(20);
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    if per_page == 0 || per_page > 200 || page == 0 {
        return Err(unprocessable(
            "per_page must be within 1..200 and page at least 1",
        ));
    }
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    // Only the page's own objects are copied.
    let chunk: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let base = format!("{}/digitalocean{path}", s.base_url());
    let extra: String = q
        .iter()
        .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
        .map(|(k, v)| format!("&{k}={v}"))
        .collect();
    let link = |p: usize| format!("{base}?page={p}&per_page={per_page}{extra}");
    let mut pages = serde_json::Map::new();
    if page > 1 {
        pages.insert("first".into(), json!(link(1)));
        pages.insert("prev".into(), json!(link(page - 1)));
    }
    if page < last {
        pages.insert("next".into(), json!(link(page + 1)));
        pages.insert("last".into(), json!(link(last)));
    }
    Ok(json!({ key: chunk, "links": {"pages": pages}, "meta": {"total": total} }))
}

/// The answer to a list request: its page (made under the state lock, which [`answer`]
/// takes again), or the error [`page`] made of the query.
fn listed(s: &Shared, paged: Result<Value, Response>) -> Response {
    match paged {
        Ok(b) => answer(s, StatusCode::OK, Some(b)),
        Err(r) => r,
    }
}

fn has_tag(v: &Value, tag: &str) -> bool {
    v.get("tags")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|x| x == tag))
}

async fn account(State(s): State<Shared>) -> Response {
    answer(
        &s,
        StatusCode::OK,
        Some(json!({"account": {
            "droplet_limit": 25, "floating_ip_limit": 5, "volume_limit": 100, "email": "ops@example.com",
            "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef", "email_verified": true, "status": "active", "status_message": ""
        }})),
    )
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
    let tags: Vec<String> = b
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = tags.iter().find(|t| !TAG_PATTERN_OK(t)) {
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
    let region = b
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or("nyc3")
        .to_string();
    let mut created = Vec::new();
    let mut actions = Vec::new();
    {
        let mut st = lock(&s.digitalocean);
        for name in &names {
            let id = st.id();
            let action_id = st.id();
            let mut features = vec!["private_networking"];
            for (flag, feature) in [("monitoring", "monitoring"), ("ipv6", "ipv6")] {
                if b.get(flag).and_then(Value::as_bool) == Some(true) {
                    features.push(feature);
                }
            }
            let mut d = json!({
                "id": id, "name": name, "memory": 0, "vcpus": 0, "disk": 0, "locked": false, "status": "active",
                "kernel": null, "created_at": now(), "features": features, "backup_ids": [], "next_backup_window": null,
                "snapshot_ids": [], "image": {"id": 0, "name": image, "slug": image, "distribution": "Ubuntu", "public": true,
                    "regions": [region], "type": "base", "min_disk_size": 7, "size_gigabytes": 2.36, "created_at": now(), "status": "available"},
                "volume_ids": [], "size": {}, "size_slug": size,
                "networks": {"v4": [{"ip_address": format!("203.0.113.{}", id % 250 + 1), "netmask": "255.255.255.0", "gateway": "203.0.113.254", "type": "public"}], "v6": []},
                "region": region_object(&region), "tags": tags, "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000", "disk_info": []
            });
            apply_size(&mut d, size);
            if b.get("backups").and_then(Value::as_bool) == Some(true) {
                features.push("backups");
                merge(
                    &mut d,
                    &json!({"features": features, "next_backup_window": {"start": now(), "end": now()}}),
                );
            }
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
            let action = json!({"id": action_id, "status": "completed", "type": "create", "started_at": now(), "completed_at": now(),
                                "resource_id": id, "resource_type": "droplet", "region": region_object(&region), "region_slug": region});
            st.actions.insert(action_id, action);
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

async fn delete_droplet(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let removed = lock(&s.digitalocean).droplets.remove(&id);
    match removed {
        Some(_) => answer(&s, StatusCode::NO_CONTENT, None),
        None => not_found(),
    }
}

async fn delete_droplets_by_tag(State(s): State<Shared>, Query(q): Q) -> Response {
    let Some(tag) = q.get("tag_name") else {
        return unprocessable("tag_name is required");
    };
    lock(&s.digitalocean)
        .droplets
        .retain(|_, d| !has_tag(d, tag));
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
    let region = match st.droplets.get(&id) {
        Some(d) => d["region"]["slug"].as_str().unwrap_or("nyc3").to_string(),
        None => return not_found(),
    };
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
            if let Some(d) = st.droplets.get_mut(&id) {
                apply_size(d, size);
            }
        }
        "power_off" | "shutdown" => {
            if let Some(d) = st.droplets.get_mut(&id) {
                d["status"] = json!("off");
            }
        }
        "power_on" | "reboot" | "power_cycle" => {
            if let Some(d) = st.droplets.get_mut(&id) {
                d["status"] = json!("active");
            }
        }
        "rename" => {
            if let (Some(d), Some(n)) = (
                st.droplets.get_mut(&id),
                b.get("name").and_then(Value::as_str),
            ) {
                d["name"] = json!(n);
            }
        }
        "enable_backups" | "disable_backups" | "enable_ipv6" => {
            let (feature, on) = match kind.as_str() {
                "enable_backups" => ("backups", true),
                "disable_backups" => ("backups", false),
                _ => ("ipv6", true),
            };
            if let Some(d) = st.droplets.get_mut(&id) {
                set_feature(d, feature, on);
            }
        }
        "snapshot" | "password_reset" | "rebuild" | "restore" | "change_kernel" => {}
        _ => {
            drop(st);
            return unprocessable("type is not a valid droplet action");
        }
    }
    let action_id = st.id();
    let action = json!({"id": action_id, "status": "completed", "type": kind, "started_at": now(), "completed_at": now(),
                        "resource_id": id, "resource_type": "droplet", "region": region_object(&region), "region_slug": region});
    st.actions.insert(action_id, action.clone());
    drop(st);
    answer(&s, StatusCode::CREATED, Some(json!({"action": action})))
}

async fn get_action(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let a = lock(&s.digitalocean).actions.get(&id).cloned();
    match a {
        Some(a) => answer(&s, StatusCode::OK, Some(json!({"action": a}))),
        None => not_found(),
    }
}

fn firewall_from(b: &Value, id: &str, created_at: &str) -> Result<Value, Response> {
    let Some(name) = b.get("name").and_then(Value::as_str) else {
        return Err(unprocessable("name is required"));
    };
    for dir in ["inbound_rules", "outbound_rules"] {
        for r in b.get(dir).and_then(Value::as_array).into_iter().flatten() {
            if r.get("protocol")
                .and_then(Value::as_str)
                .is_none_or(|p| !matches!(p, "tcp" | "udp" | "icmp"))
            {
                return Err(unprocessable("rule protocol must be tcp, udp or icmp"));
            }
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

async fn list_domains(State(s): State<Shared>, Query(q): Q) -> Response {
    let st = lock(&s.digitalocean);
    let paged = page(
        &s,
        "/v2/domains",
        &q,
        "domains",
        st.domains.values().collect(),
    );
    drop(st);
    listed(&s, paged)
}

async fn create_domain(State(s): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(name) = name_of(&body) else {
        return unprocessable("name is required");
    };
    let domain = json!({"name": name, "ttl": 1800, "zone_file": ""});
    let mut st = lock(&s.digitalocean);
    if st.domains.contains_key(&name) {
        drop(st);
        return unprocessable("Name already exists");
    }
    st.domains.insert(name.clone(), domain.clone());
    st.records.entry(name).or_default();
    drop(st);
    answer(&s, StatusCode::CREATED, Some(json!({"domain": domain})))
}

async fn get_domain(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    let d = lock(&s.digitalocean).domains.get(&name).cloned();
    match d {
        Some(d) => answer(&s, StatusCode::OK, Some(json!({"domain": d}))),
        None => not_found(),
    }
}

async fn delete_domain(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    let mut st = lock(&s.digitalocean);
    st.records.remove(&name);
    let removed = st.domains.remove(&name);
    drop(st);
    match removed {
        Some(_) => answer(&s, StatusCode::NO_CONTENT, None),
        None => not_found(),
    }
}

async fn list_records(State(s): State<Shared>, Path(name): Path<String>, Query(q): Q) -> Response {
    let path = format!("/v2/domains/{name}/records");
    let paged = {
        let st = lock(&s.digitalocean);
        let Some(recs) = st.records.get(&name) else {
            return not_found();
        };
        let items: Vec<&Value> = recs
            .values()
            .filter(|r| q.get("type").is_none_or(|t| r["type"] == t.as_str()))
            // `name` is fully qualified (`sub.example.com`; the apex is the zone itself).
            .filter(|r| {
                q.get("name").is_none_or(|n| {
                    let short = r["name"].as_str().unwrap_or_default();
                    let fqdn = if short == "@" {
                        name.clone()
                    } else {
                        format!("{short}.{name}")
                    };
                    fqdn == *n
                })
            })
            .collect();
        page(&s, &path, &q, "domain_records", items)
    };
    listed(&s, paged)
}

fn record_from(b: &Value, id: u64) -> Result<Value, Response> {
    let kind = b.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(
        kind,
        "A" | "AAAA" | "CAA" | "CNAME" | "MX" | "NS" | "SOA" | "SRV" | "TXT"
    ) {
        return Err(unprocessable("type must be a DNS record type"));
    }
    let (Some(name), Some(data)) = (
        b.get("name").and_then(Value::as_str),
        b.get("data").and_then(Value::as_str),
    ) else {
        return Err(unprocessable("name and data are required"));
    };
    Ok(json!({"id": id, "type": kind, "name": name, "data": data,
              "priority": b.get("priority").cloned().unwrap_or(Value::Null),
              "port": b.get("port").cloned().unwrap_or(Value::Null),
              "ttl": b.get("ttl").and_then(Value::as_u64).unwrap_or(1800),
              "weight": b.get("weight").cloned().unwrap_or(Value::Null),
              "flags": b.get("flags").cloned().unwrap_or(Value::Null),
              "tag": b.get("tag").cloned().unwrap_or(Value::Null)}))
}

async fn create_record(
    State(s): State<Shared>,
    Path(name): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let b = body.map(|b| b.0).unwrap_or(Value::Null);
    let mut st = lock(&s.digitalocean);
    if !st.records.contains_key(&name) {
        drop(st);
        return not_found();
    }
    let id = st.id();
    match record_from(&b, id) {
        Ok(rec) => {
            st.records.entry(name).or_default().insert(id, rec.clone());
            drop(st);
            answer(&s, StatusCode::CREATED, Some(json!({"domain_record": rec})))
        }
        Err(r) => r,
    }
}

async fn get_record(State(s): State<Shared>, Path((name, id)): Path<(String, u64)>) -> Response {
    let rec = lock(&s.digitalocean)
        .records
        .get(&name)
        .and_then(|r| r.get(&id))
        .cloned();
    match rec {
        Some(r) => answer(&s, StatusCode::OK, Some(json!({"domain_record": r}))),
        None => not_found(),
    }
}

async fn update_record(
    State(s): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
    body: Option<Json<Value>>,
) -> Response {
    let b = body.map(|b| b.0).unwrap_or(Value::Null);
    let mut st = lock(&s.digitalocean);
    let Some(rec) = st.records.get_mut(&name).and_then(|r| r.get_mut(&id)) else {
        drop(st);
        return not_found();
    };
    let mut merged = rec.clone();
    merge(&mut merged, &b);
    match record_from(&merged, id) {
        Ok(new) => {
            *rec = new.clone();
            drop(st);
            answer(&s, StatusCode::OK, Some(json!({"domain_record": new})))
        }
        Err(r) => r,
    }
}

async fn delete_record(State(s): State<Shared>, Path((name, id)): Path<(String, u64)>) -> Response {
    let removed = lock(&s.digitalocean)
        .records
        .get_mut(&name)
        .and_then(|r| r.remove(&id));
    match removed {
        Some(_) => answer(&s, StatusCode::NO_CONTENT, None),
        None => not_found(),
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
    let id = uuid::Uuid::new_v4().to_string();
    let host = format!("{name}-do-user-0.b.db.ondigitalocean.com");
    let cluster = json!({
        "id": id, "name": name, "engine": engine, "version": b.get("version").cloned().unwrap_or(json!("16")),
        "num_nodes": nodes, "size": size, "region": region, "status": "online", "created_at": now(),
        "tags": b.get("tags").cloned().unwrap_or(json!([])), "db_names": ["defaultdb"],
        "connection": {"protocol": "postgresql", "host": host, "port": 25060, "user": "doadmin", "database": "defaultdb", "ssl": true, "uri": ""},
        "users": [{"name": "doadmin", "role": "primary"}],
        "maintenance_window": {"day": "tuesday", "hour": "01:00:00", "pending": false},
        "storage_size_mib": 10240
    });
    lock(&s.digitalocean).clusters.insert(id, cluster.clone());
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

/// Edit a list-valued field of a cluster (`db_names` or `users`).
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
    let added = with_cluster(&s, &id, |c| {
        let mut names = c["db_names"].as_array().cloned().unwrap_or_default();
        if names.iter().any(|n| n == name.as_str()) {
            return false;
        }
        names.push(json!(name));
        c["db_names"] = json!(names);
        true
    });
    match added {
        None => not_found(),
        Some(false) => unprocessable("database already exists"),
        Some(true) => answer(&s, StatusCode::CREATED, Some(json!({"db": {"name": name}}))),
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
    let added = with_cluster(&s, &id, |c| {
        let mut users = c["users"].as_array().cloned().unwrap_or_default();
        if users.iter().any(|u| u["name"] == name.as_str()) {
            return false;
        }
        users.push(user.clone());
        c["users"] = json!(users);
        true
    });
    match added {
        None => not_found(),
        Some(false) => unprocessable("user already exists"),
        Some(true) => {
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

async fn list_tags(State(s): State<Shared>, Query(q): Q) -> Response {
    let items: Vec<Value> = {
        let st = lock(&s.digitalocean);
        st.tags.keys().map(|t| tag_object(&st, t)).collect()
    };
    listed(&s, page(&s, "/v2/tags", &q, "tags", items.iter().collect()))
}

fn tag_object(st: &DoState, name: &str) -> Value {
    let count = st.droplets.values().filter(|d| has_tag(d, name)).count();
    json!({"name": name, "resources": {"count": count, "droplets": {"count": count}}})
}

async fn create_tag(State(s): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(name) = name_of(&body) else {
        return unprocessable("name is required");
    };
    if !TAG_PATTERN_OK(&name) {
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

fn set_feature(d: &mut Value, feature: &str, on: bool) {
    let mut features: Vec<Value> = d["features"].as_array().cloned().unwrap_or_default();
    features.retain(|f| f != feature);
    if on {
        features.push(json!(feature));
    }
    d["features"] = json!(features);
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

async fn tag_resources(
    State(s): State<Shared>,
    Path(name): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let ids = match tag_targets(&body) {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let mut st = lock(&s.digitalocean);
    if !st.tags.contains_key(&name) {
        drop(st);
        return not_found();
    }
    for id in ids {
        if let Some(d) = st.droplets.get_mut(&id) {
            let mut tags: Vec<Value> = d["tags"].as_array().cloned().unwrap_or_default();
            if !tags.iter().any(|t| t == name.as_str()) {
                tags.push(json!(name));
            }
            d["tags"] = json!(tags);
        }
    }
    drop(st);
    answer(&s, StatusCode::NO_CONTENT, None)
}

async fn untag_resources(
    State(s): State<Shared>,
    Path(name): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let ids = match tag_targets(&body) {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let mut st = lock(&s.digitalocean);
    if !st.tags.contains_key(&name) {
        drop(st);
        return not_found();
    }
    for id in ids {
        if let Some(d) = st.droplets.get_mut(&id) {
            let mut tags: Vec<Value> = d["tags"].as_array().cloned().unwrap_or_default();
            tags.retain(|t| t != name.as_str());
            d["tags"] = json!(tags);
        }
    }
    drop(st);
    answer(&s, StatusCode::NO_CONTENT, None)
}
