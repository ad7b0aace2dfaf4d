//! The controller's Prometheus metrics (`prometheus-client`, OpenMetrics text). Counters and
//! the duration histogram live in the process; drift and queue depth are read from the store
//! at scrape time; provider requests come from the shared HTTP layer's counters.

use crate::console::metrics::{counters, encode, gauge, gauges, Label, Labels};
use crate::provider::http::Metrics as HttpMetrics;
use crate::store::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Upper bounds (seconds) of the reconcile duration histogram.
pub const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// How one reconcile ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Nothing to change.
    Noop,
    /// Changes applied (or, for detect-only, drift recorded) without a failure.
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Noop => "noop",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// The controller's in-process metrics (`prometheus-client` types, shared by reference).
pub struct ControllerMetrics {
    reconciles: Family<Labels, Counter>,
    duration: Histogram,
    jobs: Family<Labels, Counter>,
    pub leader: AtomicBool,
    pub ssot_valid: AtomicBool,
    pub last_success_unix: AtomicU64,
}

impl Default for ControllerMetrics {
    fn default() -> ControllerMetrics {
        ControllerMetrics {
            reconciles: Family::default(),
            duration: Histogram::new(BUCKETS.iter().copied()),
            jobs: Family::default(),
            leader: AtomicBool::new(false),
            ssot_valid: AtomicBool::new(false),
            last_success_unix: AtomicU64::new(0),
        }
    }
}

fn result_label(outcome: Outcome) -> Labels {
    vec![("result", Label::new(outcome.as_str()))]
}

impl ControllerMetrics {
    pub fn reconciled(&self, outcome: Outcome, seconds: f64) {
        self.reconciles.get_or_create(&result_label(outcome)).inc();
        self.duration.observe(seconds);
        if outcome != Outcome::Failure {
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            self.last_success_unix.store(now, Ordering::Relaxed);
        }
    }

    pub fn job(&self, queue: &str, result: &str) {
        self.jobs
            .get_or_create(&vec![
                ("queue", Label::new(queue)),
                ("result", Label::new(result)),
            ])
            .inc();
    }

    pub fn reconcile_count(&self, outcome: Outcome) -> u64 {
        self.reconciles.get_or_create(&result_label(outcome)).get()
    }

    /// The exposition text. Store-backed series are left out when the store cannot be read
    /// (logged), so a scrape never fails on a store outage.
    pub async fn render(&self, store: &Store, http: &Arc<HttpMetrics>) -> String {
        let mut r = Registry::default();
        for o in [Outcome::Success, Outcome::Noop, Outcome::Failure] {
            // Every result is exposed from the start, at 0 until it happens.
            let _ = self.reconciles.get_or_create(&result_label(o));
        }
        r.register(
            "odooops_reconcile",
            "Reconciles by result",
            self.reconciles.clone(),
        );
        r.register(
            "odooops_reconcile_duration_seconds",
            "Wall time of one reconcile (observe, plan, apply, evidence)",
            self.duration.clone(),
        );
        r.register(
            "odooops_provider_requests",
            "Provider API requests by provider and HTTP status (or transport error)",
            counters(http.snapshot().into_iter().map(|((provider, code), n)| {
                (
                    vec![
                        ("provider", Label::new(provider.as_str())),
                        ("code", Label::new(code)),
                    ],
                    n,
                )
            })),
        );
        match store.open_drift_by_env().await {
            Ok(rows) => r.register(
                "odooops_drift_resources",
                "Open drift findings per environment",
                gauges(
                    rows.into_iter()
                        .map(|d| (vec![("environment", Label(d.environment))], d.open)),
                ),
            ),
            Err(e) => tracing::warn!(error = %e, "metrics: the store is unreadable"),
        }
        if let Ok(depth) = store.queue_depth().await {
            r.register(
                "odooops_queue_depth",
                "Jobs queued or claimed on the work queue",
                gauge(depth),
            );
        }
        r.register(
            "odooops_jobs",
            "Work-queue jobs handled, by queue and result",
            self.jobs.clone(),
        );
        r.register(
            "odooops_leader",
            "1 while this process leads the reconcile loop",
            gauge(i64::from(self.leader.load(Ordering::Relaxed))),
        );
        r.register(
            "odooops_ssot_valid",
            "1 when the last load of the SSOT tree was valid",
            gauge(i64::from(self.ssot_valid.load(Ordering::Relaxed))),
        );
        encode(&r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = ControllerMetrics::default();
        m.reconciled(Outcome::Noop, 0.07);
        m.reconciled(Outcome::Success, 3.0);
        m.reconciled(Outcome::Failure, 1000.0);
        let mut r = Registry::default();
        r.register("d", "durations", m.duration.clone());
        let text = encode(&r);
        assert!(text.contains("d_count 3\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"0.05\"} 0\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"5.0\"} 2\n"), "{text}");
        // The 1000 s one is only in +Inf.
        assert!(text.contains("d_bucket{le=\"300.0\"} 2\n"), "{text}");
        assert!(text.contains("d_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert_eq!(m.reconcile_count(Outcome::Failure), 1);
    }
}
