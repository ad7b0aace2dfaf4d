//! Supabase Management API, simulated: projects (seeded through the control API — projects
//! are not created by our adapter), organization project pages (`offset`/`limit` ≤ 100),
//! service health, edge-function secrets (stored as SHA-256 digests only, as the real API
//! answers them), storage buckets and the SQL query endpoint. Every answer carries
//! `X-RateLimit-Limit`/`-Remaining`/`-Reset` (seconds until the window resets); errors are
//! `{"message": …}`.

use super::{bearer, error, lock, merge, now, Shared};
use crate::provider::error::Provider;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const P: Provider = Provider::Supabase;
const LIMIT: u64 = 120;
const WINDOW: Duration = Duration::from_secs(60);
const SERVICES: [&str; 8] = [
    "auth",
    "db",
    "db_postgres_user",
    "pooler",
    "realtime",
    "rest",
    "storage",
    "pg_bouncer",
];

/// One stored secret: never the value, only its digest (what the real API answers).
#[derive(Debug, Clone)]
struct StoredSecret {
    digest: String,
    updated_at: String,
}

#[derive(Debug, Default)]
pub struct SupabaseState {
    /// Projects by ref.
    pub projects: BTreeMap<String, Value>,
    secrets: BTreeMap<String, BTreeMap<String, StoredSecret>>,
    /// Buckets by project ref, then bucket id.
    pub buckets: BTreeMap<String, BTreeMap<String, Value>>,
    /// Requests answered in the current rate-limit window.
    used: u64,
    window_start: Option<Instant>,
}

pub fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

fn valid_ref(r: &str) -> bool {
    r.len() == 20 && r.chars().all(|c| c.is_ascii_lowercase())
}

fn project_object(r: &str, set: &Value) -> Value {
    let mut p = json!({
        "id": r,
        "ref": r,
        "organization_id": "org-sim",
        "organization_slug": "sim-org",
        "name": r,
        "region": "eu-central-1",
        "created_at": now(),
        "status": "ACTIVE_HEALTHY",
        "database": {
            "host": format!("db.{r}.supabase.co"),
            "version": "17.4.1.054",
            "postgres_engine": "17",
            "release_channel": "ga"
        }
    });
    merge(&mut p, set);
    p
}

impl SupabaseState {
    pub fn snapshot(&self) -> Value {
        let secrets: BTreeMap<&String, Vec<Value>> = self
            .secrets
            .iter()
            .map(|(r, m)| (r, m.iter().map(|(n, s)| secret_json(n, s)).collect()))
            .collect();
        json!({
            "projects": self.projects.values().collect::<Vec<_>>(),
            "secrets": secrets,
            "buckets": self.buckets.iter()
                .map(|(r, b)| (r.clone(), b.values().cloned().collect::<Vec<_>>()))
                .collect::<BTreeMap<_, _>>(),
        })
    }

    /// `project` (id = ref) creates or merges a project; `bucket` (id = `ref/bucket`) creates
    /// or merges a storage bucket; `secret` (id = `ref/NAME`) only deletes (drift).
    pub fn mutate(
        &mut self,
        kind: &str,
        id: &str,
        set: &Value,
        delete: bool,
    ) -> Result<(), String> {
        match kind {
            "project" => {
                if !valid_ref(id) {
                    return Err(format!("a project ref is 20 lowercase letters, not `{id}`"));
                }
                if delete {
                    self.secrets.remove(id);
                    self.buckets.remove(id);
                    return self
                        .projects
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| format!("no project `{id}`"));
                }
                match self.projects.get_mut(id) {
                    Some(p) => merge(p, set),
                    None => {
                        self.projects
                            .insert(id.to_string(), project_object(id, set));
                    }
                }
                Ok(())
            }
            "bucket" => {
                let (r, b) = id
                    .split_once('/')
                    .ok_or_else(|| "bucket id is `ref/bucket`".to_string())?;
                if !self.projects.contains_key(r) {
                    return Err(format!("no project `{r}`"));
                }
                let buckets = self.buckets.entry(r.to_string()).or_default();
                if delete {
                    return buckets
                        .remove(b)
                        .map(|_| ())
                        .ok_or_else(|| format!("no bucket `{b}`"));
                }
                let at = now();
                let entry = buckets.entry(b.to_string()).or_insert_with(|| {
                    json!({"id": b, "name": b, "owner": "", "created_at": at, "updated_at": at, "public": false})
                });
                merge(entry, set);
                Ok(())
            }
            "secret" if delete => {
                let (r, n) = id
                    .split_once('/')
                    .ok_or_else(|| "secret id is `ref/NAME`".to_string())?;
                self.secrets
                    .get_mut(r)
                    .and_then(|m| m.remove(n))
                    .map(|_| ())
                    .ok_or_else(|| format!("no secret `{id}`"))
            }
            other => Err(format!("unknown supabase kind `{other}`")),
        }
    }

    /// Count one request in the window; return (remaining, seconds until reset).
    fn count(&mut self) -> (u64, u64) {
        let t = Instant::now();
        let start = match self.window_start {
            Some(s) if t.duration_since(s) < WINDOW => s,
            _ => {
                self.used = 0;
                self.window_start = Some(t);
                t
            }
        };
        self.used += 1;
        let reset = WINDOW.saturating_sub(t.duration_since(start)).as_secs();
        (LIMIT.saturating_sub(self.used), reset)
    }
}

