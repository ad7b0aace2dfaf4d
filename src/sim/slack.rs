//! Slack, simulated: incoming webhooks (`POST /services/{T}/{B}/{secret}`, plain-text answers)
//! and the Web API methods the adapter calls (`chat.postMessage`, `auth.test`, JSON answers that
//! are HTTP 200 even for application errors). Shapes follow Slack's Web API Swagger file
//! (`chat.postMessage success schema`, `objs_message`) and the webhook error table of the
//! provider notes.

use super::{bearer, lock, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Slack's `chat.postMessage` rejects text longer than this (`msg_too_long`).
const MAX_TEXT: usize = 40_000;
/// Webhooks refuse more attachments than this (`too_many_attachments`).
const MAX_ATTACHMENTS: usize = 100;
const BOT_ID: &str = "B0ODOOOPS01";

/// An incoming webhook the test seeded (by default every path is accepted).
#[derive(Debug, Clone, Default)]
pub struct Hook {
    pub disabled: bool,
    pub archived: bool,
}

#[derive(Debug)]
pub struct SlackState {
    /// Seeded hooks, keyed by `T…/B…` (the secret is never stored).
    pub hooks: BTreeMap<String, Hook>,
    /// When true, only seeded, enabled hooks accept posts (others answer `no_service`).
    pub strict_hooks: bool,
    /// Channels by name → (id, archived).
    pub channels: BTreeMap<String, (String, bool)>,
    /// Tokens answered with `invalid_auth` (revoked).
    pub revoked_tokens: BTreeSet<String>,
    /// Webhook posts: `{team, hook, body}`.
    pub webhook_messages: Vec<Value>,
    /// `chat.postMessage` posts: `{channel, ts, text, blocks?}`.
    pub messages: Vec<Value>,
    seq: u64,
}

impl Default for SlackState {
    fn default() -> Self {
        let channels = [("general", "C0GENERAL01"), ("alerts", "C0ALERTS001")]
            .into_iter()
            .map(|(n, id)| (n.to_string(), (id.to_string(), false)))
            .collect();
        SlackState {
            hooks: BTreeMap::new(),
            strict_hooks: false,
            channels,
            revoked_tokens: BTreeSet::new(),
            webhook_messages: Vec::new(),
            messages: Vec::new(),
            seq: 0,
        }
    }
}

impl SlackState {
    pub fn snapshot(&self) -> Value {
        json!({
            "hooks": self.hooks.iter().map(|(k, h)| json!({"hook": k, "disabled": h.disabled, "archived": h.archived})).collect::<Vec<_>>(),
            "channels": self.channels.iter().map(|(n, (id, archived))| json!({"name": n, "id": id, "is_archived": archived})).collect::<Vec<_>>(),
            "webhook_messages": self.webhook_messages,
            "messages": self.messages,
        })
    }

    /// `hook` (id `T…/B…`, set `{disabled, archived}`) and `channel` (id = name, set
    /// `{archived}`); `delete` removes either.
    pub fn mutate(
        &mut self,
        kind: &str,
        id: &str,
        set: &Value,
        delete: bool,
    ) -> Result<(), String> {
        let flag = |k: &str| set.get(k).and_then(Value::as_bool);
        match kind {
            "hook" => {
                if delete {
                    return self
                        .hooks
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| format!("no hook `{id}`"));
                }
                let h = self.hooks.entry(id.to_string()).or_default();
                h.disabled = flag("disabled").unwrap_or(h.disabled);
                h.archived = flag("archived").unwrap_or(h.archived);
                Ok(())
            }
            "channel" => {
                if delete {
                    return self
                        .channels
                        .remove(id)
                        .map(|_| ())
                        .ok_or_else(|| format!("no channel `{id}`"));
                }
                let n = self.channels.len();
                let c = self
                    .channels
                    .entry(id.to_string())
                    .or_insert_with(|| (format!("C0SIM{n:06}"), false));
                c.1 = flag("archived").unwrap_or(c.1);
                Ok(())
            }
            other => Err(format!("unknown slack kind `{other}`")),
        }
    }

    /// A Slack timestamp: epoch seconds and a six-digit sequence (`1503435956.000247`).
    fn ts(&mut self) -> String {
        self.seq += 1;
        format!(
            "{}.{:06}",
            chrono::Utc::now().timestamp(),
            self.seq % 1_000_000
        )
    }

    /// Resolve `C…` ids and `name` / `#name` to (id, archived).
    fn channel(&self, channel: &str) -> Option<(String, bool)> {
        let name = channel.trim_start_matches('#');
        self.channels.get(name).cloned().or_else(|| {
            self.channels
                .values()
                .find(|(id, _)| id == channel)
                .cloned()
        })
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/services/{team}/{hook}/{secret}", post(webhook))
        .route("/api/chat.postMessage", post(post_message))
        .route("/api/auth.test", post(auth_test).get(auth_test))
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn has_content(body: &Map<String, Value>) -> bool {
    let non_empty = |k: &str| match body.get(k) {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    non_empty("text") || non_empty("blocks") || non_empty("attachments")
}

async fn webhook(
    State(s): State<Shared>,
    Path((team, hook, _secret)): Path<(String, String, String)>,
    body: String,
) -> Response {
    let key = format!("{team}/{hook}");
    let mut st = lock(&s.slack);
    match st.hooks.get(&key) {
        Some(h) if h.disabled => return plain(StatusCode::NOT_FOUND, "no_service"),
        Some(h) if h.archived => return plain(StatusCode::GONE, "channel_is_archived"),
        None if st.strict_hooks => return plain(StatusCode::NOT_FOUND, "no_service"),
        _ => {}
    }
    let Ok(Value::Object(payload)) = serde_json::from_str::<Value>(&body) else {
        return plain(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    if !has_content(&payload) {
        return plain(StatusCode::BAD_REQUEST, "no_text");
    }
    let attachments = payload
        .get("attachments")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if attachments > MAX_ATTACHMENTS {
        return plain(StatusCode::BAD_REQUEST, "too_many_attachments");
    }
    st.webhook_messages
        .push(json!({"team": team, "hook": hook, "body": Value::Object(payload)}));
    plain(StatusCode::OK, "ok")
}

/// Web API answers are HTTP 200 with `ok:false` for application errors.
fn api_error(code: &str) -> Response {
    Json(json!({"ok": false, "error": code})).into_response()
}

/// The token check every Web API method does first.
fn authed(st: &SlackState, headers: &HeaderMap) -> Result<(), Response> {
    match bearer(headers) {
        None => Err(api_error("not_authed")),
        Some(t) if st.revoked_tokens.contains(&t) => Err(api_error("invalid_auth")),
        Some(_) => Ok(()),
    }
}

async fn post_message(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut st = lock(&s.slack);
    if let Err(r) = authed(&st, &headers) {
        return r;
    }
    let args = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return api_error("json_not_object"),
        Err(_) => return api_error("invalid_json"),
    };
    let Some(channel) = args.get("channel").and_then(Value::as_str) else {
        return api_error("channel_not_found");
    };
    let Some((channel_id, archived)) = st.channel(channel) else {
        return api_error("channel_not_found");
    };
    if archived {
        return api_error("is_archived");
    }
    if !has_content(&args) {
        return api_error("no_text");
    }
    let text = args.get("text").and_then(Value::as_str).unwrap_or("");
    if text.chars().count() > MAX_TEXT {
        return api_error("msg_too_long");
    }
    let blocks = args.get("blocks").cloned();
    if let Some(b) = &blocks {
        let valid = b.as_array().is_some_and(|a| {
            a.iter()
                .all(|blk| blk.get("type").and_then(Value::as_str).is_some())
        });
        if !valid {
            return api_error("invalid_blocks");
        }
    }
    let ts = st.ts();
    let mut message = json!({
        "type": "message", "subtype": "bot_message", "text": text, "ts": ts,
        "bot_id": BOT_ID, "username": "odooops",
    });
    if let Some(b) = blocks {
        message["blocks"] = b;
    }
    st.messages
        .push(json!({"channel": channel_id, "ts": ts, "message": message}));
    Json(json!({"ok": true, "channel": channel_id, "ts": ts, "message": message})).into_response()
}

async fn auth_test(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let st = lock(&s.slack);
    if let Err(r) = authed(&st, &headers) {
        return r;
    }
    Json(json!({
        "ok": true, "url": "https://odooops-sim.slack.com/", "team": "OdooOps Sim",
        "user": "odooops", "team_id": "T0SIM0001", "user_id": "U0SIM0001", "bot_id": BOT_ID,
    }))
    .into_response()
}
