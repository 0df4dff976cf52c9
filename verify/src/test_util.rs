//! Test material for integrators (feature `test-util`): a test PKI shaped like IGC-Santé, test
//! cards with their private keys, and tokens signed as the card would sign them, so that a
//! site's own tests can log a card in without a card, a reader or a browser.
//!
//! ```toml
//! [dev-dependencies]
//! cpx-verify = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! ```
//! use std::time::SystemTime;
//! use cpx_verify::test_util::{sign_test_token, test_trust_config, TestCard};
//! use cpx_verify::{NonceStore, Validator};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = Validator::new(test_trust_config()?, "https://localhost:8443")?;
//! let nonces = NonceStore::default();
//! let nonce = nonces.try_issue("session-1")?;
//! let token = sign_test_token("https://localhost:8443", &nonce, &TestCard::valid())?;
//! let identity =
//!     validator.validate_with_nonce_store(&token, &nonces, "session-1", SystemTime::now())?;
//! assert_eq!(identity.id_nat, "810001234567");
//! # Ok(())
//! # }
//! ```
//!
//! **Never in production**: these CAs are test CAs (refused unless
//! [`TrustConfig::allow_test_anchors`]), and their users' private keys are public. The PKI and
//! the holders [`TestCard::valid`] and [`TestCard::revoked`] are the files of
//! `verify/testdata/integrator` (see its README, and "Testing your integration" in
//! `verify/README.md`), for tests that read files or are not written in Rust; the other test
//! cards come from this crate's own test PKI, `verify/tests/fixtures`. All are made by
//! `verify/tests/fixtures/generate.sh`; their CRLs are valid for 20 years from generation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};

use crate::{ConfigError, NonceError, TrustConfig, VerifyError};

/// The test root (`CN=TEST AC RACINE IGC-SANTE FORT`), DER: the trust anchor.
pub const TEST_ROOT_CA_DER: &[u8] = include_bytes!("../testdata/integrator/root-ca.der");
/// The issuing test CA (`CN=TEST AC IGC-SANTE FORT PERSONNES`), DER: the intermediate.
pub const TEST_ISSUING_CA_DER: &[u8] = include_bytes!("../testdata/integrator/issuing-ca.der");
/// The issuing CA's CRL, DER: it revokes [`TestCard::revoked`].
pub const TEST_ISSUING_CA_CRL_DER: &[u8] =
    include_bytes!("../testdata/integrator/issuing-ca.crl.der");
/// The root's CRL (ARL), DER: it revokes nothing.
pub const TEST_ROOT_CA_CRL_DER: &[u8] = include_bytes!("../testdata/integrator/root-ca.crl.der");

/// The test PKI as a production site would configure IGC-Santé: the root as anchor, the issuing
/// CA as intermediate, the CRLs of both, and test anchors allowed.
pub fn test_trust_config() -> Result<TrustConfig, ConfigError> {
    Ok(TrustConfig::new(vec![TEST_ROOT_CA_DER.to_vec()])?
        .with_intermediates(vec![TEST_ISSUING_CA_DER.to_vec()])?
        .with_crls(vec![
            TEST_ISSUING_CA_CRL_DER.to_vec(),
            TEST_ROOT_CA_CRL_DER.to_vec(),
        ])?
        .allow_test_anchors())
}

/// A test card: its authentication certificate and private key (PKCS#8), both DER. Every one
/// but [`TestCard::ec_p256`] has an RSA-2048 key and signs RS256, as CPS3 and CPS4 cards do.
/// Subject `C=FR, title=Médecin, CN=810001234567+SN=DUPONT+GN=MARIE` unless said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub certificate_der: &'static [u8],
    pub private_key_pkcs8_der: &'static [u8],
    key: KeyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
}

impl TestCard {
    /// Accepted: idNat `810001234567`, valid 2025 to 2048 (`testdata/integrator/holder.der`).
    pub fn valid() -> Self {
        TestCard {
            certificate_der: include_bytes!("../testdata/integrator/holder.der"),
            private_key_pkcs8_der: include_bytes!("../testdata/integrator/holder.key.der"),
            key: KeyKind::Rsa,
        }
    }

    /// Revoked in [`TEST_ISSUING_CA_CRL_DER`]: refused with `ERR_CERTIFICATE_REVOKED`
    /// (`testdata/integrator/revoked-holder.der`).
    pub fn revoked() -> Self {
        TestCard {
            certificate_der: include_bytes!("../testdata/integrator/revoked-holder.der"),
            private_key_pkcs8_der: include_bytes!("../testdata/integrator/revoked-holder.key.der"),
            key: KeyKind::Rsa,
        }
    }

