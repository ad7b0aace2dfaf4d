//! DigitalOcean adapter: droplets, firewalls, domain records, managed databases, tags.
//! Observation is one paginated list per object type (selected by ownership tag); what is
//! read is normalized so an unchanged object compares equal to its desired form.

use super::error::{Provider, ProviderError};
use super::http::{HttpClient, Request};
use super::paginate;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    pub status: String,
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

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LiveCluster {
    pub id: String,
    pub name: String,
    pub engine: String,
    pub region: String,
    pub size: String,
    pub tags: Vec<String>,
    /// Sorted database names (the default `defaultdb` removed).
    pub databases: Vec<String>,
    /// Sorted user names (the admin `doadmin` removed).
    pub users: Vec<String>,
}

/// The DigitalOcean adapter over the shared HTTP client.
#[derive(Clone, Debug)]
pub struct DigitalOcean {
    http: HttpClient,
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

fn decode(msg: &str) -> ProviderError {
    ProviderError::new(P, "decode", msg.to_string())
}

/// Normalize a droplet object of the API.
pub fn normalize_droplet(v: &Value) -> Result<LiveDroplet, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| decode("droplet without id"))?;
    let features = strings(v.get("features"));
    let image = v
        .pointer("/image/slug")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            v.pointer("/image/id")
                .and_then(Value::as_u64)
                .map(|n| n.to_string())
        })
        .unwrap_or_default();
    let ipv4 = v
        .pointer("/networks/v4")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|n| n["type"] == "public"))
        .and_then(|n| n["ip_address"].as_str())
        .map(str::to_string);
    Ok(LiveDroplet {
        id,
        status: v
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        ipv4,
        droplet: Droplet {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            region: v
                .pointer("/region/slug")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            // `size_slug` is authoritative; `size.slug` is the same value nested.
            size: v
                .get("size_slug")
                .and_then(Value::as_str)
                .or_else(|| v.pointer("/size/slug").and_then(Value::as_str))
                .unwrap_or("")
                .to_string(),
            image,
            tags: sorted(strings(v.get("tags"))),
            monitoring: features.iter().any(|f| f == "monitoring"),
            backups: features.iter().any(|f| f == "backups"),
            ipv6: features.iter().any(|f| f == "ipv6"),
        },
    })
}

fn normalize_ports(protocol: &str, ports: &str) -> String {
    match (protocol, ports) {
        ("icmp", _) => String::new(),
        (_, "0") | (_, "") | (_, "1-65535") => "all".to_string(),
        (_, p) => p.to_string(),
    }
}

fn normalize_rules(v: Option<&Value>, side: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|r| {
                    let protocol = r["protocol"].as_str().unwrap_or("").to_lowercase();
                    let ports = normalize_ports(&protocol, r["ports"].as_str().unwrap_or(""));
                    Rule {
                        addresses: sorted(strings(r.get(side).and_then(|s| s.get("addresses")))),
                        tags: sorted(strings(r.get(side).and_then(|s| s.get("tags")))),
                        protocol,
                        ports,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    rules.sort();
    rules
}

/// Normalize a firewall object: rule order, port aliases and source order are not drift.
pub fn normalize_firewall(v: &Value) -> Result<LiveFirewall, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| decode("firewall without id"))?;
    Ok(LiveFirewall {
        id: id.to_string(),
        firewall: Firewall {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            inbound: normalize_rules(v.get("inbound_rules"), "sources"),
            outbound: normalize_rules(v.get("outbound_rules"), "destinations"),
            tags: sorted(strings(v.get("tags"))),
        },
    })
}

/// The same normalization for a desired firewall.
pub fn canonical_firewall(mut f: Firewall) -> Firewall {
    for r in f.inbound.iter_mut().chain(f.outbound.iter_mut()) {
        r.protocol = r.protocol.to_lowercase();
        r.ports = normalize_ports(&r.protocol, &r.ports);
        r.addresses = sorted(std::mem::take(&mut r.addresses));
        r.tags = sorted(std::mem::take(&mut r.tags));
    }
    f.inbound.sort();
    f.outbound.sort();
    f.tags = sorted(f.tags);
    f
}

