//! The card through the real PC/SC stack: pcscd with the vpcd driver, read by OpenSC's tools.
//!
//! Needs pcscd running with `vsmartcard-vpcd` (vpcd slots on 127.0.0.1:35963 and 35964) and
//! the `opensc` package. Every test holds the machine-wide pcscd lock while it uses a slot.

use std::process::Command;
use std::time::{Duration, Instant};

use cpx_virtual_card::{pcscd_test_lock, shared, vpcd, Holder, SharedCard, VirtualCard};
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;

/// OpenSC's reader index of the first vpcd slot ("Virtual PCD 00 00", port 35963).
const FIRST_SLOT_READER: &str = "0";
const SECOND_SLOT_READER: &str = "1";

/// Runs an OpenSC tool. pcscd is shared with the rest of the machine (other processes may
/// reset or hold a reader for a moment), so a tool that could not even connect to the card is
/// run again, at most three times; any other failure is returned as is.
fn run(program: &str, arguments: &[&str]) -> (bool, String) {
    let mut attempt = 1;
    loop {
        let (ok, text) = run_once(program, arguments);
        if ok || !text.contains("Failed to connect to card") || attempt == 3 {
            return (ok, text);
        }
        eprintln!("{program} could not connect (attempt {attempt}): {text}");
        attempt += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn run_once(program: &str, arguments: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program} (package opensc): {error}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Waits until pcscd reports a card with `atr` in reader `reader`.
fn wait_for_card(reader: &str, atr: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (ok, text) = run("opensc-tool", &["--reader", reader, "--atr"]);
        if ok && text.contains(atr) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pcscd never showed the card in reader {reader}: {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Pulls the card out and waits until pcscd has seen the reader empty: a card put back
/// before pcscd's next poll (every 400 ms) would otherwise look like the old card, reset.
fn remove(inserted: vpcd::InsertedCard, reader: &str) {
    inserted.remove();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (ok, text) = run("opensc-tool", &["--reader", reader, "--atr"]);
        if !ok || !text.contains(ATR) {
            return;
        }
        assert!(Instant::now() < deadline, "card still present: {text}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn insert(card: &SharedCard, port: u16) -> vpcd::InsertedCard {
    vpcd::insert(card.clone(), port)
        .unwrap_or_else(|error| panic!("cannot insert the card into vpcd on port {port}: {error}"))
}

const ATR: &str = "3b:ac:00:40:2a:00:12:25:00:64:80:00:03:10:00:90:00";

/// The pcscd lock, and Dupont's card in vpcd's first slot once pcscd reports it.
fn dupont_in_the_first_slot() -> (std::fs::File, SharedCard, vpcd::InsertedCard) {
    let lock = pcscd_test_lock().expect("pcscd test lock");
    let card = shared(VirtualCard::cps3(Holder::Dupont));
    let inserted = insert(&card, vpcd::FIRST_SLOT_PORT);
    wait_for_card(FIRST_SLOT_READER, ATR);
    (lock, card, inserted)
}

#[test]
fn pcscd_sees_the_card_and_opensc_reads_its_serial() {
    let (_lock, card, inserted) = dupont_in_the_first_slot();

    let (ok, text) = run(
        "opensc-tool",
        &[
            "--reader",
            FIRST_SLOT_READER,
            "-s",
            "00:A4:09:04:04:3F:00:D0:03:00",
            "-s",
            "00:B0:00:00:0C",
        ],
    );
    assert!(ok, "{text}");
    let serial = card.lock().unwrap().icc_serial();
    let expected = serial
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(" ");
    // OpenSC fetches the FCP itself when the card answers 61 27.
    assert!(
        text.contains("62 25 80 02 00 0C 82 01 01 83 02 D0 03"),
        "{text}"
    );
    assert!(
        text.contains(&format!("5A 0A 80 25 00 00 01 {expected}")),
        "{text}"
    );
    let log = card.lock().unwrap().apdu_log().to_vec();
    assert!(
        log.contains(&vec![0x00, 0xC0, 0x00, 0x00, 0x27]),
        "GET RESPONSE was needed"
    );

    // OpenSC's IAS-ECC driver recognises it as a CPx card.
    let (ok, text) = run("opensc-tool", &["--reader", FIRST_SLOT_READER, "--name"]);
    assert!(ok && text.contains("IAS-ECC"), "{text}");
    remove(inserted, FIRST_SLOT_READER);
}

#[test]
fn pkcs15_tool_lists_the_certificates_keys_and_pin() {
    let (_lock, card, inserted) = dupont_in_the_first_slot();

    let (ok, text) = run(
        "pkcs15-tool",
        &["--reader", FIRST_SLOT_READER, "--list-certificates"],
    );
    assert!(ok, "{text}");
    for expected in [
        "X.509 Certificate [Certificat d'Authentification CPS]",
        "X.509 Certificate [Certificat de Signature CPS]",
        // EF.DIR gives no path, so OpenSC names the application by its AID: the
        // `e828bd080f8025000001ff0010::` form of the real CPS3 in OpenSC issue #2267.
        "Path           : e828bd080f8025000001ff0010::3f0000016f41",
        "Path           : e828bd080f8025000001ff0010::3f0000016f42",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let (ok, text) = run("pkcs15-tool", &["--reader", FIRST_SLOT_READER, "--dump"]);
    assert!(ok, "{text}");
    for expected in [
        "PIN [Code Porteur]",
        "Flags          : [0x30], initialized, needs-padding",
        "Length         : min_len:4, max_len:8, stored_len:8",
        "Private RSA Key [CPS_PRIV_AUT]",
        "Key ref        : 130 (0x82)",
        "Private RSA Key [CPS_PRIV_SIG]",
        "Key ref        : 129 (0x81)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(
        card.lock().unwrap().verify_count(),
        0,
        "listing needs no PIN"
    );
    remove(inserted, FIRST_SLOT_READER);
}

#[test]
fn opensc_verifies_the_pin_and_signs_with_internal_authenticate() {
    use sha2::Digest;
    let (_lock, card, inserted) = dupont_in_the_first_slot();

    let directory = std::env::temp_dir().join(format!("cpx-vcard-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend_from_slice(&sha2::Sha256::digest(b"challenge"));
    let input = directory.join("digest-info.bin");
    let output = directory.join("signature.bin");
    std::fs::write(&input, &digest_info).unwrap();

    // Raw RSA PKCS#1 (no hash): OpenSC's IAS-ECC driver uses MSE AT + INTERNAL AUTHENTICATE.
    let (ok, text) = run(
        "pkcs15-crypt",
        &[
            "--reader",
            FIRST_SLOT_READER,
            "--sign",
            "--key",
            "11",
            "--pkcs1",
            "--pin",
            "1234",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let signature = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_dir_all(&directory);

    let card = card.lock().unwrap();
    let certificate =
        <x509_cert::Certificate as der::Decode>::from_der(card.auth_certificate_der()).unwrap();
    let spki = der::Encode::to_der(&certificate.tbs_certificate.subject_public_key_info).unwrap();
    let key = RsaPublicKey::from_public_key_der(&spki).unwrap();
    key.verify(Pkcs1v15Sign::new_unprefixed(), &digest_info, &signature)
        .expect("OpenSC's signature verifies with the authentication certificate");
    assert_eq!(card.verify_count(), 1, "one VERIFY for one signature");
    let log = card.apdu_log();
    assert!(log
        .iter()
        .any(|apdu| apdu.starts_with(&[0x00, 0x88, 0x00, 0x00])));
    assert!(log
        .iter()
        .any(|apdu| apdu.starts_with(&[0x00, 0x22, 0x41, 0xA4])));
    drop(card);
    remove(inserted, FIRST_SLOT_READER);
}

#[test]
fn two_cards_in_the_two_slots() {
    let _lock = pcscd_test_lock().expect("pcscd test lock");
    let dupont = shared(VirtualCard::cps3(Holder::Dupont));
    let martin = shared(VirtualCard::cps3(Holder::Martin));
    let first = insert(&dupont, vpcd::FIRST_SLOT_PORT);
    let second = insert(&martin, vpcd::SECOND_SLOT_PORT);
    wait_for_card(FIRST_SLOT_READER, ATR);
    wait_for_card(SECOND_SLOT_READER, ATR);

    let (ok, text) = run(
        "pkcs15-tool",
        &["--reader", SECOND_SLOT_READER, "--list-info"],
    );
    assert!(ok, "{text}");
    let serial: String = martin
        .lock()
        .unwrap()
        .icc_serial()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    assert!(text.contains(&format!("8025000001{serial}")), "{text}");
    assert!(
        !martin.lock().unwrap().apdu_log().is_empty(),
        "the second reader reached the second card"
    );

    // Pulling a card out empties its reader (checked inside `remove`).
    remove(second, SECOND_SLOT_READER);
    remove(first, FIRST_SLOT_READER);
}
