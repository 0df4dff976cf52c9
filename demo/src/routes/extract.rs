//! What a handler needs, as axum extractors: the checks are written here once, and each
//! handler's signature says which it passes (a rejected check is the answer sent).
//!
//! | extractor | passes when | else |
//! |---|---|---|
//! | [`Csrf`] | the form's `csrf` field is this session's token | `403` page |
//! | [`SignedIn`] | the session is signed in to an existing account | `303` to `/` |
//! | [`MaybeSignedIn`] | always (the account, if signed in) | — |
//! | [`PendingLink`] | a verified card (or a holder the OpenID Connect provider vouched for), still fresh, waits to be linked | `303` to `/`, a flash says why |
//! | [`ApiSession`] | always (the id of a session this site made, if any) | — |
//!
//! Each answers `503` when the session store (Redis) does not, and `500` when the account
//! database fails. List [`Csrf`] first: no other check (and no session write) runs for a
//! forged form.

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cpx_web::secrets::form_carries_csrf;
use tower_sessions::Session;

use super::respond::{
    csrf_failure_page, json_failure, log, redirect, server_error_page, session_store_failure_page,
};
use super::sessions::existing_session_id;
use crate::session::{
    Flash, PendingCard, PendingProvider, ACCOUNT_ID, CSRF, FLASH, PENDING_CARD, PENDING_PROVIDER,
};
use crate::store::Account;
use crate::web::AppState;

async fn session_of(parts: &mut Parts, state: &AppState) -> Result<Session, Response> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)
}

/// The form carried this session's CSRF token (compared in constant time). The body is read
/// whole before any handler runs (`read_body_in_time` keeps a copy in the request's
/// extensions), so the token is checked here, before the other extractors and the form.
pub struct Csrf;

impl FromRequestParts<AppState> for Csrf {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let body = parts.extensions.get::<Bytes>().cloned().unwrap_or_default();
        let session = session_of(parts, state).await?;
        match session.get::<String>(CSRF).await {
            Ok(Some(token)) if form_carries_csrf(&body, &token) => Ok(Csrf),
            _ => Err(csrf_failure_page()),
        }
    }
}

/// The account of a signed-in session, if the account still exists.
async fn signed_in_account(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<Account>, Response> {
    let session = session_of(parts, state).await?;
    match session.get::<i64>(ACCOUNT_ID).await {
        Ok(Some(account_id)) => state
            .store()
            .account_by_id(account_id)
            .map_err(|error| server_error_page("account lookup", &error)),
        Ok(None) => Ok(None),
        Err(error) => Err(session_store_failure_page(&error)),
    }
}

/// A signed-in account; anyone else is sent to the login page.
pub struct SignedIn(pub Account);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match signed_in_account(parts, state).await? {
            Some(account) => Ok(SignedIn(account)),
            None => Err(redirect("/")),
        }
    }
}

/// The signed-in account, if any.
pub struct MaybeSignedIn(pub Option<Account>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        signed_in_account(parts, state).await.map(MaybeSignedIn)
    }
}

const NO_PENDING_CARD: &str = "Aucune carte CPS n'attend d'être associée (la demande a peut-être expiré). Cliquez à nouveau sur « S'identifier par carte CPS ».";

/// What waits to be linked: a card verified here, or a holder the provider vouched for.
pub enum Pending {
    Card(PendingCard),
    Provider(PendingProvider),
}

/// The verified card (or provider's holder) waiting to be linked, if it is still fresh; else
/// it is dropped, the user told (a flash) and sent to the login page.
pub struct PendingLink(pub Pending);

impl FromRequestParts<AppState> for PendingLink {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = session_of(parts, state).await?;
        let lifetime = state.config().pending_card_lifetime;
        let card = session
            .get::<PendingCard>(PENDING_CARD)
            .await
            .ok()
            .flatten();
        if let Some(pending) = card.filter(|pending| pending.is_fresh(lifetime)) {
            return Ok(PendingLink(Pending::Card(pending)));
        }
        let holder = session
            .get::<PendingProvider>(PENDING_PROVIDER)
            .await
            .ok()
            .flatten();
        if let Some(pending) = holder.filter(|pending| pending.is_fresh(lifetime)) {
            return Ok(PendingLink(Pending::Provider(pending)));
        }
        let _ = session.remove_value(PENDING_CARD).await;
        let _ = session.remove_value(PENDING_PROVIDER).await;
        if session.id().is_some() {
            let _ = session
                .insert(FLASH, Flash::Error(NO_PENDING_CARD.to_owned()))
                .await;
        }
        Err(redirect("/"))
    }
}

/// For the JSON endpoints: the id of a session this site made and still has (`None` for a
/// cookieless request or a forgotten id: each endpoint says what that means for it).
pub struct ApiSession(pub Option<String>);

impl FromRequestParts<AppState> for ApiSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = session_of(parts, state).await?;
        match existing_session_id(&session).await {
            Ok(id) => Ok(ApiSession(id)),
            Err(error) => {
                log(&format!("session: {error}"));
                Err(json_failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ERR_SESSION_STORE_UNAVAILABLE",
                ))
            }
        }
    }
}
