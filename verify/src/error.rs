//! The errors of this crate: one enum for configuration, one for validation, one for nonces.

use thiserror::Error;

/// A problem with the configuration given to [`crate::TrustConfig`] and
/// [`crate::Validator::new`]: found once, at start-up (or at [`crate::Validator::replace_crls`]).
///
/// Each variant has a stable code ([`ConfigError::code`]); the `Display` text, for the
/// operator's log, names the method that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("no trust anchor was given (TrustConfig::new needs at least one CA certificate)")]
    NoTrustAnchors,
    #[error("trust anchor #{index} is not a usable X.509 certificate (TrustConfig::new): {why}")]
    InvalidTrustAnchor { index: usize, why: String },
    #[error("intermediate certificate #{index} is not a usable X.509 certificate (with_intermediates): {why}")]
    InvalidIntermediate { index: usize, why: String },
    #[error("CRL #{index} is not a usable X.509 v2 CRL (with_crls / replace_crls): {why}")]
    InvalidCrl { index: usize, why: String },
    /// A CRL whose issuer is none of the configured CAs, or whose signature none of the
    /// configured CAs of that name made (a CRL of a CA that was not configured, or of the
    /// previous key of a renewed CA).
    #[error("CRL #{index} (issuer {issuer}) was not signed by any configured CA: configure that CA (TrustConfig::new or with_intermediates) or leave its CRL out of with_crls")]
    CrlMatchesNoCa { index: usize, issuer: String },
    /// A configured CA (anchor or intermediate) with no CRL and no opt-out: every certificate
    /// it issues would be refused with `ERR_REVOCATION_UNKNOWN`.
    #[error("no CRL covers the CA {subject}: give its CRL with with_crls, or accept its certificates without one with without_crl_for")]
    CaWithoutCrl { subject: String },
    /// The site origin given to [`crate::Validator::new`] is not one a browser reports.
    #[error("the site origin {origin:?} is not of the form https://host[:port]: {why}")]
    InvalidSiteOrigin { origin: String, why: &'static str },
    /// A CRL older than another of the same CA (an earlier thisUpdate or a lower CRL number):
    /// than the one in force ([`crate::Validator::replace_crls`]), or than another of the same
    /// list that is newer by the other measure.
    #[error("CRL #{index} of {issuer} is a rollback: {why}; fetch the CA's current CRL (with_crls / replace_crls)")]
    CrlRollback {
        index: usize,
        issuer: String,
        why: String,
    },
    /// A CA named for accepting certificates without a CRL is unusable or not configured.
    #[error("CA #{index} given to without_crl_for: {why}")]
    InvalidNoCrlCa { index: usize, why: String },
    /// A trust anchor or intermediate is a test CA and the configuration did not allow them.
    #[error("{subject} is a test CA: refused unless allowed explicitly with allow_test_anchors (never in production)")]
    TestAnchorNotAllowed { subject: String },
    #[error(
        "{oid:?} is not a certificate policy OID (dotted decimal) (with_certificate_policies)"
    )]
    InvalidPolicyOid { oid: String },
    #[error("the list of accepted certificate policies is empty: give with_certificate_policies at least one OID, or do not call it to accept any policy")]
    NoPolicyOid,
}

impl ConfigError {
    /// A stable code, e.g. for a start-up health check or a monitoring rule.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::NoTrustAnchors => "ERR_CONFIG_NO_TRUST_ANCHOR",
            ConfigError::InvalidTrustAnchor { .. } => "ERR_CONFIG_TRUST_ANCHOR_INVALID",
            ConfigError::InvalidIntermediate { .. } => "ERR_CONFIG_INTERMEDIATE_INVALID",
            ConfigError::InvalidCrl { .. } => "ERR_CONFIG_CRL_INVALID",
            ConfigError::CrlMatchesNoCa { .. } => "ERR_CONFIG_CRL_NO_CA",
            ConfigError::CrlRollback { .. } => "ERR_CONFIG_CRL_ROLLBACK",
            ConfigError::CaWithoutCrl { .. } => "ERR_CONFIG_CA_WITHOUT_CRL",
            ConfigError::InvalidSiteOrigin { .. } => "ERR_CONFIG_ORIGIN_INVALID",
            ConfigError::InvalidNoCrlCa { .. } => "ERR_CONFIG_NO_CRL_CA_INVALID",
            ConfigError::TestAnchorNotAllowed { .. } => "ERR_CONFIG_TEST_ANCHOR",
            ConfigError::InvalidPolicyOid { .. } => "ERR_CONFIG_POLICY_OID_INVALID",
            ConfigError::NoPolicyOid => "ERR_CONFIG_POLICY_LIST_EMPTY",
        }
    }
}

