//! `cpx-idp`: an OpenID Connect provider that logs health professionals in with their CPx
//! card (through the CPx Connect extension and host) and gives sites standard ID tokens, with
//! Pro Santé Connect's claim names. The library builds the whole provider
//! ([`web::build_router`]) from a checked [`config::ProviderConfig`], so tests run it
//! in-process; `main.rs` is the command line around it.
#![forbid(unsafe_code)]
// The handlers' helpers return `Err(the HTTP answer)`, sent as it is: boxing it would only
// add noise on a path that ends the request anyway.
#![allow(clippy::result_large_err)]

pub mod authorize;
pub mod claims;
pub mod client_keys;
pub mod config;
pub mod jose;
pub mod keys;
pub mod login;
pub mod logout;
pub mod store;
pub mod token;
pub mod web;

pub use config::{ConfigError, ProviderConfig, StoreSettings};
pub use keys::KeySet;
pub use web::{build_router, Provider};
