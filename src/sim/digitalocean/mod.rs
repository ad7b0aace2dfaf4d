//! DigitalOcean API v2, simulated: droplets (+ actions), firewalls, domains and records,
//! managed databases (clusters, dbs, users), tags and the account. Shapes, pagination
//! (`page`/`per_page`, absolute `links.pages.next`), rate-limit headers and error bodies
//! follow the official OpenAPI description.
//!
//! It is as strict as the real API where the difference could hide a bug:
//! - creates and actions are asynchronous: a droplet is `new` with no address until its
//!   create action completes, an action is `in-progress` (the droplet `locked`, a second
//!   action refused with 422) until it completes, a deleted droplet lingers `off` and locked
//!   until it is gone, a cluster is `creating` until it is `online` with its connection URI.
//!   Each completes [`DoState::delay`] after it started; time advances as requests arrive
//!   ([`DoState::tick`]), so no background task is needed;
//! - a running droplet cannot be resized (422: power it off first);
//! - inputs are validated like the real API's: region, size and image slugs, hostnames,
//!   record data (an A record needs an IPv4 address), firewall ports and addresses;
//! - the hourly request budget answers 429 `too_many_requests` with `retry-after` once
//!   spent.

mod catalog;
mod databases;
mod domains;
mod droplets;
mod firewalls;
mod tags;

pub use catalog::{hostname_ok, size_facts, REGIONS};

use super::{bearer, error, lock, merge, Shared};
use crate::provider::error::Provider;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const P: Provider = Provider::Digitalocean;

/// DigitalOcean's documented hourly budget per token.
pub const HOURLY_LIMIT: u64 = 5000;

/// Something that completes later.
#[derive(Debug, Clone, PartialEq)]
enum Transition {
    /// The droplet's create action completes: `active`, unlocked, with its addresses.
    DropletUp(u64),
    /// A droplet action completes (its effect is applied then).
    ActionDone(u64),
    /// A deleted droplet is gone.
    DropletGone(u64),
    /// A cluster is `online`, with its connection URI.
    ClusterOnline(String),
}

#[derive(Debug)]
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
    /// How long creates, actions and deletes take to complete.
    pub delay: Duration,
    pending: BTreeMap<(Instant, u64), Transition>,
    /// Requests answered in the current hour, and when that hour started.
    used: u64,
    window_start: Option<Instant>,
    /// The hourly request budget (none: DigitalOcean's 5,000). Benchmarks that converge
    /// thousands of objects raise it.
    pub hourly_limit: Option<u64>,
    /// Droplets ever created (a request cut off before the handler ran creates none).
    pub droplets_created: u64,
    /// The first public address handed out (`203.0.113.1` by default; the delivery tests
    /// use loopback addresses, where a local SSH server can listen).
    pub address_base: std::net::Ipv4Addr,
}

impl Default for DoState {
    fn default() -> Self {
        DoState {
            next_id: 0,
            droplets: BTreeMap::new(),
            user_data: BTreeMap::new(),
            actions: BTreeMap::new(),
            firewalls: BTreeMap::new(),
            domains: BTreeMap::new(),
            records: BTreeMap::new(),
            clusters: BTreeMap::new(),
            tags: BTreeMap::new(),
            delay: Duration::from_millis(1500),
            pending: BTreeMap::new(),
            used: 0,
            window_start: None,
            hourly_limit: None,
            droplets_created: 0,
            address_base: std::net::Ipv4Addr::new(203, 0, 113, 1),
        }
    }
}

