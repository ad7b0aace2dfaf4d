//! Reconciler correctness against the strict simulator over real loopback HTTP: every fault
//! heals every time, failures and refusals hold only their own environment, replaces never
//! adopt what they destroy, a database is never replaced by an empty one, foreign objects
//! are never adopted, recorded objects are pruned, and nothing is created that the plan did
//! not show.

mod common;

use common::Backend;
use odooops::provider::http::Metrics;
use odooops::reconcile::engine::{Context, Engine, EngineError};
use odooops::sim;
use odooops::sim::faults::FaultConfig;
use odooops::ssot::{self, Limits, Ssot};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// The quickstart tree, each file passed through `edit(file name, text)`, in a temporary
/// directory.
fn variant(edit: impl Fn(&str, String) -> String) -> (tempfile::TempDir, Ssot) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for f in std::fs::read_dir(&src).expect("quickstart") {
        let f = f.expect("entry");
        let name = f.file_name().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f.path()).expect("read");
        std::fs::write(dir.path().join(&name), edit(&name, text)).expect("write");
    }
    let ssot = ssot::load(dir.path(), &Limits::default())
        .into_ssot()
        .expect("valid variant");
    (dir, ssot)
}

fn quickstart() -> Ssot {
    variant(|_, t| t).1
}

/// Replace `from` with `to` in environments.yaml, within the document of `env`.
fn in_env(env: &str, from: &str, to: &str) -> impl Fn(&str, String) -> String {
    let (env, from, to) = (env.to_string(), from.to_string(), to.to_string());
    move |file, text| {
        if file != "environments.yaml" {
            return text;
        }
        text.split("\n---\n")
            .map(|doc| {
                if doc.contains(&format!("name: {env}\n")) {
                    doc.replacen(&from, &to, 1)
                } else {
                    doc.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

async fn engine(sim: &sim::Running, b: &Backend, ssot: &Ssot) -> Engine {
    Engine::connect(
        ssot,
        b.store.clone(),
        Some(&sim.url()),
        Arc::new(Metrics::default()),
    )
    .expect("engine")
}

/// Plan and apply until a plan has nothing to do; returns the number of applies.
async fn converge(e: &Engine, ssot: &Ssot) -> usize {
    let ctx = Context::default();
    for round in 0..4 {
        let p = e.plan(ssot, &ctx).await.expect("plan");
        if !p.plan.has_changes() {
            return round;
        }
        e.apply(ssot, p.plan_id, &ctx).await.expect("apply");
    }
    panic!("no convergence in 4 rounds");
}

fn droplets(sim: &sim::Running) -> Vec<Value> {
    let mut st = sim::lock(&sim.state.digitalocean);
    st.tick();
    st.droplets.values().cloned().collect()
}

fn droplet(sim: &sim::Running, name: &str) -> Value {
    let all: Vec<Value> = droplets(sim)
        .into_iter()
        .filter(|d| d["name"] == name)
        .collect();
    assert_eq!(all.len(), 1, "exactly one droplet {name}: {all:?}");
    all[0].clone()
}

fn public_ip(d: &Value) -> Value {
    d["networks"]["v4"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["type"] == "public"))
        .map(|n| n["ip_address"].clone())
        .unwrap_or(Value::Null)
}

/// The A records named `name` in the quickstart zone.
fn a_records(sim: &sim::Running, name: &str) -> Vec<Value> {
    sim::lock(&sim.state.digitalocean)
        .records
        .get("quickstart.example")
        .map(|r| {
            r.values()
                .filter(|r| r["type"] == "A" && r["name"] == name)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn mutate(sim: &sim::Running, kind: &str, id: &str, set: Value, delete: bool) {
    sim::lock(&sim.state.digitalocean)
        .mutate(kind, id, &set, delete)
        .expect("out-of-band change");
}

async fn start() -> sim::Running {
    sim::start("127.0.0.1:0", FaultConfig::default())
        .await
        .expect("sim")
}

#[tokio::test]
async fn a_droplet_deleted_out_of_band_three_times_is_recreated_three_times() {
    for b in common::backends().await {
        let sim = start().await;
        let ssot = quickstart();
        let e = engine(&sim, &b, &ssot).await;
        converge(&e, &ssot).await;
        let mut keys = Vec::new();
        for round in 1..=3 {
            let old = droplet(&sim, "quickstart-staging");
            mutate(&sim, "droplet", &old["id"].to_string(), json!({}), true);
            let p = e.plan(&ssot, &Context::default()).await.expect("plan");
            let create = p
                .plan
                .actions
                .iter()
                .find(|a| a.diff.key.to_string() == "staging/droplet/quickstart-staging")
                .expect("the deleted droplet is planned again");
            keys.push(create.dedupe_key.clone());
            e.apply(&ssot, p.plan_id, &Context::default())
                .await
                .unwrap_or_else(|err| panic!("[{}] round {round}: {err}", b.name));
            let new = droplet(&sim, "quickstart-staging");
            assert_ne!(new["id"], old["id"], "[{}] round {round}", b.name);
            // The DNS record follows the new droplet's address.
            let recs = a_records(&sim, "staging");
            assert_eq!(recs.len(), 1);
            assert_eq!(
                recs[0]["data"],
                public_ip(&new),
                "[{}] round {round}",
                b.name
            );
            assert_eq!(converge(&e, &ssot).await, 0, "converged in one apply");
        }
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 3, "a new generation each time: {keys:?}");
        assert_eq!(sim::lock(&sim.state.digitalocean).droplets_created, 5);
        b.finish().await;
    }
}

#[tokio::test]
async fn the_same_drift_three_times_is_corrected_three_times() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    converge(&e, &ssot).await;
    for round in 1..=3 {
        let id = droplet(&sim, "quickstart-staging")["id"].to_string();
        mutate(
            &sim,
            "droplet",
            &id,
            json!({"size_slug": "s-8vcpu-16gb"}),
            false,
        );
        assert_eq!(converge(&e, &ssot).await, 1, "round {round}");
        assert_eq!(
            droplet(&sim, "quickstart-staging")["size_slug"],
            "s-1vcpu-2gb",
            "round {round}: corrected"
        );
    }
    b.finish().await;
}

#[tokio::test]
async fn a_refused_production_replace_holds_only_production() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    converge(&e, &ssot).await;
    let prod_before = droplet(&sim, "quickstart-production");
    // Turning the monitoring agent off needs a replace; production refuses it without the
    // flag. Meanwhile staging drifted: it is healed in the same cycle.
    let (_dir, changed) = variant(in_env(
        "production",
        "size: s-2vcpu-4gb",
        "size: s-2vcpu-4gb\n    monitoring: false",
    ));
    let id = droplet(&sim, "quickstart-staging")["id"].to_string();
    mutate(
        &sim,
        "droplet",
        &id,
        json!({"size_slug": "s-8vcpu-16gb"}),
        false,
    );
    let p = e.plan(&changed, &Context::default()).await.expect("plan");
    assert_eq!(p.plan.refused.len(), 1, "{}", p.text);
    assert_eq!(p.plan.refused[0].env, "production");
    assert_eq!(p.plan.refused[0].kind, "production_destroy");
    assert!(p.text.contains("production is held"), "{}", p.text);
    let applied = e
        .apply(&changed, p.plan_id, &Context::default())
        .await
        .expect("staging applies");
    assert_eq!(applied.succeeded, 1);
    assert_eq!(
        droplet(&sim, "quickstart-staging")["size_slug"],
        "s-1vcpu-2gb"
    );
    assert_eq!(
        droplet(&sim, "quickstart-production")["id"],
        prod_before["id"]
    );
    // The refusal is evidence: an event and a notice row waiting for its resolution.
    let events = b
        .store
        .events(&odooops::store::EventFilter {
            environment: Some("production".into()),
            ..Default::default()
        })
        .await
        .expect("events");
    assert!(
        events.iter().any(|e| e.message.contains("production held")),
        "{events:?}"
    );
    b.finish().await;
}

#[tokio::test]
async fn a_replace_waits_for_the_old_droplet_and_never_adopts_it() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    converge(&e, &ssot).await;
    let old = droplet(&sim, "quickstart-staging");
    let (_dir, changed) = variant(in_env(
        "staging",
        "size: s-1vcpu-2gb",
        "size: s-1vcpu-2gb\n    monitoring: false",
    ));
    let p = e.plan(&changed, &Context::default()).await.expect("plan");
    let replace = p
        .plan
        .actions
        .iter()
        .find(|a| a.diff.key.name == "quickstart-staging")
        .expect("replace planned");
    assert_eq!(replace.op, odooops::reconcile::plan::Op::Replace);
    e.apply(&changed, p.plan_id, &Context::default())
        .await
        .expect("apply");
    let new = droplet(&sim, "quickstart-staging");
    assert_ne!(
        new["id"], old["id"],
        "a new droplet, not the old one adopted"
    );
    assert!(
        !new["features"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "monitoring")),
        "{new}"
    );
    assert_eq!(sim::lock(&sim.state.digitalocean).droplets_created, 3);
    assert_eq!(a_records(&sim, "staging")[0]["data"], public_ip(&new));
    assert_eq!(converge(&e, &changed).await, 0);
    b.finish().await;
}

#[tokio::test]
async fn a_database_is_never_replaced_by_an_empty_one() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    converge(&e, &ssot).await;
    // The SSOT moves staging's database to a new cluster.
    let (_dir, moved) = variant(|file, text| {
        let text = in_env(
            "staging",
            "cluster: quickstart-pg",
            "cluster: quickstart-pg2",
        )(file, text);
        if file == "policies.yaml" {
            format!("{text}---\napiVersion: odooops.dev/v1alpha1\nkind: DatabaseCluster\nmetadata:\n  name: quickstart-pg2\nspec:\n  project: quickstart\n  size: db-s-1vcpu-1gb\n")
        } else {
            text
        }
    });
    let p = e.plan(&moved, &Context::default()).await.expect("plan");
    let refusal = p
        .plan
        .refused
        .iter()
        .find(|r| r.resource == "staging/database/quickstart_staging")
        .unwrap_or_else(|| panic!("refused: {}", p.text));
    assert_eq!(refusal.kind, "data_loss");
    assert!(
        refusal.reason.contains("never replaced by an empty one"),
        "{}",
        refusal.reason
    );
    assert!(
        p.plan.actions.iter().all(|a| a.diff.key.env != "staging"),
        "staging is held: {}",
        p.text
    );
    let _ = e.apply(&moved, p.plan_id, &Context::default()).await;
    {
        let st = sim::lock(&sim.state.digitalocean);
        let old = st
            .clusters
            .values()
            .find(|c| c["name"] == "quickstart-pg")
            .expect("cluster");
        assert!(old["db_names"]
            .as_array()
            .is_some_and(|d| d.iter().any(|n| n == "quickstart_staging")));
        assert!(
            st.clusters
                .values()
                .filter(|c| c["name"] == "quickstart-pg2")
                .all(|c| !c["db_names"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|n| n == "quickstart_staging"))),
            "no empty copy in the new cluster"
        );
    }
    let drift = b
        .store
        .open_drift(Some("staging"), 10)
        .await
        .expect("drift");
    assert!(
        drift
            .iter()
            .any(|f| f.resource_name == "quickstart_staging" && f.field_path == "/cluster"),
        "{drift:?}"
    );
    b.finish().await;
}

