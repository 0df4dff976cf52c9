//! The answers every flow shares: pages of errors, redirects, JSON failures, and the log.

use askama::Template;
use axum::http::header::{LOCATION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::messages::server_message;
use crate::pages::MessagePage;

/// Logged for the operator; the user sees the French message. Everything but printable ASCII
/// is escaped, so text from the client (a token field, a username) cannot forge log lines.
pub(crate) fn log(line: &str) {
    eprintln!("cpx-demo: {}", escape_for_log(line));
}

pub fn escape_for_log(line: &str) -> String {
    line.chars()
        .flat_map(|c| {
            let keep = c == ' ' || c.is_ascii_graphic() || (!c.is_ascii() && !is_hidden(c));
            let escaped: Vec<char> = if keep {
                vec![c]
            } else {
                c.escape_unicode().collect()
            };
            escaped
        })
        .collect()
}

/// Characters a reader of the log would not see as themselves: controls (Cc), format
/// characters (Cf: the bidirectional controls that reorder what a terminal shows, zero-width
/// characters, the soft hyphen, tags) and the line and paragraph separators (Zl, Zp), which
/// some viewers show as line breaks.
pub(crate) fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

pub(crate) fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => {
            log(&format!("page not rendered: {error}"));
            (StatusCode::INTERNAL_SERVER_ERROR, "page not rendered").into_response()
        }
    }
}

/// 303 to `location`.
pub(crate) fn redirect(location: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

pub(crate) fn server_error_page(what: &str, error: &dyn std::fmt::Display) -> Response {
    log(&format!("{what}: {error}"));
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        MessagePage::new(
            "Erreur du serveur",
            server_message("ERR_SERVER"),
            "/",
            "Retour à l'accueil",
        ),
    )
}

pub(crate) fn csrf_failure_page() -> Response {
    html(
        StatusCode::FORBIDDEN,
        MessagePage::new(
            "Formulaire refusé",
            server_message("ERR_CSRF"),
            "/",
            "Retour à l'accueil",
        ),
    )
}

/// Too many new sessions or challenges from this client: `429`, and when to come back.
pub(crate) fn too_many_requests_page(wait_seconds: u64) -> Response {
    throttled_page(
        "Trop de demandes",
        "ERR_TOO_MANY_REQUESTS",
        "Réessayer",
        wait_seconds,
    )
}

/// Too many password attempts (for this account or from this client).
pub(crate) fn too_many_attempts_page(wait_seconds: u64) -> Response {
    throttled_page(
        "Trop de tentatives",
        "ERR_TOO_MANY_ATTEMPTS",
        "Retour à la connexion",
        wait_seconds,
    )
}

fn throttled_page(title: &str, code: &str, back_label: &str, wait_seconds: u64) -> Response {
    let message = format!(
        "{} Réessayez dans {wait_seconds} secondes.",
        server_message(code)
    );
    let mut response = html(
        StatusCode::TOO_MANY_REQUESTS,
        MessagePage::new(title, &message, "/", back_label),
    );
    if let Ok(value) = HeaderValue::from_str(&wait_seconds.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// A JSON failure for the page's script: a stable code and the French message to show.
pub(crate) fn json_failure(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({ "status": "error", "code": code, "message": server_message(code) })),
    )
        .into_response()
}

/// The session store (Redis) did not answer: 503 and a clear page.
pub(crate) fn session_store_failure_page(error: &dyn std::fmt::Display) -> Response {
    log(&format!("session store: {error}"));
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        MessagePage::new(
            "Service indisponible",
            server_message("ERR_SESSION_STORE_UNAVAILABLE"),
            "/",
            "Réessayer",
        ),
    )
}
