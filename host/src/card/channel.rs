//! The card channel above [`Transport`]: the one place that knows the transmission protocol.
//! It gives each command its wire form (under T=0 a case-4 command carries no Le, Cryptolib
//! v5.2 `apdu.c`:140-146; under T=1 it does), collects `61xx` through GET RESPONSE, resends on
//! `6Cxx`, and selects the IAS root again when another applet answers (`apdu.c`:458-481,
//! 515-527). Drivers build commands protocol-free.
//!
//! Over 600 lines for its tests: the wire form of every command case under T=0, T=1 and an unknown
//! protocol, below ~240 lines of code.

use tracing::trace;

use super::apdu::{Command, Response, StatusWord, MAX_CHUNK};
use super::error::CardError;
use super::transport::Transport;

/// The class byte bit marking every part of a command chain but the last (ISO 7816-4).
pub const CLA_CHAINING: u8 = 0x10;

/// The class byte bits that name the logical channel (ISO 7816-4 first interindustry values).
const CLA_LOGICAL_CHANNEL: u8 = 0x03;

/// Upper bound on GET RESPONSE rounds for one command: a 2 KiB answer in 0xE7 pieces needs 9, so a
/// card that keeps saying `61xx` beyond this is broken and must not hold the host forever.
const MAX_GET_RESPONSE_ROUNDS: usize = 32;

/// The IAS-ECC root application (CARD.md), which a CPS3's MF and a CPS4's PKI applet carry.
pub const IAS_ROOT_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];

/// Sends commands to a card and returns complete responses, counting every APDU sent.
pub struct Channel<'t> {
    transport: &'t mut dyn Transport,
    apdus_sent: usize,
    root_reselects: usize,
}

impl<'t> Channel<'t> {
    pub fn new(transport: &'t mut dyn Transport) -> Self {
        Channel {
            transport,
            apdus_sent: 0,
            root_reselects: 0,
        }
    }

    pub fn apdus_sent(&self) -> usize {
        self.apdus_sent
    }

    /// How many times the IAS root was selected again because another applet answered; a
    /// driver that tracks the current DF forgets it when this changes.
    pub fn root_reselects(&self) -> usize {
        self.root_reselects
    }

    /// Sends a command and collects the whole answer. The driver's command is protocol-free;
    /// [`Command::on_the_wire`] gives its form under the transport's protocol (T=0: case 4
    /// without Le). Then:
    /// - `6E xx` or `6A 86`, another applet answering (CPS2ter or billing software left it
    ///   selected): the IAS root is selected again and the command sent once more, as the
    ///   Cryptolib does (v5.2 `apdu.c`:458-481, 515-527); never a command that carries a PIN;
    /// - protocol unknown, `67 00` to a case-4 command sent without Le: once more with Le `00`
    ///   (never a command with sensitive data);
    /// - `6Cxx`: once more with the card's Le (never a command with sensitive data: that
    ///   `6Cxx` is the answer);
    /// - `61xx`: GET RESPONSE on the same logical channel until the card is done.
    pub fn send(&mut self, command: &Command) -> Result<Response, CardError> {
        let protocol = self.transport.protocol();
        self.exchange(command.on_the_wire(protocol), true)
    }

    /// [`Channel::send`] without sending the command once more on its own (no reselect of the
    /// IAS root, no Le added on `67 00`): for a card report, whose probes must show the
    /// card's first answer.
    pub fn send_as_asked(&mut self, command: &Command) -> Result<Response, CardError> {
        let protocol = self.transport.protocol();
        self.exchange(command.on_the_wire(protocol), false)
    }

