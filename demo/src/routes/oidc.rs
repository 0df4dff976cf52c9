//! The login through an OpenID Connect provider (`crate::oidc`): `POST /oidc/connexion` sends
//! the browser to the provider, `GET /oidc/retour` takes it back. A holder seen for the first
//! time goes to the linking step (`/lier`) as a card does; the logout (`routes/account.rs`)
//! also ends the provider's session.

use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken, CoreIdTokenClaims};
use openidconnect::{
    AuthorizationCode, CsrfToken, LocalizedClaim, LogoutRequest, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::extract::Csrf;
use super::respond::{html, log, redirect, session_store_failure_page};
use super::sessions::renew_session;
use crate::oidc::OidcProvider;
use crate::pages::MessagePage;
use crate::session::{
    constant_time_eq, Flash, PendingProvider, ProviderHolder, ACCOUNT_ID, FLASH, PENDING_PROVIDER,
    PROVIDER_ID_TOKEN, PROVIDER_LOGIN,
};
use crate::web::AppState;

/// What the return from the provider must match, kept in the session meanwhile.
#[derive(Serialize, Deserialize)]
struct ProviderLogin {
    state: String,
    nonce: String,
    pkce_verifier: String,
}

const PROVIDER_DOWN: &str = "Le service CPx Connect (OpenID Connect) ne répond pas pour le \
     moment. Réessayez dans quelques instants, ou connectez-vous avec votre carte CPS ou votre \
     identifiant.";
const CANCELLED: &str = "Connexion annulée : vous avez choisi « Annuler » sur la page de \
     CPx Connect. Vous pouvez vous connecter avec votre carte CPS ou votre identifiant.";
const NO_LOGIN_UNDER_WAY: &str = "Aucune connexion par CPx Connect n'était en cours dans ce \
     navigateur (elle a peut-être expiré). Cliquez à nouveau sur « Se connecter avec CPx \
     Connect (OpenID Connect) ».";
const ANSWER_REFUSED: &str = "La réponse reçue pour cette connexion ne correspond pas à la \
     demande de ce navigateur : elle a été refusée. Recommencez la connexion depuis ce site.";
const NOT_CONFIRMED: &str = "Le service CPx Connect n'a pas pu confirmer votre connexion. \
     Recommencez ; si cela se reproduit, contactez le support de ce site.";

fn provider_of(app: &AppState) -> Option<&OidcProvider> {
    app.inner.oidc.as_deref()
}

/// 303 to a URL made here (the provider's, from its discovery).
pub(crate) fn redirect_to(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        Err(_) => message(StatusCode::BAD_GATEWAY, "Réponse refusée", NOT_CONFIRMED),
    }
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(
        status,
        MessagePage::new(title, text, "/", "Retour à la connexion"),
    )
}

fn not_confirmed() -> Response {
    message(
        StatusCode::BAD_GATEWAY,
        "Connexion non confirmée",
        NOT_CONFIRMED,
    )
}

fn provider_down(why: &dyn std::fmt::Display) -> Response {
    log(&format!("OpenID Connect provider unavailable: {why}"));
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service indisponible",
        PROVIDER_DOWN,
    )
}

/// A flash on the login page.
async fn back_to_login(session: &Session, text: &str) -> Response {
    match session.insert(FLASH, Flash::Error(text.to_owned())).await {
        Ok(()) => redirect("/"),
        Err(error) => session_store_failure_page(&error),
    }
}

