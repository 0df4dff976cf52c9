//! Browser sessions through tower-sessions: the cookie holds only a random id, the state sits
//! in a session store. The store here keeps sessions in memory in two bounded caches (moka,
//! least recently used first, O(1) per eviction): anonymous sessions and signed-in ones, so a
//! flood of new visitors can only evict other anonymous sessions.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::redis_sessions::RedisSessionStore;

use crate::store::LinkedCard;

/// `__Host-`: the browser accepts this cookie only from this exact host over HTTPS, with
/// `Path=/` and no `Domain`, so a sibling subdomain or a plain-HTTP response cannot plant one.
pub const SESSION_COOKIE: &str = "__Host-cpx_demo_session";

/// Session keys.
pub const CSRF: &str = "csrf";
pub const ACCOUNT_ID: &str = "account_id";
pub const PENDING_CARD: &str = "pending_card";
pub const FLASH: &str = "flash";
/// An OpenID Connect login under way (`routes/oidc.rs`): what the return must match.
pub const PROVIDER_LOGIN: &str = "provider_login";
/// A holder the provider vouched for, not yet linked to an account.
pub const PENDING_PROVIDER: &str = "pending_provider";
/// The provider's ID token of a session signed in through it: the logout's `id_token_hint`.
pub const PROVIDER_ID_TOKEN: &str = "provider_id_token";

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flash {
    Info(String),
    Error(String),
}

/// A card whose token was verified but which is linked to no account yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCard {
    pub card: LinkedCard,
    pub verified_at: SystemTime,
}

impl PendingCard {
    /// Whether it waited less than `lifetime`.
    pub fn is_fresh(&self, lifetime: Duration) -> bool {
        self.verified_at
            .elapsed()
            .is_ok_and(|waited| waited < lifetime)
    }
}

/// A holder whose ID token the provider signed, linked to no account yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingProvider {
    pub holder: ProviderHolder,
    /// The ID token, kept for the logout once linked.
    pub id_token: String,
    pub verified_at: SystemTime,
}

/// Who the provider says logged in: the key (issuer, sub) and what the link page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderHolder {
    pub issuer: String,
    pub subject: String,
    pub given_name: String,
    pub family_name: String,
    /// `preferred_username`: the idNat at cpx-idp (and at Pro Santé Connect).
    pub id_nat: String,
}

impl PendingProvider {
    /// Whether it waited less than `lifetime`.
    pub fn is_fresh(&self, lifetime: Duration) -> bool {
        self.verified_at
            .elapsed()
            .is_ok_and(|waited| waited < lifetime)
    }
}

/// Two bounded in-memory caches of session records; see the module doc.
#[derive(Clone)]
pub struct TieredMemoryStore {
    anonymous: Cache<Id, Record>,
    signed_in: Cache<Id, Record>,
}

impl std::fmt::Debug for TieredMemoryStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TieredMemoryStore")
            .field("anonymous", &self.anonymous.entry_count())
            .field("signed_in", &self.signed_in.entry_count())
            .finish()
    }
}

/// Called with the id of a session the store dropped by itself (evicted, or idle too long),
/// e.g. to drop the session's challenge with it.
pub type EvictionListener = Arc<dyn Fn(&Id) + Send + Sync>;

impl TieredMemoryStore {
    pub fn new(max_anonymous: u64, max_signed_in: u64, idle_timeout: Duration) -> Self {
        Self::with_eviction_listener(
            max_anonymous,
            max_signed_in,
            idle_timeout,
            Arc::new(|_: &Id| {}),
        )
    }

    /// The same, calling `on_evict` for every session evicted or expired (not for a session
    /// deleted, nor for one moving between the tiers).
    pub fn with_eviction_listener(
        max_anonymous: u64,
        max_signed_in: u64,
        idle_timeout: Duration,
        on_evict: EvictionListener,
    ) -> Self {
        let cache = |capacity| {
            let on_evict = Arc::clone(&on_evict);
            Cache::builder()
                .max_capacity(capacity)
                .eviction_policy(EvictionPolicy::lru())
                .time_to_idle(idle_timeout)
                .eviction_listener(move |id: Arc<Id>, _record, cause: RemovalCause| {
                    if matches!(cause, RemovalCause::Size | RemovalCause::Expired) {
                        on_evict(&id);
                    }
                })
                .build()
        };
        Self {
            anonymous: cache(max_anonymous),
            signed_in: cache(max_signed_in),
        }
    }

    /// (anonymous, signed-in) sessions held, after pending evictions are applied.
    pub fn counts(&self) -> (u64, u64) {
        self.anonymous.run_pending_tasks();
        self.signed_in.run_pending_tasks();
        (self.anonymous.entry_count(), self.signed_in.entry_count())
    }
}

