//! Where the provider keeps what lives between requests: login transactions, authorization
//! codes, access tokens, sessions, codes already redeemed, assertion ids already used.
//!
//! A key-value trait with expiry, in memory ([`MemoryStore`], one instance) or in Redis
//! ([`RedisStore`], several instances serving one issuer), one command per method: `put` =
//! `SET key value PX ttl`, `take` = `GETDEL` (atomic: one instance only gets a code), `get` =
//! `GET`, `delete` = `DEL`, `insert_new` = `SET NX PX`. Keys are digests of the secrets (never
//! the code or token itself), prefixed by their [`Kind`]; in Redis also by the issuer, so that
//! two providers can share one Redis database.
//!
//! The card challenges live beside them ([`Challenges`]): cpx-verify's stores, in memory or in
//! the same Redis, so a login started on one instance is finished on another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cpx_verify::{
    ChallengeError, ChallengeStore, Identity, NonceStore, RedisChallengeStore, Validator,
    VerifyError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::jose::b64;

/// What a key names; its prefix keeps the kinds apart in one keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An `/authorize` request waiting for the card (key: the login cookie).
    Transaction,
    /// An authorization code (single use).
    Code,
    /// A code already redeemed, with the access token it gave (to revoke on a second use).
    RedeemedCode,
    /// A code presented when it was no longer there: a redemption still under way sees it
    /// and gives nothing.
    ReusedCode,
    AccessToken,
    /// A browser's signed-in session at the provider (key: the session cookie).
    Session,
    /// A `private_key_jwt` assertion id already seen (single use).
    UsedJti,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Transaction => "tx",
            Kind::Code => "code",
            Kind::RedeemedCode => "redeemed",
            Kind::ReusedCode => "reused",
            Kind::AccessToken => "at",
            Kind::Session => "session",
            Kind::UsedJti => "jti",
        }
    }
}

/// The key under which a secret is kept: its SHA-256, so a copy of the store gives no usable
/// code, token or cookie.
pub fn key_of(secret: &str) -> String {
    b64(&Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is full")]
    Full,
    #[error("the store did not answer: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Sets `key` to `value` for `ttl`, replacing any value.
    async fn put(
        &self,
        kind: Kind,
        key: &str,
        value: String,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// The value, if present and not expired.
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<String>, StoreError>;
    /// The value, removed in the same step: of two callers, one only gets it.
    async fn take(&self, kind: Kind, key: &str) -> Result<Option<String>, StoreError>;
    async fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError>;
    /// Sets `key` only if absent: `true` if this call set it.
    async fn insert_new(&self, kind: Kind, key: &str, ttl: Duration) -> Result<bool, StoreError>;
}

/// The records are JSON: what a Redis store keeps as its values too.
pub async fn put_json<T: Serialize>(
    store: &dyn Store,
    kind: Kind,
    key: &str,
    value: &T,
    ttl: Duration,
) -> Result<(), StoreError> {
    let text =
        serde_json::to_string(value).map_err(|error| StoreError::Unavailable(error.to_string()))?;
    store.put(kind, key, text, ttl).await
}

/// The record under `key`; one that does not read as `T` (left by another version) is absent.
pub async fn get_json<T: DeserializeOwned>(
    store: &dyn Store,
    kind: Kind,
    key: &str,
) -> Result<Option<T>, StoreError> {
    Ok(store.get(kind, key).await?.and_then(read_json))
}

/// [`get_json`], removing the record in the same step ([`Store::take`]).
pub async fn take_json<T: DeserializeOwned>(
    store: &dyn Store,
    kind: Kind,
    key: &str,
) -> Result<Option<T>, StoreError> {
    Ok(store.take(kind, key).await?.and_then(read_json))
}

/// A stored record as `T`, or absent when it does not read as one (left by another version).
fn read_json<T: DeserializeOwned>(text: String) -> Option<T> {
    serde_json::from_str(&text).ok()
}

/// In Redis, shared by every instance of one issuer: `cpx-idp:<issuer>:<kind>:<digest>`.
/// Every key has a TTL, so a Redis bounded with `maxmemory` and a `volatile-ttl` policy evicts
/// the entries nearest their end first rather than refusing writes.
#[derive(Clone)]
pub struct RedisStore {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisStore {
    /// Connects as every store of CPx Connect does ([`cpx_verify::connect_redis`]: AUTH from
    /// the URL, `rediss://` checked against `ca_pem`, a PING answered, 3 seconds at most for
    /// the connection and for the answer).
    pub async fn connect(url: &str, ca_pem: Option<&[u8]>, issuer: &str) -> Result<Self, String> {
        let connection = cpx_verify::connect_redis(url, ca_pem)
            .await
            .map_err(|error| error.to_string())?;
        Ok(Self {
            connection,
            prefix: format!("cpx-idp:{issuer}:"),
        })
    }

    fn key(&self, kind: Kind, key: &str) -> String {
        format!("{}{}:{key}", self.prefix, kind.prefix())
    }

    async fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        command
            .query_async(&mut connection)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))
    }
}

/// Redis's PX wants at least one millisecond.
fn milliseconds(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl Store for RedisStore {
    async fn put(
        &self,
        kind: Kind,
        key: &str,
        value: String,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(kind, key))
            .arg(value)
            .arg("PX")
            .arg(milliseconds(ttl));
        self.run::<()>(&command).await
    }

    async fn get(&self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        self.run(redis::cmd("GET").arg(self.key(kind, key))).await
    }

    async fn take(&self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        self.run(redis::cmd("GETDEL").arg(self.key(kind, key)))
            .await
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError> {
        self.run::<()>(redis::cmd("DEL").arg(self.key(kind, key)))
            .await
    }

    async fn insert_new(&self, kind: Kind, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(kind, key))
            .arg("")
            .arg("NX")
            .arg("PX")
            .arg(milliseconds(ttl));
        // OK when set, nil when the key was there.
        let set: Option<String> = self.run(&command).await?;
        Ok(set.is_some())
    }
}

