//! A whole card login through the Windows build: `cpx-connect.exe` under Wine, whose PC/SC is
//! the test-only winscard.dll of tests/windows/winscard-vpcd.c, one reader whose card is the
//! virtual CPS3 speaking vpcd's protocol over TCP. Ignored in the workspace run: it needs the
//! exe, Wine and that DLL, which tests/windows/run.sh sets up before running it with
//! `--ignored` (CPX_CONNECT_BIN pointing at tests/windows/wine-host.sh, CPX_VPCD_PORT set).

use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_e2e::{authenticate_request, nonce, Host};
use cpx_virtual_card::{shared, vpcd, Holder, VirtualCard};
use serde_json::json;

const ORIGIN: &str = "https://demo.cpxconnect.org";
/// The reader the test winscard.dll offers.
const READER: &str = "CPx Virtual Reader 0";

#[test]
#[ignore = "needs cpx-connect.exe under Wine with the test winscard.dll: tests/windows/run.sh runs it"]
fn a_card_login_through_the_windows_exe() {
    let port: u16 = std::env::var("CPX_VPCD_PORT")
        .expect("CPX_VPCD_PORT: the port the test winscard.dll listens on")
        .parse()
        .expect("CPX_VPCD_PORT is a port number");
    let card = shared(VirtualCard::cps3(Holder::Dupont));
    let mut host = Host::spawn();
    host.send(&json!({"id": "certs", "command": "certificates"}));
    // The DLL starts listening when the host first asks for a PC/SC context: insert the card
    // as soon as it does, as a reader's card is already there when an application starts.
    let started = Instant::now();
    let inserted = loop {
        match vpcd::insert(card.clone(), port) {
            Ok(inserted) => break inserted,
            Err(error) if started.elapsed() < Duration::from_secs(30) => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("the test winscard.dll never listened on {port}: {error}"),
        }
    };

    let answer = host.answer();
    let certificate = &answer["result"]["certificates"][0];
    assert_eq!(certificate["reader"], READER, "{answer}");
    assert_eq!(certificate["cardType"], "CPS3");
    assert_eq!(certificate["holder"]["idNat"], "810001234567");
    let expected_der = card.lock().unwrap().auth_certificate_der().to_vec();
    assert_eq!(certificate["certificate"], BASE64.encode(&expected_der));

    let challenge = nonce(9);
    let answer = host.request(&authenticate_request(
        certificate["certificateId"].as_str().unwrap(),
        ORIGIN,
        &challenge,
        "1234",
    ));
    let token = &answer["result"];
    assert_eq!(token["format"], "web-eid:1.0", "{answer}");
    cpx_e2e::assert_signature_verifies(token, ORIGIN, &challenge);
    let identity = cpx_e2e::test_ca_validator(ORIGIN)
        .validate(
            &serde_json::to_vec(token).unwrap(),
            &challenge,
            SystemTime::now(),
        )
        .expect("cpx-verify accepts the Windows host's token");
    assert_eq!(identity.id_nat, "810001234567");
    assert_eq!(card.lock().unwrap().verify_count(), 1);
    assert!(host.finish().success());
    inserted.remove();
}
