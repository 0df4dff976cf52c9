//! What the host's integration tests share: virtual readers holding virtual cards, the request
//! loop run over a list of requests, the requests of a login, an independent check of a token;
//! the built binary, and the check of what a command said.
#![allow(dead_code)] // each test file uses its own part of this module

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_connect::card::{Protocol, Transport, TransportError};
use cpx_connect::protocol::server::{serve, Exit};
use cpx_connect::readers::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use cpx_connect::service::cache::ProfileCache;
use cpx_connect::service::HostService;
use cpx_virtual_card::{SharedCard, VirtualCard};
use rsa::pkcs8::DecodePublicKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

/// Readers whose cards are virtual cards in this process.
pub type Slots = Arc<Mutex<Vec<(String, Option<SharedCard>)>>>;

#[derive(Clone, Default)]
pub struct VirtualReaders {
    slots: Slots,
    /// Planned swaps, in order: each counts its transmits from when the previous one happened.
    swap: Arc<Mutex<std::collections::VecDeque<PlannedSwap>>>,
    /// The transport does not tell the card layer the protocol (as a reader stack may not).
    protocol_hidden: bool,
}

/// A transport failure planned at the `n`th transmit from now, with the card the slot holds
/// from then on (`None`: the same card, reset).
struct PlannedSwap {
    remaining: usize,
    error: TransportError,
    slot: usize,
    replacement: Option<VirtualCard>,
}

impl VirtualReaders {
    pub fn with(cards: Vec<(&str, Option<VirtualCard>)>) -> Self {
        let slots = cards
            .into_iter()
            .map(|(name, card)| (name.to_owned(), card.map(|c| Arc::new(Mutex::new(c)))))
            .collect();
        VirtualReaders {
            slots: Arc::new(Mutex::new(slots)),
            swap: Arc::default(),
            protocol_hidden: false,
        }
    }

    /// One reader, "Reader A", holding `card`: the machine of most tests.
    pub fn holding(card: VirtualCard) -> Self {
        Self::with(vec![("Reader A", Some(card))])
    }

    /// The transports of these readers report no protocol.
    pub fn hiding_protocol(mut self) -> Self {
        self.protocol_hidden = true;
        self
    }

    /// The `n`th transmit from now (or from the previous planned swap; 1 = the next) fails with
    /// `error`, as when the card in slot `slot` is swapped; from then on the slot holds
    /// `replacement` (or the same card, reset).
    pub fn swap_at(
        &self,
        n: usize,
        error: TransportError,
        slot: usize,
        replacement: Option<VirtualCard>,
    ) {
        self.swap.lock().unwrap().push_back(PlannedSwap {
            remaining: n,
            error,
            slot,
            replacement,
        });
    }

    /// Whether every planned swap has happened.
    pub fn swapped(&self) -> bool {
        self.swap.lock().unwrap().is_empty()
    }

    pub fn card(&self, index: usize) -> SharedCard {
        self.slots.lock().unwrap()[index]
            .1
            .clone()
            .expect("a card in that slot")
    }
}

impl ReaderBackend for VirtualReaders {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        Ok(self
            .slots
            .lock()
            .unwrap()
            .iter()
            .map(|(name, card)| ReaderSlot {
                name: name.clone(),
                atr: card.as_ref().map(|c| c.lock().unwrap().atr()),
            })
            .collect())
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        let slots = self.slots.lock().unwrap();
        let (_, card) = slots
            .iter()
            .find(|(name, _)| name == reader)
            .ok_or_else(|| BackendError::ReaderGone(reader.into()))?;
        let card = card
            .clone()
            .ok_or_else(|| BackendError::NoCard(reader.into()))?;
        Ok(Box::new(VirtualConnection(card, self.clone())))
    }
}

struct VirtualConnection(SharedCard, VirtualReaders);

impl CardConnection for VirtualConnection {
    fn transaction(&mut self) -> Result<Box<dyn Transport + '_>, BackendError> {
        Ok(Box::new(VirtualTransport(self.0.clone(), self.1.clone())))
    }
}

struct VirtualTransport(SharedCard, VirtualReaders);

impl Transport for VirtualTransport {
    /// What pcscd negotiates with the virtual card's ATR: T=1 for a CPS4 answering as one.
    fn protocol(&self) -> Option<Protocol> {
        if self.1.protocol_hidden {
            None
        } else if self.0.lock().unwrap().answers_t1() {
            Some(Protocol::T1)
        } else {
            Some(Protocol::T0)
        }
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut planned = self.1.swap.lock().unwrap();
        if let Some(swap) = planned.front_mut() {
            swap.remaining -= 1;
            if swap.remaining == 0 {
                let Some(swap) = planned.pop_front() else {
                    unreachable!()
                };
                let mut slots = self.1.slots.lock().unwrap();
                match swap.replacement {
                    Some(card) => slots[swap.slot].1 = Some(Arc::new(Mutex::new(card))),
                    None => {
                        if let Some(card) = &slots[swap.slot].1 {
                            card.lock().unwrap().power_on();
                        }
                    }
                }
                return Err(swap.error);
            }
        }
        drop(planned);
        Ok(self.0.lock().unwrap().transmit(command))
    }
}

