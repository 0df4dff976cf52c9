//! Two readers side by side: Dupont's and Martin's cards in vpcd's two slots, the real
//! `cpx-connect` and pcscd. `certificates` lists both; `authenticate` signs with the card that
//! holds the named certificate, wherever it sits, and no other card ever receives a VERIFY.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_e2e::{authenticate_request, nonce, pcscd, verifies_with_pin, CardSlot, Host};
use cpx_virtual_card::faults::Fault;
use cpx_virtual_card::{pcscd_test_lock, Holder, VirtualCard};
use serde_json::Value;
use x509_cert::der::Decode;

const ORIGIN: &str = "https://demo.cpxconnect.org";
const DUPONT_PIN: &str = "1234";
const MARTIN_PIN: &str = "5678";

/// The pcscd lock and vpcd's two slots.
struct Desk {
    slots: [CardSlot; 2],
    _lock: std::fs::File,
}

impl Desk {
    /// Dupont's card in slot 0, Martin's in slot 1, each with its own PIN.
    fn new() -> Desk {
        let lock = pcscd_test_lock().expect("pcscd test lock");
        pcscd::ensure_running();
        Desk {
            slots: [
                CardSlot::inserted(0, VirtualCard::cps3(Holder::Dupont).with_pin(DUPONT_PIN)),
                CardSlot::inserted(1, VirtualCard::cps3(Holder::Martin).with_pin(MARTIN_PIN)),
            ],
            _lock: lock,
        }
    }

    fn slot_of(&self, holder: Holder) -> &CardSlot {
        self.slots
            .iter()
            .find(|slot| slot.card.lock().unwrap().holder() == holder)
            .expect("both cards are on the desk")
    }

    fn verify_count(&self, holder: Holder) -> usize {
        self.slot_of(holder).card.lock().unwrap().verify_count()
    }

    fn pin_tries_left(&self, holder: Holder) -> u8 {
        self.slot_of(holder).card.lock().unwrap().pin_tries_left()
    }

    /// VERIFYs with a PIN that reached this holder's card over the wire since the plan began.
    fn verifies_on_the_wire(&self, holder: Holder) -> usize {
        verifies_with_pin(&self.slot_of(holder).faults.received())
    }

    fn auth_certificate(&self, holder: Holder) -> Vec<u8> {
        self.slot_of(holder)
            .card
            .lock()
            .unwrap()
            .auth_certificate_der()
            .to_vec()
    }

    /// `authenticate` with `holder`'s certificate in `list` and `holder`'s PIN gives a token that
    /// `holder`'s card signed over this origin and a fresh nonce (made from `seed`).
    fn assert_logs_in(&self, host: &mut Host, list: &Listing, holder: Holder, seed: u8) {
        let answer = authenticate(host, &id_of(list, holder), pin_of(holder), seed);
        assert_signed_by(&answer, &self.auth_certificate(holder), &nonce(seed));
    }

    /// Pulls both cards out, exchanges them, and puts them back: the readers now list them in
    /// the other order.
    fn swap_cards(&mut self) {
        for slot in &mut self.slots {
            slot.remove();
        }
        let [first, second] = &mut self.slots;
        first.swap_cards(second);
        for slot in &mut self.slots {
            slot.insert();
        }
    }
}

/// `authenticate` for this site with a nonce made from `seed`.
fn authenticate(host: &mut Host, certificate_id: &str, pin: &str, seed: u8) -> Value {
    host.request(&authenticate_request(
        certificate_id,
        ORIGIN,
        &nonce(seed),
        pin,
    ))
}

/// The card in `slot` answers `6F 00` (no precise diagnosis) to its next two commands.
fn fail_the_next_two_commands(slot: &CardSlot) {
    slot.faults.arm(1, Fault::StatusWord(0x6F00));
    slot.faults.arm(2, Fault::StatusWord(0x6F00));
}

/// The PIN each holder's card was given on the desk.
fn pin_of(holder: Holder) -> &'static str {
    match holder {
        Holder::Dupont => DUPONT_PIN,
        Holder::Martin => MARTIN_PIN,
    }
}

