//! A small BER-TLV reader for what cards return: FCP templates, GET DATA answers and PKCS#15 files.
//!
//! Only definite lengths (DER and the BER cards use). Tags keep their raw bytes packed in a `u32`
//! (`0x30`, `0xA1`, `0xBF8101`), which is how card specifications write them.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("truncated TLV at offset {0}")]
    Truncated(usize),
    #[error("tag longer than 3 bytes at offset {0}")]
    TagTooLong(usize),
    #[error("unsupported length encoding at offset {0}")]
    BadLength(usize),
    #[error("expected tag {expected:X}, found {found:X}")]
    UnexpectedTag { expected: u32, found: u32 },
    #[error("missing element {0:X}")]
    Missing(u32),
    #[error("bad value in element {0:X}")]
    BadValue(u32),
}

/// One decoded element, borrowing its value from the input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}[{}]", self.tag, self.value.len())
    }
}

impl<'a> Tlv<'a> {
    /// Constructed encoding: bit 6 of the first tag byte.
    pub fn is_constructed(&self) -> bool {
        let first = self
            .tag
            .to_be_bytes()
            .into_iter()
            .find(|&b| b != 0)
            .unwrap_or(0);
        first & 0x20 != 0
    }

    /// The elements inside a constructed element.
    pub fn children(&self) -> TlvReader<'a> {
        TlvReader::new(self.value)
    }

    /// The first child with this tag.
    pub fn find(&self, tag: u32) -> Result<Option<Tlv<'a>>, TlvError> {
        for child in self.children() {
            let child = child?;
            if child.tag == tag {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }

    pub fn require(&self, tag: u32) -> Result<Tlv<'a>, TlvError> {
        self.find(tag)?.ok_or(TlvError::Missing(tag))
    }

    /// A non-negative DER INTEGER that fits a `u32`.
    pub fn as_u32(&self) -> Result<u32, TlvError> {
        let value = match self.value {
            [0x00, rest @ ..] if !rest.is_empty() => rest,
            value => value,
        };
        if value.is_empty() || value.len() > 4 || (self.value[0] & 0x80 != 0) {
            return Err(TlvError::BadValue(self.tag));
        }
        Ok(value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    }

    /// A DER BIT STRING as a bit set: bit 0 is the first (most significant) bit, as ASN.1 numbers them.
    pub fn as_bit_flags(&self) -> Result<u32, TlvError> {
        let (unused, bits) = self
            .value
            .split_first()
            .ok_or(TlvError::BadValue(self.tag))?;
        if *unused > 7 || bits.len() > 4 {
            return Err(TlvError::BadValue(self.tag));
        }
        let mut flags = 0u32;
        for (byte_index, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    flags |= 1 << (byte_index * 8 + bit);
                }
            }
        }
        Ok(flags)
    }

    pub fn as_utf8(&self) -> Result<&'a str, TlvError> {
        std::str::from_utf8(self.value).map_err(|_| TlvError::BadValue(self.tag))
    }
}

/// Iterates over consecutive elements. Filler bytes `00` and `FF` between elements are skipped,
/// since cards pad PKCS#15 directory files up to their allocated size.
#[derive(Clone)]
pub struct TlvReader<'a> {
    input: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> TlvReader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        TlvReader {
            input,
            offset: 0,
            failed: false,
        }
    }

    fn byte(&self, at: usize) -> Result<u8, TlvError> {
        self.input.get(at).copied().ok_or(TlvError::Truncated(at))
    }

    fn read(&mut self) -> Result<Tlv<'a>, TlvError> {
        let start = self.offset;
        let first = self.byte(start)?;
        let mut tag = u32::from(first);
        let mut at = start + 1;
        if first & 0x1F == 0x1F {
            loop {
                let next = self.byte(at)?;
                at += 1;
                if tag > 0xFFFF {
                    return Err(TlvError::TagTooLong(start));
                }
                tag = (tag << 8) | u32::from(next);
                if next & 0x80 == 0 {
                    break;
                }
            }
        }
        let length_byte = self.byte(at)?;
        at += 1;
        let length = match length_byte {
            0x00..=0x7F => usize::from(length_byte),
            0x81..=0x83 => {
                let count = usize::from(length_byte & 0x7F);
                let mut length = 0usize;
                for _ in 0..count {
                    length = (length << 8) | usize::from(self.byte(at)?);
                    at += 1;
                }
                length
            }
            _ => return Err(TlvError::BadLength(at - 1)),
        };
        let end = at.checked_add(length).ok_or(TlvError::Truncated(at))?;
        let value = self.input.get(at..end).ok_or(TlvError::Truncated(at))?;
        self.offset = end;
        Ok(Tlv { tag, value })
    }

    /// The next element, which must carry `tag`.
    pub fn next_tagged(&mut self, tag: u32) -> Result<Tlv<'a>, TlvError> {
        match self.next() {
            Some(Ok(tlv)) if tlv.tag == tag => Ok(tlv),
            Some(Ok(tlv)) => Err(TlvError::UnexpectedTag {
                expected: tag,
                found: tlv.tag,
            }),
            Some(Err(error)) => Err(error),
            None => Err(TlvError::Missing(tag)),
        }
    }
}

