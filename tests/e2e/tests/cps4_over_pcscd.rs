//! The real `cpx-connect` binary, the real pcscd, and the virtual CPS4 in vpcd: status, a full
//! login that both verifiers accept, wrong and blocked PINs, and a reinsertion (which closes
//! logical channel 1) in the middle.

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_e2e::{authenticate_request, first_certificate, nonce, Bench, Host, SLOT_READERS};
use cpx_virtual_card::{Holder, VirtualCard};
use serde_json::Value;

const ORIGIN: &str = "https://demo.cpxconnect.org";

fn assert_signature_verifies(token: &Value, nonce: &str) {
    cpx_e2e::assert_signature_verifies(token, ORIGIN, nonce);
}

#[test]
fn status_shows_the_reader_and_the_cps4() {
    let _bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont));
    let mut host = Host::spawn();
    let answer = host.command("status");
    assert_eq!(answer["result"]["service"], "ok");
    let reader = answer["result"]["readers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == SLOT_READERS[0])
        .cloned()
        .unwrap();
    assert_eq!(reader["card"]["type"], "CPS4");
    assert_eq!(reader["card"]["atr"], "3B9B188001001225006480040100009044");
}

/// The protocol pcscd negotiates for the card in `reader` when a program asks for any.
fn negotiated_protocol(reader: &str) -> Option<pcsc::Protocol> {
    let context = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
    let name = std::ffi::CString::new(reader).expect("reader name");
    let card = context
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("connect to the card");
    let protocol = card.status2_owned().expect("SCardStatus").protocol2();
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    protocol
}

#[test]
fn pcscd_negotiates_t1_with_the_production_cps4_atr() {
    // The ATR offers T=0 and T=1; pcsc-lite's PHSetProtocol tries T=1 first, and vpcd accepts it.
    let _bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont));
    assert_eq!(
        negotiated_protocol(SLOT_READERS[0]),
        Some(pcsc::Protocol::T1)
    );
}

#[test]
fn a_full_cps4_login_through_pcscd_gives_a_token_both_verifiers_accept() {
    let bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont));
    // Over T=1, with a card that answers as a T=1 card (Le needed, no 61xx).
    assert_eq!(
        negotiated_protocol(SLOT_READERS[0]),
        Some(pcsc::Protocol::T1)
    );
    assert!(bench.card.lock().unwrap().answers_t1());
    let mut host = Host::spawn();
    let certificate = first_certificate(&mut host);
    assert_eq!(certificate["cardType"], "CPS4");
    assert_eq!(certificate["holder"]["idNat"], "810001234567");
    assert_eq!(certificate["reader"], SLOT_READERS[0]);
    assert_eq!(certificate["pin"]["retriesLeft"], 3);
    let expected_der = bench.card.lock().unwrap().auth_certificate_der().to_vec();
    assert_eq!(certificate["certificate"], BASE64.encode(&expected_der));
    let new_card_certificates = bench.apdus();
    bench.clear_log();

    let id = certificate["certificateId"].as_str().unwrap();
    let challenge = nonce(11);
    let answer = host.request(&authenticate_request(id, ORIGIN, &challenge, "1234"));
    let token = &answer["result"];
    assert_eq!(token["format"], "web-eid:1.0", "{answer}");
    assert_signature_verifies(token, &challenge);
    let new_card_authenticate = bench.apdus();

    // And as a relying party with cpx-verify, trusting only the test CA.
    let validator = cpx_e2e::test_ca_validator(ORIGIN);
    let token_json = serde_json::to_vec(token).unwrap();
    let identity = validator
        .validate(&token_json, &challenge, SystemTime::now())
        .expect("cpx-verify accepts the host's token");
    assert_eq!(identity.id_nat, "810001234567");
    assert!(validator
        .validate(&token_json, &nonce(12), SystemTime::now())
        .is_err());

    {
        let card = bench.card.lock().unwrap();
        assert_eq!(card.verify_count(), 1);
        let log = card.apdu_log();
        assert!(
            log.iter().all(|apdu| apdu[0] & 0x03 == 0x01),
            "channel 1 only"
        );
        let chain: Vec<(u8, usize)> = log
            .iter()
            .filter(|apdu| apdu[1] == 0x2A)
            .map(|apdu| (apdu[0], apdu.len()))
            .collect();
        assert_eq!(chain, [(0x11, 5 + 255), (0x01, 5 + 1 + 1)]);
    }

    // The same process again: the card is known now.
    bench.clear_log();
    let certificate = first_certificate(&mut host);
    let known_card_certificates = bench.apdus();
    bench.clear_log();
    let challenge = nonce(13);
    let answer = host.request(&authenticate_request(
        certificate["certificateId"].as_str().unwrap(),
        ORIGIN,
        &challenge,
        "1234",
    ));
    assert_signature_verifies(&answer["result"], &challenge);
    let known_card_authenticate = bench.apdus();
    eprintln!(
        "CPS4 over pcscd, APDUs: new card {new_card_certificates} + {new_card_authenticate}, \
         known card {known_card_certificates} + {known_card_authenticate}"
    );
    // The applet, EF.SN.ICC by short identifier, the PIN counter.
    assert_eq!(known_card_certificates, 3);
    // Over T=1 the signature comes with the last DECIPHER part: no GET RESPONSE.
    assert_eq!(known_card_authenticate, 8);
    assert!(
        bench
            .card
            .lock()
            .unwrap()
            .apdu_log()
            .iter()
            .all(|apdu| apdu[1] != 0xC0),
        "no GET RESPONSE over T=1"
    );
    assert!(new_card_certificates > 4 * known_card_certificates);
    assert!(host.finish().success());
}

