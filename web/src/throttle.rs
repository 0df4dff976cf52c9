//! Keyed rate limits (GCRA, the governor crate: a burst, then one per period).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// The keyed rate limiters keep one entry per key seen: past this many, forget idle ones.
pub const MAX_THROTTLE_KEYS: usize = 100_000;

/// `burst` at once, then one per `period` (a zero burst or period counts as one per second).
pub fn quota(burst: u32, period: Duration) -> Quota {
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// `Err(seconds to wait)` if `key` went past its quota lately. Bounds the memory: past
/// [`MAX_THROTTLE_KEYS`] keys, the idle ones are forgotten first.
pub fn check_key<K: Clone + Hash + Eq>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), u64> {
    if limiter.len() > MAX_THROTTLE_KEYS {
        limiter.retain_recent();
    }
    let clock = DefaultClock::default();
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(clock.now()).as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use governor::RateLimiter;

    use super::*;

    #[test]
    fn past_the_burst_a_key_waits_and_others_do_not() {
        let limiter = RateLimiter::keyed(quota(2, Duration::from_secs(60)));
        assert_eq!(check_key(&limiter, &"a"), Ok(()));
        assert_eq!(check_key(&limiter, &"a"), Ok(()));
        assert!(matches!(check_key(&limiter, &"a"), Err(wait) if wait >= 1));
        assert_eq!(check_key(&limiter, &"b"), Ok(()));
    }
}