/// The card challenges, bound to login transactions: cpx-verify's in-memory store, or its
/// Redis store (keys `cpx:challenge:idp:<issuer>:<transaction digest>`) shared by the
/// instances.
pub enum Challenges {
    Memory(NonceStore),
    Redis {
        store: RedisChallengeStore,
        namespace: String,
    },
}

impl Challenges {
    pub fn in_memory(lifetime: Duration) -> Self {
        Challenges::Memory(NonceStore::with_capacity(lifetime, 100_000))
    }

    pub async fn redis(
        url: &str,
        ca_pem: Option<&[u8]>,
        lifetime: Duration,
        issuer: &str,
    ) -> Result<Self, String> {
        let store = RedisChallengeStore::connect_with_ca(url, lifetime, ca_pem)
            .await
            .map_err(|error| error.to_string())?;
        Ok(Challenges::Redis {
            store,
            namespace: format!("idp:{issuer}:"),
        })
    }

    /// A fresh challenge for the transaction `transaction_key`, replacing its earlier one.
    pub async fn issue(&self, transaction_key: &str) -> Result<String, ChallengeError> {
        match self {
            Challenges::Memory(store) => ChallengeStore::issue(store, transaction_key).await,
            Challenges::Redis { store, namespace } => {
                store.issue(&format!("{namespace}{transaction_key}")).await
            }
        }
    }

    /// The card token checked against the transaction's challenge, taken (spent) whatever
    /// the outcome.
    pub async fn validate(
        &self,
        validator: &Validator,
        token_json: &[u8],
        transaction_key: &str,
    ) -> Result<Identity, VerifyError> {
        let now = std::time::SystemTime::now();
        match self {
            Challenges::Memory(store) => {
                validator
                    .validate_with_challenge_store(token_json, store, transaction_key, now)
                    .await
            }
            Challenges::Redis { store, namespace } => {
                let session = format!("{namespace}{transaction_key}");
                validator
                    .validate_with_challenge_store(token_json, store, &session, now)
                    .await
            }
        }
    }
}

/// In this process's memory: one instance per issuer. Bounded: past `capacity` entries, the
/// expired ones are dropped, and if none had expired a new entry is refused ([`StoreError::Full`])
/// rather than evicting someone's login.
pub struct MemoryStore {
    entries: Mutex<HashMap<(Kind, String), (String, Instant)>>,
    capacity: usize,
}

impl MemoryStore {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Kind, String), (String, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn make_room(
        &self,
        entries: &mut HashMap<(Kind, String), (String, Instant)>,
        now: Instant,
    ) -> Result<(), StoreError> {
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        if entries.len() >= self.capacity {
            return Err(StoreError::Full);
        }
        Ok(())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(
        &self,
        kind: Kind,
        key: &str,
        value: String,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        if !entries.contains_key(&(kind, key.to_owned())) {
            self.make_room(&mut entries, now)?;
        }
        entries.insert((kind, key.to_owned()), (value, now + ttl));
        Ok(())
    }

    async fn get(&self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()
            .get(&(kind, key.to_owned()))
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| value.clone()))
    }

    async fn take(&self, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()
            .remove(&(kind, key.to_owned()))
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| value))
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError> {
        self.lock().remove(&(kind, key.to_owned()));
        Ok(())
    }

    async fn insert_new(&self, kind: Kind, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        let entry_key = (kind, key.to_owned());
        if entries
            .get(&entry_key)
            .is_some_and(|(_, expires)| *expires > now)
        {
            return Ok(false);
        }
        self.make_room(&mut entries, now)?;
        entries.insert(entry_key, (String::new(), now + ttl));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_taken_once_and_expires() -> Result<(), StoreError> {
        let store = MemoryStore::new(10);
        store
            .put(Kind::Code, "k", "v".into(), Duration::from_secs(60))
            .await?;
        assert_eq!(store.get(Kind::Transaction, "k").await?, None);
        assert_eq!(store.take(Kind::Code, "k").await?.as_deref(), Some("v"));
        assert_eq!(store.take(Kind::Code, "k").await?, None);
        store
            .put(Kind::Code, "old", "v".into(), Duration::ZERO)
            .await?;
        assert_eq!(store.get(Kind::Code, "old").await?, None);
        Ok(())
    }

    #[tokio::test]
    async fn insert_new_is_true_once() -> Result<(), StoreError> {
        let store = MemoryStore::new(10);
        assert!(
            store
                .insert_new(Kind::UsedJti, "j", Duration::from_secs(60))
                .await?
        );
        assert!(
            !store
                .insert_new(Kind::UsedJti, "j", Duration::from_secs(60))
                .await?
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_full_store_refuses_rather_than_evicts() -> Result<(), StoreError> {
        let store = MemoryStore::new(2);
        let minute = Duration::from_secs(60);
        store.put(Kind::Code, "a", "1".into(), minute).await?;
        store.put(Kind::Code, "b", "2".into(), minute).await?;
        assert!(matches!(
            store.put(Kind::Code, "c", "3".into(), minute).await,
            Err(StoreError::Full)
        ));
        assert_eq!(store.get(Kind::Code, "a").await?.as_deref(), Some("1"));
        Ok(())
    }
}
