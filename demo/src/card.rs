//! The card login check: challenge nonces and token validation, through `cpx-verify`.

use std::time::SystemTime;

use cpx_verify::{NonceStore, TrustConfig, Validator};

use crate::config::DemoConfig;
use crate::store::LinkedCard;

/// Why a card login was refused, as a stable code (see `messages::SERVER_MESSAGES`) plus
/// English detail for the server log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct CardCheckFailure {
    pub code: &'static str,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustSetupError {
    #[error("trust configuration refused: {0}")]
    Trust(#[from] cpx_verify::ConfigError),
}

pub struct CardChecker {
    validator: Validator,
    nonces: NonceStore,
    /// The site's own origin, from the configuration: the only origin a token may be for.
    origin: String,
}

impl CardChecker {
    pub fn new(config: &DemoConfig) -> Result<Self, TrustSetupError> {
        let trust = TrustConfig::new(config.trust_anchors_der.clone())?
            .with_crls(config.crls_der.clone())?;
        Ok(Self {
            validator: Validator::new(trust),
            nonces: NonceStore::new(config.nonce_lifetime),
            origin: config.origin.clone(),
        })
    }

    /// A fresh challenge for this session, replacing any earlier one.
    pub fn issue_nonce(&self, session_id: &str) -> Result<String, CardCheckFailure> {
        self.nonces
            .try_issue(session_id)
            .map_err(|_| CardCheckFailure {
                code: "ERR_SERVER",
                detail: "the operating system's random generator failed".to_owned(),
            })
    }

    /// Forgets the session's challenge (the session is ending).
    pub fn forget_nonce(&self, session_id: &str) {
        self.nonces.forget(session_id);
    }

    /// Checks a token against the challenge this session was given (single use: consumed
    /// whatever the outcome) and this site's origin; returns the card it proves.
    pub fn check(
        &self,
        session_id: &str,
        issued_nonce: &str,
        token_json: &[u8],
        now: SystemTime,
    ) -> Result<LinkedCard, CardCheckFailure> {
        self.nonces
            .consume(session_id, issued_nonce)
            .map_err(|error| CardCheckFailure {
                code: error.code(),
                detail: error.to_string(),
            })?;
        let identity = self
            .validator
            .validate(token_json, &self.origin, issued_nonce, now)
            .map_err(|error| CardCheckFailure {
                code: error.code(),
                detail: error.to_string(),
            })?;
        Ok(LinkedCard {
            id_nat: identity.id_nat,
            surname: identity.surname,
            given_name: identity.given_name,
            profession: identity.profession,
            issuer: identity.issuer,
            serial_hex: identity.serial_hex,
            not_after: identity.not_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use cpx_verify::{NonceError, VerifyError};

    use crate::messages::{server_message, SERVER_FALLBACK};

    /// Every refusal cpx-verify can report reaches the user as its own French message.
    #[test]
    fn every_verifier_code_has_a_message() {
        let why = || "test".to_owned();
        let errors = [
            VerifyError::TooLarge { max: 10_240 },
            VerifyError::Malformed {
                field: "signature",
                why: why(),
            },
            VerifyError::UnsupportedFormat { format: why() },
            VerifyError::UnsupportedAlgorithm { algorithm: why() },
            VerifyError::AlgorithmKeyMismatch {
                algorithm: "ES256",
                key: why(),
            },
            VerifyError::BadSignature,
            VerifyError::CertificateExpired,
            VerifyError::CertificateNotYetValid,
            VerifyError::UntrustedIssuer,
            VerifyError::Revoked,
            VerifyError::CrlExpired,
            VerifyError::RevocationCheckFailed { why: why() },
            VerifyError::WrongKeyUsage,
            VerifyError::WrongExtendedKeyUsage,
            VerifyError::InvalidCertificate { why: why() },
            VerifyError::IdentityIncomplete { missing: "CN" },
            VerifyError::Nonce(NonceError::Unknown),
            VerifyError::Nonce(NonceError::Expired),
            VerifyError::Nonce(NonceError::WrongSession),
            VerifyError::InvalidExpectedOrigin { origin: why() },
            VerifyError::InvalidExpectedNonce,
        ];
        for error in errors {
            assert_ne!(
                server_message(error.code()),
                SERVER_FALLBACK,
                "no message for {}",
                error.code()
            );
        }
    }
}
