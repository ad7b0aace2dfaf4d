//! Pure evaluation of every gate (no database): pass, fail, warn by severity, scope — against
//! the repository's SSOT and variants of it.

mod gates_support;

use gates_support::*;
use odooops::gates::{self, cron, db_count, limits, modules, smtp, Outcome, RunOptions};
use odooops::provider::postgres::ObjectCount;
use odooops::ssot::{GateParams, GateScope, GateType, MailMode, Severity, Stage};
use std::path::PathBuf;

fn count(tables: u64, sequences: u64) -> ObjectCount {
    ObjectCount {
        tables,
        sequences,
        total: tables + sequences,
    }
}

#[test]
fn db_object_count_boundary_and_default() {
    let p = GateParams::default();
    let v = db_count::evaluate(&count(6_000, 4_000), &p);
    assert_eq!(v.outcome, Outcome::Pass, "10,000 is allowed: {}", v.message);
    let v = db_count::evaluate(&count(6_000, 4_001), &p);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.measured["total"], 10_001);
    assert_eq!(v.threshold["max"], 10_000);
    let p = GateParams {
        max: Some(50),
        ..Default::default()
    };
    assert_eq!(
        db_count::evaluate(&count(40, 11), &p).outcome,
        Outcome::Fail
    );
}

fn cron_row(id: i64, active: bool, n: i64, unit: &str) -> cron::CronRow {
    cron::CronRow {
        id,
        name: format!("cron {id}"),
        active,
        interval_number: n,
        interval_type: unit.to_string(),
        failure_count: None,
    }
}

fn run(cron_id: i64, minute: u32, secs: f64) -> cron::CronRun {
    use chrono::TimeZone;
    cron::CronRun {
        cron_id,
        started_at: chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 12, minute, 0)
            .single(),
        duration_seconds: secs,
        timed_out_counter: None,
    }
}

fn limits_of(max_seconds: u64) -> cron::CronLimits {
    cron::CronLimits {
        max_seconds,
        min_interval_minutes: 5,
        auto_disable_after: 3,
        enforce: false,
    }
}

#[test]
fn cron_intervals_durations_and_auto_disable() {
    assert_eq!(cron::interval_minutes(2, "hours"), Some(120));
    assert_eq!(cron::interval_minutes(1, "fortnights"), None);

    let ok = cron::CronMeasure {
        crons: vec![
            cron_row(1, true, 5, "minutes"),
            cron_row(2, false, 1, "minutes"),
        ],
        runs: Some(vec![run(1, 0, 10.0), run(1, 5, 12.0)]),
        duration_source: Some("ir_cron_progress".into()),
    };
    let (v, ids) = cron::evaluate(&ok, &limits_of(900));
    assert_eq!(v.outcome, Outcome::Pass, "{}", v.message);
    assert!(ids.is_empty());

    // Same crons, no duration source: a warning, never a pass.
    let no_data = cron::CronMeasure {
        runs: None,
        duration_source: None,
        ..ok.clone()
    };
    let (v, _) = cron::evaluate(&no_data, &limits_of(900));
    assert_eq!(v.outcome, Outcome::Warn);
    assert!(v.message.contains("no duration data"), "{}", v.message);

    // Every minute (active) → fail.
    let frequent = cron::CronMeasure {
        crons: vec![cron_row(1, true, 1, "minutes")],
        ..ok.clone()
    };
    let (v, _) = cron::evaluate(&frequent, &limits_of(900));
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.details["tooFrequent"][0]["id"], 1);

    // One slow run, then fast ones: over maxSeconds but not to disable.
    let slow_once = cron::CronMeasure {
        runs: Some(vec![run(1, 0, 1000.0), run(1, 5, 10.0), run(1, 10, 10.0)]),
        ..ok.clone()
    };
    let (v, ids) = cron::evaluate(&slow_once, &limits_of(900));
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.details["overMaxSeconds"][0]["value"], 1000.0);
    assert!(ids.is_empty());

    // The last three runs all timed out → to disable.
    let stuck = cron::CronMeasure {
        runs: Some(vec![
            run(1, 0, 10.0),
            run(1, 5, 901.0),
            run(1, 10, 950.0),
            run(1, 15, 1200.0),
        ]),
        ..ok.clone()
    };
    let (v, ids) = cron::evaluate(&stuck, &limits_of(900));
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(ids, vec![1]);
    assert_eq!(v.details["toDisable"][0]["value"], 3.0);

    // Odoo's own timed_out_counter counts too.
    let mut counted = ok.clone();
    if let Some(rs) = counted.runs.as_mut() {
        rs[1].timed_out_counter = Some(3);
    }
    let (_, ids) = cron::evaluate(&counted, &limits_of(900));
    assert_eq!(ids, vec![1]);
}

