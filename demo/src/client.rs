//! The requesting client's throttling key, as an extractor (the address rules are
//! `cpx_web::client`'s, shared with the OpenID Connect provider).

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

pub use cpx_web::client::{client_address, client_key, request_client_key, FORWARDED_FOR};

use crate::web::AppState;

/// Extractor: the requesting client's throttling key ([`client_key`] of [`client_address`]).
/// Without connect info (a router used in-process), the unspecified address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(pub IpAddr);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(request_client_key(
            &parts.extensions,
            &parts.headers,
            &state.config().trusted_proxies,
        )))
    }
}
