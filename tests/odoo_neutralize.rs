//! Neutralization against a real PostgreSQL holding an Odoo-shaped fixture database.
//! Needs ODOOOPS_TEST_DATABASE_URL (skips with a note otherwise; fails when CI=true).

mod support;

use odooops::odoo::neutralize::{self, Options, Source};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::odoo_fixture::OdooFixture;

fn example_addons() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/addons")]
}

fn opts(paths: Vec<PathBuf>, dry_run: bool) -> Options {
    Options {
        addons_paths: paths,
        dry_run,
        no_builtin: false,
    }
}

#[tokio::test]
async fn neutralize_applies_odoo_semantics_and_verify_passes() {
    let Some(db) = OdooFixture::create("neutralize_applies_odoo_semantics_and_verify_passes").await
    else {
        return;
    };
    let report = neutralize::run_with(&db.pool, &opts(example_addons(), false))
        .await
        .expect("neutralize");
    assert!(report.committed && !report.dry_run);
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    // Installed, to-upgrade modules run; uninstalled ones do not; base first.
    let modules: Vec<&str> = report.modules.iter().map(|m| m.module.as_str()).collect();
    assert_eq!(modules[0], "base");
    assert!(modules.contains(&"stock") && modules.contains(&"acme_sale"));
    assert!(!modules.contains(&"acme_portal") && !modules.contains(&"hr_holidays"));
    let step = |name: &str| {
        report
            .modules
            .iter()
            .find(|m| m.module == name)
            .expect("step")
    };
    assert!(matches!(step("acme_base").source, Source::File { .. }));
    assert_eq!(step("base").source, Source::Builtin);
    assert_eq!(step("acme_sale").source, Source::None);

    // base: mail servers, dummy server, crons, flag, webhooks.
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM ir_mail_server WHERE active")
            .await,
        1
    );
    assert_eq!(
        db.scalar_text("SELECT smtp_host || ':' || smtp_port FROM ir_mail_server WHERE active")
            .await,
        Some("invalid:1025".into())
    );
    assert_eq!(
        db.scalar_text("SELECT string_agg(cron_name, ',') FROM ir_cron WHERE active")
            .await,
        Some("Base: Auto-vacuum internal data".into())
    );
    assert_eq!(
        db.scalar_text(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        )
        .await,
        Some("true".into())
    );
    assert_eq!(
        db.scalar_text("SELECT webhook_url FROM ir_act_server WHERE state = 'webhook'")
            .await,
        Some("neutralization - disable webhook".into())
    );
    // mail, fetchmail, payment, delivery, website, iap.
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM mail_template WHERE mail_server_id IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM fetchmail_server WHERE active")
            .await,
        0
    );
    assert_eq!(
        db.scalar_text(
            "SELECT string_agg(code || '=' || state, ',' ORDER BY code) FROM payment_provider"
        )
        .await,
        Some("adyen=test,demo=test,paypal=disabled,stripe=test".into())
    );
    assert_eq!(
        db.scalar_text("SELECT string_agg(delivery_type || '=' || prod_environment || '/' || active, ',' ORDER BY id) FROM delivery_carrier").await,
        Some("dhl=false/false,fixed=false/true,base_on_rule=false/true".into())
    );
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM website WHERE domain IS NOT NULL OR cdn_activated")
            .await,
        0
    );
    assert_eq!(
        db.scalar_i64(
            "SELECT count(*) FROM website WHERE robots_txt = E'User-agent: *\\nDisallow: /'"
        )
        .await,
        2
    );
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM iap_account WHERE account_token NOT LIKE '%+disabled'")
            .await,
        0
    );
    // The custom addon's own script ran.
    assert_eq!(
        db.scalar_text("SELECT value FROM ir_config_parameter WHERE key = 'acme_base.hub_url'")
            .await,
        Some("https://sandbox.hub.acme-trading.example/api/v2".into())
    );
    // The independent post-check agrees, and a second run is idempotent.
    assert!(neutralize::verify(&db.pool)
        .await
        .expect("verify")
        .is_empty());
    let again = neutralize::run_with(&db.pool, &opts(example_addons(), false))
        .await
        .expect("again");
    let builtin_rows: u64 = again
        .modules
        .iter()
        .filter(|m| m.source == Source::Builtin)
        .flat_map(|m| m.statements.iter().map(|s| s.rows))
        .sum();
    assert_eq!(builtin_rows, 0, "a second run changes nothing");
    assert_eq!(
        db.scalar_i64(
            "SELECT count(*) FROM ir_mail_server WHERE name = 'neutralization - disable emails'"
        )
        .await,
        1
    );
    db.drop_db().await;
}

