//! The login token: its inputs (origin, challenge nonce), the digest the card signs, the check of
//! the card's signature, and the Web eID `web-eid:1.0` JSON shape.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

/// Where the token says it was made (Web eID's `appVersion`).
pub const APP_VERSION_URL: &str = concat!(
    "https://cpxconnect.org/cpx-connect/releases/",
    env!("CARGO_PKG_VERSION")
);

const MAX_ORIGIN_LENGTH: usize = 255;
const NONCE_LENGTHS: std::ops::RangeInclusive<usize> = 44..=128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("origin must be https://host[:port] with no path, query or fragment (at most 255 characters)")]
    Origin,
    #[error("challengeNonce must be 44 to 128 characters of base64")]
    Nonce,
}

/// A web origin as the browser serialises it: `https://host[:port]`, lower case, nothing after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        if text.len() > MAX_ORIGIN_LENGTH {
            return Err(InputError::Origin);
        }
        let authority = text.strip_prefix("https://").ok_or(InputError::Origin)?;
        let (host_ok, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (address, after) = bracketed.split_once(']').ok_or(InputError::Origin)?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(InputError::Origin)?),
            };
            (address.parse::<std::net::Ipv6Addr>().is_ok(), port)
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (valid_host_name(host), Some(port)),
                None => (valid_host_name(authority), None),
            }
        };
        let port_ok = match port {
            None => true,
            Some(port) => {
                !port.is_empty()
                    && port.len() <= 5
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && !port.starts_with('0')
                    && port.parse::<u16>().is_ok()
            }
        };
        if host_ok && port_ok {
            Ok(Origin(text.to_owned()))
        } else {
            Err(InputError::Origin)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lower-case DNS labels (ASCII, punycode for IDNs, as browsers serialise origins) or an IPv4 address.
fn valid_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The relying party's challenge, as the base64 string it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeNonce(String);

impl ChallengeNonce {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        if !NONCE_LENGTHS.contains(&text.len()) || BASE64.decode(text).is_err() {
            return Err(InputError::Nonce);
        }
        Ok(ChallengeNonce(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `SHA-256(SHA-256(origin) || SHA-256(nonce))`: the hash of the message the token signs.
pub fn login_digest(origin: &Origin, nonce: &ChallengeNonce) -> [u8; 32] {
    let mut message = Vec::with_capacity(64);
    message.extend_from_slice(&Sha256::digest(origin.as_str().as_bytes()));
    message.extend_from_slice(&Sha256::digest(nonce.as_str().as_bytes()));
    Sha256::digest(&message).into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    Rs256,
    Es256,
}

impl SignatureAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Rs256 => "RS256",
            SignatureAlgorithm::Es256 => "ES256",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the certificate does not parse: {0}")]
    Certificate(String),
    #[error("the certificate's key type is not supported")]
    UnsupportedKey,
    #[error("the card's signature does not verify with its certificate")]
    Mismatch,
}

/// Checks the card's signature of `digest` against the certificate's public key, so that a
/// card that signs wrongly is caught here rather than by the relying party.
pub fn verify_card_signature(
    certificate_der: &[u8],
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<SignatureAlgorithm, SignatureError> {
    let certificate = x509_cert::Certificate::from_der(certificate_der)
        .map_err(|error| SignatureError::Certificate(error.to_string()))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|error| SignatureError::Certificate(error.to_string()))?;
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(&spki) {
        key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), digest, signature)
            .map_err(|_| SignatureError::Mismatch)?;
        return Ok(SignatureAlgorithm::Rs256);
    }
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let signature =
            p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError::Mismatch)?;
        key.verify_prehash(digest, &signature)
            .map_err(|_| SignatureError::Mismatch)?;
        return Ok(SignatureAlgorithm::Es256);
    }
    Err(SignatureError::UnsupportedKey)
}

/// The Web eID authentication token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthToken {
    pub format: &'static str,
    pub unverified_certificate: String,
    pub algorithm: &'static str,
    pub signature: String,
    pub app_version: &'static str,
}

impl AuthToken {
    pub fn new(certificate_der: &[u8], algorithm: SignatureAlgorithm, signature: &[u8]) -> Self {
        AuthToken {
            format: "web-eid:1.0",
            unverified_certificate: BASE64.encode(certificate_der),
            algorithm: algorithm.name(),
            signature: BASE64.encode(signature),
            app_version: APP_VERSION_URL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_browser_origins() {
        for origin in [
            "https://example.org",
            "https://www.viatrajectoire.fr",
            "https://localhost:8443",
            "https://127.0.0.1:8443",
            "https://[::1]:8443",
            "https://xn--sant-dpa.fr",
            "https://a.b-c.d:65535",
        ] {
            assert!(Origin::parse(origin).is_ok(), "{origin}");
        }
    }

    #[test]
    fn refuses_anything_but_a_bare_https_origin() {
        let too_long = format!("https://{}.org", "a".repeat(250));
        for origin in [
            "",
            "http://example.org",
            "https://example.org/",
            "https://example.org/login",
            "https://example.org?x=1",
            "https://example.org#top",
            "https://user@example.org",
            "https://Example.org",
            "https://example.org:",
            "https://example.org:0",
            "https://example.org:65536",
            "https://example.org:08443",
            "https://exa mple.org",
            "https://-example.org",
            "https://example..org",
            "https://[::1",
            "https://::1",
            "https://[zz]:1",
            "https://",
            "chrome-extension://abc",
            "https://example.org\0",
            too_long.as_str(),
        ] {
            assert_eq!(Origin::parse(origin), Err(InputError::Origin), "{origin:?}");
        }
    }

    #[test]
    fn nonce_must_be_base64_of_the_right_length() {
        let nonce = BASE64.encode([7u8; 32]);
        assert_eq!(nonce.len(), 44);
        assert!(ChallengeNonce::parse(&nonce).is_ok());
        assert!(ChallengeNonce::parse(&BASE64.encode([7u8; 96])).is_ok());
        for bad in [
            String::new(),
            BASE64.encode([7u8; 30]),
            BASE64.encode([7u8; 97]),
            format!("{}!", &nonce[..43]),
            "a".repeat(45),
        ] {
            assert_eq!(ChallengeNonce::parse(&bad), Err(InputError::Nonce), "{bad}");
        }
    }

    #[test]
    fn digest_follows_the_web_eid_construction() {
        let origin = Origin::parse("https://ria.ee").unwrap();
        let nonce = ChallengeNonce::parse(&BASE64.encode([1u8; 32])).unwrap();
        let mut message = Sha256::digest(b"https://ria.ee").to_vec();
        message.extend(Sha256::digest(nonce.as_str().as_bytes()));
        assert_eq!(
            login_digest(&origin, &nonce),
            <[u8; 32]>::from(Sha256::digest(&message))
        );
    }

    #[test]
    fn token_serialises_in_web_eid_shape() {
        let token = AuthToken::new(&[1, 2, 3], SignatureAlgorithm::Rs256, &[4, 5]);
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(json["format"], "web-eid:1.0");
        assert_eq!(json["unverifiedCertificate"], "AQID");
        assert_eq!(json["algorithm"], "RS256");
        assert_eq!(json["signature"], "BAU=");
        assert!(json["appVersion"]
            .as_str()
            .unwrap()
            .ends_with(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn signature_check_rejects_garbage() {
        assert!(matches!(
            verify_card_signature(&[0x30, 0x00], &[0; 32], &[0; 256]),
            Err(SignatureError::Certificate(_))
        ));
    }
}
