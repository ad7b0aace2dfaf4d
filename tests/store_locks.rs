//! The store's apply lock and the ledger's fencing, on both backends: one applier at a
//! time, each acquisition a higher token, a row claimed once (compare-and-set), and a
//! holder whose token is no longer current can neither claim nor finish a row.

mod common;

use odooops::store::{ActionStatus, ActionUpdate, NewAction, StoreError};
use std::time::Duration;

#[tokio::test]
async fn one_applier_at_a_time_and_a_deposed_one_is_fenced() {
    for b in common::backends().await {
        let s = &b.store;
        let a = s
            .lock_apply("apply-a (pid 1)", Duration::ZERO)
            .await
            .expect("first lock");
        let refused = s
            .lock_apply("apply-b (pid 2)", Duration::ZERO)
            .await
            .expect_err("held");
        assert!(
            matches!(refused, StoreError::Locked { .. }),
            "[{}] {refused}",
            b.name
        );
        assert!(refused.to_string().contains("--lock-timeout"), "{refused}");
        let row = s
            .ledger_insert(&NewAction {
                dedupe_key: "staging/droplet/web:create:g0:abc".into(),
                resource_kind: "droplet".into(),
                resource_name: "web".into(),
                operation: "create".into(),
                resource_key: Some("staging/droplet/web".into()),
                ..Default::default()
            })
            .await
            .expect("insert")
            .action()
            .clone();
        let old = a.token;
        a.release().await;
        // A waiting applier gets the lock once it is free, with a higher token.
        let b_lock = s
            .lock_apply("apply-b (pid 2)", Duration::from_secs(5))
            .await
            .expect("second lock");
        assert!(b_lock.token > old, "[{}] tokens grow", b.name);
        // The deposed holder can no longer claim or finish.
        assert!(s.ledger_claim(row.id, old).await.expect("claim").is_none());
        assert!(!s.fence_current(old).await.expect("fence"));
        let fenced = s
            .ledger_finish(
                row.id,
                old,
                &ActionUpdate {
                    status: Some(ActionStatus::Succeeded),
                    ..Default::default()
                },
            )
            .await
            .expect_err("fenced");
        assert!(
            matches!(fenced, StoreError::Fenced(t) if t == old),
            "{fenced}"
        );
        // The current holder claims once; a second claim of the same row finds it taken.
        let claimed = s
            .ledger_claim(row.id, b_lock.token)
            .await
            .expect("claim")
            .expect("claimed");
        assert_eq!(claimed.status, "in_flight");
        assert_eq!(claimed.fence, Some(b_lock.token));
        assert!(s
            .ledger_claim(row.id, b_lock.token)
            .await
            .expect("claim")
            .is_none());
        let done = s
            .ledger_finish(
                row.id,
                b_lock.token,
                &ActionUpdate {
                    status: Some(ActionStatus::Succeeded),
                    ..Default::default()
                },
            )
            .await
            .expect("finish");
        assert_eq!(done.status, "succeeded");
        assert_eq!(
            s.ledger_generations(&["staging/droplet/web".into()])
                .await
                .expect("generations")
                .get("staging/droplet/web"),
            Some(&1)
        );
        b_lock.release().await;
        b.finish().await;
    }
}

#[tokio::test]
async fn a_dead_holders_lock_is_released() {
    let Some(admin) = common::pg_admin_url() else {
        return;
    };
    let b = common::postgres(&admin).await;
    let held = b
        .store
        .lock_apply("crashed (pid 3)", Duration::ZERO)
        .await
        .expect("lock");
    // The holder dies: its connection closes and PostgreSQL lets the lock go.
    drop(held);
    let next = b
        .store
        .lock_apply("next (pid 4)", Duration::from_secs(10))
        .await
        .expect("taken over");
    next.release().await;
    b.finish().await;
}
