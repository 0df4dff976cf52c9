//! `GET /static/...` (stylesheet, page script, the extension's page library) and the 404 page.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::respond::{html, log};
use crate::pages::MessagePage;
use crate::web::AppState;

pub(crate) const STYLESHEET: &str = include_str!("../../static/style.css");

/// The card button's script, the one both services serve (cpx-web).
pub(crate) const CARD_LOGIN_SCRIPT: &str = cpx_web::messages::CARD_LOGIN_SCRIPT;

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
        .into_response()
}

pub(crate) async fn card_login_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        CARD_LOGIN_SCRIPT,
    )
        .into_response()
}

/// The extension's page library, read at each request so a rebuilt library is picked up.
/// Missing: 404, and the page script then says the extension is not available.
pub(crate) async fn page_library(State(app): State<AppState>) -> Response {
    match tokio::fs::read(&app.inner.config.page_library).await {
        Ok(script) => (
            [
                (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (CACHE_CONTROL, "no-cache"),
            ],
            script,
        )
            .into_response(),
        Err(error) => {
            log(&format!(
                "page library {}: {error}",
                app.inner.config.page_library.display()
            ));
            (StatusCode::NOT_FOUND, "page library not available").into_response()
        }
    }
}

pub(crate) async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        MessagePage::new(
            "Page introuvable",
            "La page demandée n'existe pas.",
            "/",
            "Retour à l'accueil",
        ),
    )
}
