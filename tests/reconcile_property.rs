//! A property of the reconciler, checked over seeded random sequences of out-of-band
//! changes against the strict simulator: after every change (a droplet deleted or resized,
//! a DNS record edited or deleted, a firewall's rules edited or the firewall deleted) the
//! controller's plan-and-apply converges — the next plan is empty — with exactly one
//! droplet, one firewall and one A record per environment, the record pointing at its
//! droplet, and the provider never asked to create a droplet that was not missing.

use odooops::provider::http::Metrics;
use odooops::reconcile::engine::{Context, Engine};
use odooops::sim::{self, faults::FaultConfig};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::Store;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

const ENVS: [(&str, &str, &str); 2] = [
    ("production", "quickstart-production", "erp"),
    ("staging", "quickstart-staging", "staging"),
];

fn quickstart() -> Ssot {
    ssot::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        &Limits::default(),
    )
    .into_ssot()
    .expect("valid")
}

/// One out-of-band change, chosen by `rng`; returns what it did, and whether it deleted a
/// droplet.
fn disturb(sim: &sim::Running, rng: &mut fastrand::Rng) -> (String, bool) {
    let mut st = sim::lock(&sim.state.digitalocean);
    st.settle();
    let (env, droplet, record) = ENVS[rng.usize(..ENVS.len())];
    let droplet_id = st
        .droplets
        .iter()
        .find(|(_, d)| d["name"] == droplet)
        .map(|(id, _)| id.to_string())
        .expect("droplet");
    let record_id = st
        .records
        .get("quickstart.example")
        .and_then(|r| {
            r.iter()
                .find(|(_, r)| r["type"] == "A" && r["name"] == record)
        })
        .map(|(id, _)| id.to_string())
        .expect("record");
    let firewall_id = st
        .firewalls
        .iter()
        .find(|(_, f)| f["name"] == format!("odooops-quickstart-{env}"))
        .map(|(id, _)| id.clone())
        .expect("firewall");
    let sizes = ["s-1vcpu-1gb", "s-2vcpu-2gb", "s-4vcpu-8gb"];
    let (what, deleted) = match rng.u8(..6) {
        0 => {
            st.mutate("droplet", &droplet_id, &Value::Null, true)
                .expect("delete");
            (format!("deleted droplet {droplet}"), true)
        }
        1 => {
            let size = sizes[rng.usize(..sizes.len())];
            st.mutate("droplet", &droplet_id, &json!({"size_slug": size}), false)
                .expect("resize");
            (format!("resized {droplet} to {size}"), false)
        }
        2 => {
            let ip = format!("198.51.100.{}", rng.u8(1..250));
            st.mutate("record", &record_id, &json!({"data": ip}), false)
                .expect("edit");
            (format!("pointed {record} at {ip}"), false)
        }
        3 => {
            st.mutate("record", &record_id, &Value::Null, true)
                .expect("delete");
            (format!("deleted record {record}"), false)
        }
        4 => {
            st.mutate(
                "firewall",
                &firewall_id,
                &json!({"inbound_rules": [{"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}]}),
                false,
            )
            .expect("edit");
            (format!("opened ssh to the world on {env}"), false)
        }
        _ => {
            st.mutate("firewall", &firewall_id, &Value::Null, true)
                .expect("delete");
            (format!("deleted firewall of {env}"), false)
        }
    };
    (what, deleted)
}

fn check(sim: &sim::Running, expected_creates: u64, step: &str) {
    let mut st = sim::lock(&sim.state.digitalocean);
    st.tick();
    for (env, droplet, record) in ENVS {
        let ds: Vec<&Value> = st
            .droplets
            .values()
            .filter(|d| d["name"] == droplet)
            .collect();
        assert_eq!(ds.len(), 1, "{step}: one droplet {droplet}");
        let fws = st
            .firewalls
            .values()
            .filter(|f| f["name"] == format!("odooops-quickstart-{env}"))
            .count();
        assert_eq!(fws, 1, "{step}: one firewall for {env}");
        let recs: Vec<&Value> = st
            .records
            .get("quickstart.example")
            .map(|r| {
                r.values()
                    .filter(|r| r["type"] == "A" && r["name"] == record)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(recs.len(), 1, "{step}: one A record {record}");
        let ip = ds[0]["networks"]["v4"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["type"] == "public"))
            .map(|n| n["ip_address"].clone());
        assert_eq!(
            Some(recs[0]["data"].clone()),
            ip,
            "{step}: {record} points at {droplet}"
        );
    }
    assert_eq!(
        st.droplets_created, expected_creates,
        "{step}: a droplet is created only when one is missing"
    );
}

#[tokio::test]
async fn random_out_of_band_changes_always_converge_without_duplicates() {
    let ssot = quickstart();
    for seed in [7_u64, 2026, 31337] {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(None, dir.path()).await.expect("store");
        let e = Engine::connect(
            &ssot,
            store.clone(),
            Some(&sim.url()),
            Arc::new(Metrics::default()),
        )
        .expect("engine");
        let ctx = Context::default();
        let converge = |step: String| {
            let (e, ssot, ctx) = (&e, &ssot, &ctx);
            async move {
                for _ in 0..3 {
                    let p = e.plan(ssot, ctx).await.expect("plan");
                    if !p.plan.has_changes() {
                        assert!(p.plan.refused.is_empty(), "{step}: {}", p.text);
                        return;
                    }
                    e.apply(ssot, p.plan_id, ctx)
                        .await
                        .unwrap_or_else(|err| panic!("{step}: {err}\n{}", p.text));
                }
                panic!("{step}: no convergence in three applies");
            }
        };
        converge(format!("seed {seed}: first rollout")).await;
        let mut creates = 2;
        check(&sim, creates, "first rollout");
        let mut rng = fastrand::Rng::with_seed(seed);
        for n in 1..=8 {
            let (what, deleted_droplet) = disturb(&sim, &mut rng);
            let step = format!("seed {seed}, step {n}: {what}");
            creates += u64::from(deleted_droplet);
            converge(step.clone()).await;
            check(&sim, creates, &step);
        }
        store.close().await;
    }
}
