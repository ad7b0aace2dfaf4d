//! The DigitalOcean adapter against the simulator, over real loopback HTTP.

use odooops::provider::digitalocean::{
    ClusterSpec, DigitalOcean, Droplet, DropletCreate, Firewall, Poll, Record, Rule,
};
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper, Request};
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn token() -> String {
    format!("test-token-{}", "do-canary-7f3a")
}

async fn setup(faults: &str) -> (sim::Running, DigitalOcean, Arc<RecordingSleeper>) {
    let cfg = FaultConfig::parse(faults).expect("faults");
    let running = sim::start("127.0.0.1:0", cfg).await.expect("sim");
    let mut cc = ClientConfig::new(
        Provider::Digitalocean,
        &running.provider_url(Provider::Digitalocean),
        Auth::Bearer(SecretValue::new(token())),
    );
    cc.timeout = Duration::from_millis(800);
    let sleeper = Arc::new(RecordingSleeper::default());
    let http = HttpClient::with_sleeper(cc, Arc::new(Metrics::default()), sleeper.clone())
        .expect("client");
    (
        running,
        DigitalOcean::new(http).with_poll(Poll::quick()),
        sleeper,
    )
}

fn droplet(name: &str, env: &str) -> DropletCreate {
    DropletCreate {
        droplet: Droplet {
            name: name.into(),
            region: "fra1".into(),
            size: "s-2vcpu-4gb".into(),
            image: "ubuntu-24-04-x64".into(),
            tags: vec![
                "odooops:managed".into(),
                format!("odooops:env:{env}"),
                "odooops:project:acme".into(),
            ],
            monitoring: true,
            backups: false,
            ipv6: false,
        }
        .canonical(),
        user_data: "#cloud-config\n".into(),
        ssh_keys: vec![],
    }
}

#[tokio::test]
async fn droplets_round_trip_and_creates_are_idempotent() {
    let (sim, d, _) = setup("").await;
    let c = droplet("acme-staging", "staging");
    let (created, adopted) = d
        .create_droplet(&c, "odooops:env:staging", false, None)
        .await
        .expect("create");
    assert!(!adopted);
    assert_eq!(
        created.droplet, c.droplet,
        "what we read back normalizes to what we asked for"
    );
    // The create returned only once the droplet was up, with its address.
    assert_eq!(created.status, "active");
    assert!(created.ipv4.is_some(), "{created:?}");
    let (again, adopted) = d
        .create_droplet(&c, "odooops:env:staging", true, None)
        .await
        .expect("adopt");
    assert!(adopted);
    assert_eq!(
        again.id, created.id,
        "a second create adopts, never duplicates"
    );
    let seen = d
        .observe_droplets("odooops:env:staging")
        .await
        .expect("observe");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].droplet, c.droplet, "unchanged object: no diff");
    d.resize_droplet(created.id, "s-4vcpu-8gb")
        .await
        .expect("resize");
    let after = d.droplet(created.id).await.expect("get").expect("exists");
    assert_eq!(
        (after.droplet.size.as_str(), after.status.as_str()),
        ("s-4vcpu-8gb", "active"),
        "resized, and powered on again"
    );
    d.delete_droplet_and_wait(created.id).await.expect("delete");
    d.delete_droplet(created.id)
        .await
        .expect("deleting twice is fine");
    assert!(d
        .observe_droplets("odooops:env:staging")
        .await
        .expect("observe")
        .is_empty());
    assert!(sim.state.request_count("POST /digitalocean/v2/droplets") >= 1);
}