#[tokio::test]
async fn dry_run_reports_counts_and_changes_nothing() {
    let Some(db) = OdooFixture::create("dry_run_reports_counts_and_changes_nothing").await else {
        return;
    };
    let before = db.snapshot().await;
    let report = neutralize::run_with(&db.pool, &opts(example_addons(), true))
        .await
        .expect("dry run");
    assert!(report.dry_run && !report.committed);
    assert!(
        report.violations.is_empty(),
        "checked inside the transaction"
    );
    let base = report
        .modules
        .iter()
        .find(|m| m.module == "base")
        .expect("base");
    let rows = |d: &str| {
        base.statements
            .iter()
            .find(|s| s.description.starts_with(d))
            .map(|s| s.rows)
    };
    assert_eq!(rows("deactivate every outgoing mail server"), Some(2));
    assert_eq!(rows("deactivate every cron"), Some(3));
    assert!(report.rows_changed > 15, "{}", report.rows_changed);
    assert_eq!(db.snapshot().await, before, "a dry run changes nothing");
    db.drop_db().await;
}

#[tokio::test]
async fn a_custom_script_that_reactivates_a_mail_server_is_caught() {
    let Some(db) =
        OdooFixture::create("a_custom_script_that_reactivates_a_mail_server_is_caught").await
    else {
        return;
    };
    let addons = tempfile::tempdir().expect("tmp");
    let sale = addons.path().join("acme_sale");
    std::fs::create_dir_all(sale.join("data")).expect("mkdir");
    std::fs::write(
        sale.join("__manifest__.py"),
        "{'name': 'Acme Sale', 'depends': ['sale']}",
    )
    .expect("write");
    std::fs::write(
        sale.join("data/neutralize.sql"),
        "-- a well-meant but wrong script\nUPDATE ir_mail_server SET active = true WHERE name = 'Mailgun (production)';\n",
    )
    .expect("write");
    let mut paths = vec![addons.path().to_path_buf()];
    paths.extend(example_addons());
    let report = neutralize::run_with(&db.pool, &opts(paths, false))
        .await
        .expect("run");
    assert!(!report.ok());
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    let v = &report.violations[0];
    assert_eq!(
        (v.kind.as_str(), v.name.as_str()),
        ("mail_server", "Mailgun (production)")
    );
    assert!(v.detail.contains("smtp.mailgun.org:587"));
    assert_eq!(
        neutralize::verify(&db.pool).await.expect("verify"),
        report.violations
    );
    db.drop_db().await;
}

#[tokio::test]
async fn skipping_the_base_rules_is_caught() {
    let Some(db) = OdooFixture::create("skipping_the_base_rules_is_caught").await else {
        return;
    };
    let mut o = opts(example_addons(), true);
    o.no_builtin = true;
    let report = neutralize::run_with(&db.pool, &o).await.expect("run");
    let kinds: Vec<&str> = report.violations.iter().map(|v| v.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "mail_server",
            "mail_server",
            "cron",
            "cron",
            "cron",
            "payment_provider",
            "payment_provider",
            "flag"
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_failing_script_rolls_everything_back() {
    let Some(db) = OdooFixture::create("a_failing_script_rolls_everything_back").await else {
        return;
    };
    let addons = tempfile::tempdir().expect("tmp");
    let portal = addons.path().join("web_responsive");
    std::fs::create_dir_all(portal.join("data")).expect("mkdir");
    std::fs::write(portal.join("__manifest__.py"), "{}").expect("write");
    std::fs::write(
        portal.join("data/neutralize.sql"),
        "UPDATE no_such_table SET x = 1;",
    )
    .expect("write");
    let before = db.snapshot().await;
    let err = neutralize::run_with(&db.pool, &opts(vec![addons.path().to_path_buf()], false))
        .await
        .expect_err("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("module web_responsive") && msg.contains("no_such_table"),
        "{msg}"
    );
    assert_eq!(
        db.snapshot().await,
        before,
        "base ran first, yet nothing is committed"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn cli_neutralize_dry_run_json_then_real_run_text() {
    let Some(db) = OdooFixture::create("cli_neutralize_dry_run_json_then_real_run_text").await
    else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_odooops");
    let check = |expect: i32| {
        let o = Command::new(bin)
            .args([
                "neutralize",
                "--odoo-database-url",
                &db.url,
                "--verify-only",
                "-o",
                "json",
            ])
            .output()
            .expect("run");
        assert_eq!(
            o.status.code(),
            Some(expect),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json")
    };
    // A production-like database: verification fails and names what is live.
    let before = check(1);
    let kinds: Vec<&str> = before
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"mail_server") && kinds.contains(&"cron") && kinds.contains(&"flag"),
        "{kinds:?}"
    );

    let dry = Command::new(bin)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "neutralize",
            "--odoo-database-url",
            &db.url,
            "--addons-path",
            "examples/addons",
            "--dry-run",
            "-o",
            "json",
        ])
        .output()
        .expect("run");
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("json");
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["committed"], false);
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM ir_cron WHERE active")
            .await,
        4
    );

    let real = Command::new(bin)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "neutralize",
            "--odoo-database-url",
            &db.url,
            "--addons-path",
            "examples/addons",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&real.stdout);
    assert_eq!(
        real.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert!(
        text.contains("deactivate every cron except base.autovacuum_job: 3 row(s)"),
        "{text}"
    );
    assert!(
        text.contains("committed") && text.contains("verified: no violation"),
        "{text}"
    );
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM ir_cron WHERE active")
            .await,
        1
    );

    let bad = Command::new(bin)
        .args([
            "neutralize",
            "--odoo-database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot connect"));
    db.drop_db().await;
}
