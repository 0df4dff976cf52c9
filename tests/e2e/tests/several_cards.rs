//! Two readers side by side: Dupont's and Martin's cards in vpcd's two slots, the real
//! `cpx-connect` and pcscd. `certificates` lists both; `authenticate` signs with the card that
//! holds the named certificate, wherever it sits, and no other card ever receives a VERIFY.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_e2e::{authenticate_request, nonce, pcscd, verifies_with_pin, CardSlot, Host};
use cpx_virtual_card::faults::Fault;
use cpx_virtual_card::{pcscd_test_lock, Holder, VirtualCard};
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

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

    /// `authenticate` with `certificate_id` and `pin` gives a token that `holder`'s card signed
    /// over this origin and a fresh nonce (made from `seed`).
    fn assert_logs_in(
        &self,
        host: &mut Host,
        certificate_id: &str,
        holder: Holder,
        pin: &str,
        seed: u8,
    ) {
        let challenge = nonce(seed);
        let answer = host.request(&authenticate_request(
            certificate_id,
            ORIGIN,
            &challenge,
            pin,
        ));
        assert_signed_by(&answer, &self.auth_certificate(holder), &challenge);
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

/// `certificates`, as (idNat, certificateId, reader) for each card, in the answer's order.
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

fn id_of(list: &[(String, String, String)], id_nat: &str) -> String {
    list.iter()
        .find(|(listed_id_nat, _, _)| listed_id_nat == id_nat)
        .map(|(_, id, _)| id.clone())
        .unwrap_or_else(|| panic!("{id_nat} not listed: {list:?}"))
}

fn reader_of(list: &[(String, String, String)], id_nat: &str) -> String {
    list.iter()
        .find(|(listed_id_nat, _, _)| listed_id_nat == id_nat)
        .map(|(_, _, reader)| reader.clone())
        .unwrap_or_else(|| panic!("{id_nat} not listed: {list:?}"))
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
    let signature = BASE64
        .decode(token["signature"].as_str().expect("signature"))
        .expect("base64 signature");
    let spki = x509_cert::Certificate::from_der(certificate_der)
        .expect("certificate")
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("SPKI");
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).expect("RSA key");
    let mut message = Sha256::digest(ORIGIN.as_bytes()).to_vec();
    message.extend(Sha256::digest(nonce.as_bytes()));
    key.verify(
        rsa::Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(&message),
        &signature,
    )
    .expect("the signature verifies with the named card's key");
}

#[test]
fn certificates_lists_both_cards_and_authenticate_signs_with_the_named_one_only() {
    let desk = Desk::new();
    let mut host = Host::spawn();
    let list = listed(&mut host);
    assert_eq!(list.len(), 2, "{list:?}");
    let (dupont, martin) = (id_nat(Holder::Dupont), id_nat(Holder::Martin));
    assert_eq!(reader_of(&list, &dupont), desk.slots[0].reader());
    assert_eq!(reader_of(&list, &martin), desk.slots[1].reader());
    assert_ne!(id_of(&list, &dupont), id_of(&list, &martin));

    desk.assert_logs_in(
        &mut host,
        &id_of(&list, &martin),
        Holder::Martin,
        MARTIN_PIN,
        21,
    );
    assert_eq!(desk.verify_count(Holder::Martin), 1);
    assert_eq!(desk.verify_count(Holder::Dupont), 0);

    desk.assert_logs_in(
        &mut host,
        &id_of(&list, &dupont),
        Holder::Dupont,
        DUPONT_PIN,
        22,
    );
    assert_eq!(desk.verify_count(Holder::Dupont), 1);
    assert_eq!(desk.verify_count(Holder::Martin), 1);

    // The other card's PIN for the named card: a wrong PIN for that card only.
    let answer = host.request(&authenticate_request(
        &id_of(&list, &martin),
        ORIGIN,
        &nonce(23),
        DUPONT_PIN,
    ));
    assert_eq!(answer["error"]["code"], "ERR_PIN_INCORRECT", "{answer}");
    assert_eq!(answer["error"]["retriesLeft"], 2);
    assert_eq!(
        desk.slot_of(Holder::Martin)
            .card
            .lock()
            .unwrap()
            .pin_tries_left(),
        2
    );
    assert_eq!(
        desk.slot_of(Holder::Dupont)
            .card
            .lock()
            .unwrap()
            .pin_tries_left(),
        3
    );
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 2);
    assert_eq!(desk.verifies_on_the_wire(Holder::Dupont), 1);
    assert!(host.finish().success());
}