#[tokio::test]
async fn a_resize_powers_off_resizes_and_powers_on_each_step_awaited() {
    let (sim, d, _) = setup("").await;
    let (created, _) = d
        .create_droplet(&droplet("acme-dev", "dev"), "odooops:env:dev", false, None)
        .await
        .expect("create");
    // A running droplet cannot be resized directly (the real API answers 422).
    let direct = d
        .http()
        .json(Request::post(
            format!("/v2/droplets/{}/actions", created.id),
            json!({"type": "resize", "size": "s-4vcpu-8gb"}),
        ))
        .await
        .expect_err("refused while running");
    assert_eq!(direct.status, Some(422), "{direct}");
    d.resize_droplet(created.id, "s-4vcpu-8gb")
        .await
        .expect("resize");
    let kinds: Vec<String> = sim::lock(&sim.state.digitalocean)
        .actions
        .values()
        .filter(|a| a["resource_id"] == created.id)
        .map(|a| {
            format!(
                "{}:{}",
                a["type"].as_str().unwrap_or(""),
                a["status"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "create:completed",
            "power_off:completed",
            "resize:completed",
            "power_on:completed"
        ]
    );
    // While an action runs the droplet is locked: a second action waits its turn.
    let first = d
        .http()
        .json(Request::post(
            format!("/v2/droplets/{}/actions", created.id),
            json!({"type": "enable_backups"}),
        ))
        .await
        .expect("started");
    assert_eq!(first["action"]["status"], "in-progress");
    let refused = d
        .http()
        .json(Request::post(
            format!("/v2/droplets/{}/actions", created.id),
            json!({"type": "enable_ipv6"}),
        ))
        .await
        .expect_err("locked");
    assert_eq!(refused.status, Some(422));
    assert!(refused.error.contains("pending event"), "{refused}");
    // The adapter retries a locked droplet until the earlier action completes.
    d.enable_ipv6(created.id)
        .await
        .expect("retried until unlocked");
    let now = d.droplet(created.id).await.expect("get").expect("exists");
    assert!(now.droplet.backups && now.droplet.ipv6);
}

#[tokio::test]
async fn observation_pages_through_every_droplet() {
    let (sim, d, _) = setup("").await;
    for batch in 0..3 {
        let names: Vec<String> = (0..150).map(|i| format!("bulk-{batch}-{i}")).collect();
        d.http()
            .json(Request::post("/v2/droplets", json!({"names": names, "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64", "region": "fra1", "tags": ["bulk"]})))
            .await
            .expect("bulk create");
    }
    let before = sim.state.request_count("GET /digitalocean/v2/droplets");
    let all = d.observe_droplets("bulk").await.expect("observe");
    assert_eq!(all.len(), 450);
    let pages = sim.state.request_count("GET /digitalocean/v2/droplets") - before;
    assert_eq!(pages, 3, "ceil(450 / 200) pages");
}

#[tokio::test]
async fn retries_honour_retry_after_on_429_and_recover_from_5xx() {
    let (sim, d, sleeper) =
        setup("route=/digitalocean/v2/droplets,count=2,kinds=429;retry_after=3").await;
    let seen = d
        .observe_droplets("none")
        .await
        .expect("observe after two 429s");
    assert!(seen.is_empty());
    assert_eq!(
        sleeper.recorded(),
        vec![Duration::from_secs(3), Duration::from_secs(3)]
    );
    assert_eq!(sim.state.request_count("GET /digitalocean/v2/droplets"), 3);
    let metrics = d.http().metrics().snapshot();
    assert_eq!(
        metrics.get(&(Provider::Digitalocean, "429".to_string())),
        Some(&2)
    );

    let (_sim, d, sleeper) = setup("route=/digitalocean/v2/firewalls,count=3,kinds=500|503").await;
    assert!(d
        .observe_firewalls("odooops-")
        .await
        .expect("observe")
        .is_empty());
    assert_eq!(sleeper.recorded().len(), 3, "three backoffs");
}

#[tokio::test]
async fn five_attempts_at_most() {
    let (sim, d, sleeper) = setup("route=/digitalocean/v2/droplets,count=100,kinds=503").await;
    let err = d.observe_droplets("x").await.expect_err("always failing");
    assert_eq!(
        (err.code.as_str(), err.status, err.retryable),
        ("service_unavailable", Some(503), true)
    );
    assert_eq!(sim.state.request_count("GET /digitalocean/v2/droplets"), 5);
    assert_eq!(sleeper.recorded().len(), 4);
}

#[tokio::test]
async fn a_non_idempotent_request_without_a_key_is_not_retried() {
    let (sim, d, _) = setup("route=/digitalocean/v2/domains,count=1,kinds=503").await;
    let err = d
        .http()
        .send(Request::post("/v2/domains", json!({"name": "example.com"})))
        .await
        .expect_err("503");
    assert_eq!(err.status, Some(503));
    assert_eq!(
        sim.state.request_count("POST /digitalocean/v2/domains"),
        1,
        "sent once"
    );
    // With a key it is retried.
    let (sim, d, _) = setup("route=/digitalocean/v2/domains,count=1,kinds=503").await;
    d.http()
        .send(Request::post("/v2/domains", json!({"name": "example.com"})).idempotency_key("k1"))
        .await
        .expect("retried");
    assert_eq!(sim.state.request_count("POST /digitalocean/v2/domains"), 2);
}

#[tokio::test]
async fn errors_come_back_as_the_typed_envelope() {
    let (_sim, d, _) = setup("").await;
    let err = d
        .http()
        .json(Request::get("/v2/droplets/424242"))
        .await
        .expect_err("404");
    let v = serde_json::to_value(&err).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["code"], "not_found");
    assert_eq!(v["provider"], "digitalocean");
    assert_eq!(v["retryable"], false);
    assert!(v["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    // Missing auth is refused like the real API.
    let running = sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim");
    let anon = HttpClient::new(
        ClientConfig::new(
            Provider::Digitalocean,
            &running.provider_url(Provider::Digitalocean),
            Auth::None,
        ),
        Arc::new(Metrics::default()),
    )
    .expect("client");
    let err = anon
        .json(Request::get("/v2/account"))
        .await
        .expect_err("401");
    assert_eq!((err.code.as_str(), err.status), ("unauthorized", Some(401)));
}

#[tokio::test]
async fn malformed_and_truncated_answers_are_retried() {
    let (_sim, d, sleeper) =
        setup("route=/digitalocean/v2/droplets,count=2,kinds=malformed|truncate").await;
    assert!(d
        .observe_droplets("x")
        .await
        .expect("third answer is good")
        .is_empty());
    assert_eq!(sleeper.recorded().len(), 2);
}

#[tokio::test]
async fn firewalls_records_and_databases() {
    let (s, d, _) = setup("").await;
    let fw = Firewall {
        name: "odooops-acme-staging".into(),
        inbound: vec![
            Rule {
                protocol: "tcp".into(),
                ports: "443".into(),
                addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
                tags: vec![],
            },
            Rule {
                protocol: "tcp".into(),
                ports: "22".into(),
                addresses: vec!["203.0.113.10/32".into()],
                tags: vec![],
            },
        ],
        outbound: vec![Rule {
            protocol: "tcp".into(),
            ports: "443".into(),
            addresses: vec!["0.0.0.0/0".into()],
            tags: vec![],
        }],
        tags: vec!["odooops:env:staging".into()],
    };
    let fw = odooops::provider::digitalocean::canonical_firewall(fw);
    let (live, adopted) = d.create_firewall(&fw, true).await.expect("create");
    assert_eq!(live.firewall, fw);
    assert!(!adopted);
    // A retried create (an earlier attempt is on record) looks first and adopts.
    let (again, adopted) = d.create_firewall(&fw, false).await.expect("adopt");
    assert_eq!((again.id.as_str(), adopted), (live.id.as_str(), true));
    let mut changed = fw.clone();
    changed.inbound.retain(|r| r.ports != "22");
    let updated = d.update_firewall(&live.id, &changed).await.expect("update");
    assert_eq!(updated.firewall, changed);
    assert_eq!(
        d.observe_firewalls("odooops-acme").await.expect("observe")[0].firewall,
        changed
    );

    d.ensure_domain("acme.example").await.expect("zone");
    d.ensure_domain("acme.example").await.expect("zone twice");
    let rec = Record {
        kind: "A".into(),
        name: "staging".into(),
        data: "203.0.113.7".into(),
        ttl: 1800,
    };
    let (live_rec, adopted) = d
        .create_record("acme.example", &rec, false)
        .await
        .expect("record");
    assert_eq!((&live_rec.record, adopted), (&rec, false));
    // Creating it again adopts it, found with the API's type + fully-qualified name filter
    // (one request, not a listing of the zone).
    let lists = |s: &sim::Running| {
        s.state
            .request_count("GET /digitalocean/v2/domains/acme.example/records")
    };
    let before = lists(&s);
    let (again, adopted) = d
        .create_record("acme.example", &rec, true)
        .await
        .expect("adopt");
    assert_eq!((again.id, adopted), (live_rec.id, true));
    assert_eq!(lists(&s) - before, 1);
    let other = Record {
        name: "other".into(),
        ..rec.clone()
    };
    assert_eq!(
        d.find_record("acme.example", &other).await.expect("find"),
        None
    );
    let moved = Record {
        data: "203.0.113.8".into(),
        ..rec.clone()
    };
    assert_eq!(
        d.update_record("acme.example", live_rec.id, &moved)
            .await
            .expect("update")
            .record,
        moved
    );

    let spec = ClusterSpec {
        name: "acme-pg".into(),
        engine: "pg".into(),
        version: "16".into(),
        region: "fra1".into(),
        size: "db-s-1vcpu-1gb".into(),
        nodes: 1,
    };
    let (cluster, adopted) = d
        .create_cluster(&spec, &["odooops:managed".into()], false)
        .await
        .expect("cluster");
    assert!(!adopted);
    assert_eq!(
        (cluster.status.as_str(), &cluster.spec),
        ("online", &spec),
        "the create returns once the cluster is online"
    );
    assert!(!d
        .create_database(&cluster.id, "acme_staging", false)
        .await
        .expect("db"));
    // A database that exists is someone else's unless we are retrying our own create.
    let err = d
        .create_database(&cluster.id, "acme_staging", false)
        .await
        .expect_err("not ours");
    assert_eq!(err.status, Some(422));
    assert!(d
        .create_database(&cluster.id, "acme_staging", true)
        .await
        .expect("adopted on a retry"));
    d.create_user(&cluster.id, "odoo", false)
        .await
        .expect("user");
    let seen = d
        .observe_clusters(Some("odooops:managed"))
        .await
        .expect("observe");
    assert_eq!(seen[0].databases, vec!["acme_staging"]);
    assert_eq!(seen[0].users, vec!["odoo"]);
    let inv = d.inventory().await.expect("inventory");
    assert_eq!(inv["databases"].as_array().map(Vec::len), Some(1));
    assert!(
        inv["databases"][0].get("connection").is_none(),
        "no connection details (they carry the admin password) in the inventory"
    );
}
