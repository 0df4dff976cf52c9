//! Target (c): the BER-TLV reader and every PKCS#15 parser on the same arbitrary bytes, and the
//! PIN blocks built from any PIN policy the AODF parser accepts.

use cpx_connect::card::pin::PinEncoding;
use cpx_connect::card::pkcs15::{self, MF};
use cpx_connect::card::tlv::{Tlv, TlvReader};
use cpx_connect::card::{CardError, Pin, PinPolicy};

/// Deeper nesting than any card file has; the walk stops there (the reader itself does not recurse).
const MAX_WALK_DEPTH: usize = 64;

/// An application path as EF.DIR gives it for a CPS3 (CARD.md).
const APP_PATH: [u8; 4] = [0x3F, 0x00, 0x00, 0x01];

pub fn run(data: &[u8]) {
    walk(data, TlvReader::new(data), 0);

    if let Ok(applications) = pkcs15::parse_dir(data) {
        for application in &applications {
            if let Some(path) = &application.path {
                assert!(path.starts_with(&MF), "EF.DIR path not absolute");
            }
        }
        if let Some(chosen) = pkcs15::choose_application(&applications) {
            assert!(applications.contains(chosen));
        }
    }
    // An application of known path resolves every path to the MF; one whose path the card does
    // not tell (empty) keeps relative paths as written, to be selected from the application.
    for app_path in [&APP_PATH[..], &[]] {
        if let Ok(directory) = pkcs15::parse_odf(data, app_path) {
            for path in directory
                .private_keys
                .iter()
                .chain(&directory.certificates)
                .chain(&directory.auth_objects)
            {
                assert!(
                    path.starts_with(&MF) || app_path.is_empty(),
                    "ODF path not resolved to the MF"
                );
                assert!(
                    !app_path.is_empty()
                        || path.is_empty()
                        || data.windows(path.len()).any(|w| w == path.as_slice()),
                    "a relative ODF path is not the one written"
                );
            }
        }
    }

    let keys = pkcs15::parse_prkdf(data);
    let certificates = pkcs15::parse_cdf(data, &APP_PATH);
    if let Ok(certificates) = &certificates {
        for certificate in certificates {
            assert!(certificate.path.starts_with(&MF), "CDF path not absolute");
        }
    }
    let auth_objects = pkcs15::parse_aodf(data);
    if let Ok(auth_objects) = &auth_objects {
        for object in auth_objects {
            check_pin_blocks(&object.policy);
        }
    }
    if let (Ok(keys), Ok(certificates), Ok(auth_objects)) = (&keys, &certificates, &auth_objects) {
        if let Ok(login) = pkcs15::find_login_objects(keys, certificates, auth_objects) {
            assert!(keys.contains(&login.key));
            assert_eq!(login.certificate.id, login.key.id);
            assert!(!login.certificate.authority);
        }
    }
}

/// Walks every element, reading each value every way the parsers do.
fn walk(input: &[u8], reader: TlvReader<'_>, depth: usize) {
    let mut reader = reader;
    while let Some(element) = reader.next() {
        let Ok(element) = element else {
            assert!(reader.next().is_none(), "the reader goes on after an error");
            return;
        };
        assert_within(input, &element);
        let _ = element.as_u32();
        let _ = element.as_bit_flags();
        let _ = element.as_utf8();
        let _ = element.find(0x04);
        if element.is_constructed() && depth < MAX_WALK_DEPTH {
            walk(input, element.children(), depth + 1);
        }
    }
}

fn assert_within(input: &[u8], element: &Tlv<'_>) {
    let outer = input.as_ptr_range();
    let inner = element.value.as_ptr_range();
    assert!(
        outer.start <= inner.start && inner.end <= outer.end,
        "a TLV value outside its input"
    );
}

/// Every PIN length the policy allows either encodes to a block that carries exactly that PIN,
/// or is refused as a PIN format error: a wrong block would spend one of the card's three tries.
fn check_pin_blocks(policy: &PinPolicy) {
    assert!(policy.min_length() >= 1 && policy.min_length() <= policy.max_length());
    assert!(policy.max_length() <= 64);
    for length in policy.min_length()..=policy.max_length() {
        let digits: Vec<u8> = (0..length).map(|i| ((i * 7 + 3) % 10) as u8).collect();
        let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        match policy.encode(&Pin::new(&text)) {
            Ok(block) => assert!(
                carries(policy.encoding(), &block, &digits),
                "{:?} block {block:02X?} does not carry the {length}-digit PIN",
                policy.encoding()
            ),
            Err(CardError::PinFormat(_)) => {}
            Err(error) => panic!("encoding a PIN failed with {error:?}"),
        }
    }
    assert!(matches!(
        policy.encode(&Pin::new("12a4")),
        Err(CardError::PinFormat(_))
    ));
}

fn nibbles(block: &[u8]) -> Vec<u8> {
    block.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect()
}

fn carries(encoding: PinEncoding, block: &[u8], digits: &[u8]) -> bool {
    let ascii: Vec<u8> = digits.iter().map(|d| b'0' + d).collect();
    match encoding {
        PinEncoding::AsciiNumeric | PinEncoding::Utf8 => block.starts_with(&ascii),
        PinEncoding::Bcd => nibbles(block).starts_with(digits),
        PinEncoding::HalfNibbleBcd => {
            block.len() >= digits.len()
                && block
                    .iter()
                    .zip(digits)
                    .all(|(byte, digit)| *byte == 0xF0 | digit)
        }
        PinEncoding::Iso9564_1 => {
            // Format 2: control nibble 2, the length, the digits, F filler; 8 bytes.
            let nibbles = nibbles(block);
            block.len() == 8
                && nibbles.first() == Some(&2)
                && nibbles.get(1).map(|&n| usize::from(n)) == Some(digits.len())
                && nibbles.get(2..2 + digits.len()) == Some(digits)
                && nibbles.iter().skip(2 + digits.len()).all(|&n| n == 0x0F)
        }
    }
}
