//! The Slack adapter against the simulator, over real loopback HTTP.

mod common;

use odooops::provider::http::{Auth, ClientConfig, HttpClient, Metrics, RecordingSleeper};
use odooops::provider::slack::{is_permanent, Slack};
use odooops::provider::{Provider, SecretValue};
use odooops::sim::{self, faults::FaultConfig, lock};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn token() -> String {
    format!("test-token-{}", "slack-canary-41c9")
}

fn hook_secret() -> String {
    format!("hook-secret-{}", "canary-9d2e")
}

struct Env {
    sim: sim::Running,
    slack: Slack,
    sleeper: Arc<RecordingSleeper>,
}

impl Env {
    /// The webhook URL (all of it secret) for team `T0SIM0001`, hook `hook`.
    fn hook_url(&self, hook: &str) -> SecretValue {
        SecretValue::new(format!(
            "{}/services/T0SIM0001/{hook}/{}",
            self.sim.provider_url(Provider::Slack),
            hook_secret()
        ))
    }
}

fn config(base: &str, auth: Auth) -> ClientConfig {
    let mut cc = ClientConfig::new(Provider::Slack, base, auth);
    cc.timeout = Duration::from_millis(800);
    // The documented 1 message/second would make the test wait in real time.
    cc.rates = vec![];
    cc
}

async fn setup_with(faults: &str, auth: Auth) -> Env {
    let cfg = FaultConfig::parse(faults).expect("faults");
    let sim = sim::start("127.0.0.1:0", cfg).await.expect("sim");
    let base = sim.provider_url(Provider::Slack);
    let sleeper = Arc::new(RecordingSleeper::default());
    let http = HttpClient::with_sleeper(
        config(&base, auth),
        Arc::new(Metrics::default()),
        sleeper.clone(),
    )
    .expect("client");
    let slack = Slack::new(http).with_webhook_config(
        config("https://hooks.slack.com", Auth::None),
        sleeper.clone(),
    );
    Env {
        sim,
        slack,
        sleeper,
    }
}

async fn setup(faults: &str) -> Env {
    setup_with(faults, Auth::Bearer(SecretValue::new(token()))).await
}

#[tokio::test]
async fn webhook_posts_round_trip() {
    let env = setup("").await;
    let blocks =
        json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*drift* on acme-staging"}}]);
    env.slack
        .post_webhook(
            &env.hook_url("B0HOOK0001"),
            "drift on acme-staging",
            Some(&blocks),
        )
        .await
        .expect("posted");
    let st = lock(&env.sim.state.slack);
    assert_eq!(st.webhook_messages.len(), 1);
    let m = &st.webhook_messages[0];
    assert_eq!(m["hook"], "B0HOOK0001");
    assert_eq!(m["body"]["text"], "drift on acme-staging");
    assert_eq!(m["body"]["blocks"], blocks);
    assert!(
        !st.snapshot().to_string().contains(&hook_secret()),
        "the simulator does not keep the secret either"
    );
}

#[tokio::test]
async fn webhook_failures_are_plain_text_and_permanent_ones_are_not_retried() {
    let env = setup("").await;
    let url = env.hook_url("B0HOOK0002");
    let err = env
        .slack
        .post_webhook(&url, "", None)
        .await
        .expect_err("no text");
    assert_eq!(
        (err.code.as_str(), err.status, err.retryable),
        ("no_text", Some(400), false)
    );

    lock(&env.sim.state.slack)
        .mutate(
            "hook",
            "T0SIM0001/B0HOOK0002",
            &json!({"disabled": true}),
            false,
        )
        .expect("disable");
    let err = env
        .slack
        .post_webhook(&url, "hello", None)
        .await
        .expect_err("disabled");
    assert_eq!((err.code.as_str(), err.status), ("no_service", Some(404)));
    assert!(is_permanent(&err) && !err.retryable);

    lock(&env.sim.state.slack)
        .mutate(
            "hook",
            "T0SIM0001/B0HOOK0003",
            &json!({"archived": true}),
            false,
        )
        .expect("archive");
    let err = env
        .slack
        .post_webhook(&env.hook_url("B0HOOK0003"), "hello", None)
        .await
        .expect_err("archived");
    assert_eq!(
        (err.code.as_str(), err.status),
        ("channel_is_archived", Some(410))
    );
    assert!(is_permanent(&err));

    lock(&env.sim.state.slack).strict_hooks = true;
    let err = env
        .slack
        .post_webhook(&env.hook_url("B0UNKNOWN1"), "hello", None)
        .await
        .expect_err("unknown hook");
    assert_eq!(err.code, "no_service");
    assert!(
        env.sleeper.recorded().is_empty(),
        "no permanent failure was retried"
    );
    assert_eq!(env.sim.state.request_count("POST /slack/services"), 4);
    assert!(lock(&env.sim.state.slack).webhook_messages.is_empty());
}

#[tokio::test]
async fn webhook_429_is_retried_after_the_advertised_delay() {
    let env = setup("route=/slack/services,count=2,kinds=429;retry_after=2").await;
    env.slack
        .post_webhook(&env.hook_url("B0HOOK0004"), "backup failed", None)
        .await
        .expect("third attempt goes through");
    assert_eq!(
        env.sleeper.recorded(),
        vec![Duration::from_secs(2), Duration::from_secs(2)]
    );
    assert_eq!(env.sim.state.request_count("POST /slack/services"), 3);
    assert_eq!(lock(&env.sim.state.slack).webhook_messages.len(), 1);
}

