//! DigitalOcean adapter: droplets, firewalls, domain records, managed databases, tags.
//! Observation is one paginated list per object type (selected by ownership tag); what is
//! read is normalized ([`normalize`]) so an unchanged object compares equal to its desired
//! form.
//!
//! DigitalOcean is asynchronous: a created droplet is `new` without an address, an action
//! is `in-progress` while its droplet is locked, a cluster is `creating`. The adapter waits
//! for each with a deadline ([`Poll`]): polls back off from `first` to `max`, and a locked
//! droplet's action is retried until the deadline.

mod databases;
mod domains;
mod droplets;
mod firewalls;
mod normalize;

pub use normalize::{
    canonical_firewall, cluster_body, droplet_body, firewall_body, normalize_droplet,
    normalize_firewall, record_body, redacted, tag_resources_body,
};

use super::error::{Provider, ProviderError};
use super::http::{HttpClient, Request};
use super::paginate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

const P: Provider = Provider::Digitalocean;

/// A droplet as we compare it (desired, or normalized live).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Droplet {
    pub name: String,
    pub region: String,
    pub size: String,
    pub image: String,
    /// Sorted, deduplicated.
    pub tags: Vec<String>,
    pub monitoring: bool,
    pub backups: bool,
    pub ipv6: bool,
}

impl Droplet {
    /// The canonical form (sorted, deduplicated tags), as normalized live droplets have.
    pub fn canonical(mut self) -> Droplet {
        self.tags = sorted(self.tags);
        self
    }
}

/// A live droplet: its comparable form plus server-computed facts.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LiveDroplet {
    pub id: u64,
    pub droplet: Droplet,
    /// `new`, `active`, `off` or `archive`.
    pub status: String,
    /// An action is in progress: no other may start.
    pub locked: bool,
    pub ipv4: Option<String>,
}

/// Desired droplet plus what is sent but never read back (user data, SSH keys).
#[derive(Clone, Debug, PartialEq)]
pub struct DropletCreate {
    pub droplet: Droplet,
    pub user_data: String,
    pub ssh_keys: Vec<String>,
}

/// One firewall rule, normalized: protocol, ports (`all` for every port), sorted sources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub protocol: String,
    pub ports: String,
    pub addresses: Vec<String>,
    pub tags: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Firewall {
    pub name: String,
    pub inbound: Vec<Rule>,
    pub outbound: Vec<Rule>,
    /// Tags the firewall applies to (droplets are attached by tag, not by id).
    pub tags: Vec<String>,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LiveFirewall {
    pub id: String,
    pub firewall: Firewall,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Record {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub data: String,
    pub ttl: u64,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LiveRecord {
    pub id: u64,
    pub zone: String,
    pub record: Record,
}

/// A managed database cluster as we compare it (desired, or normalized live).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    pub engine: String,
    pub version: String,
    pub region: String,
    pub size: String,
    pub nodes: u32,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LiveCluster {
    pub id: String,
    /// `creating`, `online`, `resizing`, …
    pub status: String,
    pub spec: ClusterSpec,
    pub tags: Vec<String>,
    /// Sorted database names (the default `defaultdb` removed).
    pub databases: Vec<String>,
    /// Sorted user names (the admin `doadmin` removed).
    pub users: Vec<String>,
    /// The host and port clients connect to (`connection.host`/`port`; never the
    /// connection's credentials).
    pub host: String,
    pub port: u16,
}

/// How the adapter waits for asynchronous work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Poll {
    /// The first wait before looking again; each next wait doubles, up to `max`.
    pub first: Duration,
    pub max: Duration,
    /// Droplet creates, actions and deletes give up after this long.
    pub deadline: Duration,
    /// Cluster creates and resizes (slower on the real API) give up after this long.
    pub cluster_deadline: Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Poll {
            first: Duration::from_millis(500),
            max: Duration::from_secs(5),
            deadline: Duration::from_secs(600),
            cluster_deadline: Duration::from_secs(1800),
        }
    }
}

impl Poll {
    /// Against a local simulator: look again quickly.
    pub fn quick() -> Poll {
        Poll {
            first: Duration::from_millis(50),
            max: Duration::from_millis(500),
            ..Poll::default()
        }
    }
}

/// The DigitalOcean adapter over the shared HTTP client.
#[derive(Clone, Debug)]
pub struct DigitalOcean {
    http: HttpClient,
    poll: Poll,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .or_else(|| x.as_u64().map(|n| n.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ok_if_gone(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if e.status == Some(404) => Ok(()),
        other => other,
    }
}

/// Waits that double from `first` up to `max`, until `deadline` from now.
struct Waits {
    next: Duration,
    max: Duration,
    until: tokio::time::Instant,
}

impl Waits {
    fn new(poll: &Poll, deadline: Duration) -> Waits {
        Waits {
            next: poll.first,
            max: poll.max,
            until: tokio::time::Instant::now() + deadline,
        }
    }
    /// Sleep before the next look; false when the deadline has passed.
    async fn wait(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        if now >= self.until {
            return false;
        }
        let d = self.next.min(self.until - now);
        tokio::time::sleep(d).await;
        self.next = (self.next * 2).min(self.max);
        true
    }
}

fn timed_out(what: &str, deadline: Duration) -> ProviderError {
    ProviderError::new(
        P,
        "timeout",
        format!("{what} did not complete within {}s", deadline.as_secs()),
    )
    .retryable(true)
}

impl DigitalOcean {
    pub fn new(http: HttpClient) -> Self {
        DigitalOcean {
            http,
            poll: Poll::default(),
        }
    }

    /// The same adapter waiting on asynchronous work with `poll`.
    pub fn with_poll(mut self, poll: Poll) -> Self {
        self.poll = poll;
        self
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Token check.
    pub async fn account(&self) -> Result<Value, ProviderError> {
        self.http.json(Request::get("/v2/account")).await
    }

    /// Everything in the account under our management tag, for `odooops inventory`
    /// (connection details, which carry passwords, are left out).
    pub async fn inventory(&self) -> Result<Value, ProviderError> {
        let droplets = paginate::digitalocean(
            &self.http,
            "/v2/droplets",
            "droplets",
            &[("tag_name", "odooops:managed".to_string())],
        )
        .await?;
        let firewalls =
            paginate::digitalocean(&self.http, "/v2/firewalls", "firewalls", &[]).await?;
        let domains = paginate::digitalocean(&self.http, "/v2/domains", "domains", &[]).await?;
        let databases = self.http.json(Request::get("/v2/databases")).await?;
        let databases: Vec<Value> = databases
            .get("databases")
            .and_then(Value::as_array)
            .map(|a| a.iter().cloned().map(redacted).collect())
            .unwrap_or_default();
        Ok(json!({
            "droplets": droplets,
            "firewalls": firewalls,
            "domains": domains,
            "databases": databases,
        }))
    }
}
