//! A card made of fuzz input: a [`Transport`] whose answers are read from the input, one after the
//! other, and which checks every command the host sends it.
//!
//! Layout: byte 0 says what the card does once the answers run out ([`AfterEnd`]); then each answer
//! is a 2-byte big-endian header and its bytes. The header's low 10 bits are the answer's length (up
//! to 1023 bytes: more than a short APDU's 258, since a broken reader may return more); a header
//! with the top bit set is a transport failure instead, its low 2 bits choosing which.

use cpx_connect::card::{Transport, TransportError};

const FAILURE_BIT: u16 = 0x8000;
const LENGTH_MASK: u16 = 0x03FF;

/// Far more commands than any operation of a well-behaved driver needs (a full profile read of the
/// virtual card takes about 30). The answers cost at least 2 input bytes each, so only a driver
/// that loops on a card's repeated answer gets here.
pub const MAX_COMMANDS: usize = 100_000;

/// What the card answers once the scripted answers are used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEnd {
    /// The card is gone: every command fails with `CardRemoved`.
    Removed,
    /// `90 00` with no data, forever.
    AlwaysOk,
    /// `61 00` ("256 more bytes"), forever.
    AlwaysMoreData,
    /// The last scripted answer again, forever.
    RepeatLast,
}

impl AfterEnd {
    fn from_byte(byte: u8) -> Self {
        match byte & 0x03 {
            0 => AfterEnd::Removed,
            1 => AfterEnd::AlwaysOk,
            2 => AfterEnd::AlwaysMoreData,
            _ => AfterEnd::RepeatLast,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            AfterEnd::Removed => 0,
            AfterEnd::AlwaysOk => 1,
            AfterEnd::AlwaysMoreData => 2,
            AfterEnd::RepeatLast => 3,
        }
    }
}

/// Encodes answers in the layout [`ScriptedCard`] reads (used to build seeds from real sessions).
pub fn encode(after_end: AfterEnd, answers: &[Result<Vec<u8>, TransportError>]) -> Vec<u8> {
    let mut script = vec![after_end.to_byte()];
    for answer in answers {
        match answer {
            Ok(bytes) => {
                let length = u16::try_from(bytes.len())
                    .ok()
                    .filter(|length| *length <= LENGTH_MASK)
                    .expect("an answer of at most 1023 bytes");
                script.extend(length.to_be_bytes());
                script.extend(bytes);
            }
            Err(error) => {
                let kind = match error {
                    TransportError::CardRemoved => 0,
                    TransportError::CardReset => 1,
                    TransportError::ServiceGone => 2,
                    TransportError::Other(_) => 3,
                };
                script.extend((FAILURE_BIT | kind).to_be_bytes());
            }
        }
    }
    script
}

/// One command the host sent and what the card answered.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub command: Vec<u8>,
    pub answer: Result<Vec<u8>, TransportError>,
}

impl Exchange {
    pub fn ins(&self) -> u8 {
        self.command[1]
    }

    /// The status word of the answer, if the card gave one.
    pub fn sw(&self) -> Option<u16> {
        match &self.answer {
            Ok(bytes) if bytes.len() >= 2 => Some(u16::from_be_bytes([
                bytes[bytes.len() - 2],
                bytes[bytes.len() - 1],
            ])),
            _ => None,
        }
    }

    /// `6Cxx`: the card wants the command again with another Le.
    pub fn asked_other_le(&self) -> bool {
        self.sw().is_some_and(|sw| sw >> 8 == 0x6C)
    }

    /// The command's data field (empty for ISO cases 1 and 2).
    pub fn data(&self) -> &[u8] {
        match self.command.get(4) {
            Some(&lc) if self.command.len() > 5 => &self.command[5..5 + usize::from(lc)],
            _ => &[],
        }
    }
}

pub const INS_VERIFY: u8 = 0x20;

/// How many times the PIN was presented: VERIFY commands with data (without, VERIFY only asks
/// for the tries left). Every one counts, even a repeat after `6Cxx`: the host never resends it.
pub fn pin_presentations(exchanges: &[Exchange]) -> usize {
    exchanges
        .iter()
        .filter(|exchange| exchange.ins() == INS_VERIFY && !exchange.data().is_empty())
        .count()
}

pub struct ScriptedCard {
    after_end: AfterEnd,
    script: Vec<u8>,
    position: usize,
    last: Option<Result<Vec<u8>, TransportError>>,
    pub exchanges: Vec<Exchange>,
}

impl ScriptedCard {
    pub fn new(data: &[u8]) -> Self {
        let (after_end, script) = match data.split_first() {
            Some((&first, rest)) => (AfterEnd::from_byte(first), rest.to_vec()),
            None => (AfterEnd::Removed, Vec::new()),
        };
        ScriptedCard {
            after_end,
            script,
            position: 0,
            last: None,
            exchanges: Vec::new(),
        }
    }

