//! `cpx-connect`: started by the browser with native messaging on stdin/stdout.

use std::process::ExitCode;

use cpx_connect::protocol::server::Exit;

fn main() -> ExitCode {
    // Browsers pass arguments of their own (Chrome: the caller's origin and --parent-window; Firefox:
    // the manifest path and add-on id). They identify the caller but carry nothing to act on.
    match cpx_connect::run_native_host() {
        Exit::Finished | Exit::OutputClosed => ExitCode::SUCCESS,
        Exit::BrokenStream => ExitCode::from(1),
    }
}
