//! Password guessing and floods: the per-account and per-client limits and the bound on
//! password hashes computed at once.

use std::net::IpAddr;
use std::sync::Arc;

use cpx_web::throttle::{check_key, quota, MAX_THROTTLE_KEYS};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use tokio::sync::Semaphore;

use crate::config::DemoConfig;
use crate::store::is_valid_username;

/// Password guessing: per-account and per-client limits (GCRA, the governor crate: a burst,
/// then one attempt per period, so the wait grows with the attempts), and a bound on the
/// Argon2 hashes computed at once (19 MiB each).
pub(crate) struct Throttle {
    pub(crate) per_account: DefaultKeyedRateLimiter<String>,
    pub(crate) per_client: DefaultKeyedRateLimiter<IpAddr>,
    /// New sessions and challenges per client: a flood from one client meets `429`s long
    /// before it can evict other people's anonymous sessions or fill the challenge store.
    pub(crate) new_sessions: DefaultKeyedRateLimiter<IpAddr>,
    pub(crate) challenges: DefaultKeyedRateLimiter<IpAddr>,
    pub(crate) hashes: Arc<Semaphore>,
}

impl Throttle {
    pub(crate) fn new(config: &DemoConfig) -> Self {
        Self {
            per_account: RateLimiter::keyed(quota(
                config.account_attempt_burst,
                config.account_attempt_period,
            )),
            per_client: RateLimiter::keyed(quota(
                config.client_attempt_burst,
                config.client_attempt_period,
            )),
            new_sessions: RateLimiter::keyed(quota(
                config.session_creation_burst,
                config.session_creation_period,
            )),
            challenges: RateLimiter::keyed(quota(config.challenge_burst, config.challenge_period)),
            hashes: Arc::new(Semaphore::new(config.max_concurrent_password_hashes.max(1))),
        }
    }

    /// `Err(seconds to wait)` if this client made too many sessions (or challenges) lately.
    pub(crate) fn check_client(
        limiter: &DefaultKeyedRateLimiter<IpAddr>,
        client: IpAddr,
    ) -> Result<(), u64> {
        check_key(limiter, &client)
    }

    /// `Err(seconds to wait)` if this client has tried too often (a hard limit: it is the
    /// client's own address); then, for an account name of valid syntax, waits for the
    /// account's turn, at most `max_delay` (`Err` past that). A name of invalid syntax names
    /// no account and is no key.
    pub(crate) async fn check(
        &self,
        username: &str,
        client: IpAddr,
        max_delay: std::time::Duration,
    ) -> Result<(), u64> {
        if self.per_account.len() > MAX_THROTTLE_KEYS {
            self.per_account.retain_recent();
        }
        Self::check_client(&self.per_client, client)?;
        if !is_valid_username(username) {
            return Ok(());
        }
        let key = username.to_ascii_lowercase();
        let deadline = tokio::time::Instant::now() + max_delay;
        loop {
            let clock = governor::clock::DefaultClock::default();
            let wait = match self.per_account.check_key(&key) {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    use governor::clock::Clock;
                    not_until.wait_time_from(clock.now())
                }
            };
            let wake = tokio::time::Instant::now() + wait;
            if wake > deadline {
                return Err(wait.as_secs().max(1));
            }
            tokio::time::sleep_until(wake).await;
        }
    }
}