#[tokio::test]
async fn chat_post_message_checks_ok_even_on_http_200() {
    let env = setup("").await;
    let who = env.slack.auth_test().await.expect("auth.test");
    assert_eq!(who.team_id, "T0SIM0001");
    let posted = env
        .slack
        .post_message("#alerts", "gate failed: smtp")
        .await
        .expect("posted");
    assert_eq!(posted.channel, "C0ALERTS001");
    assert!(posted.ts.len() == 17 && posted.ts.as_bytes()[10] == b'.');
    assert_eq!(
        lock(&env.sim.state.slack).messages[0]["message"]["text"],
        "gate failed: smtp"
    );

    let err = env
        .slack
        .post_message("#nowhere", "x")
        .await
        .expect_err("unknown channel");
    assert_eq!(
        (err.code.as_str(), err.status, err.retryable),
        ("channel_not_found", Some(200), false)
    );
    assert!(is_permanent(&err));
    let err = env
        .slack
        .post_message("#alerts", "")
        .await
        .expect_err("empty");
    assert_eq!(err.code, "no_text");

    lock(&env.sim.state.slack)
        .mutate("channel", "alerts", &json!({"archived": true}), false)
        .expect("archive");
    let err = env
        .slack
        .post_message("C0ALERTS001", "x")
        .await
        .expect_err("archived");
    assert_eq!(err.code, "is_archived");

    lock(&env.sim.state.slack).revoked_tokens.insert(token());
    let err = env.slack.auth_test().await.expect_err("revoked");
    assert_eq!(err.code, "invalid_auth");

    let anon = setup_with("", Auth::None).await;
    let err = anon
        .slack
        .post_message("#alerts", "x")
        .await
        .expect_err("no token");
    assert_eq!((err.code.as_str(), err.status), ("not_authed", Some(200)));
    assert_eq!(
        anon.sim
            .state
            .request_count("POST /slack/api/chat.postMessage"),
        1
    );
}

#[tokio::test]
async fn chat_post_message_429_is_retried() {
    let env = setup("route=/slack/api/chat.postMessage,count=1,kinds=429;retry_after=3").await;
    env.slack
        .post_message("alerts", "retry me")
        .await
        .expect("second attempt");
    assert_eq!(env.sleeper.recorded(), vec![Duration::from_secs(3)]);
    assert_eq!(lock(&env.sim.state.slack).messages.len(), 1);
}

/// A `MakeWriter` into a shared buffer.

#[tokio::test]
async fn neither_the_token_nor_the_webhook_url_is_logged_or_printed() {
    let buf = common::LogBuffer::default();
    let _guard = buf.install();

    let env = setup("route=/slack,count=2,kinds=503").await;
    let url = env.hook_url("B0HOOK0005");
    env.slack
        .post_webhook(&url, "hello", None)
        .await
        .expect("after retries");
    env.slack
        .post_message("#alerts", "hi")
        .await
        .expect("posted");
    lock(&env.sim.state.slack)
        .mutate(
            "hook",
            "T0SIM0001/B0HOOK0005",
            &json!({"disabled": true}),
            false,
        )
        .expect("disable");
    let err = env
        .slack
        .post_webhook(&url, "hello", None)
        .await
        .expect_err("disabled");
    tracing::info!(error = %err, debug = ?err, "logged like the controller would");

    let logs = buf.text();
    assert!(logs.contains("retrying"), "the capture works: {logs}");
    for printed in [
        logs,
        format!("{:?}", env.slack),
        format!("{url:?} {url}"),
        format!("{err:?} {err}"),
    ] {
        assert!(!printed.contains(&token()), "token leaked: {printed}");
        assert!(
            !printed.contains(&hook_secret()),
            "webhook URL leaked: {printed}"
        );
    }
}

#[tokio::test]
async fn a_persistent_429_ends_as_ratelimited_after_five_attempts() {
    let env = setup("route=/slack/api/chat.postMessage,count=10,kinds=429;retry_after=1").await;
    let err = env
        .slack
        .post_message("alerts", "x")
        .await
        .expect_err("always limited");
    assert_eq!(
        (err.code.as_str(), err.status, err.retryable),
        ("ratelimited", Some(429), true)
    );
    assert_eq!(env.sleeper.recorded().len(), 4);
    assert!(lock(&env.sim.state.slack).messages.is_empty());
}

#[tokio::test]
async fn hooks_can_be_disabled_through_the_control_api() {
    let env = setup("").await;
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/mutate", env.sim.url()))
        .json(&json!({"provider": "slack", "kind": "hook", "id": "T0SIM0001/B0HOOK0009", "set": {"disabled": true}}))
        .send()
        .await
        .expect("control api");
    assert_eq!(r.status(), 200);
    let err = env
        .slack
        .post_webhook(&env.hook_url("B0HOOK0009"), "x", None)
        .await
        .expect_err("disabled");
    assert_eq!(err.code, "no_service");
    let state: serde_json::Value = reqwest::get(format!("{}/_sim/state", env.sim.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["slack"]["hooks"][0]["disabled"], true);
}
