//! GitHub and Plane webhooks. The signature (HMAC-SHA256 of the raw body, RFC 2104) is
//! checked first; a bad one is answered 401 and nothing is recorded. The delivery id is then
//! recorded in `ops.webhook_deliveries` before acting, so a redelivery of a processed
//! delivery is a no-op.

use super::errors::{ok, ApiError, Data};
use super::AppState;
use crate::store::{Enqueued, Level, NewEvent};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 (RFC 2104) of `msg` under `key` (RustCrypto `hmac`): how a sender signs.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = mac(key);
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (a long one is hashed first), so this never fails.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Check a hex signature (either case) against the body's HMAC with `hmac`'s constant-time
/// `verify_slice` (a truncated or over-long signature fails).
pub fn verify_hex(secret: &[u8], body: &[u8], sig_hex: &str) -> bool {
    let Ok(sig) = hex::decode(sig_hex.trim()) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn not_configured(env: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "webhook_not_configured",
        format!("set {env} to accept this webhook"),
    )
}

fn bad_signature() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        "the webhook signature does not match the body",
    )
}

fn check_delivery_id(id: &str) -> Result<(), ApiError> {
    if id.len() > 200 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "the delivery id must be 1-200 printable ASCII characters",
        ));
    }
    Ok(())
}

/// Record the delivery; Ok(true) when it must be processed, Ok(false) when it already was.
async fn record(st: &AppState, id: &str, source: &str, body: &[u8]) -> Result<bool, ApiError> {
    let sha = hex::encode(Sha256::digest(body));
    if st
        .store
        .record_webhook_delivery(id, source, true, Some(&sha))
        .await?
    {
        return Ok(true);
    }
    // Seen before: process again only if the first attempt did not finish.
    Ok(!st
        .store
        .webhook_delivery(id)
        .await?
        .is_some_and(|d| d.processed))
}

/// A webhook's answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WebhookAnswer {
    /// The delivery id (Plane's prefixed `plane:`).
    pub delivery: String,
    /// True when this delivery was processed before (nothing was done again).
    pub duplicate: bool,
    /// The event name (`X-GitHub-Event`, Plane's `event`); absent on a duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The pushed branch (GitHub pushes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The reconcile jobs enqueued, one per environment tracking the branch.
    pub jobs: Vec<WebhookJob>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WebhookJob {
    pub environment: String,
    pub job: uuid::Uuid,
    pub links: WebhookJobLinks,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WebhookJobLinks {
    /// `/api/jobs/{id}`.
    pub job: String,
}

fn duplicate(id: &str) -> Data<WebhookAnswer> {
    ok(WebhookAnswer {
        delivery: id.to_string(),
        duplicate: true,
        event: None,
        branch: None,
        jobs: Vec::new(),
    })
}

pub async fn github(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Data<WebhookAnswer>, ApiError> {
    let secret = st
        .github_secret
        .as_deref()
        .ok_or_else(|| not_configured(super::GITHUB_SECRET_ENV))?;
    let sig = header(&headers, "x-hub-signature-256").ok_or_else(bad_signature)?;
    let hex_sig = sig.strip_prefix("sha256=").ok_or_else(bad_signature)?;
    if !verify_hex(secret, &body, hex_sig) {
        return Err(bad_signature());
    }
    let delivery = header(&headers, "x-github-delivery")
        .ok_or_else(|| ApiError::bad_request("missing X-GitHub-Delivery header"))?
        .to_string();
    check_delivery_id(&delivery)?;
    let event = header(&headers, "x-github-event")
        .unwrap_or("unknown")
        .to_string();
    if !record(&st, &delivery, "github", &body).await? {
        return Ok(duplicate(&delivery));
    }
    let mut jobs = Vec::new();
    let mut branch = None;
    if event == "push" {
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("invalid push payload: {e}"),
            )
        })?;
        branch = v["ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string);
        if let Some(b) = &branch {
            let envs: Vec<String> = st
                .ssot
                .iter()
                .flat_map(|s| s.environments())
                .filter(|e| &e.spec.branch == b)
                .map(|e| e.metadata.name.clone())
                .collect();
            for env in envs {
                let payload = json!({
                    "action": "reconcile", "environment": env, "trigger": "webhook",
                    "source": "github", "delivery": delivery, "after": v["after"],
                });
                let key = format!("webhook:github:{delivery}:{env}");
                let job = match st.store.enqueue("reconcile", &key, &payload, None).await? {
                    Enqueued::New(j) | Enqueued::Existing(j) => j,
                };
                jobs.push(WebhookJob {
                    links: WebhookJobLinks {
                        job: format!("/api/jobs/{}", job.id),
                    },
                    environment: env,
                    job: job.id,
                });
            }
        }
    }
    let mut ev = NewEvent::new(
        Level::Info,
        "console",
        format!(
            "github {event} delivery {delivery}: {} reconcile job(s) enqueued",
            jobs.len()
        ),
    );
    ev.correlation_id = Some(format!("github:{delivery}"));
    ev.fields = json!({"branch": branch, "event": event});
    st.store.append_events(&[ev]).await?;
    st.store.mark_webhook_processed(&delivery).await?;
    let status = if jobs.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(Data(
        status,
        WebhookAnswer {
            delivery,
            duplicate: false,
            event: Some(event),
            branch,
            jobs,
        },
    ))
}

pub async fn plane(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Data<WebhookAnswer>, ApiError> {
    let secret = st
        .plane_secret
        .as_deref()
        .ok_or_else(|| not_configured(super::PLANE_SECRET_ENV))?;
    let sig = header(&headers, "x-plane-signature").ok_or_else(bad_signature)?;
    if !verify_hex(secret, &body, sig) {
        return Err(bad_signature());
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("invalid Plane payload: {e}"),
        )
    })?;
    let id = v["event_id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| header(&headers, "x-plane-delivery").map(str::to_string))
        .ok_or_else(|| ApiError::bad_request("missing event_id (v2) or X-Plane-Delivery header"))?;
    check_delivery_id(&id)?;
    let delivery = format!("plane:{id}");
    if !record(&st, &delivery, "plane", &body).await? {
        return Ok(duplicate(&delivery));
    }
    let event = v["event"].as_str().unwrap_or("unknown").to_string();
    let action = v["action"].as_str().unwrap_or("").to_string();
    let mut ev = NewEvent::new(
        Level::Info,
        "console",
        format!("plane {event} {action} delivery {id}"),
    );
    ev.correlation_id = Some(delivery.clone());
    ev.fields = json!({"event": event, "action": action});
    st.store.append_events(&[ev]).await?;
    st.store.mark_webhook_processed(&delivery).await?;
    Ok(ok(WebhookAnswer {
        delivery,
        duplicate: false,
        event: Some(event),
        branch: None,
        jobs: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_vectors() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let key = [0xaau8; 131];
        let mac = hmac_sha256(
            &key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert!(verify_hex(
            b"Jefe",
            b"what do ya want for nothing?",
            "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"
        ));
        assert!(!verify_hex(b"Jefe", b"x", "zz"));
        // A truncated signature is refused (verify_slice needs the whole tag).
        assert!(!verify_hex(
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c7"
        ));
    }
}
