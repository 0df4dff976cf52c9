//! Command and response APDUs and the status words a CPx card answers.

use std::fmt;

use zeroize::Zeroizing;

use super::transport::Protocol;

/// Largest data field a CPx card returns in one READ BINARY or GET RESPONSE (CARD.md).
pub const MAX_CHUNK: u8 = 0xE7;

/// Whether raw command bytes are a VERIFY carrying a PIN (a data field). A VERIFY without data
/// only asks whether the PIN is verified. For the layers that see bytes, not [`Command`]s: the
/// PC/SC transport's PIN bookkeeping and the card report's trace.
pub fn carries_pin(command: &[u8]) -> bool {
    command.len() > 5 && command.get(1) == Some(&0x20)
}

/// The data field of a command: plain, or sensitive (a PIN) and then never printed.
#[derive(Clone)]
pub enum CommandData {
    Plain(Vec<u8>),
    Sensitive(Zeroizing<Vec<u8>>),
}

impl CommandData {
    fn bytes(&self) -> &[u8] {
        match self {
            CommandData::Plain(bytes) => bytes,
            CommandData::Sensitive(bytes) => bytes,
        }
    }
}

/// A short command APDU (no extended length: CPx cards do not support it).
#[derive(Clone)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    data: CommandData,
    /// Expected response length; `Some(0)` means "up to 256", as on the wire.
    pub le: Option<u8>,
    /// A case-4 command (data in, data out) sent without Le: under T=1 the channel adds Le `00`.
    answer_expected: bool,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: CommandData::Plain(Vec::new()),
            le: None,
            answer_expected: false,
        }
    }

    /// Marks a command that sends data and expects data back (a SELECT asking for the FCP, a
    /// GET DATA): on T=0 it goes without Le and the answer comes through `61xx`; under T=1 the
    /// card needs Le, which the channel adds.
    pub fn expecting_answer(mut self) -> Self {
        self.answer_expected = true;
        self
    }

    pub fn expects_answer(&self) -> bool {
        self.answer_expected
    }

    /// ISO 7816-3 case 4: data in and data out (an explicit Le, or [`Command::expecting_answer`]).
    pub fn is_case_4(&self) -> bool {
        !self.data().is_empty() && (self.le.is_some() || self.answer_expected)
    }

    /// The command as it goes on the wire under `protocol`. Drivers build commands
    /// protocol-free; the channel asks for this form.
    /// - T=0: a case-4 command goes as case 3, without Le, and its answer comes back through
    ///   `61xx` and GET RESPONSE (ISO 7816-3 12.2.3; Cryptolib v5.2 `apdu.c`:140-146, OpenSC
    ///   `apdu.c` the same). A T=0 reader refuses a trailing Le: GemCCID reports a mute card.
    /// - T=1: a case-4 command carries Le (`00` when the driver gave none).
    /// - Unknown: the T=0 form, the tolerant one (the channel adds Le once on `67 00`).
    pub fn on_the_wire(&self, protocol: Option<Protocol>) -> Command {
        let mut wire = self.clone();
        if self.is_case_4() {
            wire.answer_expected = true;
            match protocol {
                Some(Protocol::T1) => wire.le = Some(self.le.unwrap_or(0)),
                Some(Protocol::T0) | None => wire.le = None,
            }
        }
        wire
    }

    /// Attaches plain data. Callers keep data within 255 bytes (short APDU); longer data is a bug in
    /// the driver, and `to_bytes` refuses it rather than sending a malformed command.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = CommandData::Plain(data.into());
        self
    }

    /// Attaches data that must never appear in a log (a PIN block).
    pub fn with_sensitive_data(mut self, data: Zeroizing<Vec<u8>>) -> Self {
        self.data = CommandData::Sensitive(data);
        self
    }

    pub fn with_le(mut self, le: u8) -> Self {
        self.le = Some(le);
        self
    }

    pub fn data(&self) -> &[u8] {
        self.data.bytes()
    }

    pub fn is_sensitive(&self) -> bool {
        matches!(self.data, CommandData::Sensitive(_))
    }

    /// One part of this command for command chaining: same INS P1 P2, the given class byte and
    /// data; the last part keeps the command's Le and whether it expects an answer, the others
    /// have neither. A part stays sensitive if the whole command is.
    pub fn part(&self, cla: u8, data: &[u8], last: bool) -> Command {
        let part = Command {
            cla,
            le: if last { self.le } else { None },
            answer_expected: last && self.answer_expected,
            ..Command::new(cla, self.ins, self.p1, self.p2)
        };
        match self.data {
            CommandData::Plain(_) => part.with_data(data),
            CommandData::Sensitive(_) => part.with_sensitive_data(Zeroizing::new(data.to_vec())),
        }
    }

    /// Serialises the command; `None` when the data does not fit a short APDU.
    pub fn to_bytes(&self) -> Option<Zeroizing<Vec<u8>>> {
        let data = self.data.bytes();
        let lc = u8::try_from(data.len()).ok()?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(6 + data.len()));
        bytes.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if lc > 0 {
            bytes.push(lc);
            bytes.extend_from_slice(data);
        }
        if let Some(le) = self.le {
            bytes.push(le);
        }
        Some(bytes)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} {:02X} {:02X}",
            self.cla, self.ins, self.p1, self.p2
        )?;
        match &self.data {
            CommandData::Plain(data) if !data.is_empty() => {
                write!(f, " [{}] {}", data.len(), crate::hex::encode(data))?
            }
            CommandData::Sensitive(data) => write!(f, " [{}] REDACTED", data.len())?,
            CommandData::Plain(_) => {}
        }
        if let Some(le) = self.le {
            write!(f, " Le={le:02X}")?;
        }
        Ok(())
    }
}

