//! Client-side token buckets per provider, at the providers' documented limits.

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

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let per_sec = self.rate.capacity as f64 / self.rate.per.as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(self.rate.capacity as f64);
        self.last = now;
    }
    fn wait_for_one(&self) -> Duration {
        if self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        let per_sec = self.rate.capacity as f64 / self.rate.per.as_secs_f64();
        Duration::from_secs_f64((1.0 - self.tokens) / per_sec)
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

    pub fn new_at(rates: &[Rate], now: Instant) -> RateLimiter {
        let buckets = rates
            .iter()
            .map(|r| Bucket {
                rate: *r,
                tokens: r.capacity as f64,
                last: now,
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
            b.refill(now);
        }
        let wait = buckets
            .iter()
            .map(Bucket::wait_for_one)
            .max()
            .unwrap_or(Duration::ZERO);
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for b in buckets.iter_mut() {
            b.tokens -= 1.0;
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
            assert!(in_window <= 250 + 1, "{in_window} grants within a minute");
        }
        let span = grants[999].duration_since(t0);
        // 250 at once, then 750 more at 250/min ≈ 180 s.
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
