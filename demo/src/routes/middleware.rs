//! Around every route: the body read in time, and the security headers and cookie attributes.

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cpx_web::body::{read_body_within, BodyRefused};
use cpx_web::headers::apply_security_headers;

use super::respond::{log, session_store_failure_page};
use crate::session::SESSION_COOKIE;
use crate::web::AppState;

/// Tokens are at most 10 KB (cpx-verify refuses more); forms are tiny.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole request body (at most `MAX_BODY_BYTES`) within `body_read_timeout`
/// (`cpx_web::body`): `408` past the time, `413` past the size.
pub(crate) async fn read_body_in_time(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let timeout = app.inner.config.body_read_timeout;
    match read_body_within(request, timeout, MAX_BODY_BYTES).await {
        Ok(request) => next.run(request).await,
        Err(refused) => {
            if refused == BodyRefused::TooSlow {
                log("request body not received in time");
            }
            refused.into_response()
        }
    }
}

pub(crate) async fn security_headers(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    // The session layer answers a bare 500 when its store fails (Redis down): say so clearly.
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(CONTENT_TYPE)
    {
        response = session_store_failure_page(&"it did not answer");
    }
    let headers = response.headers_mut();
    as_browser_session_cookies(headers);
    apply_security_headers(headers, app.inner.config.hsts_max_age);
    if let Some(csp) = &app.inner.provider_csp {
        headers.insert(axum::http::header::CONTENT_SECURITY_POLICY, csp.clone());
    }
    response
}

/// The session cookie lives as long as the browser (no `Max-Age`, no `Expires`): on a shared
/// workstation, closing the browser ends it. The idle expiry is the server's: the session's
/// record expires after `session_idle_timeout` without a request (tower-sessions' inactivity
/// expiry, which writes the cookie's `Max-Age` too; it is taken out here). A removal (`Max-Age=0`)
/// is left as it is.
pub(crate) fn as_browser_session_cookies(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let rewritten = cookie
            .to_str()
            .ok()
            .filter(|text| text.starts_with(&format!("{SESSION_COOKIE}=")))
            .filter(|text| !text.to_ascii_lowercase().contains("max-age=0"))
            .and_then(|text| {
                let kept: Vec<&str> = text
                    .split(';')
                    .filter(|attribute| {
                        let name = attribute.trim().to_ascii_lowercase();
                        !name.starts_with("max-age=") && !name.starts_with("expires=")
                    })
                    .collect();
                HeaderValue::from_str(&kept.join(";")).ok()
            });
        headers.append(SET_COOKIE, rewritten.unwrap_or(cookie));
    }
}
