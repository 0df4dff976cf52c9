//! Target (d): the CPS3 driver against a card whose every answer comes from the fuzz input.
//!
//! The driver runs what the host asks of a card, in the host's order: `icc_serial`, `read_profile`,
//! `pin_status`, then `sign_login_digest` with PIN 1234. Each step runs even when the one before
//! failed (with a known-good serial or profile), so that the input reaches every step. Each must
//! return, without panicking, and the commands it sends must respect the card invariants: no
//! VERIFY outside a login, the PIN sent once, and only the login digest ever signed.

use cpx_connect::card::pin::PinEncoding;
use cpx_connect::card::pkcs15::CPS3_CONTACT_AID;
use cpx_connect::card::{
    self, CardError, CardProfile, CardType, IccSerial, Pin, PinPolicy, SHA256_DIGEST_INFO_PREFIX,
};

use crate::card_script::{Exchange, ScriptedCard, INS_VERIFY};

pub const LOGIN_PIN: &str = "1234";
pub const LOGIN_DIGEST: [u8; 32] = [0x5A; 32];

const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;
const INS_GET_RESPONSE: u8 = 0xC0;
/// SELECT, READ BINARY, GET RESPONSE, GET DATA: all that reading a card needs.
const READ_ONLY_INSTRUCTIONS: [u8; 5] = [0xA4, 0xB0, 0xC0, 0xCA, 0xCB];

/// The serial and profile of a CPS3 as CARD.md describes it, for steps whose predecessor failed.
pub fn known_serial() -> IccSerial {
    IccSerial(vec![
        0x80, 0x25, 0x00, 0x00, 0x01, 0x99, 0x21, 0x38, 0x45, 0x0F,
    ])
}

pub fn known_profile() -> CardProfile {
    CardProfile {
        card_type: CardType::Cps3,
        icc_serial: known_serial(),
        application_aid: CPS3_CONTACT_AID.to_vec(),
        key_reference: 0x82,
        pin: PinPolicy::new(
            1,
            PinEncoding::AsciiNumeric,
            4,
            Some(8),
            8,
            true,
            Some(0xFF),
        )
        .expect("the CPS PIN policy is valid"),
        certificate_der: Vec::new(),
    }
}

/// What each step returned, for the replay tests.
#[derive(Debug)]
pub struct Outcome {
    pub serial: Result<IccSerial, CardError>,
    pub profile: Result<CardProfile, CardError>,
    pub pin_status: Result<card::PinStatus, CardError>,
    pub signature: Result<Vec<u8>, CardError>,
}

pub fn run(data: &[u8]) -> Outcome {
    let mut card = ScriptedCard::new(data);

    let serial = step(&mut card, |driver| driver.icc_serial());
    assert_read_only(&mut card);
    if let Ok(serial) = &serial {
        assert_eq!(serial.0.len(), 10);
        assert!(serial.0.starts_with(&[0x80, 0x25, 0x00, 0x00, 0x01]));
    }

    let given_serial = serial.clone().unwrap_or_else(|_| known_serial());
    let profile = step(&mut card, |driver| driver.read_profile(&given_serial));
    assert_read_only(&mut card);
    if let Ok(profile) = &profile {
        assert_eq!(profile.card_type, CardType::Cps3);
        assert_eq!(profile.icc_serial, given_serial);
    }

    let profile_used = profile.clone().unwrap_or_else(|_| known_profile());
    let pin_status = step(&mut card, |driver| driver.pin_status(&profile_used));
    assert_read_only(&mut card);

    let signature = step(&mut card, |driver| {
        driver.sign_login_digest(&profile_used, &Pin::new(LOGIN_PIN), &LOGIN_DIGEST)
    });
    let login = std::mem::take(&mut card.exchanges);
    check_login(&profile_used, &login, &signature);

    Outcome {
        serial,
        profile,
        pin_status,
        signature,
    }
}

/// Runs one driver operation on a fresh driver over the card (the driver keeps no state of its own
/// beyond a command counter, which is checked here).
fn step<T>(
    card: &mut ScriptedCard,
    operation: impl FnOnce(&mut dyn card::CpxCard) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let before = card.exchanges.len();
    let (result, counted) = {
        let mut driver = card::driver(CardType::Cps3, card).expect("CPS3 has a driver");
        let result = operation(driver.as_mut());
        (result, driver.apdus_sent())
    };
    assert_eq!(
        counted,
        card.exchanges.len() - before,
        "apdus_sent miscounts"
    );
    result
}

/// Reading a card (serial, profile, PIN tries) sends no VERIFY, no signature, nothing that changes
/// the card.
fn assert_read_only(card: &mut ScriptedCard) {
    for exchange in std::mem::take(&mut card.exchanges) {
        assert!(
            READ_ONLY_INSTRUCTIONS.contains(&exchange.ins()),
            "a read sent {:02X?}",
            exchange.command
        );
    }
}

fn check_login(profile: &CardProfile, login: &[Exchange], signature: &Result<Vec<u8>, CardError>) {
    let pin = Pin::new(LOGIN_PIN);
    let Ok(pin_block) = profile.pin.encode(&pin) else {
        assert!(
            login.is_empty(),
            "a PIN the card cannot take still reached it"
        );
        assert!(matches!(signature, Err(CardError::PinFormat(_))));
        return;
    };
    let verifies: Vec<usize> = (0..login.len())
        .filter(|&i| login[i].ins() == INS_VERIFY)
        .collect();
    for (n, &index) in verifies.iter().enumerate() {
        assert_eq!(login[index].data(), pin_block.as_slice(), "VERIFY data");
        // The one VERIFY may be repeated only when the card asked for another Le (6Cxx),
        // which means it did not evaluate it: a wrong PIN is never retried.
        if n > 0 {
            let previous = &login[index - 1];
            assert!(
                previous.ins() == INS_VERIFY && previous.asked_other_le(),
                "a second VERIFY after {:04X?}",
                previous.sw()
            );
        }
    }
    let mut expected_input = SHA256_DIGEST_INFO_PREFIX.to_vec();
    expected_input.extend(LOGIN_DIGEST);
    // The VERIFY's outcome is the status word that ends it, after any GET RESPONSE.
    let verified = verifies.last().is_some_and(|&i| {
        let end = login[i + 1..]
            .iter()
            .take_while(|e| e.ins() == INS_GET_RESPONSE)
            .count();
        login[i + end].sw() == Some(0x9000)
    });
    for exchange in login
        .iter()
        .filter(|e| e.ins() == INS_INTERNAL_AUTHENTICATE)
    {
        assert!(
            verified,
            "INTERNAL AUTHENTICATE without a successful VERIFY"
        );
        assert_eq!(
            exchange.data(),
            expected_input.as_slice(),
            "the card signs only the login digest"
        );
    }
    if let Ok(signature) = signature {
        assert!(!signature.is_empty());
        assert!(verified, "a signature without a successful VERIFY");
    }
    if let Err(CardError::WrongPin { retries_left }) = signature {
        assert!(*retries_left <= 0x0F);
    }
}
