//! The card is shared: in a doctor's office the billing software (SESAM-Vitale, through the
//! Cryptolib) keeps its own PC/SC session with a verified PIN while logins happen. A second
//! PC/SC client in this test plays that program, with the real `cpx-connect` and pcscd
//! (host/PROTOCOL.md, "The card between requests").

use std::ffi::CString;

use cpx_e2e::{authenticate_request, first_certificate_id, nonce, Bench, Host, SLOT_READERS};
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

/// Dupont's card, shared by the other program (which first sends `first_command` and gets
/// `first_answer`) and one login by a host process of its own, which then exits cleanly, as a
/// browser's does. Returns what the test checks afterwards: the bench and the other program.
fn a_login_beside_another_program(
    first_command: &[u8],
    first_answer: [u8; 2],
) -> (Bench, OtherProgram) {
    let bench = Bench::with_card(VirtualCard::cps3(Holder::Dupont));
    let other = OtherProgram::connect();
    assert_eq!(
        other
            .send(first_command)
            .expect("the other program's command"),
        first_answer
    );

    let mut host = Host::spawn();
    let id = first_certificate_id(&mut host);
    let answer = host.request(&authenticate_request(&id, ORIGIN, &nonce(3), "1234"));
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    assert!(host.finish().success());
    (bench, other)
}

#[test]
fn another_programs_verified_session_survives_a_login() {
    let (bench, other) = a_login_beside_another_program(&VERIFY_1234, [0x90, 0x00]);

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
    // Not verified yet: 63 C3, three tries left.
    let (bench, other) = a_login_beside_another_program(&PIN_STATE, [0x63, 0xC3]);

    // The host reset the card: the other program is told so, and the PIN is not verified.
    assert_eq!(other.send(&PIN_STATE), Err(pcsc::Error::ResetCard));
    assert!(!bench.card.lock().expect("card").pin_verified());
}