fn secret_json(name: &str, s: &StoredSecret) -> Value {
    json!({"name": name, "value": s.digest, "updated_at": s.updated_at})
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/projects", get(list_projects))
        .route("/v1/organizations/{slug}/projects", get(org_projects))
        .route("/v1/projects/{ref}", get(get_project))
        .route("/v1/projects/{ref}/health", get(health))
        .route(
            "/v1/projects/{ref}/secrets",
            get(list_secrets)
                .post(create_secrets)
                .delete(delete_secrets),
        )
        .route("/v1/projects/{ref}/storage/buckets", get(list_buckets))
        .route("/v1/projects/{ref}/database/query", post(run_query))
}

/// Auth check; counts the request for the rate-limit headers.
fn guard(s: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    if bearer(headers).is_none() {
        return Err(answer(
            s,
            error(P, StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
        ));
    }
    Ok(())
}

/// Add the rate-limit headers to any answer.
fn answer(s: &Shared, mut r: Response) -> Response {
    let (remaining, reset) = lock(&s.supabase).count();
    for (k, v) in [
        ("x-ratelimit-limit", LIMIT),
        ("x-ratelimit-remaining", remaining),
        ("x-ratelimit-reset", reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn ok(s: &Shared, status: StatusCode, body: Value) -> Response {
    answer(s, (status, Json(body)).into_response())
}

fn bad_request(s: &Shared, msg: &str) -> Response {
    answer(s, error(P, StatusCode::BAD_REQUEST, "bad_request", msg))
}

fn project_missing(s: &Shared) -> Response {
    answer(
        s,
        error(
            P,
            StatusCode::NOT_FOUND,
            "not_found",
            "Project not found or you don't have access to it",
        ),
    )
}

/// The project must exist (and the ref be well formed).
fn project(s: &Shared, r: &str) -> Result<Value, Response> {
    if !valid_ref(r) {
        return Err(bad_request(s, "ref must be 20 lowercase letters"));
    }
    let found = lock(&s.supabase).projects.get(r).cloned();
    found.ok_or_else(|| project_missing(s))
}

async fn list_projects(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = guard(&s, &headers) {
        return r;
    }
    let all: Vec<Value> = lock(&s.supabase).projects.values().cloned().collect();
    ok(&s, StatusCode::OK, json!(all))
}

async fn org_projects(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = guard(&s, &headers) {
        return r;
    }
    let num = |k: &str, default: usize| match q.get(k) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| ()),
    };
    let (Ok(offset), Ok(limit)) = (num("offset", 0), num("limit", 100)) else {
        return bad_request(&s, "offset and limit must be non-negative integers");
    };
    if !(1..=100).contains(&limit) {
        return bad_request(&s, "limit must be within 1..100");
    }
    let mut mine: Vec<Value> = lock(&s.supabase)
        .projects
        .values()
        .filter(|p| p.get("organization_slug").and_then(Value::as_str) == Some(slug.as_str()))
        .cloned()
        .collect();
    mine.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.get("ref")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let count = mine.len();
    let page: Vec<Value> = mine
        .iter()
        .skip(offset)
        .take(limit)
        .map(|p| {
            let g = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "ref": g("ref"), "name": g("name"), "cloud_provider": "AWS",
                "region": g("region"), "is_branch": false, "status": g("status"),
                "inserted_at": g("created_at"),
                "databases": [{"region": g("region"), "status": "ACTIVE_HEALTHY",
                               "cloud_provider": "AWS", "identifier": g("ref"), "type": "PRIMARY"}]
            })
        })
        .collect();
    ok(
        &s,
        StatusCode::OK,
        json!({"projects": page, "pagination": {"count": count, "limit": limit, "offset": offset}}),
    )
}

