//! What the relying party trusts: CA certificates, the CRLs it fetched for them, the certificate
//! policies it accepts. A builder: [`crate::Validator::new`] checks the whole of it at start-up.

use std::time::SystemTime;

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use pki_types::{CertificateDer, TrustAnchor};
use ring::digest;
use x509_cert::Certificate;

use crate::error::ConfigError;

/// Trust anchors (the IGC-Santé roots in production), optional intermediate CA certificates,
/// CRLs (all DER) and the accepted certificate policies. Built once at start-up and given to
/// [`crate::Validator::new`], which checks that it is coherent; CRLs can later be replaced
/// without a restart with [`crate::Validator::replace_crls`].
#[derive(Debug)]
pub struct TrustConfig {
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    /// Same order as `anchors`.
    pub(crate) anchor_info: Vec<CaInfo>,
    pub(crate) intermediates: Vec<CertificateDer<'static>>,
    /// Same order as `intermediates`.
    pub(crate) intermediate_info: Vec<CaInfo>,
    pub(crate) crls_der: Vec<Vec<u8>>,
    /// CA certificates (DER) whose certificates are accepted without a CRL.
    pub(crate) no_crl_for_der: Vec<Vec<u8>>,
    pub(crate) policies: Vec<ObjectIdentifier>,
    pub(crate) allow_test_anchors: bool,
}

/// What the validator needs to know about a configured CA certificate.
#[derive(Debug, Clone)]
pub(crate) struct CaInfo {
    /// The subject as webpki compares it (DER contents, without the outer SEQUENCE).
    pub(crate) subject: Vec<u8>,
    /// The subject as RFC 4514 text, for messages.
    pub(crate) name: String,
    /// The full SubjectPublicKeyInfo, DER.
    pub(crate) spki_der: Vec<u8>,
    /// SHA-256 of `spki_der`: names this CA's key.
    pub(crate) key_hash: [u8; 32],
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
    /// The subject says it is a test CA (see [`is_test_name`]).
    pub(crate) is_test: bool,
}

impl CaInfo {
    fn from_der(der: &[u8], subject_contents: Vec<u8>) -> Result<Self, String> {
        let certificate = Certificate::from_der(der).map_err(|error| error.to_string())?;
        let tbs = &certificate.tbs_certificate;
        let spki_der = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|error| error.to_string())?;
        let name = tbs.subject.to_string();
        Ok(CaInfo {
            subject: subject_contents,
            key_hash: sha256(&spki_der),
            spki_der,
            not_before: tbs.validity.not_before.to_system_time(),
            not_after: tbs.validity.not_after.to_system_time(),
            is_test: is_test_name(&name),
            name,
        })
    }

    pub(crate) fn key_hash_hex(&self) -> String {
        hex(&self.key_hash)
    }
}

impl TrustConfig {
    /// Trusts certificates that chain to one of these CA certificates (DER). An anchor may be a
    /// root or an intermediate CA: path building stops at the first anchor it reaches. The
    /// anchor's own validity dates are checked at each validation (webpki's anchors carry none).
    pub fn new(trust_anchors_der: Vec<Vec<u8>>) -> Result<Self, ConfigError> {
        if trust_anchors_der.is_empty() {
            return Err(ConfigError::NoTrustAnchors);
        }
        let mut anchors = Vec::new();
        let mut anchor_info = Vec::new();
        for (index, der) in trust_anchors_der.into_iter().enumerate() {
            let invalid = |why: String| ConfigError::InvalidTrustAnchor { index, why };
            let certificate = CertificateDer::from(der.as_slice());
            let anchor = webpki::anchor_from_trusted_cert(&certificate)
                .map_err(|error| invalid(error.to_string()))?
                .to_owned();
            let info = CaInfo::from_der(&der, anchor.subject.as_ref().to_vec()).map_err(invalid)?;
            anchors.push(anchor);
            anchor_info.push(info);
        }
        Ok(TrustConfig {
            anchors,
            anchor_info,
            intermediates: Vec::new(),
            intermediate_info: Vec::new(),
            crls_der: Vec::new(),
            no_crl_for_der: Vec::new(),
            policies: Vec::new(),
            allow_test_anchors: false,
        })
    }