impl DoState {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        3_164_000 + self.next_id
    }

    /// Schedule `t` to happen after the configured delay.
    fn later(&mut self, t: Transition) {
        let seq = self.id();
        self.pending.insert((Instant::now() + self.delay, seq), t);
    }

    /// Complete everything whose time has come.
    pub fn tick(&mut self) {
        self.complete_until(Instant::now());
    }

    /// Complete everything pending now, whatever its time (tests that read the state of a
    /// settled cloud).
    pub fn settle(&mut self) {
        self.complete_until(Instant::now() + Duration::from_secs(86_400 * 365));
    }

    /// Whether anything is still in progress.
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }

    fn complete_until(&mut self, now: Instant) {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let t = entry.remove();
            self.complete(t);
        }
    }

    fn complete(&mut self, t: Transition) {
        match t {
            Transition::DropletUp(id) => droplets::up(self, id),
            Transition::ActionDone(id) => droplets::action_done(self, id),
            Transition::DropletGone(id) => {
                self.droplets.remove(&id);
                self.user_data.remove(&id);
            }
            Transition::ClusterOnline(id) => databases::online(self, &id),
        }
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
            "in_progress": self.pending.len(),
        })
    }

    /// An out-of-band change (the control API): merge `set` into the object, or delete it.
    pub fn mutate(
        &mut self,
        kind: &str,
        id: &str,
        set: &Value,
        delete: bool,
    ) -> Result<(), String> {
        self.tick();
        let target = match kind {
            "droplet" => {
                let n: u64 = id.parse().map_err(|_| format!("bad droplet id `{id}`"))?;
                if delete {
                    self.user_data.remove(&n);
                    return self
                        .droplets
                        .remove(&n)
                        .map(|_| ())
                        .ok_or_else(|| "no such droplet".into());
                }
                // A size change out-of-band also changes the derived fields.
                if let Some(slug) = set.get("size_slug").and_then(Value::as_str) {
                    if let Some(d) = self.droplets.get_mut(&n) {
                        droplets::apply_size(d, slug);
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

    /// Create out of band (the control API): a droplet, record or database someone made by
    /// hand, to test that foreign objects are never adopted.
    pub fn create_foreign(&mut self, kind: &str, spec: &Value) -> Result<Value, String> {
        self.tick();
        match kind {
            "record" => {
                let zone = spec["zone"].as_str().ok_or("zone is required")?.to_string();
                let id = self.id();
                let rec = domains::record_from(spec, id).map_err(|_| "invalid record")?;
                self.records
                    .get_mut(&zone)
                    .ok_or_else(|| format!("no zone `{zone}`"))?
                    .insert(id, rec.clone());
                Ok(rec)
            }
            "db" => {
                let cluster = spec["cluster"].as_str().ok_or("cluster is required")?;
                let name = spec["name"].as_str().ok_or("name is required")?;
                let c = self
                    .clusters
                    .values_mut()
                    .find(|c| c["name"] == cluster || c["id"] == cluster)
                    .ok_or_else(|| format!("no cluster `{cluster}`"))?;
                let mut names = c["db_names"].as_array().cloned().unwrap_or_default();
                names.push(json!(name));
                c["db_names"] = json!(names);
                Ok(json!({"name": name}))
            }
            other => Err(format!("cannot create a foreign `{other}`")),
        }
    }
}

pub fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/v2/account", get(account))
        .merge(droplets::routes())
        .merge(firewalls::routes())
        .merge(domains::routes())
        .merge(databases::routes())
        .merge(tags::routes())
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

type Q = axum::extract::Query<HashMap<String, String>>;

/// The `name` of a JSON body, required by every create.
fn name_of(body: &Option<Json<Value>>) -> Option<String> {
    body.as_ref()
        .and_then(|b| b.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Every DigitalOcean route: refuse a missing bearer token like the real API (which token
/// is accepted is decided by the simulator's account dispatch), spend one request of the
/// hourly budget — or answer 429 once it is spent — and let time advance.
async fn authenticate(State(s): State<Shared>, req: Request, next: Next) -> Response {
    if bearer(req.headers()).is_none() {
        return error(
            P,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unable to authenticate you",
        );
    }
    let refused = {
        let mut st = lock(&s.digitalocean);
        st.tick();
        let now = Instant::now();
        let start = *st.window_start.get_or_insert(now);
        if now.duration_since(start) >= Duration::from_secs(3600) {
            st.window_start = Some(now);
            st.used = 0;
        }
        let limit = st.hourly_limit.unwrap_or(HOURLY_LIMIT);
        if st.used >= limit {
            let wait = Duration::from_secs(3600).saturating_sub(now.duration_since(start));
            Some(wait.as_secs().max(1))
        } else {
            st.used += 1;
            None
        }
    };
    if let Some(retry_after) = refused {
        let mut r = answer(
            &s,
            StatusCode::TOO_MANY_REQUESTS,
            Some(json!({"id": "too_many_requests", "message": "API rate limit exceeded."})),
        );
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        return r;
    }
    next.run(req).await
}

fn answer(s: &Shared, status: StatusCode, body: Option<Value>) -> Response {
    let (used, limit) = {
        let st = lock(&s.digitalocean);
        (st.used, st.hourly_limit.unwrap_or(HOURLY_LIMIT))
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
