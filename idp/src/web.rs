//! The provider's state, its router, and what every route shares: cookies, pages, language,
//! per-address throttling, the security headers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use askama::Template;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE, COOKIE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cpx_verify::{TrustConfig, Validator};
use cpx_web::headers::apply_security_headers;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use serde_json::json;

use crate::client_keys::RemoteClientKeys;
use crate::config::{ConfigError, ProviderConfig};
use crate::keys::KeySet;
use crate::store::{Challenges, MemoryStore, RedisStore, Store};

/// The login cookie names the `/authorize` request waiting for the card; the session cookie
/// the browser's signed-in session. `__Host-`: this exact host, HTTPS, `Path=/`.
pub const LOGIN_COOKIE: &str = "__Host-cpx-idp-login";
pub const SESSION_COOKIE: &str = "__Host-cpx-idp-session";

/// A login transaction waits this long for the card and PIN.
pub const TRANSACTION_LIFETIME: Duration = Duration::from_secs(600);
/// An authorization code is redeemed within this time (the spec's "short", at most 10 min).
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(600);
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// Token bodies and forms are small; a card token is at most 10 KB (cpx-verify refuses more).
const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Provider {
    pub config: ProviderConfig,
    pub keys: KeySet,
    pub validator: Validator,
    /// Card challenges, keyed by the login transaction (cpx-verify's single-use stores).
    pub challenges: Challenges,
    pub store: Arc<dyn Store>,
    /// The key sets of clients that publish theirs at a URL.
    pub client_keys: RemoteClientKeys,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    pub(crate) per_client: DefaultKeyedRateLimiter<String>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Provider>);

impl std::ops::Deref for AppState {
    type Target = Provider;
    fn deref(&self) -> &Provider {
        &self.0
    }
}

impl Provider {
    /// The provider from its checked configuration and keys, with its stores.
    pub fn new(
        config: ProviderConfig,
        keys: KeySet,
        store: Arc<dyn Store>,
        challenges: Challenges,
    ) -> Result<Self, ConfigError> {
        let trust_error = |error: cpx_verify::ConfigError| ConfigError {
            entry: "trust".to_owned(),
            why: error.to_string(),
        };
        let files = &config.trust;
        let mut trust = TrustConfig::new(files.anchors_der.clone())
            .and_then(|trust| trust.with_intermediates(files.intermediates_der.clone()))
            .and_then(|trust| trust.with_crls(files.crls_der.clone()))
            .map_err(trust_error)?;
        if !files.policies.is_empty() {
            trust = trust
                .with_certificate_policies(&files.policies)
                .map_err(trust_error)?;
        }
        for ca in &files.no_crl_for_der {
            trust = trust.without_crl_for(ca.clone());
        }
        if files.allow_test_anchors {
            trust = trust.allow_test_anchors();
        }
        // The issuer's origin is the page the card signs on: the only origin a token may be for.
        let validator = Validator::new(trust, &config.issuer).map_err(trust_error)?;
        let limits = config.limits;
        let client_keys =
            RemoteClientKeys::new(limits.jwks_refetch).map_err(|error| ConfigError {
                entry: "clients".to_owned(),
                why: format!("no HTTP client for jwks_uri: {error}"),
            })?;
        Ok(Self {
            client_keys,
            validator,
            challenges,
            store,
            per_address: RateLimiter::keyed(cpx_web::throttle::quota(
                limits.address_burst,
                limits.address_period,
            )),
            per_client: RateLimiter::keyed(cpx_web::throttle::quota(
                limits.client_burst,
                limits.client_period,
            )),
            config,
            keys,
        })
    }

    /// With the in-memory stores.
    pub fn in_memory(config: ProviderConfig, keys: KeySet) -> Result<Self, ConfigError> {
        let challenges = Challenges::in_memory(TRANSACTION_LIFETIME);
        Self::new(config, keys, Arc::new(MemoryStore::default()), challenges)
    }

