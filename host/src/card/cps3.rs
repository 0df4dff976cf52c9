//! The CPS3 driver: IAS-ECC on T=0, PKCS#15 application, INTERNAL AUTHENTICATE for login.
//!
//! The CPS3 is T=0 only (ATR TD1 = 40): INTERNAL AUTHENTICATE, a case-4 command, goes without
//! Le and the signature comes through `61xx` and GET RESPONSE; the channel gives every command
//! that form (Cryptolib v5.2 `apdu.c`:140-146 drops Le for case 4 under T=0; a trailing Le
//! makes GemCCID report a mute card). When another applet answers (`6E xx`, `6A 86`), the
//! channel selects the IAS root and sends the command once more (`apdu.c`:458-481, 515-527),
//! never a VERIFY carrying the PIN.
//!
//! Unknowns (nobody here has a real CPS3; CARD.md lists the evidence), and the tolerant path
//! taken for each:
//! - whether the application's FCP carries a file id (83): without one, files are selected
//!   relative to the application DF (OpenSC #2267 suggests EF.DIR gives no path);
//! - whether READ BINARY by short EF identifier works (EF.SN.ICC 1C is in the vendor trace's FCP,
//!   OpenSC #2275; EF.DIR 1E is ISO 7816-4's default): any refusal falls back to SELECT by path;
//! - the answer to VERIFY without data (IAS-ECC; CARD.md: "expected to work", unverified): an
//!   answer other than `90 00` / `63 Cx` / `69 83` counts as "not verified before", so the card
//!   is reset after the login;
//! - the CDF/AODF encodings (pad character, stored length, extra elements): the PKCS#15 parsers
//!   skip what they do not know and name a missing needed field;
//! - a PIN reference other than 01 (taken from the AODF) and SHA-384 support (not used).
//!
//! Over 600 lines for its tests: the exact bytes of a login under each protocol, below the driver's
//! ~280 lines.

use super::apdu::{Command, Response, StatusWord, MAX_CHUNK};
use super::channel::Channel;
use super::discovery::{self, FileAccess, EF_DIR, EF_SN_ICC, SFI_EF_DIR, SFI_EF_SN_ICC};
use super::error::CardError;
use super::pin::Pin;
use super::pkcs15;
use super::tlv::TlvReader;
use super::transport::Transport;
use super::{
    ApplicationAddress, CardProfile, CardType, CpxCard, IccSerial, PinStatus,
    SHA256_DIGEST_INFO_PREFIX,
};

/// INTERNAL AUTHENTICATE takes at most 40% of a 2048-bit modulus (CARD.md).
const MAX_INTERNAL_AUTHENTICATE_INPUT: usize = 102;
/// MSE SET AT algorithm reference for RSA PKCS#1 v1.5 (CARD.md).
const ALGORITHM_RSA_PKCS1: u8 = 0x02;

pub struct Cps3<'t> {
    channel: Channel<'t>,
    /// The MF is known to be the current DF (the last SELECT chose it or one of its EFs).
    /// `false` when unknown: a new transaction, a failed command, any other DF.
    mf_current: bool,
}

/// `00 A4 09 0C 02 3F 00`: the MF, as the vendor selects it before reading the PIN tries.
const MF_PATH: [u8; 2] = [0x3F, 0x00];

impl<'t> Cps3<'t> {
    pub fn new(transport: &'t mut dyn Transport) -> Self {
        Cps3 {
            channel: Channel::new(transport),
            mf_current: false,
        }
    }

    /// Whether selecting `path` (absolute, or relative to the current DF) leaves the MF current:
    /// the MF itself, or an EF right under it.
    fn leaves_mf_current(path: &[u8]) -> bool {
        path == MF_PATH || (path.len() == 4 && path.starts_with(&MF_PATH))
    }

    /// SELECT by path (P1=09: from the current DF; a path starting with 3F00 from the MF), no
    /// answer data.
    fn select_path(&mut self, path: &[u8]) -> Result<(), CardError> {
        self.mf_current = false;
        self.channel
            .send_ok(&Command::new(0x00, 0xA4, 0x09, 0x0C).with_data(path))?;
        self.mf_current = Self::leaves_mf_current(path);
        Ok(())
    }

