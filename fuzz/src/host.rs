//! Target (e): the whole host, as the browser sees it. The request loop reads an arbitrary stdin
//! while the card in the reader answers from the rest of the input. Every complete frame must get
//! exactly one answer, in order, with the request's id, a documented code and at most 1 MiB; a
//! broken frame gets one last answer and ends the loop.

use std::cell::RefCell;
use std::rc::Rc;

use cpx_connect::card::{Transport, TransportError};
use cpx_connect::protocol::framing::{read_frame, MAX_FRAME};
use cpx_connect::protocol::request::{parse, Command};
use cpx_connect::protocol::server::{serve, Exit};
use cpx_connect::readers::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use cpx_connect::service::HostService;
use serde_json::Value;

use crate::card_script::{pin_presentations, ScriptedCard};
use crate::is_protocol_error_code;

/// The CPS3 contact ATR of CARD.md.
pub const CPS3_ATR: [u8; 17] = [
    0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90,
    0x00,
];
/// The first CPS4 ATR of CARD.md.
pub const CPS4_ATR: [u8; 17] = [
    0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90,
    0x44,
];
/// The CPS3 contactless ATR: a card the host must refuse without talking to it.
const CONTACTLESS_ATR: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80,
    0x82, 0x90, 0x00, 0x0E,
];

/// What the machine has: byte 0 of the input, modulo 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// PC/SC answers, with no reader.
    None,
    /// PC/SC is not running.
    ServiceDown,
    /// One reader holding the scripted card, a CPS3.
    OneCps3,
    /// A contactless card in the first reader, the scripted CPS3 in the second.
    ContactlessThenCps3,
    /// One reader holding the scripted card, a CPS4.
    OneCps4,
}

impl Readers {
    pub fn from_byte(byte: u8) -> Self {
        match byte % 5 {
            0 => Readers::None,
            1 => Readers::ServiceDown,
            2 => Readers::OneCps3,
            3 => Readers::ContactlessThenCps3,
            _ => Readers::OneCps4,
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            Readers::None => 0,
            Readers::ServiceDown => 1,
            Readers::OneCps3 => 2,
            Readers::ContactlessThenCps3 => 3,
            Readers::OneCps4 => 4,
        }
    }

    /// The readers as PC/SC lists them, with the ATR of the card in each.
    pub fn slots(self) -> Result<Vec<ReaderSlot>, BackendError> {
        let slot = |name: &str, atr: &[u8]| ReaderSlot {
            name: name.into(),
            atr: Some(atr.to_vec()),
        };
        match self {
            Readers::None => Ok(Vec::new()),
            Readers::ServiceDown => Err(BackendError::ServiceUnavailable),
            Readers::OneCps3 => Ok(vec![slot("Reader 0", &CPS3_ATR)]),
            Readers::ContactlessThenCps3 => Ok(vec![
                slot("Reader 0", &CONTACTLESS_ATR),
                slot("Reader 1", &CPS3_ATR),
            ]),
            Readers::OneCps4 => Ok(vec![slot("Reader 0", &CPS4_ATR)]),
        }
    }

    /// The reader that holds the scripted card.
    pub fn scripted_reader(self) -> Option<&'static str> {
        match self {
            Readers::OneCps3 | Readers::OneCps4 => Some("Reader 0"),
            Readers::ContactlessThenCps3 => Some("Reader 1"),
            Readers::None | Readers::ServiceDown => None,
        }
    }
}

/// Lays out an input of this target: readers, stdin, then the card's script.
pub fn encode(readers: Readers, stdin: &[u8], card_script: &[u8]) -> Vec<u8> {
    let length = u16::try_from(stdin.len()).expect("a stdin of at most 64 KiB");
    let mut input = vec![readers.to_byte()];
    input.extend(length.to_be_bytes());
    input.extend(stdin);
    input.extend(card_script);
    input
}

struct FuzzReaders {
    readers: Readers,
    card: Rc<RefCell<ScriptedCard>>,
}

impl ReaderBackend for FuzzReaders {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        self.readers.slots()
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        assert_eq!(
            Some(reader),
            self.readers.scripted_reader(),
            "the host connected to a reader that holds no CPx card"
        );
        Ok(Box::new(FuzzConnection(self.card.clone())))
    }
}

struct FuzzConnection(Rc<RefCell<ScriptedCard>>);

impl CardConnection for FuzzConnection {
    fn transaction(&mut self) -> Result<Box<dyn Transport + '_>, BackendError> {
        Ok(Box::new(FuzzTransport(self.0.clone())))
    }
}

