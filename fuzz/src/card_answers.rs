//! Target (d): a card driver against a card whose every answer comes from the fuzz input; the
//! `card_answers` target drives the CPS3 driver, `card_answers_cps4` the CPS4 one.
//!
//! The driver runs what the host asks of a card, in the host's order: `icc_serial`, `read_profile`,
//! `pin_status`, then `sign_login_digest` with PIN 1234. Each step runs even when the one before
//! failed (with a known-good serial or profile), so that the input reaches every step. Each must
//! return, without panicking, and the commands it sends must respect the card invariants: no PIN
//! outside a login, the PIN sent once, and only the login digest ever signed.

use cpx_connect::card::pin::PinEncoding;
use cpx_connect::card::pkcs15::CPS3_CONTACT_AID;
use cpx_connect::card::{
    self, ApplicationAddress, CardError, CardProfile, CardType, IccSerial, Pin, PinPolicy,
    SHA256_DIGEST_INFO_PREFIX,
};

use crate::card_script::{Exchange, ScriptedCard, INS_VERIFY};

pub const LOGIN_PIN: &str = "1234";
pub const LOGIN_DIGEST: [u8; 32] = [0x5A; 32];

const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;
const INS_PSO: u8 = 0x2A;
const INS_GET_RESPONSE: u8 = 0xC0;
/// ISO 7816-4 command chaining: set on every part of a chain but the last.
const CLA_CHAINING: u8 = 0x10;
/// SELECT, READ BINARY, GET RESPONSE, GET DATA: all that reading a card needs, besides a VERIFY
/// without data (which asks for the tries left and carries no PIN).
const READ_ONLY_INSTRUCTIONS: [u8; 5] = [0xA4, 0xB0, 0xC0, 0xCA, 0xCB];
/// PKCS#1 v1.5 type 01 padding is at least 8 bytes of FF.
const MIN_PADDING: usize = 8;

/// The serial and profile of a CPx card as CARD.md describes it, for steps whose predecessor
/// failed.
pub fn known_serial() -> IccSerial {
    IccSerial(vec![
        0x80, 0x25, 0x00, 0x00, 0x01, 0x99, 0x21, 0x38, 0x45, 0x0F,
    ])
}

