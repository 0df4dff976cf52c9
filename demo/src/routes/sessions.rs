//! Session steps the flows share: the CSRF token of a page, an existing session's id, and a
//! new session at every change of who is signed in.

use tower_sessions::Session;

use crate::session::{random_token, Flash, PendingCard, ACCOUNT_ID, CSRF, FLASH, PENDING_CARD};
use crate::web::AppState;

pub(crate) type SessionResult<T> = Result<T, tower_sessions::session::Error>;

/// The session's CSRF token, made (and with it the session) if it has none.
pub(crate) async fn csrf_token(session: &Session) -> SessionResult<String> {
    if let Some(token) = session.get::<String>(CSRF).await? {
        return Ok(token);
    }
    let token = random_token();
    session.insert(CSRF, &token).await?;
    Ok(token)
}

/// What a page with forms takes from the session: the flash to show once (it leaves the
/// session) and the CSRF token for its forms.
pub(crate) async fn flash_and_csrf_token(
    session: &Session,
) -> SessionResult<(Option<Flash>, String)> {
    let flash = session.remove::<Flash>(FLASH).await.ok().flatten();
    Ok((flash, csrf_token(session).await?))
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
pub(crate) async fn renew_session(
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
