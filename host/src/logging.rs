//! Logs go to a daily-rotated file in the user's state directory, never to stdout (which carries
//! frames) and never with a PIN in them.

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// Environment variable holding the log filter (`info` by default; `debug`, `trace`, `off`...).
pub const LEVEL_VARIABLE: &str = "CPX_CONNECT_LOG";
/// Overrides the log directory (tests, and administrators who want logs elsewhere).
pub const DIRECTORY_VARIABLE: &str = "CPX_CONNECT_LOG_DIR";

/// The per-user log directory of each platform (`user_folders`), or `$CPX_CONNECT_LOG_DIR`.
pub fn log_directory() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DIRECTORY_VARIABLE) {
        return Some(PathBuf::from(dir));
    }
    crate::user_folders::log_directory()
}

/// Starts file logging. Failing to log must never stop a login, so problems are swallowed and the
/// host runs without a log.
pub fn init() {
    let filter = EnvFilter::try_from_env(LEVEL_VARIABLE).unwrap_or_else(|_| EnvFilter::new("info"));
    let Some(directory) = log_directory() else {
        return;
    };
    if crate::user_folders::create_private(&directory).is_err() {
        return;
    }
    let Ok(appender) = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("cpx-connect")
        .filename_suffix("log")
        .max_log_files(14)
        .build(&directory)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(appender))
        .with_ansi(false)
        .try_init();
}
