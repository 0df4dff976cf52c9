//! Token validation: certificate purpose and path (webpki), then the origin-bound signature.
//!
//! One file on purpose: the checks run in the order written here, cheapest and most decisive first,
//! and that order is part of the security argument; split, it could not be read top to bottom.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use ring::digest;
use webpki::{EndEntityCert, KeyUsage};

use crate::certificate::{KeyType, UserCertificate};
use crate::challenge::{ChallengeError, ChallengeStore};
use crate::error::{ConfigError, VerifyError};
use crate::nonce::NonceStore;
use crate::revocation::{CaKey, CrlSet};
use crate::token::{self, Algorithm, Hash};
use crate::trust::{sha256, TrustConfig};
use crate::Identity;

/// Validates tokens against a [`TrustConfig`]. `Send + Sync`: build one at start-up and share
/// it; its CRLs can be replaced while it serves ([`Validator::replace_crls`]).
#[derive(Debug)]
pub struct Validator {
    trust: TrustConfig,
    /// The site's own origin: the only one a token is checked for.
    origin: String,
    crls: RwLock<Arc<CrlSet>>,
    /// The anchors given to webpki: the configured ones, then each shortcut's own
    /// `webpki_anchor` (see [`Shortcut`]). Only ever searched by content, never by position.
    webpki_anchors: Vec<TrustAnchor<'static>>,
    shortcuts: Vec<Shortcut>,
}

/// An intermediate CA verified once against its anchor, then used by webpki as an anchor so
/// that a card's path costs one certificate signature instead of two (the intermediate's,
/// always the same, is not verified again per token). What webpki then no longer checks for
/// it is checked here: its dates and its anchor's at each validation, its revocation (the
/// anchor's CRL, by serial), its CA flag, keyCertSign and path length (at start-up and per
/// path). Only for anchors without name constraints, which would otherwise be skipped, and for
/// intermediates without an extendedKeyUsage, which webpki checks only on a path's certificates.
///
/// A shortcut carries, in one record, the webpki anchor it stands for, the configured anchor
/// that signed it and its own serial: a path ending at it is matched to this record by the
/// anchor's content, so its revocation is always looked up in its own anchor's CRL.
#[derive(Debug)]
struct Shortcut {
    /// The intermediate as webpki takes it for an anchor.
    webpki_anchor: TrustAnchor<'static>,
    intermediate: usize,
    /// The configured anchor that signed it (index into `TrustConfig::anchors`).
    anchor: usize,
    serial: Vec<u8>,
    /// The intermediate's pathLenConstraint: how many more CAs may sit below it.
    max_cas_below: Option<u8>,
}

impl Validator {
    /// A validator for the site whose origin is `site_origin` (e.g. `"https://example.org"`,
    /// from configuration: never from a request), with the trust configuration checked as a
    /// whole, so that a mistake stops the start instead of failing every login:
    /// - the origin is exactly what a browser reports: `https:`, lower case, no trailing slash,
    ///   no path, no `:443` ([`ConfigError::InvalidSiteOrigin`] says which is wrong);
    /// - no test CA unless [`TrustConfig::allow_test_anchors`];
    /// - every CRL signed by a configured CA (matched by name and key), every opt-out naming a
    ///   configured CA;
    /// - every configured CA (anchor or intermediate) has a CRL ([`TrustConfig::with_crls`])
    ///   or an explicit opt-out ([`TrustConfig::without_crl_for`]).
    pub fn new(trust: TrustConfig, site_origin: &str) -> Result<Self, ConfigError> {
        check_site_origin(site_origin)?;
        if !trust.allow_test_anchors {
            if let Some(test_ca) = trust.all_cas().find(|ca| ca.is_test) {
                return Err(ConfigError::TestAnchorNotAllowed {
                    subject: test_ca.name.clone(),
                });
            }
        }
        let crls = CrlSet::load(&trust, &trust.crls_der)?;
        check_every_ca_covered(&trust, &crls)?;
        let shortcuts = shortcuts(&trust);
        let mut webpki_anchors = trust.anchors.clone();
        webpki_anchors.extend(
            shortcuts
                .iter()
                .map(|shortcut| shortcut.webpki_anchor.clone()),
        );
        Ok(Validator {
            trust,
            origin: site_origin.to_owned(),
            crls: RwLock::new(Arc::new(crls)),
            webpki_anchors,
            shortcuts,
        })
    }

