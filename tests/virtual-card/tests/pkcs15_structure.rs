//! Decodes the card's PKCS#15 files with an independent decoder (the `der` crate, into
//! structures written from the ISO 7816-15 ASN.1) after finding them the way a host must:
//! EF.DIR -> application DF -> ODF -> AODF / PrKDF / CDF -> certificate files.

use cpx_virtual_card::{Holder, VirtualCard};
use der::asn1::{BitString, Null, ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Any, Decode, Encode, Enumerated, Reader, Sequence, SliceReader, Tag, TagNumber, Tagged};

// ---- ISO 7816-15 / PKCS#15 structures ------------------------------------------------------

#[derive(Sequence, Debug)]
struct Path {
    efid_or_path: OctetString,
    #[asn1(optional = "true")]
    index: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    length: Option<u32>,
}

#[derive(Sequence, Debug)]
struct CommonObjectAttributes<'a> {
    #[asn1(optional = "true")]
    label: Option<Utf8StringRef<'a>>,
    #[asn1(optional = "true")]
    flags: Option<BitString>,
    #[asn1(optional = "true")]
    auth_id: Option<OctetString>,
}

#[derive(Sequence, Debug)]
struct CommonAuthenticationObjectAttributes {
    auth_id: OctetString,
}

#[derive(Enumerated, Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
enum PinType {
    Bcd = 0,
    AsciiNumeric = 1,
    Utf8 = 2,
}

#[derive(Sequence, Debug)]
struct PinAttributes {
    pin_flags: BitString,
    pin_type: PinType,
    min_length: u32,
    stored_length: u32,
    #[asn1(optional = "true")]
    max_length: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pin_reference: Option<u32>,
    #[asn1(optional = "true")]
    pad_char: Option<OctetString>,
    #[asn1(optional = "true")]
    path: Option<Path>,
}

#[derive(Sequence, Debug)]
struct PinObject<'a> {
    common: CommonObjectAttributes<'a>,
    authentication: CommonAuthenticationObjectAttributes,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    pin: PinAttributes,
}

#[derive(Sequence, Debug)]
struct CommonKeyAttributes {
    id: OctetString,
    usage: BitString,
    #[asn1(optional = "true")]
    native: Option<bool>,
    #[asn1(optional = "true")]
    access_flags: Option<BitString>,
    #[asn1(optional = "true")]
    key_reference: Option<u32>,
}

#[derive(Sequence, Debug)]
struct PrivateRsaKeyAttributes {
    value: Path,
    modulus_length: u32,
}

#[derive(Sequence, Debug)]
struct PrivateRsaKeyObject<'a> {
    common: CommonObjectAttributes<'a>,
    key: CommonKeyAttributes,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    rsa: PrivateRsaKeyAttributes,
}

#[derive(Sequence, Debug)]
struct CommonCertificateAttributes {
    id: OctetString,
    #[asn1(optional = "true")]
    authority: Option<bool>,
}

#[derive(Sequence, Debug)]
struct X509CertificateAttributes {
    value: Path,
}

#[derive(Sequence, Debug)]
struct CertificateObject<'a> {
    common: CommonObjectAttributes<'a>,
    certificate: CommonCertificateAttributes,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    x509: X509CertificateAttributes,
}

#[derive(Sequence, Debug)]
struct AlgorithmInfo {
    reference: u32,
    mechanism: u32,
    parameters: Null,
    supported_operations: BitString,
    #[asn1(optional = "true")]
    object_id: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    algorithm_reference: Option<u32>,
}

#[derive(Sequence, Debug)]
struct TokenInfo<'a> {
    version: u32,
    serial_number: OctetString,
    #[asn1(optional = "true")]
    manufacturer_id: Option<Utf8StringRef<'a>>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    label: Option<Utf8StringRef<'a>>,
    token_flags: BitString,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    supported_algorithms: Option<Vec<AlgorithmInfo>>,
}

// ---- card access ------------------------------------------------------------------------------

