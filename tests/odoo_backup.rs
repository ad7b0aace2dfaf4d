//! Backups, restore, prune and clone against a real PostgreSQL (Odoo-shaped fixture
//! databases) with the real `pg_dump`/`pg_restore`, on both evidence-store backends.
//! Needs ODOOOPS_TEST_DATABASE_URL (skips with a note otherwise; fails when CI=true).

mod common;
mod support;

use chrono::{Duration, Utc};
use odooops::odoo::backup::{
    self, BackupError, BackupKind, BackupRequest, CloneRequest, PruneRequest, RestoreRequest,
};
use odooops::odoo::neutralize::{self, RulesChoice};
use odooops::ssot::{Limits, Resource, Retention, Ssot};
use odooops::store::{BackupDetails, EventFilter, NewBackup, Store, Trigger};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::odoo_fixture::{with_database, OdooFixture};
use uuid::Uuid;

fn ssot() -> Ssot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    odooops::ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("examples/quickstart is valid")
}

fn example_addons() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/addons")]
}

fn admin() -> String {
    std::env::var("ODOOOPS_TEST_DATABASE_URL").expect("set")
}

/// Databases whose name starts with `prefix`.
async fn databases_like(prefix: &str) -> Vec<String> {
    let mut c = sqlx::PgConnection::connect(&admin()).await.expect("admin");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    )
    .bind(prefix)
    .fetch_all(&mut c)
    .await
    .expect("list databases");
    let _ = c.close().await;
    names
}

async fn drop_db(name: &str) {
    let mut c = sqlx::PgConnection::connect(&admin()).await.expect("admin");
    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut c)
        .await;
    let _ = c.close().await;
}

async fn scalar_text(url: &str, sql: &str) -> Option<String> {
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    let v: Option<String> = sqlx::query_scalar(sql)
        .fetch_optional(&mut c)
        .await
        .expect("query")
        .flatten();
    let _ = c.close().await;
    v
}

async fn scalar_i64(url: &str, sql: &str) -> i64 {
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    let v: i64 = sqlx::query_scalar(sql)
        .fetch_one(&mut c)
        .await
        .expect("query");
    let _ = c.close().await;
    v
}