    /// Replaces the CRLs in force (a scheduled refresh, or an operator's signal), after checking
    /// each as at start-up; on error the previous CRLs stay in force. A CRL older than the one
    /// in force for its CA (earlier thisUpdate or lower CRL number) is refused
    /// ([`ConfigError::CrlRollback`]): a stale mirror must not undo a revocation. Returns how
    /// many CAs now have a CRL.
    pub fn replace_crls(&self, crls_der: Vec<Vec<u8>>) -> Result<usize, ConfigError> {
        let loaded = CrlSet::load(&self.trust, &crls_der)?;
        check_every_ca_covered(&self.trust, &loaded)?;
        let count = loaded.len();
        let mut current = self
            .crls
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Compared under the write lock, so that two refreshes racing cannot go backwards.
        loaded.check_not_older_than(&current, &self.trust)?;
        *current = Arc::new(loaded);
        Ok(count)
    }

    /// Checks a token made for this site's origin (given to [`Validator::new`]) and returns the
    /// card holder's identity.
    ///
    /// - `token_json`: the token exactly as the page posted it.
    /// - `expected_nonce`: the challenge nonce this session was given (see [`NonceStore`]); the
    ///   caller makes sure it is fresh and used once, or uses
    ///   [`Validator::validate_with_nonce_store`] which does.
    /// - `now`: the validation time, normally `SystemTime::now()`.
    ///
    /// Cheap checks come first: the token's shape, the certificate's purpose and the signature
    /// over this origin and challenge (one public-key operation) are checked before the path to
    /// an anchor and the CRLs, so a junk token costs little.
    pub fn validate(
        &self,
        token_json: &[u8],
        expected_nonce: &str,
        now: SystemTime,
    ) -> Result<Identity, VerifyError> {
        check_expected_nonce(expected_nonce)?;
        let token = token::parse(token_json)?;

        let user_certificate = UserCertificate::from_der(&token.certificate_der)?;
        let certificate_der = CertificateDer::from(token.certificate_der.as_slice());
        let end_entity =
            EndEntityCert::try_from(&certificate_der).map_err(|error| VerifyError::Malformed {
                field: "unverifiedCertificate",
                why: format!("not a usable X.509 certificate: {error}"),
            })?;

        user_certificate.check_key_usage()?;
        check_algorithm_matches_key(token.algorithm, user_certificate.key_type())?;
        verify_signature(
            &end_entity,
            token.algorithm,
            &token.signature,
            &self.origin,
            expected_nonce,
        )?;

        let anchor_index = self.check_path(&end_entity, now)?;
        user_certificate.check_policies(&self.trust.policies)?;
        let anchor_id = self.trust.anchor_info[anchor_index].key_hash_hex();
        user_certificate.identity(&token.certificate_der, anchor_id)
    }

    /// [`Validator::validate`] with the nonce taken out of `nonces` for `session_id`: the nonce
    /// is spent whether or not the token is valid, so a token can never be replayed, and an
    /// expired or missing nonce is reported as [`VerifyError::Nonce`].
    pub fn validate_with_nonce_store(
        &self,
        token_json: &[u8],
        nonces: &NonceStore,
        session_id: &str,
        now: SystemTime,
    ) -> Result<Identity, VerifyError> {
        let nonce = nonces.take(session_id)?;
        self.validate(token_json, &nonce, now)
    }

