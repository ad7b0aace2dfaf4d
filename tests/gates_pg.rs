//! The PostgreSQL adapter and the database gates against the real local PostgreSQL
//! (ODOOOPS_TEST_DATABASE_URL): one throw-away database per test, dropped after.

mod common;
mod gates_support;

use gates_support::*;
use odooops::gates::{self, Outcome, RunOptions};
use odooops::provider::postgres::{self, Ensured, PgServer};
use odooops::ssot::{GateParams, GateType};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[tokio::test]
async fn adapter_lists_and_ensures_idempotently() {
    let Some(admin) = admin_url() else { return };
    let server = PgServer::connect(&admin).await.expect("connect");
    let db = format!("odooops_gates_{}", uuid::Uuid::new_v4().simple());
    let role = format!(
        "odooops_role_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    assert_eq!(
        server.ensure_database(&db, None).await.expect("create"),
        Ensured::Created
    );
    assert_eq!(
        server.ensure_database(&db, None).await.expect("again"),
        Ensured::Exists
    );
    assert!(server.list_databases().await.expect("list").contains(&db));
    assert_eq!(
        server
            .ensure_role(&role, true, Some("pw'with\"quotes"))
            .await
            .expect("role"),
        Ensured::Created
    );
    assert_eq!(
        server
            .ensure_role(&role, true, None)
            .await
            .expect("role again"),
        Ensured::Exists
    );
    assert!(server.list_roles().await.expect("roles").contains(&role));
    assert!(!server
        .list_roles()
        .await
        .expect("roles")
        .iter()
        .any(|r| r.starts_with("pg_")));
    // A name needing quotes is created as written, not injected.
    let odd = format!("Odd \"name\"; {}", &db[..20]);
    assert_eq!(
        server.ensure_database(&odd, None).await.expect("odd"),
        Ensured::Created
    );
    assert!(server.database_exists(&odd).await.expect("exists"));
    let exts = server.list_extensions().await.expect("extensions");
    assert!(exts.iter().any(|e| e.name == "plpgsql"), "{exts:?}");
    // A fresh database has no tables or sequences of its own.
    let c = server.object_count_of(&admin, &db).await.expect("count");
    assert_eq!((c.tables, c.sequences, c.total), (0, 0, 0));
    server.drop_database(&odd).await.expect("drop odd");
    server.drop_database(&db).await.expect("drop");
    server.drop_role(&role).await.expect("drop role");
    assert!(!server.database_exists(&db).await.expect("gone"));
    server.close().await;
}

#[tokio::test]
async fn object_count_counts_tables_partitions_and_sequences_only() {
    let Some(admin) = admin_url() else { return };
    let db = ScratchDb::create(&admin).await;
    db.exec(
        "CREATE SCHEMA extra;
         CREATE TABLE a (id serial PRIMARY KEY);            -- 1 table + 1 sequence
         CREATE TABLE extra.b (id int);                      -- 1 table
         CREATE TABLE p (k int) PARTITION BY RANGE (k);      -- 1 partitioned table
         CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);  -- 1 table
         CREATE SEQUENCE s;                                  -- 1 sequence
         CREATE VIEW v AS SELECT 1;                          -- not counted
         CREATE INDEX ON extra.b (id);                       -- not counted",
    )
    .await;
    let c = postgres::object_count(&db.url).await.expect("count");
    assert_eq!((c.tables, c.sequences, c.total), (4, 2, 6));
    db.finish().await;
}

fn count_ssot() -> odooops::ssot::Ssot {
    let mut ssot = repo_ssot();
    set_gates(
        &mut ssot,
        vec![gate(
            "db-object-count",
            GateType::DbObjectCount,
            GateParams::default(),
        )],
    );
    ssot
}

fn opts_for(env: &str, url: &str) -> RunOptions {
    RunOptions {
        environment: Some(env.to_string()),
        databases: BTreeMap::from([(env.to_string(), url.to_string())]),
        ..Default::default()
    }
}

