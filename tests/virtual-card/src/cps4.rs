//! The CPS4 profile of the virtual card, as ANS's Cryptolib CPS drives a CPS4 (`card-cps4.c`,
//! `card-cps.c`, `pkcs15-sec.c`; there is no public APDU trace of a real CPS4).
//!
//! - ATR `3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44` (the production CPS4 of CARD.md),
//!   which offers T=0 and T=1: pcsc-lite negotiates T=1 (`PHSetProtocol` tries it first; vpcd's
//!   `IFDHSetProtocolParameters` accepts any). So the card answers as a T=1 card: a SELECT that
//!   asks for an FCP and the last PSO DECIPHER part need Le (`67 00` without), and data comes at
//!   once with `90 00`, never `61xx`. `with_t0_answers()` gives the T=0 behaviour instead.
//! - The PKI applet `80 25 00 00 01 FF 01 00` lives on logical channel 1 (CLA `01`). Channel 1
//!   is closed at power-on; a SELECT of the applet by AID on it opens it (implicit opening, what
//!   the Cryptolib does), and so does MANAGE CHANNEL. Selecting the applet makes its MF current
//!   and clears the PIN verification, as a Java Card applet's selection usually does.
//! - The basic channel holds no application: the CPS2ter (CLA `A0`) is left out, so SELECT there
//!   answers `6A 82` and CLA `A0` `6E 00`.
//! - Behind the applet, the same file system and PKCS#15 application as the CPS3 profile (the
//!   Cryptolib binds the same PKCS#15 AID), without EF.ATR, with the authentication key at
//!   reference 0x20 (the Cryptolib's `CPS4_AUTH_PRIV_KEY_ID`) and the signature key at 0x21 (our
//!   choice), and its own ICC serial. READ BINARY answers up to 256 bytes (the Cryptolib's
//!   `max_recv_size` for a CPS4).
//! - PIN reference 1, as on the CPS3 (the Cryptolib takes it from the AODF; its value on a real
//!   CPS4 is not published). VERIFY without data reads the tries without spending one.
//! - Login: MSE SET `01 22 41 B8 03 83 01 20`, then PSO DECIPHER `01 2A 80 86` of a 256-byte
//!   block the host has padded (PKCS#1 v1.5 type 01), in a command chain (CLA `11` on all but
//!   the last part). The card applies the raw private key, after refusing (`6A 80`) a block
//!   that is not type-01 padded. No INTERNAL AUTHENTICATE, no GET DATA (`6D 00`), no document
//!   signature (`6A 86`).
//!
//! The module sits inside `card` to share the CPS3 engine (SELECT, READ BINARY, GET RESPONSE,
//! VERIFY) and adds only what differs.

use super::*;
use crate::der_writer::{
    context_primitive, integer, named_bits, octet_string, sequence, utf8_string,
};

/// Answer to reset: the production CPS4 (T=0 and T=1 offered; TCK correct).
pub const ATR: [u8; 17] = [
    0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90,
    0x44,
];
/// The PKI applet; its MF carries this DF name.
pub const PKI_APPLET_AID: [u8; 8] = pkcs15::IAS_ECC_ROOT_AID;
/// Answer to reset of the CPS4 that offers T=0 only (CARD.md: TD1 = 00), which the card
/// takes with [`VirtualCard::with_t0_answers`] so that pcscd negotiates T=0 as it would.
pub const ATR_T0_ONLY: [u8; 17] = [
    0x3B, 0xDC, 0x18, 0xFF, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01, 0x00, 0x90,
    0x00,
];
/// The legacy CPS2ter application, absent from this card.
pub const CPS2TER_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x02];
/// The logical channel of the PKI applet.
pub const PKI_CHANNEL: u8 = 1;
/// The authentication key (PrKDF keyReference and MSE `83`), as the Cryptolib names it.
pub const AUTH_KEY_REFERENCE: u8 = 0x20;
/// The signature key; the Cryptolib only says it sends the reference with bit 0x80 set.
pub const SIGN_KEY_REFERENCE: u8 = 0x21;
/// Largest READ BINARY answer of this profile.
pub const READ_BINARY_LIMIT: usize = 256;
/// Modulus size of the keys: the size of a PSO DECIPHER block.
pub const BLOCK_SIZE: usize = MODULUS_BYTES;

