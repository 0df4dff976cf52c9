//! The CPS4 driver: the NXP "ChipDoc" PKI applet on logical channel 1, the same PKCS#15
//! application as on the CPS3, and a login signature made by PSO DECIPHER of a block the host
//! pads itself, since a CPS4 has no INTERNAL AUTHENTICATE.
//!
//! The command forms follow ANS's Cryptolib CPS (`card-cps4.c`, `card-cps.c`, `pkcs15-sec.c`),
//! the only public description of the card. Where it is silent, the choice is noted at the code.
//!
//! Transmission protocol: the production ATR offers T=0 and T=1, and pcsc-lite tries T=1 first
//! (`prothandler.c`, `PHSetProtocol`); the third CPS4 ATR offers T=0 only. The driver builds
//! its commands protocol-free; the channel gives them their wire form (Cryptolib v5.2
//! `apdu.c`:140-146): under T=0 a case-4 command (a SELECT asking for the FCP, the last PSO
//! DECIPHER part) goes without Le and its answer comes through `61xx` and GET RESPONSE; under
//! T=1 it carries Le and the data comes back with `90 00`. When the transport says nothing, a
//! `67 00` to such a command is answered by sending it once more with Le. A SELECT answered
//! `90 00` with no FCP reads the file to its end.
//!
//! Unknowns (CARD.md, "to settle from a real card's report"), where the code takes the tolerant
//! path: whether a real CPS4 refuses a case-4 command without Le (`67 00`) or answers `90 00`
//! with no data (both handled); its EF.DIR (path or none: both handled, the application then
//! addressed as EF.DIR says, Cryptolib v5.2 `dir.c`:136-153, `pkcs15.c`:497-531); its SELECT
//! answer (asked with P2=00 as the Cryptolib's generic select asks, `iso7816.c`:402-451, which
//! accepts only `6F`, 477-489; `62` and `6F` are both parsed, tag 83 not required); its PrKDF key
//! reference and PIN reference (taken from the PrKDF and AODF).
//!
//! Over 600 lines for its tests: the exact bytes of a login under T=0 and T=1 and each recovery
//! path, below the driver's ~450 lines.

use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use tracing::debug;
use x509_cert::der::{Decode, Encode};
use zeroize::Zeroizing;

use super::apdu::{Command, Response, StatusWord};
use super::channel::Channel;
use super::discovery::{self, FileAccess, EF_SN_ICC, SFI_EF_SN_ICC};
use super::error::CardError;
use super::pin::Pin;
use super::pkcs15;
use super::transport::Transport;
use super::{
    ApplicationAddress, CardProfile, CardType, CpxCard, IccSerial, PinStatus,
    SHA256_DIGEST_INFO_PREFIX,
};

/// Class byte of every command: logical channel 1, where the PKI applet lives (channel 0 holds
/// the legacy CPS2ter application). Like the Cryptolib, the driver opens the channel implicitly
/// by selecting the applet with this class byte; it never sends MANAGE CHANNEL.
const CLA: u8 = 0x01;
/// The PKI applet; selecting it makes its MF current.
const PKI_APPLET_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
/// What the Cryptolib selects to recover the applet (`CPS4_AID_IDS`, `CPS4_AID_CPS2T`).
const CARD_MANAGER_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];
const CPS2TER_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x02];
/// `68 81`: logical channel not supported, what a CPS4 answers on channel 1 once a reset has
/// closed it. The Cryptolib then selects the applet again and retries (`cps4_get_pin_counter`).
const CHANNEL_CLOSED: StatusWord = StatusWord::Other(0x6881);
const MF: [u8; 2] = [0x3F, 0x00];
/// The Cryptolib reads a CPS4 in 256-byte pieces (Le 00), where a CPS3 takes 0xE7.
const READ_CHUNK: usize = 256;
/// Command chaining part size: OpenSC's default for short APDUs, which the Cryptolib uses, so a
/// 2048-bit block goes as 255 bytes (CLA 11) then 1 byte (CLA 01).
const CHAIN_PART: usize = 255;
/// The card's try counter answer gives only the tries left; the Cryptolib takes 3 as the maximum.
const PIN_MAX_TRIES: u8 = 3;
/// PKCS#1 v1.5 framing: `00 01`, at least 8 bytes `FF`, `00`.
const PKCS1_MIN_PADDING: usize = 11;

pub struct Cps4<'t> {
    channel: Channel<'t>,
    /// Whether this driver has selected the PKI applet on channel 1 yet.
    applet_selected: bool,
    /// The DF current on channel 1, when the driver knows it.
    current_df: Option<DfPath>,
    /// The application selected by AID whose files are named by paths relative to it (an
    /// EF.DIR without path and an FCP without file id): the root of relative paths.
    relative_root: Option<Vec<u8>>,
}

/// Where a DF is: its path from the MF, or below the application selected by its AID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DfPath {
    FromMf(Vec<u8>),
    FromApplication(Vec<u8>),
}

impl<'t> Cps4<'t> {
    pub fn new(transport: &'t mut dyn Transport) -> Self {
        Cps4 {
            channel: Channel::new(transport),
            applet_selected: false,
            current_df: None,
            relative_root: None,
        }
    }