async fn messages(store: &Store, run_id: Uuid) -> Vec<String> {
    store
        .events(&EventFilter {
            run_id: Some(run_id),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.message)
        .collect()
}

fn backup_req(env: &str, url: &str, kind: BackupKind) -> BackupRequest {
    let mut r = BackupRequest::new(env, kind);
    r.db_url = Some(url.to_string());
    r
}

#[tokio::test]
async fn backup_list_download_restore_verifies_and_swaps() {
    let Some(probe) = support::odoo_fixture::test_database_url("backup_restore") else {
        return;
    };
    drop(probe);
    let ssot = ssot();
    for b in common::backends().await {
        let db = OdooFixture::create("backup_restore")
            .await
            .expect("fixture");
        let fs = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(fs.path().join("3f")).expect("mkdir");
        std::fs::write(fs.path().join("3f/3f2a9c"), b"attachment bytes").expect("write");
        let expected_objects = odooops::provider::postgres::object_count(&db.url)
            .await
            .expect("count")
            .total;
        let server_version = scalar_text(&db.url, "SELECT current_setting('server_version')")
            .await
            .expect("version");

        let mut req = backup_req("production", &db.url, BackupKind::Scheduled);
        req.filestore = Some(fs.path().to_path_buf());
        let o = backup::run_backup(&b.store, &ssot, &req)
            .await
            .unwrap_or_else(|e| panic!("{}: backup: {e}", b.name));
        let m = &o.manifest;
        assert_eq!(m["odoo_version"], "17.0.1.3", "{}", b.name);
        assert_eq!(m["postgres_version"], server_version.as_str());
        assert_eq!(m["objects"], expected_objects);
        assert_eq!(m["kind"], "scheduled");
        let modules: Vec<String> = m["modules"]
            .as_array()
            .expect("modules")
            .iter()
            .map(|v| {
                format!(
                    "{}={}",
                    v["name"].as_str().unwrap_or(""),
                    v["version"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(modules.len(), 13, "{modules:?}");
        assert!(modules.contains(&"acme_sale=17.0.1.2.0".to_string()));
        assert!(!modules.iter().any(|s| s.starts_with("hr_holidays=")));
        assert!(o.dump_bytes > 1000);

        // list: the row carries the manifest, the artifacts exist and hash to their ids.
        let rows = b.store.backups(Some("production"), 10).await.expect("list");
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!((row.id, row.kind.as_str()), (o.backup_id, "scheduled"));
        assert_eq!(row.manifest, o.manifest);
        assert_eq!(row.run_id, Some(o.run_id));
        let (meta, bytes) = b
            .store
            .read_artifact(row.manifest_sha256.as_deref().expect("manifest sha"))
            .await
            .expect("manifest artifact");
        assert_eq!(
            meta.media_type,
            "application/vnd.odooops.backup-manifest+json"
        );
        let stored: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(stored, o.manifest);
        let (_, tarball) = b
            .store
            .read_artifact(row.filestore_sha256.as_deref().expect("filestore sha"))
            .await
            .expect("filestore artifact");
        let mut ar = tar::Archive::new(&tarball[..]);
        let mut found = false;
        for e in ar.entries().expect("tar") {
            let mut e = e.expect("entry");
            if e.path().expect("path").ends_with("3f/3f2a9c") {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).expect("read");
                assert_eq!(s, "attachment bytes");
                found = true;
            }
        }
        assert!(found, "the filestore file is in the tarball");
        // The password never reaches the evidence (the URL has none here; the server is shown).
        let run = b.store.run(o.run_id).await.expect("run").expect("row");
        assert_eq!(run.status, "succeeded");

        // download: sha256 verified while copying.
        let out = b.dir.path().join("prod.dump");
        let (sha, n) = backup::download(&b.store, &ssot, o.backup_id, &out)
            .await
            .expect("download");
        assert_eq!((sha.as_str(), n), (o.dump_sha256.as_str(), o.dump_bytes));
        let on_disk = hex::encode(Sha256::digest(std::fs::read(&out).expect("read")));
        assert_eq!(on_disk, o.dump_sha256);
        // A corrupted artifact is refused and nothing is left at --out.
        let blob = b
            .dir
            .path()
            .join("artifacts")
            .join(&o.dump_sha256[..2])
            .join(&o.dump_sha256);
        let good = std::fs::read(&blob).expect("blob");
        let mut bad = good.clone();
        bad[100] ^= 0xff;
        std::fs::write(&blob, &bad).expect("corrupt");
        let out2 = b.dir.path().join("bad.dump");
        let err = backup::download(&b.store, &ssot, o.backup_id, &out2)
            .await
            .expect_err("corrupt blob refused");
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(!out2.exists());
        std::fs::write(&blob, &good).expect("repair");

        // Change the live database after the backup; the restore must bring the backup back.
        db.exec("INSERT INTO ir_config_parameter (key, value) VALUES ('after.backup', 'x')")
            .await;
        // The filestore changed too: restored from the tarball, the previous one kept.
        std::fs::write(fs.path().join("3f/3f2a9c"), b"changed after the backup").expect("write");
        let mut r = RestoreRequest::new(o.backup_id, "production");
        r.db_url = Some(db.url.clone());
        r.filestore = Some(fs.path().to_path_buf());
        let ro = backup::restore(&b.store, &ssot, &r)
            .await
            .unwrap_or_else(|e| panic!("{}: restore: {e}", b.name));
        assert!(ro.verification.ok);
        assert_eq!(ro.verification.actual_objects, expected_objects);
        assert_eq!(ro.verification.actual_modules, 13);
        assert!(!ro.neutralized, "production restores are not neutralized");
        assert!(ro.filestore_restored);
        assert_eq!(
            std::fs::read_to_string(fs.path().join("3f/3f2a9c")).expect("restored file"),
            "attachment bytes"
        );
        let old_fs = PathBuf::from(ro.old_filestore.clone().expect("old filestore kept"));
        assert_eq!(
            std::fs::read_to_string(old_fs.join("3f/3f2a9c")).expect("old file"),
            "changed after the backup"
        );
        let _ = std::fs::remove_dir_all(&old_fs);
        assert_eq!(ro.database, db.name);
        let old = ro.old_database.clone().expect("old database kept");
        assert!(old.starts_with(&format!("{}_old_", db.name)), "{old}");
        let count_after = "SELECT count(*) FROM ir_config_parameter WHERE key = 'after.backup'";
        assert_eq!(scalar_i64(&db.url, count_after).await, 0, "swapped in");
        assert_eq!(
            scalar_i64(&with_database(&db.url, &old), count_after).await,
            1,
            "the old database is kept intact"
        );
        assert!(databases_like(&format!("{}_restore_", db.name))
            .await
            .is_empty());
        let msgs = messages(&b.store, ro.run_id).await;
        assert!(msgs.iter().any(|m| m.starts_with("verified: ")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.starts_with("swapped: ")), "{msgs:?}");
        drop_db(&old).await;
        db.drop_db().await;
        b.finish().await;
    }
}

#[tokio::test]
async fn a_verification_mismatch_drops_the_copy_and_leaves_the_old_database() {
    let Some(_) = support::odoo_fixture::test_database_url("restore_mismatch") else {
        return;
    };
    let ssot = ssot();
    for b in common::backends().await {
        let db = OdooFixture::create("restore_mismatch")
            .await
            .expect("fixture");
        let o = backup::run_backup(
            &b.store,
            &ssot,
            &backup_req("production", &db.url, BackupKind::Manual),
        )
        .await
        .expect("backup");
        // The manifest says one object more than the dump holds.
        let wrong = o.manifest["objects"].as_i64().expect("objects") + 1;
        match b.name {
            "postgres" => {
                let mut c = sqlx::PgConnection::connect(&b.url).await.expect("store db");
                sqlx::query("UPDATE ops.backups SET manifest = jsonb_set(manifest, '{objects}', to_jsonb($1::bigint)) WHERE id = $2")
                    .bind(wrong).bind(o.backup_id).execute(&mut c).await.expect("tamper");
                let _ = c.close().await;
            }
            _ => {
                let mut c = sqlx::SqliteConnection::connect(&b.url)
                    .await
                    .expect("store db");
                sqlx::query("UPDATE ops_backups SET manifest = json_set(manifest, '$.objects', $1) WHERE id = $2")
                    .bind(wrong).bind(o.backup_id).execute(&mut c).await.expect("tamper");
                let _ = c.close().await;
            }
        }
        db.exec("INSERT INTO ir_config_parameter (key, value) VALUES ('after.backup', 'x')")
            .await;
        let before = db.snapshot().await;
        let mut r = RestoreRequest::new(o.backup_id, "production");
        r.db_url = Some(db.url.clone());
        let err = backup::restore(&b.store, &ssot, &r)
            .await
            .expect_err("mismatch refused");
        assert!(matches!(err, BackupError::Verification(_)), "{err}");
        assert!(
            err.to_string().contains(&format!("manifest {wrong}")),
            "{err}"
        );
        assert_eq!(db.snapshot().await, before, "old database untouched");
        assert!(
            databases_like(&format!("{}_", db.name)).await.is_empty(),
            "no copy left, no swap"
        );
        let run = b
            .store
            .recent_runs(10)
            .await
            .expect("runs")
            .into_iter()
            .find(|r| r.kind == "restore")
            .expect("restore run");
        assert_eq!(run.status, "failed");
        let msgs = messages(&b.store, run.id).await;
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("verification failed: tables + sequences")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("dropped") && m.contains("untouched")),
            "{msgs:?}"
        );
        db.drop_db().await;
        b.finish().await;
    }
}

/// Seed a backup row with its own artifacts, taken at `at`.
async fn seed(
    store: &Store,
    env: &str,
    kind: &str,
    at: chrono::DateTime<Utc>,
    shared: &str,
) -> (Uuid, String) {
    let dump = store
        .put_artifact(
            format!("dump {env} {kind} {at}").as_bytes(),
            "application/octet-stream",
            None,
        )
        .await
        .expect("dump");
    let row = store
        .record_backup_details(
            &NewBackup {
                job_id: None,
                environment: env.into(),
                kind: kind.into(),
                size_bytes: dump.size_bytes,
                sha256: dump.sha256.clone(),
                location: dump.storage_uri.clone(),
                retention_class: "daily".into(),
                expires_at: None,
            },
            &BackupDetails {
                manifest_sha256: Some(shared.to_string()),
                ..Default::default()
            },
        )
        .await
        .expect("row");
    (row.id, dump.sha256)
}

#[tokio::test]
async fn prune_applies_the_policy_to_a_seeded_history() {
    let ssot = ssot(); // production: Odoo.sh's 7 daily / 4 weekly / 3 monthly, 5 manual kept
    for b in common::backends().await {
        let now = Utc::now();
        let shared = b
            .store
            .put_artifact(b"{\"shared\": true}", "application/json", None)
            .await
            .expect("shared")
            .sha256;
        let mut seeded = Vec::new();
        for day in 0..120 {
            seeded.push(
                seed(
                    &b.store,
                    "production",
                    "scheduled",
                    now - Duration::days(day),
                    &shared,
                )
                .await,
            );
        }
        for i in 0..8 {
            seeded.push(
                seed(
                    &b.store,
                    "production",
                    "manual",
                    now - Duration::hours(3 * i + 1),
                    &shared,
                )
                .await,
            );
        }
        // Backdate rows: created_at is set by the store, the history needs the past.
        for (i, (id, _)) in seeded.iter().enumerate() {
            let at = if i < 120 {
                now - Duration::days(i as i64)
            } else {
                now - Duration::hours(3 * (i as i64 - 120) + 1)
            };
            match b.name {
                "postgres" => {
                    let mut c = sqlx::PgConnection::connect(&b.url).await.expect("db");
                    sqlx::query("UPDATE ops.backups SET created_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(id)
                        .execute(&mut c)
                        .await
                        .expect("backdate");
                    let _ = c.close().await;
                }
                _ => {
                    let mut c = sqlx::SqliteConnection::connect(&b.url).await.expect("db");
                    sqlx::query("UPDATE ops_backups SET created_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(id)
                        .execute(&mut c)
                        .await
                        .expect("backdate");
                    let _ = c.close().await;
                }
            }
        }
        let req = PruneRequest {
            environment: Some("production".into()),
            dry_run: true,
            now,
            trigger: Trigger::Cli,
            actor: "test".into(),
        };
        let dry = backup::prune(&b.store, &ssot, &req).await.expect("dry run");
        assert_eq!(
            b.store
                .backups(Some("production"), 1000)
                .await
                .expect("list")
                .len(),
            128,
            "dry run deletes nothing"
        );
        let real = backup::prune(
            &b.store,
            &ssot,
            &PruneRequest {
                dry_run: false,
                ..req.clone()
            },
        )
        .await
        .expect("prune");
        let (d, r) = (&dry.environments[0], &real.environments[0]);
        assert_eq!(
            (&d.keep, &d.prune),
            (&r.keep, &r.prune),
            "dry run predicts the real run"
        );
        let kept = b
            .store
            .backups(Some("production"), 1000)
            .await
            .expect("list");
        let manual: Vec<_> = kept.iter().filter(|k| k.kind == "manual").collect();
        assert_eq!(manual.len(), 5, "manualKeep 5");
        assert!(manual.iter().all(|k| k.retention_class == "manual"));
        let auto = kept.iter().filter(|k| k.kind == "scheduled").count();
        // 7 daily + up to 4 weekly + up to 3 monthly, days overlapping: between 7 and 14.
        assert!((7..=14).contains(&auto), "{auto} automatic kept");
        assert_eq!(kept.len(), r.keep.len());
        assert_eq!(r.prune.len(), 128 - kept.len());
        assert!(
            kept.iter().any(|k| k.created_at > now - Duration::hours(1)),
            "newest kept"
        );
        // Pruned dumps are gone (row and blob); kept ones and the shared manifest remain.
        let kept_ids: BTreeSet<Uuid> = kept.iter().map(|k| k.id).collect();
        for (id, sha) in &seeded {
            let present = b.store.artifact(sha).await.expect("artifact").is_some();
            let blob = b.store.artifact_store().exists(sha).await.expect("exists");
            assert_eq!(
                (present, blob),
                (kept_ids.contains(id), kept_ids.contains(id)),
                "{id}"
            );
        }
        assert!(
            b.store.artifact(&shared).await.expect("shared").is_some(),
            "shared artifact kept"
        );
        assert_eq!(r.artifacts_deleted.len(), r.prune.len());
        let run = b
            .store
            .run(real.run_id.expect("run"))
            .await
            .expect("run")
            .expect("row");
        assert_eq!(run.summary["pruned"], r.prune.len());

        // With a zero policy the newest successful backup still survives.
        let mut zero = ssot.clone();
        for res in zero.resources.iter_mut() {
            if let Resource::BackupPolicy(p) = res {
                p.spec.retention = Retention {
                    daily: 0,
                    weekly: 0,
                    monthly: 0,
                    manual_per_day: 5,
                    manual_keep: 0,
                };
            }
        }
        backup::prune(
            &b.store,
            &zero,
            &PruneRequest {
                dry_run: false,
                ..req
            },
        )
        .await
        .expect("prune to the bone");
        let left = b
            .store
            .backups(Some("production"), 1000)
            .await
            .expect("list");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].retention_class, "newest");
        assert!(left[0].created_at > now - Duration::hours(2));
        b.finish().await;
    }
}

#[tokio::test]
async fn clone_neutralizes_the_copy_and_the_post_check_passes() {
    let Some(_) = support::odoo_fixture::test_database_url("clone") else {
        return;
    };
    let ssot = ssot();
    for b in common::backends().await {
        let prod = OdooFixture::create("clone_prod").await.expect("prod");
        let staging = OdooFixture::create("clone_staging").await.expect("staging");
        staging
            .exec("INSERT INTO ir_config_parameter (key, value) VALUES ('staging.only', 'x')")
            .await;
        let prod_before = prod.snapshot().await;
        let mut req = CloneRequest::new("production", "staging");
        req.db_from = Some(prod.url.clone());
        req.db_to = Some(staging.url.clone());
        req.addons_paths = example_addons();
        // A fixture database, not a real Odoo one: the built-in rules stand in for its scripts.
        req.rules = RulesChoice::Builtin;
        let fs_from = tempfile::tempdir().expect("tmp");
        std::fs::write(fs_from.path().join("prod-attachment"), b"prod file").expect("write");
        let fs_to = tempfile::tempdir().expect("tmp");
        std::fs::write(fs_to.path().join("staging-only"), b"staging file").expect("write");
        req.filestore_from = Some(fs_from.path().to_path_buf());
        req.filestore_to = Some(fs_to.path().to_path_buf());
        let o = backup::clone(&b.store, &ssot, &req)
            .await
            .unwrap_or_else(|e| panic!("{}: clone: {e}", b.name));
        assert!(o.fresh_backup && o.verification.ok && o.filestore_restored);
        assert_eq!(
            std::fs::read(fs_to.path().join("prod-attachment")).expect("copied"),
            b"prod file"
        );
        assert!(
            !fs_to.path().join("staging-only").exists(),
            "the target's filestore was replaced"
        );
        let old_fs = PathBuf::from(o.old_filestore.clone().expect("old filestore kept"));
        assert!(old_fs.join("staging-only").exists());
        let _ = std::fs::remove_dir_all(&old_fs);
        assert_eq!(
            prod.snapshot().await,
            prod_before,
            "the source is untouched"
        );
        // The target now serves a neutralized copy of production.
        assert!(neutralize::verify_url(&staging.url)
            .await
            .expect("verify")
            .is_empty());
        assert_eq!(
            scalar_i64(
                &staging.url,
                "SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host <> 'invalid'"
            )
            .await,
            0
        );
        assert_eq!(
            scalar_text(
                &staging.url,
                "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
            )
            .await
            .as_deref(),
            Some("true")
        );
        assert_eq!(
            scalar_i64(
                &staging.url,
                "SELECT count(*) FROM ir_config_parameter WHERE key = 'staging.only'"
            )
            .await,
            0
        );
        let old = o.old_database.clone().expect("old staging kept");
        assert_eq!(
            scalar_i64(
                &with_database(&staging.url, &old),
                "SELECT count(*) FROM ir_config_parameter WHERE key = 'staging.only'"
            )
            .await,
            1
        );
        // The neutralization report is an artifact of the clone run.
        let (meta, bytes) = b
            .store
            .read_artifact(&o.neutralization_sha256)
            .await
            .expect("report");
        assert_eq!(meta.run_id, Some(o.run_id));
        let report: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(report["report"]["committed"], true);
        assert_eq!(report["report"]["rules"]["kind"], "builtin");
        assert_eq!(report["post_check"]["violations"], serde_json::json!([]));
        let msgs = messages(&b.store, o.run_id).await;
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("neutralized with the built-in rules")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with("--builtin-rules")),
            "the fallback is said loudly: {msgs:?}"
        );

        // Never into production.
        let mut bad = CloneRequest::new("staging", "production");
        bad.db_from = Some(staging.url.clone());
        bad.db_to = Some(prod.url.clone());
        let err = backup::clone(&b.store, &ssot, &bad)
            .await
            .expect_err("refused");
        assert!(
            err.to_string()
                .contains("refusing to clone into production"),
            "{err}"
        );
        assert_eq!(prod.snapshot().await, prod_before);

        drop_db(&old).await;
        prod.drop_db().await;
        staging.drop_db().await;
        b.finish().await;
    }
}