#[test]
fn cron_limits_default_to_the_environment_cron_time_limit() {
    let ssot = repo_ssot();
    let prod = ssot.environment("production").expect("production");
    let l = cron::CronLimits::resolve(&GateParams::default(), prod);
    assert_eq!(l.max_seconds, 120, "limitTimeReal of production");
    assert_eq!(l.min_interval_minutes, 5);
    assert_eq!(l.auto_disable_after, 3);
    assert!(!l.enforce);
}

#[test]
fn smtp_policy_against_ssot_variants() {
    let ssot = repo_ssot();
    for e in ssot.environments() {
        let v = smtp::evaluate(&ssot, e);
        assert_eq!(
            v.outcome,
            Outcome::Pass,
            "{}: {}",
            e.metadata.name,
            v.message
        );
    }

    let mut bad = repo_ssot();
    {
        let staging = env_mut(&mut bad, "staging");
        staging.spec.mail.mode = MailMode::Smtp;
        staging.spec.mail.host = Some("smtp.mailgun.org".into());
        staging.spec.mail.port = Some(25);
        staging.spec.mail.password_secret = Some("SMTP_PASSWORD".into());
    }
    let staging = bad.environment("staging").expect("staging");
    let v = smtp::evaluate(&bad, staging);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(v.message.contains("mode catcher"), "{}", v.message);
    assert!(v.message.contains("port 25"), "{}", v.message);
    assert_eq!(v.measured["productionCredentialRefs"][0], "SMTP_PASSWORD");

    // A production credential in a dev environment's secrets list is a reference too.
    let mut leak = repo_ssot();
    env_mut(&mut leak, "dev-portal")
        .spec
        .secrets
        .push("SMTP_USER".into());
    let v = smtp::evaluate(&leak, leak.environment("dev-portal").expect("dev"));
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(v.message.contains("SMTP_USER"), "{}", v.message);

    // Port 25 fails in production as well.
    let mut p25 = repo_ssot();
    env_mut(&mut p25, "production").spec.mail.port = Some(25);
    let v = smtp::evaluate(&p25, p25.environment("production").expect("production"));
    assert_eq!(v.outcome, Outcome::Fail);
}

#[test]
fn resource_limits_against_ssot_variants() {
    let ssot = repo_ssot();
    let params = GateParams {
        max_memory_hard_mib: Some(4096),
        max_time_real: Some(300),
        ..Default::default()
    };
    for e in ssot.environments() {
        let v = limits::evaluate(e, &params);
        assert_eq!(
            v.outcome,
            Outcome::Pass,
            "{}: {}",
            e.metadata.name,
            v.message
        );
    }
    let mut bad = repo_ssot();
    {
        let s = env_mut(&mut bad, "staging");
        s.spec.odoo.workers = Some(3);
        s.spec.limits.max_workers = None;
        s.spec.odoo.limit_memory_hard_mib = Some(8192);
        s.spec.odoo.limit_time_real = Some(600);
    }
    let v = limits::evaluate(bad.environment("staging").expect("staging"), &params);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.measured["workers"], 3);
    assert!(v.message.contains("limited to one"), "{}", v.message);
    assert!(v.message.contains("8192"), "{}", v.message);
    assert!(v.message.contains("600"), "{}", v.message);
    // limits.maxWorkers caps what render::workers gives: the gate sees the capped value.
    let mut capped = repo_ssot();
    env_mut(&mut capped, "staging").spec.odoo.workers = Some(3);
    let v = limits::evaluate(capped.environment("staging").expect("staging"), &params);
    assert_eq!(v.outcome, Outcome::Pass, "{}", v.message);
    // Production may run several workers.
    let v = limits::evaluate(
        ssot.environment("production").expect("p"),
        &GateParams::default(),
    );
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(v.measured["workers"], 6);
}