impl<'a> Iterator for TlvReader<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while matches!(self.input.get(self.offset), Some(0x00 | 0xFF)) {
            self.offset += 1;
        }
        if self.offset >= self.input.len() {
            return None;
        }
        let item = self.read();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(vec![0xAB; 0x80]);
        let tlv = TlvReader::new(&long).next().unwrap().unwrap();
        assert_eq!(tlv.tag, 0x04);
        assert_eq!(tlv.value.len(), 0x80);

        let mut longer = vec![0x30, 0x82, 0x01, 0x00];
        longer.extend(vec![0x00; 0x100]);
        let tlv = TlvReader::new(&longer).next().unwrap().unwrap();
        assert_eq!(tlv.value.len(), 0x100);
    }

    #[test]
    fn reads_multi_byte_tags() {
        let bytes = [0xBF, 0x81, 0x01, 0x02, 0x9A, 0x00];
        let tlv = TlvReader::new(&bytes).next().unwrap().unwrap();
        assert_eq!(tlv.tag, 0xBF8101);
        assert!(tlv.is_constructed());
        assert_eq!(tlv.value, [0x9A, 0x00]);
    }

    #[test]
    fn finds_children_of_the_card_pin_answer() {
        // The GET DATA answer of CARD.md.
        let answer = [
            0x70, 0x16, 0xBF, 0x81, 0x01, 0x12, 0xA0, 0x10, 0x9A, 0x01, 0x03, 0x9B, 0x01, 0x02,
            0xA1, 0x08, 0x8C, 0x06, 0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00,
        ];
        let outer = TlvReader::new(&answer).next_tagged(0x70).unwrap();
        let sdo = outer.require(0xBF8101).unwrap();
        let docp = sdo.require(0xA0).unwrap();
        assert_eq!(docp.require(0x9A).unwrap().as_u32().unwrap(), 3);
        assert_eq!(docp.require(0x9B).unwrap().as_u32().unwrap(), 2);
        assert_eq!(docp.find(0x9C).unwrap(), None);
    }

    #[test]
    fn skips_padding_between_records() {
        let bytes = [0x30, 0x01, 0x05, 0x00, 0x00, 0xFF, 0x30, 0x00, 0x00];
        let tags: Vec<u32> = TlvReader::new(&bytes).map(|t| t.unwrap().tag).collect();
        assert_eq!(tags, [0x30, 0x30]);
    }

    #[test]
    fn rejects_truncated_and_indefinite_input() {
        assert_eq!(
            TlvReader::new(&[0x30, 0x05, 0x01]).next(),
            Some(Err(TlvError::Truncated(2)))
        );
        assert_eq!(
            TlvReader::new(&[0x30, 0x80, 0x00, 0x00]).next(),
            Some(Err(TlvError::BadLength(1)))
        );
        assert_eq!(
            TlvReader::new(&[0x30, 0x84, 0x01, 0, 0, 0]).next(),
            Some(Err(TlvError::BadLength(1)))
        );
        assert_eq!(
            TlvReader::new(&[0x1F]).next(),
            Some(Err(TlvError::Truncated(1)))
        );
        assert_eq!(
            TlvReader::new(&[0x1F, 0x81, 0x82, 0x83, 0x01, 0x00]).next(),
            Some(Err(TlvError::TagTooLong(0)))
        );
        // A huge declared length must not overflow.
        assert!(matches!(
            TlvReader::new(&[0x04, 0x83, 0xFF, 0xFF, 0xFF]).next(),
            Some(Err(TlvError::Truncated(_)))
        ));
    }

    #[test]
    fn stops_after_the_first_error() {
        let mut reader = TlvReader::new(&[0x30, 0x05]);
        assert!(matches!(reader.next(), Some(Err(_))));
        assert!(reader.next().is_none());
    }

    /// A decoded element with this tag and value, as the reader would give it.
    fn element(tag: u32, value: &[u8]) -> Tlv<'_> {
        Tlv { tag, value }
    }

    #[test]
    fn decodes_integers_and_bit_strings() {
        let int = element(0x02, &[0x00, 0x82]);
        assert_eq!(int.as_u32().unwrap(), 0x82);
        let negative = element(0x02, &[0x82]);
        assert!(negative.as_u32().is_err());
        let empty = element(0x02, &[]);
        assert!(empty.as_u32().is_err());
        // KeyUsageFlags with sign (bit 2) and decrypt (bit 1): 03 02 05 60 -> bits 1, 2
        let bits = element(0x03, &[0x05, 0x60]);
        assert_eq!(bits.as_bit_flags().unwrap(), 0b110);
        // nonRepudiation is bit 9: 03 03 06 00 40
        let bits = element(0x03, &[0x06, 0x00, 0x40]);
        assert_eq!(bits.as_bit_flags().unwrap(), 1 << 9);
    }
}