    /// With the stores the configuration names: in memory, or its Redis (which must answer:
    /// an unreachable Redis stops the start, not the first login).
    pub async fn open(config: ProviderConfig, keys: KeySet) -> Result<Self, ConfigError> {
        let Some(settings) = config.store.clone() else {
            return Self::in_memory(config, keys);
        };
        let unreachable = |why: String| ConfigError {
            entry: "store.url".to_owned(),
            why: format!("Redis unreachable: {why}"),
        };
        let ca_pem = settings.ca_pem.as_deref();
        let store = RedisStore::connect(&settings.url, ca_pem, &config.issuer)
            .await
            .map_err(unreachable)?;
        let challenges =
            Challenges::redis(&settings.url, ca_pem, TRANSACTION_LIFETIME, &config.issuer)
                .await
                .map_err(unreachable)?;
        Self::new(config, keys, Arc::new(store), challenges)
    }

    /// Reads the `[trust] crls` files again and puts them in force; on any failure (a file
    /// unreadable, a CRL invalid, a CA left without one) the CRLs in force stay. `Ok`: the
    /// number of CAs covered.
    pub fn reload_crls_from_disk(&self) -> Result<usize, String> {
        let crls = self
            .config
            .trust
            .crl_paths
            .iter()
            .map(|path| std::fs::read(path).map_err(|error| format!("{}: {error}", path.display())))
            .collect::<Result<Vec<_>, _>>()?;
        self.validator
            .replace_crls(crls)
            .map_err(|error| error.to_string())
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.config.issuer)
    }
}

/// The provider's routes; an `Arc<Provider>` keeps a handle for work beside the requests
/// (the CRLs' reloading).
pub fn build_router(provider: impl Into<Arc<Provider>>) -> Router {
    let state = AppState(provider.into());
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(crate::authorize::authorize))
        .route("/login", get(crate::login::login_page))
        .route("/login/challenge", get(crate::login::challenge))
        .route("/login/card", post(crate::login::card))
        .route("/login/cancel", post(crate::login::cancel))
        .route("/token", post(crate::token::token))
        .route(
            "/userinfo",
            get(crate::token::userinfo).post(crate::token::userinfo),
        )
        .route(
            "/logout",
            get(crate::logout::end_session).post(crate::logout::confirm),
        )
        .route("/static/cpx-connect.js", get(page_library))
        .route("/static/card-login.js", get(login_script))
        .route("/static/style.css", get(stylesheet))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_body_in_time,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// The whole body within its time (`cpx_web::body`): a client sending it a byte at a time
/// holds no handler.
async fn read_body_in_time(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let timeout = app.config.limits.body_read_timeout;
    match cpx_web::body::read_body_within(request, timeout, MAX_BODY_BYTES).await {
        Ok(request) => next.run(request).await,
        Err(refused) => {
            log(&format!("request body refused: {refused:?}"));
            refused.into_response()
        }
    }
}

async fn security_headers(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    apply_security_headers(response.headers_mut(), app.config.hsts_max_age);
    response
}

pub fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default()
}

/// One line per event on stderr; never a secret (no code, token, cookie or PIN).
pub fn log(message: &str) {
    eprintln!("cpx-idp: {message}");
}

async fn discovery(State(app): State<AppState>) -> Response {
    let issuer = &app.config.issuer;
    let active = match app.keys.active_algorithm() {
        crate::config::Algorithm::RS256 => "RS256",
        crate::config::Algorithm::ES256 => "ES256",
    };
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": app.token_endpoint(),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [active],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": crate::config::SUPPORTED_SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr",
            "amr", "given_name", "family_name", "preferred_username", "SubjectNameID",
            "profession"],
        "acr_values_supported": [app.config.acr],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "ui_locales_supported": ["fr", "en"],
    });
    cacheable(Json(body).into_response())
}

async fn jwks(State(app): State<AppState>) -> Response {
    cacheable(Json(app.keys.jwks()).into_response())
}

/// Public documents: short caching, so a key rotation is seen within minutes.
fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

const STYLESHEET: &str = include_str!("../static/style.css");

