//! Server-side validation of CPx Connect login tokens.
//!
//! A CPx Connect token is a [Web eID](https://github.com/web-eid) authentication token: the
//! holder's authentication certificate and a signature, made by the card, over
//! `SHA-256(origin) || SHA-256(challengeNonce)`. A relying party:
//!
//! 1. builds one [`Validator`] at start-up with [`Validator::new`]: its trust configuration and
//!    its **own** origin, both checked there (a bad configuration stops the start, not a login);
//! 2. issues a nonce per browser session with [`NonceStore::try_issue`];
//! 3. receives the token the page posts and checks it with
//!    [`Validator::validate_with_nonce_store`], which spends the session's nonce whatever the
//!    outcome (or [`Validator::validate`], given the nonce the site's own store took);
//! 4. binds the account to ([`Identity::anchor_id`], [`Identity::id_nat`]): the idNat survives
//!    card renewal, the anchor keeps another PKI's certificate with the same name out.
//!
//! Checks, cheapest first: token shape and size, certificate keyUsage (digitalSignature), the
//! algorithm against the key type, the signature over origin and challenge; then the path to a
//! configured trust anchor with validity at the given time, extendedKeyUsage (clientAuth) if
//! present (rustls-webpki), the anchor's own validity, the CRL of every issuer in the path
//! (refused when a CA has none, unless opted out), certificate policies, the idNat's syntax.
//! See `README.md` for an integration example, "HTTP integration" (error codes and HTTP
//! statuses, session ids, the complete axum example `examples/axum_login.rs`) and "Testing
//! your integration" (feature `test-util`, `test_util::sign_test_token`, and the test PKI of
//! `testdata/integrator/`).

#![forbid(unsafe_code)]

use std::time::SystemTime;

mod certificate;
mod challenge;
mod error;
mod nonce;
mod revocation;
#[cfg(feature = "test-util")]
pub mod test_util;
mod token;
mod trust;
mod validator;

#[cfg(feature = "redis")]
pub use challenge::{connect_redis, RedisChallengeStore};
pub use challenge::{ChallengeError, ChallengeStore};
pub use error::{http_status, ConfigError, NonceError, VerifyError};
pub use nonce::{IssueError, NonceStore, RandomUnavailable, DEFAULT_MAX_NONCES};
pub use token::MAX_TOKEN_BYTES;
pub use trust::TrustConfig;
pub use validator::Validator;

/// The card holder, from the subject of a certificate that passed every check.
///
/// It serialises (serde) to JSON a page or a session store can use as it is: `not_after` as
/// whole seconds since 1970 (`new Date(not_after * 1000)` in JavaScript) and `certificate_der`
/// as standard base64; it deserialises from the same.
///
/// ```json
/// {"anchor_id": "5d1e...", "id_nat": "810001234567", "surname": "DUPONT", "given_name": "MARIE",
///  "profession": "Médecin", "issuer": "CN=TEST AC IGC-SANTE FORT PERSONNES,...,C=FR",
///  "serial_hex": "1001", "not_after": 2492985600, "certificate_der": "MIIE..."}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The trust anchor the certificate's path ended at: lower-case hex of the SHA-256 of the
    /// anchor's SubjectPublicKeyInfo (DER), as `openssl x509 -pubkey -noout | openssl pkey
    /// -pubin -outform DER | sha256sum` prints it. **Bind accounts to (`anchor_id`, `id_nat`)**:
    /// an idNat alone is only as good as the least careful CA the site trusts.
    pub anchor_id: String,
    /// The subject CN: the national professional id (`8` + RPPS, e.g. "810001234567").
    /// It survives card renewal, unlike the certificate or its serial; bind accounts to it
    /// together with [`Identity::anchor_id`], never alone.
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
    /// The certificate's notAfter (in JSON: seconds since 1970).
    #[serde(with = "json_friendly::unix_seconds")]
    pub not_after: SystemTime,
    /// The certificate, DER (in JSON: standard base64).
    #[serde(with = "json_friendly::base64_bytes")]
    pub certificate_der: Vec<u8>,
}

/// How [`Identity`]'s awkward fields look in JSON.
mod json_friendly {
    pub(crate) mod unix_seconds {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            time: &SystemTime,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            // A certificate's notAfter is in whole seconds, after 1970.
            let seconds = time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            serializer.serialize_u64(seconds)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<SystemTime, D::Error> {
            let seconds = u64::deserialize(deserializer)?;
            UNIX_EPOCH
                .checked_add(Duration::from_secs(seconds))
                .ok_or_else(|| serde::de::Error::custom("not_after out of range"))
        }
    }

    pub(crate) mod base64_bytes {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            bytes: &[u8],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&STANDARD.encode(bytes))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<u8>, D::Error> {
            let text = String::deserialize(deserializer)?;
            STANDARD.decode(text).map_err(serde::de::Error::custom)
        }
    }
}

/// Whether `origin` is one a browser reports and [`Validator::new`] accepts as the site's
/// origin: `https://host[:port]`, ASCII lower case (an IDN host in its `xn--` form), no path,
/// no trailing slash, no `:443`. The error says which of these is wrong.
pub fn check_origin(origin: &str) -> Result<(), ConfigError> {
    validator::check_site_origin(origin)
}

/// Compiles the README's examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Compiles the repository README's server snippet ("Integrating a site") as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadmeDoctests;
