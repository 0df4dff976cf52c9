//! The one place where T=0 response handling happens: `61xx` GET RESPONSE and `6Cxx` Le correction.

use tracing::trace;

use super::apdu::{Command, Response, StatusWord, MAX_CHUNK};
use super::error::CardError;
use super::transport::{Protocol, Transport};

/// The class byte bit marking every part of a command chain but the last (ISO 7816-4).
pub const CLA_CHAINING: u8 = 0x10;

/// Upper bound on GET RESPONSE rounds for one command: a 2 KiB answer in 0xE7 pieces needs 9, so a
/// card that keeps saying `61xx` beyond this is broken and must not hold the host forever.
const MAX_GET_RESPONSE_ROUNDS: usize = 32;

/// Sends commands to a card and returns complete responses, counting every APDU sent.
pub struct Channel<'t> {
    transport: &'t mut dyn Transport,
    apdus_sent: usize,
}

impl<'t> Channel<'t> {
    pub fn new(transport: &'t mut dyn Transport) -> Self {
        Channel {
            transport,
            apdus_sent: 0,
        }
    }

    pub fn apdus_sent(&self) -> usize {
        self.apdus_sent
    }

    /// Sends a command and collects the whole answer: follows `61xx` with GET RESPONSE on the same
    /// class byte's channel, and resends once with the card's Le on `6Cxx` (never a command with
    /// sensitive data: that `6Cxx` is the answer). A case-4 command gets
    /// Le `00` under T=1; when the protocol is unknown and the card refuses it `67 00` without
    /// Le, it is sent once more with Le `00` (never a command with sensitive data).
    pub fn send(&mut self, command: &Command) -> Result<Response, CardError> {
        let needs_le = command.expects_answer() && command.le.is_none();
        let with_le;
        let command = if needs_le && self.transport.protocol() == Some(Protocol::T1) {
            with_le = command.clone().with_le(0);
            &with_le
        } else {
            command
        };
        let mut response = self.transmit_once(command)?;
        if response.sw == StatusWord::WrongLength
            && response.data.is_empty()
            && command.expects_answer()
            && command.le.is_none()
            && !command.is_sensitive()
            && self.transport.protocol().is_none()
        {
            response = self.transmit_once(&command.clone().with_le(0))?;
        }
        // Never resent when it carries a PIN: DESIGN.md's "never retried" admits no exception, and
        // a card asking for another Le on a VERIFY is not one to trust with the PIN twice.
        if let StatusWord::WrongLe(le) = response.sw {
            if !command.is_sensitive() {
                let corrected = command.clone().with_le(le);
                response = self.transmit_once(&corrected)?;
            }
        }
        let mut data = std::mem::take(&mut response.data);
        let mut rounds = 0;
        while let StatusWord::BytesAvailable(available) = response.sw {
            rounds += 1;
            if rounds > MAX_GET_RESPONSE_ROUNDS {
                return Err(CardError::Protocol("the card never finished its answer"));
            }
            let le = if available == 0 || available > MAX_CHUNK {
                MAX_CHUNK
            } else {
                available
            };
            // GET RESPONSE keeps the logical channel bits of the command's class byte.
            let get_response = Command::new(command.cla & 0x03, 0xC0, 0x00, 0x00).with_le(le);
            response = self.transmit_once(&get_response)?;
            if let StatusWord::WrongLe(exact) = response.sw {
                response = self.transmit_once(&get_response.clone().with_le(exact))?;
            }
            data.append(&mut response.data);
        }
        Ok(Response {
            data,
            sw: response.sw,
        })
    }

    /// Sends a command that must succeed and returns its data.
    pub fn send_ok(&mut self, command: &Command) -> Result<Vec<u8>, CardError> {
        let response = self.send(command)?;
        match response.sw {
            StatusWord::Success => Ok(response.data),
            sw => Err(CardError::Status {
                ins: command.ins,
                sw,
            }),
        }
    }

    /// Sends a command whose data may not fit one short APDU as a chain (ISO 7816-4 command
    /// chaining): parts of at most `part_size` bytes, every part but the last carrying the class
    /// byte's chaining bit and no Le. A part the card refuses ends the chain, and its answer is
    /// returned; the last part's answer is collected as [`Channel::send`] does.
    pub fn send_chained(
        &mut self,
        command: &Command,
        part_size: usize,
    ) -> Result<Response, CardError> {
        let part_size = part_size.clamp(1, usize::from(u8::MAX));
        if command.data().len() <= part_size {
            return self.send(command);
        }
        let parts: Vec<&[u8]> = command.data().chunks(part_size).collect();
        let Some((last, leading)) = parts.split_last() else {
            return self.send(command);
        };
        for part in leading {
            let intermediate = command.part(command.cla | CLA_CHAINING, part, None);
            let response = self.transmit_once(&intermediate)?;
            if response.sw != StatusWord::Success {
                return Ok(response);
            }
        }
        self.send(&command.part(command.cla & !CLA_CHAINING, last, command.le))
    }

