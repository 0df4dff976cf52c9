//! The card layer: APDUs, T=0 handling, PKCS#15 discovery and the CPx card drivers.
//!
//! It talks to cards only through [`Transport`]; it knows nothing of PC/SC, JSON or browsers.

pub mod apdu;
pub mod channel;
mod cps3;
mod cps4;
mod discovery;
pub mod error;
pub mod pin;
pub mod pkcs15;
pub mod tlv;
pub mod transport;

#[cfg(test)]
pub(crate) mod testing;

use serde::{Deserialize, Serialize};

pub use discovery::PublicFile;
pub use error::CardError;
pub use pin::{Pin, PinPolicy};
pub use transport::{Protocol, Transport, TransportError};

/// CPx card generations, recognised from the ATR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardType {
    Cps3,
    Cps4,
    /// A CPS3 read through a reader's contactless interface: it carries no signature key
    /// there (the vendor allows no signature over contactless), so no login.
    Cps3Contactless,
    /// A card this host cannot log in with.
    Unknown,
}

impl CardType {
    /// The name the protocol reports (`status`, `certificates`). A contactless CPS3 stays
    /// `unknown` there, as before it was recognised; `state` says why.
    pub fn protocol_name(self) -> &'static str {
        match self {
            CardType::Cps3 => "CPS3",
            CardType::Cps4 => "CPS4",
            CardType::Cps3Contactless | CardType::Unknown => "unknown",
        }
    }

    /// The card's `state` in `status`: `ready` (a login can use it), `contactless` (a CPS read
    /// contactless: insert it in the contact slot), `unsupported`.
    pub fn state(self) -> &'static str {
        match self {
            CardType::Cps3 | CardType::Cps4 => "ready",
            CardType::Cps3Contactless => "contactless",
            CardType::Unknown => "unsupported",
        }
    }

    /// Whether a login can use this card.
    pub fn can_log_in(self) -> bool {
        matches!(self, CardType::Cps3 | CardType::Cps4)
    }
}

/// CPS3 contact ATR and the mask OpenSC applies to it (CARD.md).
const CPS3_ATR: [u8; 17] = [
    0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90,
    0x00,
];
const CPS3_ATR_MASK: [u8; 17] = [
    0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF,
    0xFF,
];
/// CPS3 contactless ATR (CARD.md; pcsc-tools' smartcard_list.txt).
const CPS3_CONTACTLESS_ATR: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94, 0x01, 0x80,
    0x82, 0x90, 0x00, 0x0E,
];
const CPS4_ATRS: [&[u8]; 3] = [
    &[
        0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00,
        0x90, 0x44,
    ],
    &[
        0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01, 0x00,
        0x90, 0x44,
    ],
    &[
        0x3B, 0xDC, 0x18, 0xFF, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01, 0x00,
        0x90, 0x00,
    ],
];

pub fn recognise(atr: &[u8]) -> CardType {
    let masked_match = atr.len() == CPS3_ATR.len()
        && atr
            .iter()
            .zip(CPS3_ATR_MASK.iter().zip(CPS3_ATR.iter()))
            .all(|(byte, (mask, expected))| byte & mask == expected & mask);
    // CPS4 first: the third CPS4 ATR also passes the CPS3 mask.
    if CPS4_ATRS.contains(&atr) {
        CardType::Cps4
    } else if atr == CPS3_CONTACTLESS_ATR {
        CardType::Cps3Contactless
    } else if masked_match {
        CardType::Cps3
    } else {
        CardType::Unknown
    }
}

/// The card's serial number from EF.SN.ICC: a stable identity for a physical card.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IccSerial(pub Vec<u8>);

impl IccSerial {
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }
}

/// How the PKCS#15 application is selected, as EF.DIR says (Cryptolib v5.2 `dir.c`:136-153,
/// `pkcs15.c`:497-505): by the record's path (tag 51) when it has one, by its AID (DF name)
/// when it has none, and at `3F00/5015` when the card has no EF.DIR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationAddress {
    /// Absolute path from the MF.
    Path(Vec<u8>),
    /// DF name.
    Aid(Vec<u8>),
}

