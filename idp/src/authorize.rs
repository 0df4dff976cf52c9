//! `/authorize` and the card login it leads to: the request checked (client and redirect URI
//! first: no redirect before both are known), the login page, the challenge, the card token,
//! and the redirect back with `code`, `state` and `iss` (RFC 9207).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cpx_web::secrets::{constant_time_eq, random_token};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use crate::claims::Holder;
use crate::config::Client;
use crate::store::{key_of, Kind};
use crate::web::{
    clear_cookie, cookie, log, message_page, now_seconds, param, parse_pairs, render, set_cookie,
    throttle_address, AppState, ClientAddr, Lang, Provider, CODE_LIFETIME, LOGIN_COOKIE,
    SESSION_COOKIE, TRANSACTION_LIFETIME,
};

/// The header the login script sends with its requests: a navigation or a form from another
/// site cannot add it, and a cross-origin fetch with it needs a preflight never granted.
pub const SCRIPT_HEADER: (&str, &str) = ("x-requested-with", "cpx-connect");
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What an `/authorize` request asked, kept while the holder logs in, then in its code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    /// The login page's CSRF token (transactions only).
    #[serde(default)]
    pub csrf: String,
}

/// A code's grant: the request, and who logged in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub request: AuthRequest,
    pub holder: Holder,
}

/// The browser's signed-in session at the provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub holder: Holder,
    /// For the logout confirmation form.
    pub csrf: String,
}

/// The site's redirect URI with these parameters added (its own query kept).
fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad redirect URI").into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// An error sent back to the site (its redirect URI is registered): `error`, `state`, `iss`.
fn error_redirect(
    app: &Provider,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", app.config.issuer.as_str()));
    redirect_to(redirect_uri, &params)
}

/// PKCE: RFC 7636's 43 to 128 unreserved characters (a challenge S256 is 43).
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

fn bad_request_page(lang: Lang, text_fr: &'static str, text_en: &'static str) -> Response {
    message_page(
        StatusCode::BAD_REQUEST,
        lang,
        lang.pick("Demande de connexion refusée", "Login request refused"),
        lang.pick(text_fr, text_en),
    )
}

pub async fn authorize(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    if let Err(response) = throttle_address(&app, address) {
        return response;
    }
    let raw: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let single = |name: &str| {
        let mut values = raw.iter().filter(|(key, _)| key == name);
        match (values.next(), values.next()) {
            (Some((_, value)), None) if !value.is_empty() => Some(value.as_str()),
            _ => None,
        }
    };
    // Until the client and its redirect URI are known, nothing is sent anywhere: a page.
    let Some(client) = single("client_id").and_then(|id| app.config.client(id)) else {
        return bad_request_page(
            lang,
            "Le site qui vous a envoyé ici n'est pas connu de ce service (client_id).",
            "The site that sent you here is not known to this service (client_id).",
        );
    };
    let Some(redirect_uri) =
        single("redirect_uri").filter(|uri| client.redirect_uris.iter().any(|known| known == uri))
    else {
        return bad_request_page(
            lang,
            "L'adresse de retour demandée n'est pas enregistrée pour ce site (redirect_uri).",
            "The return address asked for is not registered for this site (redirect_uri).",
        );
    };
    let Some(pairs) = parse_pairs(query.as_deref().unwrap_or_default()) else {
        return error_redirect(
            &app,
            redirect_uri,
            None,
            "invalid_request",
            "a parameter is repeated",
        );
    };
    let state = param(&pairs, "state");
    let fail = |error: &str, description: &str| {
        error_redirect(&app, redirect_uri, state, error, description)
    };
    match checked_request(client, redirect_uri, &pairs) {
        Ok(checked) => {
            let CheckedRequest {
                request,
                prompt_login,
                prompt_none,
                max_age,
            } = checked;
            // An existing session answers at once unless the site wants a fresh card login.
            if !prompt_login {
                if let Some(holder) = session_holder(&app, cookie(&headers, SESSION_COOKIE)).await {
                    // max_age=0 is "log in again now", as prompt=login.
                    let fresh_enough = max_age.is_none_or(|max| {
                        max > 0 && now_seconds().saturating_sub(holder.auth_time) <= max
                    });
                    if fresh_enough {
                        return issue_code(&app, request, holder).await;
                    }
                }
            }
            if prompt_none {
                return fail("login_required", "no session at the provider");
            }
            start_login(&app, request).await
        }
        Err((error, description)) => fail(error, description),
    }
}

