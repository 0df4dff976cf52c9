//! The card login `/authorize` leads to: the page, the challenge bound to the login
//! transaction, the card token checked by cpx-verify, and the way back to the site.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cpx_web::messages::{page_table, server_message, Language};
use cpx_web::secrets::{constant_time_eq, form_carries_csrf, random_token};
use serde_json::json;

use crate::authorize::{bad_request_page, error_redirect, issue_code, AuthRequest, SessionRecord};
use crate::claims::Holder;
use crate::store::{get_json, key_of, put_json, take_json, Kind, StoreError};
use crate::web::{
    clear_cookie, cookie, form_refused_page, log, now_seconds, render, set_cookie,
    throttle_address, unavailable_page, AppState, ClientAddr, Lang, Provider, LOGIN_COOKIE,
    SESSION_COOKIE,
};

/// The header the login script sends with its requests: a navigation or a form from another
/// site cannot add it, and a cross-origin fetch with it needs a preflight never granted.
pub const SCRIPT_HEADER: (&str, &str) = ("x-requested-with", "cpx-connect");
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The login transaction of this browser: its cookie and what it asked; `Err` when the store
/// did not answer (a 503, never "expired": the login is still there).
async fn transaction(
    app: &Provider,
    headers: &HeaderMap,
) -> Result<Option<(String, AuthRequest)>, StoreError> {
    let Some(transaction) = cookie(headers, LOGIN_COOKIE) else {
        return Ok(None);
    };
    let request = get_json(app.store.as_ref(), Kind::Transaction, &key_of(&transaction)).await?;
    Ok(request.map(|request| (transaction, request)))
}

/// [`transaction`] for a page: `Err` is the page to show (expired, or the store down).
async fn page_transaction(
    app: &Provider,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<(String, AuthRequest), Response> {
    match transaction(app, headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(expired_page(lang)),
        Err(error) => {
            log(&format!("store: {error}"));
            Err(unavailable_page(lang))
        }
    }
}

fn store_down(lang: Lang, error: StoreError) -> Response {
    log(&format!("store: {error}"));
    json_error(StatusCode::SERVICE_UNAVAILABLE, lang, "ERR_SERVER")
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
    /// The page script's sentences (cpx_web::messages), in the page's language.
    messages: serde_json::Map<String, serde_json::Value>,
}

fn language(lang: Lang) -> Language {
    match lang {
        Lang::Fr => Language::French,
        Lang::En => Language::English,
    }
}

pub async fn login_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    let (_, request) = match page_transaction(&app, &headers, lang).await {
        Ok(found) => found,
        Err(page) => return page,
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
            messages: page_table(language(lang)),
        },
    )
}

/// A refused step of the login script: the code, and its sentence in the page's language
/// for the holder (the script shows both, the code small, for the help desk).
fn json_error(status: StatusCode, lang: Lang, code: &str) -> Response {
    let message = server_message(code).text(language(lang));
    (status, Json(json!({ "error": code, "message": message }))).into_response()
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
    let lang = Lang::of(headers);
    let origin_ok = match headers.get(ORIGIN) {
        Some(origin) => origin.as_bytes() == app.config.issuer.as_bytes(),
        None => !origin_required,
    };
    let script_ok = headers
        .get(SCRIPT_HEADER.0)
        .is_some_and(|value| value.as_bytes() == SCRIPT_HEADER.1.as_bytes());
    if !origin_ok || !script_ok {
        return Err(json_error(
            StatusCode::FORBIDDEN,
            lang,
            "ERR_ORIGIN_MISMATCH",
        ));
    }
    let Some((transaction, request)) = transaction(app, headers)
        .await
        .map_err(|error| store_down(lang, error))?
    else {
        return Err(json_error(
            StatusCode::BAD_REQUEST,
            lang,
            "ERR_LOGIN_EXPIRED",
        ));
    };
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !constant_time_eq(&request.csrf, presented) {
        return Err(json_error(StatusCode::FORBIDDEN, lang, "ERR_CSRF"));
    }
    Ok((transaction, request))
}

/// `GET /login/challenge`: the challenge the card signs, bound to this login transaction.
pub async fn challenge(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    let (transaction, _) = match script_request(&app, &headers, address, false).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match app.challenges.issue(&key_of(&transaction)).await {
        Ok(nonce) => Json(json!({ "nonce": nonce })).into_response(),
        Err(error) => {
            log(&format!("challenge: {error}"));
            json_error(StatusCode::SERVICE_UNAVAILABLE, lang, error.code())
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
    let lang = Lang::of(&headers);
    let (transaction, _) = match script_request(&app, &headers, address, true).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            lang,
            "ERR_REQUEST_INVALID",
        );
    }
    let transaction_key = key_of(&transaction);
    // The challenge is spent whatever the outcome.
    let validated = app
        .challenges
        .validate(&app.validator, &body, &transaction_key);
    let identity = match validated.await {
        Ok(identity) => identity,
        Err(error) => {
            log(&format!("card login refused: {error}"));
            // cpx-verify's table (verify/README.md): 400, 401, 503 or 500 by code.
            let status = StatusCode::from_u16(cpx_verify::http_status(error.code()))
                .unwrap_or(StatusCode::UNAUTHORIZED);
            return json_error(status, lang, error.code());
        }
    };
    // Taken, not read: of two tabs posting at once, one only goes on.
    let taken = take_json::<AuthRequest>(app.store.as_ref(), Kind::Transaction, &transaction_key);
    let request = match taken.await {
        Ok(Some(request)) => request,
        Ok(None) => return json_error(StatusCode::BAD_REQUEST, lang, "ERR_LOGIN_EXPIRED"),
        Err(error) => return store_down(lang, error),
    };
    // A new login (prompt=login, max_age, another holder) replaces the browser's session.
    if let Some(previous) = cookie(&headers, SESSION_COOKIE) {
        let _ = app.store.delete(Kind::Session, &key_of(&previous)).await;
    }
    let holder = Holder::from_identity(identity, now_seconds());
    log(&format!("card login for client {}", request.client_id));
    let session = random_token();
    let record = SessionRecord {
        holder: holder.clone(),
        csrf: random_token(),
    };
    let (key, lifetime) = (key_of(&session), app.config.session_lifetime);
    let stored = put_json(app.store.as_ref(), Kind::Session, &key, &record, lifetime).await;
    if let Err(error) = stored {
        log(&format!("session not stored: {error}"));
        return json_error(StatusCode::SERVICE_UNAVAILABLE, lang, "ERR_SERVER");
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

/// `POST /login/cancel`: the holder gives up; the site hears `access_denied`.
pub async fn cancel(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::of(&headers);
    let (transaction, request) = match page_transaction(&app, &headers, lang).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !form_carries_csrf(&body, &request.csrf) {
        return form_refused_page(lang);
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
