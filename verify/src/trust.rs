//! What the relying party trusts: CA certificates and the CRLs it fetched for them.

use pki_types::{CertificateDer, TrustAnchor};
use webpki::{CertRevocationList, OwnedCertRevocationList};

use crate::error::ConfigError;

/// Trust anchors (the IGC-Santé CAs in production), optional intermediate CA certificates and
/// CRLs, all DER. Built once at start-up; when the site refreshes its CRLs it builds a new
/// `TrustConfig` and a new [`crate::Validator`].
#[derive(Debug)]
pub struct TrustConfig {
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    pub(crate) intermediates: Vec<CertificateDer<'static>>,
    pub(crate) crls: Vec<CertRevocationList<'static>>,
}

impl TrustConfig {
    /// Trusts certificates that chain to one of these CA certificates (DER). An anchor may be a
    /// root or an intermediate CA: path building stops at the first anchor it reaches.
    pub fn new(trust_anchors_der: Vec<Vec<u8>>) -> Result<Self, ConfigError> {
        if trust_anchors_der.is_empty() {
            return Err(ConfigError::NoTrustAnchors);
        }
        let anchors = trust_anchors_der
            .into_iter()
            .enumerate()
            .map(|(index, der)| {
                let certificate = CertificateDer::from(der);
                webpki::anchor_from_trusted_cert(&certificate)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|error| ConfigError::InvalidTrustAnchor {
                        index,
                        why: error.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustConfig {
            anchors,
            intermediates: Vec::new(),
            crls: Vec::new(),
        })
    }

    /// Adds CA certificates (DER) that may sit between a user certificate and an anchor.
    /// They are not trusted by themselves: a path must still end at an anchor.
    pub fn with_intermediates(mut self, der: Vec<Vec<u8>>) -> Result<Self, ConfigError> {
        for (index, certificate) in der.into_iter().enumerate() {
            let certificate = CertificateDer::from(certificate);
            // Parse now so that a bad file is reported at start-up, not at the first login.
            webpki::EndEntityCert::try_from(&certificate).map_err(|error| {
                ConfigError::InvalidIntermediate {
                    index,
                    why: error.to_string(),
                }
            })?;
            self.intermediates.push(certificate);
        }
        Ok(self)
    }

    /// Adds CRLs (DER, X.509 v2) the site fetched. A CRL applies to the certificates of the CA
    /// named as its issuer, and is used only if that CA's key signed it. With no CRL for a CA,
    /// its certificates are not checked for revocation. A CRL past its nextUpdate makes
    /// validation of that CA's certificates fail with `CrlExpired`: keep them fresh.
    pub fn with_crls(mut self, crls_der: Vec<Vec<u8>>) -> Result<Self, ConfigError> {
        for (index, der) in crls_der.into_iter().enumerate() {
            let crl = OwnedCertRevocationList::from_der(&der).map_err(|error| {
                ConfigError::InvalidCrl {
                    index,
                    why: error.to_string(),
                }
            })?;
            self.crls.push(CertRevocationList::from(crl));
        }
        Ok(self)
    }

    /// Number of trust anchors, intermediates and CRLs configured (for a start-up log line).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.anchors.len(),
            self.intermediates.len(),
            self.crls.len(),
        )
    }
}
