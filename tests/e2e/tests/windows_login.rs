//! A whole card login through the Windows build: `cpx-connect.exe` under Wine, whose PC/SC is
//! the test-only winscard.dll of tests/windows/winscard-vpcd.c, one reader whose card is the
//! virtual CPS3 (T=0), then a CPS4 (T=1), speaking vpcd's protocol over TCP. Ignored in the
//! workspace run: it needs the exe, Wine and that DLL, which tests/windows/run.sh sets up before
//! running it with `--ignored` (CPX_CONNECT_BIN pointing at tests/windows/wine-host.sh,
//! CPX_VPCD_PORT set).

use std::time::{Duration, Instant};

use cpx_e2e::{assert_both_verifiers_accept_a_login, auth_certificate_base64, nonce, Host};
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
    // The DLL negotiates the protocol from the ATR: the CPS3 runs under T=0, where no command
    // may carry data and Le together (the strict virtual card refuses it 67 00), the
    // production CPS4 under T=1. One host process after the other, on the same port.
    log_in_through_the_exe(port, VirtualCard::cps3(Holder::Dupont), "CPS3");
    log_in_through_the_exe(port, VirtualCard::cps4(Holder::Dupont), "CPS4");
}

fn log_in_through_the_exe(port: u16, card: VirtualCard, card_type: &str) {
    let card = shared(card);
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
    assert_eq!(certificate["cardType"], card_type);
    assert_eq!(certificate["holder"]["idNat"], "810001234567");
    assert_eq!(certificate["certificate"], auth_certificate_base64(&card));

    let (_, identity) =
        assert_both_verifiers_accept_a_login(&mut host, certificate, ORIGIN, &nonce(9), "1234");
    assert_eq!(identity.id_nat, "810001234567");
    assert_eq!(card.lock().unwrap().verify_count(), 1);
    if card_type == "CPS3" {
        let card = card.lock().unwrap();
        assert!(
            cpx_e2e::no_command_carries_data_and_le(card.apdu_log()),
            "under T=0 no command carries data and Le"
        );
    }
    assert!(host.finish().success());
    inserted.remove();
}