#[async_trait]
impl SessionStore for TieredMemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while self.anonymous.contains_key(&record.id) || self.signed_in.contains_key(&record.id) {
            record.id = Id::default();
        }
        self.save(record).await?;
        // Apply the evictions this new session causes now rather than at moka's next
        // housekeeping, so the listener drops the evicted sessions' challenges before another
        // challenge is issued: challenges never outnumber sessions.
        self.anonymous.run_pending_tasks();
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if record.data.contains_key(ACCOUNT_ID) {
            self.anonymous.invalidate(&record.id);
            self.signed_in.insert(record.id, record.clone());
        } else {
            self.signed_in.invalidate(&record.id);
            self.anonymous.insert(record.id, record.clone());
        }
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let record = self
            .signed_in
            .get(session_id)
            .or_else(|| self.anonymous.get(session_id));
        Ok(record.filter(|record| {
            record.expiry_date > tower_sessions::cookie::time::OffsetDateTime::now_utc()
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.anonymous.invalidate(session_id);
        self.signed_in.invalidate(session_id);
        Ok(())
    }
}

/// The session store: this process's memory, or Redis ([`RedisSessionStore`]) shared by
/// every instance of the site.
#[derive(Clone)]
pub enum DemoSessionStore {
    Memory(TieredMemoryStore),
    Redis(RedisSessionStore),
}

impl std::fmt::Debug for DemoSessionStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DemoSessionStore::Memory(store) => store.fmt(formatter),
            DemoSessionStore::Redis(_) => formatter.write_str("DemoSessionStore::Redis"),
        }
    }
}

#[async_trait]
impl SessionStore for DemoSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            DemoSessionStore::Memory(store) => store.create(record).await,
            DemoSessionStore::Redis(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            DemoSessionStore::Memory(store) => store.save(record).await,
            DemoSessionStore::Redis(store) => store.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            DemoSessionStore::Memory(store) => store.load(session_id).await,
            DemoSessionStore::Redis(store) => store.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            DemoSessionStore::Memory(store) => store.delete(session_id).await,
            DemoSessionStore::Redis(store) => store.delete(session_id).await,
        }
    }
}

pub use cpx_web::secrets::{constant_time_eq, random_token};

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn record(signed_in: bool) -> Record {
        let mut data = HashMap::new();
        data.insert(CSRF.to_owned(), serde_json::json!("x"));
        if signed_in {
            data.insert(ACCOUNT_ID.to_owned(), serde_json::json!(1));
        }
        Record {
            id: Id::default(),
            data,
            expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
                + tower_sessions::cookie::time::Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn a_flood_of_anonymous_sessions_evicts_no_signed_in_one() -> session_store::Result<()> {
        let store = TieredMemoryStore::new(100, 100, Duration::from_secs(600));
        let mut signed_in = record(true);
        store.create(&mut signed_in).await?;
        for _ in 0..1000 {
            store.create(&mut record(false)).await?;
        }
        let (anonymous, signed) = store.counts();
        assert!(anonymous <= 100, "{anonymous}");
        assert_eq!(signed, 1);
        assert!(store.load(&signed_in.id).await?.is_some());
        Ok(())
    }

    #[tokio::test]
    async fn signing_in_moves_a_session_to_the_signed_in_tier() -> session_store::Result<()> {
        let store = TieredMemoryStore::new(10, 10, Duration::from_secs(600));
        let mut session = record(false);
        store.create(&mut session).await?;
        session
            .data
            .insert(ACCOUNT_ID.to_owned(), serde_json::json!(7));
        store.save(&session).await?;
        assert_eq!(store.counts(), (0, 1));
        store.delete(&session.id).await?;
        assert!(store.load(&session.id).await?.is_none());
        Ok(())
    }

    #[tokio::test]
    async fn evicted_sessions_are_reported_and_deleted_or_moved_ones_are_not(
    ) -> session_store::Result<()> {
        let evicted = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&evicted);
        let store = TieredMemoryStore::with_eviction_listener(
            3,
            3,
            Duration::from_secs(600),
            Arc::new(move |id: &Id| {
                if let Ok(mut seen) = seen.lock() {
                    seen.push(*id);
                }
            }),
        );
        let mut moved = record(false);
        store.create(&mut moved).await?;
        moved
            .data
            .insert(ACCOUNT_ID.to_owned(), serde_json::json!(1));
        store.save(&moved).await?;
        let mut deleted = record(false);
        store.create(&mut deleted).await?;
        store.delete(&deleted.id).await?;
        let mut ids = Vec::new();
        for _ in 0..10 {
            let mut anonymous = record(false);
            store.create(&mut anonymous).await?;
            ids.push(anonymous.id);
        }
        let (anonymous, _) = store.counts();
        let evicted = evicted.lock().map(|ids| ids.clone()).unwrap_or_default();
        assert_eq!(evicted.len(), 10 - anonymous as usize, "{evicted:?}");
        assert!(evicted.iter().all(|id| ids.contains(id)));
        Ok(())
    }
}