fn rules_json(rules: &[Rule], side: &str) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut o = json!({"protocol": r.protocol, side: {"addresses": r.addresses, "tags": r.tags}});
                if r.protocol != "icmp" {
                    o["ports"] = json!(if r.ports == "all" { "0" } else { r.ports.as_str() });
                }
                o
            })
            .collect(),
    )
}

/// The request body for a firewall (POST and the full-replacement PUT).
pub fn firewall_body(f: &Firewall) -> Value {
    json!({
        "name": f.name,
        "inbound_rules": rules_json(&f.inbound, "sources"),
        "outbound_rules": rules_json(&f.outbound, "destinations"),
        "tags": f.tags,
        "droplet_ids": [],
    })
}

/// The request body for a droplet create.
pub fn droplet_body(c: &DropletCreate) -> Value {
    let d = &c.droplet;
    json!({
        "name": d.name, "region": d.region, "size": d.size, "image": d.image,
        "ssh_keys": c.ssh_keys, "backups": d.backups, "ipv6": d.ipv6, "monitoring": d.monitoring,
        "tags": d.tags, "user_data": c.user_data, "with_droplet_agent": true,
    })
}

/// The request body for a record create (POST) and replacement (PUT).
/// The body of tag/untag resource requests: droplet ids as strings.
pub fn tag_resources_body(ids: &[u64]) -> Value {
    json!({"resources": ids.iter().map(|id| json!({"resource_id": id.to_string(), "resource_type": "droplet"})).collect::<Vec<_>>()})
}

pub fn record_body(r: &Record) -> Value {
    json!({"type": r.kind, "name": r.name, "data": r.data, "ttl": r.ttl})
}

/// The request body for a PostgreSQL cluster create.
pub fn cluster_body(name: &str, region: &str, size: &str, tags: &[String]) -> Value {
    json!({"name": name, "engine": "pg", "version": "16", "region": region, "size": size, "num_nodes": 1, "tags": tags})
}

fn normalize_record(zone: &str, v: &Value) -> Result<LiveRecord, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| decode("record without id"))?;
    Ok(LiveRecord {
        id,
        zone: zone.to_string(),
        record: Record {
            kind: v["type"].as_str().unwrap_or("").to_string(),
            name: v["name"].as_str().unwrap_or("").to_string(),
            // DNS data is case-insensitive for names; trailing dots are aliases.
            data: v["data"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches('.')
                .to_string(),
            ttl: v["ttl"].as_u64().unwrap_or(1800),
        },
    })
}

fn normalize_cluster(v: &Value) -> Result<LiveCluster, ProviderError> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| decode("database without id"))?;
    let users: Vec<String> = v
        .get("users")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(LiveCluster {
        id: id.to_string(),
        name: v["name"].as_str().unwrap_or("").to_string(),
        engine: v["engine"].as_str().unwrap_or("").to_string(),
        region: v["region"].as_str().unwrap_or("").to_string(),
        size: v["size"].as_str().unwrap_or("").to_string(),
        tags: sorted(strings(v.get("tags"))),
        databases: sorted(
            strings(v.get("db_names"))
                .into_iter()
                .filter(|d| d != "defaultdb")
                .collect(),
        ),
        users: sorted(users.into_iter().filter(|u| u != "doadmin").collect()),
    })
}

fn ok_if_gone(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if e.status == Some(404) => Ok(()),
        other => other,
    }
}

impl DigitalOcean {
    pub fn new(http: HttpClient) -> Self {
        DigitalOcean { http }
    }
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Token check.
    pub async fn account(&self) -> Result<Value, ProviderError> {
        self.http.json(Request::get("/v2/account")).await
    }

    // ---- droplets -------------------------------------------------------------------

    /// Every droplet carrying `tag`: one paginated list.
    pub async fn observe_droplets(&self, tag: &str) -> Result<Vec<LiveDroplet>, ProviderError> {
        self.observe_droplets_where(tag, |_| true).await
    }

