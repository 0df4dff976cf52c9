//! `POST /api/login/card`: the token from the page library logs in, or sends to `/lier`.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tower_sessions::Session;

use super::api::origin_allowed;
use super::extract::ApiSession;
use super::respond::{json_failure, log};
use super::sessions::renew_session;
use crate::session::{Flash, PendingCard, ACCOUNT_ID};
use crate::web::AppState;

pub(crate) async fn card_login(
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
            // The demo's own code first, then cpx-verify's table (verify/README.md).
            let status = if failure.code == "ERR_NONCE_MISSING" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::from_u16(cpx_verify::http_status(failure.code))
                    .unwrap_or(StatusCode::UNAUTHORIZED)
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
