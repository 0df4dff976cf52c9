//! The site: its shared state ([`AppState`]) and its router. The handlers are in `routes/`, one
//! module per flow (named below).
//!
//! | route | what | module |
//! |---|---|---|
//! | `GET /` | login page: password form and the card button | `password` |
//! | `POST /connexion` | password login (form) | `password` |
//! | `GET /api/nonce` | a fresh challenge for this session (JSON; header `X-Requested-With: cpx-connect`) | `api` |
//! | `POST /api/login/card` | the token from the page library (JSON): logs in, or sends to `/lier` | `card` |
//! | `GET, POST /lier`, `POST /lier/annuler` | first-time linking of a verified card to an account | `link` |
//! | `GET /compte`, `POST /compte/dissocier` | the account and its card; unlink (password again) | `account` |
//! | `POST /oidc/connexion`, `GET /oidc/retour` | login through the OpenID Connect provider (when configured) | `oidc` |
//! | `POST /deconnexion` | logout (and the provider's, for a session that came through it) | `account` |
//! | `GET /static/...` | stylesheet, page script, and the extension's page library | `assets` |
//!
//! Sessions are tower-sessions sessions ([`crate::session`]): made only by the pages that need
//! one (a form's CSRF token, a login), never by static files, 404s or the JSON endpoints.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::card::{memory_challenges, CardChecker, Challenges, TrustSetupError};
use crate::config::DemoConfig;
use crate::oidc::OidcProvider;
use crate::redis_sessions::RedisSessionStore;
use crate::routes::account::{account_page, logout, unlink_card};
use crate::routes::api::issue_nonce;
use crate::routes::assets::{card_login_script, not_found, page_library, stylesheet};
use crate::routes::card::card_login;
use crate::routes::link::{link_cancel, link_page, link_submit};
use crate::routes::middleware::{read_body_in_time, security_headers, MAX_BODY_BYTES};
use crate::routes::oidc;
use crate::routes::password::{login_page, password_login};
use crate::routes::respond::log;
use crate::session::{DemoSessionStore, TieredMemoryStore, SESSION_COOKIE};
use crate::store::{AccountStore, StoreError};
use crate::throttle::Throttle;

pub use crate::routes::api::NONCE_REQUEST_HEADER;
pub use crate::routes::respond::escape_for_log;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot open the account database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Trust(#[from] TrustSetupError),
    #[error("cannot use the Redis store at {url}: {why}")]
    SharedStore { url: String, why: String },
    #[error("cannot read CRL {path}: {source}")]
    CrlFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<AppInner>,
}

pub(crate) struct AppInner {
    pub(crate) config: DemoConfig,
    pub(crate) store: AccountStore,
    pub(crate) sessions: DemoSessionStore,
    pub(crate) cards: CardChecker,
    pub(crate) throttle: Throttle,
    pub(crate) oidc: Option<Arc<OidcProvider>>,
    /// The content security policy when forms may lead to the provider (`form-action`
    /// covers the redirects after a form: the button's and the logout's).
    pub(crate) provider_csp: Option<axum::http::HeaderValue>,
}

impl AppState {
    /// Opens the database and loads the trust configuration.
    pub fn new(config: DemoConfig) -> Result<Self, AppError> {
        let store = AccountStore::open(&config.database_path)?;
        Self::with_store(config, store)
    }

    /// Opens the database, loads the trust configuration and, with `config.store_url`
    /// (`redis://...`), connects to the Redis that keeps challenges and sessions for every
    /// instance; an unreachable Redis is an error here, not at the first login.
    pub async fn connect(config: DemoConfig) -> Result<Self, AppError> {
        let Some(url) = config.store_url.clone() else {
            return Self::new(config);
        };
        let shared = |why: String| AppError::SharedStore {
            url: url.clone(),
            why,
        };
        let ca_pem = match &config.store_ca {
            Some(path) => Some(std::fs::read(path).map_err(|error| {
                shared(format!("cannot read the CA {}: {error}", path.display()))
            })?),
            None => None,
        };
        let challenges = cpx_verify::RedisChallengeStore::connect_with_ca(
            &url,
            config.nonce_lifetime,
            ca_pem.as_deref(),
        )
        .await
        .map_err(|error| shared(error.to_string()))?;
        let sessions = RedisSessionStore::connect(&url, ca_pem.as_deref())
            .await
            .map_err(shared)?;
        if let Some(policy) = sessions.eviction_policy().await {
            if let Some(warning) = crate::redis_sessions::eviction_policy_warning(&policy) {
                log(&format!("warning: {warning}"));
            }
        }
        let store = AccountStore::open(&config.database_path)?;
        let cards = CardChecker::with_challenges(&config, Challenges::Redis(challenges))?;
        Ok(Self::assemble(
            config,
            store,
            cards,
            DemoSessionStore::Redis(sessions),
        ))
    }

