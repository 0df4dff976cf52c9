//! Seed inputs for every target, made from real data: the frames and requests of shared/DESIGN.md,
//! the virtual card's PKCS#15 files, and recordings of whole sessions with the virtual card.
//! Shared by the replay tests and the `write_seeds` example that scripts/fuzz.sh runs.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine;
use cpx_connect::card::{self, CardType, Pin, Transport, TransportError};
use cpx_connect::protocol::server::serve;
use cpx_connect::readers::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use cpx_connect::service::HostService;
use cpx_connect_fuzz::card_answers::{known_profile, known_serial, LOGIN_DIGEST, LOGIN_PIN};
use cpx_connect_fuzz::card_script::{self, AfterEnd};
use cpx_connect_fuzz::host::{self, Readers};
use cpx_virtual_card::{pkcs15 as card_files, Holder, VirtualCard};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const TARGETS: [&str; 6] = [
    "frames",
    "request",
    "pkcs15",
    "card_answers",
    "card_answers_cps4",
    "host",
];

pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        seeds.push(Seed {
            target,
            name: name.to_owned(),
            bytes,
        })
    };
    for (name, request) in requests() {
        add("request", name, serde_json::to_vec(&request).expect("JSON"));
    }
    // Requests with a key given twice, which the host refuses wherever the key is.
    for (name, body) in [
        (
            "duplicate-command",
            &br#"{"id":1,"command":"version","command":"quit"}"#[..],
        ),
        (
            "duplicate-pin",
            br#"{"id":1,"command":"authenticate","arguments":{"origin":"https://a.fr","challengeNonce":"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=","certificateId":"c","pin":"1234","pin":"5678"}}"#,
        ),
        (
            "duplicate-nested",
            br#"{"id":1,"command":"status","arguments":{"a":[{"k":0,"\u006b":1}]}}"#,
        ),
    ] {
        add("request", name, body.to_vec());
    }
    for (name, stream) in streams() {
        // Byte 0 chooses how the stream is cut into reads.
        add("frames", name, [&[0x2A][..], &stream].concat());
    }
    for (name, file) in card_files() {
        add("pkcs15", name, file);
    }
    for (name, card) in cards() {
        add(
            "card_answers",
            name,
            record_card_steps(CardType::Cps3, card),
        );
    }
    for (name, card) in cps4_cards() {
        add(
            "card_answers_cps4",
            name,
            record_card_steps(CardType::Cps4, card),
        );
    }
    for (name, readers, card) in [
        ("dupont-login", Readers::OneCps3, cards().remove(0).1),
        (
            "martin-second-reader",
            Readers::ContactlessThenCps3,
            VirtualCard::cps3(Holder::Martin),
        ),
        (
            "wrong-pin",
            Readers::OneCps3,
            VirtualCard::cps3(Holder::Dupont).with_pin("5678"),
        ),
        ("cps4-login", Readers::OneCps4, cps4_cards().remove(0).1),
    ] {
        add("host", name, record_host_session(readers, card));
    }
    add(
        "host",
        "no-reader",
        host::encode(Readers::None, &login_stream("0"), &[0]),
    );
    add(
        "host",
        "pcsc-down",
        host::encode(Readers::ServiceDown, &login_stream("0"), &[0]),
    );
    seeds
}

/// A 32-byte challenge nonce in base64, as a relying party makes.
pub fn nonce() -> String {
    base64::engine::general_purpose::STANDARD.encode([0x42u8; 32])
}

pub fn authenticate(certificate_id: &str, pin: Option<&str>) -> Value {
    let mut arguments = json!({
        "origin": "https://demo.cpxconnect.org",
        "challengeNonce": nonce(),
        "certificateId": certificate_id,
    });
    if let Some(pin) = pin {
        arguments["pin"] = json!(pin);
    }
    json!({"id": "auth", "command": "authenticate", "arguments": arguments})
}