/// The first serial byte of a CPS4, in place of the fixtures' `10`: a CPS4 and a CPS3 of the
/// same holder are two cards with two serials.
const SERIAL_FIRST_BYTE: u8 = 0x40;
const CLA_CHAINING: u8 = 0x10;
/// Class bits outside what this card takes: proprietary class (b8-b6) and secure messaging.
const CLA_UNSUPPORTED: u8 = 0xEC;
const CLA_CHANNEL: u8 = 0x03;
const INS_MANAGE_CHANNEL: u8 = 0x70;
const STATUS_CHANNEL_NOT_SUPPORTED: StatusWord = StatusWord(0x6881);
const STATUS_CHAINING_NOT_SUPPORTED: StatusWord = StatusWord(0x6884);
const STATUS_NO_FREE_CHANNEL: StatusWord = StatusWord(0x6A81);
/// PKCS#1 v1.5: at least 8 padding bytes.
const MIN_PADDING: usize = 8;

/// Logical channel 1 and the command chain in progress; reset by power-on.
#[derive(Clone, Debug, Default)]
pub(super) struct Cps4State {
    channel: ChannelState,
    /// PSO DECIPHER data received in parts with CLA `1x`, waiting for the last part.
    chain: Option<Vec<u8>>,
    /// The card answers as a T=0 card (`61xx`, case 4 without Le) instead of T=1.
    t0_answers: bool,
    /// The applet refuses its first selection after power-on until the card manager has been
    /// selected (see [`VirtualCard::with_applet_needing_reselect`]).
    applet_needs_reselect: bool,
    /// The card manager has been selected since power-on.
    card_manager_selected: bool,
}

impl Cps4State {
    /// The state after power-on or closing the channel: the configuration stays.
    pub(super) fn reset(&mut self) {
        *self = Cps4State {
            t0_answers: self.t0_answers,
            applet_needs_reselect: self.applet_needs_reselect,
            ..Cps4State::default()
        };
    }
}

/// The GlobalPlatform card manager (the Cryptolib's `CPS4_AID_IDS`).
pub const CARD_MANAGER_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ChannelState {
    #[default]
    Closed,
    /// Opened by MANAGE CHANNEL, no application selected yet.
    Open,
    AppletSelected,
}

/// The ICC serial bytes of a CPS4 of `holder` (after `80 25 00 00 01`).
pub(super) fn serial(holder: Holder) -> [u8; 5] {
    let mut serial = holder.fixtures().icc_serial;
    serial[0] = SERIAL_FIRST_BYTE;
    serial
}

impl VirtualCard {
    /// A CPS4 of `holder`, PIN "1234", 3 tries, powered on (channel 1 closed).
    pub fn cps4(holder: Holder) -> Self {
        let mut card = Self::cps3(holder);
        card.files = file_system(holder.fixtures(), &serial(holder));
        card.cps4 = Some(Cps4State::default());
        card
    }

    /// The CPS4 answering as a T=0 card: data of a case-4 command through `61xx` and GET
    /// RESPONSE, Le optional. By default a CPS4 answers as the T=1 card pcscd makes of the
    /// production ATR (it offers T=0 and T=1; pcsc-lite's `PHSetProtocol` tries T=1 first, and
    /// vpcd accepts any protocol): a command that returns data needs Le (`67 00` without), and
    /// the data comes back at once with `90 00`, never `61xx`.
    pub fn with_t0_answers(mut self) -> Self {
        if let Some(state) = &mut self.cps4 {
            state.t0_answers = true;
        }
        self
    }

