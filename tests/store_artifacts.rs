//! Artifacts (content addressing, id validation, streaming, object store) and retention.

mod common;

use object_store::memory::InMemory;
use odooops::store::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn artifact_ids_are_validated() {
    assert!(validate_artifact_id(&"ab".repeat(32)).is_ok());
    for bad in [
        "",
        "../../etc/passwd",
        &"AB".repeat(32),
        &"a".repeat(63),
        &"a".repeat(65),
        &format!("{}/", "a".repeat(63)),
    ] {
        assert!(
            matches!(
                validate_artifact_id(bad),
                Err(StoreError::InvalidArtifactId(_))
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn local_artifacts_are_content_addressed_and_streamed() {
    let b = common::sqlite().await;
    let s = &b.store;
    let a = s
        .put_artifact(b"hello", "text/plain", None)
        .await
        .expect("put");
    assert_eq!(a.sha256, sha(b"hello"));
    assert_eq!(a.size_bytes, 5);
    let path = b
        .dir
        .path()
        .join("artifacts")
        .join(&a.sha256[..2])
        .join(&a.sha256);
    assert_eq!(std::fs::read(&path).expect("blob on disk"), b"hello");
    assert_eq!(a.storage_uri, format!("file://{}", path.display()));
    let again = s
        .put_artifact(b"hello", "text/plain", None)
        .await
        .expect("put again");
    assert_eq!(again.created_at, a.created_at, "same content, same row");
    assert!(s.artifact("../../../etc/passwd").await.is_err());
    assert!(matches!(
        s.artifact_store().get(&"0".repeat(64)).await,
        Err(StoreError::ArtifactNotFound(_))
    ));

    // a 24 MiB file streams through (hash while writing, then rename)
    let big = b.dir.path().join("dump.bin");
    let data: Vec<u8> = (0..24 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(&big, &data).expect("write dump");
    let art = s
        .put_artifact_file(&big, "application/octet-stream", None)
        .await
        .expect("stream");
    assert_eq!(
        (art.sha256.clone(), art.size_bytes),
        (sha(&data), data.len() as i64)
    );
    let tmp = b.dir.path().join("artifacts").join(".tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).expect("tmp dir").count(),
        0,
        "no temp files left"
    );
    b.finish().await;
}

#[tokio::test]
async fn object_store_artifacts_multipart_round_trip() {
    let store = ArtifactStore::object(
        Arc::new(InMemory::new()),
        "evidence/",
        "s3://bucket/evidence",
    );
    let data: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let blob = store.put_reader(&data[..]).await.expect("multipart put");
    assert_eq!(blob.sha256, sha(&data));
    assert_eq!(
        blob.uri,
        format!("s3://bucket/evidence/{}/{}", &blob.sha256[..2], blob.sha256)
    );
    assert_eq!(store.get(&blob.sha256).await.expect("get"), data);
    let empty = store.put_bytes(b"").await.expect("empty");
    assert_eq!(store.get(&empty.sha256).await.expect("get empty"), b"");
    store.delete(&blob.sha256).await.expect("delete");
    assert!(!store.exists(&blob.sha256).await.expect("exists"));
    assert!(store.get("../x").await.is_err());
}

#[tokio::test]
async fn retention_keeps_artifacts_of_backups_inside_retention() {
    for b in common::backends().await {
        let s = &b.store;
        let run = s
            .begin_run(&NewRun {
                kind: RunKind::Backup,
                trigger: Trigger::Schedule,
                ssot_revision: "r".into(),
                actor: "cron".into(),
                environment: Some("prod".into()),
                correlation_id: None,
            })
            .await
            .expect("run");
        s.finish_run(run.id, RunStatus::Succeeded, &json!({}))
            .await
            .expect("finish");
        let put = |t: &'static str| {
            s.put_artifact(t.as_bytes(), "application/octet-stream", Some(run.id))
        };
        let live = put("dump kept: expires next week").await.expect("a");
        let forever = put("dump kept: never expires").await.expect("b");
        let expired = put("dump expired").await.expect("c");
        let loose = put("unreferenced log").await.expect("d");
        for (art, expires) in [
            (&live, Some(now() + chrono::Duration::days(7))),
            (&forever, None),
            (&expired, Some(now() - chrono::Duration::days(1))),
        ] {
            s.record_backup(&NewBackup {
                job_id: None,
                environment: "prod".into(),
                kind: "database".into(),
                size_bytes: art.size_bytes,
                sha256: art.sha256.clone(),
                location: art.storage_uri.clone(),
                retention_class: "daily".into(),
                expires_at: expires,
            })
            .await
            .expect("backup");
        }
        let mut ev = NewEvent::new(Level::Info, "backup", "old");
        ev.ts = now() - chrono::Duration::days(40);
        s.append_events(&[ev, NewEvent::new(Level::Info, "backup", "new")])
            .await
            .expect("events");

        // Everything is "old" for artifacts; events keep 30 days; runs kept.
        let policy = RetentionPolicy {
            artifacts: Some(Duration::ZERO),
            runs: None,
            expired_backups: None,
            ..RetentionPolicy::default()
        };
        let report = s
            .prune_at(&policy.cutoffs(now() + chrono::Duration::minutes(1)))
            .await
            .expect("prune");
        assert_eq!(
            (report.artifacts, report.events),
            (2, 1),
            "{}: {report:?}",
            b.name
        );
        for kept in [&live, &forever] {
            assert!(
                s.artifact(&kept.sha256).await.expect("row").is_some(),
                "{}",
                b.name
            );
            assert!(s.artifact_store().exists(&kept.sha256).await.expect("blob"));
        }
        for gone in [&expired, &loose] {
            assert!(
                s.artifact(&gone.sha256).await.expect("row").is_none(),
                "{}",
                b.name
            );
            assert!(!s.artifact_store().exists(&gone.sha256).await.expect("blob"));
        }
        assert_eq!(
            s.events(&EventFilter::default())
                .await
                .expect("events")
                .len(),
            1
        );
        b.finish().await;
    }
}
