//! Vercel REST API, simulated: project environment variables (with the 201
//! `{created, failed[]}` partial-success answer), deployments (paged by `until` with
//! millisecond timestamps) and project domains. Projects, deployments and domains are seeded
//! through the control API. Team-owned projects need the matching `teamId` query parameter.
//! Every answer carries `X-RateLimit-Limit`/`-Remaining`/`-Reset` (epoch seconds); errors
//! are `{"error": {"code", "message"}}`.

mod env;

use super::{bearer, error, lock, merge, Shared};
use crate::provider::error::Provider;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

const P: Provider = Provider::Vercel;
const LIMIT: u64 = 100;
const WINDOW_SECS: i64 = 60;

#[derive(Debug, Default)]
pub struct VercelState {
    next_id: u64,
    /// Projects by id: `{id, name, accountId, teamId?}`.
    pub projects: BTreeMap<String, Value>,
    /// Env vars by project id. Encrypted and sensitive values are kept as a SHA-256 digest
    /// (`valueDigest`), never in clear.
    pub envs: BTreeMap<String, Vec<Value>>,
    /// Deployments by uid.
    pub deployments: BTreeMap<String, Value>,
    /// Project domains by project id.
    pub domains: BTreeMap<String, Vec<Value>>,
    used: u64,
    window_start: i64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl VercelState {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{:016x}{:08x}", fastrand::u64(..), self.next_id)
    }

    /// A project by id or name.
    fn project_id(&self, id_or_name: &str) -> Option<String> {
        if self.projects.contains_key(id_or_name) {
            return Some(id_or_name.to_string());
        }
        self.projects
            .values()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(id_or_name))
            .and_then(|p| p.get("id").and_then(Value::as_str).map(str::to_string))
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "projects": self.projects.values().collect::<Vec<_>>(),
            "envs": self.envs,
            "deployments": self.deployments.values().collect::<Vec<_>>(),
            "domains": self.domains,
        })
    }

    /// `project` (id; `set` may carry `name`, `teamId`), `deployment` (uid; `set` carries
    /// `projectId`, `created`, `state`, …), `domain` (`projectId/name`), `env` (`projectId/envId`,
    /// merge or delete, for drift).
    pub fn mutate(
        &mut self,
        kind: &str,
        id: &str,
        set: &Value,
        delete: bool,
    ) -> Result<(), String> {
        match kind {
            "project" => {
                if delete {
                    self.envs.remove(id);
                    self.domains.remove(id);
                    return self
                        .projects
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| format!("no project `{id}`"));
                }
                let p = self.projects.entry(id.to_string()).or_insert_with(|| {
                    json!({"id": id, "name": id, "accountId": "user_sim", "createdAt": now_ms()})
                });
                merge(p, set);
                if let Some(team) = p.get("teamId").and_then(Value::as_str) {
                    let team = team.to_string();
                    merge(p, &json!({"accountId": team}));
                }
                Ok(())
            }
            "deployment" => {
                if delete {
                    return self
                        .deployments
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| format!("no deployment `{id}`"));
                }
                self.next_id += 1;
                let created = now_ms() + self.next_id as i64;
                let d = self.deployments.entry(id.to_string()).or_insert_with(|| {
                    json!({"uid": id, "name": "app", "url": format!("{id}.vercel.app"),
                           "created": created, "createdAt": created, "state": "READY",
                           "readyState": "READY", "target": "production", "source": "git",
                           "type": "LAMBDAS", "projectId": "",
                           "creator": {"uid": "user_sim", "email": "ops@example.com", "username": "ops"},
                           "inspectorUrl": format!("https://vercel.com/sim/app/{id}")})
                });
                merge(d, set);
                Ok(())
            }
            "domain" => {
                let (pid, name) = id
                    .split_once('/')
                    .ok_or_else(|| "domain id is `projectId/name`".to_string())?;
                let pid = self
                    .project_id(pid)
                    .ok_or_else(|| format!("no project `{pid}`"))?;
                let list = self.domains.entry(pid.clone()).or_default();
                let pos = list
                    .iter()
                    .position(|d| d.get("name").and_then(Value::as_str) == Some(name));
                match (pos, delete) {
                    (Some(i), true) => {
                        list.remove(i);
                    }
                    (None, true) => return Err(format!("no domain `{name}`")),
                    (Some(i), false) => merge(&mut list[i], set),
                    (None, false) => {
                        let at = now_ms() + list.len() as i64;
                        let apex = name.rsplitn(3, '.').take(2).collect::<Vec<_>>();
                        let apex = apex.into_iter().rev().collect::<Vec<_>>().join(".");
                        let mut d = json!({"name": name, "apexName": apex, "projectId": pid,
                            "redirect": null, "redirectStatusCode": null, "gitBranch": null,
                            "customEnvironmentId": null, "createdAt": at, "updatedAt": at,
                            "verified": true});
                        merge(&mut d, set);
                        list.push(d);
                    }
                }
                Ok(())
            }
            "env" => {
                let (pid, env_id) = id
                    .split_once('/')
                    .ok_or_else(|| "env id is `projectId/envId`".to_string())?;
                let list = self
                    .envs
                    .get_mut(pid)
                    .ok_or_else(|| format!("no envs for `{pid}`"))?;
                let pos = list
                    .iter()
                    .position(|e| e.get("id").and_then(Value::as_str) == Some(env_id))
                    .ok_or_else(|| format!("no env `{env_id}`"))?;
                if delete {
                    list.remove(pos);
                } else {
                    merge(&mut list[pos], set);
                }
                Ok(())
            }
            other => Err(format!("unknown vercel kind `{other}`")),
        }
    }

    /// Count one request; (remaining, reset as epoch seconds).
    fn count(&mut self) -> (u64, i64) {
        let t = chrono::Utc::now().timestamp();
        if t - self.window_start >= WINDOW_SECS {
            self.window_start = t;
            self.used = 0;
        }
        self.used += 1;
        (
            LIMIT.saturating_sub(self.used),
            self.window_start + WINDOW_SECS,
        )
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v10/projects/{id_or_name}/env",
            get(env::list).post(env::create),
        )
        .route(
            "/v9/projects/{id_or_name}/env/{id}",
            patch(env::edit).delete(env::remove),
        )
        .route("/v6/deployments", get(list_deployments))
        .route("/v9/projects/{id_or_name}/domains", get(list_domains))
}