    /// [`Validator::validate`] with the challenge taken out of a [`ChallengeStore`] (in memory
    /// or shared, e.g. Redis) for `session_id`: spent whatever the outcome, once across all
    /// the instances sharing the store.
    pub async fn validate_with_challenge_store<S: ChallengeStore>(
        &self,
        token_json: &[u8],
        challenges: &S,
        session_id: &str,
        now: SystemTime,
    ) -> Result<Identity, VerifyError> {
        let nonce = challenges
            .take(session_id)
            .await
            .map_err(|error| match error {
                ChallengeError::Nonce(error) => VerifyError::Nonce(error),
                ChallengeError::RandomUnavailable => VerifyError::ChallengeStoreUnavailable {
                    why: error.to_string(),
                },
                ChallengeError::Unavailable { why } => {
                    VerifyError::ChallengeStoreUnavailable { why }
                }
            })?;
        self.validate(token_json, &nonce, now)
    }

    /// The site origin tokens are checked for.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The trust configuration this validator uses.
    pub fn trust(&self) -> &TrustConfig {
        &self.trust
    }

    /// The path from the user certificate to an anchor: signatures, validity at `now` of every
    /// certificate in it and of the anchor, clientAuth where an EKU extension is present, then
    /// every certificate of the path against its issuer's CRL. Returns the anchor's index.
    fn check_path(
        &self,
        end_entity: &EndEntityCert<'_>,
        now: SystemTime,
    ) -> Result<usize, VerifyError> {
        // A clock before 1970 is treated as 1970: every certificate is then "not yet valid".
        let time = UnixTime::since_unix_epoch(now.duration_since(UNIX_EPOCH).unwrap_or_default());
        let path = end_entity
            .verify_for_usage(
                // Includes RSA PKCS#1 v1.5 with SHA-256, what IGC-Santé CAs sign with.
                webpki::ALL_VERIFICATION_ALGS,
                &self.webpki_anchors,
                &self.trust.intermediates,
                time,
                KeyUsage::client_auth(),
                // Revocation is checked below, against CRLs matched by issuer name and key.
                None,
                None,
            )
            .map_err(path_error)?;

        let ended_at = path.anchor();
        let same = |candidate: &TrustAnchor<'_>| {
            candidate.subject_public_key_info.as_ref() == ended_at.subject_public_key_info.as_ref()
                && candidate.subject.as_ref() == ended_at.subject.as_ref()
        };
        // A configured anchor, else the shortcut whose own record holds this anchor.
        let (anchor_index, shortcut) = match self.trust.anchors.iter().position(same) {
            Some(index) => (index, None),
            None => {
                let shortcut = self
                    .shortcuts
                    .iter()
                    .find(|shortcut| same(&shortcut.webpki_anchor))
                    .ok_or_else(|| VerifyError::InvalidCertificate {
                        why: "the path ended at an unknown anchor".into(),
                    })?;
                (shortcut.anchor, Some(shortcut))
            }
        };
        let anchor_info = &self.trust.anchor_info[anchor_index];
        // webpki's anchors carry no dates: check the anchor certificate's own, as Web eID does.
        check_dates(anchor_info, now)?;
        if let Some(shortcut) = shortcut {
            check_dates(&self.trust.intermediate_info[shortcut.intermediate], now)?;
            let below = path.intermediate_certificates().count();
            if shortcut
                .max_cas_below
                .is_some_and(|max| below > usize::from(max))
            {
                return Err(VerifyError::UntrustedIssuer);
            }
        }

        // Each certificate of the path (user certificate, then intermediates) with its issuer.
        let mut subjects: Vec<(&[u8], Option<CaKey>)> = vec![(end_entity.serial(), None)];
        for intermediate in path.intermediate_certificates() {
            let key: CaKey = (
                intermediate.subject().to_vec(),
                sha256(intermediate.subject_public_key_info().as_ref()),
            );
            if let Some(last) = subjects.last_mut() {
                last.1 = Some(key);
            }
            subjects.push((intermediate.serial(), None));
        }
        let crls = Arc::clone(
            &self
                .crls
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        // The last certificate's issuer is the anchor webpki ended at: the shortcut's
        // intermediate, itself checked against its anchor's CRL.
        let mut subjects: Vec<(&[u8], CaKey)> = subjects
            .into_iter()
            .map(|(serial, issuer)| {
                let issuer = issuer.unwrap_or_else(|| match shortcut {
                    Some(shortcut) => {
                        let intermediate = &self.trust.intermediate_info[shortcut.intermediate];
                        (intermediate.subject.clone(), intermediate.key_hash)
                    }
                    None => (anchor_info.subject.clone(), anchor_info.key_hash),
                });
                (serial, issuer)
            })
            .collect();
        if let Some(shortcut) = shortcut {
            subjects.push((
                shortcut.serial.as_slice(),
                (anchor_info.subject.clone(), anchor_info.key_hash),
            ));
        }
        for (serial, issuer) in subjects {
            let issuer_name = self
                .trust
                .all_cas()
                .find(|ca| ca.key_hash == issuer.1)
                .map(|ca| ca.name.clone())
                .unwrap_or_default();
            crls.check(&issuer, &issuer_name, serial, now)?;
        }
        Ok(anchor_index)
    }
}

