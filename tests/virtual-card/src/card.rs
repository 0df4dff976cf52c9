//! The CPS3 card itself: APDU in, response out.
//!
//! One file on purpose: a card is one state machine (selected file, security state, applet,
//! protocol), and each command's answer depends on all of it; split by command, that state would be
//! shared across modules.

use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};

use crate::apdu::{response, Command, StatusWord};
use crate::der_writer::tlv;
use crate::filesystem::{CardFile, FileKind, FilePath, FileSystem};
use crate::fixtures::{self, HolderFixtures};
use crate::ins;
use crate::pkcs15;

// Inside `card` so that the CPS4 profile shares this module's engine.
#[path = "cps4.rs"]
pub mod cps4;

/// Which fixture set (card holder) the card carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Dr Marie DUPONT, Médecin, idNat 810001234567.
    Dupont,
    /// Paul MARTIN, Infirmier, idNat 810009876543.
    Martin,
}

impl Holder {
    fn fixtures(self) -> &'static HolderFixtures {
        match self {
            Holder::Dupont => &fixtures::DUPONT,
            Holder::Martin => &fixtures::MARTIN,
        }
    }
}

/// How the card answers a READ BINARY whose Le goes past the end of the file. Which one a real
/// CPS3 or CPS4 gives is not published (CARD.md); a host must take each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndOfFileAnswer {
    /// `6C xx` with the bytes left (ISO 7816-3 T=0), the default.
    #[default]
    WrongLe,
    /// The bytes left with `62 82`, "end of file reached before Le bytes" (ISO 7816-4).
    EndOfFileWarning,
    /// `6B 00`, no data.
    WrongOffset,
    /// `67 00`, no data.
    WrongLength,
}

/// A PIN the card cannot hold: CPx PINs are 4 to 8 ASCII digits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a card PIN is 4 to 8 decimal digits")]
pub struct InvalidPin;

/// ISO 7816-15's default PKCS#15 application DF (`3F00/5015`).
pub const DEFAULT_APPLICATION_DF: u16 = 0x5015;

/// The largest READ BINARY answer of a CPS3 (IAS-ECC).
pub const READ_BINARY_MAX: usize = 0xE7;
/// INTERNAL AUTHENTICATE input limit: 40 % of a 2048-bit modulus.
pub const INTERNAL_AUTHENTICATE_MAX_INPUT: usize = 102;
const MODULUS_BYTES: usize = 256;
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The current security environment, set by MSE SET and erased by a change of DF or a reset.
#[derive(Clone, Debug, Default)]
struct SecurityEnvironment {
    /// Key chosen for INTERNAL AUTHENTICATE (CRT AT), algorithm RSA PKCS#1 v1.5.
    authentication_key: Option<u8>,
    /// Key chosen for PSO COMPUTE DIGITAL SIGNATURE (CRT DST), SHA-256 + RSA PKCS#1 v1.5.
    signature_key: Option<u8>,
    /// Hash algorithm chosen for PSO HASH (CRT HT): only SHA-256 is implemented.
    hash_sha256: bool,
    /// Result of the last PSO HASH, consumed by PSO CDS.
    digest: Option<[u8; 32]>,
}

/// A software CPS3 (contact, T=0): the file system, PKCS#15 structure, PIN and keys of a real
/// card, with the test PKI of `fixtures/`. See the crate README for the exact behaviour.
pub struct VirtualCard {
    holder: Holder,
    files: FileSystem,
    pin: Vec<u8>,
    pin_tries_left: u8,
    pin_verified: bool,
    current_df: FilePath,
    current_ef: Option<FilePath>,
    security_environment: SecurityEnvironment,
    pending_response: Vec<u8>,
    log: Vec<Vec<u8>>,
    verify_count: usize,
    auth_key: RsaPrivateKey,
    sign_key: RsaPrivateKey,
    /// `Some` for the CPS4 profile: its logical channel and command chain.
    cps4: Option<cps4::Cps4State>,
    /// The application DF's FCP leaves out its file id (see [`VirtualCard::with_relative_layout`]).
    hides_application_fid: bool,
    /// Seen through a contactless interface (see [`VirtualCard::seen_contactless`]).
    contactless: bool,
    /// The file id of the PKCS#15 application DF under the MF.
    app_df: u16,
    /// Under T=0, a command carrying data and Le together is refused `67 00` (see
    /// [`VirtualCard::with_lenient_t0`]).
    strict_t0: bool,
    /// A CPS4 answers SELECT with P2=00 by an FCP template `62` instead of an FCI `6F` (see
    /// [`VirtualCard::with_fcp_template_for_p2_00`]).
    fcp_for_p2_00: bool,
    /// Another applet is selected and answers this status word to every command until the
    /// IAS root is selected (see [`VirtualCard::with_another_applet_selected`]).
    another_applet: Option<StatusWord>,
    /// The answer to a READ BINARY past the end of the file.
    end_of_file: EndOfFileAnswer,
}

impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("holder", &self.holder)
            .field("pin_tries_left", &self.pin_tries_left)
            .field("pin_verified", &self.pin_verified)
            .field("current_df", &self.current_df)
            .field("current_ef", &self.current_ef)
            .finish_non_exhaustive()
    }
}