#[test]
fn after_the_cards_swap_readers_authenticate_still_signs_with_the_named_card() {
    let mut desk = Desk::new();
    let mut host = Host::spawn();
    let before = listed(&mut host);
    let (dupont, martin) = (id_nat(Holder::Dupont), id_nat(Holder::Martin));
    assert_eq!(reader_of(&before, &dupont), desk.slots[0].reader());

    // The professional swaps the cards between the readers while the PIN window is open.
    desk.swap_cards();
    desk.assert_logs_in(
        &mut host,
        &id_of(&before, &dupont),
        Holder::Dupont,
        DUPONT_PIN,
        31,
    );
    assert_eq!(desk.verify_count(Holder::Dupont), 1);
    assert_eq!(desk.verify_count(Holder::Martin), 0, "only the named card");

    desk.assert_logs_in(
        &mut host,
        &id_of(&before, &martin),
        Holder::Martin,
        MARTIN_PIN,
        32,
    );
    assert_eq!(desk.verify_count(Holder::Martin), 1);
    assert_eq!(desk.verify_count(Holder::Dupont), 1);

    // The same certificate ids, now in the other readers.
    let after = listed(&mut host);
    assert_eq!(id_of(&after, &dupont), id_of(&before, &dupont));
    assert_eq!(reader_of(&after, &dupont), desk.slots[1].reader());
    assert_eq!(reader_of(&after, &martin), desk.slots[0].reader());
    assert_eq!(desk.verifies_on_the_wire(Holder::Dupont), 1);
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 1);
}

#[test]
fn a_reader_with_a_card_beside_an_empty_one() {
    let mut desk = Desk::new();
    let mut host = Host::spawn();
    let both = listed(&mut host);
    let (dupont, martin) = (id_nat(Holder::Dupont), id_nat(Holder::Martin));
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
    assert_eq!(reader_of(&one, &martin), desk.slots[1].reader());

    // The absent card's certificate: not found, and no VERIFY reaches the card that is there.
    let answer = host.request(&authenticate_request(
        &id_of(&both, &dupont),
        ORIGIN,
        &nonce(41),
        DUPONT_PIN,
    ));
    assert_eq!(
        answer["error"]["code"], "ERR_CERTIFICATE_NOT_FOUND",
        "{answer}"
    );
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 0);

    desk.assert_logs_in(
        &mut host,
        &id_of(&both, &martin),
        Holder::Martin,
        MARTIN_PIN,
        42,
    );
    assert_eq!(desk.verify_count(Holder::Martin), 1);
    assert_eq!(desk.verify_count(Holder::Dupont), 0);
}

#[test]
fn a_card_that_fails_is_left_out_and_the_other_card_still_logs_in() {
    let desk = Desk::new();
    let mut host = Host::spawn();
    let (dupont, martin) = (id_nat(Holder::Dupont), id_nat(Holder::Martin));
    let failing = desk.slot_of(Holder::Dupont);
    assert_eq!(failing.index, 0, "the host looks at the failing card first");

    // Dupont's card answers nonsense to its first two commands (the read of EF.SN.ICC by short
    // identifier, then the SELECT by path the host falls back to): `certificates` lists
    // Martin's only.
    failing.faults.arm(1, Fault::StatusWord(0x6F00));
    failing.faults.arm(2, Fault::StatusWord(0x6F00));
    let list = listed(&mut host);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].0, martin);

    // It fails again while the host looks for Martin's certificate: skipped, Martin signs.
    failing.faults.arm(1, Fault::StatusWord(0x6F00));
    failing.faults.arm(2, Fault::StatusWord(0x6F00));
    let challenge = nonce(51);
    let answer = host.request(&authenticate_request(
        &id_of(&list, &martin),
        ORIGIN,
        &challenge,
        MARTIN_PIN,
    ));
    assert_eq!(
        failing.faults.pending(),
        0,
        "the host tried the failing card"
    );
    assert_signed_by(&answer, &desk.auth_certificate(Holder::Martin), &challenge);

    // Asked for Dupont's certificate while Dupont's card fails: its error, not "not found".
    let both = listed(&mut host);
    assert_eq!(both.len(), 2, "{both:?}");
    failing.faults.arm(1, Fault::StatusWord(0x6F00));
    failing.faults.arm(2, Fault::StatusWord(0x6F00));
    let answer = host.request(&authenticate_request(
        &id_of(&both, &dupont),
        ORIGIN,
        &nonce(52),
        DUPONT_PIN,
    ));
    assert_eq!(answer["error"]["code"], "ERR_CARD_ERROR", "{answer}");
    assert_eq!(answer["error"]["sw"], "6F00", "{answer}");
    assert_eq!(desk.verifies_on_the_wire(Holder::Dupont), 0);
    assert_eq!(desk.verifies_on_the_wire(Holder::Martin), 1);
}