/// The requests of DESIGN.md's command table.
fn requests() -> Vec<(&'static str, Value)> {
    vec![
        ("version", json!({"id": 1, "command": "version"})),
        (
            "status",
            json!({"id": "s", "command": "status", "arguments": {}}),
        ),
        (
            "certificates",
            json!({"id": 2.5, "command": "certificates", "arguments": null}),
        ),
        (
            "authenticate",
            authenticate("0123456789abcdef", Some("1234")),
        ),
        (
            "authenticate-no-pin",
            authenticate("0123456789abcdef", None),
        ),
        ("quit", json!({"id": -3, "command": "quit"})),
    ]
}

pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as u32).to_ne_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

fn request_frame(request: &Value) -> Vec<u8> {
    frame(&serde_json::to_vec(request).expect("JSON"))
}

fn login_stream(certificate_id: &str) -> Vec<u8> {
    [
        request_frame(&json!({"id": 1, "command": "certificates"})),
        request_frame(&authenticate(certificate_id, Some(LOGIN_PIN))),
        request_frame(&json!({"id": 2, "command": "status"})),
        request_frame(&json!({"id": 3, "command": "version"})),
        request_frame(&json!({"id": 4, "command": "quit"})),
    ]
    .concat()
}

fn streams() -> Vec<(&'static str, Vec<u8>)> {
    let all: Vec<u8> = requests()
        .iter()
        .flat_map(|(_, r)| request_frame(r))
        .collect();
    let mut truncated = request_frame(&json!({"id": 1, "command": "version"}));
    truncated.truncate(truncated.len() - 3);
    vec![
        ("design-requests", all),
        ("empty-frame", frame(b"")),
        ("oversized", (1024 * 1024 + 1u32).to_ne_bytes().to_vec()),
        ("truncated", truncated),
    ]
}

fn card_files() -> Vec<(&'static str, Vec<u8>)> {
    let serial = VirtualCard::cps3(Holder::Dupont).icc_serial();
    let mut files = vec![
        ("ef-dir", card_files::ef_dir()),
        ("ef-atr", card_files::ef_atr()),
        ("ef-sn-icc", card_files::ef_sn_icc(&serial)),
        ("odf", card_files::odf()),
        ("token-info", card_files::token_info(&serial)),
        ("prkdf", card_files::prkdf()),
        ("cdf", card_files::cdf()),
        ("aodf", card_files::aodf()),
        ("ef-dir-with-path", card_files::ef_dir_with_path()),
        ("odf-relative", card_files::odf_relative()),
        ("cdf-relative", card_files::cdf_relative()),
        // ISO 7816-15 variants a real card may use (issue 9, item 3): a CDF entry with `[0]`
        // subClassAttributes before `[1]` and an extension field; an AODF entry padded with 00
        // to 12 bytes, its fields in another order, a lastPinChange and an extension.
        (
            "cdf-subclass-and-extensions",
            hex_bytes(
                "30 2A 30 05 0C 03 41 55 54 30 07 04 01 01 9F 20 01 07 \
                 A0 07 30 05 0C 03 61 62 63 A1 0F 30 0D 30 08 04 06 3F 00 00 01 6F 41 85 01 01",
            ),
        ),
        (
            "aodf-padded-with-00-and-extended",
            hex_bytes(
                "30 3F 30 05 0C 03 50 49 4E 30 06 04 01 01 01 01 00 A0 02 30 00 \
                 A1 2A 30 28 03 02 02 24 0A 01 01 02 01 04 02 01 0C 04 01 00 80 01 01 \
                 18 0F 32 30 32 36 30 31 30 31 30 30 30 30 30 30 5A 9F 30 01 01",
            ),
        ),
    ];
    files.extend(more_card_files());
    files
}

fn hex_bytes(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).expect("seed hex"))
        .collect()
}

fn more_card_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![(
        // The GET DATA answer of CARD.md (PIN tries).
        "pin-get-data",
        vec![
            0x70, 0x16, 0xBF, 0x81, 0x01, 0x12, 0xA0, 0x10, 0x9A, 0x01, 0x03, 0x9B, 0x01, 0x03,
            0xA1, 0x08, 0x8C, 0x06, 0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00,
        ],
    )]
}