    /// Selects the PKI applet on channel 1, which opens the channel if it is closed (a card
    /// reset closes it) and makes the applet's MF current. When the card refuses, the
    /// Cryptolib's recovery (`_do_reselect_cps4_aid` in `card-cps4.c`, called by
    /// `cps4_match_card` when the first selection fails): select the card manager (IDS AID) on
    /// channel 1, the CPS2ter on channel 0, then the applet again on channel 1. The Cryptolib
    /// ignores the first two answers; so does this driver.
    fn select_applet(&mut self) -> Result<(), CardError> {
        self.current_df = None;
        let select = Command::new(CLA, 0xA4, 0x04, 0x0C).with_data(PKI_APPLET_AID);
        match self.channel.send_ok(&select) {
            Ok(_) => {}
            Err(CardError::Status { .. }) => {
                debug!("PKI applet refused; reselecting as the Cryptolib does");
                self.channel
                    .send(&Command::new(CLA, 0xA4, 0x04, 0x0C).with_data(CARD_MANAGER_AID))?;
                self.channel
                    .send(&Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(CPS2TER_AID))?;
                self.channel.send_ok(&select)?;
            }
            Err(error) => return Err(error),
        }
        self.applet_selected = true;
        self.current_df = Some(DfPath::FromMf(MF.to_vec()));
        Ok(())
    }

    fn ensure_applet(&mut self) -> Result<(), CardError> {
        if self.applet_selected {
            Ok(())
        } else {
            self.select_applet()
        }
    }

    /// SELECT by file id (P1 00), answering the FCI or nothing (P2 0C). The Cryptolib
    /// selects a CPS4's files by file id or by a path relative to the current DF, never by a
    /// path from 3F00 as a CPS3 takes it, so this driver walks one file id at a time. It asks
    /// for the file's information as the Cryptolib does, with P2=00 (the CPS4 driver keeps the
    /// generic select, v5.2 `iso7816.c`:402-451, which accepts only a `6F` FCI, 478), so this is
    /// what a real CPS4 answers; `62` is accepted as well.
    fn select_fid(&mut self, fid: &[u8], with_fcp: bool) -> Result<Vec<u8>, CardError> {
        let command = if with_fcp {
            Command::new(CLA, 0xA4, 0x00, 0x00)
                .with_data(fid)
                .expecting_answer()
        } else {
            Command::new(CLA, 0xA4, 0x00, 0x0C).with_data(fid)
        };
        self.channel.send_ok(&command)
    }

    /// Makes the DF at `path` current: a full path from 3F00, or a path relative to the
    /// application selected by AID. Starts from the current DF when `path` lies below it, else
    /// from the MF (or the application).
    fn change_df(&mut self, path: &[u8]) -> Result<(), CardError> {
        if !path.len().is_multiple_of(2) {
            return Err(CardError::Malformed(format!(
                "path {} is not a list of file ids",
                crate::hex::encode(path)
            )));
        }
        self.ensure_applet()?;
        let target = if path.starts_with(&MF) {
            DfPath::FromMf(path.to_vec())
        } else {
            DfPath::FromApplication(path.to_vec())
        };
        let start = match (&self.current_df, &target) {
            (Some(DfPath::FromMf(current)), DfPath::FromMf(path))
            | (Some(DfPath::FromApplication(current)), DfPath::FromApplication(path))
                if path.starts_with(current) =>
            {
                current.len()
            }
            (_, DfPath::FromMf(_)) => {
                self.current_df = None;
                self.select_fid(&MF, false)?;
                self.current_df = Some(DfPath::FromMf(MF.to_vec()));
                MF.len()
            }
            (_, DfPath::FromApplication(_)) => {
                let Some(aid) = self.relative_root.clone() else {
                    return Err(CardError::Malformed(format!(
                        "path {} does not start at the MF",
                        crate::hex::encode(path)
                    )));
                };
                self.select_application_by_aid(&aid)?;
                0
            }
        };
        for end in (start + 2..=path.len()).step_by(2) {
            self.current_df = None;
            self.select_fid(&path[end - 2..end], false)?;
            self.current_df = Some(match &target {
                DfPath::FromMf(_) => DfPath::FromMf(path[..end].to_vec()),
                DfPath::FromApplication(_) => DfPath::FromApplication(path[..end].to_vec()),
            });
        }
        Ok(())
    }

    /// Selects the EF at `path` (from 3F00, or relative to the application selected by AID);
    /// with `with_fcp`, returns its size. When another applet answered on the way and the IAS
    /// root was selected again under the driver (`channel.rs`), the walk starts over once.
    fn select_ef(&mut self, path: &[u8], with_fcp: bool) -> Result<Option<usize>, CardError> {
        let reselects = self.channel.root_reselects();
        match self.select_ef_once(path, with_fcp) {
            Err(CardError::Status { .. }) if self.channel.root_reselects() != reselects => {
                self.current_df = None;
                self.select_ef_once(path, with_fcp)
            }
            other => other,
        }
    }

