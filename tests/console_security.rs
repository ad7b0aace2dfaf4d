//! Console access control, operator actions and webhooks over real HTTP on loopback.

mod common;
mod console_common;

use console_common::*;
use odooops::console::auth::{Auth, Role};
use odooops::console::openapi::{Access, API_ROUTES};
use odooops::console::webhooks::hmac_sha256;
use odooops::ssot::{ConsoleAccess, ConsoleRole, ConsoleToken, Resource};
use serde_json::{json, Value};

const ACTIONS: &[&str] = &["plan", "apply", "resync", "gates", "backup"];

async fn post_action(
    c: &reqwest::Client,
    base: &str,
    kind: &str,
    token: Option<&str>,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c
        .post(format!("{base}/api/actions/{kind}"))
        .header("Idempotency-Key", key);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.expect("JSON envelope"))
}

#[tokio::test]
async fn auth_matrix_over_every_write_and_read_route() {
    for public_read in [false, true] {
        let b = common::sqlite().await;
        let base = start(b.store.clone(), config(public_read)).await;
        let c = client();
        for kind in ACTIONS {
            let key = format!("{kind}-{public_read}");
            let (s, v) = post_action(&c, &base, kind, None, &key, None).await;
            assert_eq!(s, 401, "anonymous {kind}");
            assert_eq!(v["error"]["code"], "unauthorized");
            let (s, v) = post_action(&c, &base, kind, Some(VIEWER), &key, None).await;
            assert_eq!(s, 403, "viewer {kind}");
            assert_eq!(v["error"]["code"], "forbidden");
            let (s, v) = post_action(&c, &base, kind, Some("wrong-token"), &key, None).await;
            assert_eq!(s, 401, "bad token {kind}");
            assert_eq!(v["error"]["code"], "invalid_token");
            let (s, v) = post_action(&c, &base, kind, Some(OPERATOR), &key, None).await;
            assert_eq!(s, 202, "operator {kind}: {v}");
            // An operator token in a cookie is not enough for an API write (CSRF).
            let r = c
                .post(format!("{base}/api/actions/{kind}"))
                .header("cookie", format!("odooops_token={OPERATOR}"))
                .header("Idempotency-Key", "cookie")
                .send()
                .await
                .expect("req");
            assert_eq!(r.status(), 401, "cookie-only write {kind}");
        }
        // Nothing was enqueued by the refused requests: one job per action.
        assert_eq!(
            b.store.queue_depth().await.expect("depth"),
            ACTIONS.len() as i64
        );
        for route in API_ROUTES.iter().filter(|r| r.access == Access::Read) {
            let path = route.path.replace("{name}", "staging").replace("{id}", "x");
            let r = c.get(format!("{base}{path}")).send().await.expect("req");
            let v: Value = r.json().await.expect("json");
            if public_read {
                assert_ne!(v["error"]["code"], "unauthorized", "{path}");
            } else {
                assert_eq!(v["error"]["code"], "unauthorized", "{path}");
            }
        }
        let r = c.get(format!("{base}/drift")).send().await.expect("req");
        assert_eq!(r.status(), if public_read { 200 } else { 401 });
        let r = c
            .get(format!("{base}/drift"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200);
        for open in ["/healthz", "/readyz", "/static/style.css", "/login"] {
            let r = c.get(format!("{base}{open}")).send().await.expect("req");
            assert_eq!(r.status(), 200, "{open}");
        }
        b.finish().await;
    }
}

#[tokio::test]
async fn actions_are_idempotent_by_key_and_link_their_job() {
    let b = common::sqlite().await;
    let base = start(b.store.clone(), config(false)).await;
    let c = client();
    let body = Some(json!({"environment": "staging"}));
    let (s1, v1) = post_action(&c, &base, "plan", Some(OPERATOR), "k-1", body.clone()).await;
    assert_eq!(s1, 202, "{v1}");
    assert_eq!(v1["data"]["replayed"], false);
    let job = v1["data"]["job"]["id"]
        .as_str()
        .expect("job id")
        .to_string();
    assert_eq!(v1["data"]["links"]["job"], format!("/api/jobs/{job}"));
    let (s2, v2) = post_action(&c, &base, "plan", Some(OPERATOR), "k-1", body.clone()).await;
    assert_eq!(s2, 200);
    assert_eq!(v2["data"]["replayed"], true);
    assert_eq!(v2["data"]["job"]["id"], job.as_str());
    // Still the first answer after the job finished.
    let claimed = b
        .store
        .claim("reconcile", "w1", std::time::Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("a job");
    b.store.complete(claimed.id, "w1").await.expect("complete");
    let (s3, v3) = post_action(&c, &base, "plan", Some(OPERATOR), "k-1", body).await;
    assert_eq!(s3, 200);
    assert_eq!(v3["data"]["job"]["id"], job.as_str());
    assert_eq!(v3["data"]["job"]["status"], "done");
    // Same key, different request: refused.
    let (s, v) = post_action(
        &c,
        &base,
        "plan",
        Some(OPERATOR),
        "k-1",
        Some(json!({"environment": "production"})),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["code"], "idempotency_key_reused");
    // Missing key.
    let r = c
        .post(format!("{base}/api/actions/apply"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "idempotency_key_required");
    // Unknown action.
    let (s, v) = post_action(&c, &base, "destroy", Some(OPERATOR), "k-2", None).await;
    assert_eq!(s, 404);
    assert_eq!(v["ok"], false);
    // The job is readable.
    let r = c
        .get(format!("{base}/api/jobs/{job}"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    b.finish().await;
}

#[tokio::test]
async fn form_actions_need_operator_and_csrf() {
    let b = common::sqlite().await;
    let base = start(b.store.clone(), config(true)).await;
    let c = client();
    // The page sets the CSRF cookie; the form carries the same value.
    let r = c
        .get(format!("{base}/runs"))
        .header("cookie", format!("odooops_token={OPERATOR}"))
        .send()
        .await
        .expect("page");
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    let csrf = set
        .split(';')
        .next()
        .and_then(|kv| kv.strip_prefix("odooops_csrf="))
        .expect("csrf cookie")
        .to_string();
    let html = r.text().await.expect("html");
    assert!(
        html.contains("action=\"/actions/plan\""),
        "operator sees the action forms"
    );
    let form = |cookie: String, field: &str| {
        c.post(format!("{base}/actions/backup"))
            .header("cookie", cookie)
            .form(&[
                ("csrf", field),
                ("idempotency_key", "form-1"),
                ("environment", "production"),
            ])
            .send()
    };
    let r = form(
        format!("odooops_token={OPERATOR}; odooops_csrf={csrf}"),
        "forged",
    )
    .await
    .expect("req");
    assert_eq!(r.status(), 403, "CSRF mismatch");
    let r = form(
        format!("odooops_token={VIEWER}; odooops_csrf={csrf}"),
        &csrf,
    )
    .await
    .expect("req");
    assert_eq!(r.status(), 403, "viewer");
    let r = form(format!("odooops_csrf={csrf}"), &csrf)
        .await
        .expect("req");
    assert_eq!(r.status(), 401, "anonymous, even with publicRead");
    assert_eq!(b.store.queue_depth().await.expect("depth"), 0);
    let r = form(
        format!("odooops_token={OPERATOR}; odooops_csrf={csrf}"),
        &csrf,
    )
    .await
    .expect("req");
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    assert!(loc.starts_with("/jobs/"), "{loc}");
    let r = c
        .get(format!("{base}{loc}"))
        .send()
        .await
        .expect("job page");
    assert_eq!(r.status(), 200);
    assert_eq!(b.store.queue_depth().await.expect("depth"), 1);
    // Login sets the token cookie (after the CSRF check).
    let r = c
        .post(format!("{base}/login"))
        .header("cookie", format!("odooops_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("token", VIEWER)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .expect("c")
        .contains("HttpOnly"));
    b.finish().await;
}

#[test]
fn tokens_come_from_the_project_console_block_and_the_environment() {
    let mut ssot = quickstart();
    for r in ssot.resources.iter_mut() {
        if let Resource::Project(p) = r {
            p.spec.console = Some(ConsoleAccess {
                public_read: false,
                tokens: vec![
                    ConsoleToken {
                        secret: "CONSOLE_VIEW".into(),
                        role: ConsoleRole::Viewer,
                    },
                    ConsoleToken {
                        secret: "CONSOLE_OPS".into(),
                        role: ConsoleRole::Operator,
                    },
                    ConsoleToken {
                        secret: "CONSOLE_UNSET".into(),
                        role: ConsoleRole::Operator,
                    },
                ],
            });
        }
    }
    let env = |k: &str| match k {
        "CONSOLE_VIEW" => Some("v-value".to_string()),
        "CONSOLE_OPS" => Some("o-value".to_string()),
        _ => None,
    };
    let auth = Auth::from_ssot(&ssot, env);
    assert_eq!(auth.role_of("v-value"), Some(Role::Viewer));
    assert_eq!(auth.role_of("o-value"), Some(Role::Operator));
    assert_eq!(auth.role_of("CONSOLE_OPS"), None);
    assert_eq!(auth.missing, vec!["CONSOLE_UNSET".to_string()]);
    assert!(
        !format!("{auth:?}").contains("o-value"),
        "only hashes are kept"
    );
}

fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), body))
}

#[tokio::test]
async fn github_webhook_verifies_dedupes_and_enqueues_tracked_branches() {
    for b in common::backends().await {
        let base = start(b.store.clone(), config(false)).await;
        let c = client();
        let body = serde_json::to_vec(&json!({"ref": "refs/heads/staging", "after": "abc123"}))
            .expect("json");
        let send = |sig: String, delivery: &'static str| {
            c.post(format!("{base}/api/webhooks/github"))
                .header("X-GitHub-Event", "push")
                .header("X-GitHub-Delivery", delivery)
                .header("X-Hub-Signature-256", sig)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        };
        // Bad signatures: 401, nothing recorded, nothing enqueued.
        for sig in [
            format!("sha256={}", sign("wrong", &body)),
            "sha256=zz".into(),
            sign(GITHUB_SECRET, &body),
            String::new(),
        ] {
            let r = send(sig, "d-1").await.expect("req");
            assert_eq!(r.status(), 401, "{}", b.name);
            let v: Value = r.json().await.expect("json");
            assert_eq!(v["error"]["code"], "invalid_signature");
        }
        assert!(b.store.webhook_delivery("d-1").await.expect("q").is_none());
        assert_eq!(b.store.queue_depth().await.expect("depth"), 0);
        // Good signature: recorded, processed, one reconcile job for the staging environment.
        let good = format!("sha256={}", sign(GITHUB_SECRET, &body));
        let r = send(good.clone(), "d-1").await.expect("req");
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["data"]["jobs"][0]["environment"], "staging", "{v}");
        let d = b
            .store
            .webhook_delivery("d-1")
            .await
            .expect("q")
            .expect("recorded");
        assert!(d.processed && d.signature_ok);
        assert_eq!(b.store.queue_depth().await.expect("depth"), 1);
        // The same delivery again: a no-op.
        let r = send(good.clone(), "d-1").await.expect("req");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["data"]["duplicate"], true);
        assert_eq!(b.store.queue_depth().await.expect("depth"), 1);
        let events = b
            .store
            .events(&odooops::store::EventFilter {
                correlation_id: Some("github:d-1".into()),
                ..Default::default()
            })
            .await
            .expect("events");
        assert_eq!(events.len(), 1, "processed once");
        // A push to an untracked branch is recorded but enqueues nothing.
        let other = serde_json::to_vec(&json!({"ref": "refs/heads/feature-x"})).expect("json");
        let r = c
            .post(format!("{base}/api/webhooks/github"))
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", "d-2")
            .header(
                "X-Hub-Signature-256",
                format!("sha256={}", sign(GITHUB_SECRET, &other)),
            )
            .body(other)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200);
        assert_eq!(b.store.queue_depth().await.expect("depth"), 1);
        b.finish().await;
    }
}

