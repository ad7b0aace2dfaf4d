//! Tests of the planner (pure).
use super::*;
use crate::reconcile::diff::{diff, Desired, Live, ObjectKey};
use serde_json::json;

fn run(
    diffs: Vec<ResourceDiff>,
    policies: &BTreeMap<String, EnvPolicy>,
    desired_count: usize,
    allow_destroy_production: bool,
    generations: &BTreeMap<String, u32>,
) -> Result<Plan, PlanError> {
    plan(
        diffs,
        PlanInput {
            revision: "rev",
            policies,
            desired_count,
            fingerprints: Fingerprints::default(),
            allow_destroy_production,
            generations,
        },
    )
}

fn key(kind: ObjectKind, env: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind,
        env: env.into(),
        name: name.into(),
    }
}
fn policies(prod_prune: bool, dev_detect: bool) -> BTreeMap<String, EnvPolicy> {
    BTreeMap::from([
        (
            "prod".into(),
            EnvPolicy {
                production: true,
                prune: prod_prune,
                detect_only: false,
            },
        ),
        (
            "stg".into(),
            EnvPolicy {
                production: false,
                prune: true,
                detect_only: false,
            },
        ),
        (
            "dev".into(),
            EnvPolicy {
                production: false,
                prune: true,
                detect_only: dev_detect,
            },
        ),
    ])
}