#[tokio::test]
async fn a_broken_neutralization_fails_the_clone_and_nothing_is_swapped() {
    let Some(_) = support::odoo_fixture::test_database_url("clone_broken") else {
        return;
    };
    let ssot = ssot();
    let b = common::sqlite().await;
    let prod = OdooFixture::create("clone_broken_prod")
        .await
        .expect("prod");
    let staging = OdooFixture::create("clone_broken_staging")
        .await
        .expect("staging");
    let staging_before = staging.snapshot().await;
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
        "-- wrong: keeps production mail flowing\nUPDATE ir_mail_server SET active = true WHERE name = 'Mailgun (production)';\n",
    )
    .expect("write");
    let mut req = CloneRequest::new("production", "staging");
    req.db_from = Some(prod.url.clone());
    req.db_to = Some(staging.url.clone());
    req.addons_paths = vec![addons.path().to_path_buf()];
    req.addons_paths.extend(example_addons());
    req.rules = RulesChoice::Builtin;
    let err = backup::clone(&b.store, &ssot, &req)
        .await
        .expect_err("broken neutralization");
    assert!(matches!(err, BackupError::Neutralization(_)), "{err}");
    assert!(err.to_string().contains("Mailgun (production)"), "{err}");
    assert_eq!(staging.snapshot().await, staging_before, "target untouched");
    assert!(
        databases_like(&format!("{}_", staging.name))
            .await
            .is_empty(),
        "copy dropped, no swap"
    );
    let run = b
        .store
        .recent_runs(10)
        .await
        .expect("runs")
        .into_iter()
        .find(|r| r.kind == "clone")
        .expect("clone run");
    assert_eq!(run.status, "failed");
    let msgs = messages(&b.store, run.id).await;
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("neutralization left 1 violation")),
        "{msgs:?}"
    );
    // The failing report is kept as evidence.
    let arts = b.store.artifacts_for_run(run.id).await.expect("artifacts");
    assert!(arts
        .iter()
        .any(|a| a.media_type == "application/vnd.odooops.neutralize-report+json"));
    prod.drop_db().await;
    staging.drop_db().await;
    b.finish().await;
}

