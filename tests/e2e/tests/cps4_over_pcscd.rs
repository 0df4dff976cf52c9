//! The real `cpx-connect` binary, the real pcscd, and the virtual CPS4 in vpcd: status, a full
//! login that both verifiers accept, wrong and blocked PINs, and a reinsertion (which closes
//! logical channel 1) in the middle.

use std::time::SystemTime;

use cpx_e2e::{
    assert_both_verifiers_accept_a_login, assert_logs_in, auth_certificate_base64,
    first_certificate, first_certificate_id, listed_reader, nonce, Bench, Host, SLOT_READERS,
};
use cpx_virtual_card::{Holder, VirtualCard};

const ORIGIN: &str = "https://demo.cpxconnect.org";

#[test]
fn status_shows_the_reader_and_the_cps4() {
    let _bench = Bench::with_card(VirtualCard::cps4(Holder::Dupont));
    let mut host = Host::spawn();
    let answer = host.command("status");
    assert_eq!(answer["result"]["service"], "ok");
    let reader = listed_reader(&answer, SLOT_READERS[0]);
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

/// A bench with `card` in the first slot, once the test has checked that pcscd negotiates
/// `protocol` with it.
fn bench_negotiating(card: VirtualCard, protocol: pcsc::Protocol) -> Bench {
    let bench = Bench::with_card(card);
    assert_eq!(negotiated_protocol(SLOT_READERS[0]), Some(protocol));
    bench
}

#[test]
fn pcscd_negotiates_t1_with_the_production_cps4_atr() {
    // The ATR offers T=0 and T=1; pcsc-lite's PHSetProtocol tries T=1 first, and vpcd accepts it.
    bench_negotiating(VirtualCard::cps4(Holder::Dupont), pcsc::Protocol::T1);
}

#[test]
fn a_full_cps4_login_through_pcscd_gives_a_token_both_verifiers_accept() {
    // Over T=1, with a card that answers as a T=1 card (Le needed, no 61xx).
    let bench = bench_negotiating(VirtualCard::cps4(Holder::Dupont), pcsc::Protocol::T1);
    assert!(bench.card.lock().unwrap().answers_t1());
    let mut host = Host::spawn();
    let certificate = first_certificate(&mut host);
    assert_eq!(certificate["cardType"], "CPS4");
    assert_eq!(certificate["holder"]["idNat"], "810001234567");
    assert_eq!(certificate["reader"], SLOT_READERS[0]);
    assert_eq!(certificate["pin"]["retriesLeft"], 3);
    assert_eq!(
        certificate["certificate"],
        auth_certificate_base64(&bench.card)
    );
    let new_card_certificates = bench.apdus();
    bench.clear_log();

    // Checked as a relying party would, and by one with cpx-verify, trusting only the test CA.
    let challenge = nonce(11);
    let (token, identity) =
        assert_both_verifiers_accept_a_login(&mut host, &certificate, ORIGIN, &challenge, "1234");
    let new_card_authenticate = bench.apdus();
    assert_eq!(identity.id_nat, "810001234567");
    assert!(cpx_e2e::test_ca_validator(ORIGIN)
        .validate(
            &serde_json::to_vec(&token).unwrap(),
            &nonce(12),
            SystemTime::now()
        )
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
    let id = first_certificate_id(&mut host);
    let known_card_certificates = bench.apdus();
    bench.clear_log();
    assert_logs_in(&mut host, &id, ORIGIN, &nonce(13), "1234");
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
    let host = cpx_e2e::assert_a_wrong_pin_counts_down(&bench, ORIGIN, "8642", "5678");
    assert_eq!(bench.card.lock().unwrap().verify_count(), 2);
    // The PINs as the request carried them, and as the card received them (ASCII, FF padding).
    let pins = ["8642", "5678"];
    let spaced = ["38 36 34 32", "35 36 37 38"];
    cpx_e2e::assert_the_log_redacts_the_pins(&host.log_text(), "01 20 00 01", &pins, &spaced);
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
    let id = first_certificate_id(&mut host);
    bench.remove_card();
    bench.insert_card();
    assert!(
        !bench.card.lock().unwrap().pki_channel_open(),
        "power-on closed channel 1"
    );
    assert_logs_in(&mut host, &id, ORIGIN, &nonce(21), "1234");
}

/// The CPS4 whose ATR offers T=0 only (CARD.md): pcscd negotiates T=0, and the strict virtual
/// card refuses any command carrying data and Le (`67 00`) as a T=0 reader would. The host
/// sends the last PSO DECIPHER part without Le and collects the result through GET RESPONSE.
#[test]
fn a_cps4_offering_t0_only_logs_in_over_t0_through_pcscd() {
    let bench = bench_negotiating(
        VirtualCard::cps4(Holder::Dupont).with_t0_answers(),
        pcsc::Protocol::T0,
    );
    let mut host = Host::spawn();
    let certificate = first_certificate(&mut host);
    assert_eq!(certificate["cardType"], "CPS4");
    let id = certificate["certificateId"].as_str().unwrap();
    assert_logs_in(&mut host, id, ORIGIN, &nonce(31), "1234");
    let card = bench.card.lock().unwrap();
    let log = card.apdu_log();
    assert!(
        cpx_e2e::no_command_carries_data_and_le(log),
        "under T=0 no command carries data and Le: {log:02X?}"
    );
    assert!(
        log.iter().any(|apdu| apdu[..2] == [0x01, 0xC0]),
        "GET RESPONSE"
    );
    assert_eq!(card.verify_count(), 1);
}
