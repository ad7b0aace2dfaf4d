//! Per-environment exponential backoff (pure): an environment whose reconcile failed is left
//! out of the next cycles until its delay has passed; the delay doubles with each consecutive
//! failure up to a ceiling and resets on success.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    state: BTreeMap<String, (u32, Instant)>,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            state: BTreeMap::new(),
        }
    }

    /// The delay after `failures` consecutive failures: base·2^(failures−1), capped.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// Record a failure at `now`; returns the delay before the environment is retried.
    pub fn failed(&mut self, env: &str, now: Instant) -> Duration {
        let failures = self.state.get(env).map_or(0, |(n, _)| *n) + 1;
        let delay = self.delay(failures);
        self.state.insert(env.to_string(), (failures, now + delay));
        delay
    }

    pub fn succeeded(&mut self, env: &str) {
        self.state.remove(env);
    }

    /// Consecutive failures of `env`.
    pub fn failures(&self, env: &str) -> u32 {
        self.state.get(env).map_or(0, |(n, _)| *n)
    }

    /// Environments still waiting at `now`.
    pub fn waiting(&self, now: Instant) -> BTreeSet<String> {
        self.state
            .iter()
            .filter(|(_, (_, until))| *until > now)
            .map(|(env, _)| env.clone())
            .collect()
    }

    /// When the next waiting environment becomes due, if any is waiting at `now`.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.state
            .values()
            .map(|(_, until)| *until)
            .filter(|until| *until > now)
            .min()
    }

    /// Forget environments no longer in the SSOT.
    pub fn retain(&mut self, keep: &BTreeSet<String>) {
        self.state.retain(|env, _| keep.contains(env));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_ceiling_and_reset_on_success() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(b.failed("a", t), Duration::from_secs(5));
        assert_eq!(b.failed("a", t), Duration::from_secs(10));
        assert_eq!(b.failed("a", t), Duration::from_secs(20));
        assert_eq!(b.failed("a", t), Duration::from_secs(40));
        assert_eq!(b.failed("a", t), Duration::from_secs(60));
        assert_eq!(b.failed("a", t), Duration::from_secs(60));
        assert_eq!(b.failures("a"), 6);
        b.succeeded("a");
        assert_eq!(b.failures("a"), 0);
        assert_eq!(b.failed("a", t), Duration::from_secs(5));
    }

    #[test]
    fn only_failing_environments_wait_and_they_come_due() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        let t = Instant::now();
        b.failed("staging", t);
        b.failed("dev", t);
        b.failed("dev", t);
        let waiting = b.waiting(t + Duration::from_secs(1));
        assert!(waiting.contains("staging") && waiting.contains("dev"));
        assert!(!waiting.contains("production"));
        assert_eq!(b.next_due(t), Some(t + Duration::from_secs(5)));
        let later = t + Duration::from_secs(6);
        assert_eq!(b.waiting(later).into_iter().collect::<Vec<_>>(), ["dev"]);
        assert_eq!(b.next_due(later), Some(t + Duration::from_secs(10)));
        assert_eq!(b.next_due(t + Duration::from_secs(11)), None);
        // Still counted until a success: the next failure waits longer.
        assert_eq!(b.failed("dev", later), Duration::from_secs(20));
    }

    #[test]
    fn forgets_environments_that_left_the_ssot() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let t = Instant::now();
        b.failed("gone", t);
        b.failed("kept", t);
        b.retain(&["kept".to_string()].into_iter().collect());
        assert_eq!(b.failures("gone"), 0);
        assert_eq!(b.failures("kept"), 1);
    }
}
