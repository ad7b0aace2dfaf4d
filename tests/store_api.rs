//! The Store API end to end, on both backends.

mod common;

use odooops::store::*;
use serde_json::json;
use std::time::Duration;

fn new_run(env: &str) -> NewRun {
    NewRun {
        kind: RunKind::Reconcile,
        trigger: Trigger::Cli,
        ssot_revision: "abc123".into(),
        actor: "tester".into(),
        environment: Some(env.into()),
        correlation_id: None,
    }
}

#[tokio::test]
async fn runs_plans_diffs_and_ledger() {
    for b in common::backends().await {
        let s = &b.store;
        let run = s.begin_run(&new_run("staging")).await.expect("begin_run");
        assert_eq!(run.status, "running");
        assert_eq!(run.correlation_id, run.id.to_string(), "{}", b.name);
        let done = s
            .finish_run(run.id, RunStatus::Succeeded, &json!({"changes": 2}))
            .await
            .expect("finish");
        assert_eq!(done.status, "succeeded");
        assert_eq!(done.summary, json!({"changes": 2}));
        assert!(done.finished_at.is_some());
        assert_eq!(
            s.run(run.id).await.expect("run").map(|r| r.id),
            Some(run.id)
        );

        let plan = s
            .save_plan(NewPlan {
                run_id: run.id,
                ssot_revision: "abc123".into(),
                live_fingerprint: "f00d".into(),
                plan: json!({"actions": [{"op": "create", "resource": "Environment/staging"}]})
                    .to_string(),
                rendered: "+ Environment/staging".into(),
            })
            .await
            .expect("save_plan");
        let stored = s.plan(plan.id).await.expect("read").expect("plan");
        assert_eq!(stored.status, "planned");
        assert_eq!(
            stored.plan,
            json!({"actions": [{"op": "create", "resource": "Environment/staging"}]})
        );
        assert_eq!(
            stored.artifact_sha256.as_deref(),
            Some(plan.artifact_sha256.as_str())
        );
        let (meta, bytes) = s
            .read_artifact(&plan.artifact_sha256)
            .await
            .expect("plan artifact readable");
        assert_eq!(meta.media_type, "application/json");
        let back: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(back, stored.plan);
        s.set_plan_status(plan.id, PlanStatus::Applied)
            .await
            .expect("status");
        let applied = s.plan(plan.id).await.expect("read").expect("plan");
        assert_eq!(applied.status, "applied");

        let diffs: Vec<NewDiff> = (0..2500)
            .map(|i| NewDiff {
                run_id: run.id,
                environment: Some("staging".into()),
                resource_kind: "Environment".into(),
                resource_name: format!("env-{i}"),
                before: Some(json!({"size": 1})),
                after: Some(json!({"size": 2})),
                changes: json!([{"path": "spec.size", "from": 1, "to": 2}]),
                unified: "-size: 1\n+size: 2\n".into(),
            })
            .collect();
        assert_eq!(s.insert_diffs(&diffs).await.expect("diffs"), 2500);
        let stored = s.diffs_for_run(run.id).await.expect("diffs_for_run");
        assert_eq!(stored.len(), 2500);
        assert_eq!(stored[7].resource_name, "env-7");
        assert_eq!(stored[7].before, Some(json!({"size": 1})));

        let action = NewAction {
            dedupe_key: "Environment/staging:create:1234".into(),
            plan_id: Some(plan.id),
            run_id: Some(run.id),
            resource_kind: "Environment".into(),
            resource_name: "staging".into(),
            operation: "create".into(),
            request_summary: Some(json!({"size": "s-2vcpu-4gb"})),
            resource_key: None,
        };
        let first = s.ledger_insert(&action).await.expect("ledger insert");
        assert!(first.is_inserted());
        let again = s.ledger_insert(&action).await.expect("ledger insert again");
        assert!(!again.is_inserted());
        assert_eq!(again.action().id, first.action().id);
        assert_eq!(s.unfinished_actions().await.expect("unfinished").len(), 1);
        let upd = s
            .ledger_update(
                first.action().id,
                &ActionUpdate {
                    status: Some(ActionStatus::Succeeded),
                    bump_attempts: true,
                    provider_request_id: Some("req-1".into()),
                    response_summary: Some(json!({"id": 42})),
                    error: None,
                },
            )
            .await
            .expect("ledger update");
        assert_eq!((upd.status.as_str(), upd.attempts), ("succeeded", 1));
        assert_eq!(upd.provider_request_id.as_deref(), Some("req-1"));
        assert_eq!(upd.request_summary, Some(json!({"size": "s-2vcpu-4gb"})));
        assert!(s.unfinished_actions().await.expect("unfinished").is_empty());
        assert_eq!(s.actions_for_plan(plan.id).await.expect("by plan").len(), 1);
        b.finish().await;
    }
}

