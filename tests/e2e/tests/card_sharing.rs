//! The card is shared: in a doctor's office the billing software (SESAM-Vitale, through the
//! Cryptolib) keeps its own PC/SC session with a verified PIN while logins happen. A second
//! PC/SC client in this test plays that program, with the real `cpx-connect` and pcscd
//! (host/PROTOCOL.md, "The card between requests").

use std::ffi::CString;

use cpx_e2e::{authenticate_request, first_certificate, nonce, Bench, Host, SLOT_READERS};
use cpx_virtual_card::{Holder, VirtualCard};

const ORIGIN: &str = "https://demo.cpxconnect.org";
/// VERIFY without data: `90 00` when the PIN is verified, `63 Cx` when not; spends nothing.
const PIN_STATE: [u8; 4] = [0x00, 0x20, 0x00, 0x01];
const VERIFY_1234: [u8; 13] = [
    0x00, 0x20, 0x00, 0x01, 0x08, 0x31, 0x32, 0x33, 0x34, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// The other program: a shared PC/SC connection it keeps open.
struct OtherProgram {
    card: pcsc::Card,
    _context: pcsc::Context,
}

impl OtherProgram {
    fn connect() -> OtherProgram {
        let context = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
        let reader = CString::new(SLOT_READERS[0]).expect("reader name");
        let card = context
            .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .expect("the other program connects");
        OtherProgram {
            card,
            _context: context,
        }
    }

    fn send(&self, apdu: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
        let mut buffer = [0u8; 258];
        self.card
            .transmit(apdu, &mut buffer)
            .map(|answer| answer.to_vec())
    }
}

fn log_in(host: &mut Host) {
    let certificate = first_certificate(host);
    let id = certificate["certificateId"]
        .as_str()
        .expect("a certificate");
    let answer = host.request(&authenticate_request(id, ORIGIN, &nonce(3), "1234"));
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
}

#[test]
fn another_programs_verified_session_survives_a_login() {
    let bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let other = OtherProgram::connect();
    assert_eq!(other.send(&VERIFY_1234).expect("VERIFY"), [0x90, 0x00]);

    let mut host = Host::spawn();
    log_in(&mut host);
    assert!(host.finish().success());

    // Its handle was not reset, and the card still holds its verified PIN.
    assert_eq!(
        other
            .send(&PIN_STATE)
            .expect("the other program's handle still works"),
        [0x90, 0x00]
    );
    assert!(bench.card.lock().expect("card").pin_verified());
}

#[test]
fn a_pin_the_login_verified_does_not_outlive_it() {
    let bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let other = OtherProgram::connect();
    assert_eq!(other.send(&PIN_STATE).expect("PIN state"), [0x63, 0xC3]);

    let mut host = Host::spawn();
    log_in(&mut host);
    assert!(host.finish().success());

    // The host reset the card: the other program is told so, and the PIN is not verified.
    assert_eq!(other.send(&PIN_STATE), Err(pcsc::Error::ResetCard));
    assert!(!bench.card.lock().expect("card").pin_verified());
}
