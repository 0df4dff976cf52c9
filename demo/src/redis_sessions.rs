//! Browser sessions in Redis, shared by every instance of the site, in two namespaces with
//! two expiry policies, so that a Redis bounded with `maxmemory` and `maxmemory-policy
//! volatile-ttl` (or `volatile-lru`) evicts only what a flood can make:
//!
//! | keys | what | expiry |
//! |---|---|---|
//! | `cpx:session:anon:<id>` | anonymous sessions (a form's CSRF token, a pending card) | a Redis TTL (the idle timeout): volatile, evictable |
//! | `cpx:session:user:<id>` | signed-in sessions | no Redis TTL: never evicted; the site checks the record's expiry at every load and sweeps expired ones through the sorted set `cpx:session:user-expiry` |
//! | `cpx:challenge:<id>` | challenges (cpx-verify's `RedisChallengeStore`) | a Redis TTL (5 minutes): volatile, evictable |
//!
//! With `volatile-*` these volatile keys must be the only volatile keys of that Redis database
//! (give it to the site alone): Redis then evicts anonymous sessions and challenges, and never
//! a signed-in session. New signed-in sessions are bounded by the login throttles, new
//! anonymous ones by the per-client limits.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::session::ACCOUNT_ID;

pub const ANONYMOUS_PREFIX: &str = "cpx:session:anon:";
pub const SIGNED_IN_PREFIX: &str = "cpx:session:user:";
pub const SIGNED_IN_EXPIRY: &str = "cpx:session:user-expiry";

/// Expired signed-in sessions removed per save of a signed-in session (amortised sweep).
const SWEEP_BATCH: isize = 100;

#[derive(Clone)]
pub struct RedisSessionStore {
    connection: ConnectionManager,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RedisSessionStore")
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn anonymous_key(id: &Id) -> String {
    format!("{ANONYMOUS_PREFIX}{id}")
}

fn signed_in_key(id: &Id) -> String {
    format!("{SIGNED_IN_PREFIX}{id}")
}

impl RedisSessionStore {
    /// Connects to `url` (`redis://`, `rediss://` for TLS; a password in the URL is sent with
    /// AUTH) and checks that Redis answers. `ca_pem`: the CA the server's TLS certificate
    /// must chain to, instead of the system's roots. A command waits at most 3 seconds; the
    /// connection comes back by itself after a Redis restart.
    pub async fn connect(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            cpx_verify::connect_redis(url, ca_pem),
        )
        .await
        .map_err(|_| "no answer within 5 seconds".to_owned())?
        .map_err(|error| error.to_string())?;
        Ok(Self { connection })
    }

    /// Redis's `maxmemory-policy`, if it lets us read it (a managed Redis may refuse CONFIG).
    pub async fn eviction_policy(&self) -> Option<String> {
        let mut connection = self.connection.clone();
        let answer: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut connection)
            .await
            .ok()?;
        answer.get(1).cloned()
    }

    /// Removes up to a batch of signed-in sessions whose expiry has passed.
    async fn sweep(&self, now_ms: i64) -> session_store::Result<()> {
        let mut connection = self.connection.clone();
        let expired: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(SIGNED_IN_EXPIRY)
            .arg("-inf")
            .arg(now_ms)
            .arg("LIMIT")
            .arg(0)
            .arg(SWEEP_BATCH)
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        if expired.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for id in &expired {
            pipe.del(format!("{SIGNED_IN_PREFIX}{id}")).ignore();
            pipe.zrem(SIGNED_IN_EXPIRY, id).ignore();
        }
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(backend)
    }
}

/// What is wrong with a `maxmemory-policy` for this store, if anything: only a `volatile-*`
/// policy keeps signed-in sessions (no TTL) out of eviction while bounding the rest.
pub fn eviction_policy_warning(policy: &str) -> Option<String> {
    if policy.starts_with("volatile-") {
        return None;
    }
    let why = if policy.starts_with("allkeys-") {
        "Redis may evict signed-in sessions (a mass logout under load)"
    } else {
        "a full Redis refuses new sessions and challenges (503s under load)"
    };
    Some(format!(
        "Redis maxmemory-policy is {policy:?}: {why}; set maxmemory and maxmemory-policy \
         volatile-ttl (see demo/README.md, Redis)"
    ))
}

fn unix_ms(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut connection = self.connection.clone();
        loop {
            let taken: bool = redis::cmd("EXISTS")
                .arg(anonymous_key(&record.id))
                .arg(signed_in_key(&record.id))
                .query_async::<u32>(&mut connection)
                .await
                .map_err(backend)?
                > 0;
            if !taken {
                break;
            }
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc();
        let value = serde_json::to_string(record).map_err(backend)?;
        let id = record.id.to_string();
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        let signed_in = record.data.contains_key(ACCOUNT_ID);
        if signed_in {
            // No TTL: not among the keys a volatile-* policy evicts.
            pipe.del(anonymous_key(&record.id)).ignore();
            pipe.set(signed_in_key(&record.id), &value).ignore();
            pipe.zadd(SIGNED_IN_EXPIRY, &id, unix_ms(record.expiry_date))
                .ignore();
        } else {
            let ttl_ms = (unix_ms(record.expiry_date) - unix_ms(now)).max(1);
            pipe.del(signed_in_key(&record.id)).ignore();
            pipe.zrem(SIGNED_IN_EXPIRY, &id).ignore();
            pipe.cmd("SET")
                .arg(anonymous_key(&record.id))
                .arg(&value)
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(backend)?;
        if signed_in {
            self.sweep(unix_ms(now)).await?;
        }
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let mut connection = self.connection.clone();
        let (signed_in, anonymous): (Option<String>, Option<String>) = redis::pipe()
            .get(signed_in_key(session_id))
            .get(anonymous_key(session_id))
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        let Some(value) = signed_in.or(anonymous) else {
            return Ok(None);
        };
        let record: Record = serde_json::from_str(&value).map_err(backend)?;
        if record.expiry_date <= OffsetDateTime::now_utc() {
            self.delete(session_id).await?;
            return Ok(None);
        }
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .del(signed_in_key(session_id))
            .ignore()
            .del(anonymous_key(session_id))
            .ignore()
            .zrem(SIGNED_IN_EXPIRY, session_id.to_string())
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::eviction_policy_warning;

    #[test]
    fn only_volatile_policies_pass() {
        assert_eq!(eviction_policy_warning("volatile-ttl"), None);
        assert_eq!(eviction_policy_warning("volatile-lru"), None);
        assert!(eviction_policy_warning("allkeys-lru").is_some_and(|why| why.contains("evict")));
        assert!(eviction_policy_warning("noeviction").is_some_and(|why| why.contains("503")));
    }
}
