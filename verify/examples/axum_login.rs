//! A minimal axum site with CPx card login, as `verify/README.md` ("HTTP integration")
//! describes it:
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the login page; makes the browser session (cookie `__Host-session`) |
//! | `GET /api/nonce` | `{"nonce": "..."}` for that session; header `X-Requested-With: cpx-connect` |
//! | `POST /api/login/card` | the token JSON: `{"identity": {...}}` and a new session id, or `{"error": "ERR_..."}` |
//! | `GET /api/me` | the signed-in account's key, `{"anchor_id": "...", "id_nat": "..."}` |
//!
//! ```sh
//! cargo run -p cpx-verify --example axum_login -- https://localhost:8443 \
//!     root.der issuing-ca.der issuing-ca.crl.der root.arl.der
//! # with the integrators' test PKI (test CAs: never in production)
//! cd verify/testdata/integrator && cargo run -p cpx-verify --example axum_login -- \
//!     "$(cat origin.txt)" root-ca.der issuing-ca.der issuing-ca.crl.der root-ca.crl.der \
//!     --allow-test-anchors
//! ```
//!
//! It listens on plain HTTP at 127.0.0.1:8080: put it behind the TLS proxy of "Local
//! development over https" in the README (the browser only sends `__Host-` cookies over https,
//! and the extension only serves https pages). A real site keeps accounts in a database, bound
//! to (anchor_id, id_nat), and its sessions in a session library with an idle expiry (the demo
//! uses tower-sessions): here both are a map, to keep the example short.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cpx_verify::{Identity, NonceStore, TrustConfig, Validator};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;

/// `__Host-`: the browser keeps this cookie only for this exact host, over https, `Path=/`.
pub const SESSION_COOKIE: &str = "__Host-session";
/// The header only the site's own script sends: a cross-site form or navigation cannot.
pub const NONCE_REQUEST_HEADER: (&str, &str) = ("x-requested-with", "cpx-connect");
/// Tokens are at most 10 KiB (`cpx_verify::MAX_TOKEN_BYTES`): no reason to read more.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Sessions this process keeps at most: past it, new visitors get 503, not someone's session.
const MAX_SESSIONS: usize = 100_000;

/// A browser session: anonymous until a card logs in.
#[derive(Debug, Clone, Default)]
struct SessionState {
    /// The account key, (anchor_id, id_nat), once a card logged in.
    account: Option<(String, String)>,
}

pub struct Site {
    validator: Validator,
    nonces: NonceStore,
    sessions: Mutex<HashMap<String, SessionState>>,
    random: SystemRandom,
}

impl Site {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, SessionState>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// 32 bytes (256 bits) from the operating system's CSPRNG: a session id nobody can guess.
    fn new_session_id(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes).ok()?;
        Some(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The session the request's cookie names, if this site made it.
    fn session_of(&self, headers: &HeaderMap) -> Option<String> {
        let id = session_cookie(headers)?;
        self.sessions().contains_key(&id).then_some(id)
    }

    /// A new session (a new id, never one the browser proposed) with `state`; else the
    /// status and code to answer.
    fn open_session(&self, state: SessionState) -> Result<String, (StatusCode, &'static str)> {
        let id = self
            .new_session_id()
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, "ERR_RANDOM_UNAVAILABLE"))?;
        let mut sessions = self.sessions();
        if sessions.len() >= MAX_SESSIONS {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "ERR_SERVER_BUSY"));
        }
        sessions.insert(id.clone(), state);
        Ok(id)
    }
}

/// The site's routes around one validator, built at start-up.
pub fn router(validator: Validator) -> Router {
    let site = Arc::new(Site {
        validator,
        nonces: NonceStore::default(),
        sessions: Mutex::new(HashMap::new()),
        random: SystemRandom::new(),
    });
    Router::new()
        .route("/", get(login_page))
        .route("/api/nonce", get(issue_nonce))
        .route("/api/login/card", post(card_login))
        .route("/api/me", get(signed_in_account))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(site)
}

/// The HTTP status of a refused login: cpx-verify's table (verify/README.md, "Error codes and
/// HTTP statuses").
pub fn http_status(code: &str) -> StatusCode {
    StatusCode::from_u16(cpx_verify::http_status(code)).unwrap_or(StatusCode::UNAUTHORIZED)
}

async fn login_page(State(site): State<Arc<Site>>, headers: HeaderMap) -> Response {
    // The session is made here, by a page the user loaded, never by the JSON endpoints.
    let mut new_cookie = None;
    if site.session_of(&headers).is_none() {
        match site.open_session(SessionState::default()) {
            Ok(id) => new_cookie = Some(id),
            Err((status, code)) => return failure(status, code),
        }
    }
    let mut response = Html(LOGIN_PAGE).into_response();
    if let Some(id) = new_cookie {
        set_session_cookie(&mut response, &id);
    }
    response
}

async fn issue_nonce(State(site): State<Arc<Site>>, headers: HeaderMap) -> Response {
    if !origin_is_ours(&site, &headers, false) || !has_nonce_request_header(&headers) {
        return failure(StatusCode::FORBIDDEN, "ERR_ORIGIN_MISMATCH");
    }
    let Some(session_id) = site.session_of(&headers) else {
        return failure(StatusCode::UNAUTHORIZED, "ERR_SESSION_EXPIRED");
    };
    match site.nonces.try_issue(&session_id) {
        Ok(nonce) => Json(json!({ "nonce": nonce })).into_response(),
        Err(error) => {
            eprintln!("no challenge issued: {error}");
            failure(http_status(error.code()), error.code())
        }
    }
}