pub fn cards() -> Vec<(&'static str, VirtualCard)> {
    vec![
        ("dupont", VirtualCard::cps3(Holder::Dupont)),
        ("martin", VirtualCard::cps3(Holder::Martin)),
        (
            "wrong-pin",
            VirtualCard::cps3(Holder::Dupont).with_pin("5678"),
        ),
        (
            "blocked",
            VirtualCard::cps3(Holder::Dupont).with_pin_tries_left(0),
        ),
    ]
}

pub fn cps4_cards() -> Vec<(&'static str, VirtualCard)> {
    vec![
        ("dupont", VirtualCard::cps4(Holder::Dupont)),
        (
            "wrong-pin",
            VirtualCard::cps4(Holder::Dupont).with_pin("5678"),
        ),
        (
            "blocked",
            VirtualCard::cps4(Holder::Dupont).with_pin_tries_left(0),
        ),
    ]
}

/// The virtual card, remembering each answer it gave.
struct Recorder {
    card: VirtualCard,
    answers: Vec<Result<Vec<u8>, TransportError>>,
}

impl Transport for Recorder {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.card.transmit(command);
        self.answers.push(Ok(answer.clone()));
        Ok(answer)
    }
}

/// The answers of `card` to the steps of the card_answers target, in its layout.
/// One fresh driver per step, as the target runs them.
pub fn record_card_steps(card_type: CardType, card: VirtualCard) -> Vec<u8> {
    let mut recorder = Recorder {
        card,
        answers: Vec::new(),
    };
    fn driver(card_type: CardType, recorder: &mut Recorder) -> Box<dyn card::CpxCard + '_> {
        card::driver(card_type, recorder).expect("CPx cards have a driver")
    }
    let serial = driver(card_type, &mut recorder)
        .icc_serial()
        .unwrap_or_else(|_| known_serial());
    let profile = driver(card_type, &mut recorder)
        .read_profile(&serial)
        .unwrap_or_else(|_| known_profile(card_type));
    let _ = driver(card_type, &mut recorder).pin_status(&profile);
    let _ = driver(card_type, &mut recorder).sign_login_digest(
        &profile,
        &Pin::new(LOGIN_PIN),
        &LOGIN_DIGEST,
    );
    card_script::encode(AfterEnd::Removed, &recorder.answers)
}

struct RecordingReaders {
    readers: Readers,
    card: Rc<RefCell<Recorder>>,
}

impl ReaderBackend for RecordingReaders {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        self.readers.slots()
    }

    fn connect(&mut self, _reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        Ok(Box::new(RecordingConnection(self.card.clone())))
    }
}

struct RecordingConnection(Rc<RefCell<Recorder>>);

impl CardConnection for RecordingConnection {
    fn transaction(&mut self) -> Result<Box<dyn Transport + '_>, BackendError> {
        Ok(Box::new(RecordingTransport(self.0.clone())))
    }
}

struct RecordingTransport(Rc<RefCell<Recorder>>);

impl Transport for RecordingTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.borrow_mut().transmit(command)
    }
}

/// The certificate id the host gives a certificate (hex of the first 16 bytes of its SHA-256).
pub fn certificate_id(der: &[u8]) -> String {
    cpx_connect::hex_encode(&Sha256::digest(der)[..16]).to_lowercase()
}

/// A login session (certificates, authenticate, status, version, quit) against `card`, recorded
/// as an input of the host target.
pub fn record_host_session(readers: Readers, card: VirtualCard) -> Vec<u8> {
    let stdin = login_stream(&certificate_id(card.auth_certificate_der()));
    let recorder = Rc::new(RefCell::new(Recorder {
        card,
        answers: Vec::new(),
    }));
    let mut service = HostService::new(RecordingReaders {
        readers,
        card: recorder.clone(),
    });
    let mut output = Vec::new();
    serve(&mut stdin.as_slice(), &mut output, &mut service);
    let script = card_script::encode(AfterEnd::Removed, &recorder.borrow().answers);
    host::encode(readers, &stdin, &script)
}
