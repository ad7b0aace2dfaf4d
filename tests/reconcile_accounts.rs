//! Provider accounts and the apply lock at the engine: two projects on two DigitalOcean
//! accounts reconcile each against its own (the strict simulator makes each token its own
//! account); a token the SSOT needs but the process lacks is an error naming the registry
//! key; an apply waits for (or is refused) the store's apply lock held by another applier.

mod common;

use odooops::provider::http::Metrics;
use odooops::provider::StaticSecrets;
use odooops::reconcile::accounts::{self, AccountError, Connect};
use odooops::reconcile::engine::{Context, Engine, EngineError};
use odooops::sim::{self, faults::FaultConfig, SimOptions};
use odooops::ssot::{self, Limits, Ssot};
use odooops::store::StoreError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PROJECT: &str = r#"apiVersion: odooops.dev/v1alpha1
kind: Project
metadata:
  name: NAME
spec:
  odoo:
    series: "17.0"
  repository:
    url: https://git.example.com/NAME/addons.git
  providers:
    digitalocean:
      tokenSecret: TOKEN_KEY
  defaultRegion: fra1
---
apiVersion: odooops.dev/v1alpha1
kind: Environment
metadata:
  name: NAME-production
spec:
  project: NAME
  stage: production
  branch: main
  maturity: beta
  host:
    size: s-1vcpu-2gb
  database:
    provider: postgres
    name: NAME_production
    urlSecret: DB_KEY
  mail:
    mode: smtp
    host: smtp.example.com
    port: 465
    encryption: ssl
    passwordSecret: SMTP_PASSWORD
"#;

/// Two projects, `alpha` and `beta`, each on its own DigitalOcean account.
fn two_accounts() -> (tempfile::TempDir, Ssot) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut keys = String::from(
        "apiVersion: odooops.dev/v1alpha1\nkind: SecretRegistry\nmetadata:\n  name: keys\nspec:\n  keys:\n    - name: SMTP_PASSWORD\n      source: env\n      requiredBy: [controller]\n",
    );
    for name in ["alpha", "beta"] {
        let upper = name.to_uppercase();
        let text = PROJECT
            .replace("TOKEN_KEY", &format!("ODOOOPS_TEST_DO_TOKEN_{upper}"))
            .replace("DB_KEY", &format!("ODOOOPS_TEST_DB_URL_{upper}"))
            .replace("NAME", name);
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("write");
        keys.push_str(&format!(
            "    - name: ODOOOPS_TEST_DO_TOKEN_{upper}\n      source: env\n      requiredBy: [controller]\n    - name: ODOOOPS_TEST_DB_URL_{upper}\n      source: env\n      requiredBy: [controller]\n"
        ));
    }
    std::fs::write(dir.path().join("keys.yaml"), keys).expect("write");
    let report = ssot::load(dir.path(), &Limits::default());
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    let ssot = report.into_ssot().expect("valid");
    (dir, ssot)
}

