//! A small DER encoder: just what the card's PKCS#15 files, FCPs and SDO answers need.
//!
//! Every helper returns a complete TLV, so the file builders read like the ASN.1 they encode.
//! The encoder is checked byte by byte below, and the PKCS#15 files it produces are decoded
//! again by an independent decoder (the `der` crate) in the crate's tests.

/// Tag and value, with a DER length (short form below 128, long form otherwise).
pub fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + 4 + value.len());
    out.extend_from_slice(tag);
    out.extend_from_slice(&length(value.len()));
    out.extend_from_slice(value);
    out
}

/// DER length octets.
pub fn length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|byte| *byte == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// SEQUENCE of already encoded elements.
pub fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
    tlv(&[0x30], &elements.concat())
}

/// Constructed context-specific tag `[number]` (explicit tagging, or implicit on a SEQUENCE).
pub fn context_constructed(number: u8, elements: &[Vec<u8>]) -> Vec<u8> {
    tlv(&[0xA0 | number], &elements.concat())
}

/// Primitive context-specific tag `[number]` (implicit tagging of a primitive type).
pub fn context_primitive(number: u8, value: &[u8]) -> Vec<u8> {
    tlv(&[0x80 | number], value)
}

/// INTEGER from an unsigned value, minimal two's complement.
pub fn integer(value: u64) -> Vec<u8> {
    tlv(&[0x02], &unsigned_integer_content(value))
}

/// ENUMERATED, same content rules as INTEGER.
pub fn enumerated(value: u64) -> Vec<u8> {
    tlv(&[0x0A], &unsigned_integer_content(value))
}

/// Content octets of a non-negative INTEGER: no superfluous leading zero, a zero added when the
/// high bit would otherwise make the number negative.
pub fn unsigned_integer_content(value: u64) -> Vec<u8> {
    let mut bytes: Vec<u8> = value
        .to_be_bytes()
        .into_iter()
        .skip_while(|byte| *byte == 0)
        .collect();
    if bytes.is_empty() || bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    bytes
}

pub fn boolean(value: bool) -> Vec<u8> {
    tlv(&[0x01], &[if value { 0xFF } else { 0x00 }])
}

pub fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

pub fn octet_string(value: &[u8]) -> Vec<u8> {
    tlv(&[0x04], value)
}

pub fn utf8_string(value: &str) -> Vec<u8> {
    tlv(&[0x0C], value.as_bytes())
}

/// BIT STRING of a named-bit list (ASN.1 `BIT STRING { a(0), b(1), ... }`): bit 0 is the most
/// significant bit of the first octet, and DER drops trailing zero bits.
pub fn named_bits(set_bits: &[usize]) -> Vec<u8> {
    let Some(&highest) = set_bits.iter().max() else {
        return tlv(&[0x03], &[0x00]);
    };
    let bit_count = highest + 1;
    let mut octets = vec![0u8; bit_count.div_ceil(8)];
    for &bit in set_bits {
        octets[bit / 8] |= 0x80 >> (bit % 8);
    }
    let unused_bits = (octets.len() * 8 - bit_count) as u8;
    let mut content = vec![unused_bits];
    content.extend(octets);
    tlv(&[0x03], &content)
}

/// OBJECT IDENTIFIER from its arcs.
pub fn object_identifier(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    if let [first, second, rest @ ..] = arcs {
        base128(first * 40 + second, &mut content);
        for arc in rest {
            base128(*arc, &mut content);
        }
    }
    tlv(&[0x06], &content)
}

fn base128(mut value: u64, out: &mut Vec<u8>) {
    let mut groups = vec![(value & 0x7F) as u8];
    value >>= 7;
    while value > 0 {
        groups.push(0x80 | (value & 0x7F) as u8);
        value >>= 7;
    }
    groups.reverse();
    out.extend(groups);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_short_form_below_128_and_minimal_long_form_above() {
        assert_eq!(length(0), [0x00]);
        assert_eq!(length(0x7F), [0x7F]);
        assert_eq!(length(0x80), [0x81, 0x80]);
        assert_eq!(length(0xFF), [0x81, 0xFF]);
        assert_eq!(length(0x100), [0x82, 0x01, 0x00]);
        assert_eq!(length(0x3C5), [0x82, 0x03, 0xC5]);
    }

    #[test]
    fn integers_are_minimal_twos_complement() {
        assert_eq!(integer(0), [0x02, 0x01, 0x00]);
        assert_eq!(integer(1), [0x02, 0x01, 0x01]);
        assert_eq!(integer(0x7F), [0x02, 0x01, 0x7F]);
        assert_eq!(integer(0x80), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(0x82), [0x02, 0x02, 0x00, 0x82]);
        assert_eq!(integer(2048), [0x02, 0x02, 0x08, 0x00]);
        assert_eq!(integer(0x250), [0x02, 0x02, 0x02, 0x50]);
        assert_eq!(enumerated(1), [0x0A, 0x01, 0x01]);
    }

    #[test]
    fn named_bit_strings_drop_trailing_zero_bits() {
        // PinFlags { initialized(4), needs-padding(5) }: 6 bits used, 2 unused.
        assert_eq!(named_bits(&[4, 5]), [0x03, 0x02, 0x02, 0x0C]);
        // KeyUsageFlags { decrypt(1), sign(2) }.
        assert_eq!(named_bits(&[1, 2]), [0x03, 0x02, 0x05, 0x60]);
        // KeyUsageFlags { nonRepudiation(9) } spills into a second octet.
        assert_eq!(named_bits(&[9]), [0x03, 0x03, 0x06, 0x00, 0x40]);
        // TokenFlags { readonly(0), loginRequired(1) }.
        assert_eq!(named_bits(&[0, 1]), [0x03, 0x02, 0x06, 0xC0]);
        assert_eq!(named_bits(&[7]), [0x03, 0x02, 0x00, 0x01]);
        assert_eq!(named_bits(&[]), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn object_identifiers_encode_arcs_in_base_128() {
        // sha256WithRSAEncryption 1.2.840.113549.1.1.11
        assert_eq!(
            object_identifier(&[1, 2, 840, 113549, 1, 1, 11]),
            [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]
        );
        // sha-1 1.3.14.3.2.26
        assert_eq!(
            object_identifier(&[1, 3, 14, 3, 2, 26]),
            [0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A]
        );
    }

    #[test]
    fn strings_sequences_and_context_tags() {
        assert_eq!(utf8_string("Ab"), [0x0C, 0x02, b'A', b'b']);
        assert_eq!(octet_string(&[0x3F, 0x00]), [0x04, 0x02, 0x3F, 0x00]);
        assert_eq!(boolean(true), [0x01, 0x01, 0xFF]);
        assert_eq!(null(), [0x05, 0x00]);
        assert_eq!(
            sequence(&[integer(1), null()]),
            [0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00]
        );
        assert_eq!(context_primitive(0, &[0x01]), [0x80, 0x01, 0x01]);
        assert_eq!(context_constructed(1, &[null()]), [0xA1, 0x02, 0x05, 0x00]);
        let long = tlv(&[0x04], &[0xAB; 300]);
        assert_eq!(&long[..4], [0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(long.len(), 304);
    }
}
