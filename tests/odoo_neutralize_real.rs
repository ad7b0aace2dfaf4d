//! Neutralization on a REAL Odoo 17.0 Community database made to look like production
//! (`tests/support/prod_like.rs`), compared with Odoo's own `odoo-bin neutralize`.
//!
//! Needs ODOOOPS_TEST_DATABASE_URL and Odoo (ODOOOPS_ODOO_SRC/ODOOOPS_ODOO_PYTHON, exported by
//! `.ci/run`, else found or fetched by `.ci/odoo-env.sh`); skips with a note otherwise, fails
//! when CI=true. The template is built once (60–240 s) and copied per test.

mod common;
mod support;

use odooops::odoo::backup::{self, CloneRequest};
use odooops::odoo::neutralize::{catalog, RulesChoice};
use odooops::ssot::{Limits, Ssot};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use support::db_compare::{assert_same, dump_sha, written_tables};
use support::prod_like;
use support::real_odoo::{drop_database, OdooDb, RealOdoo};

const BIN: &str = env!("CARGO_BIN_EXE_odooops");

/// What the post-check reports on the production-like database, by check.
const LIVE_KINDS: &[&str] = &[
    "mail_server",
    "incoming_mail_server",
    "cron",
    "payment_provider",
    "calendar_token",
    "oauth_provider",
    "iap_account",
    "flag",
    "banner",
];

/// Run the odooops binary; returns (exit code, stdout, stderr).
fn odooops(args: &[&str], env_src: Option<&Path>) -> (i32, String, String) {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("ODOOOPS_ODOO_SRC");
    if let Some(s) = env_src {
        c.env("ODOOOPS_ODOO_SRC", s);
    }
    let o = c.output().expect("run odooops");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The installed modules of a database with a script in the source, and the scripts' tables.
async fn scripts_of(odoo: &RealOdoo, db: &OdooDb) -> (BTreeSet<String>, BTreeSet<String>) {
    let modules: Vec<String> = sqlx::query_scalar(
        "SELECT name::text FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove')",
    )
    .fetch_all(&db.pool)
    .await
    .expect("modules");
    let mut with_script = BTreeSet::new();
    let mut tables = BTreeSet::new();
    for m in modules {
        for dir in odoo.source.addons_dirs() {
            let f = dir.join(&m).join("data/neutralize.sql");
            if f.is_file() {
                tables.extend(written_tables(&std::fs::read_to_string(&f).expect("read")));
                with_script.insert(m.clone());
                break;
            }
        }
    }
    (with_script, tables)
}

#[test]
fn written_tables_reads_script_targets() {
    let t = written_tables(
        "-- UPDATE commented_out\nUPDATE a SET x = 1;\nINSERT INTO b(c) VALUES (1) ON CONFLICT (c) DO UPDATE SET c = 2;\nDELETE FROM c WHERE 1;\nTRUNCATE d CASCADE;",
    );
    assert_eq!(t.into_iter().collect::<Vec<_>>(), vec!["a", "b", "c", "d"]);
}

#[tokio::test]
async fn the_catalog_lists_exactly_the_17_0_modules_that_ship_a_script() {
    let Some(odoo) = RealOdoo::discover("catalog_vs_source").await else {
        return;
    };
    let mut shipped = BTreeSet::new();
    for dir in odoo.source.addons_dirs() {
        for e in std::fs::read_dir(&dir).expect("addons dir") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            if dir.join(&name).join("data/neutralize.sql").is_file() {
                shipped.insert(name);
            }
        }
    }
    let known: BTreeSet<String> = catalog::modules().map(str::to_string).collect();
    assert_eq!(odoo.source.series, catalog::SERIES);
    assert_eq!(shipped, known, "the built-in catalog follows Odoo 17.0");
    assert_eq!(odoo.source.scripts, shipped.len());
}

