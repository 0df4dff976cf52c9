//! Server-side validation of CPx Connect login tokens.
//!
//! A CPx Connect token is a [Web eID](https://github.com/web-eid) authentication token: the
//! holder's authentication certificate and a signature, made by the card, over
//! `SHA-256(origin) || SHA-256(challengeNonce)`. A relying party:
//!
//! 1. issues a nonce per browser session with [`NonceStore::issue`];
//! 2. receives the token the page posts and checks it with [`Validator::validate`] (or
//!    [`Validator::validate_with_nonce_store`]), passing its **own** origin;
//! 3. binds the account to [`Identity::id_nat`], which survives card renewal.
//!
//! Checks: token shape and size, certificate keyUsage (digitalSignature) and, if present,
//! extendedKeyUsage (clientAuth), path to a configured trust anchor with validity at the given
//! time (rustls-webpki), CRLs, the algorithm against the key type, and the signature.
//! See `README.md` for an integration example.

#![forbid(unsafe_code)]

use std::time::SystemTime;

mod certificate;
mod error;
mod nonce;
mod token;
mod trust;
mod validator;

pub use error::{ConfigError, NonceError, VerifyError};
pub use nonce::{NonceStore, RandomUnavailable};
pub use token::MAX_TOKEN_BYTES;
pub use trust::TrustConfig;
pub use validator::Validator;

/// The card holder, from the subject of a certificate that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The subject CN: the national professional id (`8` + RPPS, e.g. "810001234567").
    /// Bind accounts to this: it survives card renewal, unlike the certificate or its serial.
    pub id_nat: String,
    /// The subject SN (empty if the certificate has none).
    pub surname: String,
    /// The subject GN (empty if the certificate has none).
    pub given_name: String,
    /// The subject title (e.g. "Médecin"), else the first OU (test cards carry it there).
    pub profession: Option<String>,
    /// The issuer DN as an RFC 4514 string, e.g. `CN=AC IGC-SANTE FORT PERSONNES,...,C=FR`.
    pub issuer: String,
    /// The certificate serial number in upper-case hex, without a leading sign byte.
    pub serial_hex: String,
    /// The certificate's notAfter.
    pub not_after: SystemTime,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
}

/// Compiles the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