#[tokio::test]
async fn db_object_count_above_and_below_ten_thousand() {
    let Some(admin) = admin_url() else { return };
    let db = ScratchDb::create(&admin).await;
    db.exec("DO $$ BEGIN FOR i IN 1..9999 LOOP EXECUTE format('CREATE SEQUENCE s_%s', i); END LOOP; END $$;")
        .await;
    db.exec("CREATE TABLE t (id int)").await;
    let ssot = count_ssot();
    let r = gates::run(&ssot, &opts_for("production", &db.url), None)
        .await
        .expect("run");
    assert_eq!(r.results.len(), 1);
    assert_eq!(
        r.results[0].outcome,
        Outcome::Pass,
        "{}",
        r.results[0].message
    );
    assert_eq!(r.results[0].measured["total"], 10_000);

    db.exec("CREATE SEQUENCE s_10000").await;
    let r = gates::run(&ssot, &opts_for("production", &db.url), None)
        .await
        .expect("run");
    assert_eq!(
        r.results[0].outcome,
        Outcome::Fail,
        "{}",
        r.results[0].message
    );
    assert_eq!(r.results[0].measured["sequences"], 10_000);
    assert_eq!(r.results[0].measured["total"], 10_001);
    assert!(r.failed());

    // Not an Odoo database: the cron gate cannot measure, so it fails (never passes).
    let r = gates::run(&cron_ssot(false), &opts_for("production", &db.url), None)
        .await
        .expect("run");
    assert_eq!(r.results[0].outcome, Outcome::Fail);
    assert!(
        r.results[0].message.contains("is this an Odoo database"),
        "{}",
        r.results[0].message
    );
    db.finish().await;
}

#[tokio::test]
async fn unreachable_database_fails_rather_than_passes() {
    let ssot = count_ssot();
    let r = gates::run(
        &ssot,
        &opts_for("production", "postgres://nobody@127.0.0.1:1/none"),
        None,
    )
    .await
    .expect("run");
    assert_eq!(r.results[0].outcome, Outcome::Fail);
    assert!(
        r.results[0].message.contains("could not measure"),
        "{}",
        r.results[0].message
    );
}

fn cron_ssot(enforce: bool) -> odooops::ssot::Ssot {
    let mut ssot = repo_ssot();
    set_gates(
        &mut ssot,
        vec![gate(
            "cron-timeout",
            GateType::CronTimeout,
            GateParams {
                max_seconds: Some(900),
                min_interval_minutes: Some(5),
                auto_disable_after: Some(3),
                enforce: Some(enforce),
                ..Default::default()
            },
        )],
    );
    ssot
}

