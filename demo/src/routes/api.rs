//! `GET /api/nonce`: a fresh challenge for this session, for the page script.

use axum::extract::State;
use axum::http::header::{ORIGIN, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::extract::ApiSession;
use super::respond::{json_failure, log};
use crate::client::Client;
use crate::throttle::Throttle;
use crate::web::AppState;

/// The header the page script sends with `GET /api/nonce`: a top-level navigation or a form
/// from another site cannot add it (and a cross-origin fetch with it needs a CORS preflight
/// this site never grants), so another site cannot reset a login in progress.
pub const NONCE_REQUEST_HEADER: (&str, &str) = ("x-requested-with", "cpx-connect");

/// JSON endpoints answer only this site's own pages: a browser always sends `Origin` on a
/// POST, and on a GET only when it is cross-origin.
pub(crate) fn origin_allowed(app: &AppState, headers: &HeaderMap, required: bool) -> bool {
    match headers.get(ORIGIN) {
        Some(origin) => origin.as_bytes() == app.inner.config.origin.as_bytes(),
        None => !required,
    }
}

pub(crate) async fn issue_nonce(
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
