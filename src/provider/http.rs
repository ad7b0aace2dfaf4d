//! The one HTTP layer every adapter uses: auth injection, base URL, timeouts, retries with
//! exponential backoff and full jitter, `Retry-After` and rate-limit headers, client-side
//! token buckets, typed error envelopes, and request counts.

use super::error::{Provider, ProviderError};
use super::ratelimit::{Rate, RateLimiter};
use super::secret::SecretValue;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How the token is presented.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(SecretValue),
    /// A named header, e.g. Plane's `X-API-Key`.
    Header(&'static str, SecretValue),
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total attempts, the first included (at most 5).
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// Longest `Retry-After` we accept to wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Sleeping is injectable so retry tests run in virtual time (and record what was waited).
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

#[derive(Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Records every requested sleep and returns at once.
#[derive(Debug, Default)]
pub struct RecordingSleeper(pub Mutex<Vec<Duration>>);

impl RecordingSleeper {
    pub fn total(&self) -> Duration {
        self.0.lock().map(|v| v.iter().sum()).unwrap_or_default()
    }
    pub fn recorded(&self) -> Vec<Duration> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if let Ok(mut v) = self.0.lock() {
            v.push(d);
        }
        Box::pin(std::future::ready(()))
    }
}

/// Requests counted per provider and status (`"200"`, `"429"`, `"network"`).
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<BTreeMap<(Provider, String), u64>>,
}

impl Metrics {
    pub fn record(&self, provider: Provider, code: &str) {
        if let Ok(mut m) = self.counts.lock() {
            *m.entry((provider, code.to_string())).or_default() += 1;
        }
    }
    pub fn snapshot(&self) -> BTreeMap<(Provider, String), u64> {
        self.counts.lock().map(|m| m.clone()).unwrap_or_default()
    }
    pub fn total(&self, provider: Provider) -> u64 {
        self.snapshot()
            .iter()
            .filter(|((p, _), _)| *p == provider)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Documented client-side limits per provider.
pub fn default_rates(provider: Provider) -> Vec<Rate> {
    match provider {
        Provider::Digitalocean => vec![Rate::per_minute(250), Rate::per_hour(5000)],
        Provider::Supabase => vec![Rate::per_minute(120)],
        Provider::Vercel => vec![Rate::per_minute(100)],
        Provider::Slack => vec![Rate::per_second(1)],
        Provider::Plane => vec![Rate::per_minute(60)],
        Provider::Host => Vec::new(),
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub provider: Provider,
    /// API root, without a trailing slash (e.g. `https://api.digitalocean.com`).
    pub base_url: String,
    pub auth: Auth,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub rates: Vec<Rate>,
}

impl ClientConfig {
    pub fn new(provider: Provider, base_url: &str, auth: Auth) -> Self {
        ClientConfig {
            provider,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rates: default_rates(provider),
        }
    }
}

/// One request. `path` is relative to the base URL, or an absolute URL under it (the
/// providers' "next page" links).
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Makes a non-idempotent request safe to retry (sent as `Idempotency-Key`).
    pub idempotency_key: Option<String>,
    /// A 2xx whose body is not JSON counts as a (retryable) failure.
    pub expect_json: bool,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            expect_json: false,
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, path).json(body)
    }
    pub fn query(mut self, k: &str, v: impl ToString) -> Self {
        self.query.push((k.to_string(), v.to_string()));
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
    fn retry_safe(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            )
    }
}

/// A successful answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub attempts: u32,
    /// The body already decoded (when the request expected JSON), so it is parsed once.
    pub parsed: Option<Value>,
}

impl Response {
    /// The body as JSON (`null` for an empty body).
    pub fn json(&self, provider: Provider) -> Result<Value, ProviderError> {
        if self.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&self.body).map_err(|e| {
            ProviderError::new(provider, "decode", format!("malformed JSON answer: {e}"))
                .retryable(true)
        })
    }
}

/// The shared client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    cfg: Arc<ClientConfig>,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
    sleeper: Arc<dyn Sleeper>,
}

impl HttpClient {
    pub fn new(cfg: ClientConfig, metrics: Arc<Metrics>) -> Result<Self, ProviderError> {
        Self::with_sleeper(cfg, metrics, Arc::new(TokioSleeper))
    }

    pub fn with_sleeper(
        cfg: ClientConfig,
        metrics: Arc<Metrics>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Self, ProviderError> {
        let inner = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("odooops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::new(cfg.provider, "client", e.to_string()))?;
        Ok(HttpClient {
            inner,
            limiter: Arc::new(RateLimiter::new(&cfg.rates)),
            cfg: Arc::new(cfg),
            metrics,
            sleeper,
        })
    }

    pub fn provider(&self) -> Provider {
        self.cfg.provider
    }
    pub fn base_url(&self) -> &str {
        &self.cfg.base_url
    }
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn url(&self, path: &str) -> Result<String, ProviderError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            // Only follow links that stay under our base URL (pagination links).
            if !path.starts_with(&self.cfg.base_url) {
                return Err(ProviderError::new(
                    self.cfg.provider,
                    "foreign_link",
                    "a pagination link left the provider's API root",
                ));
            }
            return Ok(path.to_string());
        }
        Ok(format!(
            "{}/{}",
            self.cfg.base_url,
            path.trim_start_matches('/')
        ))
    }