async fn get_project(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    match project(&s, &r) {
        Ok(p) => ok(&s, StatusCode::OK, p),
        Err(e) => e,
    }
}

/// `services` is required: repeated (`services=db&services=auth`) or comma-separated.
async fn health(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    if let Err(e) = project(&s, &r) {
        return e;
    }
    let mut services = Vec::new();
    for pair in raw.as_deref().unwrap_or("").split('&') {
        if let Some(v) = pair.strip_prefix("services=") {
            services.extend(
                v.split("%2C")
                    .flat_map(|x| x.split(','))
                    .filter(|x| !x.is_empty())
                    .map(str::to_string),
            );
        }
    }
    if services.is_empty() {
        return bad_request(&s, "services must be provided");
    }
    if let Some(bad) = services.iter().find(|x| !SERVICES.contains(&x.as_str())) {
        return bad_request(&s, &format!("unknown service `{bad}`"));
    }
    let out: Vec<Value> = services
        .iter()
        .map(|n| json!({"name": n, "status": "ACTIVE_HEALTHY", "healthy": true}))
        .collect();
    ok(&s, StatusCode::OK, json!(out))
}

async fn list_secrets(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    if let Err(e) = project(&s, &r) {
        return e;
    }
    let out: Vec<Value> = lock(&s.supabase)
        .secrets
        .get(&r)
        .map(|m| m.iter().map(|(n, x)| secret_json(n, x)).collect())
        .unwrap_or_default();
    ok(&s, StatusCode::OK, json!(out))
}

/// Bulk upsert: `[{name, value}]`; validated as a whole before anything is stored.
async fn create_secrets(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    if let Err(e) = project(&s, &r) {
        return e;
    }
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(&s, "body must be an array of {name, value}");
    };
    let mut parsed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = item.get("name").and_then(Value::as_str);
        let value = item.get("value").and_then(Value::as_str);
        let (Some(name), Some(value)) = (name, value) else {
            return bad_request(&s, &format!("{i}.name and {i}.value are required strings"));
        };
        if name.is_empty() || name.len() > 256 {
            return bad_request(&s, &format!("{i}.name must be 1..256 characters"));
        }
        if name.starts_with("SUPABASE_") {
            return bad_request(
                &s,
                &format!("{i}.name: Secret name must not start with the SUPABASE_ prefix."),
            );
        }
        if value.chars().count() > 24576 {
            return bad_request(&s, &format!("{i}.value must be at most 24576 characters"));
        }
        parsed.push((name.to_string(), digest(value)));
    }
    let at = now();
    let mut st = lock(&s.supabase);
    let m = st.secrets.entry(r).or_default();
    for (name, digest) in parsed {
        m.insert(
            name,
            StoredSecret {
                digest,
                updated_at: at.clone(),
            },
        );
    }
    drop(st);
    answer(&s, StatusCode::CREATED.into_response())
}

/// Bulk delete by name: the body is `["NAME", …]`; unknown names are ignored.
async fn delete_secrets(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    if let Err(e) = project(&s, &r) {
        return e;
    }
    let names: Option<Vec<String>> = serde_json::from_slice(&body).ok();
    let Some(names) = names else {
        return bad_request(&s, "body must be an array of secret names");
    };
    if let Some(m) = lock(&s.supabase).secrets.get_mut(&r) {
        for n in &names {
            m.remove(n);
        }
    }
    ok(&s, StatusCode::OK, json!({}))
}

async fn list_buckets(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    if let Err(e) = project(&s, &r) {
        return e;
    }
    let out: Vec<Value> = lock(&s.supabase)
        .buckets
        .get(&r)
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    ok(&s, StatusCode::OK, json!(out))
}

async fn run_query(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(r): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&s, &headers) {
        return e;
    }
    if let Err(e) = project(&s, &r) {
        return e;
    }
    let q = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_string));
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
        return bad_request(&s, "query must be a non-empty string");
    };
    let norm = q.trim().trim_end_matches(';').trim().to_ascii_lowercase();
    let rows = if norm == "select 1" {
        json!([{"?column?": 1}])
    } else {
        json!([])
    };
    ok(&s, StatusCode::CREATED, rows)
}
