//! NonceStore: issue, single use, expiry, session binding, concurrency.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cpx_verify::{NonceError, NonceStore};

#[test]
fn issues_44_character_base64_nonces_of_32_random_bytes() {
    let store = NonceStore::default();
    let nonces: HashSet<String> = (0..100)
        .map(|i| store.try_issue(&format!("s{i}")).expect("a nonce"))
        .collect();
    assert_eq!(nonces.len(), 100, "nonces repeat");
    for nonce in &nonces {
        assert_eq!(nonce.len(), 44);
        assert_eq!(
            STANDARD.decode(nonce).map(|bytes| bytes.len()).ok(),
            Some(32)
        );
    }
}

#[test]
fn default_lifetime_is_five_minutes() {
    assert_eq!(NonceStore::default().lifetime(), Duration::from_secs(300));
}

#[test]
fn consume_succeeds_once() {
    let store = NonceStore::default();
    let nonce = store.try_issue("session").expect("a nonce");
    assert_eq!(store.consume("session", &nonce), Ok(()));
    assert_eq!(store.consume("session", &nonce), Err(NonceError::Unknown));
    assert!(store.is_empty());
}

#[test]
fn unknown_nonce_is_refused() {
    let store = NonceStore::default();
    store.try_issue("session").expect("a nonce");
    let never_issued = STANDARD.encode([7u8; 32]);
    assert_eq!(
        store.consume("session", &never_issued),
        Err(NonceError::Unknown)
    );
}

#[test]
fn nonce_of_another_session_is_refused_and_burnt() {
    let store = NonceStore::default();
    let nonce = store.try_issue("victim").expect("a nonce");
    assert_eq!(
        store.consume("attacker", &nonce),
        Err(NonceError::WrongSession)
    );
    // Removed either way: a nonce seen in the wrong hands is no longer usable by anyone.
    assert_eq!(store.consume("victim", &nonce), Err(NonceError::Unknown));
}

/// A store whose nonces live `lifetime`, and the nonce it issued to "session" `wait` ago.
fn nonce_issued_ago(lifetime: Duration, wait: Duration) -> (NonceStore, String) {
    let store = NonceStore::new(lifetime);
    let nonce = store.try_issue("session").expect("a nonce");
    std::thread::sleep(wait);
    (store, nonce)
}

#[test]
fn expired_nonce_is_refused_and_removed() {
    let (store, nonce) = nonce_issued_ago(Duration::from_millis(20), Duration::from_millis(60));
    assert_eq!(store.consume("session", &nonce), Err(NonceError::Expired));
    assert_eq!(store.consume("session", &nonce), Err(NonceError::Unknown));
}

#[test]
fn nonce_within_its_lifetime_is_accepted() {
    let (store, nonce) = nonce_issued_ago(Duration::from_secs(60), Duration::from_millis(20));
    assert_eq!(store.consume("session", &nonce), Ok(()));
}

#[test]
fn zero_lifetime_means_always_expired() {
    let store = NonceStore::new(Duration::ZERO);
    let nonce = store.try_issue("session").expect("a nonce");
    assert_eq!(store.consume("session", &nonce), Err(NonceError::Expired));
}

#[test]
fn a_new_nonce_replaces_the_previous_one_of_the_session() {
    let store = NonceStore::default();
    let first = store.try_issue("session").expect("a nonce");
    let second = store.try_issue("session").expect("a nonce");
    assert_ne!(first, second);
    assert_eq!(store.len(), 1);
    assert_eq!(store.consume("session", &first), Err(NonceError::Unknown));
    assert_eq!(store.consume("session", &second), Ok(()));
}

#[test]
fn sessions_are_independent() {
    let store = NonceStore::default();
    let a = store.try_issue("a").expect("a nonce");
    let b = store.try_issue("b").expect("a nonce");
    assert_eq!(store.consume("b", &b), Ok(()));
    assert_eq!(store.consume("a", &a), Ok(()));
}

#[test]
fn take_returns_the_session_nonce_once() {
    let store = NonceStore::default();
    let nonce = store.try_issue("session").expect("a nonce");
    assert_eq!(store.take("session"), Ok(nonce.clone()));
    assert_eq!(store.take("session"), Err(NonceError::Unknown));
    assert_eq!(store.consume("session", &nonce), Err(NonceError::Unknown));
}

#[test]
fn take_refuses_an_expired_nonce() {
    let store = NonceStore::new(Duration::ZERO);
    store.try_issue("session").expect("a nonce");
    assert_eq!(store.take("session"), Err(NonceError::Expired));
    assert!(store.is_empty());
}

#[test]
fn forget_drops_the_session_nonce() {
    let store = NonceStore::default();
    let nonce = store.try_issue("session").expect("a nonce");
    store.forget("session");
    assert_eq!(store.consume("session", &nonce), Err(NonceError::Unknown));
}

#[test]
fn concurrent_consumers_of_one_nonce_succeed_exactly_once() {
    let store = Arc::new(NonceStore::default());
    let nonce = store.try_issue("session").expect("a nonce");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let nonce = nonce.clone();
            std::thread::spawn(move || store.consume("session", &nonce).is_ok())
        })
        .collect();
    let successes = threads
        .into_iter()
        .map(|thread| thread.join().expect("thread"))
        .filter(|&ok| ok)
        .count();
    assert_eq!(successes, 1);
}

#[test]
fn error_codes() {
    assert_eq!(NonceError::Unknown.code(), "ERR_NONCE_UNKNOWN");
    assert_eq!(NonceError::Expired.code(), "ERR_NONCE_EXPIRED");
    assert_eq!(NonceError::WrongSession.code(), "ERR_NONCE_WRONG_SESSION");
}