async fn active(db: &ScratchDb, id: i32) -> bool {
    let pool = postgres::connect_database(&db.url).await.expect("connect");
    let (a,): (bool,) = sqlx::query_as("SELECT active FROM ir_cron WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("cron");
    pool.close().await;
    a
}

#[tokio::test]
async fn cron_timeout_passes_on_the_fixture_then_detects_and_enforces() {
    let Some(admin) = admin_url() else { return };
    let db = ScratchDb::odoo(&admin).await;
    let r = gates::run(&cron_ssot(true), &opts_for("production", &db.url), None)
        .await
        .expect("run");
    assert_eq!(
        r.results[0].outcome,
        Outcome::Pass,
        "{}",
        r.results[0].message
    );
    assert_eq!(r.results[0].measured["active"], 5);

    // Cron 4 now runs every 2 minutes; cron 3 timed out on its last three runs.
    db.exec(
        "UPDATE ir_cron SET interval_number = 2 WHERE id = 4;
         INSERT INTO ir_cron_progress (cron_id, create_date, write_date) VALUES
           (3, '2026-11-26 01:00:00', '2026-11-26 01:16:00'),
           (3, '2026-11-27 01:00:00', '2026-11-27 01:20:00'),
           (3, '2026-11-28 01:00:00', '2026-11-28 01:15:01');",
    )
    .await;
    // Report only: nothing changes in the database.
    let r = gates::run(&cron_ssot(false), &opts_for("production", &db.url), None)
        .await
        .expect("run");
    let row = &r.results[0];
    assert_eq!(row.outcome, Outcome::Fail);
    assert_eq!(row.details["tooFrequent"][0]["id"], 4);
    assert_eq!(row.details["toDisable"][0]["id"], 3);
    assert!(
        active(&db, 3).await,
        "enforce: false leaves the cron active"
    );

    // Enforce: cron 3 is disabled and the evidence says so.
    let r = gates::run(&cron_ssot(true), &opts_for("production", &db.url), None)
        .await
        .expect("run");
    let row = &r.results[0];
    assert_eq!(row.outcome, Outcome::Fail);
    assert_eq!(row.details["disabled"][0]["id"], 3);
    assert_eq!(
        row.details["disabled"][0]["name"],
        "Procurement: run scheduler"
    );
    assert_eq!(row.measured["disabled"], 1);
    assert!(
        row.message
            .contains("disabled Procurement: run scheduler (#3)"),
        "{}",
        row.message
    );
    assert!(!active(&db, 3).await, "enforce: true sets active = false");
    assert!(
        active(&db, 4).await,
        "a too-frequent cron is reported, not disabled"
    );

    // Once cron 4 is back to 15 minutes, the environment is in policy again: the disabled
    // cron's slow history is reported as inactive, not failed on.
    db.exec("UPDATE ir_cron SET interval_number = 15 WHERE id = 4")
        .await;
    let r = gates::run(&cron_ssot(true), &opts_for("production", &db.url), None)
        .await
        .expect("run");
    let row = &r.results[0];
    assert_eq!(row.outcome, Outcome::Pass, "{}", row.message);
    assert_eq!(row.details["inactiveOverMaxSeconds"][0]["id"], 3);
    assert!(
        row.details.get("disabled").is_none(),
        "nothing left to disable"
    );

    // Without ir_cron_progress: a warning "no duration data", not a pass.
    db.exec("DROP TABLE ir_cron_progress").await;
    let r = gates::run(&cron_ssot(false), &opts_for("production", &db.url), None)
        .await
        .expect("run");
    assert_eq!(
        r.results[0].outcome,
        Outcome::Warn,
        "{}",
        r.results[0].message
    );
    assert!(r.results[0].message.contains("no duration data"));
    db.finish().await;
}

fn module_ssot() -> odooops::ssot::Ssot {
    let mut ssot = repo_ssot();
    set_gates(
        &mut ssot,
        vec![gate(
            "module-allowlist",
            GateType::ModuleAllowlist,
            GateParams::default(),
        )],
    );
    ssot
}

#[tokio::test]
async fn module_allowlist_database_mode() {
    let Some(admin) = admin_url() else { return };
    let db = ScratchDb::odoo(&admin).await;
    let mut opts = opts_for("production", &db.url);
    opts.addons_paths = vec![PathBuf::from("examples/addons")];
    let r = gates::run(&module_ssot(), &opts, None).await.expect("run");
    let row = &r.results[0];
    assert_eq!(row.outcome, Outcome::Pass, "{}", row.message);
    assert_eq!(row.measured["mode"], "database+graph");
    assert_eq!(
        row.measured["modules"], 22,
        "installed + to install + to upgrade"
    );

    // An installed module outside the allowlist, and one whose code is nowhere.
    db.exec(
        "INSERT INTO ir_module_module (name, state) VALUES
           ('shady_tracker', 'installed'), ('hr', 'to install') ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state;",
    )
    .await;
    let r = gates::run(&module_ssot(), &opts, None).await.expect("run");
    let row = &r.results[0];
    assert_eq!(row.outcome, Outcome::Fail);
    assert!(row.message.contains("shady_tracker"), "{}", row.message);
    assert!(
        !row.message.contains("hr,"),
        "hr is core 17.0: {}",
        row.message
    );
    assert_eq!(row.details["deps"]["missing"][0], "shady_tracker");

    // Without addons paths: the allowlist only.
    opts.addons_paths.clear();
    let r = gates::run(&module_ssot(), &opts, None).await.expect("run");
    assert_eq!(r.results[0].measured["mode"], "database");
    assert_eq!(r.results[0].outcome, Outcome::Fail);
    db.finish().await;
}

#[tokio::test]
async fn enforcement_is_recorded_in_the_ledger_before_and_after() {
    let Some(admin) = admin_url() else { return };
    let db = ScratchDb::odoo(&admin).await;
    db.exec(
        "INSERT INTO ir_cron_progress (cron_id, create_date, write_date, timed_out_counter) VALUES
           (2, '2026-11-26 01:00:00', '2026-11-26 01:30:00', 3);",
    )
    .await;
    let store = common::sqlite().await;
    let r = gates::run(
        &cron_ssot(true),
        &opts_for("staging", &db.url),
        Some(&store.store),
    )
    .await
    .expect("run");
    let run_id = r.run_id.expect("run id");
    assert_eq!(r.results[0].details["disabled"][0]["id"], 2);
    let action = store
        .store
        .ledger_get(&format!("gate:{run_id}:staging:ir_cron:2:disable"))
        .await
        .expect("ledger")
        .expect("action row");
    assert_eq!(action.status, "succeeded");
    assert_eq!(action.operation, "disable");
    assert_eq!(action.resource_name, "staging/2");
    assert_eq!(
        action.response_summary.as_ref().expect("response")["disabled"],
        true
    );
    assert!(!active(&db, 2).await);
    store.finish().await;
    db.finish().await;
}