/// Every configured CA must have a CRL in `crls` or an opt-out: otherwise each certificate it
/// issues would be refused at login with `ERR_REVOCATION_UNKNOWN`, after a start that looked fine.
fn check_every_ca_covered(trust: &TrustConfig, crls: &CrlSet) -> Result<(), ConfigError> {
    match trust.all_cas().find(|ca| !crls.covers(ca)) {
        Some(ca) => Err(ConfigError::CaWithoutCrl {
            subject: ca.name.clone(),
        }),
        None => Ok(()),
    }
}

fn check_dates(ca: &crate::trust::CaInfo, now: SystemTime) -> Result<(), VerifyError> {
    if now < ca.not_before {
        return Err(VerifyError::CertificateNotYetValid);
    }
    if now > ca.not_after {
        return Err(VerifyError::CertificateExpired);
    }
    Ok(())
}

/// The intermediates that a configured anchor without name constraints signed (verified
/// here, once), that are CAs allowed to sign certificates.
fn shortcuts(trust: &TrustConfig) -> Vec<Shortcut> {
    use der::{Decode, Encode};
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage as X509KeyUsage};

    let mut found = Vec::new();
    for (intermediate, der) in trust.intermediates.iter().enumerate() {
        let Ok(certificate) = x509_cert::Certificate::from_der(der.as_ref()) else {
            continue;
        };
        let tbs = &certificate.tbs_certificate;
        let max_cas_below = match tbs.get::<BasicConstraints>() {
            Ok(Some((_, constraints))) if constraints.ca => constraints.path_len_constraint,
            _ => continue,
        };
        match tbs.get::<X509KeyUsage>() {
            Ok(Some((_, usage))) if !usage.key_cert_sign() => continue,
            Err(_) => continue,
            _ => {}
        }
        // webpki checks the extendedKeyUsage of every certificate of a path but never of an
        // anchor: an intermediate that carries one stays in the path, where it is checked.
        if !matches!(tbs.get::<ExtendedKeyUsage>(), Ok(None)) {
            continue;
        }
        let (Ok(tbs_der), Some(signature)) = (tbs.to_der(), certificate.signature.as_bytes())
        else {
            continue;
        };
        let Ok(serial) = EndEntityCert::try_from(der).map(|cert| cert.serial().to_vec()) else {
            continue;
        };
        let signer = trust.anchors.iter().enumerate().find(|(index, anchor)| {
            anchor.name_constraints.is_none()
                && tbs.issuer.to_der().ok().is_some_and(|issuer_der| {
                    // The issuer name as webpki compares it: DER contents of the Name.
                    issuer_der.get(name_header_len(&issuer_der)..) == Some(anchor.subject.as_ref())
                })
                && crate::revocation::signature_verifies(
                    &trust.anchor_info[*index],
                    &certificate.signature_algorithm.oid,
                    &tbs_der,
                    signature,
                )
        });
        let Ok(webpki_anchor) = webpki::anchor_from_trusted_cert(der) else {
            continue;
        };
        if let Some((anchor, _)) = signer {
            found.push(Shortcut {
                webpki_anchor: webpki_anchor.to_owned(),
                intermediate,
                anchor,
                serial,
                max_cas_below,
            });
        }
    }
    found
}