#[tokio::test]
async fn a_clone_without_a_known_odoo_source_is_refused_before_anything() {
    let Some(_) = support::odoo_fixture::test_database_url("clone_refused") else {
        return;
    };
    let ssot = ssot();
    let b = common::sqlite().await;
    let prod = OdooFixture::create("clone_refused_prod")
        .await
        .expect("prod");
    let staging = OdooFixture::create("clone_refused_staging")
        .await
        .expect("staging");
    let (prod_before, staging_before) = (prod.snapshot().await, staging.snapshot().await);
    let mut req = CloneRequest::new("production", "staging");
    req.db_from = Some(prod.url.clone());
    req.db_to = Some(staging.url.clone());
    req.addons_paths = example_addons();
    assert_eq!(req.rules, RulesChoice::Unknown, "nothing named by default");
    let err = backup::clone(&b.store, &ssot, &req)
        .await
        .expect_err("refused");
    assert!(matches!(err, BackupError::Refused(_)), "{err}");
    assert!(err.to_string().contains("no Odoo source is known"), "{err}");

    // A source that lacks installed modules: refused too, listing them.
    let src = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(src.path().join("odoo/addons/base")).expect("mkdir");
    std::fs::write(src.path().join("odoo/addons/base/__manifest__.py"), "{}").expect("w");
    std::fs::write(
        src.path().join("odoo/release.py"),
        "version_info = (17, 0, 0, FINAL, 0, '')\n",
    )
    .expect("w");
    req.rules = RulesChoice::OdooSrc {
        dir: src.path().to_path_buf(),
        origin: "--odoo-src".into(),
    };
    let err = backup::clone(&b.store, &ssot, &req)
        .await
        .expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, BackupError::Refused(_)), "{msg}");
    assert!(
        msg.contains("shipping a neutralize script: delivery, iap, mail, payment, web, website;"),
        "{msg}"
    );
    assert!(msg.contains("stock"), "{msg}");

    assert!(
        b.store.backups(None, 10).await.expect("backups").is_empty(),
        "no backup taken"
    );
    assert!(
        b.store.recent_runs(10).await.expect("runs").is_empty(),
        "no run started"
    );
    assert_eq!(prod.snapshot().await, prod_before);
    assert_eq!(staging.snapshot().await, staging_before);
    assert!(databases_like(&format!("{}_", staging.name))
        .await
        .is_empty());
    prod.drop_db().await;
    staging.drop_db().await;
    b.finish().await;
}

