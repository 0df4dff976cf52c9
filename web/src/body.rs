//! A request's body read whole, within a time and a size, before any handler runs: a client
//! sending its body a byte at a time cannot hold a connection and a handler.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefused {
    /// Past the size: `413`.
    TooLarge,
    /// Not received in time: `408`.
    TooSlow,
}

impl IntoResponse for BodyRefused {
    fn into_response(self) -> Response {
        match self {
            BodyRefused::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
            }
            BodyRefused::TooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )
                .into_response(),
        }
    }
}

/// The request with its body read (at most `max_bytes`, within `timeout`); a copy of the
/// bytes is in its extensions, for extractors that read the form before the handler (CSRF).
pub async fn read_body_within(
    request: Request,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Request, BodyRefused> {
    let (mut parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max_bytes)).await {
        Ok(Ok(bytes)) => {
            parts.extensions.insert::<Bytes>(bytes.clone());
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        Ok(Err(_)) => Err(BodyRefused::TooLarge),
        Err(_) => Err(BodyRefused::TooSlow),
    }
}
