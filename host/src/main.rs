//! `cpx-connect`: started by the browser with native messaging on stdin/stdout.

use std::io::{stdin, stdout};
use std::process::ExitCode;

use cpx_connect::protocol::server::{self, Exit};
use cpx_connect::readers::PcscBackend;
use cpx_connect::service::HostService;

fn main() -> ExitCode {
    // Browsers pass arguments of their own (Chrome: the caller's origin and --parent-window; Firefox:
    // the manifest path and add-on id). They identify the caller but carry nothing to act on.
    cpx_connect::logging::init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), args = ?std::env::args().skip(1).collect::<Vec<_>>(), "started");
    let mut service = HostService::new(PcscBackend::new());
    let exit = server::serve(&mut stdin().lock(), &mut stdout().lock(), &mut service);
    tracing::info!(?exit, "stopped");
    match exit {
        Exit::Finished | Exit::OutputClosed => ExitCode::SUCCESS,
        Exit::BrokenStream => ExitCode::from(1),
    }
}