struct FuzzTransport(Rc<RefCell<ScriptedCard>>);

impl Transport for FuzzTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.borrow_mut().transmit(command)
    }
}

/// What the loop answered, for the replay tests.
#[derive(Debug)]
pub struct Outcome {
    pub exit: Exit,
    pub answers: Vec<Value>,
}

pub fn run(data: &[u8]) -> Outcome {
    let (readers, stdin, card_script) = match data {
        [readers, high, low, rest @ ..] => {
            let length = usize::from(u16::from_be_bytes([*high, *low])).min(rest.len());
            let (stdin, card_script) = rest.split_at(length);
            (Readers::from_byte(*readers), stdin, card_script)
        }
        _ => (Readers::None, data, &[][..]),
    };
    let card = Rc::new(RefCell::new(ScriptedCard::new(card_script)));
    let mut service = HostService::new(FuzzReaders {
        readers,
        card: card.clone(),
    });
    let mut output = Vec::new();
    let exit = serve(&mut &stdin[..], &mut output, &mut service);
    let answers = read_answers(&output);

    let expected = expected_answers(stdin);
    assert_eq!(exit, expected.exit, "how the loop ended");
    assert_eq!(
        answers.len(),
        expected.ids.len(),
        "one answer per request, and one for a broken frame"
    );
    for (answer, id) in answers.iter().zip(&expected.ids) {
        assert_eq!(&answer["id"], id, "answer {answer}");
    }
    if expected.exit == Exit::BrokenStream {
        let last = answers.last().expect("a broken frame is answered");
        assert_eq!(last["error"]["code"], "ERR_INVALID_REQUEST");
    }

    let verifies = pin_presentations(&card.borrow().exchanges);
    assert!(
        verifies <= expected.pin_requests,
        "{verifies} VERIFY sent for {} login requests with a PIN",
        expected.pin_requests
    );
    Outcome { exit, answers }
}

/// Splits the host's output into answers, checking each frame and envelope.
fn read_answers(output: &[u8]) -> Vec<Value> {
    let mut answers = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a partial length on stdout");
        let (length, body) = rest.split_at(4);
        let length = u32::from_ne_bytes([length[0], length[1], length[2], length[3]]) as usize;
        assert!(length <= MAX_FRAME, "the host wrote a {length}-byte frame");
        assert!(body.len() >= length, "a partial frame on stdout");
        let (frame, after) = body.split_at(length);
        let answer: Value = serde_json::from_slice(frame).expect("every answer is JSON");
        let object = answer.as_object().expect("every answer is an object");
        assert!(object.contains_key("id"), "answer without an id: {answer}");
        match (object.get("result"), object.get("error")) {
            (Some(_), None) => assert_eq!(object.len(), 2),
            (None, Some(error)) => {
                assert_eq!(object.len(), 2);
                let code = error["code"].as_str().expect("an error code");
                assert!(is_protocol_error_code(code), "undocumented code {code}");
                assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
            }
            _ => panic!("an answer has exactly one of result and error: {answer}"),
        }
        answers.push(answer);
        rest = after;
    }
    answers
}

struct Expected {
    ids: Vec<Value>,
    exit: Exit,
    /// Requests that may send one VERIFY: `authenticate` with a PIN of digits.
    pin_requests: usize,
}

/// What the loop owes this stdin, worked out frame by frame with the same parser.
fn expected_answers(stdin: &[u8]) -> Expected {
    let mut expected = Expected {
        ids: Vec::new(),
        exit: Exit::Finished,
        pin_requests: 0,
    };
    let mut input = stdin;
    loop {
        match read_frame(&mut input) {
            Ok(Some(frame)) => {
                let (id, quit) = match parse(&frame) {
                    Ok(request) => {
                        if let Command::Authenticate(arguments) = &request.command {
                            if arguments.pin.as_ref().is_some_and(|pin| pin.is_digits()) {
                                expected.pin_requests += 1;
                            }
                        }
                        (request.id, matches!(request.command, Command::Quit))
                    }
                    Err(rejected) => (rejected.id, false),
                };
                expected
                    .ids
                    .push(serde_json::to_value(&id).expect("an id serialises"));
                if quit {
                    return expected;
                }
            }
            Ok(None) => return expected,
            Err(_) => {
                expected.ids.push(Value::Null);
                expected.exit = Exit::BrokenStream;
                return expected;
            }
        }
    }
}
