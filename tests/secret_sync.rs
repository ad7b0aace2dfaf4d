//! Secret sync from the SecretRegistry to Supabase and Vercel, against the simulator.

mod common;

use common::{canary, LogBuffer};
use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper};
use odooops::provider::secret_sync::{sync, Target};
use odooops::provider::supabase::Supabase;
use odooops::provider::vercel::Vercel;
use odooops::provider::{Provider, SecretValue, StaticSecrets};
use odooops::sim::{self, faults::FaultConfig, lock};
use odooops::ssot::{Kind, Resource, Ssot};
use serde_json::json;
use std::sync::Arc;

const REF: &str = "abcdefghijklmnopqrst";

fn registry() -> Ssot {
    let doc = json!({"apiVersion": "odooops.dev/v1alpha1", "kind": "SecretRegistry",
    "metadata": {"name": "secrets"}, "spec": {"keys": [
        {"name": "STRIPE_KEY", "source": "env", "syncTo": ["supabase", "vercel"]},
        {"name": "SMTP_PASSWORD", "source": "env", "syncTo": ["vercel"]},
        {"name": "UNSET_KEY", "source": "env", "syncTo": ["supabase"]},
        {"name": "DIGITALOCEAN_TOKEN", "source": "env", "requiredBy": ["controller"]}
    ]}});
    Ssot {
        resources: vec![Resource::from_value(Kind::SecretRegistry, doc).expect("registry")],
        revision: "sha256:sync-test".into(),
    }
}

fn http(sim: &sim::Running, p: Provider) -> HttpClient {
    let cc = ClientConfig::new(
        p,
        &sim.provider_url(p),
        Auth::Bearer(SecretValue::new(format!("test-token-{}", "sync"))),
    );
    HttpClient::with_sleeper(
        cc,
        Arc::new(Metrics::default()),
        Arc::new(RecordingSleeper::default()),
    )
    .expect("client")
}

async fn setup(faults: &str) -> (sim::Running, Supabase, Vercel) {
    let sim = sim::start("127.0.0.1:0", FaultConfig::parse(faults).expect("faults"))
        .await
        .expect("sim");
    lock(&sim.state.supabase)
        .mutate("project", REF, &json!({"name": "acme"}), false)
        .expect("seed");
    lock(&sim.state.vercel)
        .mutate(
            "project",
            "prj_acme",
            &json!({"name": "acme-web", "teamId": "team_acme"}),
            false,
        )
        .expect("seed");
    let sb = Supabase::new(http(&sim, Provider::Supabase));
    let vc = Vercel::new(http(&sim, Provider::Vercel), "acme-web", Some("team_acme"));
    (sim, sb, vc)
}

#[tokio::test]
async fn pushes_each_key_to_its_targets_and_reports_without_values() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let (sim, sb, vc) = setup("").await;
    let (stripe, smtp) = (canary("stripe"), canary("smtp"));
    let secrets = StaticSecrets::default()
        .with("STRIPE_KEY", &stripe)
        .with("SMTP_PASSWORD", &smtp)
        .with("DIGITALOCEAN_TOKEN", &canary("do"));
    let ssot = registry();

    let dry = sync(&ssot, &secrets, Some((&sb, REF)), Some(&vc), true).await;
    assert!(dry.ok && dry.dry_run);
    assert_eq!(dry.pushed, ["SMTP_PASSWORD", "STRIPE_KEY"]);
    assert!(
        sb.list_secrets(REF).await.expect("list").is_empty(),
        "dry run writes nothing"
    );
    assert!(vc.list_env().await.expect("list").is_empty());

    let report = sync(&ssot, &secrets, Some((&sb, REF)), Some(&vc), false).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.pushed, ["SMTP_PASSWORD", "STRIPE_KEY"]);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].name, "UNSET_KEY");
    assert!(report.skipped[0].reason.contains("set `UNSET_KEY`"));
    let by = |t: Target| {
        report
            .targets
            .iter()
            .find(|r| r.target == t)
            .expect("target")
    };
    assert_eq!(by(Target::Supabase).pushed, ["STRIPE_KEY"]);
    assert_eq!(by(Target::Vercel).pushed, ["SMTP_PASSWORD", "STRIPE_KEY"]);

    let sb_live = sb.list_secrets(REF).await.expect("list");
    assert!(sb_live[0].holds(&SecretValue::new(stripe.clone())));
    let vc_live = vc.list_env().await.expect("list");
    assert_eq!(
        vc_live
            .iter()
            .map(|e| (e.key.as_str(), e.kind.as_str(), e.target.len()))
            .collect::<Vec<_>>(),
        [
            ("SMTP_PASSWORD", "encrypted", 3),
            ("STRIPE_KEY", "encrypted", 3)
        ]
    );

    // A second run finds Supabase unchanged, and Vercel upserts without duplicates.
    let again = sync(&ssot, &secrets, Some((&sb, REF)), Some(&vc), false).await;
    assert!(again.ok, "{again:?}");
    let sb_again = again
        .targets
        .iter()
        .find(|r| r.target == Target::Supabase)
        .expect("sb");
    assert_eq!(
        (sb_again.pushed.len(), sb_again.unchanged.clone()),
        (0, vec!["STRIPE_KEY".to_string()])
    );
    assert_eq!(vc.list_env().await.expect("list").len(), 2);

    let report_json = serde_json::to_string(&again).expect("json");
    let state = reqwest::get(format!("{}/_sim/state", sim.url()))
        .await
        .expect("state")
        .text()
        .await
        .expect("body");
    let debug = format!("{report:?} {again:?} {dry:?}");
    for (what, hay) in [
        ("report", &report_json),
        ("debug", &debug),
        ("logs", &logs.text()),
        ("sim state", &state),
    ] {
        for v in [&stripe, &smtp] {
            assert!(!hay.contains(v.as_str()), "secret value in {what}");
        }
    }
}

#[tokio::test]
async fn a_failing_target_is_reported_and_the_other_still_syncs() {
    let (_sim, sb, vc) = setup("route=/supabase/v1/projects,count=10,kinds=503").await;
    let secrets = StaticSecrets::default().with("STRIPE_KEY", &canary("fail"));
    let report = sync(&registry(), &secrets, Some((&sb, REF)), Some(&vc), false).await;
    assert!(!report.ok);
    let sb_r = report
        .targets
        .iter()
        .find(|r| r.target == Target::Supabase)
        .expect("sb");
    assert_eq!(sb_r.error.as_ref().and_then(|e| e.status), Some(503));
    assert!(sb_r.pushed.is_empty());
    assert_eq!(report.pushed, ["STRIPE_KEY"], "pushed to Vercel");
    // Without a configured target, keys are skipped with a reason.
    let report = sync(&registry(), &secrets, None, None, false).await;
    assert!(report.ok && report.pushed.is_empty());
    assert!(report
        .skipped
        .iter()
        .any(|s| s.target == Some(Target::Vercel) && s.reason.contains("no vercel project")));
}
