//! Console access control, operator actions and webhooks over real HTTP on loopback.

mod common;
mod console_common;

use console_common::*;
use odooops::console::auth::{Auth, Role};
use odooops::console::openapi::{Access, API_ROUTES};
use odooops::console::webhooks::hmac_sha256;
use odooops::ssot::{ConsoleAccess, ConsoleRole, ConsoleToken, Resource};
use serde_json::{json, Value};

/// Every action, with a body the operator's request is accepted with (`restore` needs a
/// recorded backup: its id is filled in by [`action_body`]).
const ACTIONS: &[&str] = &[
    "plan", "apply", "resync", "gates", "backup", "restore", "clone",
];

fn action_body(kind: &str, backup_id: &str) -> Option<Value> {
    match kind {
        "restore" => Some(json!({"backup_id": backup_id, "environment": "staging"})),
        "clone" => Some(json!({"from": "production", "environment": "staging"})),
        _ => None,
    }
}

async fn seed_backup(store: &odooops::store::Store) -> String {
    let dump = store
        .put_artifact(b"PGDMP test dump", "application/octet-stream", None)
        .await
        .expect("dump");
    store
        .record_backup(&odooops::store::NewBackup {
            job_id: None,
            environment: "production".into(),
            kind: "manual".into(),
            size_bytes: 15,
            sha256: dump.sha256,
            location: "artifacts".into(),
            retention_class: "manual".into(),
            expires_at: None,
        })
        .await
        .expect("backup")
        .id
        .to_string()
}

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
        let backup_id = seed_backup(&b.store).await;
        let base = start(b.store.clone(), config(public_read)).await;
        let c = client();
        // The table the OpenAPI document is built from lists every action.
        for kind in ACTIONS {
            let path = format!("/api/actions/{kind}");
            assert!(
                API_ROUTES
                    .iter()
                    .any(|r| r.path == path && r.access == Access::Write),
                "{path} in API_ROUTES"
            );
        }
        for kind in ACTIONS {
            let key = format!("{kind}-{public_read}");
            let body = action_body(kind, &backup_id);
            let (s, v) = post_action(&c, &base, kind, None, &key, body.clone()).await;
            assert_eq!(s, 401, "anonymous {kind}");
            assert_eq!(v["error"]["code"], "unauthorized");
            let (s, v) = post_action(&c, &base, kind, Some(VIEWER), &key, body.clone()).await;
            assert_eq!(s, 403, "viewer {kind}");
            assert_eq!(v["error"]["code"], "forbidden");
            let (s, v) =
                post_action(&c, &base, kind, Some("wrong-token"), &key, body.clone()).await;
            assert_eq!(s, 401, "bad token {kind}");
            assert_eq!(v["error"]["code"], "invalid_token");
            let (s, v) = post_action(&c, &base, kind, Some(OPERATOR), &key, body).await;
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
        for open in [
            "/healthz",
            "/readyz",
            "/static/style.css",
            "/static/favicon.svg",
            "/favicon.ico",
            "/login",
        ] {
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

#[tokio::test]
async fn restore_clone_and_apply_validate_their_fields_and_replay_by_key() {
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let backup_id = seed_backup(&b.store).await;
    let plans = b
        .store
        .plans_for_run(pop.run_id)
        .await
        .expect("plans of the populated run");
    let planned = plans[0].id.to_string();
    let base = start(b.store.clone(), config(false)).await;
    let c = client();
    let op = Some(OPERATOR);

    // restore: the payload names the backup and the target.
    let body = json!({"backup_id": backup_id, "environment": "staging"});
    let (s, v) = post_action(&c, &base, "restore", op, "r-1", Some(body.clone())).await;
    assert_eq!(s, 202, "{v}");
    let job = &v["data"]["job"];
    assert_eq!(job["queue"], "backup");
    assert_eq!(job["payload"]["action"], "restore");
    assert_eq!(job["payload"]["backup_id"], backup_id.as_str());
    assert_eq!(job["payload"]["environment"], "staging");
    // Replay: same job; a different body under the same key is refused.
    let (s, v2) = post_action(&c, &base, "restore", op, "r-1", Some(body)).await;
    assert_eq!((s, &v2["data"]["job"]["id"]), (200, &job["id"]));
    let other = json!({"backup_id": backup_id, "environment": "production"});
    let (s, v) = post_action(&c, &base, "restore", op, "r-1", Some(other)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    for (body, code) in [
        (json!({"environment": "staging"}), "missing_field"),
        (json!({"backup_id": backup_id}), "missing_field"),
        (
            json!({"backup_id": "nope", "environment": "staging"}),
            "invalid_id",
        ),
        (
            json!({"backup_id": uuid::Uuid::now_v7(), "environment": "staging"}),
            "unknown_backup",
        ),
        (
            json!({"backup_id": backup_id, "environment": "qa"}),
            "unknown_environment",
        ),
        (
            json!({"backup_id": backup_id, "environment": "staging", "from": "production"}),
            "unexpected_field",
        ),
        (
            json!({"backup_id": backup_id, "environment": ""}),
            "empty_field",
        ),
    ] {
        let (s, v) = post_action(&c, &base, "restore", op, "r-bad", Some(body.clone())).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }

    // clone: never into production.
    let (s, v) = post_action(
        &c,
        &base,
        "clone",
        op,
        "c-1",
        Some(json!({"from": "production", "environment": "staging"})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["data"]["job"]["queue"], "backup");
    assert_eq!(v["data"]["job"]["payload"]["action"], "clone");
    assert_eq!(v["data"]["job"]["payload"]["from"], "production");
    assert_eq!(v["data"]["job"]["payload"]["environment"], "staging");
    for (body, code) in [
        (
            json!({"from": "staging", "environment": "production"}),
            "clone_into_production",
        ),
        (
            json!({"from": "staging", "environment": "staging"}),
            "clone_onto_itself",
        ),
        (
            json!({"from": "qa", "environment": "staging"}),
            "unknown_environment",
        ),
        (json!({"environment": "staging"}), "missing_field"),
    ] {
        let (s, v) = post_action(&c, &base, "clone", op, "c-bad", Some(body.clone())).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    assert!(b
        .store
        .job_by_dedupe_key("console:clone:c-bad")
        .await
        .expect("lookup")
        .is_none());

    // apply: a planned plan, or none (a fresh plan); never an applied or unknown one.
    let (s, v) = post_action(
        &c,
        &base,
        "apply",
        op,
        "a-1",
        Some(json!({"plan_id": planned, "environment": "staging"})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["data"]["job"]["payload"]["plan_id"], planned.as_str());
    let (s, v) = post_action(&c, &base, "apply", op, "a-2", None).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["data"]["job"]["payload"]["plan_id"], Value::Null);
    for (body, code) in [
        (json!({"plan_id": "x"}), "invalid_id"),
        (json!({"plan_id": uuid::Uuid::now_v7()}), "unknown_plan"),
        (json!({"plan_id": 7}), "invalid_body"),
        (json!({"backup_id": backup_id}), "unexpected_field"),
    ] {
        let (s, v) = post_action(&c, &base, "apply", op, "a-bad", Some(body.clone())).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    b.store
        .set_plan_status(plans[0].id, odooops::store::PlanStatus::Applied)
        .await
        .expect("mark applied");
    let (s, v) = post_action(
        &c,
        &base,
        "apply",
        op,
        "a-3",
        Some(json!({"plan_id": planned})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("plan_not_applicable"))
    );
    // The first apply still replays although its plan is no longer `planned`.
    let (s, v) = post_action(
        &c,
        &base,
        "apply",
        op,
        "a-1",
        Some(json!({"plan_id": planned, "environment": "staging"})),
    )
    .await;
    assert_eq!(
        (s, v["data"]["replayed"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    b.finish().await;
}

#[tokio::test]
async fn job_page_and_api_link_the_run_and_backup_of_a_result() {
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let backup_id = seed_backup(&b.store).await;
    let base = start(b.store.clone(), config(false)).await;
    let c = client();
    let (s, v) = post_action(&c, &base, "backup", Some(OPERATOR), "j-1", None).await;
    assert_eq!(s, 202, "{v}");
    let job = v["data"]["job"]["id"].as_str().expect("id").to_string();
    // Before a worker finishes: status, attempts, no result.
    let page = |path: String| {
        let c = c.clone();
        async move {
            let r = c.get(path).bearer_auth(VIEWER).send().await.expect("req");
            assert_eq!(r.status(), 200);
            r.text().await.expect("html")
        }
    };
    let html = page(format!("{base}/jobs/{job}")).await;
    assert!(
        html.contains("queued") && html.contains("No result yet"),
        "{html}"
    );
    // A worker claims it, fails once, then completes with a result naming a run and a backup.
    let w = b
        .store
        .claim("backup", "w1", std::time::Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("job");
    assert!(b
        .store
        .fail(
            w.id,
            "w1",
            "pg_dump: <connection refused>",
            Some(std::time::Duration::ZERO)
        )
        .await
        .expect("fail"));
    let w = b
        .store
        .claim("backup", "w2", std::time::Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("job again");
    let result = json!({"run_id": pop.run_id, "backup_id": backup_id});
    assert!(b
        .store
        .complete_with_result(w.id, "w2", &result)
        .await
        .expect("complete"));
    let html = page(format!("{base}/jobs/{job}")).await;
    assert!(
        html.contains(&format!("href=\"/runs/{}\"", pop.run_id)),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/backups#backup-{backup_id}\"")),
        "{html}"
    );
    assert!(
        html.contains("pg_dump: &lt;connection refused&gt;"),
        "last error, escaped"
    );
    assert!(html.contains("badge good\">done"), "{html}");
    let r = c
        .get(format!("{base}/api/jobs/{job}"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("api");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["data"]["status"], "done");
    assert_eq!(v["data"]["attempts"], 2);
    assert_eq!(v["data"]["result"], result);
    assert_eq!(v["data"]["links"]["run"], format!("/runs/{}", pop.run_id));
    assert_eq!(
        v["data"]["links"]["backup"],
        format!("/backups#backup-{backup_id}")
    );
    // The run it links to and the backup anchor exist.
    let html = page(format!("{base}/runs/{}", pop.run_id)).await;
    assert!(html.contains("Run "));
    let html = page(format!("{base}/backups")).await;
    assert!(html.contains(&format!("id=\"backup-{backup_id}\"")));
    b.finish().await;
}

#[tokio::test]
async fn pages_offer_restore_clone_and_apply_forms_to_operators() {
    let b = common::sqlite().await;
    let pop = populate(&b.store).await;
    let backup_id = seed_backup(&b.store).await;
    let planned = b.store.plans_for_run(pop.run_id).await.expect("plans")[0].id;
    let base = start(b.store.clone(), config(true)).await;
    let c = client();
    let get = |path: &str, token: &str| {
        c.get(format!("{base}{path}"))
            .header("cookie", format!("odooops_token={token}"))
            .send()
    };
    let html = get("/backups", OPERATOR)
        .await
        .expect("backups")
        .text()
        .await
        .expect("html");
    assert!(html.contains("action=\"/actions/restore\""), "{html}");
    assert!(html.contains(&format!("name=\"backup_id\" value=\"{backup_id}\"")));
    assert!(html.contains("action=\"/actions/clone\"") && html.contains("name=\"from\""));
    // The populated plan was made from another SSOT revision than the console's: /runs sets it
    // aside as outdated (no apply form there); its own page still offers the apply.
    let html = get("/runs", OPERATOR)
        .await
        .expect("runs")
        .text()
        .await
        .expect("html");
    assert!(
        !html.contains(&format!("name=\"plan_id\" value=\"{planned}\"")),
        "{html}"
    );
    assert!(
        html.contains("outdated: made from SSOT revision sha256:abc"),
        "{html}"
    );
    let html = get(&format!("/plans/{planned}"), OPERATOR)
        .await
        .expect("plan")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains(&format!("name=\"plan_id\" value=\"{planned}\"")),
        "{html}"
    );
    // A viewer sees the data, not the forms.
    let html = get("/backups", VIEWER)
        .await
        .expect("backups")
        .text()
        .await
        .expect("html");
    assert!(!html.contains("action=\"/actions/restore\""));
    assert!(!html.contains("action=\"/actions/clone\""));
    b.finish().await;
}
