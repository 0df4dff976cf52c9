//! The card login check: challenge nonces and token validation, through `cpx-verify`.

use std::sync::Arc;
use std::time::SystemTime;

use cpx_verify::{
    ChallengeError, ChallengeStore, NonceStore, RedisChallengeStore, TrustConfig, Validator,
};

use crate::config::DemoConfig;
use crate::store::LinkedCard;

/// Why a card login was refused, as a stable code (see `cpx_web::messages::SERVER_MESSAGES`) plus
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

impl CardChecker {
    /// How many challenges are outstanding (for tests and monitoring).
    /// (0 with a shared store, which counts nothing locally.)
    pub fn outstanding_nonces(&self) -> usize {
        match &self.challenges {
            Challenges::Memory(store) => store.len(),
            Challenges::Redis(_) => 0,
        }
    }
}

/// The in-memory challenge store: room for one challenge per session the session store can
/// hold, so that it cannot be full while sessions are not (a session's challenge leaves with
/// the session, see `web::AppState::with_store`).
pub fn memory_challenges(config: &DemoConfig) -> NonceStore {
    let sessions = config
        .max_anonymous_sessions
        .saturating_add(config.max_signed_in_sessions);
    NonceStore::with_capacity(
        config.nonce_lifetime,
        usize::try_from(sessions).unwrap_or(usize::MAX),
    )
}

/// Where the challenges live: this process's memory (the default), or Redis, shared by every
/// instance of the site.
pub enum Challenges {
    /// Shared with the session store, which drops a session's challenge with the session.
    Memory(Arc<NonceStore>),
    Redis(RedisChallengeStore),
}

pub struct CardChecker {
    validator: Validator,
    /// The challenges, bound to browser session ids: the only place a challenge lives, so
    /// issuing one is a single atomic update.
    challenges: Challenges,
}

impl CardChecker {
    /// With an in-memory challenge store of its own.
    pub fn new(config: &DemoConfig) -> Result<Self, TrustSetupError> {
        Self::with_challenges(
            config,
            Challenges::Memory(Arc::new(memory_challenges(config))),
        )
    }

    pub fn with_challenges(
        config: &DemoConfig,
        challenges: Challenges,
    ) -> Result<Self, TrustSetupError> {
        let mut trust = TrustConfig::new(config.trust_anchors_der.clone())?
            .with_intermediates(config.intermediates_der.clone())?
            .with_crls(config.crls_der.clone())?;
        // No --policy: any policy (cpx-verify refuses an empty list, which says nothing).
        if !config.certificate_policies.is_empty() {
            trust = trust.with_certificate_policies(&config.certificate_policies)?;
        }
        for ca in &config.no_crl_for_der {
            trust = trust.without_crl_for(ca.clone());
        }
        if config.allow_test_anchors {
            trust = trust.allow_test_anchors();
        }
        Ok(Self {
            // The site's own origin, from the configuration: the only origin a token may be for.
            validator: Validator::new(trust, &config.origin)?,
            challenges,
        })
    }

    /// Replaces the CRLs in force; on error the previous ones stay. Returns how many CAs have one.
    pub fn replace_crls(&self, crls_der: Vec<Vec<u8>>) -> Result<usize, TrustSetupError> {
        Ok(self.validator.replace_crls(crls_der)?)
    }

    /// A fresh challenge for this session, replacing any earlier one.
    pub async fn issue_nonce(&self, session_id: &str) -> Result<String, CardCheckFailure> {
        let issued = match &self.challenges {
            Challenges::Memory(store) => ChallengeStore::issue(store.as_ref(), session_id).await,
            Challenges::Redis(store) => store.issue(session_id).await,
        };
        issued.map_err(|error| CardCheckFailure {
            code: match error {
                ChallengeError::RandomUnavailable => "ERR_SERVER",
                _ => error.code(),
            },
            detail: error.to_string(),
        })
    }

    /// Forgets the session's challenge (the session is ending).
    pub async fn forget_nonce(&self, session_id: &str) {
        let _ = match &self.challenges {
            Challenges::Memory(store) => ChallengeStore::take(store.as_ref(), session_id).await,
            Challenges::Redis(store) => store.take(session_id).await,
        };
    }

    /// Checks a token against the challenge this session was given (single use: taken out
    /// whatever the outcome, once across all instances sharing the store) and this site's
    /// origin; returns the card it proves.
    pub async fn check(
        &self,
        session_id: &str,
        token_json: &[u8],
        now: SystemTime,
    ) -> Result<LinkedCard, CardCheckFailure> {
        let validated = match &self.challenges {
            Challenges::Memory(store) => {
                self.validator
                    .validate_with_challenge_store(token_json, store.as_ref(), session_id, now)
                    .await
            }
            Challenges::Redis(store) => {
                self.validator
                    .validate_with_challenge_store(token_json, store, session_id, now)
                    .await
            }
        };
        let identity = validated.map_err(|error| CardCheckFailure {
            code: match error {
                cpx_verify::VerifyError::Nonce(cpx_verify::NonceError::Unknown) => {
                    "ERR_NONCE_MISSING"
                }
                _ => error.code(),
            },
            detail: error.to_string(),
        })?;
        Ok(LinkedCard {
            anchor_id: identity.anchor_id,
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
    use crate::messages::{server_message, SERVER_FALLBACK};

    /// Every refusal cpx-verify can report reaches the user as its own French message.
    #[test]
    fn every_verifier_code_has_a_message() {
        let errors = cpx_verify::test_util::every_verify_error();
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
