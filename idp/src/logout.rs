//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `end_session_endpoint`.
//!
//! With an `id_token_hint` this provider signed for the holder signed in, the session ends at
//! once and the browser goes to the `post_logout_redirect_uri` if it is one the hint's client
//! registered (exact match); any other URI gets an error page, never a redirect. Without a hint,
//! or with one naming another holder, another site could end the session by a link: the holder
//! is asked first (a form with the session's CSRF token).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cpx_web::secrets::form_carries_csrf;
use serde_json::Value;
use url::Url;

use crate::authorize::SessionRecord;
use crate::claims::subject;
use crate::store::{get_json, key_of, Kind};
use crate::web::{
    clear_cookie, cookie, form_refused_page, log, message_page, param, parse_pairs, render,
    unavailable_page, AppState, Lang, Provider, SESSION_COOKIE,
};

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    lang: &'static str,
    en: bool,
    csrf: &'a str,
}

/// The browser's session; `Err(503 page)` when the store did not answer (never "logged out"
/// while the session may live on).
async fn session(
    app: &Provider,
    headers: &HeaderMap,
) -> Result<Option<(String, SessionRecord)>, Response> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match get_json(app.store.as_ref(), Kind::Session, &key_of(&id)).await {
        Ok(record) => Ok(record.map(|record| (id, record))),
        Err(error) => {
            log(&format!("store: {error}"));
            Err(unavailable_page(Lang::of(headers)))
        }
    }
}

fn logged_out_page(lang: Lang) -> Response {
    message_page(
        StatusCode::OK,
        lang,
        lang.pick("Vous êtes déconnecté", "You are logged out"),
        lang.pick(
            "Votre session CPx Connect est terminée. Vous pouvez retirer votre carte CPS.",
            "Your CPx Connect session has ended. You may remove your CPS card.",
        ),
    )
}

async fn end(app: &Provider, headers: &HeaderMap, mut response: Response) -> Response {
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        // A session left in the store would outlive the logout: say so rather than "logged out".
        if let Err(error) = app.store.delete(Kind::Session, &key_of(&id)).await {
            log(&format!("store: {error}"));
            return unavailable_page(Lang::of(headers));
        }
    }
    response
        .headers_mut()
        .insert(SET_COOKIE, clear_cookie(SESSION_COOKIE));
    response
}

pub async fn end_session(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    let refused = |text_fr: &'static str, text_en: &'static str| {
        message_page(
            StatusCode::BAD_REQUEST,
            lang,
            lang.pick("Déconnexion refusée", "Logout refused"),
            lang.pick(text_fr, text_en),
        )
    };
    let Some(pairs) = parse_pairs(query.as_deref().unwrap_or_default()) else {
        return refused("Paramètre répété.", "A parameter is repeated.");
    };
    let hint = param(&pairs, "id_token_hint")
        .and_then(|hint| app.keys.verify_own(hint))
        .filter(|claims| {
            claims.get("iss").and_then(Value::as_str) == Some(app.config.issuer.as_str())
        });
    let text_claim = |name: &str| {
        hint.as_ref()
            .and_then(|claims| claims.get(name).and_then(Value::as_str).map(str::to_owned))
    };
    let (hint_client, hint_subject) = (text_claim("aud"), text_claim("sub"));
    if param(&pairs, "id_token_hint").is_some() && hint_client.is_none() {
        return refused(
            "Le jeton présenté (id_token_hint) n'a pas été émis par ce service.",
            "The token presented (id_token_hint) was not issued by this service.",
        );
    }
    if let Some(client_id) = param(&pairs, "client_id") {
        if hint_client
            .as_deref()
            .is_some_and(|hinted| hinted != client_id)
        {
            return refused(
                "client_id ne correspond pas au jeton.",
                "client_id does not match the token.",
            );
        }
    }
    let client = hint_client
        .as_deref()
        .or(param(&pairs, "client_id"))
        .and_then(|id| app.config.client(id));
    let back = match param(&pairs, "post_logout_redirect_uri") {
        None => None,
        Some(uri) => match client {
            Some(client)
                if client
                    .post_logout_redirect_uris
                    .iter()
                    .any(|known| known == uri) =>
            {
                Some(uri)
            }
            _ => {
                return refused(
                    "L'adresse de retour demandée n'est pas enregistrée pour ce site.",
                    "The return address asked for is not registered for this site.",
                )
            }
        },
    };
    let signed_in = match session(&app, &headers).await {
        Err(page) => return page,
        Ok(signed_in) => signed_in,
    };
    // The hint proves a site was given an ID token, not that it was this browser's holder's:
    // an ID token of someone else (any site holds its users' tokens) must not end this
    // browser's session unasked.
    let hint_is_this_holder = |record: &SessionRecord| {
        let subject = client
            .map(|client| subject(&record.holder, client, app.config.subject_secret.as_deref()));
        subject.is_some() && subject == hint_subject
    };
    match &signed_in {
        // No proof the request comes from a site the holder uses, or the hint names another
        // holder: ask.
        Some((_, record)) if hint_client.is_none() || !hint_is_this_holder(record) => {
            return render(
                StatusCode::OK,
                &ConfirmPage {
                    lang: lang.code(),
                    en: lang == Lang::En,
                    csrf: &record.csrf,
                },
            )
        }
        None if hint_client.is_none() => return logged_out_page(lang),
        _ => {}
    }
    let response = match back.and_then(|uri| Url::parse(uri).ok()) {
        Some(mut url) => {
            if let Some(state) = param(&pairs, "state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(url.as_str()) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
        None => logged_out_page(lang),
    };
    end(&app, &headers, response).await
}

/// `POST /logout`: the holder confirmed.
pub async fn confirm(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::of(&headers);
    match session(&app, &headers).await {
        Err(page) => page,
        Ok(Some((_, record))) if form_carries_csrf(&body, &record.csrf) => {
            end(&app, &headers, logged_out_page(lang)).await
        }
        Ok(Some(_)) => form_refused_page(lang),
        Ok(None) => logged_out_page(lang),
    }
}
