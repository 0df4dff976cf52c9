//! A software CPx card (CPS3 and CPS4 profiles) for CPx Connect's tests.
//!
//! [`VirtualCard`] answers command APDUs like a CPS3 contact card described in
//! `shared/CARD.md`: IAS-ECC file system, a standards-conformant PKCS#15 application, the
//! cardholder PIN, and the authentication and signature keys of the test PKI in `fixtures/`.
//! Use it in-process, or put it behind the real PC/SC stack with [`vpcd::insert`]. The exact
//! behaviour (status words, choices where the specifications are silent) is in the crate's
//! README. [`VirtualCard::cps4`] gives the CPS4 profile instead, described in [`cps4`].
#![forbid(unsafe_code)]

mod apdu;
mod card;
mod der_writer;
pub mod faults;
mod filesystem;
mod fixtures;
pub mod ins;
pub mod pkcs15;
pub mod vpcd;

use std::sync::{Arc, Mutex};

pub use card::{
    cps4, EndOfFileAnswer, Holder, InvalidPin, VirtualCard, INTERNAL_AUTHENTICATE_MAX_INPUT,
    READ_BINARY_MAX,
};

/// A card shared between a test and the thread that serves it to vpcd.
pub type SharedCard = Arc<Mutex<VirtualCard>>;

/// Where every test that talks to pcscd/vpcd takes its turn.
pub const PCSCD_LOCK_PATH: &str = "/tmp/cpx-connect-pcscd.lock";

/// The test CA certificate (DER) that issued every fixture certificate.
pub fn test_ca_der() -> &'static [u8] {
    fixtures::TEST_CA_CERTIFICATE
}

/// The test CA's private key, PKCS#8 DER (test only), for tests that issue more certificates.
pub fn test_ca_key_pkcs8_der() -> &'static [u8] {
    fixtures::TEST_CA_KEY_PKCS8
}

/// An empty CRL (DER) of the test CA.
pub fn test_ca_crl_der() -> &'static [u8] {
    fixtures::TEST_CA_CRL
}

/// A card ready to be shared with [`vpcd::insert`].
pub fn shared(card: VirtualCard) -> SharedCard {
    Arc::new(Mutex::new(card))
}

/// Takes the machine-wide exclusive lock on [`PCSCD_LOCK_PATH`], waiting for it; the lock is
/// released when the returned file is dropped. Hold it for as long as a test uses pcscd or a
/// vpcd slot, so that tests of different crates never share the readers.
// The workspace declares Rust 1.80, but `File::lock` (1.89) is the lock the project chose.
#[allow(clippy::incompatible_msrv)]
pub fn pcscd_test_lock() -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(PCSCD_LOCK_PATH)?;
    file.lock()?;
    Ok(file)
}