#[test]
fn scope_and_severity() {
    let ssot = repo_ssot();
    let staging = ssot.environment("staging").expect("staging");
    let prod = ssot.environment("production").expect("production");
    let by_stage = GateScope {
        stages: vec![Stage::Staging, Stage::Development],
        ..Default::default()
    };
    assert!(gates::applies(&by_stage, staging));
    assert!(!gates::applies(&by_stage, prod));
    let by_name = GateScope {
        environments: vec!["production".into()],
        ..Default::default()
    };
    assert!(gates::applies(&by_name, prod) && !gates::applies(&by_name, staging));
    assert!(gates::applies(&GateScope::default(), staging));
    assert_eq!(
        gates::with_severity(Outcome::Fail, Severity::Warn),
        Outcome::Warn
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn run_without_database_skips_db_gates_and_applies_severity_and_scope() {
    let mut ssot = repo_ssot();
    let mut warn_limits = gate(
        "limits-warn",
        GateType::ResourceLimits,
        GateParams {
            max_time_real: Some(60),
            ..Default::default()
        },
    );
    warn_limits.spec.severity = Severity::Warn;
    warn_limits.spec.scope.environments = vec!["staging".into()];
    set_gates(
        &mut ssot,
        vec![
            gate("count", GateType::DbObjectCount, GateParams::default()),
            gate("crons", GateType::CronTimeout, GateParams::default()),
            gate("smtp", GateType::SmtpPolicy, GateParams::default()),
            warn_limits,
        ],
    );
    let report = rt()
        .block_on(gates::run(&ssot, &RunOptions::default(), None))
        .expect("run");
    let get = |g: &str, e: &str| {
        report
            .results
            .iter()
            .find(|r| r.gate == g && r.environment == e)
            .map(|r| r.outcome)
    };
    assert_eq!(get("count", "production"), Some(Outcome::Skipped));
    assert_eq!(get("crons", "staging"), Some(Outcome::Skipped));
    assert_eq!(get("smtp", "dev-portal"), Some(Outcome::Pass));
    // limit_time_real 120 > 60 fails, severity warn → warn; scoped to staging only.
    assert_eq!(get("limits-warn", "staging"), Some(Outcome::Warn));
    assert_eq!(get("limits-warn", "production"), None);
    assert!(!report.failed());
    assert_eq!(report.results.len(), 4 * 3 + 1);
}

/// Write an addon with a manifest under `root`.
fn addon(root: &std::path::Path, name: &str, depends: &[&str]) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let deps: Vec<String> = depends.iter().map(|d| format!("'{d}'")).collect();
    std::fs::write(
        dir.join("__manifest__.py"),
        format!(
            "{{'name': '{name}', 'version': '17.0.1.0.0', 'license': 'LGPL-3', 'depends': [{}]}}",
            deps.join(", ")
        ),
    )
    .expect("manifest");
}

#[test]
fn module_allowlist_graph_mode_on_the_example_addons_passes() {
    let ssot = repo_ssot();
    let opts = RunOptions {
        addons_paths: vec![PathBuf::from("examples/addons")],
        ..Default::default()
    };
    let rows = rt()
        .block_on(gates::run::evaluate(&ssot, &opts))
        .expect("evaluate");
    let m: Vec<_> = rows
        .iter()
        .filter(|r| r.gate_type == "module_allowlist")
        .collect();
    assert_eq!(m.len(), 4);
    for r in m {
        assert_eq!(r.outcome, Outcome::Pass, "{}: {}", r.environment, r.message);
        assert_eq!(r.measured["mode"], "graph");
    }
}

#[test]
fn module_allowlist_flags_unlisted_modules_and_missing_dependencies() {
    let tmp = tempfile::tempdir().expect("tmp");
    addon(tmp.path(), "acme_base", &["base", "mail"]);
    addon(tmp.path(), "acme_sale", &["sale_management", "acme_base"]);
    // acme_portal pulls in a module outside the allowlist and one that exists nowhere.
    addon(
        tmp.path(),
        "acme_portal",
        &["portal", "acme_sale", "shady_tracker", "ghost_dep"],
    );
    addon(tmp.path(), "shady_tracker", &["web"]);
    addon(tmp.path(), "acme_stock_rules", &["stock", "acme_base"]);
    addon(tmp.path(), "web_responsive", &["web"]);
    let ssot = repo_ssot();
    let env = ssot.environment("staging").expect("staging");
    let allow = modules::Allowlist::for_env(&ssot, env).expect("allowlist");
    assert!(allow.allows("sale_management") && allow.allows("acme_portal"));
    assert!(!allow.allows("shady_tracker"));
    let index = odooops::odoo::graph::discover(&[tmp.path().to_path_buf()]).expect("discover");
    let selection = modules::ssot_selection(env, &allow);
    let deps = modules::resolve(&index, &selection, &allow.series).expect("deps");
    let v = modules::evaluate("graph", &allow, &selection, Some(&deps));
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(v.message.contains("shady_tracker"), "{}", v.message);
    assert!(
        v.message.contains("missing") && v.message.contains("ghost_dep"),
        "{}",
        v.message
    );
    assert_eq!(v.measured["missing"], 1);

    // corePolicy listed-only: the core addons must be listed too.
    let mut strict = allow.clone();
    strict.core_policy = odooops::ssot::CorePolicy::ListedOnly;
    let v = modules::evaluate("ssot", &strict, &["acme_base".into(), "mail".into()], None);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        v.message.contains("mail") && !v.message.contains("acme_base,"),
        "{}",
        v.message
    );
    let v = modules::evaluate("ssot", &allow, &["acme_base".into(), "mail".into()], None);
    assert_eq!(v.outcome, Outcome::Pass);
}

