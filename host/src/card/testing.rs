//! A scripted transport for unit tests: it asserts every command byte for byte and plays back
//! the card's answers, in order.

use super::pin::{Pin, PinEncoding, PinPolicy};
use super::transport::{Protocol, Transport, TransportError};
use super::{driver, CardError, CardProfile};

pub fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {text}");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// The PIN of a CPS3 or CPS4 as its AODF describes it: reference 1, 4 to 8 ASCII digits,
/// padded with FF to 8 bytes.
pub fn cps_pin_policy() -> PinPolicy {
    PinPolicy::new(
        1,
        PinEncoding::AsciiNumeric,
        4,
        Some(8),
        8,
        true,
        Some(0xFF),
    )
    .expect("the CPS PIN policy is valid")
}

/// One expected command and what the card does about it.
type Step = (Vec<u8>, Result<Vec<u8>, TransportError>);

pub struct ScriptedTransport {
    script: Vec<Step>,
    position: usize,
    protocol: Option<Protocol>,
}

impl ScriptedTransport {
    pub fn new(script: Vec<(&str, &str)>) -> Self {
        ScriptedTransport {
            script: script
                .into_iter()
                .map(|(command, response)| (hex(command), Ok(hex(response))))
                .collect(),
            position: 0,
            protocol: None,
        }
    }

    /// A script built at run time (commands and answers in hex).
    pub fn from_owned(script: &[(String, String)]) -> Self {
        Self::new(
            script
                .iter()
                .map(|(command, answer)| (command.as_str(), answer.as_str()))
                .collect(),
        )
    }

    /// The transport reports this active protocol.
    pub fn over(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// The card fails this way instead of answering the given command.
    pub fn failing(mut self, command: &str, error: TransportError) -> Self {
        self.script.push((hex(command), Err(error)));
        self
    }

    pub fn assert_finished(&self) {
        assert_eq!(
            self.position,
            self.script.len(),
            "the driver stopped before the end of the script"
        );
    }
}

impl Transport for ScriptedTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Some((expected, response)) = self.script.get(self.position) else {
            panic!("unexpected extra command {command:02X?}");
        };
        assert_eq!(
            command,
            expected.as_slice(),
            "command #{} differs from the script",
            self.position
        );
        self.position += 1;
        response.clone()
    }

    fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }
}

/// What a login with `pin` and `digest` over this script gives, by the driver of the profile's
/// card type: its result and the APDUs it counted, once it has sent every scripted command.
/// The drivers' login tests then show only the card's side of the trace.
pub fn login(
    mut transport: ScriptedTransport,
    profile: &CardProfile,
    pin: &str,
    digest: &[u8; 32],
) -> (Result<Vec<u8>, CardError>, usize) {
    let mut card = driver(profile.card_type, &mut transport).expect("a driver for this card");
    let result = card.sign_login_digest(profile, &Pin::new(pin), digest);
    let sent = card.apdus_sent();
    drop(card);
    transport.assert_finished();
    (result, sent)
}

/// The script steps of a command whose answer is a 256-byte signature filled with `byte` (two
/// hex digits). Under T=1 the card answers at once; under T=0 it says `61 00` and the answer
/// comes through two GET RESPONSEs of class `cla`, as the drivers' channel asks for them
/// (0xE7 bytes, then the 0x19 the card's `61 19` announces).
pub fn signature_steps(
    cla: &str,
    command: String,
    protocol: Protocol,
    byte: &str,
) -> Vec<(String, String)> {
    match protocol {
        Protocol::T0 => vec![
            (command, "61 00".to_owned()),
            (
                format!("{cla} C0 00 00 E7"),
                format!("{}61 19", format!("{byte} ").repeat(0xE7)),
            ),
            (
                format!("{cla} C0 00 00 19"),
                format!("{}90 00", format!("{byte} ").repeat(0x19)),
            ),
        ],
        Protocol::T1 => vec![(command, format!("{}90 00", format!("{byte} ").repeat(256)))],
    }
}

/// A DER element with a short or long length, for building card files in tests.
pub fn tlv(tag: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let value: Vec<u8> = parts.concat();
    let mut out = tag.to_vec();
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend(value);
    out
}
