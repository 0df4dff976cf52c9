//! Fuzz harnesses for the cpx-connect native host. Each takes arbitrary bytes, drives one layer of
//! the host with them and checks the host's invariant there: bad input of any kind gets a clear
//! error; the host never panics, hangs, or loses its place.
//!
//! The binaries in `fuzz_targets/` only call these functions, so the same checks also run under a
//! plain `cargo test` (seeds and past crashes) without libFuzzer or nightly flags.
#![forbid(unsafe_code)]

pub mod card_answers;
pub mod card_script;
pub mod frames;
pub mod host;
pub mod pkcs15;
pub mod request;

/// Whether `code` is one of protocol 1's error codes (the host's own list, `ErrorCode::ALL`);
/// an answer with any other code is a bug.
pub fn is_protocol_error_code(code: &str) -> bool {
    cpx_connect::protocol::wire::ErrorCode::ALL
        .iter()
        .any(|known| *known == code)
}
