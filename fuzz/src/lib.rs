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

/// Every error code of protocol 1 (shared/DESIGN.md); an answer with any other code is a bug.
pub const ERROR_CODES: [&str; 16] = [
    "ERR_INVALID_REQUEST",
    "ERR_UNKNOWN_COMMAND",
    "ERR_ORIGIN_INVALID",
    "ERR_NONCE_INVALID",
    "ERR_PCSC_UNAVAILABLE",
    "ERR_NO_READER",
    "ERR_NO_CARD",
    "ERR_CARD_UNSUPPORTED",
    "ERR_CERTIFICATE_NOT_FOUND",
    "ERR_CARD_REMOVED",
    "ERR_PIN_REQUIRED",
    "ERR_PIN_FORMAT",
    "ERR_PIN_INCORRECT",
    "ERR_PIN_BLOCKED",
    "ERR_CARD_ERROR",
    "ERR_INTERNAL",
];