    /// The droplets carrying `tag` that `keep` selects, normalized page by page.
    pub async fn observe_droplets_where(
        &self,
        tag: &str,
        keep: impl Fn(&LiveDroplet) -> bool,
    ) -> Result<Vec<LiveDroplet>, ProviderError> {
        paginate::digitalocean_map(
            &self.http,
            "/v2/droplets",
            "droplets",
            &[("tag_name", tag.to_string())],
            |v| normalize_droplet(v).map(|d| keep(&d).then_some(d)),
        )
        .await
    }

    /// Create a droplet; idempotent by name within its ownership tag. A create is not
    /// retried blindly: after a failure whose outcome is unknown, observe first and adopt
    /// what exists (never two droplets for one environment).
    pub async fn create_droplet(
        &self,
        c: &DropletCreate,
        owner_tag: &str,
    ) -> Result<LiveDroplet, ProviderError> {
        let mut last_err = None;
        for _ in 0..5 {
            if let Some(existing) = self.find_droplet(owner_tag, &c.droplet.name).await? {
                return Ok(existing);
            }
            match self
                .http
                .json(Request::post("/v2/droplets", droplet_body(c)))
                .await
            {
                Ok(v) => {
                    let d = v
                        .get("droplet")
                        .ok_or_else(|| decode("create answer without droplet"))?;
                    return normalize_droplet(d);
                }
                Err(e) if e.retryable => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| decode("droplet create did not converge")))
    }

    pub async fn find_droplet(
        &self,
        owner_tag: &str,
        name: &str,
    ) -> Result<Option<LiveDroplet>, ProviderError> {
        Ok(self
            .observe_droplets(owner_tag)
            .await?
            .into_iter()
            .find(|d| d.droplet.name == name))
    }

    async fn droplet_action(&self, id: u64, body: Value) -> Result<Value, ProviderError> {
        // Actions are POSTs; each carries a key so a retry after a lost answer is safe
        // (resizing to the same size again is a no-op on the provider).
        let key = format!("droplet-{id}-{}", body);
        self.http
            .json(Request::post(format!("/v2/droplets/{id}/actions"), body).idempotency_key(key))
            .await
    }

    pub async fn resize_droplet(&self, id: u64, size: &str) -> Result<(), ProviderError> {
        self.droplet_action(id, json!({"type": "resize", "size": size, "disk": false}))
            .await
            .map(|_| ())
    }

    /// Turn backups on or off (droplet actions `enable_backups` / `disable_backups`).
    pub async fn set_backups(&self, id: u64, on: bool) -> Result<(), ProviderError> {
        let kind = if on {
            "enable_backups"
        } else {
            "disable_backups"
        };
        self.droplet_action(id, json!({"type": kind}))
            .await
            .map(|_| ())
    }

    /// Enable IPv6 (droplet action `enable_ipv6`; there is no action that disables it).
    pub async fn enable_ipv6(&self, id: u64) -> Result<(), ProviderError> {
        self.droplet_action(id, json!({"type": "enable_ipv6"}))
            .await
            .map(|_| ())
    }

    pub async fn power(&self, id: u64, on: bool) -> Result<(), ProviderError> {
        let kind = if on { "power_on" } else { "power_off" };
        self.droplet_action(id, json!({"type": kind}))
            .await
            .map(|_| ())
    }