#[tokio::test]
async fn plane_webhook_verifies_and_dedupes_on_event_id() {
    let b = common::sqlite().await;
    let base = start(b.store.clone(), config(false)).await;
    let c = client();
    let body =
        serde_json::to_vec(&json!({"event_id": "ev-9", "event": "issue", "action": "updated"}))
            .expect("json");
    let send = |sig: String| {
        c.post(format!("{base}/api/webhooks/plane"))
            .header("X-Plane-Signature", sig)
            .header("X-Plane-Delivery", "hdr-1")
            .body(body.clone())
            .send()
    };
    let r = send(sign("nope", &body)).await.expect("req");
    assert_eq!(r.status(), 401);
    assert!(b
        .store
        .webhook_delivery("plane:ev-9")
        .await
        .expect("q")
        .is_none());
    for expect_dup in [false, true] {
        let r = send(sign(PLANE_SECRET, &body)).await.expect("req");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["data"]["duplicate"], expect_dup, "{v}");
    }
    let d = b
        .store
        .webhook_delivery("plane:ev-9")
        .await
        .expect("q")
        .expect("recorded");
    assert!(d.processed);
    let events = b
        .store
        .events(&odooops::store::EventFilter {
            correlation_id: Some("plane:ev-9".into()),
            ..Default::default()
        })
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    b.finish().await;
}
