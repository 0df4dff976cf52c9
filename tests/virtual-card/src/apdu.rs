//! Short command APDUs (ISO 7816-3 cases 1 to 4) and the status words the card answers.

/// A parsed short command APDU.
#[derive(Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: &'a [u8],
    /// Expected response length, `00` meaning 256; `None` when the command has no Le.
    pub le: Option<usize>,
}

impl<'a> Command<'a> {
    /// Splits `bytes` into header, data and Le. Anything that is not a well-formed short APDU
    /// (fewer than 4 bytes, Lc = 00 with data, Lc not matching the data) is a length error.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, StatusWord> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(StatusWord::WRONG_LENGTH);
        };
        let (data, le) = match body {
            [] => (&[][..], None),
            [le] => (&[][..], Some(le_value(*le))),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    return Err(StatusWord::WRONG_LENGTH);
                }
                if rest.len() == lc {
                    (rest, None)
                } else if rest.len() == lc + 1 {
                    (&rest[..lc], Some(le_value(rest[lc])))
                } else {
                    return Err(StatusWord::WRONG_LENGTH);
                }
            }
        };
        Ok(Self {
            cla: *cla,
            ins: *ins,
            p1: *p1,
            p2: *p2,
            data,
            le,
        })
    }
}

fn le_value(byte: u8) -> usize {
    if byte == 0 {
        256
    } else {
        usize::from(byte)
    }
}

/// SW1 SW2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const OK: Self = Self(0x9000);
    pub const WRONG_LENGTH: Self = Self(0x6700);
    pub const END_OF_FILE_REACHED: Self = Self(0x6282);
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    pub const AUTHENTICATION_BLOCKED: Self = Self(0x6983);
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    pub const NO_CURRENT_EF: Self = Self(0x6986);
    pub const WRONG_DATA: Self = Self(0x6A80);
    pub const NO_PRECISE_DIAGNOSIS: Self = Self(0x6F00);
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    pub const WRONG_P1_P2: Self = Self(0x6A86);
    pub const REFERENCE_NOT_FOUND: Self = Self(0x6A88);
    pub const OFFSET_OUTSIDE_FILE: Self = Self(0x6B00);
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);

    /// `61 xx`: `remaining` bytes wait for GET RESPONSE (`61 00` for 256 or more).
    pub fn bytes_remaining(remaining: usize) -> Self {
        Self(0x6100 | (remaining.min(256) & 0xFF) as u16)
    }

    /// `6C xx`: wrong Le, `exact` is the right one.
    pub fn wrong_le(exact: usize) -> Self {
        Self(0x6C00 | (exact.min(256) & 0xFF) as u16)
    }

    /// `63 Cx`: verification failed, `tries_left` tries left.
    pub fn verification_failed(tries_left: u8) -> Self {
        Self(0x63C0 | u16::from(tries_left & 0x0F))
    }

    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
}

/// Response APDU: data then SW1 SW2.
pub fn response(data: &[u8], status: StatusWord) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(&status.to_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_cases_parse() {
        let case1 = Command::parse(&[0x00, 0x20, 0x00, 0x01]);
        assert_eq!(case1.map(|c| (c.data.len(), c.le)), Ok((0, None)));
        let case2 = Command::parse(&[0x00, 0xB0, 0x00, 0x00, 0x00]);
        assert_eq!(case2.map(|c| c.le), Ok(Some(256)));
        let case3 = Command::parse(&[0x00, 0xA4, 0x09, 0x0C, 0x02, 0x3F, 0x00]);
        assert_eq!(
            case3.map(|c| (c.data.to_vec(), c.le)),
            Ok((vec![0x3F, 0x00], None))
        );
        let case4 = Command::parse(&[0x00, 0xA4, 0x09, 0x04, 0x02, 0x3F, 0x00, 0x20]);
        assert_eq!(
            case4.map(|c| (c.data.to_vec(), c.le)),
            Ok((vec![0x3F, 0x00], Some(0x20)))
        );
    }

    #[test]
    fn malformed_lengths_are_rejected() {
        for bytes in [
            &[][..],
            &[0x00, 0xA4, 0x09][..],
            &[0x00, 0xA4, 0x09, 0x0C, 0x03, 0x3F, 0x00][..],
            &[0x00, 0xA4, 0x09, 0x0C, 0x01, 0x3F, 0x00, 0x00, 0x00][..],
            &[0x00, 0xA4, 0x09, 0x0C, 0x00, 0x3F][..],
        ] {
            assert_eq!(
                Command::parse(bytes),
                Err(StatusWord::WRONG_LENGTH),
                "{bytes:02X?}"
            );
        }
    }

    #[test]
    fn status_word_helpers() {
        assert_eq!(StatusWord::bytes_remaining(0x18).to_bytes(), [0x61, 0x18]);
        assert_eq!(StatusWord::bytes_remaining(256).to_bytes(), [0x61, 0x00]);
        assert_eq!(StatusWord::bytes_remaining(300).to_bytes(), [0x61, 0x00]);
        assert_eq!(StatusWord::wrong_le(0xE7).to_bytes(), [0x6C, 0xE7]);
        assert_eq!(StatusWord::verification_failed(2).to_bytes(), [0x63, 0xC2]);
        assert_eq!(response(&[1], StatusWord::OK), [1, 0x90, 0x00]);
    }
}