/// SELECT by full path (P1=09, P2=0C) then READ BINARY of the whole file in 0xE7 chunks,
/// using the FCP's size.
fn read_file(card: &mut VirtualCard, path: &[u8]) -> Vec<u8> {
    let mut select = vec![0x00, 0xA4, 0x09, 0x04, path.len() as u8];
    select.extend_from_slice(path);
    let answer = card.transmit(&select);
    assert_eq!(answer[0], 0x61, "SELECT {path:02X?}: {answer:02X?}");
    let fcp = card.transmit(&[0x00, 0xC0, 0x00, 0x00, answer[1]]);
    let size_at = fcp
        .windows(2)
        .position(|window| window == [0x80, 0x02])
        .expect("EF FCP has a size");
    let size = usize::from(u16::from_be_bytes([fcp[size_at + 2], fcp[size_at + 3]]));
    let mut content = Vec::new();
    while content.len() < size {
        let chunk = (size - content.len()).min(0xE7);
        let [hi, lo] = (content.len() as u16).to_be_bytes();
        let answer = card.transmit(&[0x00, 0xB0, hi, lo, chunk as u8]);
        assert_eq!(&answer[answer.len() - 2..], [0x90, 0x00]);
        content.extend_from_slice(&answer[..answer.len() - 2]);
    }
    content
}

/// The DER elements of a directory file, up to the 00 padding.
fn elements(file: &[u8]) -> Vec<Any> {
    let mut reader = SliceReader::new(file).unwrap();
    let mut out = Vec::new();
    while !reader.is_finished() {
        if reader.peek_byte() == Some(0x00) {
            let rest = reader.read_slice(reader.remaining_len()).unwrap();
            assert!(
                rest.iter().all(|byte| *byte == 0),
                "only 00 padding after the objects"
            );
            break;
        }
        out.push(Any::decode(&mut reader).unwrap());
    }
    out
}

fn named_bits(bits: &BitString) -> Vec<usize> {
    (0..bits.bit_len())
        .filter(|bit| bits.raw_bytes()[bit / 8] & (0x80 >> (bit % 8)) != 0)
        .collect()
}

struct Discovered {
    application_path: Vec<u8>,
    odf: Vec<(u8, Vec<u8>)>,
}

fn discover(card: &mut VirtualCard) -> Discovered {
    let dir = read_file(card, &[0x3F, 0x00, 0x2F, 0x00]);
    let records = elements(&dir);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        record.tag(),
        Tag::Application {
            constructed: true,
            number: TagNumber::new(1)
        }
    );
    let fields = elements(record.value());
    let field = |number: u8| {
        fields
            .iter()
            .find(|any| {
                any.tag()
                    == Tag::Application {
                        constructed: false,
                        number: TagNumber::new(number),
                    }
            })
            .map(|any| any.value().to_vec())
            .unwrap()
    };
    assert_eq!(
        field(15),
        [0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10]
    );
    let application_path = field(17);

    let odf_path = [application_path.as_slice(), &[0x50, 0x31]].concat();
    let odf = elements(&read_file(card, &odf_path))
        .into_iter()
        .map(|entry| {
            let Tag::ContextSpecific {
                constructed: true,
                number,
            } = entry.tag()
            else {
                panic!("ODF entry is not [n] constructed: {:?}", entry.tag());
            };
            let path = Path::from_der(entry.value()).unwrap();
            (number.value(), path.efid_or_path.as_bytes().to_vec())
        })
        .collect();
    Discovered {
        application_path,
        odf,
    }
}

fn directory(discovered: &Discovered, choice: u8) -> Vec<u8> {
    discovered
        .odf
        .iter()
        .find(|(number, _)| *number == choice)
        .map(|(_, path)| path.clone())
        .unwrap_or_else(|| panic!("ODF has no [{choice}] entry"))
}

#[test]
fn ef_dir_and_odf_lead_to_the_three_directories() {
    let mut card = VirtualCard::cps3(Holder::Dupont).with_ef_dir_path();
    let discovered = discover(&mut card);
    assert_eq!(discovered.application_path, [0x3F, 0x00, 0x00, 0x01]);
    let choices: Vec<u8> = discovered.odf.iter().map(|(n, _)| *n).collect();
    assert_eq!(choices, [0, 4, 8], "privateKeys, certificates, authObjects");
    for (_, path) in &discovered.odf {
        assert!(path.starts_with(&[0x3F, 0x00, 0x00, 0x01]), "{path:02X?}");
        // Not the usual 4401..4404 of OpenSC's profiles: hosts must not guess.
        assert_ne!(path[4], 0x44);
    }
}