#[tokio::test]
async fn a_same_named_foreign_record_is_a_conflict_never_adopted() {
    for b in common::backends().await {
        let sim = start().await;
        let ssot = quickstart();
        let e = engine(&sim, &b, &ssot).await;
        // Someone made the zone and a `staging` A record by hand.
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/digitalocean/v2/domains", sim.url()))
            .bearer_auth("test-token-by-hand")
            .json(&json!({"name": "quickstart.example"}))
            .send()
            .await
            .expect("zone");
        assert_eq!(r.status(), 201);
        let foreign = sim::lock(&sim.state.digitalocean)
            .create_foreign("record", &json!({"zone": "quickstart.example", "type": "A", "name": "staging", "data": "198.51.100.9"}))
            .expect("foreign record");
        let p = e.plan(&ssot, &Context::default()).await.expect("plan");
        let conflict = p
            .plan
            .refused
            .iter()
            .find(|r| r.kind == "conflict")
            .unwrap_or_else(|| panic!("[{}] no conflict: {}", b.name, p.text));
        assert_eq!(conflict.env, "staging");
        assert!(conflict.reason.contains("exists"), "{}", conflict.reason);
        assert!(p.plan.actions.iter().all(|a| a.diff.key.env != "staging"));
        assert!(p
            .plan
            .actions
            .iter()
            .any(|a| a.diff.key.env == "production"));
        e.apply(&ssot, p.plan_id, &Context::default())
            .await
            .expect("production applies");
        // The foreign record is untouched, and recorded as a finding.
        let recs = a_records(&sim, "staging");
        assert_eq!(recs, vec![foreign.clone()]);
        let drift = b
            .store
            .open_drift(Some("staging"), 10)
            .await
            .expect("drift");
        assert!(
            drift.iter().any(|f| f.field_path == "/"),
            "[{}] {drift:?}",
            b.name
        );
        // Removed by hand: staging converges, its own record created and recorded.
        mutate(&sim, "record", &foreign["id"].to_string(), json!({}), true);
        converge(&e, &ssot).await;
        let recs = a_records(&sim, "staging");
        assert_eq!(recs.len(), 1);
        assert_ne!(recs[0]["id"], foreign["id"]);
        assert_eq!(
            recs[0]["data"],
            public_ip(&droplet(&sim, "quickstart-staging"))
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn a_record_whose_domain_left_the_ssot_is_pruned_only_with_prune() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    converge(&e, &ssot).await;
    assert_eq!(a_records(&sim, "staging").len(), 1);
    let no_domain = |prune: bool| {
        move |file: &str, text: String| {
            in_env(
                "staging",
                "  domain:\n    zone: quickstart.example\n    record: staging\n",
                if prune {
                    "  reconcile:\n    prune: true\n"
                } else {
                    ""
                },
            )(file, text)
        }
    };
    let (_d1, held) = variant(no_domain(false));
    let p = e.plan(&held, &Context::default()).await.expect("plan");
    assert!(!p.plan.has_changes(), "{}", p.text);
    assert!(
        p.text
            .contains("staging/dns_record/staging.quickstart.example"),
        "{}",
        p.text
    );
    let (_d2, pruned) = variant(no_domain(true));
    let p = e.plan(&pruned, &Context::default()).await.expect("plan");
    assert_eq!(p.plan.summary.delete, 1, "{}", p.text);
    e.apply(&pruned, p.plan_id, &Context::default())
        .await
        .expect("apply");
    assert!(a_records(&sim, "staging").is_empty());
    assert_eq!(a_records(&sim, "erp").len(), 1, "production's record stays");
    assert_eq!(converge(&e, &pruned).await, 0);
    b.finish().await;
}

#[tokio::test]
async fn nothing_is_created_that_the_plan_did_not_show() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    let p = e.plan(&ssot, &Context::default()).await.expect("plan");
    let planned = |kind: &str| {
        p.plan
            .actions
            .iter()
            .filter(|a| a.diff.key.kind.as_str() == kind)
            .count()
    };
    e.apply(&ssot, p.plan_id, &Context::default())
        .await
        .expect("apply");
    {
        let st = sim::lock(&sim.state.digitalocean);
        assert_eq!(st.clusters.len(), planned("database_cluster"));
        let cluster = st.clusters.values().next().expect("cluster");
        // Created from its DatabaseCluster spec: size and version from the SSOT, region from
        // the project's default.
        assert_eq!(
            (
                &cluster["size"],
                &cluster["version"],
                &cluster["region"],
                &cluster["status"]
            ),
            (
                &json!("db-s-1vcpu-1gb"),
                &json!("16"),
                &json!("fra1"),
                &json!("online")
            )
        );
        assert_eq!(
            cluster["db_names"].as_array().map(|d| d.len() - 1),
            Some(planned("database"))
        );
        assert_eq!(
            cluster["users"].as_array().map(|u| u.len() - 1),
            Some(planned("database_user"))
        );
        assert_eq!(st.droplets.len(), planned("droplet"));
        assert_eq!(st.firewalls.len(), planned("firewall"));
        let a_records: usize = st
            .records
            .values()
            .flat_map(|r| r.values())
            .filter(|r| r["type"] == "A")
            .count();
        assert_eq!(a_records, planned("dns_record"));
    }
    b.finish().await;
}

#[tokio::test]
async fn a_controller_that_lost_leadership_acts_no_more() {
    let b = common::sqlite().await;
    let sim = start().await;
    let ssot = quickstart();
    let e = engine(&sim, &b, &ssot).await;
    let p = e.plan(&ssot, &Context::default()).await.expect("plan");
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ctx = Context {
        leadership: Some(lost),
        ..Context::default()
    };
    let err = e
        .apply(&ssot, p.plan_id, &ctx)
        .await
        .expect_err("no leader");
    assert!(matches!(err, EngineError::LeadershipLost { .. }), "{err}");
    assert!(droplets(&sim).is_empty());
    assert!(sim::lock(&sim.state.digitalocean).clusters.is_empty());
    b.finish().await;
}

#[tokio::test]
async fn a_database_user_shared_by_environments_is_created_once_and_kept() {
    let b = common::sqlite().await;
    let sim = start().await;
    // Staging connects as production's user, in the same cluster.
    let (_dir, shared) = variant(in_env("staging", "user: odoo_staging", "user: odoo"));
    let e = engine(&sim, &b, &shared).await;
    assert_eq!(converge(&e, &shared).await, 1, "one apply converges");
    let users = |sim: &sim::Running| -> Vec<Value> {
        let st = sim::lock(&sim.state.digitalocean);
        st.clusters
            .values()
            .next()
            .and_then(|c| c["users"].as_array().cloned())
            .unwrap_or_default()
    };
    assert_eq!(
        users(&sim).iter().filter(|u| u["name"] == "odoo").count(),
        1
    );
    // Staging prunes and no longer wants a user: production's is not deleted.
    let (_d2, pruned) = variant(|file, text| {
        let text = in_env("staging", "    user: odoo_staging\n", "")(file, text);
        in_env(
            "staging",
            "  stagingSource:",
            "  reconcile:\n    prune: true\n  stagingSource:",
        )(file, text)
    });
    let p = e.plan(&pruned, &Context::default()).await.expect("plan");
    assert!(
        p.plan
            .actions
            .iter()
            .all(|a| a.diff.key.kind.as_str() != "database_user"),
        "a user production still uses is never deleted: {}",
        p.text
    );
    converge(&e, &pruned).await;
    assert_eq!(
        users(&sim).iter().filter(|u| u["name"] == "odoo").count(),
        1,
        "still there for production"
    );
    b.finish().await;
}