#[test]
fn evaluation_is_stable_under_reordering_of_facts() {
    let crons: Vec<cron::CronRow> = (1..=8)
        .map(|i| cron_row(i, i % 3 != 0, if i % 2 == 0 { 1 } else { 30 }, "minutes"))
        .collect();
    let mut runs = Vec::new();
    for i in 1..=8 {
        for m in 0..5u32 {
            runs.push(run(
                i,
                m * 10,
                if (i + m as i64) % 4 == 0 {
                    10.0
                } else {
                    1000.0
                },
            ));
        }
    }
    let base = cron::CronMeasure {
        crons,
        runs: Some(runs),
        duration_source: Some("ir_cron_progress".into()),
    };
    let expected = cron::evaluate(&base, &limits_of(900));
    assert_eq!(expected.0.outcome, Outcome::Fail);
    let ssot = repo_ssot();
    let allow = modules::Allowlist::for_env(&ssot, ssot.environment("staging").expect("s"))
        .expect("allowlist");
    let names: Vec<String> = ["base", "shady", "acme_sale", "mail", "zz_other", "sale"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let expected_m = modules::evaluate("ssot", &allow, &names, None);
    let mut rng = fastrand::Rng::with_seed(12);
    for _ in 0..50 {
        let mut m = base.clone();
        rng.shuffle(&mut m.crons);
        if let Some(r) = m.runs.as_mut() {
            rng.shuffle(r);
        }
        assert_eq!(cron::evaluate(&m, &limits_of(900)), expected);
        let mut n = names.clone();
        rng.shuffle(&mut n);
        assert_eq!(modules::evaluate("ssot", &allow, &n, None), expected_m);
    }
}
