//! Neutralization against a real PostgreSQL holding an Odoo-shaped fixture database: the
//! built-in rules (`--builtin-rules`), refusals, the post-check, rollback, the command line.
//! The comparison with Odoo's own `odoo-bin neutralize` on a real Odoo 17 database is in
//! `odoo_neutralize_real.rs`.
//! Needs ODOOOPS_TEST_DATABASE_URL (skips with a note otherwise; fails when CI=true).

mod support;

use odooops::odoo::neutralize::{self, NeutralizeError, OdooSource, Options, Rules, Source};
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::odoo_fixture::OdooFixture;

fn example_addons() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/addons")]
}

/// The built-in rules with these addons paths.
fn opts(paths: Vec<PathBuf>, dry_run: bool) -> Options {
    Options {
        rules: Some(Rules::Builtin),
        addons_paths: paths,
        dry_run,
    }
}

/// A fake Odoo 17.0 source holding these modules (none with a script but those given).
fn fake_source(root: &Path, modules: &[&str], scripts: &[(&str, &str)]) -> OdooSource {
    std::fs::create_dir_all(root.join("odoo")).expect("mkdir");
    std::fs::write(
        root.join("odoo/release.py"),
        "version_info = (17, 0, 0, FINAL, 0, '')\n",
    )
    .expect("release.py");
    for m in modules.iter().chain(["base"].iter()) {
        let dir = if *m == "base" {
            "odoo/addons"
        } else {
            "addons"
        };
        let d = root.join(dir).join(m);
        std::fs::create_dir_all(d.join("data")).expect("mkdir");
        std::fs::write(d.join("__manifest__.py"), "{}").expect("manifest");
        if let Some((_, sql)) = scripts.iter().find(|(n, _)| n == m) {
            std::fs::write(d.join("data/neutralize.sql"), sql).expect("script");
        }
    }
    OdooSource::open(root, "test").expect("fake source")
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
    assert_eq!(step("acme_sale").source, Source::NoScript);
    // Said loudly: the built-in rules ran, and which modules nobody neutralized.
    assert!(report.warnings[0].starts_with("--builtin-rules"));
    assert_eq!(step("stock").source, Source::NotFound);
    assert!(
        report.warnings.iter().any(|w| w.contains("stock")),
        "{:?}",
        report.warnings
    );
    // Every check is reported with its outcome.
    let outcome = |c: &str| {
        report
            .checks
            .iter()
            .find(|k| k.check == c)
            .map(|k| k.outcome)
            .expect("check")
    };
    assert_eq!(outcome("payment_provider"), neutralize::Outcome::Pass);
    assert_eq!(outcome("incoming_mail_server"), neutralize::Outcome::Pass);
    assert_eq!(
        outcome("calendar_token"),
        neutralize::Outcome::NotApplicable
    );

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
        Some("adyen=disabled,demo=test,paypal=disabled,stripe=disabled".into())
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
async fn what_the_scripts_leave_behind_is_caught_by_the_post_check() {
    let Some(db) = OdooFixture::create("what_the_scripts_leave_behind_is_caught").await else {
        return;
    };
    // An Odoo source whose modules ship no script at all, except a partial mail one.
    let src = tempfile::tempdir().expect("tmp");
    let modules = [
        "web",
        "mail",
        "fetchmail",
        "payment",
        "delivery",
        "website",
        "iap",
        "sale_management",
        "stock",
        "acme_base",
        "acme_sale",
        "web_responsive",
    ];
    let source = fake_source(
        src.path(),
        &modules,
        &[("mail", "UPDATE mail_template SET mail_server_id = NULL;")],
    );
    let o = Options {
        rules: Some(Rules::Odoo(source)),
        addons_paths: Vec::new(),
        dry_run: true,
    };
    let report = neutralize::run_with(&db.pool, &o).await.expect("run");
    assert!(matches!(report.modules[0].source, Source::NoScript));
    let kinds: Vec<&str> = report.violations.iter().map(|v| v.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "mail_server",
            "mail_server",
            "incoming_mail_server",
            "incoming_mail_server",
            "cron",
            "cron",
            "cron",
            "payment_provider",
            "payment_provider",
            "iap_account",
            "iap_account",
            "flag"
        ]
    );
    let stripe = &report.violations[7];
    assert_eq!(stripe.name, "Stripe", "names read in English");
    assert!(stripe.detail.contains("still enabled"), "{}", stripe.detail);
    db.drop_db().await;
}