async fn card_login(State(site): State<Arc<Site>>, headers: HeaderMap, body: Bytes) -> Response {
    // A POST from another site's page would carry its own Origin; a JSON content type cannot
    // be sent cross-site without a CORS preflight, which this site never grants.
    if !origin_is_ours(&site, &headers, true) {
        return failure(StatusCode::FORBIDDEN, "ERR_ORIGIN_MISMATCH");
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return failure(StatusCode::UNSUPPORTED_MEDIA_TYPE, "ERR_REQUEST_INVALID");
    }
    let Some(session_id) = site.session_of(&headers) else {
        return failure(StatusCode::UNAUTHORIZED, "ERR_SESSION_EXPIRED");
    };
    // The session's challenge is spent whatever the outcome: a token is never accepted twice.
    let identity: Identity = match site.validator.validate_with_nonce_store(
        &body,
        &site.nonces,
        &session_id,
        SystemTime::now(),
    ) {
        Ok(identity) => identity,
        Err(error) => {
            // The Display text is for the log only: it can name the configuration.
            eprintln!("card login refused: {}: {error}", error.code());
            return failure(http_status(error.code()), error.code());
        }
    };
    // Look the account up by both: the idNat survives card renewal, the anchor keeps a
    // certificate of another trusted PKI with the same idNat out.
    let account = (identity.anchor_id.clone(), identity.id_nat.clone());
    // A new session id at login: an id planted before the login is worth nothing after it.
    site.sessions().remove(&session_id);
    let new_id = match site.open_session(SessionState {
        account: Some(account),
    }) {
        Ok(id) => id,
        Err((status, code)) => return failure(status, code),
    };
    let mut response = Json(json!({ "identity": identity })).into_response();
    set_session_cookie(&mut response, &new_id);
    response
}

async fn signed_in_account(State(site): State<Arc<Site>>, headers: HeaderMap) -> Response {
    let account = session_cookie(&headers).and_then(|id| {
        site.sessions()
            .get(&id)
            .and_then(|state| state.account.clone())
    });
    match account {
        Some((anchor_id, id_nat)) => {
            Json(json!({ "anchor_id": anchor_id, "id_nat": id_nat })).into_response()
        }
        None => failure(StatusCode::UNAUTHORIZED, "ERR_NOT_SIGNED_IN"),
    }
}

/// The Origin header, if `required` or present, is exactly the site's (the validator's).
fn origin_is_ours(site: &Site, headers: &HeaderMap, required: bool) -> bool {
    match headers.get(ORIGIN) {
        Some(origin) => origin.as_bytes() == site.validator.origin().as_bytes(),
        None => !required,
    }
}

fn has_nonce_request_header(headers: &HeaderMap) -> bool {
    headers
        .get(NONCE_REQUEST_HEADER.0)
        .is_some_and(|value| value.as_bytes() == NONCE_REQUEST_HEADER.1.as_bytes())
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn set_session_cookie(response: &mut Response, id: &str) {
    // No Max-Age: the cookie ends with the browser (a shared workstation's next user).
    let cookie = format!("{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
}

/// `{"error": code}`: the stable code only, never the error's text.
fn failure(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// The page; `/static/cpx-connect.js` is the extension's page library, served by the site
/// (not in this example: copy `extension/page/cpx-connect.js`).
const LOGIN_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>Connexion</title>
<button id="card">S'identifier par carte CPS</button> <span id="status"></span>
<script type="module">
import { authenticate } from "/static/cpx-connect.js";
const status = document.getElementById("status");
document.getElementById("card").addEventListener("click", async () => {
  try {
    const answer = await fetch("/api/nonce", { headers: { "X-Requested-With": "cpx-connect" } });
    if (!answer.ok) throw { code: (await answer.json()).error };
    const { nonce } = await answer.json();
    const token = await authenticate(nonce, { lang: "fr" });
    const login = await fetch("/api/login/card", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(token),
    });
    const result = await login.json();
    status.textContent = login.ok ? `Bonjour ${result.identity.given_name}` : result.error;
  } catch (error) {
    status.textContent = error.code ?? "ERR_NETWORK";
  }
});
</script>
"#;

/// Arguments: the site's origin, the trust anchor, the issuing CA, then the CRLs of both; and
/// `--allow-test-anchors` to try it with a test PKI (`testdata/integrator`, the virtual card's).
fn validator_from_args() -> Result<Validator, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let allow_test_anchors = args
        .last()
        .is_some_and(|last| last == "--allow-test-anchors");
    if allow_test_anchors {
        args.pop();
    }
    let [origin, root, issuing_ca, issuing_ca_crl, root_arl] = args.as_slice() else {
        return Err(
            "usage: axum_login ORIGIN ROOT.der ISSUING-CA.der ISSUING-CA.crl ROOT.arl \
                    [--allow-test-anchors]"
                .to_owned(),
        );
    };
    let read = |path: &String| std::fs::read(path).map_err(|error| format!("{path}: {error}"));
    // A configuration error names the method that fixes it: for the operator, at start-up.
    let refused = |error: cpx_verify::ConfigError| format!("{}: {error}", error.code());
    let (root, issuing_ca) = (read(root)?, read(issuing_ca)?);
    let crls = vec![read(issuing_ca_crl)?, read(root_arl)?];
    let mut trust = TrustConfig::new(vec![root])
        .and_then(|trust| trust.with_intermediates(vec![issuing_ca]))
        .and_then(|trust| trust.with_crls(crls))
        .map_err(refused)?;
    if allow_test_anchors {
        // Test CAs' keys are public: never in production.
        trust = trust.allow_test_anchors();
    }
    // The origin is checked here: a typo stops the start, not every login.
    Validator::new(trust, origin).map_err(refused)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let validator = match validator_from_args() {
        Ok(validator) => validator,
        Err(why) => {
            eprintln!("axum_login: {why}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let served = async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, router(validator)).await
    };
    match served.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum_login: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