impl ApplicationAddress {
    /// `path 3F00 0001` or `AID E8 28 ...`, for a card report.
    pub fn describe(&self) -> String {
        let spaced = |bytes: &[u8]| -> String {
            bytes
                .iter()
                .map(|byte| format!("{byte:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            ApplicationAddress::Path(path) => format!("path {}", spaced(path)),
            ApplicationAddress::Aid(aid) => format!("AID {}", spaced(aid)),
        }
    }
}

/// Public facts about a card that a login needs; safe to cache (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardProfile {
    pub card_type: CardType,
    pub icc_serial: IccSerial,
    pub application: ApplicationAddress,
    pub key_reference: u8,
    pub pin: PinPolicy,
    pub certificate_der: Vec<u8>,
}

/// PIN tries, read without spending one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinStatus {
    pub retries_left: u8,
    pub max_retries: Option<u8>,
}

/// What the host asks of a CPx card, whatever its generation.
pub trait CpxCard {
    /// Reads EF.SN.ICC and confirms the card is a CPx card.
    fn icc_serial(&mut self) -> Result<IccSerial, CardError>;
    /// Discovers the authentication key, its PIN and certificate through PKCS#15.
    fn read_profile(&mut self, serial: &IccSerial) -> Result<CardProfile, CardError>;
    fn pin_status(&mut self, profile: &CardProfile) -> Result<PinStatus, CardError>;
    /// Verifies the PIN once, then signs the SHA-256 `digest` with the authentication key
    /// (RSASSA-PKCS1-v1_5). Nothing else can be signed through this trait.
    fn sign_login_digest(
        &mut self,
        profile: &CardProfile,
        pin: &Pin,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, CardError>;
    fn apdus_sent(&self) -> usize;
    /// The card's public PKCS#15 files, for a card report (no PIN, nothing secret).
    fn public_files(&mut self) -> Vec<PublicFile>;
}

/// The driver for a recognised card type, over a transport inside a card transaction.
pub fn driver<'t>(
    card_type: CardType,
    transport: &'t mut dyn Transport,
) -> Result<Box<dyn CpxCard + 't>, CardError> {
    match card_type {
        CardType::Cps3 => Ok(Box::new(cps3::Cps3::new(transport))),
        CardType::Cps4 => Ok(Box::new(cps4::Cps4::new(transport))),
        CardType::Cps3Contactless | CardType::Unknown => {
            Err(CardError::Unsupported("no driver for this card".to_owned()))
        }
    }
}

/// DER prefix of a SHA-256 DigestInfo (PKCS#1 v1.5).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cps3_with_the_opensc_mask() {
        assert_eq!(recognise(&CPS3_ATR), CardType::Cps3);
        let mut variant = CPS3_ATR;
        variant[1] = 0xAD; // masked out
        variant[12] = 0x04; // masked out
        assert_eq!(recognise(&variant), CardType::Cps3);
        let mut other = CPS3_ATR;
        other[5] = 0x01; // not masked
        assert_eq!(recognise(&other), CardType::Unknown);
        assert_eq!(recognise(&CPS3_ATR[..16]), CardType::Unknown);
    }

    #[test]
    fn cps3_and_cps4_have_drivers_and_unknown_cards_none() {
        let mut transport = testing::ScriptedTransport::new(vec![]);
        assert!(driver(CardType::Cps3, &mut transport).is_ok());
        assert!(driver(CardType::Cps4, &mut transport).is_ok());
        assert!(matches!(
            driver(CardType::Unknown, &mut transport),
            Err(CardError::Unsupported(_))
        ));
    }

    #[test]
    fn recognises_cps4_and_not_the_contactless_cps3() {
        for atr in CPS4_ATRS {
            assert_eq!(recognise(atr), CardType::Cps4);
        }
        assert_eq!(recognise(&CPS3_CONTACTLESS_ATR), CardType::Cps3Contactless);
        assert!(!CardType::Cps3Contactless.can_log_in());
        assert_eq!(CardType::Cps3Contactless.protocol_name(), "unknown");
        assert_eq!(CardType::Cps3Contactless.state(), "contactless");
        assert_eq!(recognise(&[]), CardType::Unknown);
    }
}