impl VirtualCard {
    /// A CPS3 of `holder`, PIN "1234", 3 tries, powered on.
    pub fn cps3(holder: Holder) -> Self {
        let fixtures = holder.fixtures();
        // The fixtures are embedded at build time and checked by the crate's tests.
        let load = |der: &[u8]| {
            RsaPrivateKey::from_pkcs8_der(der)
                .unwrap_or_else(|error| panic!("embedded test key is not PKCS#8 RSA: {error}"))
        };
        Self {
            holder,
            files: build_file_system(fixtures),
            pin: b"1234".to_vec(),
            pin_tries_left: pkcs15::PIN_MAX_TRIES,
            pin_verified: false,
            current_df: vec![pkcs15::MF],
            current_ef: None,
            security_environment: SecurityEnvironment::default(),
            pending_response: Vec::new(),
            log: Vec::new(),
            verify_count: 0,
            auth_key: load(fixtures.auth_key_pkcs8),
            sign_key: load(fixtures.sign_key_pkcs8),
            cps4: None,
            hides_application_fid: false,
            contactless: false,
            app_df: pkcs15::APP_DF,
            strict_t0: true,
            fcp_for_p2_00: false,
            another_applet: None,
            end_of_file: EndOfFileAnswer::WrongLe,
        }
    }

    /// The card answers a READ BINARY whose Le goes past the end of the file this way.
    pub fn with_end_of_file_answer(mut self, answer: EndOfFileAnswer) -> Self {
        self.end_of_file = answer;
        self
    }

    /// A card on which another program (CPS2ter or billing software) left another applet
    /// selected: every command is answered `refusal` (`6E 00` or `6A 86`) until the IAS root
    /// `80 25 00 00 01 FF 01 00` is selected by AID, what the Cryptolib does on those two
    /// answers before sending the command again (v5.2 `apdu.c`:458-481, 515-527).
    pub fn with_another_applet_selected(mut self, refusal: u16) -> Self {
        self.another_applet = Some(StatusWord(refusal));
        self
    }

    /// Whether another applet is still selected (see
    /// [`VirtualCard::with_another_applet_selected`]).
    pub fn another_applet_selected(&self) -> bool {
        self.another_applet.is_some()
    }

    /// A CPS4 that answers SELECT with P2=00 by an FCP template (`62`). By default it answers
    /// an FCI (`6F`): the Cryptolib's CPS4 driver keeps the generic ISO select, which asks with
    /// P2=00 and accepts only a `6F` answer (v5.2 `iso7816.c`:451, 477-489, `card-cps4.c`
    /// 1057-1087 sets no select of its own), and it works with real CPS4s.
    pub fn with_fcp_template_for_p2_00(mut self) -> Self {
        self.fcp_for_p2_00 = true;
        self
    }

    /// A card that takes a case-4 command with Le under T=0. By default it answers `67 00`, as
    /// a T=0 reader refuses such a command (GemCCID: mute card; libccid's character-level
    /// readers): under T=0 a case-4 command goes without Le and its answer comes through
    /// `61xx` and GET RESPONSE (ISO 7816-3; Cryptolib v5.2 `apdu.c`:140-146, where the
    /// vendor's own middleware drops Le under T=0).
    pub fn with_lenient_t0(mut self) -> Self {
        self.strict_t0 = false;
        self
    }

    /// Whether this command is one a T=0 line refuses: data and Le together.
    fn refused_under_strict_t0(&self, command: &Command) -> bool {
        self.strict_t0 && !command.data.is_empty() && command.le.is_some()
    }

    /// The variant whose EF.DIR gives the application's path (`51 3F00 0001`); by default
    /// EF.DIR has none, as a real CPS3's most likely (OpenSC #2267).
    pub fn with_ef_dir_path(mut self) -> Self {
        self.files
            .set_content(&[pkcs15::MF, pkcs15::EF_DIR], pkcs15::ef_dir_with_path());
        self
    }

    /// The variant without EF.DIR, its PKCS#15 application at ISO 7816-15's default place
    /// `3F00/5015` with ODF and CDF paths relative to it: what the Cryptolib falls back to when
    /// EF.DIR is missing (CARD.md; CPS4's EF.DIR is unknown).
    pub fn without_ef_dir(mut self) -> Self {
        let app = |fid| [pkcs15::MF, pkcs15::APP_DF, fid];
        self.files
            .set_content(&app(pkcs15::ODF), pkcs15::odf_relative());
        self.files
            .set_content(&app(pkcs15::CDF), pkcs15::cdf_relative());
        self.files.remove(&[pkcs15::MF, pkcs15::EF_DIR]);
        self.files
            .rename_dir(&[pkcs15::MF, pkcs15::APP_DF], DEFAULT_APPLICATION_DF);
        self.app_df = DEFAULT_APPLICATION_DF;
        self
    }

    /// The variant that tells nothing of where its application is: EF.DIR without a path, the
    /// application's FCP without a file id (83), and the ODF and CDF naming files by paths
    /// relative to the application DF. A host reaches its files only by selecting the
    /// application by AID and the files from there.
    pub fn with_relative_layout(mut self) -> Self {
        let app = |fid| [pkcs15::MF, pkcs15::APP_DF, fid];
        self.files
            .set_content(&[pkcs15::MF, pkcs15::EF_DIR], pkcs15::ef_dir());
        self.files
            .set_content(&app(pkcs15::ODF), pkcs15::odf_relative());
        self.files
            .set_content(&app(pkcs15::CDF), pkcs15::cdf_relative());
        self.hides_application_fid = true;
        self
    }

    /// The same card with another PIN (4 to 8 digits). Panics on anything else: use
    /// [`VirtualCard::try_with_pin`] for a PIN that comes from outside.
    pub fn with_pin(self, pin: &str) -> Self {
        match self.try_with_pin(pin) {
            Ok(card) => card,
            Err(error) => panic!("VirtualCard::with_pin: {error}"),
        }
    }

