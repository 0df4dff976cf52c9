//! CRLs, checked once when they are loaded: each is assigned to the configured CA whose name
//! and key it carries (its signature verified with that key), then looked up per token by
//! (issuer name, issuer key) and serial, in O(log n) of the CRL's size.
//!
//! webpki's own CRL check matches a CRL on the issuer's name only and verifies the CRL's
//! signature at each validation; with two CAs of the same name (a key rollover) the first CRL
//! of that name would be taken for both.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use pki_types::SignatureVerificationAlgorithm;
use webpki::{CertRevocationList, OwnedCertRevocationList};
use x509_cert::crl::CertificateList;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::error::{ConfigError, VerifyError};
use crate::trust::{CaInfo, TrustConfig};

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// A CA as the CRL index knows it: subject (DER contents) and SHA-256 of its SPKI.
pub(crate) type CaKey = (Vec<u8>, [u8; 32]);

struct LoadedCrl {
    crl: CertRevocationList<'static>,
    /// Its position in the list it was loaded from, for messages.
    index: usize,
    this_update: SystemTime,
    next_update: SystemTime,
    /// The cRLNumber extension (RFC 5280 5.2.3), big-endian without leading zeros; `None`
    /// when the CRL carries none.
    number: Option<Vec<u8>>,
}

impl LoadedCrl {
    /// Why this CRL is older than `other` (of the same CA), if it is: an earlier thisUpdate or
    /// a lower CRL number. Either would bring back a state the CA has since replaced, e.g. a
    /// certificate that is now revoked.
    fn older_than(&self, other: &LoadedCrl) -> Option<&'static str> {
        if self.this_update < other.this_update {
            return Some("its thisUpdate is earlier");
        }
        match (&self.number, &other.number) {
            (Some(mine), Some(theirs)) if (mine.len(), mine) < (theirs.len(), theirs) => {
                Some("its CRL number is lower")
            }
            _ => None,
        }
    }
}

/// The CRLs in force, each verified against its CA's key.
pub(crate) struct CrlSet {
    by_ca: HashMap<CaKey, LoadedCrl>,
    /// CAs explicitly accepted without a CRL (key hashes).
    no_crl_for: HashSet<[u8; 32]>,
}

impl std::fmt::Debug for CrlSet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CrlSet")
            .field("crls", &self.by_ca.len())
            .field("no_crl_for", &self.no_crl_for.len())
            .finish()
    }
}

impl CrlSet {
    /// Loads `crls_der` for the CAs of `trust`. Fails on a CRL no configured CA signed.
    pub(crate) fn load(trust: &TrustConfig, crls_der: &[Vec<u8>]) -> Result<Self, ConfigError> {
        let mut no_crl_for = HashSet::new();
        for (index, der) in trust.no_crl_for_der.iter().enumerate() {
            let certificate = x509_cert::Certificate::from_der(der).map_err(|error| {
                ConfigError::InvalidNoCrlCa {
                    index,
                    why: error.to_string(),
                }
            })?;
            let spki = certificate
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|error| ConfigError::InvalidNoCrlCa {
                    index,
                    why: error.to_string(),
                })?;
            let key_hash = crate::trust::sha256(&spki);
            if !trust.all_cas().any(|ca| ca.key_hash == key_hash) {
                return Err(ConfigError::InvalidNoCrlCa {
                    index,
                    why: "not one of the configured anchors or intermediates".into(),
                });
            }
            no_crl_for.insert(key_hash);
        }

