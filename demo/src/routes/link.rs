//! First-time linking of a verified card (or of a holder the OpenID Connect provider vouched
//! for) to an account: `GET, POST /lier`, `POST /lier/annuler`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use tower_sessions::Session;

use super::extract::{Csrf, MaybeSignedIn, Pending, PendingLink};
use super::password::{CredentialsForm, PasswordCheck, WRONG_CREDENTIALS};
use super::respond::{html, redirect, server_error_page, session_store_failure_page};
use super::sessions::{csrf_token, renew_session};
use crate::client::Client;
use crate::pages::{LinkPage, MessagePage};
use crate::session::{
    Flash, PendingProvider, ProviderHolder, ACCOUNT_ID, PENDING_CARD, PENDING_PROVIDER,
    PROVIDER_ID_TOKEN,
};
use crate::store::{LinkedCard, StoreError};
use crate::web::AppState;

pub(crate) async fn link_page(
    PendingLink(pending): PendingLink,
    MaybeSignedIn(signed_in_as): MaybeSignedIn,
    session: Session,
) -> Response {
    let csrf_token = match csrf_token(&session).await {
        Ok(token) => token,
        Err(error) => return session_store_failure_page(&error),
    };
    let username = signed_in_as
        .as_ref()
        .map(|account| account.username.clone())
        .unwrap_or_default();
    let (card, holder) = shown(&pending);
    html(
        StatusCode::OK,
        LinkPage {
            csrf_token: &csrf_token,
            card,
            holder,
            error: None,
            username: &username,
            signed_in_as: signed_in_as.as_ref(),
        },
    )
}

/// What the link page shows of what waits: the card, or the provider's holder.
fn shown(pending: &Pending) -> (Option<&LinkedCard>, Option<&ProviderHolder>) {
    match pending {
        Pending::Card(pending) => (Some(&pending.card), None),
        Pending::Provider(pending) => (None, Some(&pending.holder)),
    }
}

/// Links what waits to the account.
fn link_pending(app: &AppState, account_id: i64, pending: &Pending) -> Result<(), StoreError> {
    match pending {
        Pending::Card(pending) => app.inner.store.link_card(account_id, &pending.card),
        Pending::Provider(PendingProvider { holder, .. }) => {
            app.inner
                .store
                .link_provider_subject(account_id, &holder.issuer, &holder.subject)
        }
    }
}

pub(crate) async fn link_submit(
    _: Csrf,
    PendingLink(pending): PendingLink,
    State(app): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<CredentialsForm>,
) -> Response {
    let (card, holder) = shown(&pending);
    let (username, step) = form.check(&app, &session, client).await;
    let account = match step {
        Ok(PasswordCheck::Right(account)) => account,
        Ok(PasswordCheck::Wrong { csrf_token }) => {
            return html(
                StatusCode::UNAUTHORIZED,
                LinkPage {
                    csrf_token: &csrf_token,
                    card,
                    holder,
                    error: Some(WRONG_CREDENTIALS),
                    username: &username,
                    signed_in_as: None,
                },
            );
        }
        Err(page) => return page,
    };
    match link_pending(&app, account.id, &pending) {
        Ok(()) => {
            let flash = Flash::Info(
                "Votre carte CPS est maintenant associée à votre compte. \
                 La prochaine fois, votre carte suffira pour vous connecter."
                    .to_owned(),
            );
            let renewed = renew_session(&app, &session, Some(account.id), None, Some(flash)).await;
            // Signed in through the provider: its logout needs the ID token.
            let kept = match (renewed, &pending) {
                (Ok(()), Pending::Provider(pending)) => {
                    session.insert(PROVIDER_ID_TOKEN, &pending.id_token).await
                }
                (renewed, _) => renewed,
            };
            match kept {
                Ok(()) => redirect("/compte"),
                Err(error) => session_store_failure_page(&error),
            }
        }
        Err(StoreError::AccountAlreadyLinked) => {
            let csrf_token = csrf_token(&session).await.unwrap_or_default();
            html(
                StatusCode::CONFLICT,
                LinkPage {
                    csrf_token: &csrf_token,
                    card,
                    holder,
                    error: Some(
                        "Ce compte est déjà associé à une autre carte CPS. Connectez-vous avec votre \
                         identifiant, dissociez l'ancienne carte depuis « Mon compte », puis réessayez.",
                    ),
                    username: &username,
                    signed_in_as: None,
                },
            )
        }
        Err(StoreError::CardAlreadyLinked) => {
            let _ = session.remove_value(PENDING_CARD).await;
            let _ = session.remove_value(PENDING_PROVIDER).await;
            html(
                StatusCode::CONFLICT,
                MessagePage::new(
                    "Carte déjà associée",
                    "Cette carte CPS est déjà associée à un autre compte. Connectez-vous avec \
                     votre carte, ou contactez le support de ce site.",
                    "/",
                    "Retour à la connexion",
                ),
            )
        }
        Err(error) => server_error_page("card link", &error),
    }
}

pub(crate) async fn link_cancel(_: Csrf, session: Session) -> Response {
    let _ = session.remove_value(PENDING_CARD).await;
    let _ = session.remove_value(PENDING_PROVIDER).await;
    let logged_in = matches!(session.get::<i64>(ACCOUNT_ID).await, Ok(Some(_)));
    redirect(if logged_in { "/compte" } else { "/" })
}
