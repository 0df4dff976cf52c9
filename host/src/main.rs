//! `cpx-connect`: started by the browser with native messaging on stdin/stdout, or by an
//! administrator with a subcommand (`install`, `uninstall`, `doctor`).

use std::process::ExitCode;

use cpx_connect::cli;
use cpx_connect::protocol::server::Exit;

fn main() -> ExitCode {
    let arguments: Vec<_> = std::env::args_os().collect();
    if cli::is_command_line(arguments.get(1)) {
        return cli::run(arguments);
    }
    // Browsers pass arguments of their own (Chrome: the caller's origin and --parent-window; Firefox:
    // the manifest path and add-on id). They identify the caller but carry nothing to act on.
    match cpx_connect::run_native_host() {
        Exit::Finished | Exit::OutputClosed => ExitCode::SUCCESS,
        Exit::BrokenStream => ExitCode::from(1),
    }
}