        let mut by_ca: HashMap<CaKey, LoadedCrl> = HashMap::new();
        for (index, der) in crls_der.iter().enumerate() {
            let invalid = |why: String| ConfigError::InvalidCrl { index, why };
            let owned = OwnedCertRevocationList::from_der(der)
                .map_err(|error| invalid(error.to_string()))?;
            let crl = CertRevocationList::from(owned);
            if crl.issuing_distribution_point().is_some() {
                // A partitioned CRL covers only part of its CA's certificates: taking it as
                // covering them all would miss revocations listed elsewhere.
                return Err(invalid(
                    "partitioned CRLs (issuingDistributionPoint) are not supported".into(),
                ));
            }
            let parsed =
                CertificateList::from_der(der).map_err(|error| invalid(error.to_string()))?;
            let this_update = parsed.tbs_cert_list.this_update.to_system_time();
            let next_update = parsed
                .tbs_cert_list
                .next_update
                .map(|time| time.to_system_time())
                .ok_or_else(|| invalid("no nextUpdate".into()))?;
            let tbs_der = parsed
                .tbs_cert_list
                .to_der()
                .map_err(|error| invalid(error.to_string()))?;
            let signature = parsed
                .signature
                .as_bytes()
                .ok_or_else(|| invalid("signature is not a whole number of bytes".into()))?;
            let signer = trust
                .all_cas()
                .filter(|ca| ca.subject == crl.issuer())
                .find(|ca| {
                    signature_verifies(ca, &parsed.signature_algorithm.oid, &tbs_der, signature)
                });
            let Some(signer) = signer else {
                return Err(ConfigError::CrlMatchesNoCa {
                    index,
                    issuer: parsed.tbs_cert_list.issuer.to_string(),
                });
            };
            let key = (signer.subject.clone(), signer.key_hash);
            let loaded = LoadedCrl {
                crl,
                index,
                this_update,
                next_update,
                number: crl_number(&parsed).map_err(invalid)?,
            };
            // Two CRLs of one CA (an old and a new one): keep the newest. Two that disagree on
            // which is newer (one by date, the other by number) are refused: neither can be
            // trusted to be the CA's latest.
            match by_ca.get(&key) {
                Some(existing) => match (loaded.older_than(existing), existing.older_than(&loaded))
                {
                    (Some(_), Some(why)) => {
                        return Err(ConfigError::CrlRollback {
                            index: existing.index,
                            issuer: signer.name.clone(),
                            why: format!("{why} than CRL #{index}'s, whose thisUpdate is earlier"),
                        })
                    }
                    (Some(_), None) => {}
                    (None, _) => {
                        by_ca.insert(key, loaded);
                    }
                },
                None => {
                    by_ca.insert(key, loaded);
                }
            }
        }
        Ok(CrlSet { by_ca, no_crl_for })
    }

    /// Refuses `self` (a replacement) if one of its CRLs is older than the CRL `current` holds
    /// for the same CA: a stale mirror or a replayed file must not undo a revocation.
    pub(crate) fn check_not_older_than(
        &self,
        current: &CrlSet,
        trust: &TrustConfig,
    ) -> Result<(), ConfigError> {
        for (key, replacement) in &self.by_ca {
            let Some(in_force) = current.by_ca.get(key) else {
                continue;
            };
            if let Some(why) = replacement.older_than(in_force) {
                let issuer = trust
                    .all_cas()
                    .find(|ca| ca.key_hash == key.1)
                    .map(|ca| ca.name.clone())
                    .unwrap_or_default();
                return Err(ConfigError::CrlRollback {
                    index: replacement.index,
                    issuer,
                    why: format!("{why} than the CRL in force"),
                });
            }
        }
        Ok(())
    }

    /// Whether a CRL of this set covers the CA `(subject, key_hash)`, or it was opted out.
    pub(crate) fn covers(&self, ca: &CaInfo) -> bool {
        self.no_crl_for.contains(&ca.key_hash)
            || self.by_ca.contains_key(&(ca.subject.clone(), ca.key_hash))
    }

    pub(crate) fn len(&self) -> usize {
        self.by_ca.len()
    }

    /// Whether `serial` (DER INTEGER contents), issued by `issuer`, is revoked at `now`.
    pub(crate) fn check(
        &self,
        issuer: &CaKey,
        issuer_name: &str,
        serial: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let Some(loaded) = self.by_ca.get(issuer) else {
            if self.no_crl_for.contains(&issuer.1) {
                return Ok(());
            }
            return Err(VerifyError::RevocationUnknown {
                issuer: issuer_name.to_owned(),
            });
        };
        if now >= loaded.next_update {
            return Err(VerifyError::CrlExpired);
        }
        match loaded.crl.find_serial(serial) {
            Ok(Some(_revoked)) => Err(VerifyError::Revoked),
            Ok(None) => Ok(()),
            Err(error) => Err(VerifyError::RevocationCheckFailed {
                why: format!("{error:?}"),
            }),
        }
    }
}

/// The CRL's cRLNumber, big-endian without leading zeros, if it has one.
fn crl_number(crl: &CertificateList) -> Result<Option<Vec<u8>>, String> {
    use der::oid::AssociatedOid;
    use x509_cert::ext::pkix::CrlNumber;

    let Some(extension) = crl
        .tbs_cert_list
        .crl_extensions
        .iter()
        .flatten()
        .find(|extension| extension.extn_id == CrlNumber::OID)
    else {
        return Ok(None);
    };
    let number = CrlNumber::from_der(extension.extn_value.as_bytes())
        .map_err(|error| format!("bad cRLNumber: {error}"))?;
    let bytes = number.0.as_bytes();
    let first = bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len());
    Ok(Some(bytes[first..].to_vec()))
}

/// Whether `ca`'s key made `signature` over `message` with the algorithm `algorithm`.
pub(crate) fn signature_verifies(
    ca: &CaInfo,
    algorithm: &ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(spki) = SubjectPublicKeyInfoOwned::from_der(&ca.spki_der) else {
        return false;
    };
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok());
    let verifier: &dyn SignatureVerificationAlgorithm = match *algorithm {
        oid if oid == SHA256_WITH_RSA => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        oid if oid == SHA384_WITH_RSA => webpki::ring::RSA_PKCS1_2048_8192_SHA384,
        oid if oid == SHA512_WITH_RSA => webpki::ring::RSA_PKCS1_2048_8192_SHA512,
        oid if oid == ECDSA_WITH_SHA256 && curve == Some(SECP256R1) => {
            webpki::ring::ECDSA_P256_SHA256
        }
        oid if oid == ECDSA_WITH_SHA256 && curve == Some(SECP384R1) => {
            webpki::ring::ECDSA_P384_SHA256
        }
        oid if oid == ECDSA_WITH_SHA384 && curve == Some(SECP256R1) => {
            webpki::ring::ECDSA_P256_SHA384
        }
        oid if oid == ECDSA_WITH_SHA384 && curve == Some(SECP384R1) => {
            webpki::ring::ECDSA_P384_SHA384
        }
        _ => return false,
    };
    let Some(public_key) = spki.subject_public_key.as_bytes() else {
        return false;
    };
    verifier
        .verify_signature(public_key, message, signature)
        .is_ok()
}