    /// SELECT by path returning the FCP, from which the file size is read.
    fn select_file_size(&mut self, path: &[u8]) -> Result<usize, CardError> {
        self.mf_current = false;
        let fcp = self.channel.send_ok(
            &Command::new(0x00, 0xA4, 0x09, 0x04)
                .with_data(path)
                .expecting_answer(),
        )?;
        self.mf_current = Self::leaves_mf_current(path);
        discovery::fcp_file_size(&fcp)
    }

    /// Selects the PKCS#15 application as EF.DIR addresses it: by path, or by AID.
    fn select_application(&mut self, application: &ApplicationAddress) -> Result<(), CardError> {
        match application {
            ApplicationAddress::Path(path) => self.select_path(path),
            ApplicationAddress::Aid(aid) => {
                self.mf_current = false;
                // P2=0C: a CPS3 refuses P2=00 on its application AID (6A86).
                self.channel
                    .send_ok(&Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.as_slice()))
                    .map(|_| ())
            }
        }
    }
}

impl FileAccess for Cps3<'_> {
    fn select_sized(&mut self, path: &[u8]) -> Result<usize, CardError> {
        self.select_file_size(path)
    }

    fn select_plain(&mut self, path: &[u8]) -> Result<(), CardError> {
        self.select_path(path)
    }

    /// By its short identifier when the MF is current (after EF.SN.ICC), else by path.
    fn read_ef_dir(&mut self) -> Result<Vec<u8>, CardError> {
        if self.mf_current {
            if let Some(content) = self.read_by_sfi(SFI_EF_DIR, 0x400)? {
                return Ok(content);
            }
        }
        self.read_file(&EF_DIR)
    }

    fn send(&mut self, command: &Command) -> Result<Response, CardError> {
        self.channel.send(command)
    }

    fn class_byte(&self) -> u8 {
        0x00
    }

    fn read_chunk(&self) -> usize {
        usize::from(MAX_CHUNK)
    }

    /// The application's path: from EF.DIR, else from the FCP of a select by AID. A real CPS3's
    /// EF.DIR most likely has no path (OpenSC #2267: key paths relative to the AID), and whether
    /// its application FCP carries a file id (83) is unknown: without one, the empty path says
    /// "the application DF, selected", and its files are selected by paths relative to it.
    fn application_path(
        &mut self,
        application: &pkcs15::Application,
    ) -> Result<Vec<u8>, CardError> {
        if let Some(path) = &application.path {
            return Ok(path.clone());
        }
        self.mf_current = false;
        let fcp = self.channel.send_ok(
            &Command::new(0x00, 0xA4, 0x04, 0x04)
                .with_data(application.aid.as_slice())
                .expecting_answer(),
        )?;
        Ok(discovery::fci_file_id(&fcp)
            .map(|fid| pkcs15::from_mf(&fid))
            .unwrap_or_default())
    }

    fn apdus_so_far(&self) -> usize {
        self.channel.apdus_sent()
    }
}

/// VERIFY without data (ISO 7816-4, IAS-ECC): whether the PIN is verified already (`90 00`),
/// spending nothing. The PC/SC transport reads the answer to decide how to leave the card after
/// the request (host/PROTOCOL.md, "The card between requests"); a blocked PIN ends the login
/// before the PIN is sent. Any other answer (a card that does not support the probe) is left
/// to the VERIFY that follows.
pub(super) fn probe_pin_state(
    channel: &mut Channel<'_>,
    cla: u8,
    reference: u8,
) -> Result<(), CardError> {
    match channel.send(&Command::new(cla, 0x20, 0x00, reference))?.sw {
        StatusWord::PinBlocked => Err(CardError::PinBlocked),
        _ => Ok(()),
    }
}