    fn transmit_once(&mut self, command: &Command) -> Result<Response, CardError> {
        let bytes = command.to_bytes().ok_or(CardError::Protocol(
            "command data longer than a short APDU allows",
        ))?;
        trace!(command = ?command, "card <-");
        self.apdus_sent += 1;
        let raw = self.transport.transmit(&bytes)?;
        let response = Response::parse(raw).ok_or(CardError::Protocol(
            "the card answered fewer than two status bytes",
        ))?;
        if command.is_sensitive() {
            trace!(sw = %response.sw, "card ->");
        } else {
            trace!(sw = %response.sw, data = %crate::hex::encode(&response.data), "card ->");
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::ScriptedTransport;
    use crate::card::transport::Protocol;

    #[test]
    fn follows_61xx_with_get_response_until_the_end() {
        let mut signature = vec![0x11; 0xE7];
        signature.extend(vec![0x22; 0x19]);
        let mut transport = ScriptedTransport::new(vec![
            ("00 88 00 00 01 AA 00", "61 00"),
            ("00 C0 00 00 E7", &format!("{} 61 19", "11 ".repeat(0xE7))),
            ("00 C0 00 00 19", &format!("{} 90 00", "22 ".repeat(0x19))),
        ]);
        let mut channel = Channel::new(&mut transport);
        let command = Command::new(0x00, 0x88, 0x00, 0x00)
            .with_data([0xAA])
            .with_le(0);
        let response = channel.send(&command).unwrap();
        assert_eq!(response.sw, StatusWord::Success);
        assert_eq!(response.data, signature);
        assert_eq!(channel.apdus_sent(), 3);
        transport.assert_finished();
    }

    #[test]
    fn resends_with_the_le_the_card_asks_for() {
        let mut transport = ScriptedTransport::new(vec![
            ("00 B0 00 00 E7", "6C 0C"),
            (
                "00 B0 00 00 0C",
                "5A 0A 80 25 00 00 01 99 21 38 45 0F 90 00",
            ),
        ]);
        let mut channel = Channel::new(&mut transport);
        let data = channel
            .send_ok(&Command::new(0x00, 0xB0, 0x00, 0x00).with_le(0xE7))
            .unwrap();
        assert_eq!(data.len(), 12);
        transport.assert_finished();
    }

    #[test]
    fn get_response_keeps_the_logical_channel() {
        let mut transport = ScriptedTransport::new(vec![
            ("01 A4 04 04 02 AB CD", "61 02"),
            ("01 C0 00 00 02", "62 00 90 00"),
        ]);
        let mut channel = Channel::new(&mut transport);
        let command = Command::new(0x01, 0xA4, 0x04, 0x04).with_data([0xAB, 0xCD]);
        assert_eq!(channel.send_ok(&command).unwrap(), [0x62, 0x00]);
        transport.assert_finished();
    }

    #[test]
    fn an_error_status_is_reported_with_the_instruction() {
        let mut transport = ScriptedTransport::new(vec![("00 A4 09 0C 02 3F 00", "6A 82")]);
        let mut channel = Channel::new(&mut transport);
        let error = channel
            .send_ok(&Command::new(0x00, 0xA4, 0x09, 0x0C).with_data([0x3F, 0x00]))
            .unwrap_err();
        assert_eq!(
            error,
            CardError::Status {
                ins: 0xA4,
                sw: StatusWord::FileNotFound
            }
        );
    }

    #[test]
    fn a_card_that_never_stops_sending_61xx_is_cut_off() {
        let mut script = vec![("00 CA 00 00 00", "61 01")];
        for _ in 0..MAX_GET_RESPONSE_ROUNDS {
            script.push(("00 C0 00 00 01", "00 61 01"));
        }
        let mut transport = ScriptedTransport::new(script);
        let mut channel = Channel::new(&mut transport);
        let error = channel
            .send(&Command::new(0x00, 0xCA, 0x00, 0x00).with_le(0))
            .unwrap_err();
        assert!(matches!(error, CardError::Protocol(_)));
    }

    #[test]
    fn chains_a_long_command_in_parts_with_the_chaining_bit_on_all_but_the_last() {
        let block: Vec<u8> = (0..=255u8).collect();
        let first_part: String = block[..255].iter().map(|b| format!("{b:02X} ")).collect();
        let mut transport = ScriptedTransport::new(vec![
            (&format!("11 2A 80 86 FF {first_part}"), "90 00"),
            ("01 2A 80 86 01 FF 00", "61 00"),
            ("01 C0 00 00 E7", &format!("{}61 19", "AB ".repeat(0xE7))),
            ("01 C0 00 00 19", &format!("{}90 00", "CD ".repeat(0x19))),
        ]);
        let mut channel = Channel::new(&mut transport);
        let command = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data(block)
            .with_le(0);
        let response = channel.send_chained(&command, 255).unwrap();
        assert_eq!(response.sw, StatusWord::Success);
        assert_eq!(response.data.len(), 256);
        assert_eq!(channel.apdus_sent(), 4);
        transport.assert_finished();
    }

    #[test]
    fn a_refused_part_ends_the_chain_with_its_status() {
        let mut transport = ScriptedTransport::new(vec![("10 2A 80 86 02 01 02", "69 82")]);
        let mut channel = Channel::new(&mut transport);
        let command = Command::new(0x00, 0x2A, 0x80, 0x86).with_data([1, 2, 3, 4, 5]);
        let response = channel.send_chained(&command, 2).unwrap();
        assert_eq!(response.sw, StatusWord::SecurityStatusNotSatisfied);
        transport.assert_finished();
    }

    #[test]
    fn a_command_that_fits_is_not_chained() {
        let mut transport = ScriptedTransport::new(vec![("01 2A 80 86 02 01 02 00", "90 00")]);
        let mut channel = Channel::new(&mut transport);
        let command = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data([1, 2])
            .with_le(0);
        assert_eq!(
            channel.send_chained(&command, 255).unwrap().sw,
            StatusWord::Success
        );
        transport.assert_finished();
    }

    fn select_with_fcp() -> Command {
        Command::new(0x01, 0xA4, 0x00, 0x04)
            .with_data([0x50, 0x31])
            .expecting_answer()
    }

    #[test]
    fn under_t1_a_case_4_command_carries_le_and_its_data_comes_with_9000() {
        let mut transport =
            ScriptedTransport::new(vec![("01 A4 00 04 02 50 31 00", "62 02 80 00 90 00")])
                .over(Protocol::T1);
        let mut channel = Channel::new(&mut transport);
        assert_eq!(
            channel.send_ok(&select_with_fcp()).unwrap(),
            [0x62, 0x02, 0x80, 0x00]
        );
        transport.assert_finished();
    }

    #[test]
    fn under_t0_a_case_4_command_goes_without_le_and_67_00_is_final() {
        let mut transport =
            ScriptedTransport::new(vec![("01 A4 00 04 02 50 31", "67 00")]).over(Protocol::T0);
        let mut channel = Channel::new(&mut transport);
        assert_eq!(
            channel.send(&select_with_fcp()).unwrap().sw,
            StatusWord::WrongLength
        );
        transport.assert_finished();
    }

    #[test]
    fn protocol_unknown_67_00_to_a_case_4_command_is_retried_once_with_le() {
        let mut transport = ScriptedTransport::new(vec![
            ("01 A4 00 04 02 50 31", "67 00"),
            ("01 A4 00 04 02 50 31 00", "62 00 90 00"),
        ]);
        let mut channel = Channel::new(&mut transport);
        assert_eq!(channel.send_ok(&select_with_fcp()).unwrap(), [0x62, 0x00]);
        transport.assert_finished();

        // Never a command with sensitive data (a VERIFY), never one that expects no answer.
        let verify = Command::new(0x00, 0x20, 0x00, 0x01)
            .with_sensitive_data(zeroize::Zeroizing::new(vec![0x31; 8]))
            .expecting_answer();
        let mut transport =
            ScriptedTransport::new(vec![("00 20 00 01 08 31 31 31 31 31 31 31 31", "67 00")]);
        let mut channel = Channel::new(&mut transport);
        assert_eq!(channel.send(&verify).unwrap().sw, StatusWord::WrongLength);
        transport.assert_finished();
        let mse = Command::new(0x00, 0x22, 0x41, 0xA4).with_data([0x80, 0x01, 0x02]);
        let mut transport = ScriptedTransport::new(vec![("00 22 41 A4 03 80 01 02", "67 00")]);
        let mut channel = Channel::new(&mut transport);
        assert_eq!(channel.send(&mse).unwrap().sw, StatusWord::WrongLength);
        transport.assert_finished();
    }

    #[test]
    fn a_verify_answered_6cxx_is_not_sent_again() {
        let verify = Command::new(0x00, 0x20, 0x00, 0x01)
            .with_sensitive_data(zeroize::Zeroizing::new(vec![0x31; 8]));
        let mut transport =
            ScriptedTransport::new(vec![("00 20 00 01 08 31 31 31 31 31 31 31 31", "6C 08")]);
        let mut channel = Channel::new(&mut transport);
        assert_eq!(channel.send(&verify).unwrap().sw, StatusWord::WrongLe(8));
        assert_eq!(channel.apdus_sent(), 1);
        transport.assert_finished();
    }

    #[test]
    fn a_one_byte_answer_is_a_protocol_error() {
        let mut transport = ScriptedTransport::new(vec![("00 B0 00 00 01", "90")]);
        let mut channel = Channel::new(&mut transport);
        let error = channel
            .send(&Command::new(0x00, 0xB0, 0x00, 0x00).with_le(1))
            .unwrap_err();
        assert!(matches!(error, CardError::Protocol(_)));
    }
}