pub(crate) type Q = HashMap<String, String>;

/// Add the rate-limit headers to any answer.
pub(crate) fn answer(s: &Shared, mut r: Response) -> Response {
    let (remaining, reset) = lock(&s.vercel).count();
    for (k, v) in [
        ("x-ratelimit-limit", LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

pub(crate) fn ok(s: &Shared, status: StatusCode, body: Value) -> Response {
    answer(s, (status, Json(body)).into_response())
}

pub(crate) fn fail(s: &Shared, status: StatusCode, code: &str, msg: &str) -> Response {
    answer(s, error(P, status, code, msg))
}

/// Auth, then the project (by id or name) and its team scope. Returns the project id.
pub(crate) fn guard(
    s: &Shared,
    headers: &HeaderMap,
    id_or_name: Option<&str>,
    q: &Q,
) -> Result<Option<String>, Response> {
    if bearer(headers).is_none() {
        return Err(fail(
            s,
            StatusCode::FORBIDDEN,
            "forbidden",
            "The request is missing an authentication token",
        ));
    }
    let Some(id_or_name) = id_or_name else {
        return Ok(None);
    };
    let st = lock(&s.vercel);
    let Some(pid) = st.project_id(id_or_name) else {
        drop(st);
        return Err(fail(
            s,
            StatusCode::NOT_FOUND,
            "not_found",
            "Project not found",
        ));
    };
    let team = st
        .projects
        .get(&pid)
        .and_then(|p| p.get("teamId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    drop(st);
    if team.as_deref() != q.get("teamId").map(String::as_str) {
        return Err(fail(
            s,
            StatusCode::FORBIDDEN,
            "forbidden",
            "You don't have permission to access this project in this scope",
        ));
    }
    Ok(Some(pid))
}

/// Page a list sorted newest-first by the millisecond timestamp `field`:
/// `limit` (1..100, default 20), `until` (exclusive) and `since` (exclusive).
fn page_by_time(
    s: &Shared,
    mut items: Vec<Value>,
    field: &str,
    q: &Q,
    key: &str,
) -> Result<Value, Response> {
    let num = |k: &str| -> Result<Option<i64>, Response> {
        match q.get(k) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                fail(
                    s,
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("Invalid request: `{k}` should be number."),
                )
            }),
        }
    };
    let limit = num("limit")?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(fail(
            s,
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid request: `limit` should be <= 100.",
        ));
    }
    let (until, since) = (num("until")?, num("since")?);
    let ts = |v: &Value| v.get(field).and_then(Value::as_i64).unwrap_or(0);
    items.retain(|v| until.is_none_or(|u| ts(v) < u) && since.is_none_or(|x| ts(v) > x));
    items.sort_by_key(|v| std::cmp::Reverse(ts(v)));
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(ts) } else { None };
    let prev = items.first().map(ts);
    Ok(json!({
        key: items,
        "pagination": {"count": items.len(), "next": next, "prev": prev}
    }))
}

async fn list_deployments(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Response {
    let pid = match guard(&s, &headers, q.get("projectId").map(String::as_str), &q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let team = q.get("teamId").cloned();
    let items: Vec<Value> = {
        let st = lock(&s.vercel);
        st.deployments
            .values()
            .filter(|d| {
                let dp = d.get("projectId").and_then(Value::as_str);
                match &pid {
                    Some(p) => dp == Some(p.as_str()),
                    // Without a project: the deployments of projects in this scope.
                    None => {
                        let dteam = dp
                            .and_then(|p| st.projects.get(p))
                            .and_then(|p| p.get("teamId"))
                            .and_then(Value::as_str);
                        dteam == team.as_deref()
                    }
                }
            })
            .filter(|d| {
                q.get("state").is_none_or(|want| {
                    d.get("state").and_then(Value::as_str) == Some(want.as_str())
                })
            })
            .cloned()
            .collect()
    };
    match page_by_time(&s, items, "created", &q, "deployments") {
        Ok(v) => ok(&s, StatusCode::OK, v),
        Err(r) => r,
    }
}

async fn list_domains(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id_or_name): Path<String>,
    Query(q): Query<Q>,
) -> Response {
    let pid = match guard(&s, &headers, Some(&id_or_name), &q) {
        Ok(Some(p)) => p,
        Ok(None) => return fail(&s, StatusCode::NOT_FOUND, "not_found", "Project not found"),
        Err(r) => return r,
    };
    let items = lock(&s.vercel)
        .domains
        .get(&pid)
        .cloned()
        .unwrap_or_default();
    match page_by_time(&s, items, "createdAt", &q, "domains") {
        Ok(v) => ok(&s, StatusCode::OK, v),
        Err(r) => r,
    }
}