#[tokio::test]
async fn odooops_leaves_the_same_rows_as_odoo_bin_neutralize() {
    let Some(odoo) = RealOdoo::discover("same_rows_as_odoo").await else {
        return;
    };
    let seed = prod_like::seed_sql();
    let spec = prod_like::spec(&seed);
    let reference = odoo.copy(&spec, "ref").await;
    let with_source = odoo.copy(&spec, "src").await;
    let builtin = odoo.copy(&spec, "builtin").await;

    // The production-like copy fails the post-check on every count the issue names.
    let (code, out, err) = odooops(
        &[
            "neutralize",
            "--odoo-database-url",
            &with_source.url,
            "--verify-only",
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    let live: serde_json::Value = serde_json::from_str(&out).expect("json");
    let kinds: BTreeSet<&str> = live
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["kind"].as_str())
        .collect();
    assert_eq!(kinds, LIVE_KINDS.iter().copied().collect(), "{out}");
    assert!(
        !out.contains("test-token-"),
        "violations never show values: {out}"
    );

    // Odoo's own neutralization on the reference copy.
    let mut cmd = odoo.command(Some("neutralize"));
    cmd.args(["-d", &reference.name]);
    odoo.run("odoo-bin neutralize", cmd).await;

    // OdooOps with the Odoo source (the README's command form, the source named by flag).
    let t0 = Instant::now();
    let src = odoo.source.path.display().to_string();
    let (code, out, err) = odooops(
        &[
            "neutralize",
            "--odoo-database-url",
            &with_source.url,
            "--odoo-src",
            &src,
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    eprintln!(
        "odooops neutralize --odoo-src: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let report: serde_json::Value = serde_json::from_str(&out).expect("report json");
    assert_eq!(report["committed"], true);
    assert_eq!(report["database_series"], "17.0");
    assert_eq!(report["rules"]["kind"], "odoo_source");
    assert_eq!(report["rules"]["path"], src.as_str());
    assert_eq!(report["rules"]["series"], "17.0");
    assert_eq!(report["rules"]["origin"], "--odoo-src");
    assert_eq!(
        report["rules"]["scripts_sha256"],
        odoo.source.scripts_sha256.as_str()
    );
    assert_eq!(report["violations"], serde_json::json!([]));
    // Every script run is named with its path, sha256 and rows changed.
    let (expected_modules, tables) = scripts_of(&odoo, &with_source).await;
    let mut ran = BTreeSet::new();
    for m in report["modules"].as_array().expect("modules") {
        if m["source"]["kind"] == "file" {
            let path = PathBuf::from(m["source"]["path"].as_str().expect("path"));
            assert!(path.starts_with(&odoo.source.path), "{path:?}");
            let sha = hex::encode(Sha256::digest(std::fs::read(&path).expect("script")));
            assert_eq!(m["source"]["sha256"], sha.as_str());
            assert!(m["statements"][0]["rows"].is_u64());
            ran.insert(m["module"].as_str().expect("name").to_string());
        }
        assert_ne!(m["source"]["kind"], "builtin");
    }
    assert_eq!(ran, expected_modules, "every installed module's script ran");
    for m in [
        "payment_stripe",
        "google_calendar",
        "auth_oauth",
        "mail",
        "web",
        "website",
    ] {
        assert!(ran.contains(m), "{m} ran: {ran:?}");
    }
    // Every check is reported; none fails.
    let checks = report["checks"].as_array().expect("checks");
    let passed: BTreeSet<&str> = checks
        .iter()
        .filter(|c| c["outcome"] == "pass")
        .filter_map(|c| c["check"].as_str())
        .collect();
    assert_eq!(passed, LIVE_KINDS.iter().copied().collect(), "{checks:?}");

    // OdooOps with the built-in rules: said loudly, and the same outcome for these modules.
    let (code, out, err) = odooops(
        &[
            "neutralize",
            "--odoo-database-url",
            &builtin.url,
            "--builtin-rules",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("warning: --builtin-rules"), "{err}");
    assert!(out.contains("rules: BUILT-IN"), "{out}");
    assert!(out.contains("verified: no violation"), "{out}");

    eprintln!("tables written by the scripts: {tables:?}");
    for t in [
        "payment_provider",
        "fetchmail_server",
        "google_calendar_credentials",
        "ir_ui_view",
    ] {
        assert!(tables.contains(t), "{t} in {tables:?}");
    }
    assert_same(&reference, &with_source, &tables, "--odoo-src").await;
    assert_same(&reference, &builtin, &tables, "--builtin-rules").await;

    // What the issue saw differ, now as Odoo leaves it.
    assert_eq!(
        builtin
            .scalar_text("SELECT string_agg(code || '=' || state || '/' || (stripe_secret_key IS NULL)::text, ',' ORDER BY code) FROM payment_provider WHERE code IN ('stripe')")
            .await
            .as_deref(),
        Some("stripe=disabled/true")
    );
    assert_eq!(
        builtin
            .scalar_i64("SELECT count(*) FROM fetchmail_server WHERE active")
            .await,
        0
    );
    assert_eq!(
        builtin
            .scalar_i64("SELECT count(*) FROM ir_ui_view WHERE key IN ('web.neutralize_banner', 'website.neutralize_ribbon') AND active")
            .await,
        2
    );
    for db in [reference, with_source, builtin] {
        db.drop_db().await;
    }
}

#[tokio::test]
async fn without_a_faithful_odoo_source_neutralize_refuses_and_changes_nothing() {
    let Some(odoo) = RealOdoo::discover("refused").await else {
        return;
    };
    let seed = prod_like::seed_sql();
    let db = odoo.copy(&prod_like::spec(&seed), "refuse").await;
    let before = dump_sha(&db.url);

    // No Odoo source known: no flag, no ODOOOPS_ODOO_SRC.
    let (code, out, err) = odooops(&["neutralize", "--odoo-database-url", &db.url], None);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("refused, nothing was changed: no Odoo source"),
        "{err}"
    );
    assert!(
        err.contains("--odoo-src") && err.contains("--builtin-rules"),
        "{err}"
    );

    // A source missing the modules that ship scripts (only odoo/addons, no addons/).
    let partial = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(partial.path().join("odoo")).expect("mkdir");
    std::fs::copy(
        odoo.source.path.join("odoo/release.py"),
        partial.path().join("odoo/release.py"),
    )
    .expect("release.py");
    std::os::unix::fs::symlink(
        odoo.source.path.join("odoo/addons"),
        partial.path().join("odoo/addons"),
    )
    .expect("symlink");
    let (code, out, err) = odooops(
        &["neutralize", "--odoo-database-url", &db.url],
        Some(partial.path()),
    );
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("refused, nothing was changed"), "{err}");
    for m in [
        "payment_stripe",
        "google_calendar",
        "auth_oauth",
        "mail",
        "web",
    ] {
        assert!(err.contains(m), "{m} listed: {err}");
    }
    assert!(err.contains("shipping a neutralize script: "), "{err}");

    // A source of another series.
    let other = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(other.path().join("odoo")).expect("mkdir");
    std::fs::write(
        other.path().join("odoo/release.py"),
        "version_info = (16, 0, 0, FINAL, 0, '')\n",
    )
    .expect("release.py");
    std::os::unix::fs::symlink(
        odoo.source.path.join("odoo/addons"),
        other.path().join("odoo/addons"),
    )
    .expect("symlink");
    let (code, _, err) = odooops(
        &[
            "neutralize",
            "--odoo-database-url",
            &db.url,
            "--odoo-src",
            &other.path().display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("the database is Odoo 17.0 but the Odoo source is 16.0"),
        "{err}"
    );

    assert_eq!(
        dump_sha(&db.url),
        before,
        "the database is byte-for-byte unchanged"
    );
    db.drop_db().await;
}

fn quickstart() -> Ssot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    odooops::ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("examples/quickstart is valid")
}

/// The providers Odoo's checkout would offer a visitor of the website (its own code decides:
/// `payment.provider._get_compatible_providers`, as `/shop/payment` calls it).
const CHECKOUT_PROBE: &str = r#"
website = env['website'].search([], limit=1)
visitor = website.user_id
providers = env['payment.provider'].with_user(visitor).sudo()._get_compatible_providers(
    website.company_id.id, visitor.partner_id.id, 100.0,
    currency_id=website.currency_id.id, website_id=website.id,
)
print('CHECKOUT_PROVIDERS=' + ','.join(sorted(providers.mapped('code'))))
"#;

fn checkout_providers(shell_output: &str) -> Vec<String> {
    let line = shell_output
        .lines()
        .find_map(|l| l.strip_prefix("CHECKOUT_PROVIDERS="))
        .unwrap_or_else(|| panic!("no probe output in:\n{shell_output}"));
    line.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_clone_of_production_serves_a_neutralized_staging() {
    let Some(odoo) = RealOdoo::discover("clone_real").await else {
        return;
    };
    let seed = prod_like::seed_sql();
    let prod = odoo.copy(&prod_like::spec(&seed), "prod").await;
    // The probe sees the live providers on production (so "none" below means something).
    let live = checkout_providers(&odoo.shell(&prod.name, CHECKOUT_PROBE).await);
    assert_eq!(
        live,
        vec!["adyen", "paypal", "stripe"],
        "production's checkout"
    );

    let staging = format!(
        "odooops_t_stg_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let fs = odoo.data_dir.join("filestore");
    let b = common::sqlite().await;
    let mut req = CloneRequest::new("production", "staging");
    req.db_from = Some(prod.url.clone());
    req.db_to = Some(odoo.odoo_url(&staging));
    req.rules = RulesChoice::OdooSrc {
        dir: odoo.source.path.clone(),
        origin: "--odoo-src".into(),
    };
    req.filestore_from = Some(fs.join(&prod.name));
    req.filestore_to = Some(fs.join(&staging));
    let t0 = Instant::now();
    let o = backup::clone(&b.store, &quickstart(), &req)
        .await
        .unwrap_or_else(|e| panic!("clone: {e}"));
    eprintln!(
        "clone production → staging: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(o.verification.ok && o.filestore_restored);
    assert!(
        o.neutralized_with
            .contains(&odoo.source.path.display().to_string()),
        "{}",
        o.neutralized_with
    );
    let (_, bytes) = b
        .store
        .read_artifact(&o.neutralization_sha256)
        .await
        .expect("report artifact");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(doc["report"]["rules"]["kind"], "odoo_source");
    assert_eq!(doc["post_check"]["violations"], serde_json::json!([]));

    // Odoo starts on the clone and says it is healthy.
    let t0 = Instant::now();
    let server = odoo.serve(&staging).await;
    eprintln!(
        "odoo-bin serving the clone: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{}/web/health", server.base))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("health json");
    assert_eq!(health, serde_json::json!({"status": "pass"}));
    // The banner view is active, and Odoo renders it.
    let url = odoo.odoo_url(&staging);
    let pool = PgPool::connect(&url).await.expect("staging");
    let banner: bool = sqlx::query_scalar(
        "SELECT bool_and(active) FROM ir_ui_view WHERE key = 'web.neutralize_banner'",
    )
    .fetch_one(&pool)
    .await
    .expect("banner view");
    assert!(banner, "web.neutralize_banner is active");
    let login = http
        .get(format!("{}/web/login", server.base))
        .send()
        .await
        .expect("login page");
    assert!(login.status().is_success(), "{}", server.log_tail());
    let html = login.text().await.expect("html");
    assert!(
        html.contains("oe_neutralize_banner"),
        "the banner is rendered"
    );
    server.stop().await;

    // A checkout attempt finds no payment provider.
    let offered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_provider WHERE state IN ('enabled', 'test')",
    )
    .fetch_one(&pool)
    .await
    .expect("providers");
    assert_eq!(offered, 0);
    pool.close().await;
    let none = checkout_providers(&odoo.shell(&staging, CHECKOUT_PROBE).await);
    assert!(none.is_empty(), "staging's checkout offers {none:?}");

    drop_database(&odoo.admin_url, &staging).await;
    let _ = std::fs::remove_dir_all(fs.join(&staging));
    prod.drop_db().await;
    b.finish().await;
}