#[tokio::test]
async fn without_rules_or_with_modules_found_nowhere_nothing_runs() {
    let Some(db) = OdooFixture::create("without_rules_nothing_runs").await else {
        return;
    };
    let before = db.snapshot().await;
    let none = Options {
        rules: None,
        addons_paths: example_addons(),
        dry_run: false,
    };
    let err = neutralize::run_with(&db.pool, &none)
        .await
        .expect_err("refused");
    assert!(matches!(err, NeutralizeError::NoOdooSource), "{err}");
    assert!(err.is_refusal());

    // A source lacking `payment` (which ships a script in 17.0) and the project's addons.
    let src = tempfile::tempdir().expect("tmp");
    let source = fake_source(
        src.path(),
        &[
            "web",
            "mail",
            "fetchmail",
            "delivery",
            "website",
            "iap",
            "sale_management",
            "stock",
        ],
        &[("web", "UPDATE website SET domain = NULL;")],
    );
    let o = Options {
        rules: Some(Rules::Odoo(source.clone())),
        addons_paths: Vec::new(),
        dry_run: false,
    };
    let err = neutralize::run_with(&db.pool, &o)
        .await
        .expect_err("refused");
    match &err {
        NeutralizeError::ModulesNotFound { missing, count, .. } => {
            assert_eq!(missing.with_script, vec!["payment"]);
            assert_eq!(
                missing.unknown,
                vec!["acme_base", "acme_sale", "web_responsive"]
            );
            assert_eq!(*count, 4);
        }
        other => panic!("expected ModulesNotFound, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("refused, nothing was changed"), "{msg}");
    assert!(msg.contains("--addons-path"), "{msg}");

    // Another series than the database's.
    let old = tempfile::tempdir().expect("tmp");
    let mut other = fake_source(old.path(), &[], &[]);
    other.series = "16.0".into();
    let o = Options {
        rules: Some(Rules::Odoo(other)),
        addons_paths: example_addons(),
        dry_run: false,
    };
    let err = neutralize::run_with(&db.pool, &o)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, NeutralizeError::SeriesMismatch { .. }),
        "{err}"
    );
    assert_eq!(db.snapshot().await, before, "nothing changed");
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
            "--builtin-rules",
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
            "--builtin-rules",
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

    assert!(
        String::from_utf8_lossy(&real.stderr).contains("warning: --builtin-rules"),
        "the built-in rules are announced"
    );

    let bad = Command::new(bin)
        .args([
            "neutralize",
            "--odoo-database-url",
            "postgres://postgres@127.0.0.1:1/none",
            "--builtin-rules",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot connect"));

    // A database no check applies to is never "verified".
    let empty = format!("odooops_empty_{}", uuid::Uuid::new_v4().simple());
    let admin = std::env::var("ODOOOPS_TEST_DATABASE_URL").expect("set");
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
    sqlx::raw_sql(&format!("CREATE DATABASE \"{empty}\""))
        .execute(&mut conn)
        .await
        .expect("create");
    let o = Command::new(bin)
        .args([
            "neutralize",
            "--odoo-database-url",
            &support::odoo_fixture::with_database(&admin, &empty),
            "--verify-only",
        ])
        .output()
        .expect("run");
    sqlx::raw_sql(&format!("DROP DATABASE \"{empty}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop");
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("NOT verified: no check applies"), "{text}");

    // No Odoo source known and no --builtin-rules: refused before connecting.
    let refused = Command::new(bin)
        .env_remove("ODOOOPS_ODOO_SRC")
        .args(["neutralize", "--odoo-database-url", &db.url])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("no Odoo source is known"), "{err}");
    let src_missing = Command::new(bin)
        .args([
            "neutralize",
            "--odoo-database-url",
            &db.url,
            "--odoo-src",
            "/nonexistent/odoo",
        ])
        .output()
        .expect("run");
    assert_eq!(src_missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&src_missing.stderr).contains("/nonexistent/odoo"),
        "the bad source is named"
    );
    db.drop_db().await;
}
