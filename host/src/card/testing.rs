//! A scripted transport for unit tests: it asserts every command byte for byte and plays back
//! the card's answers, in order.

use super::transport::{Protocol, Transport, TransportError};

pub fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {text}");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("test hex"))
        .collect()
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
