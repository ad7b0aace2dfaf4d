//! `ops.releases` on both backends: a deploy's row, its steps, its end; the release each
//! environment serves, read in one query.

mod common;

use odooops::store::{NewRelease, ReleaseEnd, ReleaseStep, RELEASE_HEALTHY};
use serde_json::json;

#[tokio::test]
async fn releases_record_steps_and_the_serving_one_is_the_latest_healthy() {
    for b in common::backends().await {
        let s = &b.store;
        let new = |commit: &str| NewRelease {
            environment: "staging".into(),
            commit_sha: commit.into(),
            odoo_revision: "17.0@abc".into(),
            config_digest: "sha256:conf".into(),
            modules_installed: vec!["base".into(), "acme_sale".into()],
            trigger: "cli".into(),
            actor: "test".into(),
            ..Default::default()
        };
        let a = s.begin_release(&new("aaaa")).await.expect("begin");
        assert_eq!(a.status, "deploying");
        s.release_step(
            a.id,
            &ReleaseStep {
                name: "upload".into(),
                started_at: chrono::Utc::now(),
                duration_ms: 12,
                outcome: "ok".into(),
                detail: json!({"bytes": 10}),
            },
        )
        .await
        .expect("step");
        let a = s
            .finish_release(
                a.id,
                &ReleaseEnd {
                    status: RELEASE_HEALTHY.into(),
                    url: Some("https://staging.example".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("finish");
        assert_eq!(a.steps[0]["name"], "upload", "[{}]", b.name);
        assert_eq!(a.modules_installed, json!(["base", "acme_sale"]));
        // What the database said once healthy replaces what the release asked for.
        let read: Vec<String> = ["acme_sale", "base", "web"].map(String::from).to_vec();
        s.set_release_modules(a.id, &read).await.expect("modules");
        let a = s.release(a.id).await.expect("read").expect("the release");
        assert_eq!(
            a.modules_installed,
            json!(["acme_sale", "base", "web"]),
            "[{}]",
            b.name
        );
        let c = s.begin_release(&new("cccc")).await.expect("begin");
        s.finish_release(
            c.id,
            &ReleaseEnd {
                status: "failed".into(),
                error: Some("update raised".into()),
                ..Default::default()
            },
        )
        .await
        .expect("finish");
        let serving = s.serving_releases().await.expect("serving");
        assert_eq!(serving.len(), 1, "[{}]", b.name);
        assert_eq!(
            serving[0].commit_sha, "aaaa",
            "a failed deploy serves nothing"
        );
        assert_eq!(
            s.releases(Some("staging"), 10).await.expect("list").len(),
            2
        );
        assert_eq!(s.releases(None, 10).await.expect("list").len(), 2);
        b.finish().await;
    }
}