    /// Expired in 2022: refused with `ERR_CERTIFICATE_EXPIRED`.
    pub fn expired() -> Self {
        TestCard {
            certificate_der: include_bytes!("../tests/fixtures/leaf-expired.der"),
            private_key_pkcs8_der: include_bytes!("../tests/fixtures/leaf-expired.key.der"),
            key: KeyKind::Rsa,
        }
    }

    /// Issued by a CA outside the test PKI: refused with `ERR_CERTIFICATE_UNTRUSTED`.
    pub fn untrusted() -> Self {
        TestCard {
            certificate_der: include_bytes!("../tests/fixtures/leaf-other-ca.der"),
            private_key_pkcs8_der: include_bytes!("../tests/fixtures/leaf-other-ca.key.der"),
            key: KeyKind::Rsa,
        }
    }

    /// The test-card layout of ANS's test cards (`CN=00B7010446`, profession in the OU).
    pub fn test_card_layout() -> Self {
        TestCard {
            certificate_der: include_bytes!("../tests/fixtures/leaf-test-card.der"),
            private_key_pkcs8_der: include_bytes!("../tests/fixtures/leaf-test-card.key.der"),
            key: KeyKind::Rsa,
        }
    }

    /// An EC P-256 key: signs ES256.
    pub fn ec_p256() -> Self {
        TestCard {
            certificate_der: include_bytes!("../tests/fixtures/leaf-ec-p256.der"),
            private_key_pkcs8_der: include_bytes!("../tests/fixtures/leaf-ec-p256.key.der"),
            key: KeyKind::EcP256,
        }
    }
}

/// Why a test token could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot sign a test token: {0}")]
pub struct TestTokenError(String);

/// The token the CPx Connect extension would post for `card` after a login on the page of
/// `origin` with the challenge `nonce`: Web eID JSON, the signature over
/// `SHA-256(origin) || SHA-256(nonce)` made with the card's test key (RS256, or ES256 for
/// [`TestCard::ec_p256`]).
pub fn sign_test_token(
    origin: &str,
    nonce: &str,
    card: &TestCard,
) -> Result<Vec<u8>, TestTokenError> {
    let message = [
        ring::digest::digest(&ring::digest::SHA256, origin.as_bytes()).as_ref(),
        ring::digest::digest(&ring::digest::SHA256, nonce.as_bytes()).as_ref(),
    ]
    .concat();
    let random = SystemRandom::new();
    let failed = |error: &dyn std::fmt::Display| TestTokenError(error.to_string());
    let (algorithm, signature) = match card.key {
        KeyKind::Rsa => {
            let key = RsaKeyPair::from_pkcs8(card.private_key_pkcs8_der)
                .map_err(|error| failed(&error))?;
            let mut signature = vec![0u8; key.public().modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &random, &message, &mut signature)
                .map_err(|error| failed(&error))?;
            ("RS256", signature)
        }
        KeyKind::EcP256 => {
            let key = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                card.private_key_pkcs8_der,
                &random,
            )
            .map_err(|error| failed(&error))?;
            // FIXED: raw R || S, the form Web eID carries.
            let signature = key
                .sign(&random, &message)
                .map_err(|error| failed(&error))?;
            ("ES256", signature.as_ref().to_vec())
        }
    };
    serde_json::to_vec(&serde_json::json!({
        "format": "web-eid:1.0",
        "unverifiedCertificate": STANDARD.encode(card.certificate_der),
        "algorithm": algorithm,
        "signature": STANDARD.encode(signature),
        "appVersion": "https://cpxconnect.test/cpx-connect/releases/test",
    }))
    .map_err(|error| failed(&error))
}