/// Length of a DER SEQUENCE header (tag and length), for the lengths a Name uses.
fn name_header_len(der: &[u8]) -> usize {
    match der.get(1) {
        Some(&length) if length < 0x80 => 2,
        Some(&length) => 2 + usize::from(length & 0x7f),
        None => der.len(),
    }
}

fn path_error(error: webpki::Error) -> VerifyError {
    use webpki::Error as E;
    #[allow(deprecated)]
    match error {
        E::CertExpired { .. } => VerifyError::CertificateExpired,
        E::CertNotValidYet { .. } => VerifyError::CertificateNotYetValid,
        E::UnknownIssuer => VerifyError::UntrustedIssuer,
        // A certificate naming a trusted CA as issuer without that CA's signature, or signed
        // with an algorithm we do not accept, or a CA outside its constraints: no trusted path.
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch
        | E::CertDistrusted
        | E::EndEntityUsedAsCa
        | E::NameConstraintViolation
        | E::PathLenConstraintViolated
        | E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => VerifyError::UntrustedIssuer,
        E::CertRevoked => VerifyError::Revoked,
        E::CrlExpired { .. } => VerifyError::CrlExpired,
        E::InvalidCrlSignatureForPublicKey
        | E::UnsupportedCrlSignatureAlgorithm
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedCrlSignatureAlgorithmForPublicKey
        | E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_)
        | E::IssuerNotCrlSigner
        | E::UnknownRevocationStatus
        | E::UnsupportedCrlIssuingDistributionPoint
        | E::UnsupportedIndirectCrl
        | E::UnsupportedDeltaCrl
        | E::UnsupportedRevocationReason
        | E::UnsupportedRevocationReasonsPartitioning
        | E::InvalidCrlNumber
        | E::UnsupportedCrlVersion => VerifyError::RevocationCheckFailed {
            why: format!("{error:?}"),
        },
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            VerifyError::WrongExtendedKeyUsage
        }
        other => VerifyError::InvalidCertificate {
            why: format!("{other:?}"),
        },
    }
}

fn check_algorithm_matches_key(algorithm: Algorithm, key: KeyType) -> Result<(), VerifyError> {
    let matches = match algorithm {
        Algorithm::Rs256
        | Algorithm::Rs384
        | Algorithm::Rs512
        | Algorithm::Ps256
        | Algorithm::Ps384
        | Algorithm::Ps512 => key == KeyType::Rsa,
        // JWS binds the curve to the algorithm (RFC 7518 §3.4).
        Algorithm::Es256 => key == KeyType::EcP256,
        Algorithm::Es384 => key == KeyType::EcP384,
    };
    if matches {
        Ok(())
    } else {
        Err(VerifyError::AlgorithmKeyMismatch {
            algorithm: algorithm.name(),
            key: key.describe().to_owned(),
        })
    }
}

/// The signed message is `hash(origin) || hash(nonce)` with the algorithm's hash (SHA-256 for
/// RS256, ES256 and PS256), exactly as Web eID.
fn verify_signature(
    end_entity: &EndEntityCert<'_>,
    algorithm: Algorithm,
    signature: &[u8],
    origin: &str,
    nonce: &str,
) -> Result<(), VerifyError> {
    let hash = match algorithm.hash() {
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
    };
    let mut message = Vec::with_capacity(2 * hash.output_len());
    message.extend_from_slice(digest::digest(hash, origin.as_bytes()).as_ref());
    message.extend_from_slice(digest::digest(hash, nonce.as_bytes()).as_ref());

    // Web eID carries ECDSA signatures as raw R || S; webpki wants the X.509 DER form.
    let (verifier, der_signature): (&dyn SignatureVerificationAlgorithm, Option<Vec<u8>>) =
        match algorithm {
            Algorithm::Rs256 => (webpki::ring::RSA_PKCS1_2048_8192_SHA256, None),
            Algorithm::Rs384 => (webpki::ring::RSA_PKCS1_2048_8192_SHA384, None),
            Algorithm::Rs512 => (webpki::ring::RSA_PKCS1_2048_8192_SHA512, None),
            Algorithm::Ps256 => (webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY, None),
            Algorithm::Ps384 => (webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY, None),
            Algorithm::Ps512 => (webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY, None),
            Algorithm::Es256 => (
                webpki::ring::ECDSA_P256_SHA256,
                Some(raw_ecdsa_to_der(signature, 32)?),
            ),
            Algorithm::Es384 => (
                webpki::ring::ECDSA_P384_SHA384,
                Some(raw_ecdsa_to_der(signature, 48)?),
            ),
        };
    let signature = der_signature.as_deref().unwrap_or(signature);
    end_entity
        .verify_signature(verifier, &message, signature)
        .map_err(|error| match error {
            #[allow(deprecated)]
            webpki::Error::UnsupportedSignatureAlgorithmForPublicKey
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                VerifyError::AlgorithmKeyMismatch {
                    algorithm: algorithm.name(),
                    key: "other".into(),
                }
            }
            _ => VerifyError::BadSignature,
        })
}