    /// [`Channel::send`] of a command already in its wire form.
    /// `may_resend`: whether the command may go once more on its own (not the last part of a
    /// chain, which the card has dropped by then).
    fn exchange(&mut self, command: Command, may_resend: bool) -> Result<Response, CardError> {
        let protocol = self.transport.protocol();
        let mut response = self.transmit_once(&command)?;
        if may_resend
            && another_applet_answered(response.sw)
            && !command.is_sensitive()
            && !selects_ias_root(&command)
        {
            self.select_ias_root(command.cla & CLA_LOGICAL_CHANNEL)?;
            response = self.transmit_once(&command)?;
        }
        if may_resend
            && response.sw == StatusWord::WrongLength
            && response.data.is_empty()
            && command.is_case_4()
            && command.le.is_none()
            && !command.is_sensitive()
            && protocol.is_none()
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
            let get_response =
                Command::new(command.cla & CLA_LOGICAL_CHANNEL, 0xC0, 0x00, 0x00).with_le(le);
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

    /// `xx A4 04 04 08 80 25 00 00 01 FF 01 00`, case 3 whatever the protocol, its answer
    /// ignored: the Cryptolib's `do_select_cps_aid` (v5.2 `apdu.c`:458-481) byte for byte, on
    /// the command's logical channel.
    fn select_ias_root(&mut self, channel: u8) -> Result<(), CardError> {
        self.root_reselects += 1;
        let select = Command::new(channel, 0xA4, 0x04, 0x04).with_data(IAS_ROOT_AID);
        self.transmit_once(&select).map(|_| ())
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
        let response = self.send_chain_once(command, part_size, false)?;
        // Protocol unknown: the last part went without Le (the T=0 form). A T=1 card refusing
        // it `67 00` has dropped the chain, so the whole chain goes once more, its last part
        // with Le, as `send` does for a single command.
        if response.sw == StatusWord::WrongLength
            && response.data.is_empty()
            && command.is_case_4()
            && !command.is_sensitive()
            && self.transport.protocol().is_none()
        {
            let with_le = command.clone().with_le(command.le.unwrap_or(0));
            return self.send_chain_once(&with_le, part_size, true);
        }
        Ok(response)
    }

    /// One chain; with `le_forced`, its last part carries Le whatever the protocol.
    fn send_chain_once(
        &mut self,
        command: &Command,
        part_size: usize,
        le_forced: bool,
    ) -> Result<Response, CardError> {
        let parts: Vec<&[u8]> = command.data().chunks(part_size).collect();
        let Some((last, leading)) = parts.split_last() else {
            return self.send(command);
        };
        for part in leading {
            let intermediate = command.part(command.cla | CLA_CHAINING, part, false);
            let response = self.transmit_once(&intermediate)?;
            if response.sw != StatusWord::Success {
                return Ok(response);
            }
        }
        let last = command.part(command.cla & !CLA_CHAINING, last, true);
        let protocol = self.transport.protocol();
        let wire = if le_forced {
            last
        } else {
            last.on_the_wire(protocol)
        };
        // The last part alone cannot be sent again: the chain it ends would be lost.
        self.exchange(wire, false)
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

/// `6E xx` (class not supported) or `6A 86` (wrong P1-P2): what a CPx card answers while
/// another applet is selected; the Cryptolib's test (v5.2 `apdu.c`:515).
fn another_applet_answered(sw: StatusWord) -> bool {
    sw.to_u16() >> 8 == 0x6E || sw == StatusWord::IncorrectP1P2
}

fn selects_ias_root(command: &Command) -> bool {
    command.ins == 0xA4 && command.p1 == 0x04 && command.data() == IAS_ROOT_AID
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::ScriptedTransport;
    use crate::card::transport::Protocol;

    /// Runs `talk` on a channel over this script, then checks that every scripted command was
    /// sent: each test shows the card's trace and what the channel made of it.
    fn over_script<R>(
        mut transport: ScriptedTransport,
        talk: impl FnOnce(&mut Channel<'_>) -> R,
    ) -> R {
        let result = talk(&mut Channel::new(&mut transport));
        transport.assert_finished();
        result
    }

    #[test]
    fn follows_61xx_with_get_response_until_the_end() {
        let mut signature = vec![0x11; 0xE7];
        signature.extend(vec![0x22; 0x19]);
        let script = ScriptedTransport::new(vec![
            ("00 88 00 00 01 AA", "61 00"),
            ("00 C0 00 00 E7", &format!("{} 61 19", "11 ".repeat(0xE7))),
            ("00 C0 00 00 19", &format!("{} 90 00", "22 ".repeat(0x19))),
        ]);
        let command = Command::new(0x00, 0x88, 0x00, 0x00)
            .with_data([0xAA])
            .with_le(0);
        let (response, sent) = over_script(script, |channel| {
            (channel.send(&command).unwrap(), channel.apdus_sent())
        });
        assert_eq!(response.sw, StatusWord::Success);
        assert_eq!(response.data, signature);
        assert_eq!(sent, 3);
    }

    #[test]
    fn resends_with_the_le_the_card_asks_for() {
        let script = ScriptedTransport::new(vec![
            ("00 B0 00 00 E7", "6C 0C"),
            (
                "00 B0 00 00 0C",
                "5A 0A 80 25 00 00 01 99 21 38 45 0F 90 00",
            ),
        ]);
        let read = Command::new(0x00, 0xB0, 0x00, 0x00).with_le(0xE7);
        let data = over_script(script, |channel| channel.send_ok(&read).unwrap());
        assert_eq!(data.len(), 12);
    }

    #[test]
    fn get_response_keeps_the_logical_channel() {
        let script = ScriptedTransport::new(vec![
            ("01 A4 04 04 02 AB CD", "61 02"),
            ("01 C0 00 00 02", "62 00 90 00"),
        ]);
        let command = Command::new(0x01, 0xA4, 0x04, 0x04).with_data([0xAB, 0xCD]);
        let data = over_script(script, |channel| channel.send_ok(&command).unwrap());
        assert_eq!(data, [0x62, 0x00]);
    }

    #[test]
    fn an_error_status_is_reported_with_the_instruction() {
        let script = ScriptedTransport::new(vec![("00 A4 09 0C 02 3F 00", "6A 82")]);
        let select_mf = Command::new(0x00, 0xA4, 0x09, 0x0C).with_data([0x3F, 0x00]);
        let error = over_script(script, |channel| channel.send_ok(&select_mf).unwrap_err());
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
        let command = Command::new(0x00, 0xCA, 0x00, 0x00).with_le(0);
        let error = over_script(ScriptedTransport::new(script), |channel| {
            channel.send(&command).unwrap_err()
        });
        assert!(matches!(error, CardError::Protocol(_)));
    }

    #[test]
    fn chains_a_long_command_in_parts_with_the_chaining_bit_on_all_but_the_last() {
        let block: Vec<u8> = (0..=255u8).collect();
        let first_part: String = block[..255].iter().map(|b| format!("{b:02X} ")).collect();
        let script = ScriptedTransport::new(vec![
            (&format!("11 2A 80 86 FF {first_part}"), "90 00"),
            ("01 2A 80 86 01 FF", "61 00"),
            ("01 C0 00 00 E7", &format!("{}61 19", "AB ".repeat(0xE7))),
            ("01 C0 00 00 19", &format!("{}90 00", "CD ".repeat(0x19))),
        ]);
        let command = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data(block)
            .with_le(0);
        let (response, sent) = over_script(script, |channel| {
            (
                channel.send_chained(&command, 255).unwrap(),
                channel.apdus_sent(),
            )
        });
        assert_eq!(response.sw, StatusWord::Success);
        assert_eq!(response.data.len(), 256);
        assert_eq!(sent, 4);
    }

    #[test]
    fn a_refused_part_ends_the_chain_with_its_status() {
        let script = ScriptedTransport::new(vec![("10 2A 80 86 02 01 02", "69 82")]);
        let command = Command::new(0x00, 0x2A, 0x80, 0x86).with_data([1, 2, 3, 4, 5]);
        let response = over_script(script, |channel| channel.send_chained(&command, 2).unwrap());
        assert_eq!(response.sw, StatusWord::SecurityStatusNotSatisfied);
    }

    #[test]
    fn a_command_that_fits_is_not_chained() {
        let script =
            ScriptedTransport::new(vec![("01 2A 80 86 02 01 02 00", "90 00")]).over(Protocol::T1);
        let command = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data([1, 2])
            .with_le(0);
        let response = over_script(script, |channel| {
            channel.send_chained(&command, 255).unwrap()
        });
        assert_eq!(response.sw, StatusWord::Success);
    }

    fn select_with_fcp() -> Command {
        Command::new(0x01, 0xA4, 0x00, 0x04)
            .with_data([0x50, 0x31])
            .expecting_answer()
    }

    #[test]
    fn under_t1_a_case_4_command_carries_le_and_its_data_comes_with_9000() {
        let script = ScriptedTransport::new(vec![("01 A4 00 04 02 50 31 00", "62 02 80 00 90 00")])
            .over(Protocol::T1);
        let data = over_script(script, |channel| {
            channel.send_ok(&select_with_fcp()).unwrap()
        });
        assert_eq!(data, [0x62, 0x02, 0x80, 0x00]);
    }

    #[test]
    fn under_t0_a_case_4_command_goes_without_le_and_67_00_is_final() {
        let script =
            ScriptedTransport::new(vec![("01 A4 00 04 02 50 31", "67 00")]).over(Protocol::T0);
        let response = over_script(script, |channel| channel.send(&select_with_fcp()).unwrap());
        assert_eq!(response.sw, StatusWord::WrongLength);
    }

    #[test]
    fn protocol_unknown_67_00_to_a_case_4_command_is_retried_once_with_le() {
        let script = ScriptedTransport::new(vec![
            ("01 A4 00 04 02 50 31", "67 00"),
            ("01 A4 00 04 02 50 31 00", "62 00 90 00"),
        ]);
        let data = over_script(script, |channel| {
            channel.send_ok(&select_with_fcp()).unwrap()
        });
        assert_eq!(data, [0x62, 0x00]);

        // Never a command with sensitive data (a VERIFY), never one that expects no answer.
        let verify = Command::new(0x00, 0x20, 0x00, 0x01)
            .with_sensitive_data(zeroize::Zeroizing::new(vec![0x31; 8]))
            .expecting_answer();
        let script =
            ScriptedTransport::new(vec![("00 20 00 01 08 31 31 31 31 31 31 31 31", "67 00")]);
        let response = over_script(script, |channel| channel.send(&verify).unwrap());
        assert_eq!(response.sw, StatusWord::WrongLength);
        let mse = Command::new(0x00, 0x22, 0x41, 0xA4).with_data([0x80, 0x01, 0x02]);
        let script = ScriptedTransport::new(vec![("00 22 41 A4 03 80 01 02", "67 00")]);
        let response = over_script(script, |channel| channel.send(&mse).unwrap());
        assert_eq!(response.sw, StatusWord::WrongLength);
    }

    #[test]
    fn a_verify_answered_6cxx_is_not_sent_again() {
        let verify = Command::new(0x00, 0x20, 0x00, 0x01)
            .with_sensitive_data(zeroize::Zeroizing::new(vec![0x31; 8]));
        let script =
            ScriptedTransport::new(vec![("00 20 00 01 08 31 31 31 31 31 31 31 31", "6C 08")]);
        let (response, sent) = over_script(script, |channel| {
            (channel.send(&verify).unwrap(), channel.apdus_sent())
        });
        assert_eq!(response.sw, StatusWord::WrongLe(8));
        assert_eq!(sent, 1);
    }

    #[test]
    fn a_one_byte_answer_is_a_protocol_error() {
        let script = ScriptedTransport::new(vec![("00 B0 00 00 01", "90")]);
        let read = Command::new(0x00, 0xB0, 0x00, 0x00).with_le(1);
        let error = over_script(script, |channel| channel.send(&read).unwrap_err());
        assert!(matches!(error, CardError::Protocol(_)));
    }

    #[test]
    fn a_case_4_command_with_le_loses_it_under_t0_and_keeps_it_under_t1() {
        let internal_authenticate = Command::new(0x00, 0x88, 0x00, 0x00)
            .with_data([0xAA, 0xBB])
            .with_le(0);
        let script = ScriptedTransport::new(vec![
            ("00 88 00 00 02 AA BB", "61 02"),
            ("00 C0 00 00 02", "01 02 90 00"),
        ])
        .over(Protocol::T0);
        let data = over_script(script, |channel| {
            channel.send_ok(&internal_authenticate).unwrap()
        });
        assert_eq!(data, [1, 2]);

        let script = ScriptedTransport::new(vec![("00 88 00 00 02 AA BB 00", "01 02 90 00")])
            .over(Protocol::T1);
        let data = over_script(script, |channel| {
            channel.send_ok(&internal_authenticate).unwrap()
        });
        assert_eq!(data, [1, 2]);

        // Cases 1, 2 and 3 are the same under both protocols.
        for protocol in [Protocol::T0, Protocol::T1] {
            let script = ScriptedTransport::new(vec![
                ("00 20 00 01", "63 C3"),
                ("00 B0 00 00 0C", "01 90 00"),
                ("00 22 41 A4 03 80 01 02", "90 00"),
            ])
            .over(protocol);
            over_script(script, |channel| {
                channel.send(&Command::new(0x00, 0x20, 0x00, 0x01)).unwrap();
                channel
                    .send(&Command::new(0x00, 0xB0, 0x00, 0x00).with_le(0x0C))
                    .unwrap();
                channel
                    .send(&Command::new(0x00, 0x22, 0x41, 0xA4).with_data([0x80, 0x01, 0x02]))
                    .unwrap();
            });
        }
    }

    const SELECT_ROOT: &str = "00 A4 04 04 08 80 25 00 00 01 FF 01 00";

    #[test]
    fn another_applet_answering_gets_the_ias_root_selected_and_the_command_once_more() {
        let read_serial = Command::new(0x00, 0xB0, 0x9C, 0x00).with_le(0x0C);
        for refusal in ["6E 00", "6A 86"] {
            let script = ScriptedTransport::new(vec![
                ("00 B0 9C 00 0C", refusal),
                // Its answer is ignored, as the Cryptolib ignores it.
                (SELECT_ROOT, "61 20"),
                (
                    "00 B0 9C 00 0C",
                    "5A 0A 80 25 00 00 01 99 21 38 45 0F 90 00",
                ),
            ]);
            let (data, reselects) = over_script(script, |channel| {
                (
                    channel.send_ok(&read_serial).unwrap(),
                    channel.root_reselects(),
                )
            });
            assert_eq!(data.len(), 12);
            assert_eq!(reselects, 1);
        }
    }

    #[test]
    fn the_ias_root_is_selected_at_most_once_per_command_and_on_its_channel() {
        let script = ScriptedTransport::new(vec![
            ("01 A4 00 0C 02 50 31", "6E 00"),
            ("01 A4 04 04 08 80 25 00 00 01 FF 01 00", "90 00"),
            ("01 A4 00 0C 02 50 31", "6E 00"),
        ]);
        let select_odf = Command::new(0x01, 0xA4, 0x00, 0x0C).with_data([0x50, 0x31]);
        let answer = over_script(script, |channel| channel.send(&select_odf).unwrap());
        assert_eq!(answer.sw, StatusWord::ClassNotSupported);

        // A refused selection of the root itself is not answered by selecting it again.
        let script = ScriptedTransport::new(vec![(SELECT_ROOT, "6A 86")]);
        let root = Command::new(0x00, 0xA4, 0x04, 0x04).with_data(IAS_ROOT_AID);
        let answer = over_script(script, |channel| channel.send(&root).unwrap());
        assert_eq!(answer.sw, StatusWord::IncorrectP1P2);
    }

    #[test]
    fn a_command_carrying_a_pin_is_never_sent_again_after_another_applet_answered() {
        let verify = Command::new(0x00, 0x20, 0x00, 0x01)
            .with_sensitive_data(zeroize::Zeroizing::new(vec![0x31; 8]));
        for refusal in ["6E 00", "6A 86"] {
            let script =
                ScriptedTransport::new(vec![("00 20 00 01 08 31 31 31 31 31 31 31 31", refusal)]);
            let (response, sent, reselects) = over_script(script, |channel| {
                let response = channel.send(&verify).unwrap();
                (response, channel.apdus_sent(), channel.root_reselects())
            });
            assert_ne!(response.sw, StatusWord::Success);
            assert_eq!(sent, 1);
            assert_eq!(reselects, 0);
        }
        // The question without a PIN may be asked again.
        let script = ScriptedTransport::new(vec![
            ("00 20 00 01", "6E 00"),
            (SELECT_ROOT, "90 00"),
            ("00 20 00 01", "63 C3"),
        ]);
        let probe = Command::new(0x00, 0x20, 0x00, 0x01);
        let response = over_script(script, |channel| channel.send(&probe).unwrap());
        assert_eq!(response.sw, StatusWord::WrongPin { retries_left: 3 });
    }

    #[test]
    fn the_last_part_of_a_chain_is_not_sent_alone_again() {
        let script = ScriptedTransport::new(vec![
            ("11 2A 80 86 02 01 02", "90 00"),
            ("01 2A 80 86 01 03", "6A 86"),
        ]);
        let command = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data([1, 2, 3])
            .expecting_answer();
        let response = over_script(script, |channel| channel.send_chained(&command, 2).unwrap());
        assert_eq!(response.sw, StatusWord::IncorrectP1P2);
    }

    #[test]
    fn protocol_unknown_a_chain_refused_67_00_goes_once_more_with_le_on_its_last_part() {
        let script = ScriptedTransport::new(vec![
            ("11 2A 80 86 02 01 02", "90 00"),
            ("01 2A 80 86 01 03", "67 00"),
            ("11 2A 80 86 02 01 02", "90 00"),
            ("01 2A 80 86 01 03 00", "AA BB 90 00"),
        ]);
        let command = Command::new(0x01, 0x2A, 0x80, 0x86)
            .with_data([1, 2, 3])
            .expecting_answer();
        let response = over_script(script, |channel| channel.send_chained(&command, 2).unwrap());
        assert_eq!(response.data, [0xAA, 0xBB]);
        // Under T=0 `67 00` is final.
        let script = ScriptedTransport::new(vec![
            ("11 2A 80 86 02 01 02", "90 00"),
            ("01 2A 80 86 01 03", "67 00"),
        ])
        .over(Protocol::T0);
        let response = over_script(script, |channel| channel.send_chained(&command, 2).unwrap());
        assert_eq!(response.sw, StatusWord::WrongLength);
    }
}
