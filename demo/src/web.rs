//! The site's routes.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | login page: password form and the card button |
//! | `POST /connexion` | password login (form) |
//! | `GET /api/nonce` | a fresh challenge for this session (JSON) |
//! | `POST /api/login/card` | the token from the page library (JSON): logs in, or sends to `/lier` |
//! | `GET, POST /lier`, `POST /lier/annuler` | first-time linking of a verified card to an account |
//! | `GET /compte`, `POST /compte/dissocier` | the account and its card; unlink |
//! | `POST /deconnexion` | logout |
//! | `GET /static/...` | stylesheet, page script, and the extension's page library |

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::card::{CardChecker, TrustSetupError};
use crate::config::DemoConfig;
use crate::messages::server_message;
use crate::pages::{self, AccountPage, LinkPage, LoginPage};
use crate::session::{
    constant_time_eq, session_id_from_cookie_header, session_set_cookie, Flash, PendingCard,
    SessionId, SessionStore,
};
use crate::store::{AccountStore, StoreError};

const STYLESHEET: &str = include_str!("../static/style.css");
const CARD_LOGIN_SCRIPT: &str = include_str!("../static/card-login.js");

/// Tokens are at most 10 KB (cpx-verify refuses more); forms are tiny.
const MAX_BODY_BYTES: usize = 64 * 1024;

const WRONG_CREDENTIALS: &str = "Identifiant ou mot de passe incorrect.";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot open the account database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Trust(#[from] TrustSetupError),
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

struct AppInner {
    config: DemoConfig,
    store: AccountStore,
    sessions: SessionStore,
    cards: CardChecker,
}

impl AppState {
    /// Opens the database and loads the trust configuration.
    pub fn new(config: DemoConfig) -> Result<Self, AppError> {
        let store = AccountStore::open(&config.database_path)?;
        Self::with_store(config, store)
    }

    /// The same with a given store (e.g. in memory).
    pub fn with_store(config: DemoConfig, store: AccountStore) -> Result<Self, AppError> {
        let cards = CardChecker::new(&config)?;
        let sessions = SessionStore::new(config.session_idle_timeout);
        Ok(Self {
            inner: Arc::new(AppInner {
                config,
                store,
                sessions,
                cards,
            }),
        })
    }

    pub fn store(&self) -> &AccountStore {
        &self.inner.store
    }

    pub fn config(&self) -> &DemoConfig {
        &self.inner.config
    }
}

/// The whole site, ready to serve (over HTTPS: the session cookie is `Secure`).
pub fn build_router(state: AppState) -> Router {
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
        .layer(middleware::from_fn_with_state(state.clone(), session_layer))
        .layer(middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Finds the request's session or starts one, and hands its id to the handler.
async fn session_layer(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session_id_from_cookie_header)
        .map(str::to_owned);
    let (session_id, created) = match presented {
        Some(id) if app.inner.sessions.touch(&id) => (id, false),
        _ => (app.inner.sessions.create(), true),
    };
    request
        .extensions_mut()
        .insert(SessionId(session_id.clone()));
    let mut response = next.run(request).await;
    // A handler that logged in or out has set the new session's cookie itself.
    if created && !response.headers().contains_key(SET_COOKIE) {
        if let Ok(value) = HeaderValue::from_str(&session_set_cookie(&session_id)) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
    }
    response
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
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
    // No Strict-Transport-Security: on `localhost` it would apply to every port and force
    // HTTPS on the developer's other local sites.
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Logged for the operator; the user sees the French message.
fn log(line: &str) {
    eprintln!("cpx-demo: {line}");
}

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

/// 303 to `location`, setting a new session cookie when the session changed.
fn redirect(location: &'static str, new_session_id: Option<&str>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    if let Some(session_id) = new_session_id {
        if let Ok(value) = HeaderValue::from_str(&session_set_cookie(session_id)) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
    }
    response
}

fn server_error_page(what: &str, error: &dyn std::fmt::Display) -> Response {
    log(&format!("{what}: {error}"));
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::message_page(
            "Erreur du serveur",
            server_message("ERR_SERVER"),
            "/",
            "Retour à l'accueil",
        ),
    )
}

fn csrf_failure_page() -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::message_page(
            "Formulaire refusé",
            server_message("ERR_CSRF"),
            "/",
            "Retour à l'accueil",
        ),
    )
}

