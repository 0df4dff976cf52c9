//! PKCS#15 (ISO/IEC 7816-15) structures a CPx card describes itself with: EF.DIR, the ODF, and the
//! PrKDF, CDF and AODF directory files. The host finds every file id through these, never by a
//! hard-coded FID, since CARD.md leaves the real card's FIDs unverified.
//!
//! Over 600 lines for its tests: each directory file's variants (tags, optional fields, a real
//! card's layouts), below the ~440 lines of parsing.

use super::error::CardError;
use super::pin::{PinEncoding, PinPolicy};
use super::tlv::{Tlv, TlvError, TlvReader};

/// The MF's file id: absolute paths start with it.
pub const MF: [u8; 2] = [0x3F, 0x00];

/// ISO 7816-15's application identifier prefix (RID E8 28 BD 08 0F); CPx AIDs extend it.
const PKCS15_AID_PREFIX: [u8; 5] = [0xE8, 0x28, 0xBD, 0x08, 0x0F];
/// The contact PKCS#15 application of a CPS3 (CARD.md); the `...FF 00 20` one is contactless only.
pub const CPS3_CONTACT_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];

/// Key usage bits (KeyUsageFlags, bit 0 first).
pub mod usage {
    pub const DECRYPT: u32 = 1 << 1;
    pub const SIGN: u32 = 1 << 2;
    pub const SIGN_RECOVER: u32 = 1 << 3;
    pub const NON_REPUDIATION: u32 = 1 << 9;
}

/// An application listed in EF.DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub aid: Vec<u8>,
    pub label: Option<String>,
    /// Absolute path of the application DF, when EF.DIR gives one.
    pub path: Option<Vec<u8>>,
}

/// Paths of the directory files the ODF points at (absolute, resolved against the application).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectDirectory {
    pub private_keys: Vec<Vec<u8>>,
    pub certificates: Vec<Vec<u8>>,
    pub auth_objects: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { modulus_bits: Option<u32> },
    Ec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeyInfo {
    pub label: Option<String>,
    pub id: Vec<u8>,
    pub usage: u32,
    pub key_reference: Option<u32>,
    /// The authId of the PIN object protecting the key.
    pub auth_id: Option<Vec<u8>>,
    pub kind: KeyKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub label: Option<String>,
    pub id: Vec<u8>,
    pub authority: bool,
    pub path: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthObjectInfo {
    pub label: Option<String>,
    pub auth_id: Vec<u8>,
    pub policy: PinPolicy,
}

/// The applications of EF.DIR, in file order.
pub fn parse_dir(ef_dir: &[u8]) -> Result<Vec<Application>, CardError> {
    let mut applications = Vec::new();
    for record in TlvReader::new(ef_dir) {
        let record = record?;
        if record.tag != 0x61 {
            continue;
        }
        let aid = record.require(0x4F)?.value.to_vec();
        let label = record
            .find(0x50)?
            .map(|label| String::from_utf8_lossy(label.value).into_owned());
        let path = record.find(0x51)?.map(|p| from_mf(p.value));
        applications.push(Application { aid, label, path });
    }
    Ok(applications)
}

/// The PKCS#15 application a login uses: the CPS3 contact AID if listed, else the first
/// ISO 7816-15 application.
pub fn choose_application(applications: &[Application]) -> Option<&Application> {
    applications
        .iter()
        .find(|app| app.aid == CPS3_CONTACT_AID)
        .or_else(|| {
            applications
                .iter()
                .find(|app| app.aid.starts_with(&PKCS15_AID_PREFIX))
        })
}

/// Parses the ODF; relative paths are resolved against `app_path` (see [`absolute`]).
pub fn parse_odf(odf: &[u8], app_path: &[u8]) -> Result<ObjectDirectory, CardError> {
    let mut directory = ObjectDirectory::default();
    for entry in TlvReader::new(odf) {
        let entry = entry?;
        let list = match entry.tag {
            0xA0 => &mut directory.private_keys,
            0xA4 => &mut directory.certificates,
            0xA8 => &mut directory.auth_objects,
            _ => continue,
        };
        // PathOrObjects: only the `path` choice is meaningful for a card's ODF.
        if let Some(path) = entry.find(0x30)? {
            list.push(absolute(app_path, path.require(0x04)?.value));
        }
    }
    Ok(directory)
}

/// The PrKDF's private keys. Tolerant (ISO 7816-15 objects are extensible): elements it does
/// not know are skipped, and only a missing field a login needs is an error, which names it.
pub fn parse_prkdf(prkdf: &[u8]) -> Result<Vec<PrivateKeyInfo>, CardError> {
    let mut keys = Vec::new();
    for object in TlvReader::new(prkdf) {
        let object = object?;
        let kind = match object.tag {
            0x30 => KeyKind::Rsa { modulus_bits: None },
            0xA0 => KeyKind::Ec,
            _ => continue,
        };
        let (common, mut parts) = open_object(&object, "PrKDF")?;
        let key_attributes = need(parts.next_tagged(0x30), "PrKDF", "commonKeyAttributes")?;
        let id = need(key_attributes.require(0x04), "PrKDF", "key iD")?
            .value
            .to_vec();
        // usage is the first BIT STRING; accessFlags, when present, the second.
        let usage = need(key_attributes.require(0x03), "PrKDF", "key usage")?.as_bit_flags()?;
        let mut key_reference = None;
        for field in key_attributes.children() {
            let field = field?;
            if field.tag == 0x02 && key_reference.is_none() {
                key_reference = Some(unsigned_reference(&field)?);
            }
        }
        let kind = match kind {
            KeyKind::Rsa { .. } => KeyKind::Rsa {
                modulus_bits: rsa_modulus_bits(parts)?,
            },
            KeyKind::Ec => KeyKind::Ec,
        };
        keys.push(PrivateKeyInfo {
            label: common.label,
            id,
            usage,
            key_reference,
            auth_id: common.auth_id,
            kind,
        });
    }
    Ok(keys)
}

/// A field a login needs, or an error naming the directory and the field.
fn need<T>(found: Result<T, TlvError>, directory: &str, field: &str) -> Result<T, CardError> {
    found.map_err(|error| CardError::Malformed(format!("{directory}: no usable {field} ({error})")))
}

/// An object of a directory file opened: its commonObjectAttributes, and the parts after them
/// (class attributes, then optional subclass and type attributes).
fn open_object<'a>(
    object: &Tlv<'a>,
    directory: &str,
) -> Result<(CommonObject, TlvReader<'a>), CardError> {
    let mut parts = object.children();
    let common = need(parts.next_tagged(0x30), directory, "commonObjectAttributes")?;
    Ok((parse_common_object(&common)?, parts))
}