#[tokio::test]
async fn the_queue_dispatcher_runs_a_backup_through_the_bounded_runner() {
    let Some(_) = support::odoo_fixture::test_database_url("queued") else {
        return;
    };
    let b = common::sqlite().await;
    let db = OdooFixture::create("queued").await.expect("fixture");
    // The environment's database URL comes from its urlSecret key, like the controller's.
    let mut ssot = ssot();
    let key = format!("ODOOOPS_TEST_QUEUED_DB_{}", Uuid::new_v4().simple()).to_uppercase();
    for r in ssot.resources.iter_mut() {
        if let Resource::Environment(e) = r {
            if e.metadata.name == "production" {
                e.spec.database.url_secret = Some(key.clone());
            }
        }
    }
    std::env::set_var(&key, &db.url);
    let out = backup::run_queued(
        &b.store,
        &ssot,
        &serde_json::json!({"action": "backup", "environment": "production"}),
    )
    .await
    .expect("queued backup");
    assert_eq!(out["environment"], "production");
    assert_eq!(out["kind"], "scheduled");
    let jobs = b
        .store
        .job_runs(Some("backup"), Some("production"), 10)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].outcome, "ok");
    assert_eq!(
        jobs[0].run_id.map(|r| r.to_string()),
        out["run_id"].as_str().map(String::from)
    );
    let bad = backup::run_queued(
        &b.store,
        &ssot,
        &serde_json::json!({"action": "explode", "environment": "production"}),
    )
    .await
    .expect_err("unknown action");
    assert!(bad.to_string().contains("unknown action"), "{bad}");
    std::env::remove_var(&key);
    db.drop_db().await;
    b.finish().await;
}