/// The status words CPx cards are known to answer (ISO 7816-4, IAS-ECC), with a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWord {
    Success,
    /// `61xx`: this many more bytes wait for GET RESPONSE (0 means 256 or more).
    BytesAvailable(u8),
    /// `6Cxx`: resend with this Le.
    WrongLe(u8),
    /// `63Cx`: verification failed, this many tries left.
    WrongPin {
        retries_left: u8,
    },
    /// `6983`: the PIN is blocked.
    PinBlocked,
    /// `6982`
    SecurityStatusNotSatisfied,
    /// `6985`
    ConditionsNotSatisfied,
    /// `6A82`
    FileNotFound,
    /// `6A86`
    IncorrectP1P2,
    /// `6A88`
    ReferenceNotFound,
    /// `6700`
    WrongLength,
    /// `6B00`
    WrongOffset,
    /// `6D00`
    InstructionNotSupported,
    /// `6E00`
    ClassNotSupported,
    Other(u16),
}

impl StatusWord {
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        match (sw1, sw2) {
            (0x90, 0x00) => StatusWord::Success,
            (0x61, n) => StatusWord::BytesAvailable(n),
            (0x6C, n) => StatusWord::WrongLe(n),
            (0x63, n) if n & 0xF0 == 0xC0 => StatusWord::WrongPin {
                retries_left: n & 0x0F,
            },
            (0x69, 0x83) => StatusWord::PinBlocked,
            (0x69, 0x82) => StatusWord::SecurityStatusNotSatisfied,
            (0x69, 0x85) => StatusWord::ConditionsNotSatisfied,
            (0x6A, 0x82) => StatusWord::FileNotFound,
            (0x6A, 0x86) => StatusWord::IncorrectP1P2,
            (0x6A, 0x88) => StatusWord::ReferenceNotFound,
            (0x67, 0x00) => StatusWord::WrongLength,
            (0x6B, 0x00) => StatusWord::WrongOffset,
            (0x6D, 0x00) => StatusWord::InstructionNotSupported,
            (0x6E, 0x00) => StatusWord::ClassNotSupported,
            _ => StatusWord::Other(u16::from_be_bytes([sw1, sw2])),
        }
    }

    pub fn to_u16(self) -> u16 {
        match self {
            StatusWord::Success => 0x9000,
            StatusWord::BytesAvailable(n) => 0x6100 | u16::from(n),
            StatusWord::WrongLe(n) => 0x6C00 | u16::from(n),
            StatusWord::WrongPin { retries_left } => 0x63C0 | u16::from(retries_left & 0x0F),
            StatusWord::PinBlocked => 0x6983,
            StatusWord::SecurityStatusNotSatisfied => 0x6982,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::IncorrectP1P2 => 0x6A86,
            StatusWord::ReferenceNotFound => 0x6A88,
            StatusWord::WrongLength => 0x6700,
            StatusWord::WrongOffset => 0x6B00,
            StatusWord::InstructionNotSupported => 0x6D00,
            StatusWord::ClassNotSupported => 0x6E00,
            StatusWord::Other(sw) => sw,
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.to_u16())
    }
}

