//! The keys of `private_key_jwt` clients that publish them at a URL (`jwks_uri`): fetched when
//! first needed, kept for [`KEEP_FOR`], fetched again early when an assertion names a key id
//! not seen yet (the site rotated its key), but never more than once per `[limits]
//! jwks_refetch_ms` (30 s) per client, so assertions with made-up key ids cannot make the
//! provider hammer a site. While a site's key server is down, the keys last fetched still serve.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use url::Url;

use crate::jose::{public_keys, PublicKey};

/// How long fetched keys are used before they are fetched again.
pub const KEEP_FOR: Duration = Duration::from_secs(600);
/// A key set is a few kilobytes; more is not one.
const MAX_BODY: usize = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub type Keys = Vec<(Option<String>, PublicKey)>;

#[derive(Debug, thiserror::Error)]
pub enum ClientKeysError {
    #[error("the client's keys could not be fetched from {url}: {why}")]
    Fetch { url: String, why: String },
}

struct Fetched {
    keys: Keys,
    fetched_at: Instant,
}

#[derive(Default)]
struct ClientEntry {
    fetched: Option<Fetched>,
    last_attempt: Option<Instant>,
}

/// The fetched key sets, per client.
pub struct RemoteClientKeys {
    http: reqwest::Client,
    /// The shortest time between two fetches for one client.
    refetch_after: Duration,
    entries: Mutex<HashMap<String, ClientEntry>>,
}

impl RemoteClientKeys {
    pub fn new(refetch_after: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // The configured URL is the one trusted: a redirect could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            refetch_after,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ClientEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The client's keys, fetched again first if they are old, or if `kid` is not among them
    /// and the last fetch is not too recent.
    pub async fn keys(
        &self,
        client_id: &str,
        url: &Url,
        kid: Option<&str>,
    ) -> Result<Keys, ClientKeysError> {
        let now = Instant::now();
        let cached = {
            let mut entries = self.lock();
            let entry = entries.entry(client_id.to_owned()).or_default();
            let cached = entry.fetched.as_ref().map(|fetched| fetched.keys.clone());
            let fresh = entry
                .fetched
                .as_ref()
                .is_some_and(|fetched| now.duration_since(fetched.fetched_at) < KEEP_FOR);
            let knows_kid = match (kid, &cached) {
                (Some(kid), Some(keys)) => keys.iter().any(|(id, _)| id.as_deref() == Some(kid)),
                _ => true,
            };
            let may_fetch = entry
                .last_attempt
                .is_none_or(|last| now.duration_since(last) >= self.refetch_after);
            match cached {
                Some(keys) if (fresh && knows_kid) || !may_fetch => return Ok(keys),
                None if !may_fetch => {
                    return Err(ClientKeysError::Fetch {
                        url: url.to_string(),
                        why: "the last attempt failed moments ago".into(),
                    })
                }
                _ => {}
            }
            entry.last_attempt = Some(now);
            cached
        };
        match self.fetch(url).await {
            Ok(keys) => {
                let mut entries = self.lock();
                let entry = entries.entry(client_id.to_owned()).or_default();
                entry.fetched = Some(Fetched {
                    keys: keys.clone(),
                    fetched_at: Instant::now(),
                });
                Ok(keys)
            }
            // The site's key server is down: the keys it gave last still serve.
            Err(error) => cached.ok_or(error),
        }
    }

    async fn fetch(&self, url: &Url) -> Result<Keys, ClientKeysError> {
        let failed = |why: String| ClientKeysError::Fetch {
            url: url.to_string(),
            why,
        };
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| failed(error.to_string()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(failed(format!("more than {MAX_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let jwks: Value = serde_json::from_slice(&body)
            .map_err(|error| failed(format!("not a JWK Set: {error}")))?;
        let keys = public_keys(&jwks);
        if keys.is_empty() {
            return Err(failed("no RSA or P-256 signing key in it".into()));
        }
        Ok(keys)
    }
}