/// `R || S` (each `scalar_len` bytes, big-endian) to `SEQUENCE { INTEGER r, INTEGER s }`.
fn raw_ecdsa_to_der(raw: &[u8], scalar_len: usize) -> Result<Vec<u8>, VerifyError> {
    if raw.len() != 2 * scalar_len {
        return Err(VerifyError::BadSignature);
    }
    let (r, s) = raw.split_at(scalar_len);
    let mut body = Vec::with_capacity(2 * scalar_len + 6);
    for scalar in [r, s] {
        // Minimal encoding: no leading zeros, but a zero byte before a set high bit (positive).
        let first = scalar
            .iter()
            .position(|&byte| byte != 0)
            .unwrap_or(scalar.len() - 1);
        let digits = &scalar[first..];
        let pad = digits[0] & 0x80 != 0;
        body.push(0x02);
        body.push((digits.len() + usize::from(pad)) as u8);
        if pad {
            body.push(0x00);
        }
        body.extend_from_slice(digits);
    }
    // At most 2 * (2 + 49) = 102 bytes for P-384: short-form lengths are enough.
    let mut der = Vec::with_capacity(body.len() + 2);
    der.push(0x30);
    der.push(body.len() as u8);
    der.extend_from_slice(&body);
    Ok(der)
}

/// The origin a browser reports: `https://host[:port]`, lower case, no path, no trailing
/// slash, no default port. Anything else can never match a token: refused at start-up, with
/// what is wrong.
pub(crate) fn check_site_origin(origin: &str) -> Result<(), ConfigError> {
    match site_origin_problem(origin) {
        None => Ok(()),
        Some(why) => Err(ConfigError::InvalidSiteOrigin {
            origin: origin.chars().take(255).collect(),
            why,
        }),
    }
}

fn site_origin_problem(origin: &str) -> Option<&'static str> {
    if origin.len() > 255 {
        return Some("longer than 255 characters");
    }
    let Some(authority) = origin.strip_prefix("https://") else {
        let lower = origin.to_ascii_lowercase();
        return Some(if lower.starts_with("http://") {
            "http: a browser gives CPx Connect tokens only to https pages (develop on https://localhost:PORT)"
        } else if lower.starts_with("https://") {
            "upper case in the scheme: write https://"
        } else {
            "it does not start with https://"
        });
    };
    if let Some(without_slash) = authority.strip_suffix('/') {
        if !without_slash.is_empty() && !without_slash.contains('/') {
            return Some("a trailing slash: leave out the final /");
        }
    }
    if authority.contains('/') {
        return Some("a path: an origin is the scheme, host and port only");
    }
    if authority.contains(['?', '#']) {
        return Some("a query or fragment: an origin is the scheme, host and port only");
    }
    if authority.contains('@') {
        return Some("user information (@): an origin is the scheme, host and port only");
    }
    if !authority
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && byte != b'\\')
    {
        return Some("a character no host name has (non-ASCII: use the xn-- form of an IDN)");
    }
    if authority.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Some("upper case: browsers report the host in lower case");
    }
    // An IPv6 literal is bracketed: its colons are not the port's.
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let Some((address, after)) = rest.split_once(']') else {
                return Some("an IPv6 address without its closing ]");
            };
            match (after, after.strip_prefix(':')) {
                ("", _) => (address, None),
                (_, Some(port)) => (address, Some(port)),
                (_, None) => return Some("characters after the IPv6 address's ]"),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Some("no host");
    }
    match port {
        None => None,
        Some("443") => Some("the default port :443: browsers leave it out"),
        Some(port)
            if port.is_empty()
                || port.starts_with('0')
                || !port.bytes().all(|byte| byte.is_ascii_digit())
                || port.parse::<u32>().map_or(true, |number| number > 65535) =>
        {
            Some("a port that is not a number from 1 to 65535")
        }
        Some(_) => None,
    }
}