/// A JSON failure for the page's script: a stable code and the French message to show.
fn json_failure(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({ "status": "error", "code": code, "message": server_message(code) })),
    )
        .into_response()
}

fn csrf_matches(app: &AppState, session_id: &str, presented: &str) -> bool {
    app.inner
        .sessions
        .get(session_id)
        .is_some_and(|session| constant_time_eq(&session.csrf_token, presented))
}

/// Runs a password check (Argon2, slow on purpose) off the async runtime.
async fn check_password(
    app: &AppState,
    username: String,
    password: String,
) -> Result<Option<crate::store::Account>, String> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || app.inner.store.check_password(&username, &password))
        .await
        .map_err(|join_error| join_error.to_string())?
        .map_err(|store_error| store_error.to_string())
}

/// The account of a logged-in session, if the account still exists.
fn signed_in_account(
    app: &AppState,
    session_id: &str,
) -> Result<Option<crate::store::Account>, StoreError> {
    match app
        .inner
        .sessions
        .get(session_id)
        .and_then(|session| session.account_id)
    {
        Some(account_id) => app.inner.store.account_by_id(account_id),
        None => Ok(None),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CredentialsForm {
    csrf: String,
    username: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

async fn login_page(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
) -> Response {
    match signed_in_account(&app, &session.0) {
        Ok(Some(_)) => return redirect("/compte", None),
        Ok(None) => {}
        Err(error) => return server_error_page("account lookup", &error),
    }
    let flash = app
        .inner
        .sessions
        .update(&session.0, |state| state.flash.take())
        .flatten();
    let csrf_token = app
        .inner
        .sessions
        .get(&session.0)
        .map(|state| state.csrf_token)
        .unwrap_or_default();
    html(
        StatusCode::OK,
        pages::login_page(&LoginPage {
            csrf_token: &csrf_token,
            flash: flash.as_ref(),
            username: "",
        }),
    )
}

async fn password_login(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
    Form(form): Form<CredentialsForm>,
) -> Response {
    if !csrf_matches(&app, &session.0, &form.csrf) {
        return csrf_failure_page();
    }
    let username = form.username.trim().to_owned();
    match check_password(&app, username.clone(), form.password).await {
        Ok(Some(account)) => {
            app.inner.cards.forget_nonce(&session.0);
            let new_session = app.inner.sessions.log_in(&session.0, account.id, None);
            redirect("/compte", Some(&new_session))
        }
        Ok(None) => {
            let csrf_token = app
                .inner
                .sessions
                .get(&session.0)
                .map(|state| state.csrf_token)
                .unwrap_or_default();
            let flash = Flash::Error(WRONG_CREDENTIALS.to_owned());
            html(
                StatusCode::UNAUTHORIZED,
                pages::login_page(&LoginPage {
                    csrf_token: &csrf_token,
                    flash: Some(&flash),
                    username: &username,
                }),
            )
        }
        Err(error) => server_error_page("password check", &error),
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
    Extension(session): Extension<SessionId>,
    headers: HeaderMap,
) -> Response {
    if !origin_allowed(&app, &headers, false) {
        return json_failure(StatusCode::FORBIDDEN, "ERR_ORIGIN_MISMATCH");
    }
    let nonce = match app.inner.cards.issue_nonce(&session.0) {
        Ok(nonce) => nonce,
        Err(failure) => {
            log(&format!("nonce: {failure}"));
            return json_failure(StatusCode::INTERNAL_SERVER_ERROR, failure.code);
        }
    };
    let remembered = app
        .inner
        .sessions
        .update(&session.0, |state| state.issued_nonce = Some(nonce.clone()));
    if remembered.is_none() {
        return json_failure(StatusCode::UNAUTHORIZED, "ERR_SESSION_EXPIRED");
    }
    Json(json!({ "nonce": nonce })).into_response()
}

async fn card_login(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
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
    // Single use: the challenge leaves the session whatever happens next.
    let Some(issued_nonce) = app
        .inner
        .sessions
        .update(&session.0, |state| state.issued_nonce.take())
        .flatten()
    else {
        return json_failure(StatusCode::BAD_REQUEST, "ERR_NONCE_MISSING");
    };
    let card = match app
        .inner
        .cards
        .check(&session.0, &issued_nonce, &body, SystemTime::now())
    {
        Ok(card) => card,
        Err(failure) => {
            log(&format!("card login refused: {failure}"));
            return json_failure(StatusCode::UNAUTHORIZED, failure.code);
        }
    };
    match app.inner.store.account_for_card(&card.id_nat) {
        Ok(Some(account)) => {
            if let Err(error) = app.inner.store.refresh_card(&card) {
                log(&format!("could not record the card's new details: {error}"));
            }
            let new_session = app.inner.sessions.log_in(
                &session.0,
                account.id,
                Some(Flash::Info(format!(
                    "Vous êtes connecté avec la carte CPS de {} {}.",
                    card.given_name, card.surname
                ))),
            );
            let mut response =
                Json(json!({ "status": "logged_in", "redirect": "/compte" })).into_response();
            if let Ok(value) = HeaderValue::from_str(&session_set_cookie(&new_session)) {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            response
        }
        Ok(None) => {
            let kept = app.inner.sessions.update(&session.0, |state| {
                state.pending_card = Some(PendingCard {
                    card,
                    verified_at: std::time::Instant::now(),
                });
            });
            if kept.is_none() {
                return json_failure(StatusCode::UNAUTHORIZED, "ERR_SESSION_EXPIRED");
            }
            Json(json!({ "status": "link_required", "redirect": "/lier" })).into_response()
        }
        Err(error) => {
            log(&format!("card lookup: {error}"));
            json_failure(StatusCode::INTERNAL_SERVER_ERROR, "ERR_SERVER")
        }
    }
}

const NO_PENDING_CARD: &str = "Aucune carte CPS n'attend d'être associée (la demande a peut-être expiré). Cliquez à nouveau sur « S'identifier par carte CPS ».";

async fn link_page(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
) -> Response {
    let Some(state) = app.inner.sessions.get(&session.0) else {
        return redirect("/", None);
    };
    let Some(card) = state.fresh_pending_card() else {
        app.inner.sessions.update(&session.0, |state| {
            state.pending_card = None;
            state.flash = Some(Flash::Error(NO_PENDING_CARD.to_owned()));
        });
        return redirect("/", None);
    };
    let signed_in_as = match signed_in_account(&app, &session.0) {
        Ok(account) => account,
        Err(error) => return server_error_page("account lookup", &error),
    };
    let username = signed_in_as
        .as_ref()
        .map(|account| account.username.clone())
        .unwrap_or_default();
    html(
        StatusCode::OK,
        pages::link_page(&LinkPage {
            csrf_token: &state.csrf_token,
            card,
            error: None,
            username: &username,
            signed_in_as: signed_in_as.as_ref(),
        }),
    )
}

async fn link_submit(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
    Form(form): Form<CredentialsForm>,
) -> Response {
    if !csrf_matches(&app, &session.0, &form.csrf) {
        return csrf_failure_page();
    }
    let Some(state) = app.inner.sessions.get(&session.0) else {
        return redirect("/", None);
    };
    let Some(card) = state.fresh_pending_card().cloned() else {
        app.inner.sessions.update(&session.0, |state| {
            state.pending_card = None;
            state.flash = Some(Flash::Error(NO_PENDING_CARD.to_owned()));
        });
        return redirect("/", None);
    };
    let username = form.username.trim().to_owned();
    let relink_page = |status: StatusCode, error: &str| {
        html(
            status,
            pages::link_page(&LinkPage {
                csrf_token: &state.csrf_token,
                card: &card,
                error: Some(error),
                username: &username,
                signed_in_as: None,
            }),
        )
    };
    let account = match check_password(&app, username.clone(), form.password).await {
        Ok(Some(account)) => account,
        Ok(None) => return relink_page(StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS),
        Err(error) => return server_error_page("password check", &error),
    };
    match app.inner.store.link_card(account.id, &card) {
        Ok(()) => {
            app.inner.cards.forget_nonce(&session.0);
            let new_session = app.inner.sessions.log_in(
                &session.0,
                account.id,
                Some(Flash::Info(
                    "Votre carte CPS est maintenant associée à votre compte. \
                     La prochaine fois, votre carte suffira pour vous connecter."
                        .to_owned(),
                )),
            );
            redirect("/compte", Some(&new_session))
        }
        Err(StoreError::AccountAlreadyLinked) => relink_page(
            StatusCode::CONFLICT,
            "Ce compte est déjà associé à une autre carte CPS. Connectez-vous avec votre \
             identifiant, dissociez l'ancienne carte depuis « Mon compte », puis réessayez.",
        ),
        Err(StoreError::CardAlreadyLinked) => {
            app.inner.sessions.update(&session.0, |state| {
                state.pending_card = None;
            });
            html(
                StatusCode::CONFLICT,
                pages::message_page(
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

async fn link_cancel(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_matches(&app, &session.0, &form.csrf) {
        return csrf_failure_page();
    }
    let logged_in = app
        .inner
        .sessions
        .update(&session.0, |state| {
            state.pending_card = None;
            state.account_id.is_some()
        })
        .unwrap_or(false);
    redirect(if logged_in { "/compte" } else { "/" }, None)
}

async fn account_page(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
) -> Response {
    let account = match signed_in_account(&app, &session.0) {
        Ok(Some(account)) => account,
        Ok(None) => return redirect("/", None),
        Err(error) => return server_error_page("account lookup", &error),
    };
    let card = match app.inner.store.card_of_account(account.id) {
        Ok(card) => card,
        Err(error) => return server_error_page("card lookup", &error),
    };
    let Some((csrf_token, flash)) = app.inner.sessions.update(&session.0, |state| {
        (state.csrf_token.clone(), state.flash.take())
    }) else {
        return redirect("/", None);
    };
    html(
        StatusCode::OK,
        pages::account_page(&AccountPage {
            csrf_token: &csrf_token,
            account: &account,
            card: card.as_ref(),
            flash: flash.as_ref(),
        }),
    )
}

async fn unlink_card(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_matches(&app, &session.0, &form.csrf) {
        return csrf_failure_page();
    }
    let account = match signed_in_account(&app, &session.0) {
        Ok(Some(account)) => account,
        Ok(None) => return redirect("/", None),
        Err(error) => return server_error_page("account lookup", &error),
    };
    let flash = match app.inner.store.unlink_card(account.id) {
        Ok(true) => Flash::Info("Votre carte CPS a été dissociée de votre compte.".to_owned()),
        Ok(false) => Flash::Error("Aucune carte CPS n'était associée à votre compte.".to_owned()),
        Err(error) => return server_error_page("card unlink", &error),
    };
    app.inner
        .sessions
        .update(&session.0, |state| state.flash = Some(flash));
    redirect("/compte", None)
}

async fn logout(
    State(app): State<AppState>,
    Extension(session): Extension<SessionId>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_matches(&app, &session.0, &form.csrf) {
        return csrf_failure_page();
    }
    app.inner.cards.forget_nonce(&session.0);
    let new_session = app.inner.sessions.log_out(
        &session.0,
        Some(Flash::Info("Vous êtes déconnecté.".to_owned())),
    );
    redirect("/", Some(&new_session))
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
        pages::message_page(
            "Page introuvable",
            "La page demandée n'existe pas.",
            "/",
            "Retour à l'accueil",
        ),
    )
}
