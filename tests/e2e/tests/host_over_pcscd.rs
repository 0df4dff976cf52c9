//! The real `cpx-connect` binary, the real pcscd, and the virtual card in vpcd.

use std::time::{Duration, SystemTime};

use cpx_e2e::{
    assert_both_verifiers_accept_a_login, assert_logs_in, auth_certificate_base64,
    authenticate_request, first_certificate, first_certificate_id, listed_reader, nonce, pcscd,
    Bench, Host, SLOT_READERS,
};
use cpx_virtual_card::{pcscd_test_lock, Holder, VirtualCard};
use serde_json::{json, Value};

const ORIGIN: &str = "https://demo.cpxconnect.org";

#[test]
fn version_needs_no_card_and_browser_arguments_are_ignored() {
    for arguments in [
        vec![
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
            "--parent-window=1234",
        ],
        vec![
            "/home/u/.mozilla/native-messaging-hosts/org.cpxconnect.host.json",
            "cpx-connect@cpxconnect.org",
        ],
        vec![],
    ] {
        let mut host = Host::spawn_with(&arguments);
        let answer = host.command("version");
        assert_eq!(answer["id"], "version");
        assert_eq!(answer["result"]["protocol"], 1);
        assert_eq!(answer["result"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(host.finish().success(), "exit 0 at the end of stdin");
    }
}

#[test]
fn status_shows_the_reader_and_the_cps3() {
    let _bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let mut host = Host::spawn();
    let answer = host.command("status");
    assert_eq!(answer["result"]["service"], "ok");
    let reader = listed_reader(&answer, SLOT_READERS[0]);
    assert_eq!(reader["card"]["type"], "CPS3");
    assert_eq!(reader["card"]["atr"], "3BAC00402A001225006480000310009000");
}

#[test]
fn a_full_login_through_pcscd_gives_a_token_both_verifiers_accept() {
    let bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let mut host = Host::spawn();
    let certificate = first_certificate(&mut host);
    assert_eq!(certificate["holder"]["idNat"], "810001234567");
    assert_eq!(certificate["reader"], SLOT_READERS[0]);
    assert_eq!(
        certificate["certificate"],
        auth_certificate_base64(&bench.card)
    );

    // Checked as a relying party would, and by one with cpx-verify, trusting only the test CA.
    let challenge = nonce(7);
    let (token, identity) =
        assert_both_verifiers_accept_a_login(&mut host, &certificate, ORIGIN, &challenge, "1234");
    assert_eq!(identity.id_nat, "810001234567");
    assert_eq!(identity.surname, "DUPONT");
    let other_origin = cpx_e2e::test_ca_validator("https://evil.example").validate(
        &serde_json::to_vec(&token).unwrap(),
        &challenge,
        SystemTime::now(),
    );
    assert!(other_origin.is_err());
    assert_eq!(bench.card.lock().unwrap().verify_count(), 1);
    assert!(host.finish().success());
}

#[test]
fn a_wrong_pin_counts_down_and_the_pin_never_reaches_the_log() {
    let bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let host = cpx_e2e::assert_a_wrong_pin_counts_down(&bench, ORIGIN, "8642", "1234");

    let log = host.log_text();
    assert!(log.contains("authenticate"), "trace log was written: {log}");
    // The PINs as the request carried them, and as the card received them (ASCII, FF padding).
    let pins = ["8642", "1234"];
    cpx_e2e::assert_the_log_redacts_the_pins(
        &log,
        "00 20 00 01",
        &pins,
        &["38 36 34 32", "31 32 33 34"],
    );
}

#[test]
fn three_wrong_pins_block_the_card_and_no_verify_follows() {
    let bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    cpx_e2e::assert_three_wrong_pins_block_the_card(&bench, ORIGIN);
}

#[test]
fn no_card_and_card_removal_are_reported_and_reinsertion_recovers() {
    let mut bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let mut host = Host::spawn();
    let id = first_certificate_id(&mut host);
    bench.remove_card();
    assert_eq!(host.command("certificates")["error"]["code"], "ERR_NO_CARD");
    let answer = host.request(&authenticate_request(&id, ORIGIN, &nonce(9), "1234"));
    assert_eq!(answer["error"]["code"], "ERR_NO_CARD");
    let reader = listed_reader(&host.command("status"), SLOT_READERS[0]);
    assert!(reader["card"].is_null());

    bench.insert_card();
    let answer = host.request(&authenticate_request(&id, ORIGIN, &nonce(9), "1234"));
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    assert_eq!(bench.card.lock().unwrap().verify_count(), 1);
}

#[test]
fn pcscd_stopped_is_reported_and_the_host_recovers_when_it_returns() {
    let _lock = pcscd_test_lock().expect("pcscd test lock");
    pcscd::ensure_running();
    let restore = pcscd::RestoreOnDrop;
    let mut host = Host::spawn();
    assert_eq!(host.command("status")["result"]["service"], "ok");
    pcscd::stop();
    let status = host.command("status");
    assert_eq!(
        status["result"],
        json!({"service": "unavailable", "readers": []})
    );
    assert_eq!(
        host.command("certificates")["error"]["code"],
        "ERR_PCSC_UNAVAILABLE"
    );
    let answer = host.request(&authenticate_request("00", ORIGIN, &nonce(5), "1234"));
    assert_eq!(answer["error"]["code"], "ERR_PCSC_UNAVAILABLE");

    pcscd::ensure_running();
    // The same host process reconnects once the service is back.
    assert_eq!(host.command("status")["result"]["service"], "ok");
    drop(restore);
}

#[test]
fn a_machine_without_readers_is_reported() {
    let _lock = pcscd_test_lock().expect("pcscd test lock");
    let _restore = pcscd::RestoreOnDrop;
    pcscd::stop();
    let empty = tempfile::NamedTempFile::new().unwrap();
    pcscd::start(&["--config", empty.path().to_str().unwrap()]);
    let mut host = Host::spawn();
    cpx_e2e::wait_until("pcscd answering", || {
        host.command("status")["result"]["service"] == "ok"
    });
    assert_eq!(host.command("status")["result"]["readers"], json!([]));
    assert_eq!(
        host.command("certificates")["error"]["code"],
        "ERR_NO_READER"
    );
}

#[test]
fn a_broken_stream_is_answered_then_the_host_exits() {
    // Oversize length: answered with id null, then exit without reading the body.
    let mut host = Host::spawn();
    host.send_raw(&(2u32 * 1024 * 1024).to_ne_bytes());
    let answer = host.answer();
    assert_eq!(answer["id"], Value::Null);
    assert_eq!(answer["error"]["code"], "ERR_INVALID_REQUEST");
    assert_eq!(host.wait().code(), Some(1));

    // Truncated body: the same.
    let mut host = Host::spawn();
    let mut frame = 40u32.to_ne_bytes().to_vec();
    frame.extend(b"{\"id\":1");
    host.send_raw(&frame);
    let finished = host.stderr_text();
    assert!(!finished.contains("panicked"), "{finished}");
}

#[test]
fn quit_answers_then_exits_cleanly() {
    let mut host = Host::spawn();
    assert_eq!(host.command("quit")["result"], json!({}));
    assert!(host.wait().success());
    std::thread::sleep(Duration::from_millis(10));
}

/// The strict CPS3 (a command carrying data and Le is refused `67 00`, as a T=0 reader refuses
/// it) under each of its switches, through pcscd over T=0: another applet left selected (the
/// host selects the IAS root once and goes on), and each answer to a read past a file's end.
#[test]
fn the_strict_cps3_logs_in_through_pcscd_under_each_of_its_switches() {
    use cpx_virtual_card::EndOfFileAnswer;
    type MakeCard = fn() -> VirtualCard;
    let variants: [(&str, MakeCard); 5] = [
        ("other applet 6E00", || {
            VirtualCard::cps3(Holder::Dupont).with_another_applet_selected(0x6E00)
        }),
        ("other applet 6A86", || {
            VirtualCard::cps3(Holder::Dupont).with_another_applet_selected(0x6A86)
        }),
        ("end of file 62 82", || {
            VirtualCard::cps3(Holder::Dupont)
                .with_end_of_file_answer(EndOfFileAnswer::EndOfFileWarning)
        }),
        ("end of file 6B 00", || {
            VirtualCard::cps3(Holder::Dupont).with_end_of_file_answer(EndOfFileAnswer::WrongOffset)
        }),
        ("end of file 67 00", || {
            VirtualCard::cps3(Holder::Dupont).with_end_of_file_answer(EndOfFileAnswer::WrongLength)
        }),
    ];
    for (variant, card) in variants {
        let bench = Bench::with_card(card());
        let mut host = Host::spawn();
        let certificate = first_certificate(&mut host);
        assert_eq!(certificate["cardType"], "CPS3", "{variant}");
        let id = certificate["certificateId"].as_str().unwrap();
        eprintln!("{variant}: logging in");
        assert_logs_in(&mut host, id, ORIGIN, &nonce(41), "1234");
        let card = bench.card.lock().unwrap();
        assert!(
            cpx_e2e::no_command_carries_data_and_le(card.apdu_log()),
            "{variant}: no command carries data and Le under T=0"
        );
        assert!(!card.another_applet_selected(), "{variant}");
        assert_eq!(card.verify_count(), 1, "{variant}");
        drop(card);
        assert!(host.finish().success());
    }
}
