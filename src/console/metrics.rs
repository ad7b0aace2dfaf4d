//! Prometheus exposition with the Prometheus project's `prometheus-client` crate (OpenMetrics
//! text), shared by the console's `/metrics` and the controller's. Label values are escaped
//! here: the crate writes them as given.

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::fmt::Write as _;

use super::errors::ApiError;
use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The media type of the exposition (OpenMetrics 1.0 text, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label value, escaped as the exposition format asks (`\\`, `\"`, `\n`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Label(pub String);

impl Label {
    pub fn new(s: impl Into<String>) -> Label {
        Label(s.into())
    }
}

impl EncodeLabelValue for Label {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A label set: (name, value) pairs.
pub type Labels = Vec<(&'static str, Label)>;

/// A family of gauges set from a snapshot (one series per label set).
pub fn gauges(rows: impl IntoIterator<Item = (Labels, i64)>) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    for (labels, v) in rows {
        f.get_or_create(&labels).set(v);
    }
    f
}

/// A family of counters at the totals of a snapshot (counts read from the store, or kept by
/// the process).
pub fn counters(rows: impl IntoIterator<Item = (Labels, u64)>) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    for (labels, v) in rows {
        f.get_or_create(&labels).inc_by(v);
    }
    f
}

/// One gauge without labels.
pub fn gauge(v: i64) -> Gauge {
    let g = Gauge::<i64>::default();
    g.set(v);
    g
}

/// The exposition text of a registry (ends with `# EOF`).
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, registry).is_err() {
        // Writing into a String does not fail; keep the answer well formed if it ever did.
        out = "# EOF\n".into();
    }
    out
}

/// The console's `/metrics`: open drift per environment, queue depth and runs by status,
/// read from the store at scrape time.
///
/// A scope over some projects only gets the drift of their environments; the console-wide
/// queue depth and run counts need a scope over every project.
pub async fn handler(State(st): State<AppState>) -> Result<Response, ApiError> {
    let all = super::access::sees_all(&st);
    let mut drift = st.store.open_drift_by_env().await?;
    drift.retain(|d| all || super::access::visible(&st, Some(&d.environment)));
    let mut r = Registry::default();
    r.register(
        "odooops_drift_resources",
        "Open drift findings per environment",
        gauges(
            drift
                .iter()
                .map(|d| (vec![("environment", Label::new(&d.environment))], d.open)),
        ),
    );
    if all {
        let depth = st.store.queue_depth().await?;
        let runs = st.store.runs_by_status().await?;
        r.register(
            "odooops_queue_depth",
            "Jobs queued or claimed on the work queue",
            gauge(depth),
        );
        r.register(
            "odooops_runs",
            "Runs recorded in the evidence store, by status",
            counters(runs.iter().map(|c| {
                (
                    vec![("status", Label::new(&c.status))],
                    u64::try_from(c.count).unwrap_or(0),
                )
            })),
        );
    }
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], encode(&r)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut r = Registry::default();
        r.register(
            "odooops_test",
            "A test gauge",
            gauges([(vec![("environment", Label::new("a\"b\\c\nd"))], 3)]),
        );
        let text = encode(&r);
        assert!(
            text.contains("odooops_test{environment=\"a\\\"b\\\\c\\nd\"} 3"),
            "{text}"
        );
        assert!(text.contains("# TYPE odooops_test gauge"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
