//! Domains and their records. A new zone comes with its SOA and three NS records, as on the
//! real API; record data is validated for its type.

use super::catalog;
use super::{answer, listed, name_of, not_found, page, unprocessable, Q};
use crate::sim::{lock, merge, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<Shared> {
    Router::new()
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
    if !catalog::hostname_ok(&name) || !name.contains('.') {
        return unprocessable(&format!("{name} is not a valid domain name"));
    }
    let ip = body
        .as_ref()
        .and_then(|b| b.get("ip_address"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let domain = json!({"name": name, "ttl": 1800, "zone_file": ""});
    let mut st = lock(&s.digitalocean);
    if st.domains.contains_key(&name) {
        drop(st);
        return unprocessable("Name already exists");
    }
    st.domains.insert(name.clone(), domain.clone());
    // Every new zone has its SOA and DigitalOcean's name servers.
    let mut seeded = vec![json!({"type": "SOA", "name": "@", "data": "1800", "ttl": 1800})];
    for ns in ["ns1", "ns2", "ns3"] {
        seeded.push(json!({"type": "NS", "name": "@", "data": format!("{ns}.digitalocean.com"), "ttl": 1800}));
    }
    if let Some(ip) = ip {
        seeded.push(json!({"type": "A", "name": "@", "data": ip, "ttl": 1800}));
    }
    for spec in seeded {
        let id = st.id();
        if let Ok(rec) = record_from(&spec, id) {
            st.records.entry(name.clone()).or_default().insert(id, rec);
        }
    }
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

pub(super) fn record_from(b: &Value, id: u64) -> Result<Value, Response> {
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
    if !catalog::record_name_ok(name) {
        return Err(unprocessable(&format!(
            "name `{name}` is not a valid record name"
        )));
    }
    catalog::record_data_ok(kind, data).map_err(|m| unprocessable(&m))?;
    let ttl = b.get("ttl").and_then(Value::as_u64).unwrap_or(1800);
    if ttl < 30 {
        return Err(unprocessable("ttl must be at least 30 seconds"));
    }
    Ok(json!({"id": id, "type": kind, "name": name, "data": data,
              "priority": b.get("priority").cloned().unwrap_or(Value::Null),
              "port": b.get("port").cloned().unwrap_or(Value::Null),
              "ttl": ttl,
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
