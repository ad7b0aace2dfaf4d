//! Slack adapter: incoming webhooks (the URL itself is the secret) and the Web API's
//! `chat.postMessage` / `auth.test` (bot token).
//!
//! Webhooks answer plain text: HTTP 200 with `ok`, or a non-200 status with an error string.
//! Any other answer is a failure, matched on the body string; the permanent ones (the hook was
//! removed, the channel archived, …) are never retried and ask the user to reconnect. The Web
//! API answers HTTP 200 for application errors, so `ok` is checked on every answer.
//!
//! Slack does not deduplicate posts. Posts carry an `Idempotency-Key` (a hash of the payload)
//! so the shared client may retry them: a 429 (honouring `Retry-After`) means the message was
//! not delivered; a retried 5xx may, rarely, deliver a notification twice, which we prefer to
//! losing an alert.

use super::error::{Provider, ProviderError};
use super::http::{Auth, ClientConfig, HttpClient, Metrics, Request, Sleeper, TokioSleeper};
use super::secret::SecretValue;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const P: Provider = Provider::Slack;

/// Webhook and Web API error strings that no retry can fix: the user must reconnect Slack
/// (or unarchive the channel, re-invite the bot, …).
pub const PERMANENT: [&str; 16] = [
    "no_service",
    "no_service_id",
    "no_team",
    "team_disabled",
    "invalid_token",
    "channel_not_found",
    "channel_is_archived",
    "action_prohibited",
    "posting_to_general_channel_denied",
    "is_archived",
    "not_in_channel",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "missing_scope",
];

/// Whether a failed post needs the user to act (reconnect), not a retry.
pub fn is_permanent(e: &ProviderError) -> bool {
    e.provider == P && PERMANENT.contains(&e.code.as_str())
}

/// A posted Web API message.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// Who the bot token belongs to.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub team_id: String,
    pub user_id: String,
    pub bot_id: Option<String>,
}

/// The webhook request body: `text` (the fallback when blocks are sent) and optional blocks.
pub fn webhook_body(text: &str, blocks: Option<&Value>) -> Value {
    let mut body = json!({ "text": text });
    if let Some(b) = blocks {
        body["blocks"] = b.clone();
    }
    body
}

/// The `chat.postMessage` request body.
pub fn post_message_body(channel: &str, text: &str) -> Value {
    json!({ "channel": channel, "text": text })
}

fn payload_key(body: &Value) -> String {
    let digest = Sha256::digest(body.to_string().as_bytes());
    format!("slack-{}", hex::encode(&digest[..16]))
}