#[test]
fn a_wrong_pin_counts_down_and_the_pin_never_reaches_the_log() {
    let bench = Bench::with_card(VirtualCard::cps4(Holder::Martin).with_pin("5678"));
    let mut host = Host::spawn();
    let certificate = first_certificate(&mut host);
    let id = certificate["certificateId"].as_str().unwrap();
    let answer = host.request(&authenticate_request(id, ORIGIN, &nonce(1), "8642"));
    assert_eq!(answer["error"]["code"], "ERR_PIN_INCORRECT", "{answer}");
    assert_eq!(answer["error"]["retriesLeft"], 2);
    assert_eq!(first_certificate(&mut host)["pin"]["retriesLeft"], 2);
    let answer = host.request(&authenticate_request(id, ORIGIN, &nonce(2), "5678"));
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    assert_eq!(first_certificate(&mut host)["pin"]["retriesLeft"], 3);
    assert_eq!(bench.card.lock().unwrap().verify_count(), 2);

    let log = host.log_text();
    assert!(
        log.contains("01 20 00 01 [8] REDACTED"),
        "VERIFY is logged redacted: {log}"
    );
    for secret in [
        "\"8642\"",
        "\"5678\"",
        "38363432FFFFFFFF",
        "35363738FFFFFFFF",
        "38 36 34 32",
        "35 36 37 38",
    ] {
        assert!(!log.contains(secret), "log contains {secret}");
    }
}

#[test]
fn three_wrong_pins_block_the_cps4_and_no_verify_follows() {
    let bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont));
    cpx_e2e::assert_three_wrong_pins_block_the_card(&bench, ORIGIN);
}

#[test]
fn a_reinserted_cps4_has_its_channel_opened_again() {
    let mut bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont));
    let mut host = Host::spawn();
    let id = first_certificate(&mut host)["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    bench.remove_card();
    bench.insert_card();
    assert!(
        !bench.card.lock().unwrap().pki_channel_open(),
        "power-on closed channel 1"
    );
    let answer = host.request(&authenticate_request(&id, ORIGIN, &nonce(21), "1234"));
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    assert_signature_verifies(&answer["result"], &nonce(21));
}

/// The CPS4 whose ATR offers T=0 only (CARD.md): pcscd negotiates T=0, and the strict virtual
/// card refuses any command carrying data and Le (`67 00`) as a T=0 reader would. The host
/// sends the last PSO DECIPHER part without Le and collects the result through GET RESPONSE.
#[test]
fn a_cps4_offering_t0_only_logs_in_over_t0_through_pcscd() {
    let bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont).with_t0_answers());
    assert_eq!(
        negotiated_protocol(SLOT_READERS[0]),
        Some(pcsc::Protocol::T0)
    );
    let mut host = Host::spawn();
    let certificate = first_certificate(&mut host);
    assert_eq!(certificate["cardType"], "CPS4");
    let id = certificate["certificateId"].as_str().unwrap();
    let challenge = nonce(31);
    let answer = host.request(&authenticate_request(id, ORIGIN, &challenge, "1234"));
    let token = &answer["result"];
    assert_eq!(token["format"], "web-eid:1.0", "{answer}");
    assert_signature_verifies(token, &challenge);
    let card = bench.card.lock().unwrap();
    let log = card.apdu_log();
    assert!(
        log.iter()
            .all(|apdu| apdu.len() <= 5 || apdu.len() == 5 + usize::from(apdu[4])),
        "under T=0 no command carries data and Le: {log:02X?}"
    );
    assert!(
        log.iter().any(|apdu| apdu[..2] == [0x01, 0xC0]),
        "GET RESPONSE"
    );
    assert_eq!(card.verify_count(), 1);
}