    /// Delete by id; already gone is success.
    pub async fn delete_droplet(&self, id: u64) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(Method::DELETE, format!("/v2/droplets/{id}")))
                .await
                .map(|_| ()),
        )
    }

    // ---- firewalls ------------------------------------------------------------------

    /// Every firewall whose name starts with `prefix` (ours are `odooops-<project>-<env>`).
    pub async fn observe_firewalls(
        &self,
        prefix: &str,
    ) -> Result<Vec<LiveFirewall>, ProviderError> {
        self.observe_firewalls_where(prefix, |_| true).await
    }

    /// The firewalls named `prefix…` that `keep` selects, normalized page by page.
    pub async fn observe_firewalls_where(
        &self,
        prefix: &str,
        keep: impl Fn(&LiveFirewall) -> bool,
    ) -> Result<Vec<LiveFirewall>, ProviderError> {
        paginate::digitalocean_map(&self.http, "/v2/firewalls", "firewalls", &[], |v| {
            // The name is checked before the rules are normalized.
            if !v
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with(prefix))
            {
                return Ok(None);
            }
            normalize_firewall(v).map(|f| keep(&f).then_some(f))
        })
        .await
    }

    /// Create a firewall, adopting one of the same name that an earlier attempt may have
    /// created. The API has no name filter, so looking means listing every firewall: it is
    /// skipped before a `first_attempt` (the caller's ledger records no earlier try, and its
    /// plan observed no such firewall) and done before every retry of a lost answer.
    /// Returns the firewall and whether it was adopted.
    pub async fn create_firewall(
        &self,
        f: &Firewall,
        first_attempt: bool,
    ) -> Result<(LiveFirewall, bool), ProviderError> {
        let mut last_err = None;
        for attempt in 0..5 {
            if attempt > 0 || !first_attempt {
                if let Some(existing) = self
                    .observe_firewalls(&f.name)
                    .await?
                    .into_iter()
                    .find(|x| x.firewall.name == f.name)
                {
                    return Ok((existing, true));
                }
            }
            match self
                .http
                .json(Request::post("/v2/firewalls", firewall_body(f)))
                .await
            {
                Ok(v) => {
                    return normalize_firewall(
                        v.get("firewall")
                            .ok_or_else(|| decode("create answer without firewall"))?,
                    )
                    .map(|live| (live, false))
                }
                Err(e) if e.retryable => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| decode("firewall create did not converge")))
    }

    /// PUT replaces the whole firewall: every rule is sent.
    pub async fn update_firewall(
        &self,
        id: &str,
        f: &Firewall,
    ) -> Result<LiveFirewall, ProviderError> {
        let v = self
            .http
            .json(Request::new(Method::PUT, format!("/v2/firewalls/{id}")).json(firewall_body(f)))
            .await?;
        normalize_firewall(
            v.get("firewall")
                .ok_or_else(|| decode("update answer without firewall"))?,
        )
    }

    pub async fn delete_firewall(&self, id: &str) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(Method::DELETE, format!("/v2/firewalls/{id}")))
                .await
                .map(|_| ()),
        )
    }

    // ---- domains and records --------------------------------------------------------

    /// Create the zone if it is missing.
    pub async fn ensure_domain(&self, zone: &str) -> Result<(), ProviderError> {
        match self
            .http
            .send(Request::get(format!("/v2/domains/{zone}")))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(404) => {
                match self
                    .http
                    .send(Request::post("/v2/domains", json!({"name": zone})))
                    .await
                {
                    Ok(_) => Ok(()),
                    // Created meanwhile (or by an earlier attempt whose answer was lost).
                    Err(e) if e.status == Some(422) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The records of `zone` that `keep` selects, normalized page by page (a missing zone
    /// has none).
    pub async fn observe_records_where(
        &self,
        zone: &str,
        keep: impl Fn(&LiveRecord) -> bool,
    ) -> Result<Vec<LiveRecord>, ProviderError> {
        match paginate::digitalocean_map(
            &self.http,
            &format!("/v2/domains/{zone}/records"),
            "domain_records",
            &[],
            |v| normalize_record(zone, v).map(|r| keep(&r).then_some(r)),
        )
        .await
        {
            Err(e) if e.status == Some(404) => Ok(Vec::new()),
            other => other,
        }
    }

    /// The records of `zone` with `r`'s type and name, through the API's `type` and `name`
    /// (fully qualified) filters: one small request instead of listing the whole zone.
    pub async fn find_record(
        &self,
        zone: &str,
        r: &Record,
    ) -> Result<Option<LiveRecord>, ProviderError> {
        let fqdn = if r.name == "@" {
            zone.to_string()
        } else {
            format!("{}.{zone}", r.name)
        };
        let query = [("type", r.kind.clone()), ("name", fqdn)];
        match paginate::digitalocean(
            &self.http,
            &format!("/v2/domains/{zone}/records"),
            "domain_records",
            &query,
        )
        .await
        {
            Ok(items) => Ok(items
                .iter()
                .map(|x| normalize_record(zone, x))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .find(|x| x.record.name == r.name && x.record.kind == r.kind)),
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_record(&self, zone: &str, r: &Record) -> Result<LiveRecord, ProviderError> {
        let mut last_err = None;
        for _ in 0..5 {
            if let Some(existing) = self.find_record(zone, r).await? {
                return Ok(existing);
            }
            let body = record_body(r);
            match self
                .http
                .json(Request::post(format!("/v2/domains/{zone}/records"), body))
                .await
            {
                Ok(v) => {
                    return normalize_record(
                        zone,
                        v.get("domain_record")
                            .ok_or_else(|| decode("answer without domain_record"))?,
                    )
                }
                Err(e) if e.retryable => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| decode("record create did not converge")))
    }

    pub async fn update_record(
        &self,
        zone: &str,
        id: u64,
        r: &Record,
    ) -> Result<LiveRecord, ProviderError> {
        let body = record_body(r);
        let v = self
            .http
            .json(Request::new(Method::PUT, format!("/v2/domains/{zone}/records/{id}")).json(body))
            .await?;
        normalize_record(
            zone,
            v.get("domain_record")
                .ok_or_else(|| decode("answer without domain_record"))?,
        )
    }

    pub async fn delete_record(&self, zone: &str, id: u64) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(
                    Method::DELETE,
                    format!("/v2/domains/{zone}/records/{id}"),
                ))
                .await
                .map(|_| ()),
        )
    }

    // ---- managed databases ----------------------------------------------------------

    /// Every cluster (the list is unpaginated), optionally by tag.
    pub async fn observe_clusters(
        &self,
        tag: Option<&str>,
    ) -> Result<Vec<LiveCluster>, ProviderError> {
        let mut req = Request::get("/v2/databases");
        if let Some(t) = tag {
            req = req.query("tag_name", t);
        }
        let v = self.http.json(req).await?;
        let items = v
            .get("databases")
            .and_then(Value::as_array)
            .ok_or_else(|| decode("answer without databases"))?;
        items.iter().map(normalize_cluster).collect()
    }

    pub async fn create_cluster(
        &self,
        name: &str,
        region: &str,
        size: &str,
        tags: &[String],
    ) -> Result<LiveCluster, ProviderError> {
        if let Some(c) = self
            .observe_clusters(None)
            .await?
            .into_iter()
            .find(|c| c.name == name)
        {
            return Ok(c);
        }
        let body = cluster_body(name, region, size, tags);
        let v = self.http.json(Request::post("/v2/databases", body)).await?;
        normalize_cluster(
            v.get("database")
                .ok_or_else(|| decode("answer without database"))?,
        )
    }

    /// Create a database in a cluster; existing is success.
    pub async fn ensure_database(&self, cluster_id: &str, name: &str) -> Result<(), ProviderError> {
        match self
            .http
            .send(Request::post(
                format!("/v2/databases/{cluster_id}/dbs"),
                json!({"name": name}),
            ))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(422) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_database(&self, cluster_id: &str, name: &str) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(
                    Method::DELETE,
                    format!("/v2/databases/{cluster_id}/dbs/{name}"),
                ))
                .await
                .map(|_| ()),
        )
    }

    /// Create a database user; existing is success. The generated password in the answer
    /// is dropped here: Odoo's password comes from the secret registry.
    pub async fn ensure_user(&self, cluster_id: &str, name: &str) -> Result<(), ProviderError> {
        match self
            .http
            .send(Request::post(
                format!("/v2/databases/{cluster_id}/users"),
                json!({"name": name}),
            ))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(422) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_user(&self, cluster_id: &str, name: &str) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(Request::new(
                    Method::DELETE,
                    format!("/v2/databases/{cluster_id}/users/{name}"),
                ))
                .await
                .map(|_| ()),
        )
    }

    // ---- tags -----------------------------------------------------------------------

    pub async fn ensure_tag(&self, name: &str) -> Result<(), ProviderError> {
        self.http
            .send(
                Request::post("/v2/tags", json!({"name": name}))
                    .idempotency_key(format!("tag-{name}")),
            )
            .await
            .map(|_| ())
    }

    /// Tag droplets (`POST /v2/tags/{tag}/resources`); the tag is created first (idempotent).
    pub async fn tag_droplets(&self, tag: &str, ids: &[u64]) -> Result<(), ProviderError> {
        self.ensure_tag(tag).await?;
        self.http
            .send(
                Request::post(format!("/v2/tags/{tag}/resources"), tag_resources_body(ids))
                    .idempotency_key(format!("tag-{tag}-{ids:?}")),
            )
            .await
            .map(|_| ())
    }

    /// Untag droplets (`DELETE /v2/tags/{tag}/resources`); a tag already gone is success.
    pub async fn untag_droplets(&self, tag: &str, ids: &[u64]) -> Result<(), ProviderError> {
        ok_if_gone(
            self.http
                .send(
                    Request::new(Method::DELETE, format!("/v2/tags/{tag}/resources"))
                        .json(tag_resources_body(ids)),
                )
                .await
                .map(|_| ()),
        )
    }

    /// Everything in the account under our management tag, for `odooops inventory`.
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
        Ok(json!({
            "droplets": droplets,
            "firewalls": firewalls,
            "domains": domains,
            "databases": databases.get("databases").cloned().unwrap_or(json!([])),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewall_normalization_ignores_order_and_aliases() {
        let live = json!({
            "id": "fw-1", "name": "odooops-acme-staging", "tags": ["b", "a"],
            "inbound_rules": [
                {"protocol": "TCP", "ports": "443", "sources": {"addresses": ["::/0", "0.0.0.0/0"]}},
                {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["203.0.113.10/32"]}}
            ],
            "outbound_rules": [{"protocol": "tcp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0"]}}]
        });
        let got = normalize_firewall(&live).expect("normalize").firewall;
        let desired = canonical_firewall(Firewall {
            name: "odooops-acme-staging".into(),
            inbound: vec![
                Rule {
                    protocol: "tcp".into(),
                    ports: "22".into(),
                    addresses: vec!["203.0.113.10/32".into()],
                    tags: vec![],
                },
                Rule {
                    protocol: "tcp".into(),
                    ports: "443".into(),
                    addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
                    tags: vec![],
                },
            ],
            outbound: vec![Rule {
                protocol: "tcp".into(),
                ports: "all".into(),
                addresses: vec!["0.0.0.0/0".into()],
                tags: vec![],
            }],
            tags: vec!["a".into(), "b".into()],
        });
        assert_eq!(got, desired);
        // And what we send reads back the same.
        let mut sent = firewall_body(&desired);
        sent["id"] = json!("fw-1");
        assert_eq!(
            normalize_firewall(&sent).expect("normalize").firewall,
            desired
        );
    }

    #[test]
    fn droplet_normalization_reads_computed_fields_away() {
        let live = json!({
            "id": 7, "name": "acme-staging", "status": "active", "size_slug": "s-2vcpu-4gb",
            "size": {"slug": "s-2vcpu-4gb"}, "region": {"slug": "fra1"}, "image": {"slug": "ubuntu-24-04-x64", "id": 1},
            "tags": ["odooops:env:staging", "odooops:project:acme", "odooops:env:staging"],
            "features": ["monitoring", "private_networking"],
            "networks": {"v4": [{"ip_address": "10.0.0.2", "type": "private"}, {"ip_address": "203.0.113.7", "type": "public"}]}
        });
        let d = normalize_droplet(&live).expect("normalize");
        assert_eq!(d.ipv4.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            d.droplet.tags,
            vec!["odooops:env:staging", "odooops:project:acme"]
        );
        assert!(d.droplet.monitoring && !d.droplet.backups);
    }
}
