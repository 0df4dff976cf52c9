//! The account page (`GET /compte`), unlinking its card (`POST /compte/dissocier`), logout
//! (`POST /deconnexion`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use super::extract::{Csrf, SignedIn};
use super::oidc::{provider_logout_url, redirect_to};
use super::password::{password_step, PasswordCheck};
use super::respond::{html, redirect, server_error_page, session_store_failure_page};
use super::sessions::{flash_and_csrf_token, renew_session};
use crate::client::Client;
use crate::pages::AccountPage;
use crate::session::{Flash, FLASH, PROVIDER_ID_TOKEN};
use crate::web::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    password: String,
}

pub(crate) async fn account_page(
    SignedIn(account): SignedIn,
    State(app): State<AppState>,
    session: Session,
) -> Response {
    let card = match app.inner.store.card_of_account(account.id) {
        Ok(card) => card,
        Err(error) => return server_error_page("card lookup", &error),
    };
    let provider = match app.inner.store.provider_of_account(account.id) {
        Ok(provider) => provider,
        Err(error) => return server_error_page("provider link lookup", &error),
    };
    let (flash, csrf_token) = match flash_and_csrf_token(&session).await {
        Ok(both) => both,
        Err(error) => return session_store_failure_page(&error),
    };
    html(
        StatusCode::OK,
        AccountPage {
            csrf_token: &csrf_token,
            account: &account,
            card: card.as_ref(),
            provider: provider.as_deref(),
            flash: flash.as_ref(),
        },
    )
}

pub(crate) async fn unlink_card(
    _: Csrf,
    SignedIn(account): SignedIn,
    State(app): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<PasswordForm>,
) -> Response {
    // Unlinking is a change of how the account is reached: the password again, as for linking
    // (a session left open on a shared workstation is not enough).
    let account_id = account.id;
    let password = form.password;
    let step = password_step(&app, &session, client, &account.username, move |store| {
        Ok(store
            .check_password_of_account(account_id, &password)?
            .then_some(()))
    })
    .await;
    let flash = match step {
        Ok(PasswordCheck::Right(())) => match app.inner.store.unlink_card(account.id) {
            Ok(true) => Flash::Info("Votre carte CPS a été dissociée de votre compte.".to_owned()),
            Ok(false) => {
                Flash::Error("Aucune carte CPS n'était associée à votre compte.".to_owned())
            }
            Err(error) => return server_error_page("card unlink", &error),
        },
        Ok(PasswordCheck::Wrong { .. }) => {
            Flash::Error("Mot de passe incorrect : la carte CPS n'a pas été dissociée.".to_owned())
        }
        Err(page) => return page,
    };
    let _ = session.insert(FLASH, flash).await;
    redirect("/compte")
}

/// Ends this site's session and, for a session that came through the OpenID Connect
/// provider, sends the browser to end the provider's too (it comes back to `/`).
pub(crate) async fn logout(_: Csrf, State(app): State<AppState>, session: Session) -> Response {
    let id_token = session
        .get::<String>(PROVIDER_ID_TOKEN)
        .await
        .ok()
        .flatten();
    let flash = Flash::Info("Vous êtes déconnecté.".to_owned());
    if let Err(error) = renew_session(&app, &session, None, None, Some(flash)).await {
        return session_store_failure_page(&error);
    }
    match provider_logout_url(&app, id_token).await {
        Some(url) => redirect_to(&url),
        None => redirect("/"),
    }
}