/// What the host accepts as a challenge: 44 to 128 base64 characters.
fn check_expected_nonce(nonce: &str) -> Result<(), VerifyError> {
    let valid = (44..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'='));
    if valid {
        Ok(())
    } else {
        Err(VerifyError::InvalidExpectedNonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ecdsa_to_der_is_minimal_and_positive() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r has its high bit set: needs a 0x00 pad
        raw[62] = 0x01; // s = 0x0102: leading zeros dropped
        raw[63] = 0x02;
        let der = raw_ecdsa_to_der(&raw, 32).ok();
        let mut expected = vec![0x30, 0x27, 0x02, 0x21, 0x00, 0x80];
        expected.extend_from_slice(&[0u8; 31]);
        expected.extend_from_slice(&[0x02, 0x02, 0x01, 0x02]);
        assert_eq!(der, Some(expected));
        assert_eq!(
            raw_ecdsa_to_der(&raw[..63], 32),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn raw_ecdsa_zero_scalar_is_a_single_zero_byte() {
        let der = raw_ecdsa_to_der(&[0u8; 64], 32).ok();
        assert_eq!(
            der,
            Some(vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])
        );
    }

    #[test]
    fn site_origin_shape() {
        for good in [
            "https://example.org",
            "https://localhost:8443",
            "https://[::1]:8443",
            "https://[::1]",
        ] {
            assert_eq!(check_site_origin(good), Ok(()), "{good}");
        }
        // Each mistake is named, so the operator knows what to change.
        for (bad, why) in [
            ("http://example.org", "http:"),
            ("HTTPS://example.org", "upper case in the scheme"),
            ("example.org", "does not start with https://"),
            ("https://example.org/", "trailing slash"),
            ("https://example.org/login", "a path"),
            ("https://example.org/login/", "a path"),
            ("https://Example.org", "upper case: browsers"),
            ("https://example.org:443", "default port"),
            ("https://example.org:", "not a number"),
            ("https://example.org:84x3", "not a number"),
            ("https://example.org:65536", "not a number"),
            ("https://example.org:0443", "not a number"),
            ("https://", "no host"),
            ("https://:8443", "no host"),
            ("https://user@example.org", "user information"),
            ("https://example.org?x", "query"),
            ("https://exämple.org", "xn--"),
            ("https://[::1", "closing ]"),
            ("https://[::1]x", "after the IPv6"),
        ] {
            match check_site_origin(bad) {
                Err(ConfigError::InvalidSiteOrigin { why: said, .. }) => {
                    assert!(said.contains(why), "{bad}: {said}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn expected_nonce_shape() {
        assert_eq!(check_expected_nonce(&"A".repeat(44)), Ok(()));
        assert_eq!(
            check_expected_nonce(&"A".repeat(43)),
            Err(VerifyError::InvalidExpectedNonce)
        );
        assert_eq!(
            check_expected_nonce(&"A".repeat(129)),
            Err(VerifyError::InvalidExpectedNonce)
        );
        assert_eq!(
            check_expected_nonce(&format!("{}-", "A".repeat(44))),
            Err(VerifyError::InvalidExpectedNonce)
        );
    }
}
