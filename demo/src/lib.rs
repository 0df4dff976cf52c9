//! CPx Connect demo relying party: a small site where a health professional logs in with a
//! username and password or with a CPx card, and links the card to the account the first
//! time. The library builds the whole site ([`build_router`]) from a [`DemoConfig`], so tests
//! run it in-process; `main.rs` is the command line around it.
#![forbid(unsafe_code)]

pub mod card;
pub mod client;
pub mod config;
pub mod messages;
pub mod oidc;
pub mod pages;
pub mod redis_sessions;
mod routes;
pub mod server;
pub mod session;
pub mod store;
mod throttle;
pub mod web;

pub use config::{ConfigError, DemoConfig};
pub use server::{ServeError, TlsIdentity};
pub use store::{Account, AccountStore, LinkedCard, StoreError};
pub use web::{build_router, AppError, AppState};

/// The whole site from its configuration: opens the database, loads the trust anchors and
/// CRLs, and returns the router (serve it over HTTPS: the session cookie is `Secure`).
pub fn router_from_config(config: DemoConfig) -> Result<axum::Router, AppError> {
    Ok(build_router(AppState::new(config)?))
}

/// The account `serve --seed-demo-user` creates if missing.
pub const DEMO_USERNAME: &str = "marie.dupont";
pub const DEMO_PASSWORD: &str = "demo1234";
pub const DEMO_DISPLAY_NAME: &str = "Marie Dupont";

/// Creates the demo account unless an account of that name exists; true if created.
pub fn seed_demo_user(store: &AccountStore) -> Result<bool, StoreError> {
    if store.account_by_username(DEMO_USERNAME)?.is_some() {
        return Ok(false);
    }
    match store.create_account(DEMO_USERNAME, DEMO_DISPLAY_NAME, DEMO_PASSWORD) {
        Ok(_) => Ok(true),
        // Created meanwhile by another process on the same database.
        Err(StoreError::UsernameTaken(_)) => Ok(false),
        Err(error) => Err(error),
    }
}
