//! The site's routes.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | login page: password form and the card button |
//! | `POST /connexion` | password login (form) |
//! | `GET /api/nonce` | a fresh challenge for this session (JSON; header `X-Requested-With: cpx-connect`) |
//! | `POST /api/login/card` | the token from the page library (JSON): logs in, or sends to `/lier` |
//! | `GET, POST /lier`, `POST /lier/annuler` | first-time linking of a verified card to an account |
//! | `GET /compte`, `POST /compte/dissocier` | the account and its card; unlink (password again) |
//! | `POST /deconnexion` | logout |
//! | `GET /static/...` | stylesheet, page script, and the extension's page library |
//!
//! Sessions are tower-sessions sessions ([`crate::session`]): made only by the pages that need
//! one (a form's CSRF token, a login), never by static files, 404s or the JSON endpoints.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::SystemTime;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, ORIGIN, REFERRER_POLICY,
    RETRY_AFTER, SET_COOKIE, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::card::{memory_challenges, CardChecker, Challenges, TrustSetupError};
use crate::client::Client;
use crate::config::DemoConfig;
use crate::extract::{ApiSession, Csrf, MaybeSignedIn, PendingLink, SignedIn};
use crate::messages::server_message;
use crate::pages::{AccountPage, LinkPage, LoginPage, MessagePage};
use crate::redis_sessions::RedisSessionStore;
use crate::session::{
    random_token, DemoSessionStore, Flash, PendingCard, TieredMemoryStore, ACCOUNT_ID, CSRF, FLASH,
    PENDING_CARD, SESSION_COOKIE,
};
use crate::store::{is_valid_username, AccountStore, StoreError};

const STYLESHEET: &str = include_str!("../static/style.css");
const CARD_LOGIN_SCRIPT: &str = include_str!("../static/card-login.js");

/// Tokens are at most 10 KB (cpx-verify refuses more); forms are tiny.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The header the page script sends with `GET /api/nonce`: a top-level navigation or a form
/// from another site cannot add it (and a cross-origin fetch with it needs a CORS preflight
/// this site never grants), so another site cannot reset a login in progress.
pub const NONCE_REQUEST_HEADER: (&str, &str) = ("x-requested-with", "cpx-connect");

/// The keyed rate limiters keep one entry per key seen: past this many, forget idle ones.
const MAX_THROTTLE_KEYS: usize = 100_000;

const WRONG_CREDENTIALS: &str = "Identifiant ou mot de passe incorrect.";

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
    inner: Arc<AppInner>,
}

struct AppInner {
    config: DemoConfig,
    store: AccountStore,
    sessions: DemoSessionStore,
    cards: CardChecker,
    throttle: Throttle,
}

/// Password guessing: per-account and per-client limits (GCRA, the governor crate: a burst,
/// then one attempt per period, so the wait grows with the attempts), and a bound on the
/// Argon2 hashes computed at once (19 MiB each).
struct Throttle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    /// New sessions and challenges per client: a flood from one client meets `429`s long
    /// before it can evict other people's anonymous sessions or fill the challenge store.
    new_sessions: DefaultKeyedRateLimiter<IpAddr>,
    challenges: DefaultKeyedRateLimiter<IpAddr>,
    hashes: Arc<Semaphore>,
}

