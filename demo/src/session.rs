//! Browser sessions, kept in memory on the server; the cookie holds only a random id.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::store::LinkedCard;

pub const SESSION_COOKIE: &str = "cpx_demo_session";

/// Beyond this many live sessions the oldest are dropped, so a flood of cookieless
/// requests cannot grow memory without bound.
const MAX_SESSIONS: usize = 10_000;

/// How long a verified but not yet linked card may wait for the link form.
pub const PENDING_CARD_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    Info(String),
    Error(String),
}

/// A card whose token was verified but whose idNat is linked to no account yet.
#[derive(Debug, Clone)]
pub struct PendingCard {
    pub card: LinkedCard,
    pub verified_at: Instant,
}

#[derive(Debug, Clone)]
pub struct Session {
    /// Carried by every form of this session, checked on every POST of a form.
    pub csrf_token: String,
    pub account_id: Option<i64>,
    pub pending_card: Option<PendingCard>,
    /// The challenge given to this session's page, waiting for its token.
    pub issued_nonce: Option<String>,
    pub flash: Option<Flash>,
    last_seen: Instant,
}

impl Session {
    fn new() -> Self {
        Self {
            csrf_token: random_token(),
            account_id: None,
            pending_card: None,
            issued_nonce: None,
            flash: None,
            last_seen: Instant::now(),
        }
    }

    /// The pending card, unless it waited too long.
    pub fn fresh_pending_card(&self) -> Option<&LinkedCard> {
        self.pending_card
            .as_ref()
            .filter(|pending| pending.verified_at.elapsed() < PENDING_CARD_LIFETIME)
            .map(|pending| &pending.card)
    }
}

/// The session id of the current request, put in the request's extensions by the
/// session layer.
#[derive(Debug, Clone)]
pub struct SessionId(pub String);

pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
    idle_timeout: Duration,
}

impl SessionStore {
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            idle_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves at worst a half-updated session: keep serving.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the session as used now; false if it does not exist or has expired.
    pub fn touch(&self, session_id: &str) -> bool {
        let mut sessions = self.lock();
        match sessions.get_mut(session_id) {
            Some(session) if session.last_seen.elapsed() < self.idle_timeout => {
                session.last_seen = Instant::now();
                true
            }
            Some(_) => {
                sessions.remove(session_id);
                false
            }
            None => false,
        }
    }

    /// Starts an anonymous session and returns its id.
    pub fn create(&self) -> String {
        self.insert(Session::new())
    }

    fn insert(&self, session: Session) -> String {
        let mut sessions = self.lock();
        let idle_timeout = self.idle_timeout;
        sessions.retain(|_, existing| existing.last_seen.elapsed() < idle_timeout);
        while sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, existing)| existing.last_seen)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => sessions.remove(&id),
                None => break,
            };
        }
        let session_id = random_token();
        sessions.insert(session_id.clone(), session);
        session_id
    }

    /// A copy of the session's state.
    pub fn get(&self, session_id: &str) -> Option<Session> {
        self.lock().get(session_id).cloned()
    }

    /// Changes the session in place; None if it no longer exists.
    pub fn update<T>(&self, session_id: &str, change: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.lock().get_mut(session_id).map(change)
    }

    /// Ends `old_session_id` and starts a session logged in as `account_id`, with a new id
    /// and a new CSRF token, so an id planted before login is worth nothing after it.
    pub fn log_in(&self, old_session_id: &str, account_id: i64, flash: Option<Flash>) -> String {
        self.lock().remove(old_session_id);
        let mut session = Session::new();
        session.account_id = Some(account_id);
        session.flash = flash;
        self.insert(session)
    }

    /// Ends the session and starts an anonymous one in its place.
    pub fn log_out(&self, old_session_id: &str, flash: Option<Flash>) -> String {
        self.lock().remove(old_session_id);
        let mut session = Session::new();
        session.flash = flash;
        self.insert(session)
    }
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The value of the session cookie in a `Cookie` request header, if any.
pub fn session_id_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
}

/// `Set-Cookie` value for a session id: not readable by scripts, HTTPS only, and not
/// sent on cross-site subrequests or POSTs.
pub fn session_set_cookie(session_id: &str) -> String {
    format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header_parsing() {
        assert_eq!(
            session_id_from_cookie_header("a=1; cpx_demo_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(
            session_id_from_cookie_header("cpx_demo_session_x=abc"),
            None
        );
        assert_eq!(session_id_from_cookie_header(""), None);
    }

    #[test]
    fn login_rotates_the_id_and_csrf_token() {
        let store = SessionStore::new(Duration::from_secs(60));
        let anonymous = store.create();
        let anonymous_csrf = store.get(&anonymous).map(|s| s.csrf_token);
        let logged_in = store.log_in(&anonymous, 7, None);
        assert_ne!(anonymous, logged_in);
        assert!(store.get(&anonymous).is_none());
        let session = store.get(&logged_in);
        assert_eq!(session.as_ref().and_then(|s| s.account_id), Some(7));
        assert_ne!(session.map(|s| s.csrf_token), anonymous_csrf);
    }

    #[test]
    fn idle_sessions_expire() {
        let store = SessionStore::new(Duration::ZERO);
        let id = store.create();
        assert!(!store.touch(&id));
        assert!(store.get(&id).is_none());
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