/// The SEQUENCE inside an object's typeAttributes `[1]` (named `what` in errors).
fn type_attributes<'a>(
    parts: &mut TlvReader<'a>,
    directory: &str,
    what: &str,
) -> Result<Tlv<'a>, CardError> {
    let wrapper = need(next_with_tag(parts, 0xA1), directory, "typeAttributes [1]")?;
    need(wrapper.require(0x30), directory, what)
}

/// The next element of `parts` with `tag`, skipping elements before it that this host does not
/// use (a CDF entry's `[0]` subClassAttributes before its `[1]` typeAttributes, extensions).
fn next_with_tag<'a>(parts: &mut TlvReader<'a>, tag: u32) -> Result<Tlv<'a>, TlvError> {
    for part in parts.by_ref() {
        let part = part?;
        if part.tag == tag {
            return Ok(part);
        }
    }
    Err(TlvError::Missing(tag))
}

/// `modulusLength` from the typeAttributes `[1]`, when present (informational only).
fn rsa_modulus_bits(mut rest: TlvReader<'_>) -> Result<Option<u32>, CardError> {
    for part in rest.by_ref() {
        let part = part?;
        if part.tag != 0xA1 {
            continue;
        }
        // OpenSC and the cards it reads wrap the attributes in a SEQUENCE inside [1].
        let attributes = part.find(0x30)?.unwrap_or(part);
        for field in attributes.children() {
            let field = field?;
            if field.tag == 0x02 {
                return Ok(Some(field.as_u32()?));
            }
        }
    }
    Ok(None)
}