#[tokio::test]
async fn events_filter_by_env_level_since_and_correlation() {
    for b in common::backends().await {
        let s = &b.store;
        let base = now() - chrono::Duration::minutes(10);
        let mut evs = Vec::new();
        for i in 0..300i64 {
            let mut e = NewEvent::new(
                Level::ALL[(i % 5) as usize],
                "reconcile",
                format!("event {i}"),
            );
            e.ts = base + chrono::Duration::seconds(i);
            e.environment = Some(if i % 2 == 0 { "prod" } else { "staging" }.into());
            e.correlation_id = Some(format!("corr-{}", i % 3));
            e.fields = json!({"i": i});
            evs.push(e);
        }
        assert_eq!(s.append_events(&evs).await.expect("append"), 300);

        let last = s
            .events(&EventFilter {
                environment: Some("prod".into()),
                limit: Some(50),
                ..Default::default()
            })
            .await
            .expect("events");
        assert_eq!(last.len(), 50, "{}", b.name);
        assert_eq!(last[0].message, "event 298");
        assert!(last.windows(2).all(|w| w[0].ts >= w[1].ts));
        assert_eq!(last[0].fields, json!({"i": 298}));

        let errors = s
            .events(&EventFilter {
                min_level: Some(Level::Warn),
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .expect("events");
        assert_eq!(errors.len(), 120);
        assert!(errors
            .iter()
            .all(|e| e.level == "warn" || e.level == "error"));

        let since = s
            .events(&EventFilter {
                since: Some(base + chrono::Duration::seconds(290)),
                correlation_id: Some("corr-0".into()),
                ..Default::default()
            })
            .await
            .expect("events");
        let msgs: Vec<_> = since.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(msgs, ["event 297", "event 294", "event 291"]);
        b.finish().await;
    }
}

#[tokio::test]
async fn drift_open_refresh_resolve() {
    for b in common::backends().await {
        let s = &b.store;
        let obs = |env: &str, name: &str, field: &str| DriftObservation {
            environment: env.into(),
            resource_kind: "Environment".into(),
            resource_name: name.into(),
            field_path: field.into(),
            desired: Some(json!(2)),
            observed: Some(json!(1)),
            run_id: None,
        };
        s.upsert_drift(&[
            obs("prod", "web", "spec.size"),
            obs("prod", "web", "spec.region"),
            obs("dev", "db", "x"),
        ])
        .await
        .expect("upsert");
        // seen again: refreshes, does not duplicate
        s.upsert_drift(&[obs("prod", "web", "spec.size")])
            .await
            .expect("upsert again");
        let counts = s.open_drift_by_env().await.expect("counts");
        let counts: Vec<_> = counts
            .iter()
            .map(|c| (c.environment.as_str(), c.open))
            .collect();
        assert_eq!(counts, [("dev", 1), ("prod", 2)], "{}", b.name);
        let open = s.open_drift(Some("prod"), 10).await.expect("open");
        assert_eq!(open.len(), 2);
        assert_eq!(open[0].field_path, "spec.size", "most recently seen first");
        assert!(open[0].last_seen > open[0].first_seen);

        assert_eq!(
            s.resolve_drift("prod", "Environment", "web", Some("spec.size"), "run-1")
                .await
                .expect("resolve"),
            1
        );
        assert_eq!(
            s.resolve_drift("prod", "Environment", "web", None, "run-2")
                .await
                .expect("resolve"),
            1
        );
        assert_eq!(s.open_drift(None, 10).await.expect("open").len(), 1);
        // drifting again after resolution opens a new finding
        s.upsert_drift(&[obs("prod", "web", "spec.size")])
            .await
            .expect("reopen");
        assert_eq!(s.open_drift(Some("prod"), 10).await.expect("open").len(), 1);
        b.finish().await;
    }
}

#[tokio::test]
async fn gates_backups_secrets_inventory_webhooks() {
    for b in common::backends().await {
        let s = &b.store;
        let report = s
            .put_artifact(b"gate report", "text/plain", None)
            .await
            .expect("artifact");
        let gr = s.begin_gate_run(None, "prod").await.expect("gate run");
        let res = s
            .record_gate_result(&NewGateResult {
                gate_run_id: gr.id,
                gate: "cron-timeout".into(),
                environment: "prod".into(),
                outcome: GateOutcome::Warn,
                measured: Some(json!(870)),
                threshold: Some(json!(900)),
                evidence_sha256: Some(report.sha256.clone()),
                message: "close to limit".into(),
            })
            .await
            .expect("gate result");
        assert_eq!(res.outcome, "warn");
        assert_eq!(
            s.finish_gate_run(gr.id, GateRunStatus::Warn)
                .await
                .expect("finish")
                .status,
            "warn"
        );
        assert_eq!(s.gate_results(gr.id).await.expect("results").len(), 1);

        let job = s
            .begin_backup_job(None, "prod", "database")
            .await
            .expect("job");
        let backup = s
            .record_backup(&NewBackup {
                job_id: Some(job.id),
                environment: "prod".into(),
                kind: "database".into(),
                size_bytes: 1234,
                sha256: "a".repeat(64),
                location: "s3://backups/prod/x.dump".into(),
                retention_class: "daily".into(),
                expires_at: Some(now() + chrono::Duration::days(7)),
            })
            .await
            .expect("backup");
        assert_eq!(
            s.finish_backup_job(job.id, JobStatus::Succeeded, None)
                .await
                .expect("finish")
                .status,
            "succeeded"
        );
        assert_eq!(
            s.backups(Some("prod"), 10).await.expect("list")[0].id,
            backup.id
        );
        let bad = NewBackup {
            job_id: None,
            environment: "prod".into(),
            kind: "database".into(),
            size_bytes: 1,
            sha256: "../../etc/passwd".into(),
            location: String::new(),
            retention_class: "daily".into(),
            expires_at: None,
        };
        assert!(matches!(
            s.record_backup(&bad).await,
            Err(StoreError::InvalidArtifactId(_))
        ));

        let sync = s
            .record_secret_sync(&NewSecretSync {
                run_id: None,
                target: "vercel".into(),
                environment: Some("prod".into()),
                pushed_keys: vec!["SMTP_PASSWORD".into()],
                skipped_keys: vec!["ADMIN_PASSWD".into()],
                outcome: "ok".into(),
                message: String::new(),
            })
            .await
            .expect("secret sync");
        assert_eq!(sync.pushed_keys, json!(["SMTP_PASSWORD"]));
        assert_eq!(
            s.secret_syncs(Some("vercel"), 5).await.expect("list").len(),
            1
        );

        let objs: Vec<ObservedObject> = (0..1500)
            .map(|i| ObservedObject {
                provider: "digitalocean".into(),
                object_type: "droplet".into(),
                object_id: i.to_string(),
                name: Some(format!("web-{i}")),
                environment: Some("prod".into()),
                owned: i % 2 == 0,
                attributes: json!({"tags": ["odooops:env=prod"]}),
            })
            .collect();
        let ingest = s.ingest_inventory(None, &objs).await.expect("ingest");
        let inv = s.inventory(ingest).await.expect("inventory");
        assert_eq!(inv.len(), 1500);
        assert!(inv[0].owned && !inv[1].owned);

        assert!(s
            .record_webhook_delivery("d-1", "github", true, None)
            .await
            .expect("new"));
        assert!(!s
            .record_webhook_delivery("d-1", "github", true, None)
            .await
            .expect("redelivery"));
        assert!(s.mark_webhook_processed("d-1").await.expect("processed"));
        let d = s
            .webhook_delivery("d-1")
            .await
            .expect("get")
            .expect("exists");
        assert!(d.processed && d.signature_ok && d.processed_at.is_some());

        let status = s.status().await.expect("status");
        assert_eq!(status.migrations_applied, status.migrations_known);
        assert_eq!(status.tables.len(), TABLES.len());
        b.finish().await;
    }
}

#[tokio::test]
async fn work_queue_dedupe_claim_complete_and_lease_expiry() {
    for b in common::backends().await {
        let s = &b.store;
        let j = s
            .enqueue("reconcile", "env/prod", &json!({"env": "prod"}), None)
            .await
            .expect("enqueue");
        let Enqueued::New(job) = j else {
            panic!("expected a new job")
        };
        assert!(matches!(
            s.enqueue("reconcile", "env/prod", &json!({}), None)
                .await
                .expect("dup"),
            Enqueued::Existing(_)
        ));
        s.enqueue(
            "reconcile",
            "env/later",
            &json!({}),
            Some(Duration::from_secs(3600)),
        )
        .await
        .expect("delayed");

        let c = s
            .claim("reconcile", "w1", Duration::from_secs(30))
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(
            (c.id, c.claimed_by.as_deref(), c.attempts),
            (job.id, Some("w1"), 1)
        );
        assert!(
            s.claim("reconcile", "w2", Duration::from_secs(30))
                .await
                .expect("claim")
                .is_none(),
            "delayed job not ready"
        );
        assert!(
            !s.complete(c.id, "w2").await.expect("complete"),
            "not w2's job"
        );
        assert!(s.complete(c.id, "w1").await.expect("complete"));
        // re-armed after done
        assert!(matches!(
            s.enqueue("reconcile", "env/prod", &json!({}), None)
                .await
                .expect("rearm"),
            Enqueued::New(_)
        ));

        // a lapsed lease returns the job to the queue
        let c = s
            .claim("reconcile", "w1", Duration::from_millis(1))
            .await
            .expect("claim")
            .expect("job");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while s.release_expired_leases().await.expect("release") == 0 {
            assert!(std::time::Instant::now() < deadline, "lease never lapsed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let again = s
            .claim("reconcile", "w2", Duration::from_secs(30))
            .await
            .expect("claim")
            .expect("job");
        assert_eq!((again.id, again.attempts), (c.id, 2));
        assert!(
            !s.complete(c.id, "w1").await.expect("stale worker"),
            "w1 lost its lease"
        );
        assert!(s.fail(again.id, "w2", "boom", None).await.expect("fail"));
        assert_eq!(
            s.job(again.id).await.expect("job").expect("row").status,
            "failed"
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn work_queue_keeps_job_results_and_failures() {
    for b in common::backends().await {
        let s = &b.store;
        let Enqueued::New(job) = s
            .enqueue("reconcile", "result/1", &json!({"action": "plan"}), None)
            .await
            .expect("enqueue")
        else {
            panic!("expected a new job")
        };
        assert_eq!(job.result, None, "{}: no result before completion", b.name);
        let c = s
            .claim("reconcile", "w1", Duration::from_secs(30))
            .await
            .expect("claim")
            .expect("a job");
        let run_id = uuid::Uuid::now_v7();
        let result = json!({"run_id": run_id, "changes": 2});
        assert!(
            !s.complete_with_result(c.id, "w2", &result)
                .await
                .expect("other worker"),
            "{}: only the holder completes",
            b.name
        );
        assert!(s
            .complete_with_result(c.id, "w1", &result)
            .await
            .expect("complete"));
        let done = s.job(c.id).await.expect("job").expect("row");
        assert_eq!(done.status, "done", "{}", b.name);
        assert_eq!(done.result.as_ref(), Some(&result), "{}", b.name);
        assert_eq!(
            done.result.as_ref().and_then(|r| r["run_id"].as_str()),
            Some(run_id.to_string().as_str())
        );
        // Re-arming the key clears the old result.
        let Enqueued::New(again) = s
            .enqueue("reconcile", "result/1", &json!({"action": "plan"}), None)
            .await
            .expect("rearm")
        else {
            panic!("expected the finished job to be re-armed")
        };
        assert_eq!(again.result, None, "{}", b.name);
        // `fail` still works alongside and leaves no result.
        let c = s
            .claim("reconcile", "w1", Duration::from_secs(30))
            .await
            .expect("claim")
            .expect("job");
        assert!(s.fail(c.id, "w1", "boom", None).await.expect("fail"));
        let failed = s.job(c.id).await.expect("job").expect("row");
        assert_eq!(
            (
                failed.status.as_str(),
                failed.last_error.as_deref(),
                failed.result.as_ref()
            ),
            ("failed", Some("boom"), None),
            "{}",
            b.name
        );
        b.finish().await;
    }
}