/// Why a challenge nonce was refused by [`crate::NonceStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NonceError {
    /// Never issued, already used, or replaced by a newer nonce for the same session.
    #[error("the challenge nonce is unknown or was already used")]
    Unknown,
    #[error("the challenge nonce has expired")]
    Expired,
    /// Issued to another browser session.
    #[error("the challenge nonce was issued to another session")]
    WrongSession,
    /// The store holds as many outstanding challenges as it may: none is issued until some
    /// are used or expire.
    #[error("too many outstanding challenge nonces")]
    StoreFull,
}

impl NonceError {
    /// A stable code a site can map to a message.
    pub fn code(&self) -> &'static str {
        match self {
            NonceError::Unknown => "ERR_NONCE_UNKNOWN",
            NonceError::Expired => "ERR_NONCE_EXPIRED",
            NonceError::WrongSession => "ERR_NONCE_WRONG_SESSION",
            NonceError::StoreFull => "ERR_NONCE_STORE_FULL",
        }
    }
}

/// Why a token was refused by [`crate::Validator`].
///
/// Each variant has a stable code ([`VerifyError::code`]); the `Display` text is English, for logs.
/// Codes are append-only: a site may map them to its own messages.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is larger than [`crate::MAX_TOKEN_BYTES`].
    #[error("the token is larger than {max} bytes")]
    TooLarge { max: usize },
    /// The token is not a JSON object, or a field is missing, of the wrong type or badly encoded.
    #[error("malformed token field `{field}`: {why}")]
    Malformed { field: &'static str, why: String },
    /// `format` is a string but not `web-eid:1` or `web-eid:1.x`.
    #[error("unsupported token format `{format}` (expected web-eid:1)")]
    UnsupportedFormat { format: String },
    /// `algorithm` is a string but not one this verifier knows.
    #[error("unsupported signature algorithm `{algorithm}`")]
    UnsupportedAlgorithm { algorithm: String },
    /// `algorithm` names a key type the certificate does not have (e.g. ES256 with an RSA key).
    #[error("signature algorithm {algorithm} does not match the certificate's {key} key")]
    AlgorithmKeyMismatch {
        algorithm: &'static str,
        key: String,
    },
    /// The signature does not verify for this origin and nonce with the certificate's key:
    /// a token made for another site or another challenge, or altered.
    #[error("the signature does not match the expected origin and challenge nonce")]
    BadSignature,
    /// The certificate (or a CA above it) is expired at the validation time.
    #[error("the certificate or one of its issuers has expired")]
    CertificateExpired,
    /// The certificate (or a CA above it) is not valid yet at the validation time.
    #[error("the certificate or one of its issuers is not valid yet")]
    CertificateNotYetValid,
    /// No path from the certificate to a configured trust anchor.
    #[error("the certificate is not issued by a trusted certification authority")]
    UntrustedIssuer,
    /// The certificate or one of its issuers is listed in a configured CRL.
    #[error("the certificate or one of its issuers has been revoked")]
    Revoked,
    /// A configured CRL that applies to this chain is past its nextUpdate time: refresh the CRLs.
    #[error("the certificate revocation list of the issuer has expired")]
    CrlExpired,
    /// A configured CRL that applies to this chain could not be used (bad signature, unsupported).
    #[error("the revocation status could not be checked: {why}")]
    RevocationCheckFailed { why: String },
    /// No CRL of the configured ones covers a CA of the path, and that CA was not explicitly
    /// accepted without one: the certificate's revocation status is unknown.
    #[error("no CRL covers the certification authority {issuer}")]
    RevocationUnknown { issuer: String },
    /// The certificate names none of the certificate policies the site accepts.
    #[error("the certificate's policies are not among those accepted")]
    PolicyNotAllowed,
    /// The challenge store did not answer (e.g. Redis down): nothing was checked.
    #[error("the challenge store is unavailable: {why}")]
    ChallengeStoreUnavailable { why: String },
    /// The subject CN is not a national professional id (idNat).
    #[error("the certificate's CN {id_nat:?} is not an idNat")]
    IdNatInvalid { id_nat: String },
    /// The certificate has no keyUsage extension, or one without digitalSignature.
    #[error("the certificate is not meant for digital signature (keyUsage)")]
    WrongKeyUsage,
    /// The certificate has an extendedKeyUsage extension without clientAuth.
    #[error("the certificate is not meant for client authentication (extendedKeyUsage)")]
    WrongExtendedKeyUsage,
    /// The certificate parses but is not acceptable as a user certificate (a CA certificate,
    /// an unsupported critical extension, ...).
    #[error("the certificate is not acceptable: {why}")]
    InvalidCertificate { why: String },
    /// The certificate subject has no CN (the idNat).
    #[error("the certificate subject carries no {missing}")]
    IdentityIncomplete { missing: &'static str },
    /// The nonce presented with the token was refused by the [`crate::NonceStore`].
    #[error(transparent)]
    Nonce(#[from] NonceError),
    /// An origin that no browser would report (not `https://host[:port]` in lower case without
    /// path or trailing slash): a site bug. No longer returned since the site's origin is
    /// checked once by [`crate::Validator::new`] ([`ConfigError::InvalidSiteOrigin`]); the
    /// code stays, codes being append-only.
    #[error("the expected origin `{origin}` is not of the form https://host[:port]")]
    InvalidExpectedOrigin { origin: String },
    /// The caller passed an `expected_nonce` that the host would refuse (44 to 128 base64 characters).
    #[error("the expected challenge nonce is not 44 to 128 base64 characters")]
    InvalidExpectedNonce,
}

impl VerifyError {
    /// A stable code a site can map to a message (the host's style: `ERR_...`).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::TooLarge { .. } => "ERR_TOKEN_TOO_LARGE",
            VerifyError::Malformed { .. } => "ERR_TOKEN_MALFORMED",
            VerifyError::UnsupportedFormat { .. } => "ERR_TOKEN_FORMAT_UNSUPPORTED",
            VerifyError::UnsupportedAlgorithm { .. } => "ERR_ALGORITHM_UNSUPPORTED",
            VerifyError::AlgorithmKeyMismatch { .. } => "ERR_ALGORITHM_KEY_MISMATCH",
            VerifyError::BadSignature => "ERR_SIGNATURE_INVALID",
            VerifyError::CertificateExpired => "ERR_CERTIFICATE_EXPIRED",
            VerifyError::CertificateNotYetValid => "ERR_CERTIFICATE_NOT_YET_VALID",
            VerifyError::UntrustedIssuer => "ERR_CERTIFICATE_UNTRUSTED",
            VerifyError::Revoked => "ERR_CERTIFICATE_REVOKED",
            VerifyError::CrlExpired => "ERR_CRL_EXPIRED",
            VerifyError::RevocationCheckFailed { .. } => "ERR_REVOCATION_CHECK_FAILED",
            VerifyError::WrongKeyUsage => "ERR_CERTIFICATE_KEY_USAGE",
            VerifyError::WrongExtendedKeyUsage => "ERR_CERTIFICATE_EXTENDED_KEY_USAGE",
            VerifyError::InvalidCertificate { .. } => "ERR_CERTIFICATE_INVALID",
            VerifyError::IdentityIncomplete { .. } => "ERR_IDENTITY_INCOMPLETE",
            VerifyError::RevocationUnknown { .. } => "ERR_REVOCATION_UNKNOWN",
            VerifyError::PolicyNotAllowed => "ERR_CERTIFICATE_POLICY",
            VerifyError::IdNatInvalid { .. } => "ERR_IDNAT_INVALID",
            VerifyError::ChallengeStoreUnavailable { .. } => "ERR_CHALLENGE_STORE_UNAVAILABLE",
            VerifyError::Nonce(nonce_error) => nonce_error.code(),
            VerifyError::InvalidExpectedOrigin { .. } => "ERR_VERIFIER_ORIGIN_INVALID",
            VerifyError::InvalidExpectedNonce => "ERR_VERIFIER_NONCE_INVALID",
        }
    }
}

