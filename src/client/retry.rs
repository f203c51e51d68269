//! Sans-IO retry policy (C7, C13): bounded attempts per query, exponential backoff
//! between reconnects, and a per-server reconnect budget (a token bucket), so a
//! server that keeps closing connections never causes a reconnect storm.
//!
//! One [`Retry`] value lives per server in the adapter (or the simulation). After a
//! connection to that server is lost with queries outstanding the caller asks
//! [`Retry::on_failure`] when it may reconnect; after a response arrives it calls
//! [`Retry::on_success`]. Each query carries its own attempt count, checked with
//! [`RetryPolicy::may_retry`]. Nothing here reads a clock. There is no jitter: the
//! core is deterministic; adapters that serve many clients may add their own.
#![forbid(unsafe_code)]

use core::time::Duration;

use crate::time::{Instant, duration_ms};

/// The limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts a query may make in all, the first included (default 3).
    pub max_attempts_per_query: u32,
    /// Delay before the first reconnect after a failure (default 100 ms).
    pub backoff_initial: Duration,
    /// Ceiling of the doubling backoff (default 10 s).
    pub backoff_max: Duration,
    /// Reconnects allowed in a burst: the token bucket's capacity (default 5).
    pub budget: u32,
    /// One reconnect token is regained per this interval (default 10 s), so over a
    /// long run at most one reconnect per interval happens.
    pub budget_refill: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts_per_query: 3,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            budget: 5,
            budget_refill: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Whether a query that has made `attempts` attempts may make another.
    #[must_use]
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts_per_query
    }
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub enum RetryDecision {
    /// Reconnect no earlier than this instant.
    RetryAt(Instant),
    /// The budget is spent: fail the outstanding queries instead of reconnecting.
    GiveUp,
}

/// Per-server retry state.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    policy: RetryPolicy,
    tokens: u32,
    refilled_at: Instant,
    failures: u32,
    last: Instant,
}

impl Retry {
    /// Fresh state with a full budget, at time `now`.
    #[must_use]
    pub fn new(policy: RetryPolicy, now: Instant) -> Self {
        Retry {
            policy,
            tokens: policy.budget,
            refilled_at: now,
            failures: 0,
            last: now,
        }
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Consecutive failures since the last success.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Reconnect tokens left (after refilling up to the last call's time).
    #[must_use]
    pub fn tokens(&self) -> u32 {
        self.tokens
    }

    fn refill(&mut self, now: Instant) {
        let per = duration_ms(self.policy.budget_refill).max(1);
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let gained = duration_ms(elapsed) / per;
        if gained > 0 {
            let gained32 = u32::try_from(gained).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(gained32).min(self.policy.budget);
            self.refilled_at = self
                .refilled_at
                .saturating_add(Duration::from_millis(gained.saturating_mul(per)));
        }
        if self.tokens == self.policy.budget {
            self.refilled_at = now;
        }
    }

    /// A connection to this server failed or closed with queries outstanding: when
    /// may the caller reconnect? Spends one token; with none left, `GiveUp`.
    pub fn on_failure(&mut self, now: Instant) -> RetryDecision {
        let now = now.max(self.last);
        self.last = now;
        self.refill(now);
        if self.tokens == 0 {
            return RetryDecision::GiveUp;
        }
        self.tokens -= 1;
        let shift = self.failures.min(31);
        self.failures = self.failures.saturating_add(1);
        let initial = duration_ms(self.policy.backoff_initial);
        let delay = initial
            .saturating_mul(1u64 << shift)
            .min(duration_ms(self.policy.backoff_max));
        RetryDecision::RetryAt(now.saturating_add(Duration::from_millis(delay)))
    }

    /// A response arrived: the backoff starts over (the token budget does not).
    pub fn on_success(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn c13_backoff_doubles_and_caps() {
        let p = RetryPolicy {
            budget: 100,
            backoff_max: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        let mut r = Retry::new(p, at(0));
        let waits: [u64; 5] = core::array::from_fn(|_| match r.on_failure(at(1000)) {
            RetryDecision::RetryAt(t) => t.as_millis() - 1000,
            RetryDecision::GiveUp => u64::MAX,
        });
        assert_eq!(waits, [100, 200, 400, 700, 700]);
        r.on_success();
        assert_eq!(r.on_failure(at(1000)), RetryDecision::RetryAt(at(1100)));
    }

    #[test]
    fn c13_budget_stops_a_closing_server_and_refills() {
        let mut r = Retry::new(RetryPolicy::default(), at(0));
        let mut now = 0;
        let mut reconnects = 0;
        // A server that closes every connection at once, for 60 s of retrying.
        while now < 60_000 {
            match r.on_failure(at(now)) {
                RetryDecision::RetryAt(t) => {
                    reconnects += 1;
                    now = t.as_millis();
                }
                RetryDecision::GiveUp => now += 1000,
            }
        }
        // Burst of 5 plus one per 10 s.
        assert!(reconnects <= 5 + 6, "{reconnects}");
        assert!(reconnects >= 5);
        assert!(RetryPolicy::default().may_retry(2));
        assert!(!RetryPolicy::default().may_retry(3));
    }
}
