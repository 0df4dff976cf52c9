//! Challenge nonces: issued per browser session, single use, short-lived, kept in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::NonceError;

/// Bytes of randomness in a nonce: 32, as Web eID, giving 44 base64 characters.
const NONCE_BYTES: usize = 32;

/// How many outstanding nonces [`NonceStore::default`] and [`NonceStore::new`] hold at most:
/// about 70 MB of memory when full (700 bytes per challenge with 43-character session ids,
/// measured by `scripts/bench-rp.sh`).
pub const DEFAULT_MAX_NONCES: usize = 100_000;

/// Issues and checks challenge nonces. Thread-safe (a `Mutex` inside); share it with an `Arc`
/// or a `static`. Nonces live in memory only: a site with several server processes needs one
/// store they share, or sticky sessions.
///
/// The store is capped: when it holds its maximum of unexpired nonces, `try_issue` refuses
/// ([`NonceError::StoreFull`]) rather than evicting someone's challenge. Expired nonces leave in
/// issue order (a queue, O(1) per nonce). Issue nonces only to browser sessions the site already
/// has, so that a flood of cookieless requests cannot fill it.
#[derive(Debug)]
pub struct NonceStore {
    lifetime: Duration,
    max_nonces: usize,
    random: SystemRandom,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    by_session: HashMap<String, IssuedNonce>,
    session_by_nonce: HashMap<String, String>,
    /// (issued at, session, nonce) in issue order, which is expiry order since every nonce has
    /// the same lifetime. Entries whose nonce was used or replaced stay until they reach the
    /// front (or a compaction), and are then skipped.
    queue: VecDeque<(Instant, String, String)>,
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
    /// A store whose nonces are valid for `lifetime` after they are issued, holding at most
    /// [`DEFAULT_MAX_NONCES`].
    pub fn new(lifetime: Duration) -> Self {
        NonceStore::with_capacity(lifetime, DEFAULT_MAX_NONCES)
    }

    /// A store holding at most `max_nonces` outstanding nonces (at least 1).
    pub fn with_capacity(lifetime: Duration, max_nonces: usize) -> Self {
        NonceStore {
            lifetime,
            max_nonces: max_nonces.max(1),
            random: SystemRandom::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// The most outstanding nonces this store holds.
    pub fn capacity(&self) -> usize {
        self.max_nonces
    }

    /// How long a nonce stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A fresh nonce for this browser session: 32 random bytes in base64 (44 characters).
    /// It replaces any earlier nonce of the session, which can then no longer be used.
    /// Refuses when the operating system's random generator fails, or when the store is full
    /// ([`IssueError::Full`], `ERR_NONCE_STORE_FULL`) rather than evict someone's challenge.
    pub fn try_issue(&self, session_id: &str) -> Result<String, IssueError> {
        let mut bytes = [0u8; NONCE_BYTES];
        self.random
            .fill(&mut bytes)
            .map_err(|_| IssueError::RandomUnavailable(RandomUnavailable))?;
        let nonce = STANDARD.encode(bytes);

        let now = Instant::now();
        let mut state = self.lock();
        state.drop_expired(now, self.lifetime);
        let replaces = state.by_session.contains_key(session_id);
        if !replaces && state.by_session.len() >= self.max_nonces {
            return Err(IssueError::Full(NonceError::StoreFull));
        }
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
        state
            .queue
            .push_back((now, session_id.to_owned(), nonce.clone()));
        state.compact_if_needed(self.max_nonces);
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
    /// Drops the nonces at the front of the queue that have expired: O(1) per nonce dropped.
    fn drop_expired(&mut self, now: Instant, lifetime: Duration) {
        while let Some((issued_at, _, _)) = self.queue.front() {
            if now.duration_since(*issued_at) < lifetime {
                break;
            }
            if let Some((_, session_id, nonce)) = self.queue.pop_front() {
                self.forget_if_current(&session_id, &nonce);
            }
        }
    }

    fn forget_if_current(&mut self, session_id: &str, nonce: &str) {
        if self
            .by_session
            .get(session_id)
            .is_some_and(|issued| issued.nonce == nonce)
        {
            self.by_session.remove(session_id);
            self.session_by_nonce.remove(nonce);
        }
    }

    /// Queue entries of used or replaced nonces are skipped lazily; when they make the queue
    /// twice the cap, drop them all (O(n), once per n issues).
    fn compact_if_needed(&mut self, max_nonces: usize) {
        if self.queue.len() <= max_nonces.saturating_mul(2) {
            return;
        }
        let by_session = &self.by_session;
        self.queue.retain(|(_, session_id, nonce)| {
            by_session
                .get(session_id)
                .is_some_and(|issued| &issued.nonce == nonce)
        });
    }
}

/// The operating system's random generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct RandomUnavailable;

/// Why [`NonceStore::try_issue`] gave no nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    RandomUnavailable(RandomUnavailable),
    /// Always [`NonceError::StoreFull`].
    #[error(transparent)]
    Full(NonceError),
}

impl IssueError {
    /// A stable code: `ERR_RANDOM_UNAVAILABLE` or `ERR_NONCE_STORE_FULL`.
    pub fn code(&self) -> &'static str {
        match self {
            IssueError::RandomUnavailable(_) => "ERR_RANDOM_UNAVAILABLE",
            IssueError::Full(error) => error.code(),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_nonces_leave_in_order_and_maps_stay_consistent() {
        let store = NonceStore::new(Duration::ZERO);
        for i in 0..1000 {
            store.try_issue(&format!("session-{i}")).expect("a nonce");
        }
        // Lifetime zero: every earlier nonce has expired, so this issue drops them all.
        let fresh = store.try_issue("last").expect("a nonce");
        let state = store.lock();
        assert_eq!(state.by_session.len(), 1);
        assert_eq!(state.session_by_nonce.len(), 1);
        assert_eq!(state.queue.len(), 1);
        assert_eq!(
            state.session_by_nonce.get(&fresh).map(String::as_str),
            Some("last")
        );
    }

    #[test]
    fn reissuing_to_one_session_does_not_grow_the_queue_without_bound() {
        let store = NonceStore::with_capacity(Duration::from_secs(300), 10);
        for _ in 0..1000 {
            store.try_issue("same-session").expect("a nonce");
        }
        let state = store.lock();
        assert_eq!(state.by_session.len(), 1);
        assert!(state.queue.len() <= 21, "{}", state.queue.len());
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
