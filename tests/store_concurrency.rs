//! Concurrency: migrations from several openers, the ledger's single winner, exclusive claims.

mod common;

use odooops::store::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

/// A second handle (its own pool) on the same database as `b`.
async fn second_handle(b: &common::Backend) -> Store {
    Store::open(Some(&b.url), b.dir.path())
        .await
        .expect("second handle")
}

async fn assert_migrated(s: &Store) {
    let st = s.status().await.expect("status");
    assert_eq!(st.migrations_applied, st.migrations_known);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_open_on_fresh_database_in_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("fresh.db").display());
    let (a, b, c) = tokio::join!(
        Store::open(Some(&url), dir.path()),
        Store::open(Some(&url), dir.path()),
        Store::open(Some(&url), dir.path())
    );
    for s in [
        a.expect("sqlite open 1"),
        b.expect("sqlite open 2"),
        c.expect("sqlite open 3"),
    ] {
        assert_migrated(&s).await;
    }
    if let Some(admin) = common::pg_admin_url() {
        let (url, name) = common::fresh_pg_db(&admin).await;
        let (a, b, c) = tokio::join!(
            Store::open(Some(&url), dir.path()),
            Store::open(Some(&url), dir.path()),
            Store::open(Some(&url), dir.path())
        );
        for s in [
            a.expect("pg open 1"),
            b.expect("pg open 2"),
            c.expect("pg open 3"),
        ] {
            assert_migrated(&s).await;
            s.close().await;
        }
        common::drop_pg_db(&admin, &name).await;
    }
}

/// Two `odooops store migrate` processes racing on a fresh database both succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrate_from_two_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut urls = vec![(
        format!("sqlite:{}", dir.path().join("procs.db").display()),
        None,
    )];
    let admin = common::pg_admin_url();
    if let Some(admin) = &admin {
        let (url, name) = common::fresh_pg_db(admin).await;
        urls.push((url, Some(name)));
    }
    for (url, pg_name) in urls {
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_odooops"))
                // The default SSOT (ssot/) keeps its artifacts in a Spaces bucket.
                .env("ODOOOPS_ARTIFACT_URL", dir.path().join("artifacts"))
                .args(["--data-dir"])
                .arg(dir.path())
                .args(["--database-url", &url, "store", "migrate"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn odooops")
        };
        let (p1, p2) = (spawn(), spawn());
        for p in [p1, p2] {
            let out = p.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if let (Some(admin), Some(name)) = (&admin, pg_name) {
            common::drop_pg_db(admin, &name).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_same_dedupe_key_has_exactly_one_winner() {
    for b in common::backends().await {
        let other = second_handle(&b).await;
        let stores = [
            b.store.clone(),
            other.clone(),
            b.store.clone(),
            other.clone(),
        ];
        for round in 0..20 {
            let key = format!("Environment/prod:create:{round}");
            let barrier = Arc::new(Barrier::new(stores.len()));
            let mut tasks = Vec::new();
            for (i, s) in stores.iter().enumerate() {
                let (s, key, barrier) = (s.clone(), key.clone(), barrier.clone());
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    s.ledger_insert(&NewAction {
                        dedupe_key: key,
                        plan_id: None,
                        run_id: None,
                        resource_kind: "Environment".into(),
                        resource_name: "prod".into(),
                        operation: "create".into(),
                        request_summary: Some(json!({"writer": i})),
                        resource_key: None,
                    })
                    .await
                }));
            }
            let mut outcomes = Vec::new();
            for t in tasks {
                outcomes.push(t.await.expect("join").expect("ledger_insert"));
            }
            let winners: Vec<_> = outcomes.iter().filter(|o| o.is_inserted()).collect();
            assert_eq!(winners.len(), 1, "{}: round {round}", b.name);
            let id = winners[0].action().id;
            assert!(
                outcomes.iter().all(|o| o.action().id == id),
                "losers see the winner's row"
            );
        }
        other.close().await;
        b.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_claims_are_exclusive() {
    for b in common::backends().await {
        for i in 0..40 {
            b.store
                .enqueue("q", &format!("job-{i}"), &json!({"i": i}), None)
                .await
                .expect("enqueue");
        }
        let other = second_handle(&b).await;
        let mut tasks = Vec::new();
        for w in 0..4 {
            let s = if w % 2 == 0 {
                b.store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(job) = s
                    .claim("q", &format!("w{w}"), Duration::from_secs(60))
                    .await
                    .expect("claim")
                {
                    got.push(job.id);
                    assert!(s
                        .complete(job.id, &format!("w{w}"))
                        .await
                        .expect("complete"));
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("join"));
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!((all.len(), unique.len()), (40, 40), "{}", b.name);
        other.close().await;
        b.finish().await;
    }
}