#[test]
fn aodf_describes_the_cardholder_pin() {
    let mut card = VirtualCard::cps3(Holder::Dupont).with_ef_dir_path();
    let discovered = discover(&mut card);
    let aodf = read_file(&mut card, &directory(&discovered, 8));
    let objects = elements(&aodf);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].tag(), Tag::Sequence, "pinAuthObject choice");
    let der = objects[0].to_der().unwrap();
    let pin = PinObject::from_der(&der).unwrap();
    assert_eq!(pin.common.label.map(|l| l.as_str()), Some("Code Porteur"));
    assert_eq!(pin.authentication.auth_id.as_bytes(), [0x01]);
    // initialized(4), needs-padding(5)
    assert_eq!(named_bits(&pin.pin.pin_flags), [4, 5]);
    assert_eq!(pin.pin.pin_type, PinType::AsciiNumeric);
    assert_eq!(
        (
            pin.pin.min_length,
            pin.pin.stored_length,
            pin.pin.max_length
        ),
        (4, 8, Some(8))
    );
    assert_eq!(pin.pin.pin_reference, Some(1));
    assert_eq!(
        pin.pin.pad_char.map(|c| c.as_bytes().to_vec()),
        Some(vec![0xFF])
    );
    assert!(pin.pin.path.is_none(), "a global PIN, verified from any DF");
}

/// The PrKDF's entries (the ODF's privateKeys [0] directory), each checked to be the
/// privateRSAKey choice, as DER to decode with [`PrivateRsaKeyObject`] (which borrows it).
fn private_key_entries(card: &mut VirtualCard, discovered: &Discovered) -> Vec<Vec<u8>> {
    let prkdf = read_file(card, &directory(discovered, 0));
    elements(&prkdf)
        .iter()
        .map(|any| {
            assert_eq!(any.tag(), Tag::Sequence, "privateRSAKey choice");
            any.to_der().unwrap()
        })
        .collect()
}

#[test]
fn prkdf_describes_the_two_keys() {
    let mut card = VirtualCard::cps3(Holder::Martin).with_ef_dir_path();
    let discovered = discover(&mut card);
    let entries = private_key_entries(&mut card, &discovered);
    let keys: Vec<PrivateRsaKeyObject> = entries
        .iter()
        .map(|der| PrivateRsaKeyObject::from_der(der).unwrap())
        .collect();
    assert_eq!(keys.len(), 2);

    let auth = &keys[0];
    assert_eq!(auth.common.label.map(|l| l.as_str()), Some("CPS_PRIV_AUT"));
    assert_eq!(
        auth.common.auth_id.as_ref().map(|id| id.as_bytes()),
        Some(&[0x01][..])
    );
    // decrypt(1), sign(2)
    assert_eq!(named_bits(&auth.key.usage), [1, 2]);
    assert_eq!(auth.key.key_reference, Some(0x82));
    assert_eq!(auth.rsa.modulus_length, 2048);
    assert_eq!(
        auth.rsa.value.efid_or_path.as_bytes(),
        [0x3F, 0x00, 0x00, 0x01]
    );

    let sign = &keys[1];
    assert_eq!(sign.common.label.map(|l| l.as_str()), Some("CPS_PRIV_SIG"));
    // nonRepudiation(9)
    assert_eq!(named_bits(&sign.key.usage), [9]);
    assert_eq!(sign.key.key_reference, Some(0x81));
    assert_ne!(auth.key.id.as_bytes(), sign.key.id.as_bytes());
}

