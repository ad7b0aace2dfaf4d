//! The controller's Prometheus metrics, rendered in the text exposition format. Counters and
//! the duration histogram live in the process; drift and queue depth are read from the store
//! at scrape time; provider requests come from the shared HTTP layer's counters.

use crate::console::prom_label as label;
use crate::provider::http::Metrics as HttpMetrics;
use crate::store::Store;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct ControllerMetrics {
    reconciles: Mutex<BTreeMap<Outcome, u64>>,
    duration: Mutex<Histogram>,
    jobs: Mutex<BTreeMap<(String, String), u64>>,
    pub leader: AtomicBool,
    pub ssot_valid: AtomicBool,
    pub last_success_unix: AtomicU64,
}

impl ControllerMetrics {
    pub fn reconciled(&self, outcome: Outcome, seconds: f64) {
        if let Ok(mut m) = self.reconciles.lock() {
            *m.entry(outcome).or_default() += 1;
        }
        if let Ok(mut h) = self.duration.lock() {
            if h.counts.is_empty() {
                h.counts = vec![0; BUCKETS.len()];
            }
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
        if outcome != Outcome::Failure {
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            self.last_success_unix.store(now, Ordering::Relaxed);
        }
    }

    pub fn job(&self, queue: &str, result: &str) {
        if let Ok(mut m) = self.jobs.lock() {
            *m.entry((queue.to_string(), result.to_string()))
                .or_default() += 1;
        }
    }

    pub fn reconcile_count(&self, outcome: Outcome) -> u64 {
        self.reconciles
            .lock()
            .map(|m| m.get(&outcome).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The exposition text. Store-backed series are left out (with a comment) when the store
    /// cannot be read, so a scrape never fails on a store outage.
    pub async fn render(&self, store: &Store, http: &Arc<HttpMetrics>) -> String {
        let mut out = String::new();
        out.push_str("# HELP odooops_reconcile_total Reconciles by result.\n# TYPE odooops_reconcile_total counter\n");
        let reconciles = self
            .reconciles
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        for o in [Outcome::Success, Outcome::Noop, Outcome::Failure] {
            let n = reconciles.get(&o).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "odooops_reconcile_total{{result=\"{}\"}} {n}",
                o.as_str()
            );
        }
        out.push_str("# HELP odooops_reconcile_duration_seconds Wall time of one reconcile (observe, plan, apply, evidence).\n# TYPE odooops_reconcile_duration_seconds histogram\n");
        if let Ok(h) = self.duration.lock() {
            for (i, le) in BUCKETS.iter().enumerate() {
                let n = h.counts.get(i).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "odooops_reconcile_duration_seconds_bucket{{le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "odooops_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "odooops_reconcile_duration_seconds_sum {}", h.sum);
            let _ = writeln!(out, "odooops_reconcile_duration_seconds_count {}", h.count);
        }
        out.push_str("# HELP odooops_provider_requests_total Provider API requests by provider and HTTP status (or transport error).\n# TYPE odooops_provider_requests_total counter\n");
        for ((provider, code), n) in http.snapshot() {
            let _ = writeln!(
                out,
                "odooops_provider_requests_total{{provider=\"{}\",code=\"{}\"}} {n}",
                label(provider.as_str()),
                label(&code)
            );
        }
        out.push_str("# HELP odooops_drift_resources Open drift findings per environment.\n# TYPE odooops_drift_resources gauge\n");
        match store.open_drift_by_env().await {
            Ok(rows) => {
                for d in rows {
                    let _ = writeln!(
                        out,
                        "odooops_drift_resources{{environment=\"{}\"}} {}",
                        label(&d.environment),
                        d.open
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "# store unreadable: {}", label(&e.to_string()));
            }
        }
        out.push_str("# HELP odooops_queue_depth Jobs queued or claimed on the work queue.\n# TYPE odooops_queue_depth gauge\n");
        if let Ok(depth) = store.queue_depth().await {
            let _ = writeln!(out, "odooops_queue_depth {depth}");
        }
        out.push_str("# HELP odooops_jobs_total Work-queue jobs handled, by queue and result.\n# TYPE odooops_jobs_total counter\n");
        for ((queue, result), n) in self.jobs.lock().map(|m| m.clone()).unwrap_or_default() {
            let _ = writeln!(
                out,
                "odooops_jobs_total{{queue=\"{}\",result=\"{}\"}} {n}",
                label(&queue),
                label(&result)
            );
        }
        out.push_str("# HELP odooops_leader 1 while this process leads the reconcile loop.\n# TYPE odooops_leader gauge\n");
        let _ = writeln!(
            out,
            "odooops_leader {}",
            u8::from(self.leader.load(Ordering::Relaxed))
        );
        out.push_str("# HELP odooops_ssot_valid 1 when the last load of the SSOT tree was valid.\n# TYPE odooops_ssot_valid gauge\n");
        let _ = writeln!(
            out,
            "odooops_ssot_valid {}",
            u8::from(self.ssot_valid.load(Ordering::Relaxed))
        );
        out
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
        let h = m.duration.lock().expect("histogram lock");
        assert_eq!(h.count, 3);
        assert_eq!(h.counts[0], 0); // le 0.05
        assert_eq!(h.counts[1], 1); // le 0.1
        assert_eq!(h.counts[6], 2); // le 5
        assert_eq!(*h.counts.last().expect("buckets"), 2); // le 300: the 1000 s one is only in +Inf
        drop(h);
        assert_eq!(m.reconcile_count(Outcome::Failure), 1);
    }
}