#[tokio::test]
async fn the_database_password_never_reaches_the_store_or_the_artifacts() {
    let Some(_) = support::odoo_fixture::test_database_url("password_canary") else {
        return;
    };
    let ssot = ssot();
    let b = common::sqlite().await;
    let db = OdooFixture::create("password_canary")
        .await
        .expect("fixture");
    // The local server trusts loopback, so any password connects; this one must not leak.
    let canary = "test-token-pw-canary-6f1d";
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{canary}@"), 1);
    assert!(url.contains(canary), "fixture URL shape: {}", db.url);
    let o = backup::run_backup(
        &b.store,
        &ssot,
        &backup_req("production", &url, BackupKind::Manual),
    )
    .await
    .expect("backup");
    let mut r = RestoreRequest::new(o.backup_id, "production");
    r.db_url = Some(url.clone());
    let ro = backup::restore(&b.store, &ssot, &r).await.expect("restore");
    b.store.close().await;
    let mut leaked = Vec::new();
    for entry in walk(b.dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        if bytes.windows(canary.len()).any(|w| w == canary.as_bytes()) {
            leaked.push(entry.display().to_string());
        }
    }
    assert!(leaked.is_empty(), "password found in {leaked:?}");
    drop_db(&ro.old_database.expect("old")).await;
    db.drop_db().await;
    b.finish().await;
}