fn asset(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

async fn login_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        cpx_web::messages::CARD_LOGIN_SCRIPT,
    )
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// The extension's page library, read at each request (a rebuilt library is picked up).
async fn page_library(State(app): State<AppState>) -> Response {
    match tokio::fs::read(&app.config.page_library).await {
        Ok(script) => asset("text/javascript; charset=utf-8", script),
        Err(error) => {
            log(&format!(
                "page library {}: {error}",
                app.config.page_library.display()
            ));
            (StatusCode::NOT_FOUND, "page library not available").into_response()
        }
    }
}

/// The pages' language: English if the browser prefers it, else French.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    /// The first of French or English in the browser's list (browsers sort it by preference),
    /// else French.
    pub fn of(headers: &HeaderMap) -> Self {
        let list = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        list.split(',')
            .map(str::trim)
            .filter(|tag| !tag.replace(' ', "").ends_with(";q=0"))
            .map(|tag| {
                tag.split(';')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or_default().to_owned();
                match primary.as_str() {
                    "en" => Some(Lang::En),
                    "fr" => Some(Lang::Fr),
                    _ => None,
                }
            })
            .unwrap_or(Lang::Fr)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn pick(self, fr: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    lang: &'static str,
    title: &'a str,
    text: &'a str,
}

/// A page that says something and stops there (an error the provider cannot send back to the
/// site, or a logout without a way back).
pub fn message_page(status: StatusCode, lang: Lang, title: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            lang: lang.code(),
            title,
            text,
        },
    )
}

/// The page a form gets whose `csrf` field is not the token of the page it claims to come
/// from (a forged form, or one from a page that has expired): the cancel and logout forms.
pub fn form_refused_page(lang: Lang) -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        lang,
        lang.pick("Formulaire refusé", "Form refused"),
        lang.pick(
            "Ce formulaire ne vient pas de cette page. Rechargez la page et recommencez.",
            "This form did not come from this page. Reload the page and try again.",
        ),
    )
}

/// The store (Redis) did not answer: nothing was done, the holder may try again.
pub fn unavailable_page(lang: Lang) -> Response {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        lang.pick("Service momentanément indisponible", "Service temporarily unavailable"),
        lang.pick(
            "Le service ne peut pas traiter votre demande pour l'instant. Réessayez dans un instant.",
            "The service cannot handle your request right now. Try again in a moment.",
        ),
    )
}

pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => {
            log(&format!("template: {error}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response()
        }
    }
}

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A cookie for the browser's session only (no `Max-Age`): closing the browser on a shared
/// workstation ends it. `SameSite=Lax`: sent on the site's top-level redirect to `/authorize`.
pub fn set_cookie(name: &str, value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Extractor: the client's address key (`cpx_web::client`, as the demo's): behind one of the
/// configured `trusted_proxies`, the address that proxy saw.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl axum::extract::FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(cpx_web::client::request_client_key(
            &parts.extensions,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// `Err(429 answer)` if this address went past its quota.
pub fn throttle_address(app: &Provider, address: IpAddr) -> Result<(), Response> {
    cpx_web::throttle::check_key(&app.per_address, &address).map_err(|wait| {
        log(&format!("throttled address {address}"));
        too_many(wait)
    })
}

pub fn too_many(wait: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(
            json!({ "error": "temporarily_unavailable", "error_description": "too many requests" }),
        ),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// Query or form pairs, refusing a parameter given twice (OAuth 2.0 §3.1).
pub fn parse_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).ok()?;
    let mut names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    (names.len() == before).then_some(pairs)
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(list: &str) -> Lang {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(list) {
            headers.insert(ACCEPT_LANGUAGE, value);
        }
        Lang::of(&headers)
    }

    #[test]
    fn the_first_of_french_or_english_wins_else_french() {
        assert_eq!(lang("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(lang("de-DE,en;q=0.8,fr;q=0.5"), Lang::En);
        assert_eq!(lang("fr-FR,en;q=0.8"), Lang::Fr);
        assert_eq!(lang("en;q=0, fr"), Lang::Fr);
        assert_eq!(lang("de,it"), Lang::Fr);
        assert_eq!(lang(""), Lang::Fr);
    }
}