pub fn parse_cdf(cdf: &[u8], app_path: &[u8]) -> Result<Vec<CertificateInfo>, CardError> {
    let mut certificates = Vec::new();
    for object in TlvReader::new(cdf) {
        let object = object?;
        // Only X.509 certificates (the untagged choice).
        if object.tag != 0x30 {
            continue;
        }
        let (common, mut parts) = open_object(&object, "CDF")?;
        let certificate_attributes = need(
            parts.next_tagged(0x30),
            "CDF",
            "commonCertificateAttributes",
        )?;
        let id = need(
            certificate_attributes.require(0x04),
            "CDF",
            "certificate iD",
        )?
        .value
        .to_vec();
        let authority = match certificate_attributes.find(0x01)? {
            Some(flag) => flag.value.first().is_some_and(|b| *b != 0),
            None => false,
        };
        let x509_attributes = type_attributes(&mut parts, "CDF", "x509CertificateAttributes")?;
        let value = need(x509_attributes.require(0x30), "CDF", "certificate path")?;
        let path = absolute(
            app_path,
            need(value.require(0x04), "CDF", "certificate path")?.value,
        );
        certificates.push(CertificateInfo {
            label: common.label,
            id,
            authority,
            path,
        });
    }
    Ok(certificates)
}

pub fn parse_aodf(aodf: &[u8]) -> Result<Vec<AuthObjectInfo>, CardError> {
    let mut objects = Vec::new();
    for object in TlvReader::new(aodf) {
        let object = object?;
        // PIN objects only (biometric and other choices are context-tagged).
        if object.tag != 0x30 {
            continue;
        }
        let (common, mut parts) = open_object(&object, "AODF")?;
        let auth_id = need(
            parts
                .next_tagged(0x30)
                .and_then(|attributes| attributes.require(0x04)),
            "AODF",
            "authId",
        )?
        .value
        .to_vec();
        let attributes = type_attributes(&mut parts, "AODF", "PinAttributes")?;
        objects.push(AuthObjectInfo {
            label: common.label,
            auth_id,
            policy: parse_pin_attributes(&attributes)?,
        });
    }
    Ok(objects)
}

/// PinAttributes: pinFlags, pinType, minLength, storedLength, then optional maxLength,
/// pinReference [0], padChar, lastPinChange, path and extensions. Read by tag, in any order
/// where the types differ; the three INTEGERs keep their order. Unknown elements are skipped.
fn parse_pin_attributes(attributes: &Tlv<'_>) -> Result<PinPolicy, CardError> {
    let mut flags = None;
    let mut pin_type = None;
    let mut lengths = Vec::new();
    let mut reference = 0;
    let mut pad_char = None;
    for field in attributes.children() {
        let field = field?;
        match field.tag {
            0x03 if flags.is_none() => flags = Some(field.as_bit_flags()?),
            0x0A if pin_type.is_none() => pin_type = Some(field.as_u32()?),
            0x02 => lengths.push(field.as_u32()?),
            0x80 => reference = unsigned_reference(&field)?,
            0x04 if pad_char.is_none() => pad_char = field.value.first().copied(),
            _ => {}
        }
    }
    let missing = |field: &str| CardError::Malformed(format!("AODF: no usable {field}"));
    let flags = flags.ok_or_else(|| missing("pinFlags"))?;
    let pin_type = pin_type.ok_or_else(|| missing("pinType"))?;
    let (min_length, stored_length, max_length) = match lengths.as_slice() {
        [min, stored] => (*min, *stored, None),
        [min, stored, max, ..] => (*min, *stored, Some(*max)),
        [_] => return Err(missing("storedLength")),
        [] => return Err(missing("minLength")),
    };
    let encoding = PinEncoding::from_pkcs15(pin_type)
        .ok_or_else(|| CardError::Unsupported(format!("PIN type {pin_type} is not supported")))?;
    let to_len = |value: u32| usize::try_from(value).unwrap_or(usize::MAX);
    PinPolicy::new(
        reference,
        encoding,
        to_len(min_length),
        max_length.map(to_len),
        to_len(stored_length),
        flags & PIN_FLAG_NEEDS_PADDING != 0,
        pad_char,
    )
}

/// PinFlags bit 5.
const PIN_FLAG_NEEDS_PADDING: u32 = 1 << 5;

struct CommonObject {
    label: Option<String>,
    auth_id: Option<Vec<u8>>,
}

fn parse_common_object(common: &Tlv<'_>) -> Result<CommonObject, CardError> {
    let mut label = None;
    let mut auth_id = None;
    for field in common.children() {
        let field = field?;
        match field.tag {
            0x0C => label = Some(field.as_utf8()?.to_owned()),
            0x04 => auth_id = Some(field.value.to_vec()),
            _ => {}
        }
    }
    Ok(CommonObject { label, auth_id })
}