    /// Adds CA certificates (DER) that may sit between a user certificate and an anchor.
    /// They are not trusted by themselves: a path must still end at an anchor.
    pub fn with_intermediates(mut self, der: Vec<Vec<u8>>) -> Result<Self, ConfigError> {
        for (index, certificate_der) in der.into_iter().enumerate() {
            let invalid = |why: String| ConfigError::InvalidIntermediate { index, why };
            let certificate = CertificateDer::from(certificate_der);
            // Parse now so that a bad file is reported at start-up, not at the first login.
            let subject = webpki::EndEntityCert::try_from(&certificate)
                .map_err(|error| invalid(error.to_string()))?
                .subject()
                .to_vec();
            let info = CaInfo::from_der(certificate.as_ref(), subject).map_err(invalid)?;
            self.intermediates.push(certificate);
            self.intermediate_info.push(info);
        }
        Ok(self)
    }

    /// Adds CRLs (DER, X.509 v2) the site fetched. Each must be signed by one of the configured
    /// CAs (anchors or intermediates), matched by name **and** key: [`crate::Validator::new`]
    /// fails on a CRL that matches none. A certificate whose issuing CA has no CRL is refused
    /// (`ERR_REVOCATION_UNKNOWN`) unless that CA is named in [`TrustConfig::without_crl_for`].
    /// A CRL past its nextUpdate makes that CA's certificates fail with `ERR_CRL_EXPIRED`.
    pub fn with_crls(mut self, crls_der: Vec<Vec<u8>>) -> Result<Self, ConfigError> {
        // Parsed here too, so that a bad file is reported where it is added.
        for (index, der) in crls_der.iter().enumerate() {
            webpki::OwnedCertRevocationList::from_der(der).map_err(|error| {
                ConfigError::InvalidCrl {
                    index,
                    why: error.to_string(),
                }
            })?;
        }
        self.crls_der.extend(crls_der);
        Ok(self)
    }

    /// Accepts the certificates issued by this CA (DER, one of the anchors or intermediates)
    /// without a CRL: an explicit, per-CA opt-out of the revocation check.
    pub fn without_crl_for(mut self, ca_der: Vec<u8>) -> Self {
        self.no_crl_for_der.push(ca_der);
        self
    }

    /// Accepts only user certificates whose certificatePolicies extension names at least one of
    /// these policy OIDs (dotted text, e.g. `"1.2.250.1.71.x.y"`). Without this call, any policy
    /// (or none) is accepted; an empty list is refused, so that an empty configuration file
    /// cannot silently mean "any policy". See the README for the IGC-Santé policies.
    pub fn with_certificate_policies<S: AsRef<str>>(
        mut self,
        oids: &[S],
    ) -> Result<Self, ConfigError> {
        if oids.is_empty() {
            return Err(ConfigError::NoPolicyOid);
        }
        for oid in oids {
            let parsed =
                ObjectIdentifier::new(oid.as_ref()).map_err(|_| ConfigError::InvalidPolicyOid {
                    oid: oid.as_ref().chars().take(80).collect(),
                })?;
            self.policies.push(parsed);
        }
        Ok(self)
    }

    /// Allows anchors and intermediates whose subject says they are test CAs (a `TEST` word in
    /// a CN, OU or O, as in ANS's test PKI and this repository's fixtures). Off by default: a
    /// production configuration refuses them, since a test CA's key may be anywhere (this
    /// repository holds some) and whoever holds it can mint a certificate with any idNat.
    pub fn allow_test_anchors(mut self) -> Self {
        self.allow_test_anchors = true;
        self
    }

    /// Number of trust anchors, intermediates and CRLs configured (for a start-up log line).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.anchors.len(),
            self.intermediates.len(),
            self.crls_der.len(),
        )
    }

    /// The anchor ids ([`crate::Identity::anchor_id`]) of the configured anchors, in order.
    pub fn anchor_ids(&self) -> Vec<String> {
        self.anchor_info.iter().map(CaInfo::key_hash_hex).collect()
    }

    pub(crate) fn all_cas(&self) -> impl Iterator<Item = &CaInfo> {
        self.anchor_info.iter().chain(self.intermediate_info.iter())
    }
}

/// Whether a subject (RFC 4514 text) names a test CA: one of its words is `TEST` (any case),
/// e.g. `CN=TEST AC IGC-SANTE FORT PERSONNES` or `OU=IGC-SANTE TEST`.
pub(crate) fn is_test_name(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case("test"))
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names() {
        assert!(is_test_name(
            "CN=TEST AC IGC-SANTE FORT PERSONNES,OU=IGC-SANTE TEST,C=FR"
        ));
        assert!(is_test_name("CN=OTHER TEST CA,C=FR"));
        assert!(!is_test_name(
            "CN=AC IGC-SANTE FORT PERSONNES,O=ASIP-SANTE,C=FR"
        ));
        assert!(!is_test_name("CN=ATTESTATION CA,C=FR"));
    }
}
