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
//! Checks, cheapest first: token shape and size, certificate keyUsage (digitalSignature), the
//! algorithm against the key type, the signature over origin and challenge; then the path to a
//! configured trust anchor with validity at the given time, extendedKeyUsage (clientAuth) if
//! present (rustls-webpki), the anchor's own validity, the CRL of every issuer in the path
//! (refused when a CA has none, unless opted out), certificate policies, the idNat's syntax.
//! See `README.md` for an integration example.

#![forbid(unsafe_code)]

use std::time::SystemTime;

mod certificate;
mod challenge;
mod error;
mod nonce;
mod revocation;
mod token;
mod trust;
mod validator;

#[cfg(feature = "redis")]
pub use challenge::RedisChallengeStore;
pub use challenge::{ChallengeError, ChallengeStore};
pub use error::{ConfigError, NonceError, VerifyError};
pub use nonce::{IssueError, NonceStore, RandomUnavailable, DEFAULT_MAX_NONCES};
pub use token::MAX_TOKEN_BYTES;
pub use trust::TrustConfig;
pub use validator::Validator;

/// The card holder, from the subject of a certificate that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The trust anchor the certificate's path ended at: lower-case hex of the SHA-256 of the
    /// anchor's SubjectPublicKeyInfo (DER), as `openssl x509 -pubkey -noout | openssl pkey
    /// -pubin -outform DER | sha256sum` prints it. **Bind accounts to (`anchor_id`, `id_nat`)**:
    /// an idNat alone is only as good as the least careful CA the site trusts.
    pub anchor_id: String,
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

/// Whether `origin` is one a browser reports and [`Validator::validate`] accepts as its
/// `expected_origin`: `https://host[:port]`, ASCII lower case (an IDN host in its `xn--` form),
/// no path, no trailing slash, no `:443`. Check the site's configured origin with it at
/// start-up: an origin that fails here would fail every login.
pub fn check_origin(origin: &str) -> Result<(), VerifyError> {
    validator::check_expected_origin(origin)
}

/// Compiles the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