/// One value of every variant of [`VerifyError`], for tests that must cover each refusal (a
/// message per code, an HTTP status per code). The match has no wildcard: a new variant does not
/// compile until it is added here, and so reaches every such test.
pub fn every_verify_error() -> Vec<VerifyError> {
    let all = vec![
        VerifyError::TooLarge { max: 1 },
        VerifyError::Malformed {
            field: "format",
            why: String::new(),
        },
        VerifyError::UnsupportedFormat {
            format: String::new(),
        },
        VerifyError::UnsupportedAlgorithm {
            algorithm: String::new(),
        },
        VerifyError::AlgorithmKeyMismatch {
            algorithm: "RS256",
            key: String::new(),
        },
        VerifyError::BadSignature,
        VerifyError::CertificateExpired,
        VerifyError::CertificateNotYetValid,
        VerifyError::UntrustedIssuer,
        VerifyError::Revoked,
        VerifyError::CrlExpired,
        VerifyError::RevocationCheckFailed { why: String::new() },
        VerifyError::RevocationUnknown {
            issuer: String::new(),
        },
        VerifyError::PolicyNotAllowed,
        VerifyError::ChallengeStoreUnavailable { why: String::new() },
        VerifyError::IdNatInvalid {
            id_nat: String::new(),
        },
        VerifyError::WrongKeyUsage,
        VerifyError::WrongExtendedKeyUsage,
        VerifyError::InvalidCertificate { why: String::new() },
        VerifyError::IdentityIncomplete { missing: "CN" },
        VerifyError::Nonce(NonceError::Unknown),
        VerifyError::Nonce(NonceError::Expired),
        VerifyError::Nonce(NonceError::WrongSession),
        VerifyError::Nonce(NonceError::StoreFull),
        VerifyError::InvalidExpectedOrigin {
            origin: String::new(),
        },
        VerifyError::InvalidExpectedNonce,
    ];
    for error in &all {
        match error {
            VerifyError::TooLarge { .. }
            | VerifyError::Malformed { .. }
            | VerifyError::UnsupportedFormat { .. }
            | VerifyError::UnsupportedAlgorithm { .. }
            | VerifyError::AlgorithmKeyMismatch { .. }
            | VerifyError::BadSignature
            | VerifyError::CertificateExpired
            | VerifyError::CertificateNotYetValid
            | VerifyError::UntrustedIssuer
            | VerifyError::Revoked
            | VerifyError::CrlExpired
            | VerifyError::RevocationCheckFailed { .. }
            | VerifyError::RevocationUnknown { .. }
            | VerifyError::PolicyNotAllowed
            | VerifyError::ChallengeStoreUnavailable { .. }
            | VerifyError::IdNatInvalid { .. }
            | VerifyError::WrongKeyUsage
            | VerifyError::WrongExtendedKeyUsage
            | VerifyError::InvalidCertificate { .. }
            | VerifyError::IdentityIncomplete { .. }
            | VerifyError::Nonce(
                NonceError::Unknown
                | NonceError::Expired
                | NonceError::WrongSession
                | NonceError::StoreFull,
            )
            | VerifyError::InvalidExpectedOrigin { .. }
            | VerifyError::InvalidExpectedNonce => {}
        }
    }
    all
}

#[cfg(test)]
mod tests {
    /// The integrators' files are copies of this crate's test PKI (generate.sh copies them):
    /// a regeneration that forgot them would make two PKIs.
    #[test]
    fn the_integrator_files_are_the_test_pki() {
        let pairs: [(&[u8], &[u8]); 8] = [
            (
                include_bytes!("../testdata/integrator/root-ca.der"),
                include_bytes!("../tests/fixtures/root-ca.der"),
            ),
            (
                include_bytes!("../testdata/integrator/root-ca.crl.der"),
                include_bytes!("../tests/fixtures/root-ca.crl.der"),
            ),
            (
                include_bytes!("../testdata/integrator/issuing-ca.der"),
                include_bytes!("../tests/fixtures/ca.der"),
            ),
            (
                include_bytes!("../testdata/integrator/issuing-ca.crl.der"),
                include_bytes!("../tests/fixtures/ca.crl.der"),
            ),
            (
                include_bytes!("../testdata/integrator/holder.der"),
                include_bytes!("../tests/fixtures/leaf-valid.der"),
            ),
            (
                include_bytes!("../testdata/integrator/holder.key.der"),
                include_bytes!("../tests/fixtures/leaf-valid.key.der"),
            ),
            (
                include_bytes!("../testdata/integrator/revoked-holder.der"),
                include_bytes!("../tests/fixtures/leaf-revoked.der"),
            ),
            (
                include_bytes!("../testdata/integrator/revoked-holder.key.der"),
                include_bytes!("../tests/fixtures/leaf-revoked.key.der"),
            ),
        ];
        for (index, (integrator, ours)) in pairs.iter().enumerate() {
            assert_eq!(integrator, ours, "integrator file #{index} differs");
        }
    }
}