    /// The same with a given store (e.g. in memory).
    pub fn with_store(config: DemoConfig, store: AccountStore) -> Result<Self, AppError> {
        let challenges = Arc::new(memory_challenges(&config));
        let cards =
            CardChecker::with_challenges(&config, Challenges::Memory(Arc::clone(&challenges)))?;
        // A session evicted (a flood of visitors) or expired takes its challenge with it, so
        // challenges never outnumber sessions.
        let sessions = DemoSessionStore::Memory(TieredMemoryStore::with_eviction_listener(
            config.max_anonymous_sessions,
            config.max_signed_in_sessions,
            config.session_idle_timeout,
            Arc::new(move |id: &tower_sessions::session::Id| challenges.forget(&id.to_string())),
        ));
        Ok(Self::assemble(config, store, cards, sessions))
    }

    fn assemble(
        config: DemoConfig,
        store: AccountStore,
        cards: CardChecker,
        sessions: DemoSessionStore,
    ) -> Self {
        let throttle = Throttle::new(&config);
        let oidc = config
            .oidc
            .clone()
            .map(|oidc| Arc::new(OidcProvider::new(oidc)));
        let provider_csp = config.oidc.as_ref().and_then(|oidc| {
            let origin = oidc.issuer.url().origin().ascii_serialization();
            axum::http::HeaderValue::from_str(
                &cpx_web::headers::CONTENT_SECURITY_POLICY_VALUE.replace(
                    "form-action 'self'",
                    &format!("form-action 'self' {origin}"),
                ),
            )
            .ok()
        });
        Self {
            inner: Arc::new(AppInner {
                config,
                store,
                sessions,
                cards,
                throttle,
                oidc,
                provider_csp,
            }),
        }
    }

    pub fn store(&self) -> &AccountStore {
        &self.inner.store
    }

    pub fn config(&self) -> &DemoConfig {
        &self.inner.config
    }

    /// (anonymous, signed-in) sessions held in memory (0, 0 with Redis), for tests and monitoring.
    pub fn session_counts(&self) -> (u64, u64) {
        match &self.inner.sessions {
            DemoSessionStore::Memory(store) => store.counts(),
            DemoSessionStore::Redis(_) => (0, 0),
        }
    }

    /// Account names the password throttle keeps a count for (for tests and monitoring).
    pub fn throttled_accounts(&self) -> usize {
        self.inner.throttle.per_account.len()
    }

    /// The card checker (for tests and monitoring).
    pub fn cards(&self) -> &CardChecker {
        &self.inner.cards
    }

    /// Reads the configured CRL files again and puts them in force (on a schedule and on
    /// SIGHUP); on any error the CRLs in force stay. Returns how many CAs have a CRL.
    pub fn reload_crls_from_disk(&self) -> Result<usize, AppError> {
        let crls = self
            .inner
            .config
            .crl_paths
            .iter()
            .map(|path| {
                std::fs::read(path).map_err(|source| AppError::CrlFile {
                    path: path.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.inner.cards.replace_crls(crls)?)
    }
}

/// The whole site, ready to serve (over HTTPS: the session cookie is `Secure` and `__Host-`).
pub fn build_router(state: AppState) -> Router {
    let idle = state.inner.config.session_idle_timeout;
    let sessions = SessionManagerLayer::new(state.inner.sessions.clone())
        .with_name(SESSION_COOKIE)
        .with_path("/")
        .with_secure(true)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(
                i64::try_from(idle.as_secs()).unwrap_or(i64::MAX),
            ),
        ));
    Router::new()
        .route("/", get(login_page))
        .route("/connexion", post(password_login))
        .route("/api/nonce", get(issue_nonce))
        .route("/api/login/card", post(card_login))
        .route("/lier", get(link_page).post(link_submit))
        .route("/lier/annuler", post(link_cancel))
        .route("/compte", get(account_page))
        .route("/compte/dissocier", post(unlink_card))
        .route("/deconnexion", post(logout))
        .route("/oidc/connexion", post(oidc::start))
        .route("/oidc/retour", get(oidc::finish))
        .route("/static/style.css", get(stylesheet))
        .route("/static/card-login.js", get(card_login_script))
        .route("/static/cpx-connect.js", get(page_library))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_body_in_time,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