    pub fn try_with_pin(mut self, pin: &str) -> Result<Self, InvalidPin> {
        let length_ok = (pkcs15::PIN_MIN_LENGTH..=pkcs15::PIN_MAX_LENGTH).contains(&pin.len());
        if !length_ok || !pin.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(InvalidPin);
        }
        self.pin = pin.as_bytes().to_vec();
        Ok(self)
    }

    /// Sets the PIN try counter (0 blocks the PIN), e.g. to start a test from a nearly
    /// blocked card.
    pub fn with_pin_tries_left(mut self, tries: u8) -> Self {
        self.pin_tries_left = tries.min(pkcs15::PIN_MAX_TRIES);
        self
    }

    pub fn holder(&self) -> Holder {
        self.holder
    }

    /// The card as a reader's contactless interface shows it: the CPS3 contactless ATR of
    /// CARD.md (pcsc-tools' smartcard_list.txt). Commands are answered as before: a host must
    /// send none, since the vendor allows no signature over contactless.
    pub fn seen_contactless(mut self) -> Self {
        self.contactless = true;
        self
    }

    /// Answer to reset: a CPS3 contact card (T=0), or a CPS4 for [`VirtualCard::cps4`].
    pub fn atr(&self) -> Vec<u8> {
        if self.contactless {
            return vec![
                0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94,
                0x01, 0x80, 0x82, 0x90, 0x00, 0x0E,
            ];
        }
        if self.is_cps4() {
            if self.answers_t1() {
                return cps4::ATR.to_vec();
            }
            return cps4::ATR_T0_ONLY.to_vec();
        }
        vec![
            0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10,
            0x00, 0x90, 0x00,
        ]
    }

    /// Power on, or warm reset: the security state and the current DF are cleared, the PIN
    /// try counter is kept.
    pub fn power_on(&mut self) {
        self.pin_verified = false;
        self.current_df = vec![pkcs15::MF];
        self.current_ef = None;
        self.security_environment = SecurityEnvironment::default();
        self.pending_response.clear();
        if let Some(state) = &mut self.cps4 {
            // A reset closes the logical channels.
            state.reset();
        }
    }

    /// Every command received since creation (full bytes, PINs included: this is a test card).
    pub fn apdu_log(&self) -> &[Vec<u8>] {
        &self.log
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// How many VERIFY commands carried a PIN (status queries without data are not counted).
    pub fn verify_count(&self) -> usize {
        self.verify_count
    }

    pub fn pin_tries_left(&self) -> u8 {
        self.pin_tries_left
    }

    pub fn pin_verified(&self) -> bool {
        self.pin_verified
    }

    pub fn auth_certificate_der(&self) -> &[u8] {
        self.holder.fixtures().auth_certificate
    }

    pub fn sign_certificate_der(&self) -> &[u8] {
        self.holder.fixtures().sign_certificate
    }

    /// The 5 serial bytes after `80 25 00 00 01` in EF.SN.ICC.
    pub fn icc_serial(&self) -> [u8; 5] {
        if self.is_cps4() {
            return cps4::serial(self.holder);
        }
        self.holder.fixtures().icc_serial
    }

    /// One command APDU in, one response APDU (data || SW1 SW2) out. Never panics.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.log.push(apdu.to_vec());
        if let Some(refusal) = self.another_applet {
            let selects_root = matches!(
                Command::parse(apdu),
                Ok(command) if command.ins == ins::SELECT
                    && command.p1 == 0x04
                    && command.data == pkcs15::IAS_ECC_ROOT_AID
            );
            if !selects_root {
                return response(&[], refusal);
            }
            self.another_applet = None;
        }
        if self.is_cps4() {
            return self.transmit_cps4(apdu);
        }
        let command = match Command::parse(apdu) {
            Ok(command) => command,
            Err(status) => {
                self.pending_response.clear();
                return response(&[], status);
            }
        };
        if command.ins != ins::GET_RESPONSE {
            // Response data not fetched right away is lost, as on a T=0 card.
            self.pending_response.clear();
        }
        if self.refused_under_strict_t0(&command) {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if command.cla != 0x00 {
            return response(&[], StatusWord::CLA_NOT_SUPPORTED);
        }
        match command.ins {
            ins::SELECT => self.select(&command),
            ins::READ_BINARY => self.read_binary(&command),
            ins::GET_RESPONSE => self.get_response(&command),
            ins::GET_DATA => self.get_data(&command),
            ins::VERIFY => self.verify(&command),
            ins::MSE => self.manage_security_environment(&command),
            ins::INTERNAL_AUTHENTICATE => self.internal_authenticate(&command),
            ins::PSO => self.perform_security_operation(&command),
            _ => response(&[], StatusWord::INS_NOT_SUPPORTED),
        }
    }

    /// Keeps `data` for GET RESPONSE and answers `61 xx` (T=0 case 4).
    fn hand_out(&mut self, data: Vec<u8>) -> Vec<u8> {
        let status = StatusWord::bytes_remaining(data.len());
        self.pending_response = data;
        response(&[], status)
    }

    fn set_current_df(&mut self, df: FilePath) {
        if self.current_df != df {
            // The security environment belongs to the DF it was set in.
            self.security_environment = SecurityEnvironment::default();
        }
        self.current_df = df;
    }

    fn in_application_path(&self, path: &[u16]) -> bool {
        path == [pkcs15::MF, self.app_df]
    }

    fn in_application(&self) -> bool {
        self.current_df == [pkcs15::MF, self.app_df]
    }

    // ---- SELECT ------------------------------------------------------------------------

    fn select(&mut self, command: &Command) -> Vec<u8> {
        // What comes back: nothing, the FCP template (62) or, on a CPS4 asked with P2=00, an
        // FCI (6F). A CPS3 refuses P2=00 on its AID (6A 86, CARD.md).
        let (wants_fcp, as_fci) = match command.p2 {
            0x0C => (false, false),
            0x04 => (true, false),
            0x00 if self.is_cps4() => (true, !self.fcp_for_p2_00),
            0x00 if command.p1 != 0x04 => (true, false),
            _ => return response(&[], StatusWord::WRONG_P1_P2),
        };
        let target = match self.resolve_selection(command) {
            Ok(file) => file.clone(),
            Err(status) => return response(&[], status),
        };
        if target.is_dedicated() {
            self.set_current_df(target.path.clone());
            self.current_ef = None;
        } else {
            let parent = target.path[..target.path.len() - 1].to_vec();
            self.set_current_df(parent);
            self.current_ef = Some(target.path.clone());
        }
        if wants_fcp {
            let with_fid = !(self.hides_application_fid && self.in_application_path(&target.path));
            let mut answer = target.fcp_with_fid(with_fid);
            if as_fci {
                // The same objects in an FCI template: 6F in place of 62, same length.
                answer[0] = 0x6F;
            }
            self.hand_out(answer)
        } else {
            response(&[], StatusWord::OK)
        }
    }

    fn resolve_selection(&self, command: &Command) -> Result<&CardFile, StatusWord> {
        let data = command.data;
        let not_found = StatusWord::FILE_NOT_FOUND;
        match command.p1 {
            // By FID in the current DF; 3F00 or no data: the MF.
            0x00 => match fid_list(data)?.as_slice() {
                [] => self.files.get(&[pkcs15::MF]).ok_or(not_found),
                [pkcs15::MF] => self.files.get(&[pkcs15::MF]).ok_or(not_found),
                [fid] => self.files.child(&self.current_df, *fid).ok_or(not_found),
                _ => Err(StatusWord::WRONG_LENGTH),
            },
            // Child DF.
            0x01 => match fid_list(data)?.as_slice() {
                [fid] => self
                    .files
                    .child(&self.current_df, *fid)
                    .filter(|file| file.is_dedicated())
                    .ok_or(not_found),
                _ => Err(StatusWord::WRONG_LENGTH),
            },
            // EF of the current DF. 3F00 is tolerated here because OpenSC's IAS-ECC driver
            // selects the MF that way before reading a PIN's policy.
            0x02 => match fid_list(data)?.as_slice() {
                [pkcs15::MF] => self.files.get(&[pkcs15::MF]).ok_or(not_found),
                [fid] => self
                    .files
                    .child(&self.current_df, *fid)
                    .filter(|file| !file.is_dedicated())
                    .ok_or(not_found),
                _ => Err(StatusWord::WRONG_LENGTH),
            },
            // Parent DF.
            0x03 => {
                if !data.is_empty() {
                    return Err(StatusWord::WRONG_LENGTH);
                }
                let parent_length = self.current_df.len().saturating_sub(1).max(1);
                self.files
                    .get(&self.current_df[..parent_length])
                    .ok_or(not_found)
            }
            // By DF name (AID), exact match.
            0x04 => {
                if data.is_empty() || data.len() > 16 {
                    return Err(StatusWord::WRONG_LENGTH);
                }
                self.files.dedicated_by_name(data).ok_or(not_found)
            }
            // Path from the MF, MF identifier omitted.
            0x08 => {
                let fids = fid_list(data)?;
                if fids.is_empty() {
                    return Err(StatusWord::WRONG_LENGTH);
                }
                self.files.walk(&[pkcs15::MF], &fids).ok_or(not_found)
            }
            // Path from the current DF; like the CPS3, a path starting with 3F00 is taken as
            // absolute.
            0x09 => {
                let fids = fid_list(data)?;
                match fids.split_first() {
                    None => Err(StatusWord::WRONG_LENGTH),
                    Some((&pkcs15::MF, rest)) => {
                        self.files.walk(&[pkcs15::MF], rest).ok_or(not_found)
                    }
                    Some(_) => self.files.walk(&self.current_df, &fids).ok_or(not_found),
                }
            }
            _ => Err(StatusWord::WRONG_P1_P2),
        }
    }

    // ---- READ BINARY / GET RESPONSE ------------------------------------------------------

    fn read_binary(&mut self, command: &Command) -> Vec<u8> {
        if !command.data.is_empty() {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        let (file, offset) = if command.p1 & 0x80 != 0 {
            // P1 = 100x xxxx: short EF identifier, P2 = offset; the EF becomes current.
            if command.p1 & 0x60 != 0 {
                return response(&[], StatusWord::WRONG_P1_P2);
            }
            let Some(file) = self
                .files
                .child_by_sfi(&self.current_df, command.p1 & 0x1F)
                .cloned()
            else {
                return response(&[], StatusWord::FILE_NOT_FOUND);
            };
            self.current_ef = Some(file.path.clone());
            (file, usize::from(command.p2))
        } else {
            let Some(file) = self
                .current_ef
                .as_ref()
                .and_then(|path| self.files.get(path))
                .cloned()
            else {
                return response(&[], StatusWord::NO_CURRENT_EF);
            };
            let offset = usize::from(u16::from_be_bytes([command.p1, command.p2]));
            (file, offset)
        };
        let FileKind::Elementary { content, .. } = &file.kind else {
            return response(&[], StatusWord::NO_CURRENT_EF);
        };
        if offset >= content.len() {
            return response(&[], StatusWord::OFFSET_OUTSIDE_FILE);
        }
        let available = (content.len() - offset).min(self.read_binary_limit());
        let wanted = command.le.unwrap_or(256);
        if wanted > available {
            let at_end = offset + available == content.len();
            return match self.end_of_file {
                // Past the card's own chunk limit, not the file's end: 6C as ever.
                _ if !at_end => response(&[], StatusWord::wrong_le(available)),
                EndOfFileAnswer::WrongLe => response(&[], StatusWord::wrong_le(available)),
                EndOfFileAnswer::EndOfFileWarning => response(
                    &content[offset..offset + available],
                    StatusWord::END_OF_FILE_REACHED,
                ),
                EndOfFileAnswer::WrongOffset => response(&[], StatusWord::OFFSET_OUTSIDE_FILE),
                EndOfFileAnswer::WrongLength => response(&[], StatusWord::WRONG_LENGTH),
            };
        }
        response(&content[offset..offset + wanted], StatusWord::OK)
    }

    fn get_response(&mut self, command: &Command) -> Vec<u8> {
        if command.p1 != 0 || command.p2 != 0 {
            self.pending_response.clear();
            return response(&[], StatusWord::WRONG_P1_P2);
        }
        if !command.data.is_empty() {
            self.pending_response.clear();
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if self.pending_response.is_empty() {
            return response(&[], StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let wanted = command.le.unwrap_or(256);
        let available = self.pending_response.len();
        if wanted > available {
            return response(&[], StatusWord::wrong_le(available));
        }
        let rest = self.pending_response.split_off(wanted);
        let chunk = std::mem::replace(&mut self.pending_response, rest);
        let status = if self.pending_response.is_empty() {
            StatusWord::OK
        } else {
            StatusWord::bytes_remaining(self.pending_response.len())
        };
        response(&chunk, status)
    }

    // ---- GET DATA on security data objects (IAS-ECC) ------------------------------------

    fn get_data(&mut self, command: &Command) -> Vec<u8> {
        if command.p1 != 0x3F || command.p2 != 0xFF {
            return response(&[], StatusWord::WRONG_P1_P2);
        }
        let Some(request) = SdoRequest::parse(command.data) else {
            return response(&[], StatusWord::WRONG_DATA);
        };
        match (request.class, request.reference) {
            // The cardholder PIN: a global object of the MF, found only from the MF. The vendor
            // selects 3F00 before this GET DATA (Cryptolib trace in OpenSC issue #2275), and
            // OpenSC commits fcd2e665f and e3a3722ad record `6A 88` for it from inside DF 0001
            // and `90 00` from 3F00.
            (0x01, pkcs15::PIN_REFERENCE) if self.current_df != [pkcs15::MF] => {
                response(&[], StatusWord::REFERENCE_NOT_FOUND)
            }
            (0x01, pkcs15::PIN_REFERENCE) => {
                let answer = match request.tag.as_slice() {
                    [0xA0] => self.pin_docp(),
                    [0x7F, 0x41] => pin_sizes(),
                    _ => return response(&[], StatusWord::WRONG_DATA),
                };
                // Looking the object up leaves the MF as current DF: the host must select
                // its application again.
                self.set_current_df(vec![pkcs15::MF]);
                self.current_ef = None;
                self.hand_out(answer)
            }
            // The RSA private keys: local objects of the application DF.
            (0x10, reference) if self.in_application() => {
                let Some(key) = key_by_sdo_reference(reference) else {
                    return response(&[], StatusWord::REFERENCE_NOT_FOUND);
                };
                match request.tag.as_slice() {
                    [0xA0] => self.hand_out(private_key_docp(key)),
                    // A private key has no public part to read.
                    _ => response(&[], StatusWord::WRONG_DATA),
                }
            }
            _ => response(&[], StatusWord::REFERENCE_NOT_FOUND),
        }
    }

    /// `70 { BF 81 01 { A0 { 9A max tries, 9B tries left, A1 { 8C access rules } } } }`, the
    /// answer of a CPS3 (vendor trace, CARD.md).
    fn pin_docp(&self) -> Vec<u8> {
        let docp = [
            tlv(&[0x9A], &[pkcs15::PIN_MAX_TRIES]),
            tlv(&[0x9B], &[self.pin_tries_left]),
            tlv(
                &[0xA1],
                &tlv(&[0x8C], &[0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00]),
            ),
        ]
        .concat();
        sdo_answer(&[0xBF, 0x81, pkcs15::PIN_REFERENCE], &tlv(&[0xA0], &docp))
    }

    // ---- VERIFY ---------------------------------------------------------------------------

    fn verify(&mut self, command: &Command) -> Vec<u8> {
        if command.p1 != 0x00 {
            return response(&[], StatusWord::WRONG_P1_P2);
        }
        if command.p2 != pkcs15::PIN_REFERENCE {
            return response(&[], StatusWord::REFERENCE_NOT_FOUND);
        }
        if command.data.is_empty() {
            // Status query: spends nothing.
            let status = if self.pin_tries_left == 0 {
                StatusWord::AUTHENTICATION_BLOCKED
            } else if self.pin_verified {
                StatusWord::OK
            } else {
                StatusWord::verification_failed(self.pin_tries_left)
            };
            return response(&[], status);
        }
        self.verify_count += 1;
        if self.pin_tries_left == 0 {
            return response(&[], StatusWord::AUTHENTICATION_BLOCKED);
        }
        if command.data.len() != pkcs15::PIN_STORED_LENGTH {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        let mut expected = self.pin.clone();
        expected.resize(pkcs15::PIN_STORED_LENGTH, pkcs15::PIN_PAD_CHAR);
        if command.data == expected.as_slice() {
            self.pin_tries_left = pkcs15::PIN_MAX_TRIES;
            self.pin_verified = true;
            response(&[], StatusWord::OK)
        } else {
            // The attempt that spends the last try answers 63 C0; the next ones 69 83.
            self.pin_tries_left -= 1;
            self.pin_verified = false;
            response(&[], StatusWord::verification_failed(self.pin_tries_left))
        }
    }

    // ---- MSE SET ----------------------------------------------------------------------------

    fn manage_security_environment(&mut self, command: &Command) -> Vec<u8> {
        match self.set_security_environment(command) {
            Ok(()) => response(&[], StatusWord::OK),
            Err(status) => response(&[], status),
        }
    }

    /// MSE SET's work, with the status word of a refusal as the error.
    fn set_security_environment(&mut self, command: &Command) -> Result<(), StatusWord> {
        use pkcs15::{
            ALGO_RSA_PKCS1, ALGO_RSA_PKCS1_SHA256, AUTH_KEY_REFERENCE, SIGN_KEY_REFERENCE,
        };
        if command.p1 != 0x41 {
            return Err(StatusWord::WRONG_P1_P2);
        }
        let template =
            ControlReferenceTemplate::parse(command.data).ok_or(StatusWord::WRONG_DATA)?;
        match command.p2 {
            // Authentication template: INTERNAL AUTHENTICATE.
            0xA4 => {
                let key = self.chosen_key(&template, AUTH_KEY_REFERENCE, ALGO_RSA_PKCS1)?;
                self.security_environment.authentication_key = Some(key);
            }
            // Digital signature template: PSO COMPUTE DIGITAL SIGNATURE.
            0xB6 => {
                let key = self.chosen_key(&template, SIGN_KEY_REFERENCE, ALGO_RSA_PKCS1_SHA256)?;
                self.security_environment.signature_key = Some(key);
            }
            // Hash template: PSO HASH.
            0xAA => {
                if template.key.is_some() || template.algorithm != Some(pkcs15::ALGO_SHA256) {
                    return Err(StatusWord::WRONG_DATA);
                }
                self.security_environment.hash_sha256 = true;
                self.security_environment.digest = None;
            }
            _ => return Err(StatusWord::WRONG_P1_P2),
        }
        Ok(())
    }

    /// The key an MSE SET template chooses, when it is a key of the application DF, the one for
    /// this template (`key_for_template`), with the card's one `algorithm` for it; else the
    /// status word the card answers: `6A 88` for a key absent or for another use, then `6A 80`
    /// for another algorithm.
    fn chosen_key(
        &self,
        template: &ControlReferenceTemplate,
        key_for_template: u8,
        algorithm: u8,
    ) -> Result<u8, StatusWord> {
        let key = template
            .key
            .filter(|key| self.key_is_here(*key) && *key == key_for_template)
            .ok_or(StatusWord::REFERENCE_NOT_FOUND)?;
        if template.algorithm != Some(algorithm) {
            return Err(StatusWord::WRONG_DATA);
        }
        Ok(key)
    }

    /// The keys are local objects of the application DF.
    fn key_is_here(&self, key: u8) -> bool {
        self.in_application()
            && (key == pkcs15::AUTH_KEY_REFERENCE || key == pkcs15::SIGN_KEY_REFERENCE)
    }

    // ---- INTERNAL AUTHENTICATE / PSO ----------------------------------------------------------

    fn internal_authenticate(&mut self, command: &Command) -> Vec<u8> {
        if command.p1 != 0 || command.p2 != 0 {
            return response(&[], StatusWord::WRONG_P1_P2);
        }
        if command.data.is_empty() || command.data.len() > INTERNAL_AUTHENTICATE_MAX_INPUT {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if self.security_environment.authentication_key != Some(pkcs15::AUTH_KEY_REFERENCE) {
            return response(&[], StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if !self.pin_verified {
            return response(&[], StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        match sign_pkcs1_type1(&self.auth_key, command.data) {
            Some(signature) => self.hand_out(signature),
            None => response(&[], StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }

    fn perform_security_operation(&mut self, command: &Command) -> Vec<u8> {
        match (command.p1, command.p2) {
            (0x90, 0xA0) => self.pso_hash(command.data),
            (0x9E, 0x9A) => self.pso_compute_digital_signature(command),
            _ => response(&[], StatusWord::WRONG_P1_P2),
        }
    }

    /// PSO HASH: `90 L <intermediate SHA-256 state || bit count>` (or `90 00`) then
    /// `80 L <last bytes>`: the card finishes the hash the host started.
    fn pso_hash(&mut self, data: &[u8]) -> Vec<u8> {
        if !self.security_environment.hash_sha256 {
            return response(&[], StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let Some(digest) = finish_sha256(data) else {
            return response(&[], StatusWord::WRONG_DATA);
        };
        self.security_environment.digest = Some(digest);
        response(&[], StatusWord::OK)
    }

    fn pso_compute_digital_signature(&mut self, command: &Command) -> Vec<u8> {
        if !command.data.is_empty() {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if self.security_environment.signature_key != Some(pkcs15::SIGN_KEY_REFERENCE) {
            return response(&[], StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if !self.pin_verified {
            return response(&[], StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let Some(digest) = self.security_environment.digest.take() else {
            return response(&[], StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let digest_info = [&SHA256_DIGEST_INFO_PREFIX[..], &digest].concat();
        match sign_pkcs1_type1(&self.sign_key, &digest_info) {
            Some(signature) => self.hand_out(signature),
            None => response(&[], StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }
}

/// List of FIDs from a SELECT data field (even length).
fn fid_list(data: &[u8]) -> Result<Vec<u16>, StatusWord> {
    if data.len() & 1 != 0 {
        return Err(StatusWord::WRONG_LENGTH);
    }
    Ok(data
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect())
}

/// GET DATA request for a security data object:
/// `4D L { 70 L { BF <class|80> <reference> L <tag> 80 } }`.
struct SdoRequest {
    class: u8,
    reference: u8,
    tag: Vec<u8>,
}

impl SdoRequest {
    fn parse(data: &[u8]) -> Option<Self> {
        let [0x4D, l1, 0x70, l2, 0xBF, class, reference, l3, tag @ ..] = data else {
            return None;
        };
        let consistent = usize::from(*l1) == data.len() - 2
            && usize::from(*l2) == data.len() - 4
            && usize::from(*l3) == data.len() - 8;
        // The tag list ends with the length byte 80 ("the whole object").
        let (&0x80, tag) = tag.split_last()? else {
            return None;
        };
        if !consistent || tag.is_empty() || class & 0x80 == 0 {
            return None;
        }
        Some(Self {
            class: class & 0x7F,
            reference: *reference,
            tag: tag.to_vec(),
        })
    }
}

/// `70 { <sdo header> { content } }`.
fn sdo_answer(header: &[u8], content: &[u8]) -> Vec<u8> {
    tlv(&[0x70], &tlv(header, content))
}

/// CHV public data `7F41 { 80 max length, 81 min length }`, in the layout OpenSC's IAS-ECC
/// driver parses (iasecc-sdo.c). Not seen in a CPS3 trace.
fn pin_sizes() -> Vec<u8> {
    let sizes = [
        tlv(&[0x80], &[pkcs15::PIN_MAX_LENGTH as u8]),
        tlv(&[0x81], &[pkcs15::PIN_MIN_LENGTH as u8]),
    ]
    .concat();
    sdo_answer(
        &[0xBF, 0x81, pkcs15::PIN_REFERENCE],
        &tlv(&[0x7F, 0x41], &sizes),
    )
}

/// SDO reference of a private key (OpenSC sends the key reference without its local bit).
fn key_by_sdo_reference(reference: u8) -> Option<u8> {
    match reference | 0x80 {
        pkcs15::AUTH_KEY_REFERENCE => Some(pkcs15::AUTH_KEY_REFERENCE),
        pkcs15::SIGN_KEY_REFERENCE => Some(pkcs15::SIGN_KEY_REFERENCE),
        _ => None,
    }
}

/// DOCP of an RSA private key SDO: access rules (PSO CDS, INTERNAL AUTHENTICATE, PSO
/// DECIPHER, GENERATE, PUT DATA, GET DATA: 12 = after user authentication, FF = never,
/// 00 = always), the non-repudiation flag and the key size in bytes.
fn private_key_docp(key: u8) -> Vec<u8> {
    let (rules, non_repudiation) = if key == pkcs15::AUTH_KEY_REFERENCE {
        ([0x7B, 0xFF, 0x12, 0x12, 0xFF, 0xFF, 0x00], 0x00)
    } else {
        ([0x7B, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x00], 0x01)
    };
    let docp = [
        tlv(&[0xA1], &tlv(&[0x8C], &rules)),
        tlv(&[0x9E], &[non_repudiation]),
        tlv(&[0x80], &(MODULUS_BYTES as u16).to_be_bytes()),
    ]
    .concat();
    sdo_answer(&[0xBF, 0x90, key & 0x7F], &tlv(&[0xA0], &docp))
}

/// CRT data objects of MSE SET, in any order: `80 01 algorithm`, `84 01 key reference`.
struct ControlReferenceTemplate {
    algorithm: Option<u8>,
    key: Option<u8>,
}

impl ControlReferenceTemplate {
    fn parse(mut data: &[u8]) -> Option<Self> {
        let mut template = Self {
            algorithm: None,
            key: None,
        };
        while !data.is_empty() {
            let [tag, 0x01, value, rest @ ..] = data else {
                return None;
            };
            match tag {
                0x80 => template.algorithm = Some(*value),
                0x84 => template.key = Some(*value),
                _ => return None,
            }
            data = rest;
        }
        Some(template)
    }
}

/// What the card does for INTERNAL AUTHENTICATE and PSO CDS: PKCS#1 v1.5 type 01 padding of
/// `input`, then the raw RSA private-key operation.
fn sign_pkcs1_type1(key: &RsaPrivateKey, input: &[u8]) -> Option<Vec<u8>> {
    let size = key.size();
    if input.len() + 11 > size {
        return None;
    }
    let mut block = vec![0xFF; size];
    block[0] = 0x00;
    block[1] = 0x01;
    block[size - input.len() - 1] = 0x00;
    block[size - input.len()..].copy_from_slice(input);
    let signature = rsa::hazmat::rsa_decrypt_and_check(
        key,
        Some(&mut rsa::rand_core::OsRng),
        &BigUint::from_bytes_be(&block),
    )
    .ok()?;
    let bytes = signature.to_bytes_be();
    let mut out = vec![0u8; size.checked_sub(bytes.len())?];
    out.extend(bytes);
    Some(out)
}

/// Finishes a SHA-256 from PSO HASH data (see [`VirtualCard::pso_hash`]).
fn finish_sha256(data: &[u8]) -> Option<[u8; 32]> {
    let [0x90, state_length, rest @ ..] = data else {
        return None;
    };
    let state_length = usize::from(*state_length);
    if rest.len() < state_length {
        return None;
    }
    let (intermediate, rest) = rest.split_at(state_length);
    let [0x80, last_length, last @ ..] = rest else {
        return None;
    };
    if last.len() != usize::from(*last_length) || last.len() > 64 {
        return None;
    }
    let (mut state, processed_bits) = match intermediate.len() {
        0 => (SHA256_INITIAL_STATE, 0u64),
        40 => {
            let mut state = [0u32; 8];
            for (word, bytes) in state.iter_mut().zip(intermediate[..32].chunks_exact(4)) {
                *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
            let mut count = [0u8; 8];
            count.copy_from_slice(&intermediate[32..]);
            let bits = u64::from_be_bytes(count);
            if bits % 512 != 0 {
                return None;
            }
            (state, bits)
        }
        _ => return None,
    };
    let total_bits = processed_bits.checked_add(8 * last.len() as u64)?;
    let mut tail = last.to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0x00);
    }
    tail.extend_from_slice(&total_bits.to_be_bytes());
    compress_sha256_blocks(&mut state, &tail);
    let mut digest = [0u8; 32];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    Some(digest)
}

/// Runs the SHA-256 compression function over whole 64-byte blocks of `data`.
fn compress_sha256_blocks(state: &mut [u32; 8], data: &[u8]) {
    let blocks: Vec<_> = data
        .chunks_exact(64)
        .filter_map(|block| <[u8; 64]>::try_from(block).ok())
        .map(Into::into)
        .collect();
    sha2::compress256(state, &blocks);
}

const SHA256_INITIAL_STATE: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

fn build_file_system(fixtures: &HolderFixtures) -> FileSystem {
    use pkcs15::*;
    let df = |path: Vec<u16>, name: Option<&[u8]>| CardFile {
        path,
        kind: FileKind::Dedicated {
            name: name.map(<[u8]>::to_vec),
        },
    };
    let ef = |path: Vec<u16>, content: Vec<u8>, sfi: Option<u8>| CardFile {
        path,
        kind: FileKind::Elementary { content, sfi },
    };
    let app = |fid: u16| vec![MF, APP_DF, fid];
    FileSystem::new(vec![
        df(vec![MF], Some(&IAS_ECC_ROOT_AID)),
        ef(vec![MF, EF_DIR], ef_dir(), Some(SFI_EF_DIR)),
        ef(vec![MF, EF_ATR], ef_atr(), Some(SFI_EF_ATR)),
        ef(
            vec![MF, EF_SN_ICC],
            ef_sn_icc(&fixtures.icc_serial),
            Some(SFI_EF_SN_ICC),
        ),
        df(vec![MF, APP_DF], Some(&PKCS15_AID)),
        ef(app(ODF), odf(), None),
        ef(app(TOKEN_INFO), token_info(&fixtures.icc_serial), None),
        ef(app(AODF), aodf(), None),
        ef(app(PRKDF), prkdf(), None),
        ef(app(CDF), cdf(), None),
        ef(
            app(AUTH_CERTIFICATE),
            allocate(fixtures.auth_certificate.to_vec(), CERTIFICATE_FILE_SIZE),
            None,
        ),
        ef(
            app(SIGN_CERTIFICATE),
            allocate(fixtures.sign_certificate.to_vec(), CERTIFICATE_FILE_SIZE),
            None,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn finishing_a_hash_from_an_intermediate_state_matches_sha256() {
        let message: Vec<u8> = (0..190u8).collect();
        // The host hashes the first full blocks and sends the state; the card does the rest.
        let processed = 128;
        let mut state = SHA256_INITIAL_STATE;
        compress_sha256_blocks(&mut state, &message[..processed]);
        let mut data = vec![0x90, 40];
        for word in state {
            data.extend_from_slice(&word.to_be_bytes());
        }
        data.extend_from_slice(&(processed as u64 * 8).to_be_bytes());
        data.extend_from_slice(&[0x80, (message.len() - processed) as u8]);
        data.extend_from_slice(&message[processed..]);
        let expected: [u8; 32] = Sha256::digest(&message).into();
        assert_eq!(finish_sha256(&data), Some(expected));

        let short = b"hello";
        let mut one_shot = vec![0x90, 0x00, 0x80, short.len() as u8];
        one_shot.extend_from_slice(short);
        let expected: [u8; 32] = Sha256::digest(short).into();
        assert_eq!(finish_sha256(&one_shot), Some(expected));
    }

    #[test]
    fn malformed_hash_input_is_refused() {
        assert_eq!(finish_sha256(&[]), None);
        assert_eq!(finish_sha256(&[0x90, 0x00]), None);
        assert_eq!(finish_sha256(&[0x90, 0x00, 0x80, 0x05, 1, 2]), None);
        assert_eq!(finish_sha256(&[0x90, 0x03, 1, 2, 3, 0x80, 0x00]), None);
    }

    #[test]
    fn sdo_requests_parse_as_sent_by_hosts_and_opensc() {
        let docp = SdoRequest::parse(&[0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, 0x01, 0x02, 0xA0, 0x80]);
        assert_eq!(
            docp.map(|r| (r.class, r.reference, r.tag)),
            Some((0x01, 0x01, vec![0xA0]))
        );
        let chv = SdoRequest::parse(&[
            0x4D, 0x09, 0x70, 0x07, 0xBF, 0x81, 0x01, 0x03, 0x7F, 0x41, 0x80,
        ]);
        assert_eq!(chv.map(|r| r.tag), Some(vec![0x7F, 0x41]));
        assert!(
            SdoRequest::parse(&[0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, 0x01, 0x02, 0xA0]).is_none()
        );
        assert!(
            SdoRequest::parse(&[0x4D, 0x07, 0x70, 0x06, 0xBF, 0x81, 0x01, 0x02, 0xA0, 0x80])
                .is_none()
        );
    }
}