    fn next_answer(&mut self) -> Result<Vec<u8>, TransportError> {
        let rest = &self.script[self.position.min(self.script.len())..];
        if let [high, low, body @ ..] = rest {
            let header = u16::from_be_bytes([*high, *low]);
            self.position += 2;
            let answer = if header & FAILURE_BIT != 0 {
                Err(match header & 0x03 {
                    0 => TransportError::CardRemoved,
                    1 => TransportError::CardReset,
                    2 => TransportError::ServiceGone,
                    _ => TransportError::Other("scripted failure".into()),
                })
            } else {
                let length = usize::from(header & LENGTH_MASK).min(body.len());
                self.position += length;
                Ok(body[..length].to_vec())
            };
            self.last = Some(answer.clone());
            return answer;
        }
        self.position = self.script.len();
        match self.after_end {
            AfterEnd::Removed => Err(TransportError::CardRemoved),
            AfterEnd::AlwaysOk => Ok(vec![0x90, 0x00]),
            AfterEnd::AlwaysMoreData => Ok(vec![0x61, 0x00]),
            AfterEnd::RepeatLast => self
                .last
                .clone()
                .unwrap_or(Err(TransportError::CardRemoved)),
        }
    }
}

impl Transport for ScriptedCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        assert!(
            self.exchanges.len() < MAX_COMMANDS,
            "the host does not stop: {MAX_COMMANDS} commands sent to one card"
        );
        assert_short_apdu(command);
        let answer = self.next_answer();
        self.exchanges.push(Exchange {
            command: command.to_vec(),
            answer: answer.clone(),
        });
        answer
    }
}

/// A well-formed short command APDU (ISO 7816-3 cases 1 to 4): CPx cards know no other kind.
fn assert_short_apdu(command: &[u8]) {
    let well_formed = match command {
        [_, _, _, _] | [_, _, _, _, _] => true,
        [_, _, _, _, lc, rest @ ..] => {
            let lc = usize::from(*lc);
            lc > 0 && (rest.len() == lc || rest.len() == lc + 1)
        }
        _ => false,
    };
    assert!(well_formed, "malformed command APDU {command:02X?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(command: &[u8], answer: &[u8]) -> Exchange {
        Exchange {
            command: command.to_vec(),
            answer: Ok(answer.to_vec()),
        }
    }

    #[test]
    fn plays_back_encoded_answers_then_what_comes_after_the_end() {
        let answers = vec![
            Ok(vec![0x90, 0x00]),
            Err(TransportError::CardReset),
            Ok(vec![0xAB; 300]),
        ];
        for (after_end, expected) in [
            (AfterEnd::Removed, Err(TransportError::CardRemoved)),
            (AfterEnd::AlwaysOk, Ok(vec![0x90, 0x00])),
            (AfterEnd::AlwaysMoreData, Ok(vec![0x61, 0x00])),
            (AfterEnd::RepeatLast, Ok(vec![0xAB; 300])),
        ] {
            let mut card = ScriptedCard::new(&encode(after_end, &answers));
            for answer in &answers {
                assert_eq!(&card.transmit(&[0, 0xB0, 0, 0, 0]), answer);
            }
            for _ in 0..3 {
                assert_eq!(card.transmit(&[0, 0xB0, 0, 0, 0]), expected);
            }
            assert_eq!(card.exchanges.len(), 6);
        }
    }

    #[test]
    fn a_header_longer_than_the_input_gives_what_is_left() {
        let mut card = ScriptedCard::new(&[0x00, 0x00, 0x05, 0x90]);
        assert_eq!(card.transmit(&[0, 0xA4, 0, 0]), Ok(vec![0x90]));
        assert_eq!(
            card.transmit(&[0, 0xA4, 0, 0]),
            Err(TransportError::CardRemoved)
        );
    }

    #[test]
    #[should_panic(expected = "malformed command APDU")]
    fn refuses_a_command_whose_lc_does_not_match_its_data() {
        ScriptedCard::new(&[0])
            .transmit(&[0, 0xA4, 0x09, 0x0C, 0x04, 0x3F, 0x00])
            .ok();
    }

    #[test]
    fn counts_every_pin_presentation_even_a_repeat_asked_with_6cxx() {
        let verify = [0x00, 0x20, 0x00, 0x01, 0x02, 0x31, 0x32];
        let select = [0x00, 0xA4, 0x04, 0x0C, 0x01, 0xAA];
        assert_eq!(
            pin_presentations(&[
                exchange(&select, &[0x90, 0x00]),
                exchange(&verify, &[0x6C, 0x08]),
                exchange(&verify, &[0x63, 0xC2]),
            ]),
            2
        );
        assert_eq!(
            pin_presentations(&[
                exchange(&verify, &[0x63, 0xC2]),
                exchange(&verify, &[0x90, 0x00]),
            ]),
            2
        );
        let status_query = [0x01, 0x20, 0x00, 0x01];
        assert_eq!(
            pin_presentations(&[exchange(&status_query, &[0x63, 0xC3])]),
            0
        );
    }
}
