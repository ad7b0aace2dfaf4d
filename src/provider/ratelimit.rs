//! Client-side rate limiting per provider, at the providers' documented limits.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One bucket: `capacity` tokens, refilled continuously over `per`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub capacity: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn per_minute(n: u32) -> Rate {
        Rate {
            capacity: n,
            per: Duration::from_secs(60),
        }
    }
    pub const fn per_hour(n: u32) -> Rate {
        Rate {
            capacity: n,
            per: Duration::from_secs(3600),
        }
    }
    pub const fn per_second(n: u32) -> Rate {
        Rate {
            capacity: n,
            per: Duration::from_secs(1),
        }
    }
}

/// A sliding window: at most `capacity` grants within any `per` interval. (A classic token
/// bucket would let 2× the documented rate through a window straddling a refill.)
#[derive(Debug)]
struct Bucket {
    rate: Rate,
    grants: VecDeque<Instant>,
}

impl Bucket {
    fn expire(&mut self, now: Instant) {
        while let Some(first) = self.grants.front() {
            if now.saturating_duration_since(*first) >= self.rate.per {
                self.grants.pop_front();
            } else {
                break;
            }
        }
    }
    fn wait_for_one(&self, now: Instant) -> Duration {
        if (self.grants.len() as u32) < self.rate.capacity {
            return Duration::ZERO;
        }
        self.grants
            .front()
            .map(|first| (*first + self.rate.per).saturating_duration_since(now))
            .unwrap_or(Duration::ZERO)
    }
}

/// Several buckets that must all have a token (DigitalOcean: 250/min and 5,000/h), plus a
/// "blocked until" instant learned from the provider's own rate-limit headers.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<(Vec<Bucket>, Option<Instant>)>,
}

impl RateLimiter {
    pub fn new(rates: &[Rate]) -> RateLimiter {
        Self::new_at(rates, Instant::now())
    }

    /// `now` is kept for symmetry with [`Self::try_acquire_at`]; windows start empty.
    pub fn new_at(rates: &[Rate], _now: Instant) -> RateLimiter {
        let buckets = rates
            .iter()
            .map(|r| Bucket {
                rate: *r,
                grants: VecDeque::with_capacity(r.capacity.min(10_000) as usize),
            })
            .collect();
        RateLimiter {
            state: Mutex::new((buckets, None)),
        }
    }

    /// Take a token at `now`, or say how long to wait before trying again. Pure in `now`,
    /// so it is tested with virtual time.
    pub fn try_acquire_at(&self, now: Instant) -> Result<(), Duration> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (buckets, blocked) = &mut *guard;
        if let Some(until) = *blocked {
            if now < until {
                return Err(until - now);
            }
            *blocked = None;
        }
        for b in buckets.iter_mut() {
            b.expire(now);
        }
        let wait = buckets
            .iter()
            .map(|b| b.wait_for_one(now))
            .max()
            .unwrap_or(Duration::ZERO);
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for b in buckets.iter_mut() {
            b.grants.push_back(now);
        }
        Ok(())
    }

    /// Wait (really) for a token.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_at(Instant::now()) {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// The provider said "no more until then" (remaining 0 and a reset time).
    pub fn block_until(&self, until: Instant) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        guard.1 = Some(guard.1.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of 1,000 calls against DigitalOcean's buckets, in virtual time: no 60-second
    /// window ever holds more than 250 grants, and the whole burst needs the refill time.
    #[test]
    fn a_burst_of_1000_respects_the_buckets() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new_at(&[Rate::per_minute(250), Rate::per_hour(5000)], t0);
        let mut now = t0;
        let mut grants = Vec::new();
        while grants.len() < 1000 {
            match limiter.try_acquire_at(now) {
                Ok(()) => grants.push(now),
                Err(wait) => now += wait,
            }
        }
        for (i, g) in grants.iter().enumerate() {
            let in_window = grants[i..]
                .iter()
                .take_while(|x| x.duration_since(*g) < Duration::from_secs(60))
                .count();
            assert!(in_window <= 250, "{in_window} grants within a minute");
        }
        let span = grants[999].duration_since(t0);
        // 250 at once, then 250 more each minute: the 1,000th at 180 s.
        assert!(
            span >= Duration::from_secs(179) && span <= Duration::from_secs(181),
            "{span:?}"
        );
    }

    #[test]
    fn the_hourly_bucket_binds_long_bursts() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new_at(&[Rate::per_minute(250), Rate::per_hour(5000)], t0);
        let mut now = t0;
        let mut n = 0;
        while n < 6000 {
            match limiter.try_acquire_at(now) {
                Ok(()) => n += 1,
                Err(wait) => now += wait,
            }
        }
        // The hourly bucket (5,000 + refill) stops the minute bucket's 250/min pace.
        assert!(now.duration_since(t0) > Duration::from_secs(20 * 60));
    }

    #[test]
    fn a_provider_block_is_honoured() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new_at(&[Rate::per_second(100)], t0);
        limiter.block_until(t0 + Duration::from_secs(5));
        assert_eq!(limiter.try_acquire_at(t0), Err(Duration::from_secs(5)));
        assert!(limiter.try_acquire_at(t0 + Duration::from_secs(5)).is_ok());
    }
}
