//! Challenge nonces: issued per browser session, single use, short-lived, kept in memory.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::NonceError;

/// Bytes of randomness in a nonce: 32, as Web eID, giving 44 base64 characters.
const NONCE_BYTES: usize = 32;

/// Below this many entries the store is not swept: sweeping is O(n) and only needed when
/// sessions come and go without consuming their nonce.
const SWEEP_THRESHOLD: usize = 1024;

/// Issues and checks challenge nonces. Thread-safe (a `Mutex` inside); share it with an `Arc`
/// or a `static`. Nonces live in memory only: a site with several server processes needs one
/// store they share, or sticky sessions.
#[derive(Debug)]
pub struct NonceStore {
    lifetime: Duration,
    random: SystemRandom,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    by_session: HashMap<String, IssuedNonce>,
    session_by_nonce: HashMap<String, String>,
    sweep_at_len: usize,
}

#[derive(Debug)]
struct IssuedNonce {
    nonce: String,
    issued_at: Instant,
}

impl Default for NonceStore {
    /// Nonces valid for 5 minutes.
    fn default() -> Self {
        NonceStore::new(Duration::from_secs(5 * 60))
    }
}

impl NonceStore {
    /// A store whose nonces are valid for `lifetime` after they are issued.
    pub fn new(lifetime: Duration) -> Self {
        NonceStore {
            lifetime,
            random: SystemRandom::new(),
            state: Mutex::new(State {
                sweep_at_len: SWEEP_THRESHOLD,
                ..State::default()
            }),
        }
    }

    /// How long a nonce stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A fresh nonce for this browser session: 32 random bytes in base64 (44 characters).
    /// It replaces any earlier nonce of the session, which can then no longer be used.
    ///
    /// # Panics
    /// If the operating system's random generator fails, which it does not on supported
    /// systems; use [`NonceStore::try_issue`] to get an error instead.
    pub fn issue(&self, session_id: &str) -> String {
        match self.try_issue(session_id) {
            Ok(nonce) => nonce,
            Err(RandomUnavailable) => panic!("the operating system's random generator failed"),
        }
    }

    /// Like [`NonceStore::issue`], but reports a failure of the random generator.
    pub fn try_issue(&self, session_id: &str) -> Result<String, RandomUnavailable> {
        let mut bytes = [0u8; NONCE_BYTES];
        self.random
            .fill(&mut bytes)
            .map_err(|_| RandomUnavailable)?;
        let nonce = STANDARD.encode(bytes);

        let now = Instant::now();
        let mut state = self.lock();
        state.sweep_if_large(now, self.lifetime);
        let issued = IssuedNonce {
            nonce: nonce.clone(),
            issued_at: now,
        };
        if let Some(replaced) = state.by_session.insert(session_id.to_owned(), issued) {
            state.session_by_nonce.remove(&replaced.nonce);
        }
        state
            .session_by_nonce
            .insert(nonce.clone(), session_id.to_owned());
        Ok(nonce)
    }

    /// Checks that `nonce` was issued to `session_id` and has not expired. Single use: the
    /// nonce is removed whatever the outcome, so a second call with it gives `Unknown`.
    pub fn consume(&self, session_id: &str, nonce: &str) -> Result<(), NonceError> {
        let now = Instant::now();
        let mut state = self.lock();
        let owner = state
            .session_by_nonce
            .remove(nonce)
            .ok_or(NonceError::Unknown)?;
        let issued = state.by_session.remove(&owner).ok_or(NonceError::Unknown)?;
        // `owner` came from a map lookup, `session_id` from the client's cookie: compare in
        // constant time so the comparison leaks nothing about the owner's session id.
        if !constant_time_eq(owner.as_bytes(), session_id.as_bytes()) {
            return Err(NonceError::WrongSession);
        }
        if now.duration_since(issued.issued_at) >= self.lifetime {
            return Err(NonceError::Expired);
        }
        Ok(())
    }

    /// Takes the session's current nonce out of the store (Web eID's "get and remove"), for a
    /// site that does not send the nonce back with the token. Fails with `Unknown` if the
    /// session has none and with `Expired` if it is too old; removed either way.
    pub fn take(&self, session_id: &str) -> Result<String, NonceError> {
        let now = Instant::now();
        let mut state = self.lock();
        let issued = state
            .by_session
            .remove(session_id)
            .ok_or(NonceError::Unknown)?;
        state.session_by_nonce.remove(&issued.nonce);
        if now.duration_since(issued.issued_at) >= self.lifetime {
            return Err(NonceError::Expired);
        }
        Ok(issued.nonce)
    }

    /// Forgets the session's nonce, if any (e.g. at logout).
    pub fn forget(&self, session_id: &str) {
        let mut state = self.lock();
        if let Some(issued) = state.by_session.remove(session_id) {
            state.session_by_nonce.remove(&issued.nonce);
        }
    }

    /// Number of nonces currently held (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.lock().by_session.len()
    }

    /// Whether the store holds no nonce.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements (no code here panics while holding the
        // lock), so a poisoned lock only means another thread panicked elsewhere.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Drops nonces expired for more than one lifetime (recently expired ones are kept so that
    /// `consume` can still say `Expired` rather than `Unknown`), once the map has doubled in size.
    fn sweep_if_large(&mut self, now: Instant, lifetime: Duration) {
        if self.by_session.len() < self.sweep_at_len {
            return;
        }
        let keep_for = lifetime.saturating_mul(2);
        let session_by_nonce = &mut self.session_by_nonce;
        self.by_session.retain(|_, issued| {
            let keep = now.duration_since(issued.issued_at) < keep_for;
            if !keep {
                session_by_nonce.remove(&issued.nonce);
            }
            keep
        });
        self.sweep_at_len = (self.by_session.len() * 2).max(SWEEP_THRESHOLD);
    }
}

/// The operating system's random generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct RandomUnavailable;

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_drops_only_long_expired_nonces_and_keeps_maps_consistent() {
        let store = NonceStore::new(Duration::ZERO);
        for i in 0..SWEEP_THRESHOLD {
            store.issue(&format!("session-{i}"));
        }
        // Lifetime zero: every nonce is expired for more than 2 * 0, so this issue sweeps all.
        let fresh = store.issue("last");
        let state = store.lock();
        assert_eq!(state.by_session.len(), 1);
        assert_eq!(state.session_by_nonce.len(), 1);
        assert_eq!(
            state.session_by_nonce.get(&fresh).map(String::as_str),
            Some("last")
        );
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
