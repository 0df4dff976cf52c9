//! The PIN ("code porteur") and the rules the card's PIN object sets for encoding it.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use super::error::CardError;

/// A PIN the user just typed. Wiped from memory when dropped; prints as `REDACTED`.
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(pin: &str) -> Self {
        Pin(Zeroizing::new(pin.to_owned()))
    }

    pub fn is_digits(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_digit())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.bytes().map(|b| b.wrapping_sub(b'0'))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(REDACTED)")
    }
}

impl<'de> serde::Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PinVisitor;
        impl serde::de::Visitor<'_> for PinVisitor {
            type Value = Pin;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a PIN as a string of digits")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Pin, E> {
                Ok(Pin::new(value))
            }
            fn visit_string<E: serde::de::Error>(self, mut value: String) -> Result<Pin, E> {
                let pin = Pin::new(&value);
                value.zeroize();
                Ok(pin)
            }
        }
        deserializer.deserialize_str(PinVisitor)
    }
}

/// PKCS#15 PinType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PinEncoding {
    Bcd,
    AsciiNumeric,
    Utf8,
    HalfNibbleBcd,
    Iso9564_1,
}

impl PinEncoding {
    pub fn from_pkcs15(pin_type: u32) -> Option<Self> {
        Some(match pin_type {
            0 => PinEncoding::Bcd,
            1 => PinEncoding::AsciiNumeric,
            2 => PinEncoding::Utf8,
            3 => PinEncoding::HalfNibbleBcd,
            4 => PinEncoding::Iso9564_1,
            _ => return None,
        })
    }
}

/// How the card wants its PIN: reference, encoding, lengths and padding, all from the AODF.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinPolicy {
    reference: u32,
    encoding: PinEncoding,
    min_length: usize,
    max_length: usize,
    stored_length: usize,
    needs_padding: bool,
    pad_char: u8,
}

/// The largest VERIFY data a policy can produce: `new` keeps the PIN and a padded stored length
/// within 64 bytes, and every encoding takes at most a byte per digit.
const MAX_PIN_BLOCK: usize = 64;

/// Digits that fit an ISO 9564 format 2 block: 16 nibbles less the control and length nibbles.
const ISO9564_MAX_DIGITS: usize = 14;

/// Default padding when the AODF asks for padding without naming the byte (IAS-ECC cards use FF).
const DEFAULT_PAD: u8 = 0xFF;

impl PinPolicy {
    pub fn new(
        reference: u32,
        encoding: PinEncoding,
        min_length: usize,
        max_length: Option<usize>,
        stored_length: usize,
        needs_padding: bool,
        pad_char: Option<u8>,
    ) -> Result<Self, CardError> {
        let max_length = max_length.unwrap_or(stored_length.max(min_length));
        let reference_fits = u8::try_from(reference).is_ok();
        if min_length == 0 || min_length > max_length || max_length > 64 || !reference_fits {
            return Err(CardError::Malformed(format!(
                "PIN object: reference {reference}, lengths {min_length}..{max_length}"
            )));
        }
        if needs_padding && (stored_length == 0 || stored_length > 64) {
            return Err(CardError::Malformed(format!(
                "PIN object: stored length {stored_length}"
            )));
        }
        Ok(PinPolicy {
            reference,
            encoding,
            min_length,
            max_length,
            stored_length,
            needs_padding,
            pad_char: pad_char.unwrap_or(DEFAULT_PAD),
        })
    }

    pub fn reference(&self) -> u8 {
        // `new` guarantees the reference fits a byte.
        u8::try_from(self.reference).unwrap_or(0)
    }

    pub fn encoding(&self) -> PinEncoding {
        self.encoding
    }

