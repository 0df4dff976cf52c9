//! The whole host (protocol loop, service, CPS3 driver) against the virtual card in-process:
//! fast, exact checks of answers and of every APDU the card receives.

mod common;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use common::{
    assert_login_token_verifies, authenticate, cache_directory, certificate_id_of, exchange, nonce,
    service_caching_in, service_with, status_of, VirtualReaders,
};
use cpx_connect::service::HostService;
use cpx_virtual_card::{Holder, VirtualCard};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[test]
fn certificates_lists_the_authentication_certificate_and_pin_tries() {
    let (mut service, card) = service_with(VirtualCard::cps3(Holder::Dupont));
    let answers = exchange(&mut service, &[json!({"id": 1, "command": "certificates"})]);
    let certificates = answers[0]["result"]["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 1);
    let entry = &certificates[0];
    let expected_der = card.lock().unwrap().auth_certificate_der().to_vec();
    assert_eq!(entry["certificate"], BASE64.encode(&expected_der));
    assert_eq!(entry["reader"], "Reader A");
    assert_eq!(entry["cardType"], "CPS3");
    assert_eq!(entry["holder"]["idNat"], "810001234567");
    assert_eq!(entry["holder"]["surname"], "DUPONT");
    assert_eq!(entry["holder"]["givenName"], "MARIE");
    assert_eq!(entry["holder"]["profession"], "Médecin");
    assert_eq!(entry["pin"]["retriesLeft"], 3);
    assert_eq!(entry["pin"]["maxRetries"], 3);
    assert_eq!(entry["pin"]["minLength"], 4);
    let id = entry["certificateId"].as_str().unwrap();
    assert_eq!(
        id,
        &cpx_connect::hex_encode(&Sha256::digest(&expected_der)[..16]).to_lowercase()
    );
    assert!(entry["notAfter"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        card.lock().unwrap().verify_count(),
        0,
        "reading certificates sends no VERIFY"
    );
}

#[test]
fn a_full_login_makes_a_token_that_verifies() {
    let (mut service, card) = service_with(VirtualCard::cps3(Holder::Dupont));
    let id = certificate_id_of(&mut service);
    let answers = exchange(&mut service, &[authenticate(&id, "1234")]);
    assert_eq!(answers[0]["id"], "auth");
    assert_login_token_verifies(&answers[0]["result"]);
    assert_eq!(card.lock().unwrap().verify_count(), 1);
}

/// The card's APDU log as hex strings, for readable assertions.
fn log_hex(card: &cpx_virtual_card::SharedCard) -> Vec<String> {
    card.lock()
        .unwrap()
        .apdu_log()
        .iter()
        .map(|apdu| cpx_connect::hex_encode(apdu))
        .collect()
}

#[test]
fn a_login_works_whatever_ef_dir_and_the_application_fcp_say() {
    const SELECT_APP_WITH_FCP: &str = "00A40404 0DE828BD080F8025000001FF0010";
    let select_app = SELECT_APP_WITH_FCP.replace(' ', "");
    // The ODF is selected with its FCP (P2=04) for its size, wherever the application is.
    for (layout, card, selects_by_aid, odf_select) in [
        // Default: EF.DIR without a path (as a real CPS3's, most likely); the FCP gives 0001.
        (
            "no path in EF.DIR",
            VirtualCard::cps3(Holder::Dupont),
            true,
            "00A40904 063F0000015031",
        ),
        (
            "path in EF.DIR",
            VirtualCard::cps3(Holder::Dupont).with_ef_dir_path(),
            false,
            "00A40904 063F0000015031",
        ),
        // No EF.DIR at all: the application at 3F00/5015, as the Cryptolib falls back to.
        (
            "no EF.DIR",
            VirtualCard::cps3(Holder::Dupont).without_ef_dir(),
            false,
            "00A40904 063F0050155031",
        ),
        // Nothing tells where the application is: its files are selected from it.
        (
            "no path anywhere",
            VirtualCard::cps3(Holder::Dupont).with_relative_layout(),
            true,
            "00A40904 025031",
        ),
    ] {
        let (mut service, card) = service_with(card);
        let answers = exchange(&mut service, &[json!({"id": 1, "command": "certificates"})]);
        let Some(id) = answers[0]["result"]["certificates"][0]["certificateId"].as_str() else {
            panic!("{layout}: {}", answers[0]);
        };
        let log = log_hex(&card);
        assert_eq!(
            log.contains(&select_app),
            selects_by_aid,
            "{layout}: {log:?}"
        );
        let odf_select = odf_select.replace(' ', "");
        assert!(log.contains(&odf_select), "{layout}: {log:?}");
        let answers = exchange(&mut service, &[authenticate(id, "1234")]);
        assert_login_token_verifies(&answers[0]["result"]);
    }
}

#[test]
fn certificates_starts_again_once_when_the_card_changes_under_it() {
    use cpx_connect::card::TransportError;
    // Each APDU of the read in turn meets a swap for another card: the answer is the new card's.
    let mut position = 1;
    loop {
        let readers = VirtualReaders::holding(VirtualCard::cps3(Holder::Dupont));
        readers.swap_at(
            position,
            TransportError::CardReset,
            0,
            Some(VirtualCard::cps3(Holder::Martin)),
        );
        let mut service = HostService::new(readers.clone());
        let answers = exchange(&mut service, &[json!({"id": 1, "command": "certificates"})]);
        if !readers.swapped() {
            break; // the read ended before that APDU
        }
        let certificates = &answers[0]["result"]["certificates"];
        assert_eq!(
            certificates[0]["holder"]["surname"], "MARTIN",
            "swap at APDU {position}: {}",
            answers[0]
        );
        assert_eq!(readers.card(0).lock().unwrap().verify_count(), 0);
        position += 1;
    }
    assert!(position > 10, "the read took {position} APDUs");

    // Only once: a card that changes again during the second read is reported removed, and the
    // next request reads it.
    let readers = VirtualReaders::holding(VirtualCard::cps3(Holder::Dupont));
    let mut service = HostService::new(readers.clone());
    readers.swap_at(3, TransportError::CardRemoved, 0, None);
    readers.swap_at(2, TransportError::CardReset, 0, None);
    let answers = exchange(&mut service, &[json!({"id": 1, "command": "certificates"})]);
    assert_eq!(
        answers[0]["error"]["code"], "ERR_CARD_REMOVED",
        "{}",
        answers[0]
    );
    assert!(readers.swapped());
    let answers = exchange(&mut service, &[json!({"id": 2, "command": "certificates"})]);
    assert!(answers[0]["result"].is_object(), "{}", answers[0]);
}

#[test]
fn a_card_changed_during_authenticate_is_removed_and_the_pin_not_sent_again() {
    use cpx_connect::card::TransportError;
    let readers = VirtualReaders::holding(VirtualCard::cps3(Holder::Dupont));
    let card = readers.card(0);
    let mut service = HostService::new(readers.clone());
    let id = certificate_id_of(&mut service);
    card.lock().unwrap().clear_log();
    // Known card, MF current after certificates: EF.SN.ICC by SFI, SELECT application, the
    // PIN-state probe, VERIFY: the swap hits the MSE after it.
    readers.swap_at(5, TransportError::CardReset, 0, None);
    let answers = exchange(&mut service, &[authenticate(&id, "1234")]);
    assert_eq!(
        answers[0]["error"]["code"], "ERR_CARD_REMOVED",
        "{}",
        answers[0]
    );
    assert_eq!(
        card.lock().unwrap().verify_count(),
        1,
        "one VERIFY, never repeated"
    );
}

#[test]
fn a_cps3_read_contactless_is_named_and_never_sent_a_command() {
    let (mut service, card) = service_with(VirtualCard::cps3(Holder::Dupont).seen_contactless());
    let answers = exchange(
        &mut service,
        &[
            json!({"id": 1, "command": "status"}),
            json!({"id": 2, "command": "certificates"}),
            authenticate("00", "1234"),
        ],
    );
    let status_card = &answers[0]["result"]["readers"][0]["card"];
    assert_eq!(status_card["type"], "unknown", "backward compatible");
    assert_eq!(status_card["state"], "contactless");
    for answer in &answers[1..] {
        assert_eq!(answer["error"]["code"], "ERR_CARD_UNSUPPORTED", "{answer}");
        assert_eq!(answer["error"]["cardState"], "contactless", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("contact slot"), "{message}");
    }
    assert!(card.lock().unwrap().apdu_log().is_empty());

    // A contact card next to it is used, and its state is `ready`.
    let readers = VirtualReaders::with(vec![
        (
            "Reader A",
            Some(VirtualCard::cps3(Holder::Dupont).seen_contactless()),
        ),
        ("Reader B", Some(VirtualCard::cps3(Holder::Martin))),
    ]);
    let mut service = HostService::new(readers);
    let answers = exchange(
        &mut service,
        &[
            json!({"id": 1, "command": "status"}),
            json!({"id": 2, "command": "certificates"}),
        ],
    );
    assert_eq!(answers[0]["result"]["readers"][1]["card"]["state"], "ready");
    assert_eq!(
        answers[1]["result"]["certificates"][0]["holder"]["surname"],
        "MARTIN"
    );
}

#[test]
fn a_login_stays_within_the_apdu_budget() {
    let (mut service, card) = service_with(VirtualCard::cps3(Holder::Dupont));
    let id = certificate_id_of(&mut service);
    exchange(&mut service, &[authenticate(&id, "1234")]);
    let new_card = card.lock().unwrap().apdu_log().len();
    assert!(new_card <= 40, "login on a new card took {new_card} APDUs");

    card.lock().unwrap().clear_log();
    certificate_id_of(&mut service);
    exchange(&mut service, &[authenticate(&id, "1234")]);
    let known_card = card.lock().unwrap().apdu_log().len();
    assert!(
        known_card <= 14,
        "login on a known card took {known_card} APDUs"
    );
    assert!(known_card < new_card);
}

#[test]
fn wrong_pins_count_down_then_block_and_nothing_is_retried() {
    let (mut service, card) = service_with(VirtualCard::cps3(Holder::Dupont));
    let id = certificate_id_of(&mut service);
    for expected_left in [2, 1, 0] {
        let answers = exchange(&mut service, &[authenticate(&id, "9999")]);
        let error = &answers[0]["error"];
        if expected_left > 0 {
            assert_eq!(error["code"], "ERR_PIN_INCORRECT", "{error}");
            assert_eq!(error["retriesLeft"], expected_left);
        } else {
            // The third wrong PIN uses the last try: the card says 63C0 or 6983.
            let code = error["code"].as_str().unwrap();
            assert!(
                code == "ERR_PIN_INCORRECT" || code == "ERR_PIN_BLOCKED",
                "{error}"
            );
        }
        assert!(!error.to_string().contains("9999"));
    }
    assert_eq!(
        card.lock().unwrap().verify_count(),
        3,
        "one VERIFY per request"
    );
    let answers = exchange(&mut service, &[authenticate(&id, "1234")]);
    assert_eq!(answers[0]["error"]["code"], "ERR_PIN_BLOCKED");
    let answers = exchange(&mut service, &[json!({"id": 2, "command": "certificates"})]);
    assert_eq!(
        answers[0]["result"]["certificates"][0]["pin"]["retriesLeft"],
        0
    );
}

#[test]
fn input_errors_never_reach_the_card() {
    let (mut service, card) = service_with(VirtualCard::cps3(Holder::Dupont));
    let id = certificate_id_of(&mut service);
    card.lock().unwrap().clear_log();
    let args = |origin: &str, nonce: &str, certificate: &str, pin: Value| {
        json!({"id": 5, "command": "authenticate", "arguments": {
            "origin": origin, "challengeNonce": nonce, "certificateId": certificate, "pin": pin}})
    };
    let good_nonce = nonce();
    let cases = [
        (
            args(
                "http://demo.cpxconnect.org",
                &good_nonce,
                &id,
                json!("1234"),
            ),
            "ERR_ORIGIN_INVALID",
        ),
        (
            args(
                "https://demo.cpxconnect.org/",
                &good_nonce,
                &id,
                json!("1234"),
            ),
            "ERR_ORIGIN_INVALID",
        ),
        (
            args(
                "https://demo.cpxconnect.org",
                "c2hvcnQ=",
                &id,
                json!("1234"),
            ),
            "ERR_NONCE_INVALID",
        ),
        (
            args("https://demo.cpxconnect.org", &good_nonce, &id, json!(null)),
            "ERR_PIN_REQUIRED",
        ),
        (
            args("https://demo.cpxconnect.org", &good_nonce, &id, json!("")),
            "ERR_PIN_REQUIRED",
        ),
        (
            args(
                "https://demo.cpxconnect.org",
                &good_nonce,
                &id,
                json!("12a4"),
            ),
            "ERR_PIN_FORMAT",
        ),
        (
            args("https://demo.cpxconnect.org", &good_nonce, &id, json!(1234)),
            "ERR_INVALID_REQUEST",
        ),
    ];
    for (request, code) in cases {
        let answers = exchange(&mut service, std::slice::from_ref(&request));
        assert_eq!(answers[0]["error"]["code"], code, "{request}");
    }
    assert!(
        card.lock().unwrap().apdu_log().is_empty(),
        "no APDU for bad input"
    );

    // Checks that need the card's PIN object, or the card list, still send no VERIFY.
    for (request, code) in [
        (
            args(
                "https://demo.cpxconnect.org",
                &good_nonce,
                &id,
                json!("123"),
            ),
            "ERR_PIN_FORMAT",
        ),
        (
            args(
                "https://demo.cpxconnect.org",
                &good_nonce,
                &id,
                json!("123456789"),
            ),
            "ERR_PIN_FORMAT",
        ),
        (
            args(
                "https://demo.cpxconnect.org",
                &good_nonce,
                "00ff",
                json!("1234"),
            ),
            "ERR_CERTIFICATE_NOT_FOUND",
        ),
    ] {
        let answers = exchange(&mut service, std::slice::from_ref(&request));
        assert_eq!(answers[0]["error"]["code"], code, "{request}");
    }
    assert_eq!(card.lock().unwrap().verify_count(), 0);
}

#[test]
fn two_cards_each_sign_for_their_own_certificate() {
    let readers = VirtualReaders::with(vec![
        ("Reader A", Some(VirtualCard::cps3(Holder::Dupont))),
        (
            "Reader B",
            Some(VirtualCard::cps3(Holder::Martin).with_pin("5678")),
        ),
    ]);
    let martin = readers.card(1);
    let mut service = HostService::new(readers);
    let answers = exchange(&mut service, &[json!({"id": 1, "command": "certificates"})]);
    let certificates = answers[0]["result"]["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 2);
    let martin_entry = certificates
        .iter()
        .find(|c| c["holder"]["surname"] == "MARTIN")
        .unwrap();
    let id = martin_entry["certificateId"].as_str().unwrap();
    let answers = exchange(&mut service, &[authenticate(id, "5678")]);
    assert_login_token_verifies(&answers[0]["result"]);
    assert_eq!(martin.lock().unwrap().verify_count(), 1);
}

#[test]
fn no_reader_no_card_and_foreign_cards_have_their_codes() {
    let mut service = HostService::new(VirtualReaders::with(vec![]));
    let answers = exchange(&mut service, &[json!({"id": 1, "command": "certificates"})]);
    assert_eq!(answers[0]["error"]["code"], "ERR_NO_READER");

    let mut service = HostService::new(VirtualReaders::with(vec![("Empty", None)]));
    let answers = exchange(
        &mut service,
        &[
            json!({"id": 1, "command": "certificates"}),
            json!({"id": 2, "command": "status"}),
        ],
    );
    assert_eq!(answers[0]["error"]["code"], "ERR_NO_CARD");
    assert_eq!(
        answers[1]["result"],
        json!({"service": "ok", "readers": [{"name": "Empty", "card": null}]})
    );
}

#[test]
fn status_reports_the_atr_and_type() {
    assert_eq!(
        status_of(VirtualCard::cps3(Holder::Dupont)),
        json!({"atr": "3BAC00402A001225006480000310009000", "type": "CPS3", "state": "ready"})
    );
}

#[test]
fn a_known_card_is_not_read_again_by_a_new_process() {
    let dir = cache_directory("known");
    let readers = VirtualReaders::holding(VirtualCard::cps3(Holder::Dupont));
    let card = readers.card(0);

    let mut first = service_caching_in(&readers, &dir);
    let id = certificate_id_of(&mut first);
    exchange(&mut first, &[authenticate(&id, "1234")]);
    let new_card = card.lock().unwrap().apdu_log().len();

    // A browser restart: a new service with an empty memory but the same cache directory.
    card.lock().unwrap().clear_log();
    let mut second = service_caching_in(&readers, &dir);
    assert_eq!(certificate_id_of(&mut second), id);
    let answers = exchange(&mut second, &[authenticate(&id, "1234")]);
    assert_login_token_verifies(&answers[0]["result"]);
    let known_card = card.lock().unwrap().apdu_log().len();
    assert!(known_card <= 14, "known card took {known_card} APDUs");
    // The profile was not read again: the second login is the short one.
    assert!(
        new_card > known_card + 10,
        "new {new_card}, known {known_card}"
    );

    // Only public data is cached.
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1);
    let text = std::fs::read_to_string(entries[0].path()).unwrap();
    assert!(!text.contains("1234") && !text.to_lowercase().contains("pin\":\""));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_stale_cached_certificate_is_replaced_when_the_signature_disagrees() {
    let dir = cache_directory("stale");
    let readers = VirtualReaders::holding(VirtualCard::cps3(Holder::Dupont));
    let mut first = service_caching_in(&readers, &dir);
    certificate_id_of(&mut first);

    // Put another holder's certificate in the cache entry of this card.
    let entry_path = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&entry_path).unwrap()).unwrap();
    let foreign = VirtualCard::cps3(Holder::Martin)
        .auth_certificate_der()
        .to_vec();
    entry["profile"]["certificate_der"] = json!(foreign);
    std::fs::write(&entry_path, serde_json::to_vec(&entry).unwrap()).unwrap();

    let mut second = service_caching_in(&readers, &dir);
    let stale_id = certificate_id_of(&mut second);
    let answers = exchange(&mut second, &[authenticate(&stale_id, "1234")]);
    let token = &answers[0]["result"];
    assert_login_token_verifies(token);
    let card = readers.card(0);
    let real = card.lock().unwrap().auth_certificate_der().to_vec();
    assert_eq!(token["unverifiedCertificate"], BASE64.encode(&real));
    assert_eq!(card.lock().unwrap().verify_count(), 1, "no second VERIFY");
    // The cache now holds the card's real certificate.
    let mut third = service_caching_in(
        &VirtualReaders::holding(VirtualCard::cps3(Holder::Dupont)),
        &dir,
    );
    let answers = exchange(&mut third, &[json!({"id": 1, "command": "certificates"})]);
    assert_eq!(
        answers[0]["result"]["certificates"][0]["certificate"],
        BASE64.encode(&real)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Another program left another applet selected (issue 22, item 3): the card answers `6E 00`
/// or `6A 86` until the IAS root is selected. The host selects it once, as the Cryptolib does
/// (v5.2 `apdu.c`:458-481, 515-527), sends the command again, and logs in; the PIN goes once.
#[test]
fn a_card_left_on_another_applet_gets_the_ias_root_selected_once_and_logs_in() {
    let select_root: Vec<u8> = [
        &[0x00, 0xA4, 0x04, 0x04, 0x08][..],
        &[0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00],
    ]
    .concat();
    for refusal in [0x6E00, 0x6A86] {
        let card = VirtualCard::cps3(Holder::Dupont).with_another_applet_selected(refusal);
        let (mut service, card) = service_with(card);
        let id = certificate_id_of(&mut service);
        let answers = exchange(&mut service, &[authenticate(&id, "1234")]);
        assert_login_token_verifies(&answers[0]["result"]);
        let card = card.lock().unwrap();
        let log = card.apdu_log();
        assert_eq!(
            log.iter().filter(|apdu| **apdu == select_root).count(),
            1,
            "{refusal:04X}: {:?}",
            log_hex_of(log)
        );
        // The first command was refused, then sent again right after the root.
        assert_eq!(log[1], select_root);
        assert_eq!(log[2], log[0]);
        assert!(!card.another_applet_selected());
        assert_eq!(card.verify_count(), 1);
    }
}

fn log_hex_of(log: &[Vec<u8>]) -> Vec<String> {
    log.iter()
        .map(|apdu| apdu.iter().map(|b| format!("{b:02X}")).collect())
        .collect()
}

/// Every switch of the virtual CPS3 (issue 22): each answer to a read past the end of a file,
/// each EF.DIR layout, another applet left selected; all strict T=0 (a command with data and
/// Le is refused `67 00`). The host logs in under each, and never sends data and Le together.
#[test]
fn a_cps3_logs_in_under_every_variant_of_the_virtual_card() {
    use cpx_virtual_card::EndOfFileAnswer;
    type Variant = fn(VirtualCard) -> VirtualCard;
    let layouts: [(&str, Variant); 4] = [
        ("EF.DIR without path", |card| card),
        ("EF.DIR with path", |card| card.with_ef_dir_path()),
        ("relative layout", |card| card.with_relative_layout()),
        ("no EF.DIR", |card| card.without_ef_dir()),
    ];
    for end_of_file in [
        EndOfFileAnswer::WrongLe,
        EndOfFileAnswer::EndOfFileWarning,
        EndOfFileAnswer::WrongOffset,
        EndOfFileAnswer::WrongLength,
    ] {
        for (layout, with_layout) in layouts {
            for other_applet in [None, Some(0x6E00), Some(0x6A86)] {
                let variant =
                    format!("{end_of_file:?}, {layout}, other applet {other_applet:04X?}");
                let mut card = with_layout(VirtualCard::cps3(Holder::Martin))
                    .with_end_of_file_answer(end_of_file);
                if let Some(refusal) = other_applet {
                    card = card.with_another_applet_selected(refusal);
                }
                let (mut service, card) = service_with(card);
                let id = certificate_id_of(&mut service);
                let answers = exchange(&mut service, &[authenticate(&id, "1234")]);
                assert!(answers[0]["result"].is_object(), "{variant}: {answers:?}");
                assert_login_token_verifies(&answers[0]["result"]);
                let card = card.lock().unwrap();
                assert!(
                    card.apdu_log()
                        .iter()
                        .all(|apdu| apdu.len() <= 5 || apdu.len() == 5 + usize::from(apdu[4])),
                    "{variant}: {:?}",
                    log_hex_of(card.apdu_log())
                );
                assert_eq!(card.verify_count(), 1, "{variant}");
            }
        }
    }
}
