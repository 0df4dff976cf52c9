//! What webpki does not tell us about the user certificate: subject attributes, keyUsage and
//! the kind of public key. Parsed with x509-cert.

use der::asn1::ObjectIdentifier;
use der::{Any, Decode, Tag, Tagged};
use x509_cert::ext::pkix::{CertificatePolicies, KeyUsage};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::error::VerifyError;
use crate::Identity;

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
const ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
const GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The type of the certificate's public key, as far as token algorithms care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    EcP256,
    EcP384,
    /// Anything else (another curve, Ed25519, ...): no supported token algorithm matches.
    Other,
}

impl KeyType {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::EcP256 => "EC P-256",
            KeyType::EcP384 => "EC P-384",
            KeyType::Other => "unsupported",
        }
    }
}

/// The user certificate, decoded by x509-cert.
pub(crate) struct UserCertificate {
    certificate: Certificate,
}

impl UserCertificate {
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, VerifyError> {
        Certificate::from_der(der)
            .map(|certificate| UserCertificate { certificate })
            .map_err(|error| VerifyError::Malformed {
                field: "unverifiedCertificate",
                why: format!("not an X.509 certificate: {error}"),
            })
    }

    pub(crate) fn key_type(&self) -> KeyType {
        let algorithm = &self
            .certificate
            .tbs_certificate
            .subject_public_key_info
            .algorithm;
        if algorithm.oid == RSA_ENCRYPTION {
            return KeyType::Rsa;
        }
        if algorithm.oid != EC_PUBLIC_KEY {
            return KeyType::Other;
        }
        let curve = algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok());
        match curve {
            Some(curve) if curve == SECP256R1 => KeyType::EcP256,
            Some(curve) if curve == SECP384R1 => KeyType::EcP384,
            _ => KeyType::Other,
        }
    }

    /// Web eID's rule: keyUsage must be present and assert digitalSignature.
    pub(crate) fn check_key_usage(&self) -> Result<(), VerifyError> {
        match self.certificate.tbs_certificate.get::<KeyUsage>() {
            Ok(Some((_critical, key_usage))) if key_usage.digital_signature() => Ok(()),
            Ok(_) => Err(VerifyError::WrongKeyUsage),
            Err(error) => Err(VerifyError::InvalidCertificate {
                why: format!("unreadable keyUsage extension: {error}"),
            }),
        }
    }

    /// With a non-empty allow-list, the certificatePolicies extension must name one of them.
    pub(crate) fn check_policies(&self, allowed: &[ObjectIdentifier]) -> Result<(), VerifyError> {
        if allowed.is_empty() {
            return Ok(());
        }
        match self
            .certificate
            .tbs_certificate
            .get::<CertificatePolicies>()
        {
            Ok(Some((_critical, policies)))
                if policies
                    .0
                    .iter()
                    .any(|policy| allowed.contains(&policy.policy_identifier)) =>
            {
                Ok(())
            }
            Ok(_) => Err(VerifyError::PolicyNotAllowed),
            Err(error) => Err(VerifyError::InvalidCertificate {
                why: format!("unreadable certificatePolicies extension: {error}"),
            }),
        }
    }

    /// The holder's identity from the subject. Attributes may sit in one multi-valued RDN
    /// (`CN=...+SN=...+GN=...`, as on CPx cards) or in separate RDNs.
    pub(crate) fn identity(&self, der: &[u8], anchor_id: String) -> Result<Identity, VerifyError> {
        let tbs = &self.certificate.tbs_certificate;
        let subject = &tbs.subject;
        let id_nat = first_attribute(subject, CN)
            .filter(|cn| !cn.trim().is_empty())
            .ok_or(VerifyError::IdentityIncomplete {
                missing: "CN (idNat)",
            })?;
        if !is_valid_id_nat(&id_nat) {
            return Err(VerifyError::IdNatInvalid {
                id_nat: id_nat.chars().take(40).collect(),
            });
        }
        Ok(Identity {
            anchor_id,
            id_nat,
            surname: first_attribute(subject, SURNAME).unwrap_or_default(),
            given_name: first_attribute(subject, GIVEN_NAME).unwrap_or_default(),
            profession: first_attribute(subject, TITLE)
                .or_else(|| first_attribute(subject, ORGANIZATIONAL_UNIT)),
            issuer: tbs.issuer.to_string(),
            serial_hex: serial_hex(tbs.serial_number.as_bytes()),
            not_after: tbs.validity.not_after.to_system_time(),
            certificate_der: der.to_vec(),
        })
    }
}