impl Throttle {
    fn new(config: &DemoConfig) -> Self {
        let quota = |burst: u32, period| {
            Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        Self {
            per_account: RateLimiter::keyed(quota(
                config.account_attempt_burst,
                config.account_attempt_period,
            )),
            per_client: RateLimiter::keyed(quota(
                config.client_attempt_burst,
                config.client_attempt_period,
            )),
            new_sessions: RateLimiter::keyed(quota(
                config.session_creation_burst,
                config.session_creation_period,
            )),
            challenges: RateLimiter::keyed(quota(config.challenge_burst, config.challenge_period)),
            hashes: Arc::new(Semaphore::new(config.max_concurrent_password_hashes.max(1))),
        }
    }

    /// `Err(seconds to wait)` if this client made too many sessions (or challenges) lately.
    fn check_client(limiter: &DefaultKeyedRateLimiter<IpAddr>, client: IpAddr) -> Result<(), u64> {
        if limiter.len() > MAX_THROTTLE_KEYS {
            limiter.retain_recent();
        }
        let clock = governor::clock::DefaultClock::default();
        limiter.check_key(&client).map_err(|not_until| {
            use governor::clock::Clock;
            not_until.wait_time_from(clock.now()).as_secs().max(1)
        })
    }

    /// `Err(seconds to wait)` if this client has tried too often (a hard limit: it is the
    /// client's own address); then, for an account name of valid syntax, waits for the
    /// account's turn, at most `max_delay` (`Err` past that). A name of invalid syntax names
    /// no account and is no key.
    async fn check(
        &self,
        username: &str,
        client: IpAddr,
        max_delay: std::time::Duration,
    ) -> Result<(), u64> {
        if self.per_account.len() > MAX_THROTTLE_KEYS {
            self.per_account.retain_recent();
        }
        Self::check_client(&self.per_client, client)?;
        if !is_valid_username(username) {
            return Ok(());
        }
        let key = username.to_ascii_lowercase();
        let deadline = tokio::time::Instant::now() + max_delay;
        loop {
            let clock = governor::clock::DefaultClock::default();
            let wait = match self.per_account.check_key(&key) {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    use governor::clock::Clock;
                    not_until.wait_time_from(clock.now())
                }
            };
            let wake = tokio::time::Instant::now() + wait;
            if wake > deadline {
                return Err(wait.as_secs().max(1));
            }
            tokio::time::sleep_until(wake).await;
        }
    }
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
        Self {
            inner: Arc::new(AppInner {
                config,
                store,
                sessions,
                cards,
                throttle,
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

/// Reads the whole request body (at most `MAX_BODY_BYTES`) within `body_read_timeout`, so a
/// client sending its body a byte at a time cannot hold a connection and a handler: `408`
/// past the time, `413` past the size.
async fn read_body_in_time(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let timeout = app.inner.config.body_read_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => {
            let mut parts = parts;
            // For the Csrf extractor, which reads the form's token before the handler runs.
            parts.extensions.insert(bytes.clone());
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Ok(Err(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
        Err(_) => {
            log("request body not received in time");
            (
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )
                .into_response()
        }
    }
}

async fn security_headers(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    // The session layer answers a bare 500 when its store fails (Redis down): say so clearly.
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(CONTENT_TYPE)
    {
        response = session_store_failure_page(&"it did not answer");
    }
    let headers = response.headers_mut();
    as_browser_session_cookies(headers);
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // HTTPS only from now on for this host: a man in the middle cannot answer a plain-HTTP
    // request of the victim's browser (and plant a cookie) after the first visit.
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={}", app.inner.config.hsts_max_age))
    {
        headers.insert(STRICT_TRANSPORT_SECURITY, value);
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The session cookie lives as long as the browser (no `Max-Age`, no `Expires`): on a shared
/// workstation, closing the browser ends it. The idle expiry is the server's: the session's
/// record expires after `session_idle_timeout` without a request (tower-sessions' inactivity
/// expiry, which writes the cookie's `Max-Age` too; it is taken out here). A removal (`Max-Age=0`)
/// is left as it is.
fn as_browser_session_cookies(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let rewritten = cookie
            .to_str()
            .ok()
            .filter(|text| text.starts_with(&format!("{SESSION_COOKIE}=")))
            .filter(|text| !text.to_ascii_lowercase().contains("max-age=0"))
            .and_then(|text| {
                let kept: Vec<&str> = text
                    .split(';')
                    .filter(|attribute| {
                        let name = attribute.trim().to_ascii_lowercase();
                        !name.starts_with("max-age=") && !name.starts_with("expires=")
                    })
                    .collect();
                HeaderValue::from_str(&kept.join(";")).ok()
            });
        headers.append(SET_COOKIE, rewritten.unwrap_or(cookie));
    }
}

/// Logged for the operator; the user sees the French message. Everything but printable ASCII
/// is escaped, so text from the client (a token field, a username) cannot forge log lines.
pub(crate) fn log(line: &str) {
    eprintln!("cpx-demo: {}", escape_for_log(line));
}

pub fn escape_for_log(line: &str) -> String {
    line.chars()
        .flat_map(|c| {
            let keep = c == ' ' || c.is_ascii_graphic() || (!c.is_ascii() && !is_hidden(c));
            let escaped: Vec<char> = if keep {
                vec![c]
            } else {
                c.escape_unicode().collect()
            };
            escaped
        })
        .collect()
}

/// Characters a reader of the log would not see as themselves: controls (Cc), format
/// characters (Cf: the bidirectional controls that reorder what a terminal shows, zero-width
/// characters, the soft hyphen, tags) and the line and paragraph separators (Zl, Zp), which
/// some viewers show as line breaks.
fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => {
            log(&format!("page not rendered: {error}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "page not rendered").into_response()
        }
    }
}

/// 303 to `location`.
pub(crate) fn redirect(location: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

pub(crate) fn server_error_page(what: &str, error: &dyn std::fmt::Display) -> Response {
    log(&format!("{what}: {error}"));
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        MessagePage::new(
            "Erreur du serveur",
            server_message("ERR_SERVER"),
            "/",
            "Retour à l'accueil",
        ),
    )
}

pub(crate) fn csrf_failure_page() -> Response {
    html(
        StatusCode::FORBIDDEN,
        MessagePage::new(
            "Formulaire refusé",
            server_message("ERR_CSRF"),
            "/",
            "Retour à l'accueil",
        ),
    )
}

fn too_many_requests_page(wait_seconds: u64) -> Response {
    let mut response = html(
        StatusCode::TOO_MANY_REQUESTS,
        MessagePage::new(
            "Trop de demandes",
            &format!(
                "{} Réessayez dans {wait_seconds} secondes.",
                server_message("ERR_TOO_MANY_REQUESTS")
            ),
            "/",
            "Réessayer",
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&wait_seconds.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

fn too_many_attempts_page(wait_seconds: u64) -> Response {
    let mut response = html(
        StatusCode::TOO_MANY_REQUESTS,
        MessagePage::new(
            "Trop de tentatives",
            &format!(
                "{} Réessayez dans {wait_seconds} secondes.",
                server_message("ERR_TOO_MANY_ATTEMPTS")
            ),
            "/",
            "Retour à la connexion",
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&wait_seconds.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// A JSON failure for the page's script: a stable code and the French message to show.
pub(crate) fn json_failure(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({ "status": "error", "code": code, "message": server_message(code) })),
    )
        .into_response()
}

type SessionResult<T> = Result<T, tower_sessions::session::Error>;

/// The session's CSRF token, made (and with it the session) if it has none.
async fn csrf_token(session: &Session) -> SessionResult<String> {
    if let Some(token) = session.get::<String>(CSRF).await? {
        return Ok(token);
    }
    let token = random_token();
    session.insert(CSRF, &token).await?;
    Ok(token)
}

/// The id of an existing session (one this site made and still has), if any.
pub(crate) async fn existing_session_id(session: &Session) -> SessionResult<Option<String>> {
    // Loading the record drops an id the store does not know.
    Ok(match session.get::<String>(CSRF).await? {
        Some(_) => session.id().map(|id| id.to_string()),
        None => None,
    })
}

/// Ends whatever the session was and makes it a new one (new id, new CSRF token) with these
/// values: at every login, logout and verified card, so an id planted before is worth nothing.
async fn renew_session(
    app: &AppState,
    session: &Session,
    account_id: Option<i64>,
    pending_card: Option<PendingCard>,
    flash: Option<Flash>,
) -> SessionResult<()> {
    if let Some(id) = session.id() {
        app.inner.cards.forget_nonce(&id.to_string()).await;
    }
    session.cycle_id().await?;
    session.clear().await;
    session.insert(CSRF, random_token()).await?;
    if let Some(account_id) = account_id {
        session.insert(ACCOUNT_ID, account_id).await?;
    }
    if let Some(pending_card) = pending_card {
        session.insert(PENDING_CARD, pending_card).await?;
    }
    if let Some(flash) = flash {
        session.insert(FLASH, flash).await?;
    }
    Ok(())
}

/// A password check (Argon2, slow on purpose) off the async runtime, at most
/// `max_concurrent_password_hashes` at once.
async fn run_password_check<T: Send + 'static>(
    app: &AppState,
    check: impl FnOnce(&AccountStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let permit = Arc::clone(&app.inner.throttle.hashes)
        .acquire_owned()
        .await
        .map_err(|error| error.to_string())?;
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = check(&app.inner.store);
        drop(permit);
        outcome
    })
    .await
    .map_err(|join_error| join_error.to_string())?
    .map_err(|store_error| store_error.to_string())
}

/// What the password step of a form found.
enum PasswordCheck<T> {
    Right(T),
    /// A wrong password (or unknown user); the session's CSRF token was replaced, since a token
    /// seen with a wrong password is spent: the new one is here for the page shown again.
    Wrong {
        csrf_token: String,
    },
}

/// The password step every form shares (login, linking a card, unlinking it): throttled per
/// account name and client address, the hash bounded by the semaphore, and a new CSRF token
/// after a failure. `Err` is the page to answer with (throttled, session store or server error).
async fn password_step<T: Send + 'static>(
    app: &AppState,
    session: &Session,
    client: IpAddr,
    username: &str,
    check: impl FnOnce(&AccountStore) -> Result<Option<T>, StoreError> + Send + 'static,
) -> Result<PasswordCheck<T>, Response> {
    let max_delay = app.inner.config.account_max_delay;
    if let Err(wait) = app.inner.throttle.check(username, client, max_delay).await {
        log(&format!("password attempts throttled for {username:?}"));
        return Err(too_many_attempts_page(wait));
    }
    // A name no account can have: wrong, without spending a hash on it.
    let checked = if is_valid_username(username) {
        run_password_check(app, check).await
    } else {
        Ok(None)
    };
    match checked {
        Ok(Some(found)) => Ok(PasswordCheck::Right(found)),
        Ok(None) => {
            let csrf_token = random_token();
            match session.insert(CSRF, &csrf_token).await {
                Ok(()) => Ok(PasswordCheck::Wrong { csrf_token }),
                Err(error) => Err(session_store_failure_page(&error)),
            }
        }
        Err(error) => Err(server_error_page("password check", &error)),
    }
}

/// The session store (Redis) did not answer: 503 and a clear page.
pub(crate) fn session_store_failure_page(error: &dyn std::fmt::Display) -> Response {
    log(&format!("session store: {error}"));
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        MessagePage::new(
            "Service indisponible",
            server_message("ERR_SESSION_STORE_UNAVAILABLE"),
            "/",
            "Réessayer",
        ),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CredentialsForm {
    username: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PasswordForm {
    password: String,
}

async fn login_page(
    State(app): State<AppState>,
    MaybeSignedIn(signed_in_as): MaybeSignedIn,
    Client(client): Client,
    session: Session,
) -> Response {
    if signed_in_as.is_some() {
        return redirect("/compte");
    }
    // This page is where sessions are made: a new one counts against the client's quota.
    match existing_session_id(&session).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            if let Err(wait) = Throttle::check_client(&app.inner.throttle.new_sessions, client) {
                log(&format!("new sessions throttled for client {client}"));
                return too_many_requests_page(wait);
            }
        }
        Err(error) => return session_store_failure_page(&error),
    }
    let flash = session.remove::<Flash>(FLASH).await.ok().flatten();
    let csrf_token = match csrf_token(&session).await {
        Ok(token) => token,
        Err(error) => return session_store_failure_page(&error),
    };
    html(
        StatusCode::OK,
        LoginPage {
            csrf_token: &csrf_token,
            flash: flash.as_ref(),
            username: "",
        },
    )
}

async fn password_login(
    _: Csrf,
    State(app): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<CredentialsForm>,
) -> Response {
    let username = form.username.trim().to_owned();
    let checked_username = username.clone();
    let password = form.password;
    let step = password_step(&app, &session, client, &username, move |store| {
        store.check_password(&checked_username, &password)
    })
    .await;
    match step {
        Ok(PasswordCheck::Right(account)) => {
            match renew_session(&app, &session, Some(account.id), None, None).await {
                Ok(()) => redirect("/compte"),
                Err(error) => session_store_failure_page(&error),
            }
        }
        Ok(PasswordCheck::Wrong { csrf_token }) => {
            let flash = Flash::Error(WRONG_CREDENTIALS.to_owned());
            html(
                StatusCode::UNAUTHORIZED,
                LoginPage {
                    csrf_token: &csrf_token,
                    flash: Some(&flash),
                    username: &username,
                },
            )
        }
        Err(page) => page,
    }
}

/// JSON endpoints answer only this site's own pages: a browser always sends `Origin` on a
/// POST, and on a GET only when it is cross-origin.
fn origin_allowed(app: &AppState, headers: &HeaderMap, required: bool) -> bool {
    match headers.get(ORIGIN) {
        Some(origin) => origin.as_bytes() == app.inner.config.origin.as_bytes(),
        None => !required,
    }
}

async fn issue_nonce(
    State(app): State<AppState>,
    Client(client): Client,
    ApiSession(session_id): ApiSession,
    headers: HeaderMap,
) -> Response {
    if !origin_allowed(&app, &headers, false)
        || headers
            .get(NONCE_REQUEST_HEADER.0)
            .is_none_or(|value| value.as_bytes() != NONCE_REQUEST_HEADER.1.as_bytes())
    {
        return json_failure(StatusCode::FORBIDDEN, "ERR_ORIGIN_MISMATCH");
    }
    // Only for a session the login page made: a cookieless request gets no session and no
    // challenge, so it cannot fill the challenge store.
    let Some(session_id) = session_id else {
        return json_failure(StatusCode::UNAUTHORIZED, "ERR_SESSION_EXPIRED");
    };
    if let Err(wait) = Throttle::check_client(&app.inner.throttle.challenges, client) {
        log(&format!("challenges throttled for client {client}"));
        let mut response = json_failure(StatusCode::TOO_MANY_REQUESTS, "ERR_TOO_MANY_REQUESTS");
        if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return response;
    }
    // The challenge lives in the challenge store only, bound to the session id: issuing it is
    // one atomic update, and a newer one replaces it.
    match app.inner.cards.issue_nonce(&session_id).await {
        Ok(nonce) => Json(json!({ "nonce": nonce })).into_response(),
        Err(failure) => {
            log(&format!("nonce: {failure}"));
            let status = if failure.code == "ERR_NONCE_STORE_FULL"
                || failure.code == "ERR_CHALLENGE_STORE_UNAVAILABLE"
            {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            json_failure(status, failure.code)
        }
    }
}

async fn card_login(
    State(app): State<AppState>,
    ApiSession(session_id): ApiSession,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !origin_allowed(&app, &headers, true) {
        return json_failure(StatusCode::FORBIDDEN, "ERR_ORIGIN_MISMATCH");
    }
    // A JSON content type cannot be sent cross-site without a CORS preflight, which this
    // site never grants.
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return json_failure(StatusCode::UNSUPPORTED_MEDIA_TYPE, "ERR_REQUEST_INVALID");
    }
    let Some(session_id) = session_id else {
        return json_failure(StatusCode::BAD_REQUEST, "ERR_NONCE_MISSING");
    };
    // Single use: the challenge leaves the store whatever happens next.
    let card = match app
        .inner
        .cards
        .check(&session_id, &body, SystemTime::now())
        .await
    {
        Ok(card) => card,
        Err(failure) => {
            log(&format!("card login refused: {failure}"));
            let status = if failure.code == "ERR_NONCE_MISSING" {
                StatusCode::BAD_REQUEST
            } else if failure.code == "ERR_CHALLENGE_STORE_UNAVAILABLE" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            return json_failure(status, failure.code);
        }
    };
    match app
        .inner
        .store
        .account_for_card(&card.anchor_id, &card.id_nat)
    {
        Ok(Some(account)) => {
            if let Err(error) = app.inner.store.refresh_card(&card) {
                log(&format!("could not record the card's new details: {error}"));
            }
            let flash = Flash::Info(format!(
                "Vous êtes connecté avec la carte CPS de {} {}.",
                card.given_name, card.surname
            ));
            match renew_session(&app, &session, Some(account.id), None, Some(flash)).await {
                Ok(()) => {
                    Json(json!({ "status": "logged_in", "redirect": "/compte" })).into_response()
                }
                Err(error) => {
                    log(&format!("session: {error}"));
                    json_failure(StatusCode::INTERNAL_SERVER_ERROR, "ERR_SERVER")
                }
            }
        }
        Ok(None) => {
            // The verified card waits in a session with a new id: an attacker who planted the
            // old id cannot follow it to the link form and link it to their own account.
            let account_id = session.get::<i64>(ACCOUNT_ID).await.ok().flatten();
            let pending = PendingCard {
                card,
                verified_at: SystemTime::now(),
            };
            match renew_session(&app, &session, account_id, Some(pending), None).await {
                Ok(()) => {
                    Json(json!({ "status": "link_required", "redirect": "/lier" })).into_response()
                }
                Err(error) => {
                    log(&format!("session: {error}"));
                    json_failure(StatusCode::INTERNAL_SERVER_ERROR, "ERR_SERVER")
                }
            }
        }
        Err(error) => {
            log(&format!("card lookup: {error}"));
            json_failure(StatusCode::INTERNAL_SERVER_ERROR, "ERR_SERVER")
        }
    }
}

async fn link_page(
    PendingLink(pending): PendingLink,
    MaybeSignedIn(signed_in_as): MaybeSignedIn,
    session: Session,
) -> Response {
    let csrf_token = match csrf_token(&session).await {
        Ok(token) => token,
        Err(error) => return session_store_failure_page(&error),
    };
    let username = signed_in_as
        .as_ref()
        .map(|account| account.username.clone())
        .unwrap_or_default();
    html(
        StatusCode::OK,
        LinkPage {
            csrf_token: &csrf_token,
            card: &pending.card,
            error: None,
            username: &username,
            signed_in_as: signed_in_as.as_ref(),
        },
    )
}

async fn link_submit(
    _: Csrf,
    PendingLink(pending): PendingLink,
    State(app): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<CredentialsForm>,
) -> Response {
    let card = pending.card;
    let username = form.username.trim().to_owned();
    let checked_username = username.clone();
    let password = form.password;
    let step = password_step(&app, &session, client, &username, move |store| {
        store.check_password(&checked_username, &password)
    })
    .await;
    let account = match step {
        Ok(PasswordCheck::Right(account)) => account,
        Ok(PasswordCheck::Wrong { csrf_token }) => {
            return html(
                StatusCode::UNAUTHORIZED,
                LinkPage {
                    csrf_token: &csrf_token,
                    card: &card,
                    error: Some(WRONG_CREDENTIALS),
                    username: &username,
                    signed_in_as: None,
                },
            );
        }
        Err(page) => return page,
    };
    match app.inner.store.link_card(account.id, &card) {
        Ok(()) => {
            let flash = Flash::Info(
                "Votre carte CPS est maintenant associée à votre compte. \
                 La prochaine fois, votre carte suffira pour vous connecter."
                    .to_owned(),
            );
            match renew_session(&app, &session, Some(account.id), None, Some(flash)).await {
                Ok(()) => redirect("/compte"),
                Err(error) => session_store_failure_page(&error),
            }
        }
        Err(StoreError::AccountAlreadyLinked) => {
            let csrf_token = csrf_token(&session).await.unwrap_or_default();
            html(
                StatusCode::CONFLICT,
                LinkPage {
                    csrf_token: &csrf_token,
                    card: &card,
                    error: Some(
                        "Ce compte est déjà associé à une autre carte CPS. Connectez-vous avec votre \
                         identifiant, dissociez l'ancienne carte depuis « Mon compte », puis réessayez.",
                    ),
                    username: &username,
                    signed_in_as: None,
                },
            )
        }
        Err(StoreError::CardAlreadyLinked) => {
            let _ = session.remove_value(PENDING_CARD).await;
            html(
                StatusCode::CONFLICT,
                MessagePage::new(
                    "Carte déjà associée",
                    "Cette carte CPS est déjà associée à un autre compte. Connectez-vous avec \
                     votre carte, ou contactez le support de ce site.",
                    "/",
                    "Retour à la connexion",
                ),
            )
        }
        Err(error) => server_error_page("card link", &error),
    }
}

async fn link_cancel(_: Csrf, session: Session) -> Response {
    let _ = session.remove_value(PENDING_CARD).await;
    let logged_in = matches!(session.get::<i64>(ACCOUNT_ID).await, Ok(Some(_)));
    redirect(if logged_in { "/compte" } else { "/" })
}

async fn account_page(
    SignedIn(account): SignedIn,
    State(app): State<AppState>,
    session: Session,
) -> Response {
    let card = match app.inner.store.card_of_account(account.id) {
        Ok(card) => card,
        Err(error) => return server_error_page("card lookup", &error),
    };
    let flash = session.remove::<Flash>(FLASH).await.ok().flatten();
    let csrf_token = match csrf_token(&session).await {
        Ok(token) => token,
        Err(error) => return session_store_failure_page(&error),
    };
    html(
        StatusCode::OK,
        AccountPage {
            csrf_token: &csrf_token,
            account: &account,
            card: card.as_ref(),
            flash: flash.as_ref(),
        },
    )
}

async fn unlink_card(
    _: Csrf,
    SignedIn(account): SignedIn,
    State(app): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<PasswordForm>,
) -> Response {
    // Unlinking is a change of how the account is reached: the password again, as for linking
    // (a session left open on a shared workstation is not enough).
    let account_id = account.id;
    let password = form.password;
    let step = password_step(&app, &session, client, &account.username, move |store| {
        Ok(store
            .check_password_of_account(account_id, &password)?
            .then_some(()))
    })
    .await;
    let flash = match step {
        Ok(PasswordCheck::Right(())) => match app.inner.store.unlink_card(account.id) {
            Ok(true) => Flash::Info("Votre carte CPS a été dissociée de votre compte.".to_owned()),
            Ok(false) => {
                Flash::Error("Aucune carte CPS n'était associée à votre compte.".to_owned())
            }
            Err(error) => return server_error_page("card unlink", &error),
        },
        Ok(PasswordCheck::Wrong { .. }) => {
            Flash::Error("Mot de passe incorrect : la carte CPS n'a pas été dissociée.".to_owned())
        }
        Err(page) => return page,
    };
    let _ = session.insert(FLASH, flash).await;
    redirect("/compte")
}

async fn logout(_: Csrf, State(app): State<AppState>, session: Session) -> Response {
    let flash = Flash::Info("Vous êtes déconnecté.".to_owned());
    match renew_session(&app, &session, None, None, Some(flash)).await {
        Ok(()) => redirect("/"),
        Err(error) => session_store_failure_page(&error),
    }
}

async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn card_login_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        CARD_LOGIN_SCRIPT,
    )
        .into_response()
}

/// The extension's page library, read at each request so a rebuilt library is picked up.
/// Missing: 404, and the page script then says the extension is not available.
async fn page_library(State(app): State<AppState>) -> Response {
    match tokio::fs::read(&app.inner.config.page_library).await {
        Ok(script) => (
            [
                (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (CACHE_CONTROL, "no-cache"),
            ],
            script,
        )
            .into_response(),
        Err(error) => {
            log(&format!(
                "page library {}: {error}",
                app.inner.config.page_library.display()
            ));
            (StatusCode::NOT_FOUND, "page library not available").into_response()
        }
    }
}

async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        MessagePage::new(
            "Page introuvable",
            "La page demandée n'existe pas.",
            "/",
            "Retour à l'accueil",
        ),
    )
}
