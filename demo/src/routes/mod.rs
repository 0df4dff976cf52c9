//! The site's routes, one module per flow; `web.rs` puts them in the router with the shared
//! state. The checks the handlers need are extractors (`extract.rs`); the answers they share
//! are in `respond.rs`, the session steps in `sessions.rs`.

pub(crate) mod account;
pub(crate) mod api;
pub(crate) mod assets;
pub(crate) mod card;
pub(crate) mod extract;
pub(crate) mod link;
pub(crate) mod middleware;
pub(crate) mod oidc;
pub(crate) mod password;
pub(crate) mod respond;
pub(crate) mod sessions;