/// The syntax of a health professional's national id (idNat, the CN of a CPx certificate):
/// a one-digit id type, then the id. Type `8` is followed by the 11-digit RPPS number, type
/// `0` by the 9-character ADELI number (digits, and `A`/`B` for Corsica); other types by 1 to
/// 20 upper-case letters or digits. No spaces, lower case or other characters: a CN that does
/// not look like an idNat is not one, whoever issued it.
pub(crate) fn is_valid_id_nat(id_nat: &str) -> bool {
    let bytes = id_nat.as_bytes();
    let Some((&kind, id)) = bytes.split_first() else {
        return false;
    };
    let upper_alnum = |byte: &u8| byte.is_ascii_digit() || byte.is_ascii_uppercase();
    match kind {
        b'8' => id.len() == 11 && id.iter().all(u8::is_ascii_digit),
        b'0' => id.len() == 9 && id.iter().all(upper_alnum),
        b'1'..=b'9' => (1..=20).contains(&id.len()) && id.iter().all(upper_alnum),
        _ => false,
    }
}

/// The first value of the attribute `oid` in the name, in certificate order.
fn first_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|attribute| attribute.oid == oid)
        .and_then(|attribute| directory_string(&attribute.value))
}

/// The text of a DirectoryString (and IA5String); `None` for other types or bad encodings.
fn directory_string(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            String::from_utf8(bytes.to_vec()).ok()
        }
        // T.61 in theory; in practice ASCII or Latin-1, which maps byte for byte to Unicode.
        Tag::TeletexString => Some(bytes.iter().map(|&byte| char::from(byte)).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// Upper-case hex without the sign byte DER adds to positive serials (as `openssl x509 -serial`).
fn serial_hex(serial: &[u8]) -> String {
    let significant = match serial.iter().position(|&byte| byte != 0) {
        Some(first) => &serial[first..],
        None => &serial[serial.len().saturating_sub(1)..],
    };
    significant
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_nat_syntax() {
        for good in ["810001234567", "00B7010446", "0751234567", "31234"] {
            assert!(is_valid_id_nat(good), "{good}");
        }
        for bad in [
            "",
            "8",
            "81000123456",
            "8100012345678",
            "81000123456A",
            "810001234567 ",
            " 810001234567",
            "x10001234567",
            "00b7010446",
            "0B701044",
            "810001234567\u{0}",
            "８10001234567",
        ] {
            assert!(!is_valid_id_nat(bad), "{bad:?}");
        }
    }

    #[test]
    fn serial_hex_drops_sign_byte_only() {
        assert_eq!(serial_hex(&[0x00, 0x9A, 0x01]), "9A01");
        assert_eq!(serial_hex(&[0x10, 0x00]), "1000");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn directory_string_types() {
        let utf8 = Any::new(Tag::Utf8String, "Médecin".as_bytes()).ok();
        let bmp = Any::new(Tag::BmpString, vec![0x00, 0x4D, 0x00, 0xE9]).ok();
        let teletex = Any::new(Tag::TeletexString, vec![0x4D, 0xE9]).ok();
        let integer = Any::new(Tag::Integer, vec![0x01]).ok();
        assert_eq!(
            utf8.as_ref().and_then(directory_string).as_deref(),
            Some("Médecin")
        );
        assert_eq!(
            bmp.as_ref().and_then(directory_string).as_deref(),
            Some("Mé")
        );
        assert_eq!(
            teletex.as_ref().and_then(directory_string).as_deref(),
            Some("Mé")
        );
        assert_eq!(integer.as_ref().and_then(directory_string), None);
    }
}