/// A response APDU split into data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    /// Splits raw bytes; `None` when fewer than the two status bytes came back.
    pub fn parse(mut raw: Vec<u8>) -> Option<Self> {
        let sw2 = raw.pop()?;
        let sw1 = raw.pop()?;
        Some(Response {
            data: raw,
            sw: StatusWord::from_bytes(sw1, sw2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_the_four_iso_cases() {
        let case1 = Command::new(0x00, 0x20, 0x00, 0x01);
        assert_eq!(
            case1.to_bytes().unwrap().as_slice(),
            [0x00, 0x20, 0x00, 0x01]
        );
        let case2 = Command::new(0x00, 0xB0, 0x00, 0x00).with_le(0x0C);
        assert_eq!(
            case2.to_bytes().unwrap().as_slice(),
            [0x00, 0xB0, 0x00, 0x00, 0x0C]
        );
        let case3 = Command::new(0x00, 0xA4, 0x09, 0x0C).with_data([0x3F, 0x00]);
        assert_eq!(
            case3.to_bytes().unwrap().as_slice(),
            [0x00, 0xA4, 0x09, 0x0C, 0x02, 0x3F, 0x00]
        );
        let case4 = Command::new(0x00, 0x88, 0x00, 0x00)
            .with_data([0xAA])
            .with_le(0);
        assert_eq!(
            case4.to_bytes().unwrap().as_slice(),
            [0x00, 0x88, 0x00, 0x00, 0x01, 0xAA, 0x00]
        );
    }

    #[test]
    fn refuses_data_longer_than_a_short_apdu() {
        let command = Command::new(0x00, 0x88, 0x00, 0x00).with_data(vec![0u8; 256]);
        assert!(command.to_bytes().is_none());
    }

    #[test]
    fn sensitive_data_is_redacted_in_debug_output() {
        let pin = Zeroizing::new(b"1234\xFF\xFF\xFF\xFF".to_vec());
        let command = Command::new(0x00, 0x20, 0x00, 0x01).with_sensitive_data(pin);
        let printed = format!("{command:?}");
        assert_eq!(printed, "00 20 00 01 [8] REDACTED");
        assert!(!printed.contains("31"));
    }

    #[test]
    fn a_part_of_a_sensitive_command_stays_sensitive() {
        let whole = Command::new(0x01, 0x20, 0x00, 0x01)
            .with_sensitive_data(Zeroizing::new(b"12345678".to_vec()))
            .with_le(0);
        let part = whole.part(0x11, b"1234", false);
        assert!(part.is_sensitive());
        assert_eq!(format!("{part:?}"), "11 20 00 01 [4] REDACTED");
        let plain = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data([1, 2, 3])
            .with_le(0);
        let last = plain.part(0x01, &[3], true);
        assert_eq!(
            last.to_bytes().unwrap().as_slice(),
            [0x01, 0x2A, 0x80, 0x86, 0x01, 0x03, 0x00]
        );
    }

    #[test]
    fn plain_data_is_printed_in_hex() {
        let command = Command::new(0x00, 0xA4, 0x09, 0x0C).with_data([0x3F, 0x00]);
        assert_eq!(format!("{command:?}"), "00 A4 09 0C [2] 3F00");
    }

    #[test]
    fn status_words_round_trip() {
        for (sw1, sw2, expected) in [
            (0x90, 0x00, StatusWord::Success),
            (0x61, 0x27, StatusWord::BytesAvailable(0x27)),
            (0x6C, 0x0C, StatusWord::WrongLe(0x0C)),
            (0x63, 0xC2, StatusWord::WrongPin { retries_left: 2 }),
            (0x69, 0x83, StatusWord::PinBlocked),
            (0x6A, 0x82, StatusWord::FileNotFound),
            (0x6A, 0x86, StatusWord::IncorrectP1P2),
            (0x6A, 0x88, StatusWord::ReferenceNotFound),
            (0x67, 0x00, StatusWord::WrongLength),
            (0x64, 0x00, StatusWord::Other(0x6400)),
            (0x63, 0x00, StatusWord::Other(0x6300)),
        ] {
            let sw = StatusWord::from_bytes(sw1, sw2);
            assert_eq!(sw, expected);
            assert_eq!(sw.to_u16(), u16::from_be_bytes([sw1, sw2]));
        }
        assert_eq!(StatusWord::FileNotFound.to_string(), "6A82");
    }

    #[test]
    fn response_needs_two_status_bytes() {
        assert!(Response::parse(vec![0x90]).is_none());
        assert!(Response::parse(vec![]).is_none());
        let response = Response::parse(vec![0x01, 0x02, 0x90, 0x00]).unwrap();
        assert_eq!(response.data, [0x01, 0x02]);
        assert_eq!(response.sw, StatusWord::Success);
    }
}