    /// A CPS4 whose applet refuses (`6A 82`) its first selection after each power-on until
    /// the card manager (IDS AID, `A0 00 00 01 51 00 00`) has been selected on channel 1: what
    /// the Cryptolib's `_do_reselect_cps4_aid` recovers from (it selects the card manager, the
    /// CPS2ter, then the applet again). The real card's reason to need it is not published.
    pub fn with_applet_needing_reselect(mut self) -> Self {
        if let Some(state) = &mut self.cps4 {
            state.applet_needs_reselect = true;
        }
        self
    }

    /// Whether this card answers as a T=1 card (the CPS4 profile, by default).
    pub fn answers_t1(&self) -> bool {
        self.cps4.as_ref().is_some_and(|state| !state.t0_answers)
    }

    /// Whether this card has the CPS4 profile.
    pub fn is_cps4(&self) -> bool {
        self.cps4.is_some()
    }

    /// Whether logical channel 1 is open (CPS4 only).
    pub fn pki_channel_open(&self) -> bool {
        self.cps4
            .as_ref()
            .is_some_and(|state| state.channel != ChannelState::Closed)
    }

    pub(super) fn read_binary_limit(&self) -> usize {
        if self.is_cps4() {
            READ_BINARY_LIMIT
        } else {
            READ_BINARY_MAX
        }
    }

    /// One command of a CPS4 (already logged by `transmit`).
    pub(super) fn transmit_cps4(&mut self, apdu: &[u8]) -> Vec<u8> {
        // Work on the state out of `self` (a default stays in place, so the card is still a
        // CPS4 meanwhile), then put it back.
        let mut state = self.cps4.as_mut().map(std::mem::take).unwrap_or_default();
        let answer = if state.t0_answers {
            self.answer_cps4(&mut state, apdu)
        } else {
            self.answer_cps4_t1(&mut state, apdu)
        };
        self.cps4 = Some(state);
        answer
    }

