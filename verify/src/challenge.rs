//! Where single-use challenges live: a [`ChallengeStore`] issues a nonce bound to a browser
//! session and takes it back exactly once, whatever the number of site instances that share it.
//! [`crate::NonceStore`] (in memory, capped) is the embedded default; [`RedisChallengeStore`]
//! (feature `redis`) is shared by several instances.

use std::future::Future;

use crate::error::NonceError;
use crate::nonce::{IssueError, NonceStore};

/// Why a challenge store could not issue or take a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Unknown, used, replaced, expired, or the store is full.
    #[error(transparent)]
    Nonce(#[from] NonceError),
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    RandomUnavailable,
    /// The shared store did not answer (or answered an error): nothing was issued or taken.
    #[error("the challenge store is unavailable: {why}")]
    Unavailable { why: String },
}

impl ChallengeError {
    /// A stable code: the nonce's, `ERR_RANDOM_UNAVAILABLE` or `ERR_CHALLENGE_STORE_UNAVAILABLE`.
    pub fn code(&self) -> &'static str {
        match self {
            ChallengeError::Nonce(error) => error.code(),
            ChallengeError::RandomUnavailable => "ERR_RANDOM_UNAVAILABLE",
            ChallengeError::Unavailable { .. } => "ERR_CHALLENGE_STORE_UNAVAILABLE",
        }
    }
}

impl From<IssueError> for ChallengeError {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::RandomUnavailable(_) => ChallengeError::RandomUnavailable,
            IssueError::Full(error) => ChallengeError::Nonce(error),
        }
    }
}

/// Single-use challenges bound to browser sessions.
///
/// - `issue`: a fresh nonce for the session, valid for the store's lifetime; it replaces the
///   session's earlier one.
/// - `take`: the session's nonce, removed atomically: of any number of concurrent calls for
///   one session, on any number of instances, at most one gets it.
pub trait ChallengeStore: Send + Sync {
    fn issue(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<String, ChallengeError>> + Send;
    fn take(&self, session_id: &str)
        -> impl Future<Output = Result<String, ChallengeError>> + Send;
}

impl ChallengeStore for NonceStore {
    fn issue(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<String, ChallengeError>> + Send {
        let issued = self.try_issue(session_id).map_err(ChallengeError::from);
        std::future::ready(issued)
    }

    fn take(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<String, ChallengeError>> + Send {
        let taken = NonceStore::take(self, session_id).map_err(ChallengeError::from);
        std::future::ready(taken)
    }
}

#[cfg(feature = "redis")]
pub use self::redis_store::{connect_redis, RedisChallengeStore};

#[cfg(feature = "redis")]
mod redis_store {
    use std::time::Duration;

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use redis::aio::ConnectionManager;
    use ring::rand::{SecureRandom, SystemRandom};

    use super::{ChallengeError, ChallengeStore};
    use crate::error::NonceError;

    /// Challenges in Redis: one key per session, `<prefix><session id>`, holding the nonce.
    /// `SET key nonce PX lifetime` issues (replacing the session's earlier nonce, as the
    /// in-memory store does) and Redis expires it; `GETDEL key` takes it, atomically on the
    /// server, so a nonce is taken once whatever the number of site instances. An expired
    /// nonce is gone: it is reported as unknown. No sweep thread, no cap of our own: bound
    /// Redis with `maxmemory` and a `volatile-ttl` (or `volatile-lru`) policy; every challenge
    /// has a TTL, so it is among the keys Redis may evict (a challenge evicted is a login to
    /// start again, never a wrong login).
    ///
    /// The URL takes a password (`redis://:PASSWORD@host:port/db`, or `USER:PASSWORD@` for an
    /// ACL user): it is sent with AUTH at every connection. `rediss://` is TLS (rustls), the
    /// server checked against the system's roots or against the CA given to
    /// [`RedisChallengeStore::connect_with_ca`].
    #[derive(Clone)]
    pub struct RedisChallengeStore {
        connection: ConnectionManager,
        prefix: String,
        lifetime: Duration,
        random: SystemRandom,
    }

    impl std::fmt::Debug for RedisChallengeStore {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter
                .debug_struct("RedisChallengeStore")
                .field("prefix", &self.prefix)
                .field("lifetime", &self.lifetime)
                .finish()
        }
    }

    fn unavailable(error: redis::RedisError) -> ChallengeError {
        ChallengeError::Unavailable {
            why: error.to_string(),
        }
    }

    /// A connection to Redis as every store of CPx Connect makes it: `url` is `redis://` (a
    /// password in it is sent with AUTH) or `rediss://` (TLS, checked against `ca_pem` when
    /// given, else the system's roots); a command waits at most 3 seconds; the connection comes
    /// back by itself after a Redis restart. Redis must answer a PING before this returns, so
    /// an unreachable Redis stops a site's start rather than its first login.
    pub async fn connect_redis(
        url: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<ConnectionManager, redis::RedisError> {
        let client = match ca_pem {
            Some(ca_pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca_pem.to_vec()),
                },
            ),
            None => redis::Client::open(url),
        }?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(3))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(1);
        let mut connection = ConnectionManager::new_with_config(client, config).await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        Ok(connection)
    }

    impl RedisChallengeStore {
        /// Connects to `url` (`redis://host:port/db`) and checks that Redis answers, so that
        /// an unreachable Redis stops the site's start rather than its first login. Keys are
        /// `cpx:challenge:<session id>`.
        pub async fn connect(url: &str, lifetime: Duration) -> Result<Self, ChallengeError> {
            Self::connect_with_ca(url, lifetime, None).await
        }

        /// The same, for `rediss://`, with the CA certificate (PEM) the Redis server's
        /// certificate must chain to, instead of the system's roots.
        pub async fn connect_with_ca(
            url: &str,
            lifetime: Duration,
            ca_pem: Option<&[u8]>,
        ) -> Result<Self, ChallengeError> {
            let connection = connect_redis(url, ca_pem).await.map_err(unavailable)?;
            Ok(RedisChallengeStore {
                connection,
                prefix: "cpx:challenge:".to_owned(),
                lifetime,
                random: SystemRandom::new(),
            })
        }

        /// How long a challenge stays valid.
        pub fn lifetime(&self) -> Duration {
            self.lifetime
        }

        fn key(&self, session_id: &str) -> String {
            format!("{}{session_id}", self.prefix)
        }
    }

    impl ChallengeStore for RedisChallengeStore {
        async fn issue(&self, session_id: &str) -> Result<String, ChallengeError> {
            let mut bytes = [0u8; 32];
            self.random
                .fill(&mut bytes)
                .map_err(|_| ChallengeError::RandomUnavailable)?;
            let nonce = STANDARD.encode(bytes);
            let milliseconds = u64::try_from(self.lifetime.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let mut connection = self.connection.clone();
            redis::cmd("SET")
                .arg(self.key(session_id))
                .arg(&nonce)
                .arg("PX")
                .arg(milliseconds)
                .query_async::<()>(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(nonce)
        }

        async fn take(&self, session_id: &str) -> Result<String, ChallengeError> {
            let mut connection = self.connection.clone();
            let nonce: Option<String> = redis::cmd("GETDEL")
                .arg(self.key(session_id))
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            nonce.ok_or(ChallengeError::Nonce(NonceError::Unknown))
        }
    }
}
