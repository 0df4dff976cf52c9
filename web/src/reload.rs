//! Work redone while a service runs, without a restart (both services' CRLs): on a schedule
//! and on SIGHUP, the signal an administrator or a CRL-fetching job sends after new files.

use std::time::Duration;

/// Calls `work` every `every` (not at once: the caller just did it at start) and at each
/// SIGHUP, with why ("schedule" or "SIGHUP"). Runs on the current Tokio runtime.
pub fn spawn_every_and_on_hangup(every: Duration, work: impl Fn(&str) + Send + 'static) {
    // Listened to before this returns: a SIGHUP from then on reloads, never ends the process.
    let mut hangups = signal_hangup();
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(every);
        timer.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                _ = timer.tick() => work("schedule"),
                Some(()) = next_hangup(&mut hangups) => work("SIGHUP"),
            }
        }
    });
}

#[cfg(unix)]
fn signal_hangup() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(unix)]
async fn next_hangup(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
fn signal_hangup() -> Option<()> {
    None
}

#[cfg(not(unix))]
async fn next_hangup(_signal: &mut Option<()>) -> Option<()> {
    std::future::pending().await
}