    /// The T=1 face of the card: Le required where data comes back, data at once with `90 00`.
    fn answer_cps4_t1(&mut self, state: &mut Cps4State, apdu: &[u8]) -> Vec<u8> {
        let Ok(command) = Command::parse(apdu) else {
            return self.answer_cps4(state, apdu);
        };
        let returns_data = (command.ins == ins::SELECT && matches!(command.p2, 0x00 | 0x04))
            || (is_decipher(&command) && command.cla & CLA_CHAINING == 0);
        if returns_data && command.le.is_none() {
            self.pending_response.clear();
            state.chain = None;
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        let answer = self.answer_cps4(state, apdu);
        if !matches!(answer.as_slice(), [0x61, _]) {
            return answer;
        }
        // What a T=0 card hands out through GET RESPONSE, a T=1 card sends at once.
        let data = std::mem::take(&mut self.pending_response);
        match command.le {
            Some(le) if le < data.len() => response(&[], StatusWord::wrong_le(data.len())),
            _ => response(&data, StatusWord::OK),
        }
    }

    fn answer_cps4(&mut self, state: &mut Cps4State, apdu: &[u8]) -> Vec<u8> {
        let command = match Command::parse(apdu) {
            Ok(command) => command,
            Err(status) => {
                self.pending_response.clear();
                state.chain = None;
                return response(&[], status);
            }
        };
        let channel = command.cla & CLA_CHANNEL;
        if command.ins != ins::GET_RESPONSE || channel != PKI_CHANNEL {
            // Response data not fetched right away is lost, as on a T=0 card.
            self.pending_response.clear();
        }
        if !is_decipher(&command) {
            // Any other command ends a chain in progress.
            state.chain = None;
        }
        if state.t0_answers && self.refused_under_strict_t0(&command) {
            state.chain = None;
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if command.cla & CLA_UNSUPPORTED != 0 {
            return response(&[], StatusWord::CLA_NOT_SUPPORTED);
        }
        let chained = command.cla & CLA_CHAINING != 0;
        if chained && !is_decipher(&command) {
            return response(&[], STATUS_CHAINING_NOT_SUPPORTED);
        }
        if command.ins == INS_MANAGE_CHANNEL {
            return self.manage_channel(state, &command);
        }
        match (channel, state.channel) {
            (0, _) => basic_channel(&command),
            (PKI_CHANNEL, ChannelState::AppletSelected) => {
                self.pki_applet(state, &command, chained)
            }
            (PKI_CHANNEL, _)
                if is_applet_selection(&command)
                    && state.applet_needs_reselect
                    && !state.card_manager_selected =>
            {
                response(&[], StatusWord::FILE_NOT_FOUND)
            }
            (PKI_CHANNEL, ChannelState::Closed | ChannelState::Open)
                if command.ins == ins::SELECT
                    && command.p1 == 0x04
                    && command.data == CARD_MANAGER_AID =>
            {
                // Not reachable from here, but remembered.
                state.card_manager_selected = true;
                response(&[], StatusWord::FILE_NOT_FOUND)
            }
            // Implicit opening: selecting the applet on channel 1 opens the channel.
            (PKI_CHANNEL, _) if is_applet_selection(&command) => {
                let answer = self.select(&command);
                if succeeded(&answer) {
                    state.channel = ChannelState::AppletSelected;
                    self.pin_verified = false;
                }
                answer
            }
            // No other application to select on channel 1.
            (PKI_CHANNEL, ChannelState::Open) if command.ins == ins::SELECT => {
                response(&[], StatusWord::FILE_NOT_FOUND)
            }
            (PKI_CHANNEL, ChannelState::Open) => {
                response(&[], StatusWord::CONDITIONS_NOT_SATISFIED)
            }
            (PKI_CHANNEL, ChannelState::Closed)
                if command.ins == ins::SELECT && command.p1 == 0x04 =>
            {
                response(&[], StatusWord::FILE_NOT_FOUND)
            }
            _ => response(&[], STATUS_CHANNEL_NOT_SUPPORTED),
        }
    }

    /// MANAGE CHANNEL: open channel 1 (`00 70 00 00 01`, or `00 70 00 01`) or close it
    /// (`0x 70 80 01`, or `01 70 80 00`). The card has no other channel.
    fn manage_channel(&mut self, state: &mut Cps4State, command: &Command) -> Vec<u8> {
        if !command.data.is_empty() {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        let channel = command.cla & CLA_CHANNEL;
        match (command.p1, command.p2) {
            (0x00, 0x00 | PKI_CHANNEL) if channel == 0 => {
                if state.channel != ChannelState::Closed {
                    return response(&[], STATUS_NO_FREE_CHANNEL);
                }
                state.channel = ChannelState::Open;
                if command.p2 == 0x00 {
                    response(&[PKI_CHANNEL], StatusWord::OK)
                } else {
                    response(&[], StatusWord::OK)
                }
            }
            (0x80, 0x00) if channel == PKI_CHANNEL => self.close_pki_channel(state),
            (0x80, PKI_CHANNEL) => self.close_pki_channel(state),
            _ => response(&[], StatusWord::WRONG_P1_P2),
        }
    }

    fn close_pki_channel(&mut self, state: &mut Cps4State) -> Vec<u8> {
        state.reset();
        self.pin_verified = false;
        self.set_current_df(vec![pkcs15::MF]);
        self.current_ef = None;
        response(&[], StatusWord::OK)
    }

    /// A command to the PKI applet, selected on channel 1.
    fn pki_applet(&mut self, state: &mut Cps4State, command: &Command, chained: bool) -> Vec<u8> {
        match command.ins {
            ins::SELECT => {
                let answer = self.select(command);
                if is_applet_selection(command) && succeeded(&answer) {
                    self.pin_verified = false;
                }
                answer
            }
            ins::READ_BINARY => self.read_binary(command),
            ins::GET_RESPONSE => self.get_response(command),
            ins::VERIFY => self.verify(command),
            ins::MSE => self.cps4_manage_security_environment(command),
            ins::PSO if (command.p1, command.p2) == (0x80, 0x86) => {
                self.pso_decipher(state, command, chained)
            }
            ins::PSO => response(&[], StatusWord::WRONG_P1_P2),
            // INTERNAL AUTHENTICATE, GET DATA and the rest: not on a CPS4.
            _ => response(&[], StatusWord::INS_NOT_SUPPORTED),
        }
    }

    /// MSE SET for PSO DECIPHER: `41 B8` (confidentiality template), data `83 01 <key>`, the
    /// authentication key only, from the application DF where the keys are.
    fn cps4_manage_security_environment(&mut self, command: &Command) -> Vec<u8> {
        if (command.p1, command.p2) != (0x41, 0xB8) {
            return response(&[], StatusWord::WRONG_P1_P2);
        }
        let [0x83, 0x01, key] = command.data else {
            return response(&[], StatusWord::WRONG_DATA);
        };
        if *key != AUTH_KEY_REFERENCE || !self.in_application() {
            return response(&[], StatusWord::REFERENCE_NOT_FOUND);
        }
        self.security_environment = SecurityEnvironment {
            // The key PSO DECIPHER will use.
            authentication_key: Some(*key),
            ..SecurityEnvironment::default()
        };
        response(&[], StatusWord::OK)
    }

    /// PSO DECIPHER `2A 80 86`: collects the chain's parts, then applies the authentication key
    /// to the whole block. A 2048-bit block needs two parts, since Lc is at most 255.
    fn pso_decipher(&mut self, state: &mut Cps4State, command: &Command, chained: bool) -> Vec<u8> {
        if command.data.is_empty() {
            state.chain = None;
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        let block = state.chain.get_or_insert_with(Vec::new);
        block.extend_from_slice(command.data);
        if block.len() > BLOCK_SIZE {
            state.chain = None;
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if chained {
            return response(&[], StatusWord::OK);
        }
        let block = state.chain.take().unwrap_or_default();
        if block.len() != BLOCK_SIZE {
            return response(&[], StatusWord::WRONG_LENGTH);
        }
        if self.security_environment.authentication_key != Some(AUTH_KEY_REFERENCE) {
            return response(&[], StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if !self.pin_verified {
            return response(&[], StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if !is_signature_block(&block) {
            return response(&[], StatusWord::WRONG_DATA);
        }
        match private_key_operation(&self.auth_key, &block) {
            Some(result) => self.hand_out(result),
            None => response(&[], StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }
}

/// The basic channel: no application there (the CPS2ter is left out).
fn basic_channel(command: &Command) -> Vec<u8> {
    match command.ins {
        ins::SELECT => response(&[], StatusWord::FILE_NOT_FOUND),
        _ => response(&[], StatusWord::INS_NOT_SUPPORTED),
    }
}

fn is_decipher(command: &Command) -> bool {
    command.ins == ins::PSO && (command.p1, command.p2) == (0x80, 0x86)
}

fn is_applet_selection(command: &Command) -> bool {
    command.ins == ins::SELECT && command.p1 == 0x04 && command.data == PKI_APPLET_AID
}

fn succeeded(answer: &[u8]) -> bool {
    matches!(answer, [.., 0x90, 0x00] | [.., 0x61, _])
}

/// `00 01 FF..FF 00 <data>`: PKCS#1 v1.5 type 01, at least 8 bytes of padding, some data.
fn is_signature_block(block: &[u8]) -> bool {
    let [0x00, 0x01, rest @ ..] = block else {
        return false;
    };
    let padding = rest.iter().take_while(|byte| **byte == 0xFF).count();
    matches!(rest.get(padding), Some(0x00)) && padding >= MIN_PADDING && padding + 1 < rest.len()
}

/// The raw RSA private-key operation on a block of the modulus size.
fn private_key_operation(key: &RsaPrivateKey, block: &[u8]) -> Option<Vec<u8>> {
    let result = rsa::hazmat::rsa_decrypt_and_check(
        key,
        Some(&mut rsa::rand_core::OsRng),
        &BigUint::from_bytes_be(block),
    )
    .ok()?;
    let bytes = result.to_bytes_be();
    let mut out = vec![0u8; key.size().checked_sub(bytes.len())?];
    out.extend(bytes);
    Some(out)
}

fn file_system(fixtures: &HolderFixtures, serial: &[u8; 5]) -> FileSystem {
    use pkcs15::{APP_DF, MF};
    let df = |path: Vec<u16>, name: &[u8]| CardFile {
        path,
        kind: FileKind::Dedicated {
            name: Some(name.to_vec()),
        },
    };
    let ef = |path: Vec<u16>, content: Vec<u8>, sfi: Option<u8>| CardFile {
        path,
        kind: FileKind::Elementary { content, sfi },
    };
    let app = |fid: u16| vec![MF, APP_DF, fid];
    let certificate = |der: &[u8]| pkcs15::allocate(der.to_vec(), pkcs15::CERTIFICATE_FILE_SIZE);
    FileSystem::new(vec![
        df(vec![MF], &PKI_APPLET_AID),
        ef(
            vec![MF, pkcs15::EF_DIR],
            // A CPS4's EF.DIR is unknown (CARD.md): this profile keeps the path.
            pkcs15::ef_dir_with_path(),
            Some(pkcs15::SFI_EF_DIR),
        ),
        ef(
            vec![MF, pkcs15::EF_SN_ICC],
            pkcs15::ef_sn_icc(serial),
            Some(pkcs15::SFI_EF_SN_ICC),
        ),
        df(vec![MF, APP_DF], &pkcs15::PKCS15_AID),
        ef(app(pkcs15::ODF), pkcs15::odf(), None),
        ef(app(pkcs15::TOKEN_INFO), token_info(serial), None),
        ef(app(pkcs15::AODF), pkcs15::aodf(), None),
        ef(app(pkcs15::PRKDF), prkdf(), None),
        ef(app(pkcs15::CDF), pkcs15::cdf(), None),
        ef(
            app(pkcs15::AUTH_CERTIFICATE),
            certificate(fixtures.auth_certificate),
            None,
        ),
        ef(
            app(pkcs15::SIGN_CERTIFICATE),
            certificate(fixtures.sign_certificate),
            None,
        ),
    ])
}

/// TokenInfo: version, serial number, manufacturer, label, flags (readonly, loginRequired).
pub fn token_info(serial: &[u8; 5]) -> Vec<u8> {
    let mut serial_number = vec![0x80, 0x25, 0x00, 0x00, 0x01];
    serial_number.extend_from_slice(serial);
    pkcs15::allocate(
        sequence(&[
            integer(0),
            octet_string(&serial_number),
            utf8_string("CPx Connect test card"),
            context_primitive(0, b"CPS4 (virtual)"),
            named_bits(&[0, 1]),
        ]),
        0x40,
    )
}

/// PrKDF: the CPS3 profile's two RSA keys with the CPS4 key references.
pub fn prkdf() -> Vec<u8> {
    pkcs15::prkdf_with_references(AUTH_KEY_REFERENCE, SIGN_KEY_REFERENCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_atr_check_byte_is_right() {
        assert_eq!(ATR[1..].iter().fold(0, |acc, byte| acc ^ byte), 0);
    }

    #[test]
    fn only_type_01_padding_is_a_signature_block() {
        let mut block = vec![0x00, 0x01];
        block.extend([0xFF; 8]);
        block.extend([0x00, 0xAA]);
        assert!(is_signature_block(&block));
        block[1] = 0x02;
        assert!(!is_signature_block(&block));
        assert!(!is_signature_block(&[0x00, 0x01, 0xFF, 0x00, 0xAA]));
        let mut no_data = vec![0x00, 0x01];
        no_data.extend([0xFF; 9]);
        no_data.push(0x00);
        assert!(!is_signature_block(&no_data));
        let mut no_separator = vec![0x00, 0x01];
        no_separator.extend([0xFF; 12]);
        assert!(!is_signature_block(&no_separator));
        assert!(!is_signature_block(&[]));
    }
}
