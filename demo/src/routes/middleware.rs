//! Around every route: the body read in time, and the security headers and cookie attributes.

use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SET_COOKIE,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::respond::{log, session_store_failure_page};
use crate::session::SESSION_COOKIE;
use crate::web::AppState;

/// Tokens are at most 10 KB (cpx-verify refuses more); forms are tiny.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole request body (at most `MAX_BODY_BYTES`) within `body_read_timeout`, so a
/// client sending its body a byte at a time cannot hold a connection and a handler: `408`
/// past the time, `413` past the size.
pub(crate) async fn read_body_in_time(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let timeout = app.inner.config.body_read_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => {
            let mut parts = parts;
            // For the Csrf extractor, which reads the form's token before the handler runs.
            parts.extensions.insert(bytes.clone());
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Ok(Err(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
        Err(_) => {
            log("request body not received in time");
            (
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )
                .into_response()
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
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // HTTPS only from now on for this host: a man in the middle cannot answer a plain-HTTP
    // request of the victim's browser (and plant a cookie) after the first visit.
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={}", app.inner.config.hsts_max_age))
    {
        headers.insert(STRICT_TRANSPORT_SECURITY, value);
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
