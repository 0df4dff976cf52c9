//! CPx Connect's native messaging host: it signs origin-bound login challenges with a French
//! health-professional CPx card on behalf of the browser extension.
//!
//! Layers, each using only the one below: `protocol` (frames, JSON) -> `service` (commands in card
//! terms) -> `card` (drivers, APDUs) -> `card::Transport`, implemented by `readers` (PC/SC).
#![forbid(unsafe_code)]

pub mod card;
pub mod cli;
pub mod doctor;
mod hex;
pub mod install;
pub mod logging;
pub mod protocol;
pub mod readers;
pub mod service;
pub mod token;
pub mod user_folders;

pub use hex::encode as hex_encode;

/// Runs the native messaging host on stdin/stdout until the browser is done: the PC/SC backend,
/// the card cache in the user's cache directory, logs in the user's state directory.
pub fn run_native_host() -> protocol::server::Exit {
    logging::init();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        args = ?std::env::args().skip(1).collect::<Vec<_>>(),
        "started"
    );
    let cache = match service::cache::ProfileCache::default_directory() {
        Some(directory) => service::cache::ProfileCache::persistent(directory),
        None => service::cache::ProfileCache::in_memory(),
    };
    let mut service = service::HostService::with_cache(readers::PcscBackend::new(), cache);
    let exit = protocol::server::serve(
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut service,
    );
    tracing::info!(?exit, "stopped");
    exit
}
