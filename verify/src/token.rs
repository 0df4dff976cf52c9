//! The Web eID token: JSON shape, field types, base64, format version and algorithm name.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde_json::{Map, Value};

use crate::error::VerifyError;

/// The largest token accepted, in bytes. A CPx token is about 3 KB (a 2 KB certificate in base64
/// plus a 256-byte signature); the limit keeps a hostile client from making us parse megabytes.
pub const MAX_TOKEN_BYTES: usize = 10 * 1024;

/// Standard base64 alphabet; padding optional, as Web eID validators accept both.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The JWS-style signature algorithms of Web eID that this verifier supports.
/// (ES512 is not: ring, our crypto backend, has no P-521.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
}

/// The hash Web eID uses for the origin and the nonce: the one named by the algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Algorithm::Rs256,
            "RS384" => Algorithm::Rs384,
            "RS512" => Algorithm::Rs512,
            "PS256" => Algorithm::Ps256,
            "PS384" => Algorithm::Ps384,
            "PS512" => Algorithm::Ps512,
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
        }
    }

    pub(crate) fn hash(self) -> Hash {
        match self {
            Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => Hash::Sha256,
            Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => Hash::Sha384,
            Algorithm::Rs512 | Algorithm::Ps512 => Hash::Sha512,
        }
    }
}

/// A token whose fields all have the right type and encoding; nothing in it is verified yet.
#[derive(Debug)]
pub(crate) struct UnverifiedToken {
    pub(crate) certificate_der: Vec<u8>,
    pub(crate) algorithm: Algorithm,
    pub(crate) signature: Vec<u8>,
}

pub(crate) fn parse(token_json: &[u8]) -> Result<UnverifiedToken, VerifyError> {
    if token_json.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::TooLarge {
            max: MAX_TOKEN_BYTES,
        });
    }
    let value: Value =
        serde_json::from_slice(token_json).map_err(|error| VerifyError::Malformed {
            field: "token",
            why: format!("not valid JSON: {error}"),
        })?;
    let Value::Object(fields) = value else {
        return Err(VerifyError::Malformed {
            field: "token",
            why: "not a JSON object".into(),
        });
    };

    let format = required_string(&fields, "format")?;
    if !is_supported_format(format) {
        return Err(VerifyError::UnsupportedFormat {
            format: truncated(format),
        });
    }
    let certificate_der = required_base64(&fields, "unverifiedCertificate")?;
    let algorithm_name = required_string(&fields, "algorithm")?;
    let algorithm =
        Algorithm::from_name(algorithm_name).ok_or_else(|| VerifyError::UnsupportedAlgorithm {
            algorithm: truncated(algorithm_name),
        })?;
    let signature = required_base64(&fields, "signature")?;
    // Not used for validation, but part of the format: its absence means a client that is not
    // a Web eID 1.x implementation.
    required_string(&fields, "appVersion")?;

    Ok(UnverifiedToken {
        certificate_der,
        algorithm,
        signature,
    })
}

/// `web-eid:1` and its minor versions `web-eid:1.<digits>`; `web-eid:10` or `web-eid:2.0` are not.
fn is_supported_format(format: &str) -> bool {
    match format.strip_prefix("web-eid:1") {
        Some("") => true,
        Some(minor) => minor
            .strip_prefix('.')
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

fn required_string<'a>(
    fields: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, VerifyError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(VerifyError::Malformed {
            field,
            why: "missing".into(),
        }),
        Some(Value::String(text)) if text.is_empty() => Err(VerifyError::Malformed {
            field,
            why: "empty".into(),
        }),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(VerifyError::Malformed {
            field,
            why: "not a string".into(),
        }),
    }
}

fn required_base64(
    fields: &Map<String, Value>,
    field: &'static str,
) -> Result<Vec<u8>, VerifyError> {
    let text = required_string(fields, field)?;
    BASE64.decode(text).map_err(|error| VerifyError::Malformed {
        field,
        why: format!("not valid base64: {error}"),
    })
}

/// Values echoed in errors come from the client: keep them short.
fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_versions() {
        for accepted in ["web-eid:1", "web-eid:1.0", "web-eid:1.1", "web-eid:1.12"] {
            assert!(is_supported_format(accepted), "{accepted}");
        }
        for refused in [
            "web-eid:10",
            "web-eid:2",
            "web-eid:2.0",
            "web-eid:1.",
            "web-eid:1.x",
            "web-eid:1.0 ",
            "WEB-EID:1.0",
            "web-eid",
            "",
            "web-eid:1.0.1",
        ] {
            assert!(!is_supported_format(refused), "{refused}");
        }
    }

    #[test]
    fn base64_with_or_without_padding_but_nothing_else() {
        assert_eq!(BASE64.decode("YWI=").ok(), Some(b"ab".to_vec()));
        assert_eq!(BASE64.decode("YWI").ok(), Some(b"ab".to_vec()));
        assert!(BASE64.decode("YW I=").is_err());
        assert!(
            BASE64.decode("YWI_").is_err(),
            "URL-safe alphabet is not Web eID's"
        );
    }
}