/// Card references (`02 01 82`) are bytes, not signed numbers, whatever DER says about the sign bit.
fn unsigned_reference(field: &Tlv<'_>) -> Result<u32, TlvError> {
    if field.value.is_empty() || field.value.len() > 2 {
        return Err(TlvError::BadValue(field.tag));
    }
    Ok(field
        .value
        .iter()
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// A path from EF.DIR or an FCP's file id: absolute when it starts at the MF, else below the MF.
pub fn from_mf(path: &[u8]) -> Vec<u8> {
    absolute(&MF, path)
}

/// Resolves a PKCS#15 path: absolute when it starts at the MF, else relative to the application
/// at `app_path`. An empty `app_path` is an application whose path the card does not tell (no
/// path in EF.DIR, no file id in its FCP): the relative path stays relative, to be selected
/// from the application DF once it is current.
pub fn absolute(app_path: &[u8], path: &[u8]) -> Vec<u8> {
    if path.starts_with(&MF) || app_path.is_empty() {
        return path.to_vec();
    }
    let mut resolved = app_path.to_vec();
    let app_without_mf = resolved.get(2..).unwrap_or_default().to_vec();
    if !app_without_mf.is_empty() && path.starts_with(&app_without_mf) {
        resolved.truncate(2);
    }
    resolved.extend_from_slice(path);
    resolved
}

/// What a login needs from the PKCS#15 directories: the authentication key, its certificate and PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginObjects {
    pub key: PrivateKeyInfo,
    pub certificate: CertificateInfo,
    pub pin: AuthObjectInfo,
}

/// Picks the authentication key: a signing key that is not a non-repudiation key, preferring one that
/// can also decrypt (CPS_PRIV_AUT), then its certificate (same iD) and its PIN (authId).
pub fn find_login_objects(
    keys: &[PrivateKeyInfo],
    certificates: &[CertificateInfo],
    auth_objects: &[AuthObjectInfo],
) -> Result<LoginObjects, CardError> {
    let signs = |key: &&PrivateKeyInfo| {
        key.usage & (usage::SIGN | usage::SIGN_RECOVER) != 0
            && key.usage & usage::NON_REPUDIATION == 0
    };
    let key = keys
        .iter()
        .filter(signs)
        .find(|key| key.usage & usage::DECRYPT != 0)
        .or_else(|| keys.iter().find(signs))
        .ok_or_else(|| CardError::Unsupported("no authentication key in the PrKDF".into()))?;
    let certificate = certificates
        .iter()
        .find(|certificate| !certificate.authority && certificate.id == key.id)
        .ok_or_else(|| {
            CardError::Unsupported("no certificate matches the authentication key".into())
        })?;
    let pin = match &key.auth_id {
        Some(auth_id) => auth_objects.iter().find(|pin| &pin.auth_id == auth_id),
        None => auth_objects.first(),
    }
    .ok_or_else(|| {
        CardError::Unsupported("no PIN object protects the authentication key".into())
    })?;
    Ok(LoginObjects {
        key: key.clone(),
        certificate: certificate.clone(),
        pin: pin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::{hex, tlv};

    const APP: [u8; 4] = [0x3F, 0x00, 0x00, 0x01];

    #[test]
    fn reads_the_applications_of_ef_dir() {
        let ef_dir = hex(
            "61 1A 4F 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10 50 03 43 50 53 51 04 3F 00 00 01 \
             00 00 00",
        );
        let applications = parse_dir(&ef_dir).unwrap();
        assert_eq!(
            applications,
            [Application {
                aid: CPS3_CONTACT_AID.to_vec(),
                label: Some("CPS".into()),
                path: Some(APP.to_vec()),
            }]
        );
        assert_eq!(choose_application(&applications), applications.first());
    }

    #[test]
    fn prefers_the_contact_application() {
        let contactless = Application {
            aid: hex("E8 28 BD 08 0F 80 25 00 00 01 FF 00 20"),
            label: None,
            path: None,
        };
        let contact = Application {
            aid: CPS3_CONTACT_AID.to_vec(),
            label: None,
            path: None,
        };
        let other = Application {
            aid: hex("A0 00 00 00 01"),
            label: None,
            path: None,
        };
        let apps = [other.clone(), contactless.clone(), contact.clone()];
        assert_eq!(choose_application(&apps), Some(&contact));
        assert_eq!(choose_application(&apps[..2]), Some(&contactless));
        assert_eq!(choose_application(&apps[..1]), None);
    }

    #[test]
    fn resolves_odf_paths_against_the_application() {
        let odf = hex("A0 06 30 04 04 02 60 01 \
             A4 08 30 06 04 04 3F 00 60 02 \
             A8 08 30 06 04 04 00 01 60 03 \
             A1 06 30 04 04 02 60 09 00 00");
        let directory = parse_odf(&odf, &APP).unwrap();
        assert_eq!(directory.private_keys, [hex("3F 00 00 01 60 01")]);
        assert_eq!(directory.certificates, [hex("3F 00 60 02")]);
        assert_eq!(directory.auth_objects, [hex("3F 00 00 01 60 03")]);
    }

    #[test]
    fn relative_paths_stay_relative_when_the_application_path_is_unknown() {
        let odf = hex("A0 06 30 04 04 02 60 01 A4 08 30 06 04 04 3F 00 60 02");
        let directory = parse_odf(&odf, &[]).unwrap();
        assert_eq!(directory.private_keys, [hex("60 01")]);
        assert_eq!(directory.certificates, [hex("3F 00 60 02")]);
        assert_eq!(from_mf(&hex("00 01")), hex("3F 00 00 01"));
        assert_eq!(from_mf(&hex("3F 00 00 01")), hex("3F 00 00 01"));
    }

    fn common_object(label: &str, auth_id: Option<u8>) -> Vec<u8> {
        let label = tlv(&[0x0C], &[label.as_bytes()]);
        let flags = tlv(&[0x03], &[&[0x07, 0x80]]);
        let auth = auth_id.map(|id| tlv(&[0x04], &[&[id]])).unwrap_or_default();
        tlv(&[0x30], &[&label, &flags, &auth])
    }

    fn rsa_key(label: &str, id: u8, usage_bits: &[u8], key_ref: u8) -> Vec<u8> {
        let key_attributes = tlv(
            &[0x30],
            &[
                &tlv(&[0x04], &[&[id]]),
                &tlv(&[0x03], &[usage_bits]),
                &tlv(&[0x01], &[&[0xFF]]),
                &tlv(&[0x02], &[&[key_ref]]),
            ],
        );
        let rsa_attributes = tlv(
            &[0xA1],
            &[&tlv(
                &[0x30],
                &[
                    &tlv(&[0x30], &[&tlv(&[0x04], &[&[]])]),
                    &tlv(&[0x02], &[&[0x08, 0x00]]),
                ],
            )],
        );
        tlv(
            &[0x30],
            &[
                &common_object(label, Some(0x01)),
                &key_attributes,
                &rsa_attributes,
            ],
        )
    }

    fn certificate(label: &str, id: u8, authority: bool, path: &[u8]) -> Vec<u8> {
        let authority = if authority {
            tlv(&[0x01], &[&[0xFF]])
        } else {
            Vec::new()
        };
        let attributes = tlv(&[0x30], &[&tlv(&[0x04], &[&[id]]), &authority]);
        let value = tlv(
            &[0xA1],
            &[&tlv(&[0x30], &[&tlv(&[0x30], &[&tlv(&[0x04], &[path])])])],
        );
        tlv(&[0x30], &[&common_object(label, None), &attributes, &value])
    }

    fn pin_object() -> Vec<u8> {
        let attributes = tlv(
            &[0x30],
            &[
                &tlv(&[0x03], &[&[0x02, 0x24]]), // initialized, needs-padding
                &tlv(&[0x0A], &[&[0x01]]),       // ascii-numeric
                &tlv(&[0x02], &[&[0x04]]),
                &tlv(&[0x02], &[&[0x08]]),
                &tlv(&[0x02], &[&[0x08]]),
                &tlv(&[0x80], &[&[0x01]]),
                &tlv(&[0x04], &[&[0xFF]]),
            ],
        );
        tlv(
            &[0x30],
            &[
                &common_object("Code porteur", None),
                &tlv(&[0x30], &[&tlv(&[0x04], &[&[0x01]])]),
                &tlv(&[0xA1], &[&attributes]),
            ],
        )
    }

    const NON_REPUDIATION: &[u8] = &[0x06, 0x00, 0x40];
    const SIGN_DECRYPT: &[u8] = &[0x01, 0x66];

    #[test]
    fn reads_private_keys_and_their_references() {
        let mut prkdf = rsa_key("CPS_PRIV_SIG", 0x02, NON_REPUDIATION, 0x81);
        prkdf.extend(rsa_key("CPS_PRIV_AUT", 0x01, SIGN_DECRYPT, 0x82));
        let keys = parse_prkdf(&prkdf).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].label.as_deref(), Some("CPS_PRIV_SIG"));
        assert_eq!(keys[0].usage, usage::NON_REPUDIATION);
        assert_eq!(keys[0].key_reference, Some(0x81));
        assert_eq!(keys[1].key_reference, Some(0x82));
        assert_eq!(keys[1].auth_id, Some(vec![0x01]));
        assert_eq!(
            keys[1].kind,
            KeyKind::Rsa {
                modulus_bits: Some(2048)
            }
        );
        assert!(keys[1].usage & usage::SIGN != 0 && keys[1].usage & usage::DECRYPT != 0);
    }

    #[test]
    fn reads_certificates_and_pins() {
        let mut cdf = certificate("AUT", 0x01, false, &hex("00 01 C0 01"));
        cdf.extend(certificate("CA", 0x03, true, &hex("C0 03")));
        let certificates = parse_cdf(&cdf, &APP).unwrap();
        assert_eq!(certificates.len(), 2);
        assert_eq!(certificates[0].path, hex("3F 00 00 01 C0 01"));
        assert_eq!(certificates[0].id, [0x01]);
        assert!(!certificates[0].authority);
        assert_eq!(certificates[1].path, hex("3F 00 00 01 C0 03"));
        assert!(certificates[1].authority);

        let pins = parse_aodf(&pin_object()).unwrap();
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].label.as_deref(), Some("Code porteur"));
        let policy = &pins[0].policy;
        assert_eq!(policy.reference(), 1);
        assert_eq!(policy.min_length(), 4);
        assert_eq!(policy.max_length(), 8);
        assert_eq!(policy.encoding(), PinEncoding::AsciiNumeric);
        assert_eq!(
            policy
                .encode(&crate::card::Pin::new("0000"))
                .unwrap()
                .as_slice(),
            b"0000\xFF\xFF\xFF\xFF"
        );
    }

    #[test]
    fn finds_the_login_objects() {
        let mut prkdf = rsa_key("CPS_PRIV_SIG", 0x02, NON_REPUDIATION, 0x81);
        prkdf.extend(rsa_key("CPS_PRIV_AUT", 0x01, SIGN_DECRYPT, 0x82));
        let keys = parse_prkdf(&prkdf).unwrap();
        let mut cdf = certificate("SIG", 0x02, false, &hex("C0 00 02"));
        cdf.extend(certificate("AUT", 0x01, false, &hex("C0 00 01")));
        let certificates = parse_cdf(&cdf, &APP).unwrap();
        let pins = parse_aodf(&pin_object()).unwrap();
        let login = find_login_objects(&keys, &certificates, &pins).unwrap();
        assert_eq!(login.key.key_reference, Some(0x82));
        assert_eq!(login.certificate.path, hex("3F 00 00 01 C0 00 01"));
        assert_eq!(login.pin.auth_id, [0x01]);

        let only_signature: Vec<_> = keys
            .iter()
            .filter(|k| k.usage & usage::NON_REPUDIATION != 0)
            .cloned()
            .collect();
        assert!(matches!(
            find_login_objects(&only_signature, &certificates, &pins),
            Err(CardError::Unsupported(_))
        ));
        assert!(matches!(
            find_login_objects(&keys, &certificates[..1], &pins),
            Err(CardError::Unsupported(_))
        ));
        assert!(matches!(
            find_login_objects(&keys, &certificates, &[]),
            Err(CardError::Unsupported(_))
        ));
    }

    /// Variants ISO 7816-15 allows and a real card may use: a CDF entry's `[0]`
    /// subClassAttributes before `[1]`, extension fields in attributes, a PIN padded with 00 to
    /// 12 bytes with a lastPinChange, fields in another order.
    #[test]
    fn extensible_objects_are_read_and_unknown_elements_skipped() {
        let attributes = tlv(
            &[0x30],
            &[&tlv(&[0x04], &[&[0x01]]), &tlv(&[0x9F, 0x20], &[&[7]])],
        );
        let sub_class = tlv(&[0xA0], &[&tlv(&[0x30], &[&tlv(&[0x0C], &[b"x"])])]);
        let value = tlv(
            &[0xA1],
            &[&tlv(
                &[0x30],
                &[
                    &tlv(&[0x30], &[&tlv(&[0x04], &[&hex("C0 01")])]),
                    &tlv(&[0x85], &[&[1]]),
                ],
            )],
        );
        let cdf = tlv(
            &[0x30],
            &[&common_object("AUT", None), &attributes, &sub_class, &value],
        );
        let certificates = parse_cdf(&cdf, &APP).unwrap();
        assert_eq!(certificates[0].path, hex("3F 00 00 01 C0 01"));
        assert_eq!(certificates[0].id, [0x01]);

        let pin_attributes = tlv(
            &[0x30],
            &[
                &tlv(&[0x03], &[&[0x02, 0x24]]),
                &tlv(&[0x0A], &[&[0x01]]),
                &tlv(&[0x02], &[&[0x04]]),
                &tlv(&[0x02], &[&[0x0C]]),
                &tlv(&[0x04], &[&[0x00]]), // padChar 00, before the reference
                &tlv(&[0x80], &[&[0x81]]),
                &tlv(&[0x18], &[b"20260101000000Z"]), // lastPinChange
                &tlv(&[0xBF, 0x30], &[&[0x01]]),      // an extension
            ],
        );
        let aodf = tlv(
            &[0x30],
            &[
                &common_object("PIN", None),
                &tlv(
                    &[0x30],
                    &[&tlv(&[0x04], &[&[0x01]]), &tlv(&[0x01], &[&[0]])],
                ),
                &tlv(&[0xA0], &[&tlv(&[0x30], &[])]), // subClassAttributes
                &tlv(&[0xA1], &[&pin_attributes]),
            ],
        );
        let pins = parse_aodf(&aodf).unwrap();
        let policy = &pins[0].policy;
        assert_eq!(policy.reference(), 0x81);
        assert_eq!(
            policy
                .encode(&crate::card::Pin::new("1234"))
                .unwrap()
                .as_slice(),
            b"1234\0\0\0\0\0\0\0\0"
        );

        let mut key = rsa_key("AUT", 0x01, SIGN_DECRYPT, 0x82);
        key.extend(tlv(&[0xBF, 0x7F], &[&[0x00]])); // an object of an unknown kind: skipped
        let keys = parse_prkdf(&key).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_reference, Some(0x82));
    }

    #[test]
    fn a_missing_field_a_login_needs_is_named() {
        // A certificate without its path.
        let cdf = tlv(
            &[0x30],
            &[
                &common_object("AUT", None),
                &tlv(&[0x30], &[&tlv(&[0x04], &[&[0x01]])]),
                &tlv(&[0xA1], &[&tlv(&[0x30], &[&tlv(&[0x30], &[])])]),
            ],
        );
        let error = parse_cdf(&cdf, &APP).unwrap_err().to_string();
        assert!(
            error.contains("CDF") && error.contains("certificate path"),
            "{error}"
        );
        // A PIN object without pinType.
        let aodf = tlv(
            &[0x30],
            &[
                &common_object("PIN", None),
                &tlv(&[0x30], &[&tlv(&[0x04], &[&[0x01]])]),
                &tlv(
                    &[0xA1],
                    &[&tlv(
                        &[0x30],
                        &[&tlv(&[0x03], &[&[0x02, 0x24]]), &tlv(&[0x02], &[&[0x04]])],
                    )],
                ),
            ],
        );
        let error = parse_aodf(&aodf).unwrap_err().to_string();
        assert!(error.contains("pinType"), "{error}");
        // A key without iD.
        let prkdf = tlv(
            &[0x30],
            &[
                &common_object("K", None),
                &tlv(&[0x30], &[&tlv(&[0x03], &[&[0x01, 0x66]])]),
            ],
        );
        let error = parse_prkdf(&prkdf).unwrap_err().to_string();
        assert!(
            error.contains("PrKDF") && error.contains("key iD"),
            "{error}"
        );
    }

    #[test]
    fn malformed_directories_are_errors_not_panics() {
        for bytes in [
            hex("30 05 30 00"),
            hex("30 02 04 00"),
            hex("30 04 30 00 30 00"),
            hex("30 06 30 00 30 02 04 00"),
        ] {
            assert!(parse_prkdf(&bytes).is_err(), "{bytes:02X?}");
            assert!(parse_cdf(&bytes, &APP).is_err(), "{bytes:02X?}");
            assert!(parse_aodf(&bytes).is_err(), "{bytes:02X?}");
        }
        assert!(parse_dir(&hex("61 02 50 00")).is_err());
    }
}