    pub fn min_length(&self) -> usize {
        self.min_length
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Checks a PIN against the policy without touching the card.
    pub fn check(&self, pin: &Pin) -> Result<(), CardError> {
        if !pin.is_digits() {
            return Err(CardError::PinFormat("the PIN must be digits only"));
        }
        if pin.len() < self.min_length || pin.len() > self.max_length {
            return Err(CardError::PinFormat("the PIN length does not fit the card"));
        }
        Ok(())
    }

    /// The VERIFY data block for this PIN.
    pub fn encode(&self, pin: &Pin) -> Result<Zeroizing<Vec<u8>>, CardError> {
        self.check(pin)?;
        // Sized once so that the PIN is never copied by a reallocation. Not by the stored length:
        // an AODF may give any, and a wiped buffer of that capacity is written in full on drop.
        let mut block = Zeroizing::new(Vec::with_capacity(MAX_PIN_BLOCK));
        match self.encoding {
            PinEncoding::AsciiNumeric | PinEncoding::Utf8 => block.extend(pin.0.bytes()),
            PinEncoding::Bcd => {
                let digits: Zeroizing<Vec<u8>> = Zeroizing::new(pin.digits().collect());
                for pair in digits.chunks(2) {
                    let high = pair[0] << 4;
                    let low = pair.get(1).copied().unwrap_or(self.pad_char & 0x0F);
                    block.push(high | low);
                }
            }
            PinEncoding::HalfNibbleBcd => block.extend(pin.digits().map(|d| 0xF0 | d)),
            PinEncoding::Iso9564_1 => {
                // Format 2 PIN block: 2L, the digits, F filler, 8 bytes in all. Longer PINs do not
                // fit (an AODF may still allow them), and a cut-off block would spend a try.
                if pin.len() > ISO9564_MAX_DIGITS {
                    return Err(CardError::PinFormat(
                        "the PIN is too long for an ISO 9564 PIN block",
                    ));
                }
                let mut nibbles: Zeroizing<Vec<u8>> = Zeroizing::new(vec![0x2, pin.len() as u8]);
                nibbles.extend(pin.digits());
                nibbles.resize(16, 0xF);
                block.extend(nibbles.chunks(2).map(|pair| (pair[0] << 4) | pair[1]));
                return Ok(block);
            }
        }
        if self.needs_padding {
            if block.len() > self.stored_length {
                return Err(CardError::PinFormat(
                    "the PIN is longer than the card stores",
                ));
            }
            block.resize(self.stored_length, self.pad_char);
        }
        Ok(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cps_policy() -> PinPolicy {
        PinPolicy::new(
            1,
            PinEncoding::AsciiNumeric,
            4,
            Some(8),
            8,
            true,
            Some(0xFF),
        )
        .unwrap()
    }

    #[test]
    fn pin_prints_redacted() {
        let pin = Pin::new("1234");
        assert_eq!(format!("{pin:?}"), "Pin(REDACTED)");
    }

    #[test]
    fn pin_deserializes_from_a_json_string_only() {
        let pin: Pin = serde_json::from_str("\"1234\"").unwrap();
        assert_eq!(pin.len(), 4);
        let escaped: Pin = serde_json::from_str("\"12\\u00334\"").unwrap();
        assert!(escaped.is_digits());
        assert!(serde_json::from_str::<Pin>("1234").is_err());
    }

    #[test]
    fn ascii_pin_is_padded_to_the_stored_length() {
        let block = cps_policy().encode(&Pin::new("1234")).unwrap();
        assert_eq!(block.as_slice(), b"1234\xFF\xFF\xFF\xFF");
    }

    #[test]
    fn other_encodings() {
        let bcd = PinPolicy::new(1, PinEncoding::Bcd, 4, Some(8), 4, true, Some(0xFF)).unwrap();
        assert_eq!(
            bcd.encode(&Pin::new("12345")).unwrap().as_slice(),
            [0x12, 0x34, 0x5F, 0xFF]
        );
        let half =
            PinPolicy::new(1, PinEncoding::HalfNibbleBcd, 4, Some(8), 8, false, None).unwrap();
        assert_eq!(
            half.encode(&Pin::new("1234")).unwrap().as_slice(),
            [0xF1, 0xF2, 0xF3, 0xF4]
        );
        let iso = PinPolicy::new(1, PinEncoding::Iso9564_1, 4, Some(12), 8, false, None).unwrap();
        assert_eq!(
            iso.encode(&Pin::new("1234")).unwrap().as_slice(),
            [0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
    }

    #[test]
    fn iso9564_refuses_pins_that_do_not_fit_its_block() {
        // Found by fuzzing (fuzz target pkcs15): an AODF allowing 16 digits made a 15-digit PIN
        // into a block that had lost its last digit, and that block would have been sent.
        let iso = PinPolicy::new(1, PinEncoding::Iso9564_1, 1, Some(16), 4, false, None).unwrap();
        assert!(matches!(
            iso.encode(&Pin::new("123456789012345")),
            Err(CardError::PinFormat(_))
        ));
        assert_eq!(
            iso.encode(&Pin::new("12345678901234")).unwrap().as_slice(),
            [0x2E, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34]
        );
    }

    #[test]
    fn a_huge_stored_length_without_padding_reserves_nothing_for_it() {
        // Found by fuzzing (fuzz target pkcs15): an AODF whose storedLength was 4 G (ignored
        // without the needs-padding flag) made every encode reserve, then wipe, 4 GiB.
        let policy = PinPolicy::new(
            1,
            PinEncoding::AsciiNumeric,
            4,
            Some(8),
            u32::MAX as usize,
            false,
            None,
        )
        .unwrap();
        let block = policy.encode(&Pin::new("1234")).unwrap();
        assert_eq!(block.as_slice(), b"1234");
        assert!(block.capacity() <= MAX_PIN_BLOCK);
    }

    #[test]
    fn rejects_pins_outside_the_policy() {
        let policy = cps_policy();
        for bad in ["123", "123456789", "12a4", "", "１２３４"] {
            assert!(
                matches!(policy.encode(&Pin::new(bad)), Err(CardError::PinFormat(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_incoherent_policies() {
        assert!(PinPolicy::new(1, PinEncoding::Bcd, 0, Some(8), 8, false, None).is_err());
        assert!(PinPolicy::new(1, PinEncoding::Bcd, 9, Some(8), 8, false, None).is_err());
        assert!(PinPolicy::new(300, PinEncoding::Bcd, 4, Some(8), 8, false, None).is_err());
        assert!(PinPolicy::new(1, PinEncoding::Bcd, 4, Some(8), 0, true, None).is_err());
    }
}