/// `POST /oidc/connexion` (the button, a form with the page's CSRF token): the code flow with
/// PKCE S256, a new `state` and `nonce`, and the `profile` scope (names and idNat).
pub(crate) async fn start(_: Csrf, State(app): State<AppState>, session: Session) -> Response {
    let Some(provider) = provider_of(&app) else {
        return super::assets::not_found().await.into_response();
    };
    let discovered = match provider.discovered().await {
        Ok(discovered) => discovered,
        Err(why) => return provider_down(&why),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = discovered
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let login = ProviderLogin {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    };
    match session.insert(PROVIDER_LOGIN, login).await {
        Ok(()) => redirect_to(url.as_str()),
        Err(error) => session_store_failure_page(&error),
    }
}

/// The provider's answer (RFC 6749 4.1.2, RFC 9207's `iss`).
#[derive(Deserialize)]
pub(crate) struct ProviderAnswer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// `GET /oidc/retour`: the login taken from the session (single use), the `state` and `iss`
/// compared, then the code redeemed and the ID token checked (signature against the JWKS,
/// issuer, audience, expiry, nonce: the crate's verifier).
pub(crate) async fn finish(
    State(app): State<AppState>,
    session: Session,
    Query(answer): Query<ProviderAnswer>,
) -> Response {
    let Some(provider) = provider_of(&app) else {
        return super::assets::not_found().await.into_response();
    };
    let login = match session.remove::<ProviderLogin>(PROVIDER_LOGIN).await {
        Ok(Some(login)) => login,
        Ok(None) => return back_to_login(&session, NO_LOGIN_UNDER_WAY).await,
        Err(error) => return session_store_failure_page(&error),
    };
    // Kept since the login began (its authorization URL came from it).
    let discovered = match provider.discovered().await {
        Ok(discovered) => discovered,
        Err(why) => return provider_down(&why),
    };
    let state_matches = answer
        .state
        .as_deref()
        .is_some_and(|state| constant_time_eq(state, &login.state));
    // RFC 9207: an answer naming another issuer is a mix-up, whatever it carries; one naming
    // none, from a provider that says it always names itself, is refused as well (2.4).
    let issuer_matches = match answer.iss.as_deref() {
        Some(iss) => iss == provider.config.issuer.as_str(),
        None => !discovered.answers_name_the_issuer,
    };
    if !state_matches || !issuer_matches {
        log("OpenID Connect answer refused: state or iss does not match the login under way");
        return message(StatusCode::BAD_REQUEST, "Réponse refusée", ANSWER_REFUSED);
    }
    if let Some(error) = answer.error.as_deref() {
        log(&format!("OpenID Connect provider answered error {error}"));
        let text = if error == "access_denied" {
            CANCELLED.to_owned()
        } else {
            format!("Le service CPx Connect a refusé la connexion (code {error}). Réessayez.")
        };
        return back_to_login(&session, &text).await;
    }
    let Some(code) = answer.code else {
        return message(StatusCode::BAD_REQUEST, "Réponse refusée", ANSWER_REFUSED);
    };
    let request = match discovered
        .client
        .exchange_code(AuthorizationCode::new(code))
    {
        Ok(request) => request,
        Err(error) => return provider_down(&error),
    };
    let http = provider.http_client();
    let tokens = match request
        .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier))
        .request_async(&http)
        .await
    {
        Ok(tokens) => tokens,
        Err(error) => {
            log(&format!("OpenID Connect token request: {error:?}"));
            return not_confirmed();
        }
    };
    let Some(id_token) = tokens.id_token() else {
        log("OpenID Connect token answer without an ID token");
        return not_confirmed();
    };
    let nonce = Nonce::new(login.nonce);
    let checked = id_token
        .claims(&discovered.id_token_verifier(), &nonce)
        .map(holder_of);
    let holder = match checked {
        Ok(holder) => holder,
        Err(first) => {
            // A key the kept JWKS does not have (the provider rotated): its keys again, once.
            log(&format!(
                "ID token not verified with the kept keys ({first}): discovery again"
            ));
            let fresh = match provider.rediscover().await {
                Ok(fresh) => fresh,
                Err(why) => return provider_down(&why),
            };
            let checked = id_token
                .claims(&fresh.id_token_verifier(), &nonce)
                .map(holder_of);
            match checked {
                Ok(holder) => holder,
                Err(error) => {
                    log(&format!("ID token refused: {error}"));
                    return not_confirmed();
                }
            }
        }
    };
    signed_in_or_linking(&app, &session, holder, id_token.to_string()).await
}

/// Who the verified ID token names.
fn holder_of(claims: &CoreIdTokenClaims) -> ProviderHolder {
    ProviderHolder {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        given_name: localized(claims.given_name()),
        family_name: localized(claims.family_name()),
        id_nat: claims
            .preferred_username()
            .map(|name| name.to_string())
            .unwrap_or_default(),
    }
}

/// A claim's value without a language tag (the one cpx-idp gives).
fn localized<T: std::ops::Deref<Target = String>>(claim: Option<&LocalizedClaim<T>>) -> String {
    claim
        .and_then(|values| values.get(None))
        .map(|value| value.to_string())
        .unwrap_or_default()
}

/// The holder's account, or the linking step for a holder seen for the first time.
async fn signed_in_or_linking(
    app: &AppState,
    session: &Session,
    holder: ProviderHolder,
    id_token: String,
) -> Response {
    let account = match app
        .inner
        .store
        .account_for_provider_subject(&holder.issuer, &holder.subject)
    {
        Ok(account) => account,
        Err(error) => return super::respond::server_error_page("provider holder lookup", &error),
    };
    let outcome = match account {
        Some(account) => {
            let flash = Flash::Info(format!(
                "Vous êtes connecté avec CPx Connect (carte CPS de {} {}).",
                holder.given_name, holder.family_name
            ));
            match renew_session(app, session, Some(account.id), None, Some(flash)).await {
                Ok(()) => session
                    .insert(PROVIDER_ID_TOKEN, id_token)
                    .await
                    .map(|()| "/compte"),
                Err(error) => Err(error),
            }
        }
        None => {
            // As for a card: the holder waits in a session with a new id.
            let account_id = session.get::<i64>(ACCOUNT_ID).await.ok().flatten();
            let pending = PendingProvider {
                holder,
                id_token,
                verified_at: std::time::SystemTime::now(),
            };
            match renew_session(app, session, account_id, None, None).await {
                Ok(()) => session
                    .insert(PENDING_PROVIDER, pending)
                    .await
                    .map(|()| "/lier"),
                Err(error) => Err(error),
            }
        }
    };
    match outcome {
        Ok(location) => redirect(location),
        Err(error) => session_store_failure_page(&error),
    }
}

/// Where the logout sends the browser: the provider's `end_session_endpoint` with
/// `id_token_hint` and `post_logout_redirect_uri` when the session came through it (its
/// session ends too), else `None` (this site's login page).
pub(crate) async fn provider_logout_url(
    app: &AppState,
    id_token: Option<String>,
) -> Option<String> {
    let provider = provider_of(app)?;
    let id_token = id_token?;
    let hint = match id_token.parse::<CoreIdToken>() {
        Ok(hint) => hint,
        Err(error) => {
            log(&format!("stored ID token unreadable: {error}"));
            return None;
        }
    };
    let discovered = match provider.discovered().await {
        Ok(discovered) => discovered,
        Err(why) => {
            log(&format!("provider logout skipped: {why}"));
            return None;
        }
    };
    let end_session = discovered.end_session.clone()?;
    Some(
        LogoutRequest::from(end_session)
            .set_id_token_hint(&hint)
            .set_client_id(provider.config.client_id.clone())
            .set_post_logout_redirect_uri(provider.config.post_logout_redirect_uri.clone())
            .http_get_url()
            .to_string(),
    )
}