async fn session_holder(app: &Provider, session_cookie: Option<String>) -> Option<Holder> {
    let session_cookie = session_cookie?;
    let text = app
        .store
        .get(Kind::Session, &key_of(&session_cookie))
        .await
        .ok()??;
    serde_json::from_str::<SessionRecord>(&text)
        .ok()
        .map(|record| record.holder)
}

struct CheckedRequest {
    request: AuthRequest,
    prompt_login: bool,
    prompt_none: bool,
    max_age: Option<u64>,
}

/// The rules of an authorization request, once its client and redirect URI are known; `Err`
/// is the error code (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6) and its description.
fn checked_request(
    client: &Client,
    redirect_uri: &str,
    pairs: &[(String, String)],
) -> Result<CheckedRequest, (&'static str, &'static str)> {
    if param(pairs, "request").is_some() {
        return Err(("request_not_supported", "request objects are not supported"));
    }
    if param(pairs, "request_uri").is_some() {
        return Err(("request_uri_not_supported", "request_uri is not supported"));
    }
    match param(pairs, "response_type") {
        None => return Err(("invalid_request", "response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is served",
            ))
        }
    }
    if param(pairs, "response_mode").is_some_and(|mode| mode != "query") {
        return Err(("invalid_request", "only response_mode=query is served"));
    }
    let scopes: Vec<String> = param(pairs, "scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|scope| scope == "openid") {
        return Err(("invalid_scope", "scope must contain openid"));
    }
    if scopes.iter().any(|scope| !client.scopes.contains(scope)) {
        return Err(("invalid_scope", "a scope is not allowed for this client"));
    }
    match param(pairs, "code_challenge_method") {
        Some("S256") => {}
        Some("plain") => return Err(("invalid_request", "PKCE plain is refused: use S256")),
        Some(_) => return Err(("invalid_request", "code_challenge_method must be S256")),
        None => {
            return Err((
                "invalid_request",
                "PKCE is required: code_challenge_method=S256",
            ))
        }
    }
    let code_challenge = match param(pairs, "code_challenge") {
        Some(challenge) if challenge.len() == 43 && is_pkce_value(challenge) => challenge,
        _ => return Err(("invalid_request", "code_challenge is missing or malformed")),
    };
    let prompts: Vec<&str> = param(pairs, "prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|prompt| !prompt.is_empty())
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(("invalid_request", "prompt=none cannot be combined"));
    }
    let max_age = match param(pairs, "max_age") {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| ("invalid_request", "max_age must be a number of seconds"))?,
        ),
    };
    let bounded = |name: &str| param(pairs, name).filter(|value| value.len() <= 512);
    if param(pairs, "state").is_some_and(|value| value.len() > 512)
        || param(pairs, "nonce").is_some_and(|value| value.len() > 512)
    {
        return Err((
            "invalid_request",
            "state or nonce longer than 512 characters",
        ));
    }
    Ok(CheckedRequest {
        request: AuthRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state: bounded("state").map(str::to_owned),
            nonce: bounded("nonce").map(str::to_owned),
            code_challenge: code_challenge.to_owned(),
            scopes,
            csrf: String::new(),
        },
        prompt_login: prompts.contains(&"login"),
        prompt_none: prompts.contains(&"none"),
        max_age,
    })
}