pub fn known_profile(card_type: CardType) -> CardProfile {
    CardProfile {
        card_type,
        icc_serial: known_serial(),
        application: ApplicationAddress::Aid(CPS3_CONTACT_AID.to_vec()),
        key_reference: if card_type == CardType::Cps4 {
            0x20
        } else {
            0x82
        },
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

/// The CPS3 driver.
pub fn run(data: &[u8]) -> Outcome {
    run_driver(CardType::Cps3, data)
}

/// The CPS4 driver.
pub fn run_cps4(data: &[u8]) -> Outcome {
    run_driver(CardType::Cps4, data)
}

pub fn run_driver(card_type: CardType, data: &[u8]) -> Outcome {
    let mut card = ScriptedCard::new(data);

    let serial = step(card_type, &mut card, |driver| driver.icc_serial());
    assert_read_only(&mut card);
    if let Ok(serial) = &serial {
        assert_eq!(serial.0.len(), 10);
        assert!(serial.0.starts_with(&[0x80, 0x25, 0x00, 0x00, 0x01]));
    }

    let given_serial = serial.clone().unwrap_or_else(|_| known_serial());
    let profile = step(card_type, &mut card, |driver| {
        driver.read_profile(&given_serial)
    });
    assert_read_only(&mut card);
    if let Ok(profile) = &profile {
        assert_eq!(profile.card_type, card_type);
        assert_eq!(profile.icc_serial, given_serial);
    }

    let profile_used = profile.clone().unwrap_or_else(|_| known_profile(card_type));
    let pin_status = step(card_type, &mut card, |driver| {
        driver.pin_status(&profile_used)
    });
    assert_read_only(&mut card);

    let signature = step(card_type, &mut card, |driver| {
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

/// Runs one driver operation on a fresh driver over the card, as the host does for each card
/// transaction, and checks the driver's command counter.
fn step<T>(
    card_type: CardType,
    card: &mut ScriptedCard,
    operation: impl FnOnce(&mut dyn card::CpxCard) -> Result<T, CardError>,
) -> Result<T, CardError> {
    let before = card.exchanges.len();
    let (result, counted) = {
        let mut driver = card::driver(card_type, card).expect("CPx cards have a driver");
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

/// Reading a card (serial, profile, PIN tries) sends no PIN, no signature, nothing that changes
/// the card.
fn assert_read_only(card: &mut ScriptedCard) {
    for exchange in std::mem::take(&mut card.exchanges) {
        let status_query = exchange.ins() == INS_VERIFY && exchange.data().is_empty();
        assert!(
            READ_ONLY_INSTRUCTIONS.contains(&exchange.ins()) || status_query,
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
    // VERIFYs that carry data; a VERIFY without data (the drivers' PIN-state probe) carries no
    // PIN and spends no try.
    let verifies: Vec<usize> = (0..login.len())
        .filter(|&i| login[i].ins() == INS_VERIFY && !login[i].data().is_empty())
        .collect();
    // The PIN reaches the card once per login, whatever the card answers (even 6Cxx).
    assert!(
        verifies.len() <= 1,
        "{} VERIFYs carried the PIN",
        verifies.len()
    );
    for &index in &verifies {
        assert_eq!(login[index].data(), pin_block.as_slice(), "VERIFY data");
    }
    // The VERIFY's outcome is the status word that ends it, after any GET RESPONSE.
    let verified = verifies.last().is_some_and(|&i| {
        let end = login[i + 1..]
            .iter()
            .take_while(|e| e.ins() == INS_GET_RESPONSE)
            .count();
        login[i + end].sw() == Some(0x9000)
    });

    let mut digest_info = SHA256_DIGEST_INFO_PREFIX.to_vec();
    digest_info.extend(LOGIN_DIGEST);
    // CPS3: INTERNAL AUTHENTICATE of the DigestInfo.
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
            digest_info.as_slice(),
            "the card signs only the login digest"
        );
    }
    // CPS4: PSO DECIPHER of the padded DigestInfo, in chained parts (a part repeated after
    // 6Cxx counts once). A chain ends with its last part (CLA without the chaining bit); the host
    // may send a whole chain again, with Le, when the card refused the last part for its length.
    let mut chains: Vec<Vec<u8>> = Vec::new();
    let mut block = Vec::new();
    let mut previous: Option<&Exchange> = None;
    for exchange in login.iter().filter(|e| e.ins() == INS_PSO) {
        assert!(verified, "PSO without a successful VERIFY");
        assert_eq!(
            exchange.command[2..4],
            [0x80, 0x86],
            "the only PSO of a login is DECIPHER"
        );
        if !previous.is_some_and(|p| p.command == exchange.command && p.asked_other_le()) {
            block.extend_from_slice(exchange.data());
        }
        previous = Some(exchange);
        let last_part = exchange.command[0] & CLA_CHAINING == 0;
        if last_part && !exchange.asked_other_le() {
            chains.push(std::mem::take(&mut block));
        }
    }
    if !block.is_empty() {
        chains.push(block);
    }
    for chain in &chains {
        assert!(
            is_login_block(chain, &digest_info, false),
            "PSO DECIPHER of {chain:02X?}, not the login block"
        );
    }

    if let Ok(signature) = signature {
        assert!(!signature.is_empty());
        assert!(verified, "a signature without a successful VERIFY");
        if profile.card_type == CardType::Cps4 {
            assert!(
                chains
                    .iter()
                    .any(|chain| is_login_block(chain, &digest_info, true)),
                "signed without the whole login block"
            );
        }
    }
    if let Err(CardError::WrongPin { retries_left }) = signature {
        assert!(*retries_left <= 0x0F);
    }
}

/// `00 01 FF.. 00 DigestInfo`, or with `complete` false, the start of such a block (a chain
/// the card broke off).
fn is_login_block(block: &[u8], digest_info: &[u8], complete: bool) -> bool {
    let Some(rest) = block.strip_prefix(&[0x00, 0x01]) else {
        return block.len() < 2 && [0x00, 0x01].starts_with(block) && !complete;
    };
    let padding = rest.iter().take_while(|&&b| b == 0xFF).count();
    let tail = &rest[padding..];
    let mut expected_tail = vec![0x00];
    expected_tail.extend_from_slice(digest_info);
    if complete || !tail.is_empty() {
        let tail_ok = if complete {
            tail == expected_tail.as_slice()
        } else {
            expected_tail.starts_with(tail)
        };
        tail_ok && padding >= MIN_PADDING
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_login_block_and_its_beginnings() {
        let mut digest_info = SHA256_DIGEST_INFO_PREFIX.to_vec();
        digest_info.extend(LOGIN_DIGEST);
        let mut block = vec![0x00, 0x01];
        block.extend([0xFF; 202]);
        block.push(0x00);
        block.extend(&digest_info);
        assert!(is_login_block(&block, &digest_info, true));
        assert_eq!(block.len(), 256);
        assert!(is_login_block(&block[..255], &digest_info, false));
        assert!(!is_login_block(&block[..255], &digest_info, true));
        let mut other = block.clone();
        *other.last_mut().unwrap() ^= 1;
        assert!(!is_login_block(&other, &digest_info, true));
        assert!(!is_login_block(&other, &digest_info, false));
        let short_padding = [&[0x00, 0x01, 0xFF, 0x00][..], &digest_info].concat();
        assert!(!is_login_block(&short_padding, &digest_info, true));
        assert!(!is_login_block(&[0x00, 0x02], &digest_info, false));
    }
}