    fn select_ef_once(&mut self, path: &[u8], with_fcp: bool) -> Result<Option<usize>, CardError> {
        let least = if path.starts_with(&MF) { MF.len() } else { 0 };
        let Some(split) = path.len().checked_sub(2).filter(|at| *at >= least) else {
            return Err(CardError::Malformed(format!(
                "path {} names no EF",
                crate::hex::encode(path)
            )));
        };
        let (parent, fid) = path.split_at(split);
        self.change_df(parent)?;
        let fcp = self.select_fid(fid, with_fcp)?;
        if with_fcp {
            discovery::fcp_file_size(&fcp).map(Some)
        } else {
            Ok(None)
        }
    }

    fn select_application_by_aid(&mut self, aid: &[u8]) -> Result<(), CardError> {
        self.ensure_applet()?;
        self.current_df = None;
        self.channel
            .send_ok(&Command::new(CLA, 0xA4, 0x04, 0x0C).with_data(aid))?;
        self.current_df = Some(DfPath::FromApplication(Vec::new()));
        Ok(())
    }

    /// Selects the PKCS#15 application, where the keys live, as EF.DIR addresses it (its path,
    /// else its AID; `dir.c`:136-153).
    fn select_application(&mut self, application: &ApplicationAddress) -> Result<(), CardError> {
        match application {
            // From where the driver knows it is (the applet's MF after the serial): one APDU.
            ApplicationAddress::Path(path) => self.change_df(path),
            ApplicationAddress::Aid(aid) => {
                self.relative_root = Some(aid.clone());
                self.select_application_by_aid(aid)
            }
        }
    }
}

/// The modulus size in bytes of the RSA key in `certificate_der`: the size of the block that
/// PSO DECIPHER takes.
fn rsa_modulus_bytes(certificate_der: &[u8]) -> Result<usize, CardError> {
    let certificate = x509_cert::Certificate::from_der(certificate_der)
        .map_err(|error| CardError::Malformed(format!("the card's certificate: {error}")))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|error| CardError::Malformed(format!("the card's certificate: {error}")))?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki)
        .map_err(|_| CardError::Unsupported("the authentication key is not RSA".into()))?;
    Ok(key.size())
}

/// The EMSA-PKCS1-v1_5 block of a SHA-256 digest (type 01 padding of its DigestInfo), which
/// the card's raw private-key operation turns into an RSASSA-PKCS1-v1_5 signature.
fn pkcs1_signature_block(
    digest: &[u8; 32],
    modulus_bytes: usize,
) -> Result<Zeroizing<Vec<u8>>, CardError> {
    let digest_info_length = SHA256_DIGEST_INFO_PREFIX.len() + digest.len();
    let Some(padding) = modulus_bytes
        .checked_sub(digest_info_length + 3)
        .filter(|padding| *padding + 3 >= PKCS1_MIN_PADDING)
    else {
        return Err(CardError::Unsupported(format!(
            "an RSA key of {modulus_bytes} bytes is too small for a SHA-256 signature"
        )));
    };
    let mut block = Zeroizing::new(Vec::with_capacity(modulus_bytes));
    block.extend_from_slice(&[0x00, 0x01]);
    block.resize(2 + padding, 0xFF);
    block.push(0x00);
    block.extend_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    block.extend_from_slice(digest);
    Ok(block)
}

impl FileAccess for Cps4<'_> {
    fn select_sized(&mut self, path: &[u8]) -> Result<usize, CardError> {
        Ok(self.select_ef(path, true)?.unwrap_or_default())
    }

    fn select_plain(&mut self, path: &[u8]) -> Result<(), CardError> {
        self.select_ef(path, false).map(|_| ())
    }

    fn send(&mut self, command: &Command) -> Result<Response, CardError> {
        self.channel.send(command)
    }

    fn class_byte(&self) -> u8 {
        CLA
    }

    fn read_chunk(&self) -> usize {
        READ_CHUNK
    }

    /// The application's path: from EF.DIR, else from the FCP of a select by AID.
    fn application_path(
        &mut self,
        application: &pkcs15::Application,
    ) -> Result<Vec<u8>, CardError> {
        if let Some(path) = &application.path {
            return Ok(path.clone());
        }
        // Asked as the Cryptolib's generic select asks (P2=00, `iso7816.c`:451). Without a file
        // id (83) in the answer, the application's files are selected from it by relative
        // paths: nothing says a CPS4's FCI carries one.
        self.ensure_applet()?;
        self.current_df = None;
        let fci = self.channel.send_ok(
            &Command::new(CLA, 0xA4, 0x04, 0x00)
                .with_data(application.aid.as_slice())
                .expecting_answer(),
        )?;
        match discovery::fci_file_id(&fci) {
            Some(fid) => {
                let path = pkcs15::from_mf(&fid);
                self.current_df = Some(DfPath::FromMf(path.clone()));
                Ok(path)
            }
            None => {
                self.relative_root = Some(application.aid.clone());
                self.current_df = Some(DfPath::FromApplication(Vec::new()));
                Ok(Vec::new())
            }
        }
    }

    fn apdus_so_far(&self) -> usize {
        self.channel.apdus_sent()
    }
}