/// A host service over one reader holding `card`, and that card, to look at what it was sent.
pub fn service_with(card: VirtualCard) -> (HostService<VirtualReaders>, SharedCard) {
    let readers = VirtualReaders::holding(card);
    let card = readers.card(0);
    (HostService::new(readers), card)
}

/// A host process over these readers with its profile cache in `dir`: another one over the
/// same readers and folder is the host started again by the browser.
pub fn service_caching_in(
    readers: &VirtualReaders,
    dir: &std::path::Path,
) -> HostService<VirtualReaders> {
    HostService::with_cache(readers.clone(), ProfileCache::persistent(dir.to_owned()))
}

/// The `status` answer's entry for the card of a single reader holding `card`.
pub fn status_of(card: VirtualCard) -> Value {
    let (mut service, _) = service_with(card);
    let answers = exchange(&mut service, &[json!({"id": 1, "command": "status"})]);
    answers[0]["result"]["readers"][0]["card"].clone()
}

/// Runs the request loop over these requests and returns the answers.
pub fn exchange(service: &mut HostService<VirtualReaders>, requests: &[Value]) -> Vec<Value> {
    let mut input = Vec::new();
    for request in requests {
        let body = serde_json::to_vec(request).unwrap();
        input.extend((body.len() as u32).to_ne_bytes());
        input.extend(body);
    }
    let mut output = Vec::new();
    assert_eq!(
        serve(&mut input.as_slice(), &mut output, service),
        Exit::Finished
    );
    let mut answers = Vec::new();
    let mut rest = output.as_slice();
    while !rest.is_empty() {
        let length = u32::from_ne_bytes(rest[..4].try_into().unwrap()) as usize;
        answers.push(serde_json::from_slice(&rest[4..4 + length]).unwrap());
        rest = &rest[4 + length..];
    }
    answers
}

/// The origin every login of these tests is for.
pub const ORIGIN: &str = "https://demo.cpxconnect.org";

/// A 32-byte challenge nonce in base64, as a relying party makes.
pub fn nonce() -> String {
    BASE64.encode([0x42u8; 32])
}

/// An `authenticate` request for [`ORIGIN`] and [`nonce`].
pub fn authenticate(certificate_id: &str, pin: &str) -> Value {
    json!({"id": "auth", "command": "authenticate", "arguments": {
        "origin": ORIGIN, "challengeNonce": nonce(),
        "certificateId": certificate_id, "pin": pin}})
}

/// The `certificates` answer's list.
pub fn certificates(service: &mut HostService<VirtualReaders>) -> Vec<Value> {
    let answers = exchange(service, &[json!({"id": 1, "command": "certificates"})]);
    answers[0]["result"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("certificates failed: {}", answers[0]))
        .clone()
}

/// The `certificateId` of the first certificate `certificates` lists.
pub fn certificate_id_of(service: &mut HostService<VirtualReaders>) -> String {
    certificates(service)[0]["certificateId"]
        .as_str()
        .expect("a certificate")
        .to_owned()
}

/// Verifies a token as a relying party would, from the certificate in it.
pub fn assert_token_verifies(token: &Value, origin: &str, nonce: &str) {
    assert_eq!(token["format"], "web-eid:1.0");
    assert_eq!(token["algorithm"], "RS256");
    let certificate = BASE64
        .decode(token["unverifiedCertificate"].as_str().unwrap())
        .unwrap();
    let signature = BASE64.decode(token["signature"].as_str().unwrap()).unwrap();
    let certificate = x509_cert::Certificate::from_der(&certificate).unwrap();
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
    let mut message = Sha256::digest(origin.as_bytes()).to_vec();
    message.extend(Sha256::digest(nonce.as_bytes()));
    let hashed = Sha256::digest(&message);
    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed, &signature)
        .expect("the token's signature verifies");
}

/// Verifies the token of a login for [`ORIGIN`] and [`nonce`], as a relying party would.
pub fn assert_login_token_verifies(token: &Value) {
    assert_token_verifies(token, ORIGIN, &nonce());
}

pub fn cache_directory(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("cpx-host-test-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The built `cpx-connect`, by its real path (what a manifest names and the doctor compares).
pub fn binary() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_BIN_EXE_cpx-connect"))
        .canonicalize()
        .unwrap()
}

/// Checks that `text` (a command's output, a doctor check's text) says `part`, showing the
/// whole text when it does not.
pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{text}");
}