/// Every file under `root` (the SQLite database, its WAL, every artifact blob).
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn manual_backups_beyond_the_daily_quota_are_refused() {
    let Some(_) = support::odoo_fixture::test_database_url("manual_quota") else {
        return;
    };
    let mut ssot = ssot();
    for res in ssot.resources.iter_mut() {
        if let Resource::BackupPolicy(p) = res {
            p.spec.retention.manual_per_day = 1;
        }
    }
    let b = common::sqlite().await;
    let db = OdooFixture::create("manual_quota").await.expect("fixture");
    let req = backup_req("production", &db.url, BackupKind::Manual);
    backup::run_backup(&b.store, &ssot, &req)
        .await
        .expect("first manual backup");
    let err = backup::run_backup(&b.store, &ssot, &req)
        .await
        .expect_err("second refused");
    assert!(
        matches!(err, BackupError::ManualQuota { limit: 1, .. }),
        "{err}"
    );
    // Scheduled backups are not counted against it.
    backup::run_backup(
        &b.store,
        &ssot,
        &backup_req("production", &db.url, BackupKind::Scheduled),
    )
    .await
    .expect("scheduled backup");
    assert_eq!(
        b.store
            .backups(Some("production"), 10)
            .await
            .expect("list")
            .len(),
        2
    );
    db.drop_db().await;
    b.finish().await;
}