#[test]
fn creates_are_ordered_database_droplet_then_record_and_firewall() {
    let d = vec![
        Desired {
            key: key(ObjectKind::DnsRecord, "stg", "r"),
            value: json!({}),
        },
        Desired {
            key: key(ObjectKind::Firewall, "stg", "f"),
            value: json!({}),
        },
        Desired {
            key: key(ObjectKind::Droplet, "stg", "d"),
            value: json!({}),
        },
        Desired {
            key: key(ObjectKind::Database, "stg", "db"),
            value: json!({}),
        },
    ];
    let p = run(
        diff(&d, &[], &BTreeMap::new()),
        &policies(false, false),
        4,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    let kinds: Vec<ObjectKind> = p.actions.iter().map(|a| a.diff.key.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ObjectKind::Database,
            ObjectKind::Droplet,
            ObjectKind::DnsRecord,
            ObjectKind::Firewall
        ]
    );
    assert_eq!(p.actions[1].depends_on, vec![0]);
    assert_eq!(p.actions[2].depends_on, vec![0, 1]);
    assert_eq!(p.summary.create, 4);
    // Deterministic keys.
    let again = run(
        diff(&d, &[], &BTreeMap::new()),
        &policies(false, false),
        4,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    assert_eq!(
        p.actions.iter().map(|a| &a.dedupe_key).collect::<Vec<_>>(),
        again
            .actions
            .iter()
            .map(|a| &a.dedupe_key)
            .collect::<Vec<_>>()
    );
}

#[test]
fn prune_safety_and_the_production_guard() {
    let desired = vec![Desired {
        key: key(ObjectKind::Droplet, "stg", "keep"),
        value: json!({"a": 1}),
    }];
    let live = vec![
        Live {
            key: key(ObjectKind::Droplet, "stg", "keep"),
            id: "1".into(),
            value: json!({"a": 1}),
            owned: true,
        },
        Live {
            key: key(ObjectKind::Droplet, "stg", "owned-extra"),
            id: "2".into(),
            value: json!({}),
            owned: true,
        },
        Live {
            key: key(ObjectKind::Droplet, "stg", "foreign"),
            id: "3".into(),
            value: json!({}),
            owned: false,
        },
        Live {
            key: key(ObjectKind::Droplet, "prod", "old"),
            id: "4".into(),
            value: json!({}),
            owned: true,
        },
    ];
    let diffs = diff(&desired, &live, &BTreeMap::new());
    // prod does not prune: its extra is held; staging prunes only what it owns.
    let p = run(
        diffs.clone(),
        &policies(false, false),
        1,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    let deleted: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.op == Op::Delete)
        .map(|a| a.diff.key.name.as_str())
        .collect();
    assert_eq!(deleted, vec!["owned-extra"]);
    assert_eq!(p.summary.held, 2);
    // prod prunes: refused without the flag (production held, staging proceeds),
    // allowed with it.
    let p = run(
        diffs.clone(),
        &policies(true, false),
        1,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    assert_eq!(p.refused.len(), 1);
    assert_eq!(p.refused[0].kind, "production_destroy");
    assert_eq!(p.held_envs().into_iter().collect::<Vec<_>>(), vec!["prod"]);
    assert!(p.actions.iter().all(|a| a.diff.key.env == "stg"));
    let p = run(diffs, &policies(true, false), 1, true, &BTreeMap::new()).expect("plan");
    assert_eq!(p.summary.delete, 2);
}

#[test]
fn empty_desired_state_is_an_error() {
    let live = vec![Live {
        key: key(ObjectKind::Droplet, "stg", "x"),
        id: "1".into(),
        value: json!({}),
        owned: true,
    }];
    assert_eq!(
        run(
            diff(&[], &live, &BTreeMap::new()),
            &policies(false, false),
            0,
            false,
            &BTreeMap::new()
        ),
        Err(PlanError::EmptyDesired)
    );
}

#[test]
fn detect_only_environments_plan_nothing() {
    let desired = vec![Desired {
        key: key(ObjectKind::Droplet, "dev", "d"),
        value: json!({"size": "b"}),
    }];
    let live = vec![Live {
        key: key(ObjectKind::Droplet, "dev", "d"),
        id: "1".into(),
        value: json!({"size": "a"}),
        owned: true,
    }];
    let p = run(
        diff(&desired, &live, &BTreeMap::new()),
        &policies(false, true),
        1,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    assert!(!p.has_changes());
    assert_eq!(p.detected_only.len(), 1);
    assert_eq!(p.detected_only[0].fields[0].path, "/size");
}

#[test]
fn a_new_generation_is_a_new_key_the_same_generation_the_same_key() {
    let desired = vec![Desired {
        key: key(ObjectKind::Droplet, "stg", "web"),
        value: json!({"size": "b"}),
    }];
    let diffs = || diff(&desired, &[], &BTreeMap::new());
    let g0 = run(diffs(), &policies(false, false), 1, false, &BTreeMap::new()).expect("plan");
    let again = run(diffs(), &policies(false, false), 1, false, &BTreeMap::new()).expect("plan");
    assert_eq!(
        g0.actions[0].dedupe_key, again.actions[0].dedupe_key,
        "a replay keeps its key"
    );
    let healed_once = BTreeMap::from([("stg/droplet/web".to_string(), 1)]);
    let g1 = run(diffs(), &policies(false, false), 1, false, &healed_once).expect("plan");
    assert_ne!(g0.actions[0].dedupe_key, g1.actions[0].dedupe_key);
    assert!(
        g1.actions[0].dedupe_key.contains(":create:g1:"),
        "{}",
        g1.actions[0].dedupe_key
    );
    // The same drift observed again after a correction is a new key too; a different
    // observed value is a different key even at the same generation.
    let live = |size: &str| {
        vec![Live {
            key: key(ObjectKind::Droplet, "stg", "web"),
            id: "1".into(),
            value: json!({"size": size}),
            owned: true,
        }]
    };
    let a = run(
        diff(&desired, &live("a"), &BTreeMap::new()),
        &policies(false, false),
        1,
        false,
        &healed_once,
    )
    .expect("plan");
    let c = run(
        diff(&desired, &live("c"), &BTreeMap::new()),
        &policies(false, false),
        1,
        false,
        &healed_once,
    )
    .expect("plan");
    assert_ne!(a.actions[0].dedupe_key, c.actions[0].dedupe_key);
}

#[test]
fn a_conflict_or_a_refusal_holds_only_its_own_environment() {
    let desired = vec![
        Desired {
            key: key(ObjectKind::DnsRecord, "stg", "erp.example.com"),
            value: json!({"zone": "example.com", "record": {"data": "203.0.113.7"}}),
        },
        Desired {
            key: key(ObjectKind::Firewall, "stg", "fw"),
            value: json!({"name": "fw"}),
        },
        Desired {
            key: key(ObjectKind::Database, "dev", "db"),
            value: json!({"cluster": "new-pg", "name": "db"}),
        },
        Desired {
            key: key(ObjectKind::Droplet, "prod", "web"),
            value: json!({"size": "b", "region": "ams3"}),
        },
    ];
    let live = vec![
        // A hand-made record with our name: not ours.
        Live {
            key: key(ObjectKind::DnsRecord, "stg", "erp.example.com"),
            id: "9".into(),
            value: json!({"zone": "example.com", "record": {"data": "198.51.100.1"}}),
            owned: false,
        },
        // Our database, in another cluster than desired: never moved by the engine.
        Live {
            key: key(ObjectKind::Database, "dev", "db"),
            id: "c1/db".into(),
            value: json!({"cluster": "old-pg", "name": "db"}),
            owned: true,
        },
        // A droplet in another region (create-only) with another size (in place).
        Live {
            key: key(ObjectKind::Droplet, "prod", "web"),
            id: "3".into(),
            value: json!({"size": "a", "region": "fra1"}),
            owned: true,
        },
    ];
    let p = run(
        diff(&desired, &live, &BTreeMap::new()),
        &policies(false, false),
        4,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    let kinds: Vec<(&str, &str)> = p
        .refused
        .iter()
        .map(|r| (r.env.as_str(), r.kind.as_str()))
        .collect();
    assert_eq!(kinds, vec![("dev", "data_loss"), ("stg", "conflict")]);
    assert!(
        p.refused[1]
            .reason
            .contains("exists (id 9) but is not ours"),
        "{}",
        p.refused[1].reason
    );
    // Staging's firewall waits with its environment; production proceeds: its size is
    // updated, its region is drift only.
    let acted: Vec<String> = p.actions.iter().map(|a| a.diff.key.to_string()).collect();
    assert_eq!(acted, vec!["prod/droplet/web"]);
    assert_eq!(p.actions[0].op, Op::Update);
    assert!(p.detected_only.iter().any(|d| d.key.name == "fw"));
    let region = p.actions[0]
        .diff
        .fields
        .iter()
        .find(|f| f.path == "/region")
        .expect("region");
    assert_eq!(region.policy, FieldPolicy::CreateOnly);
}

#[test]
fn a_create_only_difference_alone_is_drift_never_an_action() {
    let desired = vec![Desired {
        key: key(ObjectKind::Droplet, "stg", "web"),
        value: json!({"image": "ubuntu-24-04-x64", "size": "b"}),
    }];
    // DigitalOcean dropped the image's slug: the live image reads as its numeric id.
    let live = vec![Live {
        key: key(ObjectKind::Droplet, "stg", "web"),
        id: "1".into(),
        value: json!({"image": "164000001", "size": "b"}),
        owned: true,
    }];
    let p = run(
        diff(&desired, &live, &BTreeMap::new()),
        &policies(false, false),
        1,
        false,
        &BTreeMap::new(),
    )
    .expect("plan");
    assert!(!p.has_changes(), "never a replace loop");
    assert_eq!(p.summary.held, 1);
    assert_eq!(p.detected_only[0].change, Change::Held);
}
