//! One typed error envelope for every provider: `{ok:false, error, code, provider,
//! request_id, retryable}`, mapped from each provider's own error body.

use serde::Serialize;
use serde_json::Value;

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Digitalocean,
    Supabase,
    Vercel,
    Slack,
    Plane,
    /// An environment's host (SSH or this machine): not an HTTP API, but its failures
    /// travel in the same envelope.
    Host,
}

impl Provider {
    /// The HTTP providers.
    pub const ALL: [Provider; 5] = [
        Provider::Digitalocean,
        Provider::Supabase,
        Provider::Vercel,
        Provider::Slack,
        Provider::Plane,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Digitalocean => "digitalocean",
            Provider::Supabase => "supabase",
            Provider::Vercel => "vercel",
            Provider::Slack => "slack",
            Provider::Plane => "plane",
            Provider::Host => "host",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed provider call.
#[derive(Serialize, Clone, Debug, PartialEq, thiserror::Error)]
#[error("{provider}: {code}: {error}")]
pub struct ProviderError {
    /// Always false; present so the envelope serializes as `{ok:false,…}`.
    pub ok: bool,
    /// Human-readable message.
    pub error: String,
    /// Machine code: the provider's (`not_found`, `ratelimited`, …) or ours (`network`,
    /// `timeout`, `decode`, `auth_missing`, `http_<status>`).
    pub code: String,
    pub provider: Provider,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub retryable: bool,
    /// On a conflict, the id of the object that already exists, when the provider names it
    /// (Plane's 409 on a duplicate `external_id` + `external_source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
}

impl ProviderError {
    pub fn new(provider: Provider, code: impl Into<String>, error: impl Into<String>) -> Self {
        ProviderError {
            ok: false,
            error: error.into(),
            code: code.into(),
            provider,
            status: None,
            request_id: None,
            retryable: false,
            existing_id: None,
        }
    }
    pub fn retryable(mut self, r: bool) -> Self {
        self.retryable = r;
        self
    }

    /// Map an HTTP error answer (status, body, request id header) to the envelope.
    pub fn from_response(
        provider: Provider,
        status: u16,
        body: &str,
        header_request_id: Option<String>,
    ) -> Self {
        let json: Option<Value> = serde_json::from_str(body).ok();
        let (code, message, body_request_id) = match (provider, &json) {
            // {"id": "not_found", "message": "...", "request_id": "..."}
            (Provider::Digitalocean, Some(v)) => (
                str_at(v, "/id"),
                str_at(v, "/message"),
                str_at(v, "/request_id"),
            ),
            // {"message": "...", "errorEventId": "..."}
            (Provider::Supabase, Some(v)) => {
                (None, str_at(v, "/message"), str_at(v, "/errorEventId"))
            }
            // {"error": {"code": "...", "message": "..."}}
            (Provider::Vercel, Some(v)) => {
                (str_at(v, "/error/code"), str_at(v, "/error/message"), None)
            }
            // Web API {"ok": false, "error": "code"}; webhooks answer plain text.
            (Provider::Slack, Some(v)) => (str_at(v, "/error"), str_at(v, "/error"), None),
            // {"detail": "..."} | {"error": "..."} | {"field": ["msg"]}
            (Provider::Plane, Some(v)) => (
                None,
                str_at(v, "/detail")
                    .or_else(|| str_at(v, "/error"))
                    .or_else(|| {
                        v.as_object().and_then(|m| {
                            m.iter().next().map(|(k, msgs)| {
                                format!(
                                    "{k}: {}",
                                    msgs.get(0).and_then(Value::as_str).unwrap_or("invalid")
                                )
                            })
                        })
                    }),
                None,
            ),
            (Provider::Host, Some(_)) | (_, None) => {
                let text = body.trim();
                let code = (provider == Provider::Slack && !text.is_empty() && !text.contains(' '))
                    .then(|| text.to_string());
                (code, (!text.is_empty()).then(|| truncate(text, 200)), None)
            }
        };
        let code = code.unwrap_or_else(|| match status {
            401 | 403 => "unauthorized".to_string(),
            404 => "not_found".to_string(),
            409 => "conflict".to_string(),
            429 => "too_many_requests".to_string(),
            s => format!("http_{s}"),
        });
        let retryable = matches!(status, 429 | 500 | 502 | 503 | 504);
        ProviderError {
            ok: false,
            error: message.unwrap_or_else(|| format!("HTTP {status}")),
            code,
            provider,
            status: Some(status),
            request_id: body_request_id.or(header_request_id),
            retryable,
            existing_id: (status == 409)
                .then(|| json.as_ref().and_then(|v| str_at(v, "/id")))
                .flatten(),
        }
    }
}

fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_string)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_each_providers_error_body() {
        let e = ProviderError::from_response(
            Provider::Digitalocean,
            404,
            r#"{"id":"not_found","message":"The resource you were accessing could not be found.","request_id":"r-1"}"#,
            None,
        );
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref(), e.retryable),
            ("not_found", Some("r-1"), false)
        );
        let e = ProviderError::from_response(
            Provider::Supabase,
            400,
            r#"{"message":"Project not ready for deletion."}"#,
            Some("h-1".into()),
        );
        assert_eq!(
            (e.code.as_str(), e.error.as_str(), e.request_id.as_deref()),
            ("http_400", "Project not ready for deletion.", Some("h-1"))
        );
        let e = ProviderError::from_response(
            Provider::Vercel,
            429,
            r#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
            None,
        );
        assert_eq!((e.code.as_str(), e.retryable), ("rate_limited", true));
        let e = ProviderError::from_response(Provider::Slack, 404, "channel_not_found", None);
        assert_eq!(e.code, "channel_not_found");
        let e = ProviderError::from_response(
            Provider::Slack,
            200,
            r#"{"ok":false,"error":"invalid_auth"}"#,
            None,
        );
        assert_eq!(e.code, "invalid_auth");
        let e = ProviderError::from_response(
            Provider::Plane,
            403,
            r#"{"detail":"Given API token is not valid"}"#,
            None,
        );
        assert_eq!(
            (e.code.as_str(), e.error.as_str()),
            ("unauthorized", "Given API token is not valid")
        );
        let e = ProviderError::from_response(
            Provider::Plane,
            400,
            r#"{"name":["This field is required."]}"#,
            None,
        );
        assert_eq!(e.error, "name: This field is required.");
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["ok"], false);
        assert_eq!(v["provider"], "plane");
    }

    #[test]
    fn a_conflict_names_the_existing_object() {
        let e = ProviderError::from_response(
            Provider::Plane,
            409,
            r#"{"error":"Issue with the same external id and external source already exists","id":"3f1e"}"#,
            None,
        );
        assert_eq!(
            (e.code.as_str(), e.existing_id.as_deref()),
            ("conflict", Some("3f1e"))
        );
        let e = ProviderError::from_response(Provider::Plane, 404, r#"{"id":"x"}"#, None);
        assert_eq!(e.existing_id, None);
    }
}