impl CpxCard for Cps4<'_> {
    fn icc_serial(&mut self) -> Result<IccSerial, CardError> {
        // Always select the applet here: this is the first command of a card transaction, and
        // a reset since the last one has closed channel 1.
        self.select_applet()?;
        // The applet's MF is current: EF.SN.ICC by its short identifier (one APDU), else by
        // path if the card refuses (whether a CPS4 takes SFIs is not published).
        if let Some(content) = self.read_by_sfi(SFI_EF_SN_ICC, 12)? {
            if let Ok(serial) = discovery::parse_icc_serial(&content) {
                return Ok(serial);
            }
        }
        self.select_ef(&EF_SN_ICC, false)?;
        let content = self.read_binary(12)?;
        discovery::parse_icc_serial(&content)
    }

    fn read_profile(&mut self, serial: &IccSerial) -> Result<CardProfile, CardError> {
        discovery::read_login_profile(self, CardType::Cps4, serial)
    }

    fn pin_status(&mut self, profile: &CardProfile) -> Result<PinStatus, CardError> {
        // VERIFY without data: the Cryptolib's way to read the counter of a CPS4. It carries no
        // PIN and spends no try.
        self.ensure_applet()?;
        let status = Command::new(CLA, 0x20, 0x00, profile.pin.reference());
        let mut answer = self.channel.send(&status)?.sw;
        if answer == CHANNEL_CLOSED {
            // Channel 1 closed under us (another program reset the card): reopen and ask again.
            // The query carries no PIN, so asking twice spends nothing.
            self.select_applet()?;
            answer = self.channel.send(&status)?.sw;
        }
        let retries_left = match answer {
            StatusWord::WrongPin { retries_left } => retries_left,
            StatusWord::PinBlocked => 0,
            // Verified earlier in this card session: a right PIN has reset the counter.
            StatusWord::Success => PIN_MAX_TRIES,
            sw => return Err(CardError::Status { ins: 0x20, sw }),
        };
        Ok(PinStatus {
            retries_left,
            max_retries: Some(PIN_MAX_TRIES),
        })
    }

    fn sign_login_digest(
        &mut self,
        profile: &CardProfile,
        pin: &Pin,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, CardError> {
        // Everything that can fail without the card fails before the PIN is sent.
        let pin_block = profile.pin.encode(pin)?;
        let modulus_bytes = rsa_modulus_bytes(&profile.certificate_der)?;
        let block = pkcs1_signature_block(digest, modulus_bytes)?;
        self.select_application(&profile.application)?;
        super::cps3::probe_pin_state(&mut self.channel, CLA, profile.pin.reference())?;

        let verify =
            Command::new(CLA, 0x20, 0x00, profile.pin.reference()).with_sensitive_data(pin_block);
        match self.channel.send(&verify)?.sw {
            StatusWord::Success => {}
            StatusWord::WrongPin { retries_left } => {
                return Err(CardError::WrongPin { retries_left })
            }
            StatusWord::PinBlocked => return Err(CardError::PinBlocked),
            sw => return Err(CardError::Status { ins: 0x20, sw }),
        }

        // MSE SET, confidentiality template (B8): the key PSO DECIPHER uses.
        let mse = [0x83, 0x01, profile.key_reference];
        self.channel
            .send_ok(&Command::new(CLA, 0x22, 0x41, 0xB8).with_data(mse))?;

        // PSO DECIPHER (P1 80 plain value out, P2 86 padding indicator and cryptogram in) of the
        // padded block: the card's raw private-key operation, which is the signature.
        let decipher = Command::new(CLA, 0x2A, 0x80, 0x86)
            .with_data(block.as_slice())
            .expecting_answer();
        let response = self.channel.send_chained(&decipher, CHAIN_PART)?;
        if response.sw != StatusWord::Success {
            return Err(CardError::Status {
                ins: 0x2A,
                sw: response.sw,
            });
        }
        if response.data.len() != modulus_bytes {
            return Err(CardError::Protocol(
                "PSO DECIPHER returned a result of the wrong size",
            ));
        }
        Ok(response.data)
    }

    fn apdus_sent(&self) -> usize {
        self.channel.apdus_sent()
    }

    fn public_files(&mut self) -> Vec<super::PublicFile> {
        discovery::read_public_files(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::{
        cps_pin_policy, hex, login, signature_steps, tlv, ScriptedTransport,
    };
    use crate::card::transport::{Protocol, TransportError};
    use cpx_virtual_card::{Holder, VirtualCard};

    const SELECT_APPLET: &str = "01 A4 04 0C 08 80 25 00 00 01 FF 01 00";
    const SELECT_APPLICATION: &str = "01 A4 04 0C 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10";
    const VERIFY_1234: &str = "01 20 00 01 08 31 32 33 34 FF FF FF FF";
    const PROBE: &str = "01 20 00 01";
    const MSE_DECIPHER: &str = "01 22 41 B8 03 83 01 20";

    fn profile() -> CardProfile {
        CardProfile {
            card_type: CardType::Cps4,
            icc_serial: IccSerial(vec![0x80, 0x25, 0, 0, 1, 0x40, 0, 1, 0x23, 0x45]),
            application: ApplicationAddress::Aid(pkcs15::CPS3_CONTACT_AID.to_vec()),
            key_reference: 0x20,
            pin: cps_pin_policy(),
            certificate_der: VirtualCard::cps3(Holder::Dupont)
                .auth_certificate_der()
                .to_vec(),
        }
    }

    /// The start of every login: the applet, the application by its AID, the PIN-state probe
    /// and the VERIFY of "1234", with the card's answers to the probe and to the VERIFY.
    fn select_probe_verify<'a>(probe: &'a str, verify: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            (SELECT_APPLET, "90 00"),
            (SELECT_APPLICATION, "90 00"),
            (PROBE, probe),
            (VERIFY_1234, verify),
        ]
    }

    fn spaced(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X} ")).collect()
    }

    /// The two parts of PSO DECIPHER for this digest, written out from PKCS#1 v1.5 itself:
    /// `00 01`, 202 bytes `FF`, `00`, the SHA-256 DigestInfo; 255 bytes then 1, the last with
    /// Le only under T=1 (under T=0, or an unknown protocol, a case-4 command has no Le).
    fn decipher_parts(digest: &[u8; 32], protocol: Option<Protocol>) -> (String, String) {
        let mut block = vec![0x00, 0x01];
        block.extend([0xFF; 202]);
        block.push(0x00);
        block.extend(hex(
            "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20",
        ));
        block.extend(digest);
        assert_eq!(block.len(), 256);
        (
            format!("11 2A 80 86 FF {}", spaced(&block[..255])),
            format!(
                "01 2A 80 86 01 {}{}",
                spaced(&block[255..]),
                if protocol == Some(Protocol::T1) {
                    "00"
                } else {
                    ""
                }
            ),
        )
    }

    #[test]
    fn reads_the_serial_on_logical_channel_one() {
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            ("01 B0 9C 00 0C", "6A 82"),
            ("01 A4 00 0C 02 D0 03", "90 00"),
            (
                "01 B0 00 00 0C",
                "5A 0A 80 25 00 00 01 40 00 01 23 45 90 00",
            ),
        ]);
        let serial = Cps4::new(&mut transport).icc_serial().unwrap();
        assert_eq!(serial.to_hex(), "80250000014000012345");
        transport.assert_finished();
    }

    const SELECT_CARD_MANAGER: &str = "01 A4 04 0C 07 A0 00 00 01 51 00 00";
    const SELECT_CPS2TER: &str = "00 A4 04 0C 08 80 25 00 00 01 FF 00 02";

    #[test]
    fn a_card_without_the_applet_is_refused_after_the_cryptolib_reselection() {
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "6A 82"),
            (SELECT_CARD_MANAGER, "6A 82"),
            (SELECT_CPS2TER, "6A 82"),
            (SELECT_APPLET, "6A 82"),
        ]);
        let error = Cps4::new(&mut transport).icc_serial().unwrap_err();
        assert_eq!(
            error,
            CardError::Status {
                ins: 0xA4,
                sw: StatusWord::FileNotFound
            }
        );
        transport.assert_finished();
    }

    #[test]
    fn refuses_a_card_whose_serial_is_not_cpx() {
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            ("01 B0 9C 00 0C", "6A 82"),
            ("01 A4 00 0C 02 D0 03", "90 00"),
            (
                "01 B0 00 00 0C",
                "5A 0A 80 99 00 00 01 40 00 01 23 45 90 00",
            ),
        ]);
        let error = Cps4::new(&mut transport).icc_serial().unwrap_err();
        assert!(matches!(error, CardError::Unsupported(_)));
        transport.assert_finished();
    }

    /// PKCS#15 files of a small card: EF.DIR with the application at 3F00/0001, an ODF with
    /// relative paths, one key, its certificate and the PIN.
    fn pkcs15_files() -> [Vec<u8>; 6] {
        let ef_dir = tlv(
            &[0x61],
            &[
                &tlv(&[0x4F], &[&pkcs15::CPS3_CONTACT_AID]),
                &tlv(&[0x51], &[&hex("3F 00 00 01")]),
            ],
        );
        let entry =
            |tag: u8, fid: &str| tlv(&[tag], &[&tlv(&[0x30], &[&tlv(&[0x04], &[&hex(fid)])])]);
        let odf = [
            entry(0xA0, "44 01"),
            entry(0xA4, "44 02"),
            entry(0xA8, "44 03"),
        ]
        .concat();
        let common =
            |label: &str, auth: &[u8]| tlv(&[0x30], &[&tlv(&[0x0C], &[label.as_bytes()]), auth]);
        let prkdf = tlv(
            &[0x30],
            &[
                &common("CPS_PRIV_AUT", &tlv(&[0x04], &[&[0x01]])),
                &tlv(
                    &[0x30],
                    &[
                        &tlv(&[0x04], &[&[0x11]]),
                        &tlv(&[0x03], &[&[0x05, 0x60]]), // decrypt, sign
                        &tlv(&[0x02], &[&[0x20]]),
                    ],
                ),
                &tlv(
                    &[0xA1],
                    &[&tlv(&[0x30], &[&tlv(&[0x02], &[&[0x08, 0x00]])])],
                ),
            ],
        );
        let cdf = tlv(
            &[0x30],
            &[
                &common("AUT", &[]),
                &tlv(&[0x30], &[&tlv(&[0x04], &[&[0x11]])]),
                &tlv(
                    &[0xA1],
                    &[&tlv(
                        &[0x30],
                        &[&tlv(&[0x30], &[&tlv(&[0x04], &[&hex("C0 01")])])],
                    )],
                ),
            ],
        );
        let aodf = tlv(
            &[0x30],
            &[
                &common("Code Porteur", &[]),
                &tlv(&[0x30], &[&tlv(&[0x04], &[&[0x01]])]),
                &tlv(
                    &[0xA1],
                    &[&tlv(
                        &[0x30],
                        &[
                            &tlv(&[0x03], &[&[0x02, 0x0C]]), // initialized, needs-padding
                            &tlv(&[0x0A], &[&[0x01]]),
                            &tlv(&[0x02], &[&[0x04]]),
                            &tlv(&[0x02], &[&[0x08]]),
                            &tlv(&[0x02], &[&[0x08]]),
                            &tlv(&[0x80], &[&[0x01]]),
                            &tlv(&[0x04], &[&[0xFF]]),
                        ],
                    )],
                ),
            ],
        );
        // A 0x130-byte DER element, in a 0x200-byte EF.
        let mut certificate = hex("30 82 01 2C");
        certificate.extend((0..0x12C).map(|i| i as u8));
        [ef_dir, odf, prkdf, cdf, aodf, certificate]
    }

    fn fcp(size: usize) -> String {
        format!("62 04 80 02 {:02X} {:02X} 90 00", size >> 8, size & 0xFF)
    }

    fn read(command: &str, content: &[u8]) -> (String, String) {
        (command.to_owned(), format!("{}90 00", spaced(content)))
    }

    #[test]
    fn reads_the_profile_one_file_id_at_a_time() {
        let [ef_dir, odf, prkdf, cdf, aodf, certificate] = pkcs15_files();
        let size = |file: &[u8]| format!("{:02X}", file.len());
        let steps: Vec<(String, String)> = vec![
            (SELECT_APPLET.into(), "90 00".into()),
            ("01 A4 00 00 02 2F 00".into(), fcp(ef_dir.len())),
            read(&format!("01 B0 00 00 {}", size(&ef_dir)), &ef_dir),
            ("01 A4 00 0C 02 00 01".into(), "90 00".into()),
            // Directories: their size from the FCI, read that far and no further.
            ("01 A4 00 00 02 50 31".into(), fcp(odf.len())),
            read(&format!("01 B0 00 00 {}", size(&odf)), &odf),
            ("01 A4 00 00 02 44 01".into(), fcp(prkdf.len())),
            read(&format!("01 B0 00 00 {}", size(&prkdf)), &prkdf),
            ("01 A4 00 00 02 44 02".into(), fcp(cdf.len())),
            read(&format!("01 B0 00 00 {}", size(&cdf)), &cdf),
            ("01 A4 00 00 02 44 03".into(), fcp(aodf.len())),
            read(&format!("01 B0 00 00 {}", size(&aodf)), &aodf),
            // The certificate: no FCP, read until its DER element ends.
            ("01 A4 00 0C 02 C0 01".into(), "90 00".into()),
            read("01 B0 00 00 00", &certificate[..0x100]),
            read("01 B0 01 00 30", &certificate[0x100..]),
        ];
        let mut transport = ScriptedTransport::from_owned(&steps);
        let serial = IccSerial(vec![0x80, 0x25, 0, 0, 1, 0x40, 0, 1, 0x23, 0x45]);
        let mut card = Cps4::new(&mut transport);
        let profile = card.read_profile(&serial).unwrap();
        assert_eq!(profile.card_type, CardType::Cps4);
        assert_eq!(profile.key_reference, 0x20);
        assert_eq!(
            profile.application,
            ApplicationAddress::Path(hex("3F 00 00 01"))
        );
        assert_eq!(profile.pin.reference(), 0x01);
        assert_eq!(profile.certificate_der, certificate);
        assert_eq!(card.apdus_sent(), steps.len());
        transport.assert_finished();
    }

    #[test]
    fn walks_back_to_the_mf_for_a_file_outside_the_current_df() {
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            ("01 A4 00 0C 02 00 01", "90 00"),
            ("01 A4 00 0C 02 50 31", "90 00"),
            ("01 A4 00 0C 02 3F 00", "90 00"),
            ("01 A4 00 0C 02 D0 03", "90 00"),
        ]);
        let mut card = Cps4::new(&mut transport);
        card.select_ef(&hex("3F 00 00 01 50 31"), false).unwrap();
        card.select_ef(&EF_SN_ICC, false).unwrap();
        assert!(card.select_ef(&hex("3F 00"), false).is_err());
        assert!(card.select_ef(&hex("00 01 50 31"), false).is_err());
        transport.assert_finished();
    }

    #[test]
    fn a_closed_channel_is_reopened_for_the_pin_tries_and_asked_once_more() {
        // `cps4_get_pin_counter`: on a bad channel, select the applet and ask again.
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            ("01 20 00 01", "68 81"),
            (SELECT_APPLET, "90 00"),
            ("01 20 00 01", "63 C2"),
        ]);
        let status = Cps4::new(&mut transport).pin_status(&profile()).unwrap();
        assert_eq!(status.retries_left, 2);
        transport.assert_finished();
    }

    #[test]
    fn reads_pin_tries_with_a_verify_that_carries_no_pin() {
        for (answer, retries_left) in [("63 C2", 2), ("63 C3", 3), ("69 83", 0), ("90 00", 3)] {
            let mut transport =
                ScriptedTransport::new(vec![(SELECT_APPLET, "90 00"), ("01 20 00 01", answer)]);
            let status = Cps4::new(&mut transport).pin_status(&profile()).unwrap();
            assert_eq!(
                status,
                PinStatus {
                    retries_left,
                    max_retries: Some(3)
                },
                "{answer}"
            );
            transport.assert_finished();
        }
        let mut transport =
            ScriptedTransport::new(vec![(SELECT_APPLET, "90 00"), ("01 20 00 01", "6A 88")]);
        let error = Cps4::new(&mut transport)
            .pin_status(&profile())
            .unwrap_err();
        assert!(matches!(error, CardError::Status { ins: 0x20, .. }));
        transport.assert_finished();
    }

    #[test]
    fn signs_the_login_digest_with_a_chained_pso_decipher() {
        let digest = [0x5A; 32];
        let (first_part, last_part) = decipher_parts(&digest, None);
        let first_bytes = format!("{}61 19", "AB ".repeat(0xE7));
        let last_bytes = format!("{}90 00", "CD ".repeat(0x19));
        let mut script = select_probe_verify("63 C3", "90 00");
        script.extend([
            (MSE_DECIPHER, "90 00"),
            (&first_part, "90 00"),
            (&last_part, "61 00"),
            ("01 C0 00 00 E7", &first_bytes),
            ("01 C0 00 00 19", &last_bytes),
        ]);
        let (signature, sent) = login(ScriptedTransport::new(script), &profile(), "1234", &digest);
        let signature = signature.unwrap();
        assert_eq!(signature.len(), 256);
        assert_eq!(&signature[..2], [0xAB, 0xAB]);
        assert_eq!(&signature[254..], [0xCD, 0xCD]);
        assert_eq!(sent, 9);
    }

    /// Every command of a login, byte for byte, under each protocol: under T=0 the last PSO
    /// DECIPHER part goes without Le and the result comes through GET RESPONSE; under T=1 it
    /// carries Le `00` and the result comes at once.
    #[test]
    fn the_login_commands_are_exact_under_t0_and_t1() {
        let digest = [0x42; 32];
        for protocol in [Protocol::T0, Protocol::T1] {
            let (first_part, last_part) = decipher_parts(&digest, Some(protocol));
            let mut script = vec![
                (SELECT_APPLET.to_owned(), "90 00".to_owned()),
                (
                    "01 B0 9C 00 0C".to_owned(),
                    "5A 0A 80 25 00 00 01 40 00 01 23 45 90 00".to_owned(),
                ),
                ("01 20 00 01".to_owned(), "63 C3".to_owned()),
                (SELECT_APPLICATION.to_owned(), "90 00".to_owned()),
                (PROBE.to_owned(), "63 C3".to_owned()),
                (VERIFY_1234.to_owned(), "90 00".to_owned()),
                (MSE_DECIPHER.to_owned(), "90 00".to_owned()),
                (first_part, "90 00".to_owned()),
            ];
            script.extend(signature_steps("01", last_part, protocol, "77"));
            let mut transport = ScriptedTransport::from_owned(&script).over(protocol);
            let mut card = Cps4::new(&mut transport);
            card.icc_serial().unwrap();
            assert_eq!(card.pin_status(&profile()).unwrap().retries_left, 3);
            let signature = card
                .sign_login_digest(&profile(), &Pin::new("1234"), &digest)
                .unwrap();
            assert_eq!(signature, vec![0x77; 256], "{protocol:?}");
            transport.assert_finished();
        }
    }

    #[test]
    fn a_known_card_is_signed_with_after_the_serial_without_selecting_the_applet_again() {
        let digest = [0x01; 32];
        let (first_part, last_part) = decipher_parts(&digest, None);
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            ("01 B0 9C 00 0C", "6A 82"),
            ("01 A4 00 0C 02 D0 03", "90 00"),
            (
                "01 B0 00 00 0C",
                "5A 0A 80 25 00 00 01 40 00 01 23 45 90 00",
            ),
            (SELECT_APPLICATION, "90 00"),
            (PROBE, "63 C3"),
            (VERIFY_1234, "90 00"),
            (MSE_DECIPHER, "90 00"),
            (&first_part, "90 00"),
            (&last_part, &format!("{}90 00", "77 ".repeat(256))),
        ]);
        let mut card = Cps4::new(&mut transport);
        card.icc_serial().unwrap();
        let signature = card
            .sign_login_digest(&profile(), &Pin::new("1234"), &digest)
            .unwrap();
        assert_eq!(signature, vec![0x77; 256]);
        transport.assert_finished();
    }

    #[test]
    fn the_application_is_selected_by_the_path_ef_dir_gave_never_by_its_aid() {
        let digest = [0x01; 32];
        let (first_part, last_part) = decipher_parts(&digest, None);
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            ("01 A4 00 0C 02 00 01", "90 00"),
            (PROBE, "63 C3"),
            (VERIFY_1234, "90 00"),
            (MSE_DECIPHER, "90 00"),
            (&first_part, "90 00"),
            (&last_part, &format!("{}90 00", "77 ".repeat(256))),
        ]);
        let mut by_path = profile();
        by_path.application = ApplicationAddress::Path(hex("3F 00 00 01"));
        let mut card = Cps4::new(&mut transport);
        card.select_applet().unwrap();
        card.sign_login_digest(&by_path, &Pin::new("1234"), &digest)
            .unwrap();
        transport.assert_finished();
    }

    #[test]
    fn an_application_fci_without_file_id_has_its_files_selected_from_it() {
        // EF.DIR gives no path and the FCI (6F, as the Cryptolib's select requires) no file
        // id: the ODF and the rest are selected relative to the application selected by AID.
        let mut transport = ScriptedTransport::new(vec![
            (SELECT_APPLET, "90 00"),
            (
                "01 A4 04 00 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10",
                "6F 03 82 01 38 90 00",
            ),
            ("01 A4 00 0C 02 50 31", "90 00"),
            (
                "01 A4 04 0C 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10",
                "90 00",
            ),
            ("01 A4 00 00 02 44 01", "6F 04 80 02 00 10 90 00"),
        ]);
        let mut card = Cps4::new(&mut transport);
        let application = pkcs15::Application {
            aid: pkcs15::CPS3_CONTACT_AID.to_vec(),
            label: None,
            path: None,
        };
        assert_eq!(
            card.application_path(&application).unwrap(),
            Vec::<u8>::new()
        );
        card.select_plain(&hex("50 31")).unwrap();
        // The MF in between (another file), then back through the AID.
        card.current_df = Some(DfPath::FromMf(MF.to_vec()));
        assert_eq!(card.select_sized(&hex("44 01")).unwrap(), 0x10);
        transport.assert_finished();
    }

    #[test]
    fn a_wrong_pin_stops_before_the_security_environment() {
        let script = ScriptedTransport::new(select_probe_verify("63 C2", "63 C1"));
        assert_eq!(
            login(script, &profile(), "1234", &[0; 32]).0,
            Err(CardError::WrongPin { retries_left: 1 })
        );
    }

    #[test]
    fn a_blocked_pin_is_reported() {
        let script = ScriptedTransport::new(select_probe_verify("63 C1", "69 83"));
        assert_eq!(
            login(script, &profile(), "1234", &[0; 32]).0,
            Err(CardError::PinBlocked)
        );
    }

    #[test]
    fn a_refused_block_is_a_card_error() {
        let digest = [0x33; 32];
        let (first_part, last_part) = decipher_parts(&digest, None);
        let mut script = select_probe_verify("63 C3", "90 00");
        script.extend([
            (MSE_DECIPHER, "90 00"),
            (&first_part, "90 00"),
            (&last_part, "6A 80"),
        ]);
        assert_eq!(
            login(ScriptedTransport::new(script), &profile(), "1234", &digest).0,
            Err(CardError::Status {
                ins: 0x2A,
                sw: StatusWord::Other(0x6A80)
            })
        );
    }

    #[test]
    fn nothing_reaches_the_card_when_the_pin_or_the_certificate_cannot_serve() {
        let mut transport = ScriptedTransport::new(vec![]);
        let error = Cps4::new(&mut transport)
            .sign_login_digest(&profile(), &Pin::new("12a4"), &[0; 32])
            .unwrap_err();
        assert!(matches!(error, CardError::PinFormat(_)));

        let mut broken = profile();
        broken.certificate_der = hex("30 03 02 01 05");
        let error = Cps4::new(&mut transport)
            .sign_login_digest(&broken, &Pin::new("1234"), &[0; 32])
            .unwrap_err();
        assert!(matches!(error, CardError::Malformed(_)));
        transport.assert_finished();
    }

    #[test]
    fn a_removed_card_is_a_transport_error() {
        let script = ScriptedTransport::new(vec![(SELECT_APPLET, "90 00")])
            .failing(SELECT_APPLICATION, TransportError::CardRemoved);
        assert_eq!(
            login(script, &profile(), "1234", &[0; 32]).0,
            Err(CardError::Transport(TransportError::CardRemoved))
        );
    }

    #[test]
    fn the_signature_block_is_pkcs1_type_01() {
        let block = pkcs1_signature_block(&[0xEE; 32], 256).unwrap();
        assert_eq!(block.len(), 256);
        assert_eq!(&block[..2], [0x00, 0x01]);
        assert!(block[2..204].iter().all(|b| *b == 0xFF));
        assert_eq!(block[204], 0x00);
        assert_eq!(&block[205..224], SHA256_DIGEST_INFO_PREFIX);
        assert!(pkcs1_signature_block(&[0; 32], 61).is_err());
        assert_eq!(
            pkcs1_signature_block(&[0; 32], 62).unwrap()[2..10],
            [0xFF; 8]
        );
    }
}