    /// Send with retries. Errors are envelopes; a 2xx is a [`Response`].
    pub async fn send(&self, req: Request) -> Result<Response, ProviderError> {
        let provider = self.cfg.provider;
        let url = self.url(&req.path)?;
        let policy = &self.cfg.retry;
        let max = policy.max_attempts.clamp(1, 5);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            let outcome = self.send_once(&url, &req).await;
            let outcome = match outcome {
                Ok(resp) if req.expect_json => match resp.json(provider) {
                    Ok(v) => Ok(Response {
                        parsed: Some(v),
                        ..resp
                    }),
                    Err(e) => Err((e, Some(resp.headers.clone()))),
                },
                other => other,
            };
            let (err, retry_after) = match outcome {
                Ok(resp) => {
                    self.metrics.record(provider, &resp.status.to_string());
                    self.learn_limits(&resp.headers);
                    return Ok(Response {
                        attempts: attempt,
                        ..resp
                    });
                }
                Err((err, headers)) => {
                    self.metrics.record(
                        provider,
                        &err.status
                            .map_or_else(|| err.code.clone(), |s| s.to_string()),
                    );
                    let retry_after = headers.as_ref().and_then(retry_after);
                    if let Some(h) = &headers {
                        self.learn_limits(h);
                    }
                    (err, retry_after)
                }
            };
            if !err.retryable || !req.retry_safe() || attempt >= max {
                tracing::debug!(provider = %provider, code = %err.code, attempt, "provider call failed");
                return Err(err);
            }
            let delay = match retry_after {
                Some(d) => d.min(policy.max_retry_after),
                None => backoff(policy, attempt),
            };
            tracing::debug!(provider = %provider, code = %err.code, attempt, delay_ms = delay.as_millis() as u64, "retrying");
            self.sleeper.sleep(delay).await;
        }
    }

    /// Send and decode JSON (a malformed body is retried like a network error).
    pub async fn json(&self, mut req: Request) -> Result<Value, ProviderError> {
        req.expect_json = true;
        let resp = self.send(req).await?;
        match resp.parsed {
            Some(v) => Ok(v),
            None => resp.json(self.cfg.provider),
        }
    }

    async fn send_once(
        &self,
        url: &str,
        req: &Request,
    ) -> Result<Response, (ProviderError, Option<HeaderMap>)> {
        let provider = self.cfg.provider;
        let mut rb = self.inner.request(req.method.clone(), url);
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        rb = match &self.cfg.auth {
            Auth::None => rb,
            Auth::Bearer(token) => rb.bearer_auth(token.expose()),
            Auth::Header(name, token) => rb.header(*name, token.expose()),
        };
        if let Some(key) = &req.idempotency_key {
            rb = rb.header("Idempotency-Key", key);
        }
        if let Some(body) = &req.body {
            rb = rb.json(body);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| (network_error(provider, e), None))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .text()
            .await
            .map_err(|e| (network_error(provider, e), Some(headers.clone())))?;
        if (200..300).contains(&status) {
            return Ok(Response {
                status,
                headers,
                body,
                attempts: 0,
                parsed: None,
            });
        }
        let request_id = headers
            .get("x-request-id")
            .or_else(|| headers.get("x-vercel-id"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Err((
            ProviderError::from_response(provider, status, &body, request_id),
            Some(headers),
        ))
    }

    /// Providers tell us their remaining budget; when it is spent, stop until the reset.
    fn learn_limits(&self, headers: &HeaderMap) {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
        };
        let remaining = get("ratelimit-remaining").or_else(|| get("x-ratelimit-remaining"));
        let reset = get("ratelimit-reset").or_else(|| get("x-ratelimit-reset"));
        if let (Some(rem), Some(reset)) = (remaining, reset) {
            if rem <= 0.0 {
                let wait = reset_wait(self.cfg.provider, reset);
                self.limiter
                    .block_until(Instant::now() + wait.min(self.cfg.retry.max_retry_after));
            }
        }
    }
}

/// DigitalOcean, Vercel and Plane send the reset as epoch seconds; Supabase as seconds to wait.
fn reset_wait(provider: Provider, reset: f64) -> Duration {
    if provider == Provider::Supabase || reset < 1_000_000_000.0 {
        return Duration::from_secs_f64(reset.max(0.0));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    Duration::from_secs_f64((reset - now).max(0.0))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt-1))].
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(policy.cap);
    ceiling.mul_f64(fastrand::f64())
}

fn network_error(provider: Provider, e: reqwest::Error) -> ProviderError {
    let code = if e.is_timeout() {
        "timeout"
    } else if e.is_decode() || e.is_body() {
        "truncated"
    } else {
        "network"
    };
    // reqwest errors carry the URL, never headers: no secret can leak through them.
    ProviderError::new(provider, code, e.without_url().to_string()).retryable(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_the_exponential_ceiling() {
        let p = RetryPolicy::default();
        for attempt in 1..=5 {
            for _ in 0..100 {
                let d = backoff(&p, attempt);
                assert!(d <= p.base * (1 << (attempt - 1)));
            }
        }
        assert!(backoff(&p, 30) <= p.cap);
    }

    #[test]
    fn retry_safety_follows_the_method_or_the_key() {
        assert!(Request::get("/x").retry_safe());
        assert!(!Request::post("/x", Value::Null).retry_safe());
        assert!(Request::post("/x", Value::Null)
            .idempotency_key("k")
            .retry_safe());
    }
}
