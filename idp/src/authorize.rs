//! `/authorize`: the request checked (client and redirect URI first: no redirect before both
//! are known), then a code at once for a signed-in browser, or the card login (`login.rs`);
//! the redirect back carries `code`, `state` and `iss` (RFC 9207).

use axum::extract::{RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cpx_web::secrets::random_token;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::claims::Holder;
use crate::config::Client;
use crate::store::{get_json, key_of, put_json, Kind, StoreError};
use crate::web::{
    cookie, log, message_page, now_seconds, param, parse_pairs, set_cookie, throttle_address,
    AppState, ClientAddr, Lang, Provider, CODE_LIFETIME, LOGIN_COOKIE, SESSION_COOKIE,
    TRANSACTION_LIFETIME,
};

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
pub(crate) fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
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
pub(crate) fn error_redirect(
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

pub(crate) fn bad_request_page(
    lang: Lang,
    text_fr: &'static str,
    text_en: &'static str,
) -> Response {
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
                let holder = session_holder(&app, cookie(&headers, SESSION_COOKIE)).await;
                let Ok(holder) = holder else {
                    return fail(
                        "temporarily_unavailable",
                        "the provider's store did not answer",
                    );
                };
                if let Some(holder) = holder {
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

/// The holder of the browser's session; `Err` when the store did not answer.
async fn session_holder(
    app: &Provider,
    session_cookie: Option<String>,
) -> Result<Option<Holder>, StoreError> {
    let Some(session_cookie) = session_cookie else {
        return Ok(None);
    };
    let key = key_of(&session_cookie);
    let record = get_json::<SessionRecord>(app.store.as_ref(), Kind::Session, &key).await?;
    Ok(record.map(|record| record.holder))
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
pub(crate) async fn issue_code(
    app: &Provider,
    mut request: AuthRequest,
    holder: Holder,
) -> Response {
    // The login page's token has no use past the login.
    request.csrf.clear();
    let code = random_token();
    let redirect_uri = request.redirect_uri.clone();
    let state = request.state.clone();
    let grant = CodeGrant { request, holder };
    let key = key_of(&code);
    let stored = put_json(app.store.as_ref(), Kind::Code, &key, &grant, CODE_LIFETIME).await;
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
    let key = key_of(&transaction);
    let stored = put_json(
        app.store.as_ref(),
        Kind::Transaction,
        &key,
        &request,
        TRANSACTION_LIFETIME,
    );
    if let Err(error) = stored.await {
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