#[test]
fn cdf_links_each_certificate_to_its_key_and_file() {
    let mut card = VirtualCard::cps3(Holder::Dupont).with_ef_dir_path();
    let discovered = discover(&mut card);
    let key_ids: Vec<Vec<u8>> = private_key_entries(&mut card, &discovered)
        .iter()
        .map(|der| {
            let key = PrivateRsaKeyObject::from_der(der).unwrap();
            key.key.id.as_bytes().to_vec()
        })
        .collect();
    let cdf = read_file(&mut card, &directory(&discovered, 4));
    let certificates: Vec<(String, Vec<u8>, Vec<u8>)> = elements(&cdf)
        .iter()
        .map(|any| {
            assert_eq!(any.tag(), Tag::Sequence, "x509Certificate choice");
            let der = any.to_der().unwrap();
            let object = CertificateObject::from_der(&der).unwrap();
            assert_eq!(object.certificate.authority, None);
            (
                object
                    .common
                    .label
                    .map(|l| l.to_string())
                    .unwrap_or_default(),
                object.certificate.id.as_bytes().to_vec(),
                object.x509.value.efid_or_path.as_bytes().to_vec(),
            )
        })
        .collect();
    assert_eq!(certificates.len(), 2);
    assert_eq!(certificates[0].0, "Certificat d'Authentification CPS");
    assert_eq!(certificates[1].0, "Certificat de Signature CPS");
    assert_eq!(certificates[0].1, key_ids[0]);
    assert_eq!(certificates[1].1, key_ids[1]);

    let expected = [
        card.auth_certificate_der().to_vec(),
        card.sign_certificate_der().to_vec(),
    ];
    for ((_, _, path), expected) in certificates.iter().zip(expected) {
        let file = read_file(&mut card, path);
        // The certificate's own DER length tells where it ends in the padded file.
        let certificate = x509_cert::Certificate::from_der(&file[..expected.len()]).unwrap();
        assert_eq!(certificate.to_der().unwrap(), expected);
        assert!(file[expected.len()..].iter().all(|byte| *byte == 0));
    }
}

#[test]
fn token_info_announces_the_algorithms() {
    let mut card = VirtualCard::cps3(Holder::Dupont).with_ef_dir_path();
    let discovered = discover(&mut card);
    let path = [discovered.application_path.as_slice(), &[0x50, 0x32]].concat();
    let file = read_file(&mut card, &path);
    let mut reader = SliceReader::new(&file).unwrap();
    let token_info: TokenInfo = reader.decode().unwrap();
    assert_eq!(token_info.version, 0);
    let mut serial = vec![0x80, 0x25, 0x00, 0x00, 0x01];
    serial.extend_from_slice(&card.icc_serial());
    assert_eq!(token_info.serial_number.as_bytes(), serial);
    // readonly(0), loginRequired(1)
    assert_eq!(named_bits(&token_info.token_flags), [0, 1]);
    let algorithms = token_info.supported_algorithms.unwrap();
    let rsa_pkcs1_signature = algorithms
        .iter()
        .find(|algorithm| {
            algorithm.mechanism == 0x0001 && named_bits(&algorithm.supported_operations) == [1]
        })
        .unwrap();
    assert_eq!(rsa_pkcs1_signature.algorithm_reference, Some(0x02));
    assert_eq!(
        rsa_pkcs1_signature.object_id,
        Some(ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"))
    );
    let sha256 = algorithms
        .iter()
        .find(|algorithm| algorithm.mechanism == 0x0250)
        .unwrap();
    assert_eq!(sha256.algorithm_reference, Some(0x40));
    assert!(reader
        .read_slice(reader.remaining_len())
        .unwrap()
        .iter()
        .all(|b| *b == 0));
}

#[test]
fn the_default_ef_dir_has_no_path_and_the_relative_layout_no_absolute_path() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    let dir = read_file(&mut card, &[0x3F, 0x00, 0x2F, 0x00]);
    let records = elements(&dir);
    let fields = elements(records[0].value());
    let numbers: Vec<_> = fields.iter().map(|any| any.tag()).collect();
    assert_eq!(numbers.len(), 2, "AID and label only: {numbers:?}");

    let mut card = VirtualCard::cps3(Holder::Dupont).with_relative_layout();
    let odf = read_file(&mut card, &[0x3F, 0x00, 0x00, 0x01, 0x50, 0x31]);
    for entry in elements(&odf) {
        let path = Path::from_der(entry.value()).unwrap();
        assert_eq!(path.efid_or_path.as_bytes().len(), 2, "a file id alone");
    }
}