fn droplet_names(sim: &sim::Running, token: &str) -> Vec<String> {
    let state = sim.account(token).expect("account");
    let st = sim::lock(&state.digitalocean);
    st.droplets
        .values()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn two_projects_on_two_accounts_reconcile_each_against_its_own() {
    // The tokens of the two accounts, by registry key (only this test sets these keys).
    std::env::set_var("ODOOOPS_TEST_DO_TOKEN_ALPHA", "test-token-alpha");
    std::env::set_var("ODOOOPS_TEST_DO_TOKEN_BETA", "test-token-beta");
    let sim = sim::start_with(
        "127.0.0.1:0",
        SimOptions {
            faults: FaultConfig::default(),
            delay: Duration::from_millis(200),
            tokens: vec!["test-token-alpha".into(), "test-token-beta".into()],
            do_hourly_limit: None,
        },
    )
    .await
    .expect("sim");
    let (_dir, ssot) = two_accounts();
    let b = common::sqlite().await;
    let e = Engine::connect(
        &ssot,
        b.store.clone(),
        Some(&sim.url()),
        Arc::new(Metrics::default()),
    )
    .expect("engine");
    let ctx = Context::default();
    let p = e.plan(&ssot, &ctx).await.expect("plan");
    assert_eq!(p.plan.summary.create, 4, "{}", p.text);
    e.apply(&ssot, p.plan_id, &ctx).await.expect("apply");
    assert_eq!(
        droplet_names(&sim, "test-token-alpha"),
        vec!["alpha-alpha-production"]
    );
    assert_eq!(
        droplet_names(&sim, "test-token-beta"),
        vec!["beta-beta-production"]
    );
    // Each account's firewall is in its own account too, and the next plan is empty.
    for token in ["test-token-alpha", "test-token-beta"] {
        let state = sim.account(token).expect("account");
        assert_eq!(sim::lock(&state.digitalocean).firewalls.len(), 1);
    }
    let again = e.plan(&ssot, &ctx).await.expect("plan");
    assert!(!again.plan.has_changes(), "{}", again.text);
    b.finish().await;
}

#[test]
fn a_missing_token_is_an_error_naming_its_registry_key() {
    let (_dir, ssot) = two_accounts();
    let secrets = StaticSecrets::default().with("ODOOOPS_TEST_DO_TOKEN_ALPHA", "test-token-alpha");
    let err = accounts::digitalocean(
        &ssot,
        &Connect {
            sim: None,
            metrics: Arc::new(Metrics::default()),
            secrets: &secrets,
        },
    )
    .expect_err("beta's token is missing");
    assert!(
        matches!(&err, AccountError::MissingToken { key, project, .. } if key == "ODOOOPS_TEST_DO_TOKEN_BETA" && project == "beta"),
        "{err}"
    );
    assert!(err.to_string().contains("ODOOOPS_TEST_DO_TOKEN_BETA"));

    // Secret presence in Supabase needs the project's Supabase token: never silently off.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in std::fs::read_dir(&dir).expect("quickstart") {
        let f = f.expect("entry");
        let mut text = std::fs::read_to_string(f.path()).expect("read");
        if f.file_name() == "project.yaml" {
            text = text.replace(
                "      tokenSecret: SUPABASE_ACCESS_TOKEN\n",
                "      tokenSecret: SUPABASE_ACCESS_TOKEN\n      projectId: quickstartrefabcdefg\n",
            );
            text.push_str("    - name: APP_API_KEY\n      source: env\n      syncTo: [supabase]\n      requiredBy: [staging]\n");
        }
        if f.file_name() == "environments.yaml" {
            text = text.replace(
                "  stagingSource:",
                "  secrets: [APP_API_KEY]\n  stagingSource:",
            );
        }
        std::fs::write(tmp.path().join(f.file_name()), text).expect("write");
    }
    let report = ssot::load(tmp.path(), &Limits::default());
    assert!(report.is_valid(), "{:#?}", report.diagnostics);
    let synced = report.into_ssot().expect("valid");
    let err = accounts::secret_providers(
        &synced,
        &Connect {
            sim: None,
            metrics: Arc::new(Metrics::default()),
            secrets: &StaticSecrets::default(),
        },
    )
    .expect_err("no Supabase token");
    assert!(err.to_string().contains("SUPABASE_ACCESS_TOKEN"), "{err}");
}

#[tokio::test]
async fn an_apply_waits_for_the_lock_another_applier_holds() {
    for b in common::backends().await {
        let sim = sim::start("127.0.0.1:0", FaultConfig::default())
            .await
            .expect("sim");
        let ssot = ssot::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
            &Limits::default(),
        )
        .into_ssot()
        .expect("valid");
        let e = Engine::connect(
            &ssot,
            b.store.clone(),
            Some(&sim.url()),
            Arc::new(Metrics::default()),
        )
        .expect("engine");
        let p = e.plan(&ssot, &Context::default()).await.expect("plan");
        // Another applier holds the lock: refused at once, naming it…
        let other = b
            .store
            .lock_apply("another apply (pid 42)", Duration::ZERO)
            .await
            .expect("lock");
        let err = e
            .apply(&ssot, p.plan_id, &Context::default())
            .await
            .expect_err("locked");
        assert!(
            matches!(&err, EngineError::Store(StoreError::Locked { .. })),
            "[{}] {err}",
            b.name
        );
        assert!(sim::lock(&sim.state.digitalocean).droplets.is_empty());
        // …or, with a wait, applied once the other lets it go.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            other.release().await;
        });
        let ctx = Context {
            lock_wait: Duration::from_secs(10),
            ..Context::default()
        };
        e.apply(&ssot, p.plan_id, &ctx)
            .await
            .expect("applied after the wait");
        release.await.expect("released");
        assert_eq!(sim::lock(&sim.state.digitalocean).droplets.len(), 2);
        b.finish().await;
    }
}