/// What `certificates` lists: (idNat, certificateId, reader) for each card, in the answer's order.
type Listing = [(String, String, String)];

/// `certificates`, as a [`Listing`].
fn listed(host: &mut Host) -> Vec<(String, String, String)> {
    let answer = host.command("certificates");
    answer["result"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("certificates: {answer}"))
        .iter()
        .map(|entry| {
            (
                entry["holder"]["idNat"].as_str().unwrap_or("?").to_owned(),
                entry["certificateId"].as_str().unwrap_or("?").to_owned(),
                entry["reader"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

/// The (idNat, certificateId, reader) entry of `holder`'s card in `list`.
fn entry_of(list: &Listing, holder: Holder) -> &(String, String, String) {
    let id_nat = id_nat(holder);
    list.iter()
        .find(|(listed_id_nat, _, _)| *listed_id_nat == id_nat)
        .unwrap_or_else(|| panic!("{id_nat} not listed: {list:?}"))
}

fn id_of(list: &Listing, holder: Holder) -> String {
    entry_of(list, holder).1.clone()
}

fn reader_of(list: &Listing, holder: Holder) -> String {
    entry_of(list, holder).2.clone()
}

/// idNat of the fixture cards' authentication certificates.
fn id_nat(holder: Holder) -> String {
    let card = VirtualCard::cps3(holder);
    let certificate =
        x509_cert::Certificate::from_der(card.auth_certificate_der()).expect("fixture certificate");
    let common_name = certificate
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|attribute| attribute.oid == const_oid_common_name())
        .expect("CN in the subject");
    let value = common_name.value.value();
    String::from_utf8_lossy(value).into_owned()
}

fn const_oid_common_name() -> x509_cert::der::asn1::ObjectIdentifier {
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3")
}

/// The token is signed by the key of `certificate_der`, over this origin and nonce.
fn assert_signed_by(answer: &Value, certificate_der: &[u8], nonce: &str) {
    let token = &answer["result"];
    assert_eq!(token["format"], "web-eid:1.0", "{answer}");
    assert_eq!(
        token["unverifiedCertificate"],
        BASE64.encode(certificate_der),
        "the token carries the named card's certificate"
    );
    cpx_e2e::assert_signed_with_key_of(token, certificate_der, ORIGIN, nonce);
}

#[test]
fn certificates_lists_both_cards_and_authenticate_signs_with_the_named_one_only() {
    let desk = Desk::new();
    let mut host = Host::spawn();
    let list = listed(&mut host);
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(reader_of(&list, Holder::Dupont), desk.slots[0].reader());
    assert_eq!(reader_of(&list, Holder::Martin), desk.slots[1].reader());
    assert_ne!(id_of(&list, Holder::Dupont), id_of(&list, Holder::Martin));

    desk.assert_logs_in(&mut host, &list, Holder::Martin, 21);
    assert_eq!(desk.verify_count(Holder::Martin), 1);
    assert_eq!(desk.verify_count(Holder::Dupont), 0);

    desk.assert_logs_in(&mut host, &list, Holder::Dupont, 22);
    assert_eq!(desk.verify_count(Holder::Dupont), 1);
    assert_eq!(desk.verify_count(Holder::Martin), 1);

    // The other card's PIN for the named card: a wrong PIN for that card only.
    let answer = authenticate(&mut host, &id_of(&list, Holder::Martin), DUPONT_PIN, 23);
    assert_eq!(answer["error"]["code"], "ERR_PIN_INCORRECT", "{answer}");
    assert_eq!(answer["error"]["retriesLeft"], 2);
    assert_eq!(desk.pin_tries_left(Holder::Martin), 2);
    assert_eq!(desk.pin_tries_left(Holder::Dupont), 3);
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 2);
    assert_eq!(desk.verifies_on_the_wire(Holder::Dupont), 1);
    assert!(host.finish().success());
}

#[test]
fn after_the_cards_swap_readers_authenticate_still_signs_with_the_named_card() {
    let mut desk = Desk::new();
    let mut host = Host::spawn();
    let before = listed(&mut host);
    assert_eq!(reader_of(&before, Holder::Dupont), desk.slots[0].reader());

    // The professional swaps the cards between the readers while the PIN window is open.
    desk.swap_cards();
    desk.assert_logs_in(&mut host, &before, Holder::Dupont, 31);
    assert_eq!(desk.verify_count(Holder::Dupont), 1);
    assert_eq!(desk.verify_count(Holder::Martin), 0, "only the named card");

    desk.assert_logs_in(&mut host, &before, Holder::Martin, 32);
    assert_eq!(desk.verify_count(Holder::Martin), 1);
    assert_eq!(desk.verify_count(Holder::Dupont), 1);

    // The same certificate ids, now in the other readers.
    let after = listed(&mut host);
    assert_eq!(
        id_of(&after, Holder::Dupont),
        id_of(&before, Holder::Dupont)
    );
    assert_eq!(reader_of(&after, Holder::Dupont), desk.slots[1].reader());
    assert_eq!(reader_of(&after, Holder::Martin), desk.slots[0].reader());
    assert_eq!(desk.verifies_on_the_wire(Holder::Dupont), 1);
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 1);
}

#[test]
fn a_reader_with_a_card_beside_an_empty_one() {
    let mut desk = Desk::new();
    let mut host = Host::spawn();
    let both = listed(&mut host);
    // Dupont's card leaves; Martin's stays in the second reader.
    desk.slots[0].remove();

    let status = host.command("status");
    let readers = status["result"]["readers"].as_array().expect("readers");
    let card_in = |reader: &str| {
        readers
            .iter()
            .find(|r| r["name"] == reader)
            .map(|r| !r["card"].is_null())
    };
    assert_eq!(card_in(desk.slots[0].reader()), Some(false), "{status}");
    assert_eq!(card_in(desk.slots[1].reader()), Some(true), "{status}");
    let one = listed(&mut host);
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(reader_of(&one, Holder::Martin), desk.slots[1].reader());

    // The absent card's certificate: not found, and no VERIFY reaches the card that is there.
    let answer = authenticate(&mut host, &id_of(&both, Holder::Dupont), DUPONT_PIN, 41);
    assert_eq!(
        answer["error"]["code"], "ERR_CERTIFICATE_NOT_FOUND",
        "{answer}"
    );
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 0);

    desk.assert_logs_in(&mut host, &both, Holder::Martin, 42);
    assert_eq!(desk.verify_count(Holder::Martin), 1);
    assert_eq!(desk.verify_count(Holder::Dupont), 0);
}

#[test]
fn a_card_that_fails_is_left_out_and_the_other_card_still_logs_in() {
    let desk = Desk::new();
    let mut host = Host::spawn();
    let failing = desk.slot_of(Holder::Dupont);
    assert_eq!(failing.index, 0, "the host looks at the failing card first");

    // Dupont's card answers nonsense to its first two commands (the read of EF.SN.ICC by short
    // identifier, then the SELECT by path the host falls back to): `certificates` lists
    // Martin's only.
    fail_the_next_two_commands(failing);
    let list = listed(&mut host);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].0, id_nat(Holder::Martin));

    // It fails again while the host looks for Martin's certificate: skipped, Martin signs.
    fail_the_next_two_commands(failing);
    let answer = authenticate(&mut host, &id_of(&list, Holder::Martin), MARTIN_PIN, 51);
    assert_eq!(
        failing.faults.pending(),
        0,
        "the host tried the failing card"
    );
    assert_signed_by(&answer, &desk.auth_certificate(Holder::Martin), &nonce(51));

    // Asked for Dupont's certificate while Dupont's card fails: its error, not "not found".
    let both = listed(&mut host);
    assert_eq!(both.len(), 2, "{both:?}");
    fail_the_next_two_commands(failing);
    let answer = authenticate(&mut host, &id_of(&both, Holder::Dupont), DUPONT_PIN, 52);
    assert_eq!(answer["error"]["code"], "ERR_CARD_ERROR", "{answer}");
    assert_eq!(answer["error"]["sw"], "6F00", "{answer}");
    assert_eq!(desk.verifies_on_the_wire(Holder::Dupont), 0);
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 1);
}