/// The HTTP status a site answers a refused login with, for any code of this crate
/// (`VerifyError`, `NonceError`, `IssueError`, `ChallengeError`): the table "Error codes and
/// HTTP statuses" of the README, which a test checks against this function. A code added later
/// gets 401, as the README tells sites to do with codes they do not know.
pub fn http_status(code: &str) -> u16 {
    match code {
        // The request is not a token this site can read.
        "ERR_TOKEN_TOO_LARGE"
        | "ERR_TOKEN_MALFORMED"
        | "ERR_TOKEN_FORMAT_UNSUPPORTED"
        | "ERR_ALGORITHM_UNSUPPORTED" => 400,
        // The site's own state or configuration: the user can only try later.
        "ERR_CRL_EXPIRED"
        | "ERR_REVOCATION_UNKNOWN"
        | "ERR_NONCE_STORE_FULL"
        | "ERR_CHALLENGE_STORE_UNAVAILABLE" => 503,
        "ERR_REVOCATION_CHECK_FAILED"
        | "ERR_RANDOM_UNAVAILABLE"
        | "ERR_VERIFIER_ORIGIN_INVALID"
        | "ERR_VERIFIER_NONCE_INVALID" => 500,
        // The card, its certificate or the challenge was refused.
        _ => 401,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::ChallengeError;
    use crate::nonce::{IssueError, RandomUnavailable};
    use crate::test_util::every_verify_error;

    fn every_nonce_error() -> Vec<NonceError> {
        let all = vec![
            NonceError::Unknown,
            NonceError::Expired,
            NonceError::WrongSession,
            NonceError::StoreFull,
        ];
        for error in &all {
            match error {
                NonceError::Unknown
                | NonceError::Expired
                | NonceError::WrongSession
                | NonceError::StoreFull => {}
            }
        }
        all
    }

    /// Every code a login can end with: the validator's, the nonce store's, `try_issue`'s and
    /// the challenge stores'.
    fn every_login_code() -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = every_verify_error().iter().map(|e| e.code()).collect();
        codes.extend(every_nonce_error().iter().map(NonceError::code));
        for issue_error in [
            IssueError::RandomUnavailable(RandomUnavailable),
            IssueError::Full(NonceError::StoreFull),
        ] {
            codes.push(issue_error.code());
        }
        for challenge_error in [
            ChallengeError::Nonce(NonceError::Expired),
            ChallengeError::RandomUnavailable,
            ChallengeError::Unavailable { why: String::new() },
        ] {
            codes.push(challenge_error.code());
        }
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// The codes of the README's "Error codes and HTTP statuses" table, one per row.
    fn readme_table_codes() -> Vec<String> {
        let readme = include_str!("../README.md");
        let Some(section) = readme.split("### Error codes and HTTP statuses").nth(1) else {
            return Vec::new();
        };
        section
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| {
                let code = line.split('|').nth(1)?.trim();
                Some(code.strip_prefix('`')?.strip_suffix('`')?.to_owned())
            })
            .collect()
    }

    /// Codes are what a site matches on: one per variant, `ERR_` and upper case.
    #[test]
    fn error_codes_are_distinct_and_stable_in_form() {
        let errors = every_verify_error();
        let codes: std::collections::BTreeSet<&str> =
            errors.iter().map(VerifyError::code).collect();
        assert_eq!(codes.len(), errors.len(), "{codes:?}");
        for code in every_login_code() {
            assert!(code.starts_with("ERR_"), "{code}");
            assert!(
                code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn every_code_has_a_row_in_the_readme_http_table() {
        let table = readme_table_codes();
        let missing: Vec<&str> = every_login_code()
            .into_iter()
            .filter(|code| !table.iter().any(|row| row == code))
            .collect();
        assert!(
            missing.is_empty(),
            "verify/README.md, \"Error codes and HTTP statuses\", has no row for {missing:?}"
        );
    }

    #[test]
    fn the_readme_http_table_names_only_real_codes_once() {
        let codes = every_login_code();
        let mut table = readme_table_codes();
        for row in &table {
            assert!(
                codes.contains(&row.as_str()),
                "{row} is no code of this crate"
            );
        }
        let rows = table.len();
        table.sort_unstable();
        table.dedup();
        assert_eq!(table.len(), rows, "a code has two rows");
    }
}