/// Split a webhook URL into its origin (`https://hooks.slack.com`) and path. The error never
/// repeats the URL: all of it is secret.
fn split_url(url: &str) -> Result<(&str, &str), ProviderError> {
    let bad = || {
        ProviderError::new(
            P,
            "invalid_webhook_url",
            "the Slack webhook URL is not an absolute http(s) URL (value not shown)",
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host_len = rest.find('/').ok_or_else(bad)?;
    if host_len == 0 {
        return Err(bad());
    }
    let cut = url.len() - rest.len() + host_len;
    Ok((&url[..cut], &url[cut..]))
}

/// The Slack adapter.
#[derive(Debug)]
pub struct Slack {
    api: HttpClient,
    /// Webhook clients by origin (never by URL: the path is the secret).
    hooks: Mutex<BTreeMap<String, HttpClient>>,
    /// Timeout, retry policy and rates for webhook clients (base URL and auth are replaced).
    hook_template: ClientConfig,
    metrics: Arc<Metrics>,
    sleeper: Arc<dyn Sleeper>,
}

impl Slack {
    /// `api` talks to the Web API (`https://slack.com`, bearer bot token).
    pub fn new(api: HttpClient) -> Self {
        let metrics = api.metrics().clone();
        Slack {
            api,
            hooks: Mutex::new(BTreeMap::new()),
            hook_template: ClientConfig::new(P, "https://hooks.slack.com", Auth::None),
            metrics,
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// Use `template`'s timeout, retry policy and rates (and `sleeper`) for webhook posts.
    pub fn with_webhook_config(
        mut self,
        template: ClientConfig,
        sleeper: Arc<dyn Sleeper>,
    ) -> Self {
        self.hook_template = template;
        self.sleeper = sleeper;
        self
    }

    pub fn http(&self) -> &HttpClient {
        &self.api
    }

    fn hook_client(&self, origin: &str) -> Result<HttpClient, ProviderError> {
        let mut hooks = self.hooks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = hooks.get(origin) {
            return Ok(c.clone());
        }
        let mut cfg = self.hook_template.clone();
        cfg.provider = P;
        cfg.base_url = origin.to_string();
        cfg.auth = Auth::None;
        let client = HttpClient::with_sleeper(cfg, self.metrics.clone(), self.sleeper.clone())?;
        hooks.insert(origin.to_string(), client.clone());
        Ok(client)
    }

    /// Post to an incoming webhook. `url_secret` is the full webhook URL.
    pub async fn post_webhook(
        &self,
        url_secret: &SecretValue,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<(), ProviderError> {
        let (origin, path) = split_url(url_secret.expose())?;
        let client = self.hook_client(origin)?;
        let body = webhook_body(text, blocks);
        let key = payload_key(&body);
        let resp = client
            .send(Request::post(path, body).idempotency_key(key))
            .await
            .map_err(permanent_is_final)?;
        let answer = resp.body.trim();
        if resp.status == 200 && answer == "ok" {
            return Ok(());
        }
        // A 2xx that is not `200 ok` is not a delivery we can count on.
        Err(permanent_is_final(ProviderError::from_response(
            P,
            resp.status,
            if answer.is_empty() {
                "unexpected_answer"
            } else {
                answer
            },
            None,
        )))
    }

    /// `chat.postMessage`: `ok` is checked even on HTTP 200.
    pub async fn post_message(&self, channel: &str, text: &str) -> Result<Posted, ProviderError> {
        let body = post_message_body(channel, text);
        let key = payload_key(&body);
        let v = self
            .web_api(Request::post("/api/chat.postMessage", body).idempotency_key(key))
            .await?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        match (field("channel"), field("ts")) {
            (Some(channel), Some(ts)) => Ok(Posted { channel, ts }),
            _ => Err(ProviderError::new(
                P,
                "decode",
                "chat.postMessage answer without channel or ts",
            )),
        }
    }

    /// `auth.test`: the token check.
    pub async fn auth_test(&self) -> Result<Identity, ProviderError> {
        let v = self
            .web_api(Request::post("/api/auth.test", json!({})))
            .await?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        match (field("team_id"), field("user_id")) {
            (Some(team_id), Some(user_id)) => Ok(Identity {
                team_id,
                user_id,
                bot_id: field("bot_id"),
            }),
            _ => Err(ProviderError::new(
                P,
                "decode",
                "auth.test answer without team_id or user_id",
            )),
        }
    }

    async fn web_api(&self, req: Request) -> Result<Value, ProviderError> {
        let v = self.api.json(req).await.map_err(permanent_is_final)?;
        if v.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(v);
        }
        let mut e = ProviderError::from_response(P, 200, &v.to_string(), None);
        e.retryable = matches!(
            e.code.as_str(),
            "ratelimited"
                | "rate_limited"
                | "internal_error"
                | "fatal_error"
                | "service_unavailable"
        );
        if e.code.starts_with("http_") {
            e.code = "decode".to_string();
            e.error = "Web API answer without `ok`".to_string();
        }
        Err(permanent_is_final(e))
    }
}

fn permanent_is_final(mut e: ProviderError) -> ProviderError {
    if is_permanent(&e) {
        e.retryable = false;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_webhook_urls_without_echoing_them() {
        let (o, p) = split_url("https://hooks.slack.com/services/T1/B2/xyz").expect("url");
        assert_eq!((o, p), ("https://hooks.slack.com", "/services/T1/B2/xyz"));
        let secret = format!("not-a-url-{}", "canary");
        let e = split_url(&secret).expect_err("bad");
        assert!(!e.to_string().contains(&secret));
        assert!(split_url("https:///services").is_err());
        assert!(split_url("https://hooks.slack.com").is_err());
    }

    #[test]
    fn permanent_failures_are_classified() {
        let e = ProviderError::from_response(P, 404, "no_service", None);
        assert!(is_permanent(&e) && !e.retryable);
        let e = ProviderError::from_response(P, 500, "rollup_error", None);
        assert!(!is_permanent(&e) && e.retryable);
    }
}
