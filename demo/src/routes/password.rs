//! Password login (`GET /`, `POST /connexion`) and the password step every form shares
//! (login, linking a card, unlinking it).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use super::extract::{Csrf, MaybeSignedIn};
use super::respond::{
    html, log, redirect, server_error_page, session_store_failure_page, too_many_attempts_page,
    too_many_requests_page,
};
use super::sessions::{existing_session_id, flash_and_csrf_token, renew_session};
use crate::client::Client;
use crate::pages::LoginPage;
use crate::session::{random_token, Flash, CSRF};
use crate::store::{is_valid_username, Account, AccountStore, StoreError};
use crate::throttle::Throttle;
use crate::web::AppState;

pub(crate) const WRONG_CREDENTIALS: &str = "Identifiant ou mot de passe incorrect.";

/// A password check (Argon2, slow on purpose) off the async runtime, at most
/// `max_concurrent_password_hashes` at once.
pub(crate) async fn run_password_check<T: Send + 'static>(
    app: &AppState,
    check: impl FnOnce(&AccountStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let permit = Arc::clone(&app.inner.throttle.hashes)
        .acquire_owned()
        .await
        .map_err(|error| error.to_string())?;
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = check(&app.inner.store);
        drop(permit);
        outcome
    })
    .await
    .map_err(|join_error| join_error.to_string())?
    .map_err(|store_error| store_error.to_string())
}

/// What the password step of a form found.
pub(crate) enum PasswordCheck<T> {
    Right(T),
    /// A wrong password (or unknown user); the session's CSRF token was replaced, since a token
    /// seen with a wrong password is spent: the new one is here for the page shown again.
    Wrong {
        csrf_token: String,
    },
}

/// The password step every form shares (login, linking a card, unlinking it): throttled per
/// account name and client address, the hash bounded by the semaphore, and a new CSRF token
/// after a failure. `Err` is the page to answer with (throttled, session store or server error).
pub(crate) async fn password_step<T: Send + 'static>(
    app: &AppState,
    session: &Session,
    client: IpAddr,
    username: &str,
    check: impl FnOnce(&AccountStore) -> Result<Option<T>, StoreError> + Send + 'static,
) -> Result<PasswordCheck<T>, Response> {
    let max_delay = app.inner.config.account_max_delay;
    if let Err(wait) = app.inner.throttle.check(username, client, max_delay).await {
        log(&format!("password attempts throttled for {username:?}"));
        return Err(too_many_attempts_page(wait));
    }
    // A name no account can have: wrong, without spending a hash on it.
    let checked = if is_valid_username(username) {
        run_password_check(app, check).await
    } else {
        Ok(None)
    };
    match checked {
        Ok(Some(found)) => Ok(PasswordCheck::Right(found)),
        Ok(None) => {
            let csrf_token = random_token();
            match session.insert(CSRF, &csrf_token).await {
                Ok(()) => Ok(PasswordCheck::Wrong { csrf_token }),
                Err(error) => Err(session_store_failure_page(&error)),
            }
        }
        Err(error) => Err(server_error_page("password check", &error)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CredentialsForm {
    username: String,
    password: String,
}

impl CredentialsForm {
    /// The password step for this account name (trimmed) and password. Returns the name, for
    /// the page shown again after a wrong password.
    pub(crate) async fn check(
        self,
        app: &AppState,
        session: &Session,
        client: IpAddr,
    ) -> (String, Result<PasswordCheck<Account>, Response>) {
        let username = self.username.trim().to_owned();
        let checked_username = username.clone();
        let password = self.password;
        let step = password_step(app, session, client, &username, move |store| {
            store.check_password(&checked_username, &password)
        })
        .await;
        (username, step)
    }
}

pub(crate) async fn login_page(
    State(app): State<AppState>,
    MaybeSignedIn(signed_in_as): MaybeSignedIn,
    Client(client): Client,
    session: Session,
) -> Response {
    if signed_in_as.is_some() {
        return redirect("/compte");
    }
    // This page is where sessions are made: a new one counts against the client's quota.
    match existing_session_id(&session).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            if let Err(wait) = Throttle::check_client(&app.inner.throttle.new_sessions, client) {
                log(&format!("new sessions throttled for client {client}"));
                return too_many_requests_page(wait);
            }
        }
        Err(error) => return session_store_failure_page(&error),
    }
    let (flash, csrf_token) = match flash_and_csrf_token(&session).await {
        Ok(both) => both,
        Err(error) => return session_store_failure_page(&error),
    };
    html(
        StatusCode::OK,
        LoginPage {
            csrf_token: &csrf_token,
            provider_button: app.inner.config.oidc.is_some(),
            flash: flash.as_ref(),
            username: "",
        },
    )
}

pub(crate) async fn password_login(
    _: Csrf,
    State(app): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<CredentialsForm>,
) -> Response {
    let (username, step) = form.check(&app, &session, client).await;
    match step {
        Ok(PasswordCheck::Right(account)) => {
            match renew_session(&app, &session, Some(account.id), None, None).await {
                Ok(()) => redirect("/compte"),
                Err(error) => session_store_failure_page(&error),
            }
        }
        Ok(PasswordCheck::Wrong { csrf_token }) => {
            let flash = Flash::Error(WRONG_CREDENTIALS.to_owned());
            html(
                StatusCode::UNAUTHORIZED,
                LoginPage {
                    csrf_token: &csrf_token,
                    provider_button: app.inner.config.oidc.is_some(),
                    flash: Some(&flash),
                    username: &username,
                },
            )
        }
        Err(page) => page,
    }
}