impl CpxCard for Cps3<'_> {
    /// EF.SN.ICC by its short identifier first: one APDU when the MF is current, as after
    /// `certificates` (GET DATA) or a reset; else, or if the card refuses, by path.
    fn icc_serial(&mut self) -> Result<IccSerial, CardError> {
        if let Some(content) = self.read_by_sfi(SFI_EF_SN_ICC, 12)? {
            if let Ok(serial) = discovery::parse_icc_serial(&content) {
                // Found from the current DF: that DF is the MF.
                self.mf_current = true;
                return Ok(serial);
            }
        }
        self.select_path(&EF_SN_ICC)?;
        let content = self.read_binary(12)?;
        discovery::parse_icc_serial(&content)
    }

    fn read_profile(&mut self, serial: &IccSerial) -> Result<CardProfile, CardError> {
        discovery::read_login_profile(self, CardType::Cps3, serial)
    }

    fn pin_status(&mut self, profile: &CardProfile) -> Result<PinStatus, CardError> {
        // The PIN's SDO is an object of the MF: the vendor selects 3F00 first (Cryptolib trace,
        // OpenSC issue #2275), and from DF 0001 the card answers 6A 88 (OpenSC fcd2e665f,
        // e3a3722ad). No extra APDU when the last SELECT left the MF current (EF.SN.ICC).
        if !self.mf_current {
            self.select_path(&MF_PATH)?;
        }
        // GET DATA on the PIN's SDO (BF 81 <ref>), asking for its DOCP (A0): max and remaining tries.
        let reference = profile.pin.reference();
        let query = [
            0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, reference, 0x02, 0xA0, 0x80,
        ];
        let answer = self.channel.send_ok(
            &Command::new(0x00, 0xCB, 0x3F, 0xFF)
                .with_data(query)
                .expecting_answer(),
        )?;
        let docp = TlvReader::new(&answer)
            .next_tagged(0x70)?
            .require(0xBF8100 | u32::from(reference))?
            .require(0xA0)?;
        let byte = |tag| -> Result<u8, CardError> {
            let value = docp.require(tag)?.as_u32()?;
            u8::try_from(value).map_err(|_| CardError::Malformed(format!("PIN counter {value}")))
        };
        Ok(PinStatus {
            max_retries: Some(byte(0x9A)?),
            retries_left: byte(0x9B)?,
        })
    }

    fn sign_login_digest(
        &mut self,
        profile: &CardProfile,
        pin: &Pin,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, CardError> {
        let pin_block = profile.pin.encode(pin)?;
        self.select_application(&profile.application)?;
        probe_pin_state(&mut self.channel, 0x00, profile.pin.reference())?;

        let verify =
            Command::new(0x00, 0x20, 0x00, profile.pin.reference()).with_sensitive_data(pin_block);
        match self.channel.send(&verify)?.sw {
            StatusWord::Success => {}
            StatusWord::WrongPin { retries_left } => {
                return Err(CardError::WrongPin { retries_left })
            }
            StatusWord::PinBlocked => return Err(CardError::PinBlocked),
            sw => return Err(CardError::Status { ins: 0x20, sw }),
        }

        let mse = [
            0x80,
            0x01,
            ALGORITHM_RSA_PKCS1,
            0x84,
            0x01,
            profile.key_reference,
        ];
        self.channel
            .send_ok(&Command::new(0x00, 0x22, 0x41, 0xA4).with_data(mse))?;

        let mut digest_info = SHA256_DIGEST_INFO_PREFIX.to_vec();
        digest_info.extend_from_slice(digest);
        debug_assert!(digest_info.len() <= MAX_INTERNAL_AUTHENTICATE_INPUT);
        // Case 4: under T=0 (a CPS3's only protocol) the channel sends it without Le.
        let signature = self.channel.send_ok(
            &Command::new(0x00, 0x88, 0x00, 0x00)
                .with_data(digest_info)
                .expecting_answer(),
        )?;
        if signature.is_empty() {
            return Err(CardError::Protocol(
                "INTERNAL AUTHENTICATE returned no signature",
            ));
        }
        Ok(signature)
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
    use crate::card::discovery::EF_DIR;
    use crate::card::testing::{cps_pin_policy, login, signature_steps, ScriptedTransport};
    use crate::card::transport::{Protocol, TransportError};

    fn profile() -> CardProfile {
        CardProfile {
            card_type: CardType::Cps3,
            icc_serial: IccSerial(vec![0x80, 0x25, 0, 0, 1, 0x99, 0x21, 0x38, 0x45, 0x0F]),
            application: ApplicationAddress::Aid(pkcs15::CPS3_CONTACT_AID.to_vec()),
            key_reference: 0x82,
            pin: cps_pin_policy(),
            certificate_der: vec![],
        }
    }

    const SELECT_APP: &str = "00 A4 04 0C 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10";
    const VERIFY_1234: &str = "00 20 00 01 08 31 32 33 34 FF FF FF FF";
    const PROBE: &str = "00 20 00 01";
    const MSE: &str = "00 22 41 A4 06 80 01 02 84 01 82";

    /// INTERNAL AUTHENTICATE of the SHA-256 DigestInfo of `digest`: under T=0 (the CPS3's
    /// protocol, and the form taken when the protocol is unknown) without Le, under T=1 with Le.
    fn internal_authenticate(digest: &[u8; 32], protocol: Option<Protocol>) -> String {
        let mut apdu =
            String::from("00 88 00 00 33 30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20");
        for byte in digest {
            apdu.push_str(&format!(" {byte:02X}"));
        }
        if protocol == Some(Protocol::T1) {
            apdu.push_str(" 00");
        }
        apdu
    }

    /// The start of every login: the application, the PIN-state probe and the VERIFY of
    /// "1234", with the card's answers to the probe and to the VERIFY.
    fn select_probe_verify<'a>(probe: &'a str, verify: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![(SELECT_APP, "90 00"), (PROBE, probe), (VERIFY_1234, verify)]
    }

    #[test]
    fn reads_the_serial_of_the_vendor_trace() {
        let mut transport = ScriptedTransport::new(vec![
            // The card refuses the read by short identifier (another DF is current).
            ("00 B0 9C 00 0C", "6A 82"),
            ("00 A4 09 0C 04 3F 00 D0 03", "90 00"),
            (
                "00 B0 00 00 0C",
                "5A 0A 80 25 00 00 01 99 21 38 45 0F 90 00",
            ),
        ]);
        let serial = Cps3::new(&mut transport).icc_serial().unwrap();
        assert_eq!(serial.to_hex(), "80250000019921384 50F".replace(' ', ""));
        transport.assert_finished();
    }

    #[test]
    fn refuses_a_card_whose_serial_is_not_cpx() {
        let mut transport = ScriptedTransport::new(vec![
            // The card refuses the read by short identifier (another DF is current).
            ("00 B0 9C 00 0C", "6A 82"),
            ("00 A4 09 0C 04 3F 00 D0 03", "90 00"),
            (
                "00 B0 00 00 0C",
                "5A 0A 80 99 00 00 01 99 21 38 45 0F 90 00",
            ),
        ]);
        let error = Cps3::new(&mut transport).icc_serial().unwrap_err();
        assert!(matches!(error, CardError::Unsupported(_)));
        transport.assert_finished();
    }

    const PIN_DOCP_ANSWER: &str =
        "70 16 BF 81 01 12 A0 10 9A 01 03 9B 01 02 A1 08 8C 06 F3 00 00 13 FF 00 90 00";

    #[test]
    fn reads_pin_tries_from_the_mf_as_the_vendor_trace_does() {
        // Nothing known about the current DF: the MF is selected first, then CARD.md's GET DATA.
        let mut transport = ScriptedTransport::new(vec![
            ("00 A4 09 0C 02 3F 00", "90 00"),
            ("00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80", "61 18"),
            ("00 C0 00 00 18", PIN_DOCP_ANSWER),
        ]);
        let status = Cps3::new(&mut transport).pin_status(&profile()).unwrap();
        assert_eq!(
            status,
            PinStatus {
                retries_left: 2,
                max_retries: Some(3)
            }
        );
        transport.assert_finished();
    }

    #[test]
    fn no_extra_select_when_ef_sn_icc_left_the_mf_current() {
        // A known card: EF.SN.ICC by its short identifier, then the PIN tries, 3 APDUs.
        let mut transport = ScriptedTransport::new(vec![
            (
                "00 B0 9C 00 0C",
                "5A 0A 80 25 00 00 01 99 21 38 45 0F 90 00",
            ),
            ("00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80", "61 18"),
            ("00 C0 00 00 18", PIN_DOCP_ANSWER),
        ]);
        let mut card = Cps3::new(&mut transport);
        card.icc_serial().unwrap();
        assert_eq!(card.pin_status(&profile()).unwrap().retries_left, 2);
        transport.assert_finished();
    }

    #[test]
    fn the_mf_is_selected_again_after_a_file_of_the_application() {
        let mut transport = ScriptedTransport::new(vec![
            ("00 A4 09 04 06 3F 00 00 01 C0 01", "61 06"),
            ("00 C0 00 00 06", "62 04 80 02 00 02 90 00"),
            ("00 B0 00 00 02", "30 00 90 00"),
            ("00 A4 09 0C 02 3F 00", "90 00"),
            ("00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80", "61 18"),
            ("00 C0 00 00 18", PIN_DOCP_ANSWER),
        ]);
        let mut card = Cps3::new(&mut transport);
        card.read_file(&[0x3F, 0x00, 0x00, 0x01, 0xC0, 0x01])
            .unwrap();
        card.pin_status(&profile()).unwrap();
        transport.assert_finished();
    }

    #[test]
    fn signs_the_login_digest_after_one_verify() {
        let digest = [0x5A; 32];
        let ia = internal_authenticate(&digest, None);
        let first_bytes = format!("{}61 19", "AB ".repeat(0xE7));
        let last_bytes = format!("{}90 00", "CD ".repeat(0x19));
        let mut script = select_probe_verify("63 C3", "90 00");
        script.extend([
            (MSE, "90 00"),
            (&ia, "61 00"),
            ("00 C0 00 00 E7", &first_bytes),
            ("00 C0 00 00 19", &last_bytes),
        ]);
        let (signature, sent) = login(ScriptedTransport::new(script), &profile(), "1234", &digest);
        assert_eq!(signature.unwrap().len(), 256);
        assert_eq!(sent, 7);
    }

    /// Every command of a login, byte for byte, under each protocol. Under T=0 no command
    /// carries data and Le together (ISO 7816-3; Cryptolib v5.2 `apdu.c`:140-146): the
    /// INTERNAL AUTHENTICATE goes as case 3 and the signature comes through GET RESPONSE.
    #[test]
    fn the_login_commands_are_exact_under_t0_and_t1() {
        let digest = [0x5A; 32];
        for protocol in [Protocol::T0, Protocol::T1] {
            let ia = internal_authenticate(&digest, Some(protocol));
            let mut script = vec![
                ("00 B0 9C 00 0C".to_owned(), "6A 82".to_owned()),
                ("00 A4 09 0C 04 3F 00 D0 03".to_owned(), "90 00".to_owned()),
                (
                    "00 B0 00 00 0C".to_owned(),
                    "5A 0A 80 25 00 00 01 99 21 38 45 0F 90 00".to_owned(),
                ),
            ];
            match protocol {
                Protocol::T0 => script.extend([
                    (
                        "00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80".to_owned(),
                        "61 18".to_owned(),
                    ),
                    ("00 C0 00 00 18".to_owned(), PIN_DOCP_ANSWER.to_owned()),
                ]),
                Protocol::T1 => script.push((
                    "00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80 00".to_owned(),
                    PIN_DOCP_ANSWER.to_owned(),
                )),
            }
            script.extend([
                (SELECT_APP.to_owned(), "90 00".to_owned()),
                (PROBE.to_owned(), "63 C3".to_owned()),
                (VERIFY_1234.to_owned(), "90 00".to_owned()),
                (MSE.to_owned(), "90 00".to_owned()),
            ]);
            script.extend(signature_steps("00", ia, protocol, "AB"));
            let mut transport = ScriptedTransport::from_owned(&script).over(protocol);
            let mut card = Cps3::new(&mut transport);
            card.icc_serial().unwrap();
            card.pin_status(&profile()).unwrap();
            let signed = card
                .sign_login_digest(&profile(), &Pin::new("1234"), &digest)
                .unwrap();
            assert_eq!(signed, vec![0xAB; 256], "{protocol:?}");
            transport.assert_finished();
        }
    }

    #[test]
    fn a_wrong_pin_stops_before_signing() {
        let script = ScriptedTransport::new(select_probe_verify("63 C3", "63 C2"));
        assert_eq!(
            login(script, &profile(), "1234", &[0; 32]).0,
            Err(CardError::WrongPin { retries_left: 2 })
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
    fn a_pin_the_probe_finds_blocked_is_never_sent() {
        let script = ScriptedTransport::new(vec![(SELECT_APP, "90 00"), (PROBE, "69 83")]);
        assert_eq!(
            login(script, &profile(), "1234", &[0; 32]).0,
            Err(CardError::PinBlocked)
        );
    }

    #[test]
    fn a_malformed_pin_never_reaches_the_card() {
        let (result, _) = login(ScriptedTransport::new(vec![]), &profile(), "12a4", &[0; 32]);
        assert!(matches!(result, Err(CardError::PinFormat(_))));
    }

    #[test]
    fn a_removed_card_is_a_transport_error() {
        let script = ScriptedTransport::new(vec![(SELECT_APP, "90 00"), (PROBE, "63 C3")])
            .failing(VERIFY_1234, TransportError::CardRemoved);
        assert_eq!(
            login(script, &profile(), "1234", &[0; 32]).0,
            Err(CardError::Transport(TransportError::CardRemoved))
        );
    }

    #[test]
    fn reads_a_certificate_file_in_chunks_and_stops_at_the_der_end() {
        // A 0x1F4-byte DER element in a 0x300-byte EF: 0xE7 + 0xE7 + 0x26 bytes.
        let mut der = vec![0x30, 0x82, 0x01, 0xF0];
        der.extend((0..0x1F0).map(|i| i as u8));
        let chunk = |range: std::ops::Range<usize>| {
            let mut s: String = der[range].iter().map(|b| format!("{b:02X} ")).collect();
            s.push_str("90 00");
            s
        };
        let mut transport = ScriptedTransport::new(vec![
            ("00 A4 09 0C 06 3F 00 00 01 C0 01", "90 00"),
            ("00 B0 00 00 E7", &chunk(0..0xE7)),
            ("00 B0 00 E7 E7", &chunk(0xE7..0x1CE)),
            ("00 B0 01 CE 26", &chunk(0x1CE..0x1F4)),
        ]);
        let content = Cps3::new(&mut transport)
            .read_der_file(&[0x3F, 0x00, 0x00, 0x01, 0xC0, 0x01])
            .unwrap();
        assert_eq!(content, der);
        transport.assert_finished();
    }

    #[test]
    fn a_select_answered_90_00_without_fcp_reads_the_file_to_its_end() {
        let mut transport = ScriptedTransport::new(vec![
            ("00 A4 09 04 04 3F 00 2F 00 00", "90 00"),
            ("00 B0 00 00 E7", "6C 04"),
            ("00 B0 00 00 04", "61 02 4F 00 90 00"),
            ("00 B0 00 04 E7", "6B 00"),
        ])
        .over(crate::card::Protocol::T1);
        let content = Cps3::new(&mut transport).read_file(&EF_DIR).unwrap();
        assert_eq!(content, [0x61, 0x02, 0x4F, 0x00]);
        transport.assert_finished();
        // A card that says "end of file" with the last bytes.
        let mut transport = ScriptedTransport::new(vec![
            ("00 A4 09 04 04 3F 00 2F 00", "90 00"),
            ("00 B0 00 00 E7", "61 02 62 82"),
        ]);
        let content = Cps3::new(&mut transport).read_file(&EF_DIR).unwrap();
        assert_eq!(content, [0x61, 0x02]);
    }

    #[test]
    fn a_short_file_ends_the_read_without_error() {
        let mut transport = ScriptedTransport::new(vec![
            ("00 A4 09 04 04 3F 00 2F 00", "61 06"),
            ("00 C0 00 00 06", "62 04 80 02 00 10 90 00"),
            ("00 B0 00 00 10", "6C 04"),
            ("00 B0 00 00 04", "61 02 4F 00 90 00"),
            ("00 B0 00 04 0C", "6B 00"),
        ]);
        let content = Cps3::new(&mut transport).read_file(&EF_DIR).unwrap();
        assert_eq!(content, [0x61, 0x02, 0x4F, 0x00]);
        transport.assert_finished();
    }
}