/// A fresh code for this request and holder, and the redirect that carries it.
async fn issue_code(app: &Provider, request: AuthRequest, holder: Holder) -> Response {
    let code = random_token();
    let redirect_uri = request.redirect_uri.clone();
    let state = request.state.clone();
    let grant = CodeGrant { request, holder };
    let stored = match serde_json::to_string(&grant) {
        Ok(text) => {
            app.store
                .put(Kind::Code, &key_of(&code), text, CODE_LIFETIME)
                .await
        }
        Err(error) => Err(crate::store::StoreError::Unavailable(error.to_string())),
    };
    if let Err(error) = stored {
        log(&format!("code not stored: {error}"));
        return error_redirect(
            app,
            &redirect_uri,
            state.as_deref(),
            "temporarily_unavailable",
            "the provider could not keep the code",
        );
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", app.config.issuer.as_str()));
    redirect_to(&redirect_uri, &params)
}

async fn start_login(app: &Provider, mut request: AuthRequest) -> Response {
    let transaction = random_token();
    request.csrf = random_token();
    let redirect_uri = request.redirect_uri.clone();
    let state = request.state.clone();
    let stored = match serde_json::to_string(&request) {
        Ok(text) => {
            app.store
                .put(
                    Kind::Transaction,
                    &key_of(&transaction),
                    text,
                    TRANSACTION_LIFETIME,
                )
                .await
        }
        Err(error) => Err(crate::store::StoreError::Unavailable(error.to_string())),
    };
    if let Err(error) = stored {
        log(&format!("login transaction not stored: {error}"));
        return error_redirect(
            app,
            &redirect_uri,
            state.as_deref(),
            "temporarily_unavailable",
            "the provider is busy",
        );
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/login"));
    response
        .headers_mut()
        .insert(SET_COOKIE, set_cookie(LOGIN_COOKIE, &transaction));
    response
}

/// The login transaction of this browser: its cookie and what it asked.
async fn transaction(app: &Provider, headers: &HeaderMap) -> Option<(String, AuthRequest)> {
    let transaction = cookie(headers, LOGIN_COOKIE)?;
    let text = app
        .store
        .get(Kind::Transaction, &key_of(&transaction))
        .await
        .ok()??;
    let request = serde_json::from_str(&text).ok()?;
    Some((transaction, request))
}

fn expired_page(lang: Lang) -> Response {
    bad_request_page(
        lang,
        "Cette demande de connexion a expiré ou n'existe pas. Retournez sur le site et recommencez.",
        "This login request has expired or does not exist. Go back to the site and start again.",
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    lang: &'static str,
    en: bool,
    site: &'a str,
    csrf: &'a str,
}

pub async fn login_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    let Some((_, request)) = transaction(&app, &headers).await else {
        return expired_page(lang);
    };
    let site = app
        .config
        .client(&request.client_id)
        .map(|client| client.name.as_str())
        .unwrap_or_default();
    render(
        StatusCode::OK,
        &LoginPage {
            lang: lang.code(),
            en: lang == Lang::En,
            site,
            csrf: &request.csrf,
        },
    )
}

fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// The checks of the login script's requests: this origin only, the script's header, the
/// transaction's CSRF token; `Err` is the answer.
async fn script_request(
    app: &Provider,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    origin_required: bool,
) -> Result<(String, AuthRequest), Response> {
    throttle_address(app, address)?;
    let origin_ok = match headers.get(ORIGIN) {
        Some(origin) => origin.as_bytes() == app.config.issuer.as_bytes(),
        None => !origin_required,
    };
    let script_ok = headers
        .get(SCRIPT_HEADER.0)
        .is_some_and(|value| value.as_bytes() == SCRIPT_HEADER.1.as_bytes());
    if !origin_ok || !script_ok {
        return Err(json_error(StatusCode::FORBIDDEN, "ERR_ORIGIN_MISMATCH"));
    }
    let Some((transaction, request)) = transaction(app, headers).await else {
        return Err(json_error(StatusCode::BAD_REQUEST, "ERR_LOGIN_EXPIRED"));
    };
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !constant_time_eq(&request.csrf, presented) {
        return Err(json_error(StatusCode::FORBIDDEN, "ERR_CSRF"));
    }
    Ok((transaction, request))
}

/// `GET /login/challenge`: the challenge the card signs, bound to this login transaction.
pub async fn challenge(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let (transaction, _) = match script_request(&app, &headers, address, false).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match app.challenges.try_issue(&key_of(&transaction)) {
        Ok(nonce) => Json(json!({ "nonce": nonce })).into_response(),
        Err(error) => {
            log(&format!("challenge: {error}"));
            json_error(StatusCode::SERVICE_UNAVAILABLE, error.code())
        }
    }
}

/// `POST /login/card`: the token the page library returned. On success the browser gets a
/// session and the site's redirect, with its code, as JSON for the script to follow.
pub async fn card(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (transaction, _) = match script_request(&app, &headers, address, true).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "ERR_REQUEST_INVALID");
    }
    let transaction_key = key_of(&transaction);
    // The challenge is spent whatever the outcome.
    let identity = match app.validator.validate_with_nonce_store(
        &body,
        &app.challenges,
        &transaction_key,
        std::time::SystemTime::now(),
    ) {
        Ok(identity) => identity,
        Err(error) => {
            log(&format!("card login refused: {error}"));
            return json_error(StatusCode::UNAUTHORIZED, error.code());
        }
    };
    // Taken, not read: of two tabs posting at once, one only goes on.
    let request = match app.store.take(Kind::Transaction, &transaction_key).await {
        Ok(Some(text)) => match serde_json::from_str::<AuthRequest>(&text) {
            Ok(request) => request,
            Err(_) => return json_error(StatusCode::BAD_REQUEST, "ERR_LOGIN_EXPIRED"),
        },
        Ok(None) => return json_error(StatusCode::BAD_REQUEST, "ERR_LOGIN_EXPIRED"),
        Err(error) => {
            log(&format!("store: {error}"));
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "ERR_SERVER");
        }
    };
    let holder = Holder::from_identity(identity, now_seconds());
    log(&format!("card login for client {}", request.client_id));
    let session = random_token();
    let record = SessionRecord {
        holder: holder.clone(),
        csrf: random_token(),
    };
    let stored = match serde_json::to_string(&record) {
        Ok(text) => {
            app.store
                .put(
                    Kind::Session,
                    &key_of(&session),
                    text,
                    app.config.session_lifetime,
                )
                .await
        }
        Err(error) => Err(crate::store::StoreError::Unavailable(error.to_string())),
    };
    if let Err(error) = stored {
        log(&format!("session not stored: {error}"));
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "ERR_SERVER");
    }
    let redirect = issue_code(&app, request, holder).await;
    let location = redirect
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut response = Json(json!({ "status": "logged_in", "redirect": location })).into_response();
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, set_cookie(SESSION_COOKIE, &session));
    headers.append(SET_COOKIE, clear_cookie(LOGIN_COOKIE));
    response
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /login/cancel`: the holder gives up; the site hears `access_denied`.
pub async fn cancel(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::of(&headers);
    let Some((transaction, request)) = transaction(&app, &headers).await else {
        return expired_page(lang);
    };
    let presented = serde_urlencoded::from_bytes::<CancelForm>(&body)
        .map(|form| form.csrf)
        .unwrap_or_default();
    if !constant_time_eq(&request.csrf, &presented) {
        return message_page(
            StatusCode::FORBIDDEN,
            lang,
            lang.pick("Formulaire refusé", "Form refused"),
            lang.pick(
                "Ce formulaire ne vient pas de cette page. Rechargez la page et recommencez.",
                "This form did not come from this page. Reload the page and try again.",
            ),
        );
    }
    let _ = app
        .store
        .delete(Kind::Transaction, &key_of(&transaction))
        .await;
    let mut response = error_redirect(
        &app,
        &request.redirect_uri,
        request.state.as_deref(),
        "access_denied",
        "the user cancelled the login",
    );
    response
        .headers_mut()
        .insert(SET_COOKIE, clear_cookie(LOGIN_COOKIE));
    response
}
