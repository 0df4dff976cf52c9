//! What every CPx driver shares: EF.SN.ICC, and the PKCS#15 walk from EF.DIR through the ODF to
//! the authentication key, its certificate and its PIN. Drivers differ only in how they select
//! and read files, which they provide through [`FileAccess`].

use tracing::debug;

use super::apdu::{Command, Response, StatusWord};
use super::error::CardError;
use super::pkcs15;
use super::tlv::{Tlv, TlvReader};
use super::{ApplicationAddress, CardProfile, CardType, IccSerial};

pub(super) const EF_SN_ICC: [u8; 4] = [0x3F, 0x00, 0xD0, 0x03];
pub(super) const EF_DIR: [u8; 4] = [0x3F, 0x00, 0x2F, 0x00];
/// Short EF identifiers of the MF's EFs: EF.SN.ICC 1C (its FCP in the vendor trace of OpenSC
/// issue #2275 carries `88 01 E0`), EF.DIR 1E (ISO 7816-4's default for EF.DIR).
pub(super) const SFI_EF_SN_ICC: u8 = 0x1C;
pub(super) const SFI_EF_DIR: u8 = 0x1E;
/// ISO 7816-15's default application DF, used when a card has no EF.DIR.
const DEFAULT_APPLICATION_PATH: [u8; 4] = [0x3F, 0x00, 0x50, 0x15];
/// ISO 7816-15's default file id for the ODF, inside the application DF.
const ODF_FID: [u8; 2] = [0x50, 0x31];
/// The IAS-ECC issuer prefix that EF.SN.ICC carries after its `5A 0A` header.
const CPX_SERIAL_PREFIX: [u8; 5] = [0x80, 0x25, 0x00, 0x00, 0x01];
/// Files larger than this are not what a PKCS#15 directory or a certificate EF holds.
const MAX_FILE_SIZE: usize = 0x7FFF;

/// How a driver reaches the files of its card.
pub(super) trait FileAccess {
    /// Selects the EF at this absolute path and returns its size.
    fn select_sized(&mut self, path: &[u8]) -> Result<usize, CardError>;
    /// Selects the EF at this path without asking for its FCP (one APDU less on T=0).
    fn select_plain(&mut self, path: &[u8]) -> Result<(), CardError> {
        self.select_sized(path).map(|_| ())
    }
    /// Sends one command through the driver's channel (T=0 handling included).
    fn send(&mut self, command: &Command) -> Result<Response, CardError>;
    /// The class byte of the driver's commands (its logical channel).
    fn class_byte(&self) -> u8;
    /// The largest READ BINARY the card answers.
    fn read_chunk(&self) -> usize;
    /// The application DF's absolute path.
    fn application_path(&mut self, application: &pkcs15::Application)
        -> Result<Vec<u8>, CardError>;
    /// APDUs sent so far, for the log.
    fn apdus_so_far(&self) -> usize;

    /// EF.DIR's content.
    fn read_ef_dir(&mut self) -> Result<Vec<u8>, CardError> {
        self.read_file(&EF_DIR)
    }

    /// READ BINARY by short EF identifier from the current DF (one APDU instead of a SELECT and
    /// a READ BINARY), up to `length` bytes; `None` when the card refuses it, so that the caller
    /// selects the file by path instead.
    fn read_by_sfi(&mut self, sfi: u8, length: usize) -> Result<Option<Vec<u8>>, CardError> {
        let first = length.min(self.read_chunk());
        let le = u8::try_from(first).unwrap_or(0);
        let command = Command::new(self.class_byte(), 0xB0, 0x80 | sfi, 0x00).with_le(le);
        let response = self.send(&command)?;
        if response.sw != StatusWord::Success || response.data.is_empty() {
            return Ok(None);
        }
        // The EF is now the current one: the rest, if any, by offset.
        let data = if response.data.len() < first {
            response.data
        } else {
            self.read_binary_from(response.data, length)?
        };
        Ok(Some(data))
    }

    /// One READ BINARY of at most `wanted` bytes at `offset` of the current EF, and whether the
    /// card said the file ends there (`62 82` with the last bytes); `None` once the file has
    /// ended. After some data, `62 82` without data, `6B 00` (offset beyond the end), `67 00`
    /// (Le beyond the end: how a CPS3 answers a too-long Le is unknown, CARD.md) and `90 00`
    /// without data all mean the end; at offset 0 they are errors, never an empty file.
    fn read_once(
        &mut self,
        offset: usize,
        wanted: usize,
    ) -> Result<Option<(Vec<u8>, bool)>, CardError> {
        // Le 00 asks for 256 bytes.
        let le = u8::try_from(wanted.min(self.read_chunk())).unwrap_or(0);
        let (offset_high, offset_low) = (((offset >> 8) & 0x7F) as u8, offset as u8);
        let command = Command::new(self.class_byte(), 0xB0, offset_high, offset_low).with_le(le);
        let response = self.send(&command)?;
        match response.sw {
            StatusWord::Success if !response.data.is_empty() => Ok(Some((response.data, false))),
            // 62 82: end of file reached before Le bytes (ISO 7816-4), with the last bytes.
            StatusWord::Other(0x6282) if !response.data.is_empty() => {
                Ok(Some((response.data, true)))
            }
            StatusWord::Success
            | StatusWord::WrongOffset
            | StatusWord::WrongLength
            | StatusWord::Other(0x6282)
                if offset > 0 =>
            {
                Ok(None)
            }
            sw => Err(CardError::Status { ins: 0xB0, sw }),
        }
    }

    /// Appends READ BINARY data from offset `data.len()` of the current EF up to `length` bytes,
    /// in chunks the card accepts; a file shorter than declared ends the read without error.
    fn read_binary_from(&mut self, mut data: Vec<u8>, length: usize) -> Result<Vec<u8>, CardError> {
        while data.len() < length {
            let offset = data.len();
            let wanted = (length - offset).min(self.read_chunk());
            match self.read_once(offset, wanted)? {
                Some((chunk, last)) => {
                    data.extend_from_slice(&chunk);
                    if last {
                        break;
                    }
                }
                None => break,
            }
        }
        data.truncate(length);
        Ok(data)
    }

    fn read_binary(&mut self, length: usize) -> Result<Vec<u8>, CardError> {
        self.read_binary_from(Vec::with_capacity(length), length)
    }

    fn read_file(&mut self, path: &[u8]) -> Result<Vec<u8>, CardError> {
        let size = self.select_sized(path)?;
        self.read_binary(size)
    }

    /// Reads a file holding one DER element (a certificate), stopping at the element's end
    /// rather than reading the padding of an over-allocated EF. The element's length comes from
    /// its first chunk, so the file is selected without its FCP.
    fn read_der_file(&mut self, path: &[u8]) -> Result<Vec<u8>, CardError> {
        self.select_plain(path)?;
        let first = self.read_binary(self.read_chunk())?;
        let total = der_length(&first)?.min(MAX_FILE_SIZE);
        self.read_binary_from(first, total)
    }

    /// Reads a PKCS#15 directory file (ODF, PrKDF, CDF, AODF): its size from the FCP (P2=04,
    /// proven on a real CPS3; the vendor, OpenSC and the Cryptolib all read a file's size so,
    /// `pkcs15.c`:1485-1552), then chunk by chunk, never asking past that size, until its
    /// objects end (padding after complete objects, a short answer, or the end of the file),
    /// not to the end of an over-allocated EF.
    fn read_directory(&mut self, path: &[u8]) -> Result<Vec<u8>, CardError> {
        let size = self.select_sized(path)?.min(MAX_FILE_SIZE);
        let chunk = self.read_chunk();
        let mut data = Vec::new();
        while data.len() < size {
            let wanted = (size - data.len()).min(chunk);
            let Some((part, last)) = self.read_once(data.len(), wanted)? else {
                break;
            };
            data.extend_from_slice(&part);
            if last || part.len() < wanted || objects_complete(&data) {
                break;
            }
        }
        data.truncate(size);
        Ok(data)
    }

    /// The concatenated content of several directory files (a PKCS#15 DF may span several EFs).
    fn read_all(&mut self, paths: &[Vec<u8>]) -> Result<Vec<u8>, CardError> {
        let mut content = Vec::new();
        for path in paths {
            content.extend(self.read_directory(path)?);
        }
        Ok(content)
    }
}

/// Checks the content of EF.SN.ICC and returns the card's serial.
pub(super) fn parse_icc_serial(content: &[u8]) -> Result<IccSerial, CardError> {
    match content {
        [0x5A, 0x0A, value @ ..] if value.len() == 10 && value.starts_with(&CPX_SERIAL_PREFIX) => {
            Ok(IccSerial(value.to_vec()))
        }
        _ => Err(CardError::Unsupported(
            "EF.SN.ICC does not identify a CPx card".into(),
        )),
    }
}

/// The file control parameters in a SELECT answer: an FCP template (`62`, what a CPS3 answers
/// to P2=04), or an FCI (`6F`, what the Cryptolib's generic select requires of a CPS4,
/// `iso7816.c`:478) holding them directly or in a `62` of its own.
fn file_parameters(answer: &[u8]) -> Result<Tlv<'_>, CardError> {
    let template = match TlvReader::new(answer).next() {
        Some(Ok(template)) if matches!(template.tag, 0x62 | 0x6F) => template,
        _ => {
            return Err(CardError::Malformed(format!(
                "SELECT answered {} where an FCP (62) or FCI (6F) was expected",
                crate::hex::encode(&answer[..answer.len().min(4)])
            )))
        }
    };
    if template.tag == 0x6F {
        if let Some(inner) = template.find(0x62)? {
            return Ok(inner);
        }
    }
    Ok(template)
}

/// The file id (83) a SELECT answer (FCP or FCI) carries, if any.
pub(super) fn fci_file_id(answer: &[u8]) -> Option<Vec<u8>> {
    let fid = file_parameters(answer).ok()?.find(0x83).ok()??;
    (fid.value.len() == 2).then(|| fid.value.to_vec())
}

/// The size of an EF from its FCP or FCI (`80 size | 81 size`). A card that answers the SELECT
/// `90 00` with no FCP at all (seen with T=1 cards sent no Le) tells no size: the file is then
/// read until the card says it ends.
pub(super) fn fcp_file_size(fcp: &[u8]) -> Result<usize, CardError> {
    if fcp.is_empty() {
        return Ok(MAX_FILE_SIZE);
    }
    let template = file_parameters(fcp)?;
    let size = match template.find(0x80)? {
        Some(size) => size,
        None => template.require(0x81)?,
    };
    let size = size.as_u32()? as usize;
    if size > MAX_FILE_SIZE {
        return Err(CardError::Malformed(format!("file of {size} bytes")));
    }
    Ok(size)
}

/// Whether `data` holds complete TLV objects followed by padding (`00` or `FF`): the content of
/// a directory file has ended, whatever the file's allocated size.
fn objects_complete(data: &[u8]) -> bool {
    let mut end = 0;
    for element in TlvReader::new(data) {
        let Ok(element) = element else {
            return false;
        };
        let start = element.value.as_ptr() as usize - data.as_ptr() as usize;
        end = start + element.value.len();
    }
    end > 0 && end < data.len()
}

/// Total length of the DER element at the start of `bytes`.
pub(super) fn der_length(bytes: &[u8]) -> Result<usize, CardError> {
    let header_and_length = match bytes {
        [_, short, ..] if *short < 0x80 => 2 + usize::from(*short),
        [_, 0x81, len, ..] => 3 + usize::from(*len),
        [_, 0x82, hi, lo, ..] => 4 + (usize::from(*hi) << 8 | usize::from(*lo)),
        _ => return Err(CardError::Malformed("certificate file is not DER".into())),
    };
    Ok(header_and_length)
}

/// The PKCS#15 application a login uses: from EF.DIR, or at 3F00/5015 when there is none.
fn find_application(files: &mut impl FileAccess) -> Result<pkcs15::Application, CardError> {
    let application = match files.read_ef_dir() {
        Ok(ef_dir) => {
            let applications = pkcs15::parse_dir(&ef_dir)?;
            pkcs15::choose_application(&applications)
                .ok_or_else(|| CardError::Unsupported("no PKCS#15 application in EF.DIR".into()))?
                .clone()
        }
        // No EF.DIR: the PKCS#15 application at its ISO 7816-15 default place, 3F00/5015, as
        // the Cryptolib (`pkcs15.c`:497, 522) and OpenSC's pkcs15.c then take it, selected by
        // that path later too (the AID is only a label here).
        Err(CardError::Status {
            sw: StatusWord::FileNotFound,
            ..
        }) => {
            debug!("no EF.DIR: trying the PKCS#15 application at 3F00/5015");
            pkcs15::Application {
                aid: pkcs15::CPS3_CONTACT_AID.to_vec(),
                label: None,
                path: Some(DEFAULT_APPLICATION_PATH.to_vec()),
            }
        }
        Err(error) => return Err(error),
    };
    Ok(application)
}

/// A file of the card's public PKCS#15 structure, as read for a card report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFile {
    pub name: &'static str,
    pub path: Vec<u8>,
    pub content: Result<Vec<u8>, String>,
}

/// ISO 7816-15's default file id for TokenInfo, inside the application DF.
const TOKEN_INFO_FID: [u8; 2] = [0x50, 0x32];

/// Reads every public file of the PKCS#15 structure (EF.DIR, ODF, TokenInfo and the directories
/// the ODF names), for a card report: no PIN, nothing secret. A file that cannot be read is
/// reported with its error, and the others are still read.
pub(super) fn read_public_files(files: &mut impl FileAccess) -> Vec<PublicFile> {
    let mut read = Vec::new();
    read.push(PublicFile {
        name: "EF.DIR",
        path: EF_DIR.to_vec(),
        content: files.read_ef_dir().map_err(|error| error.to_string()),
    });
    let application = match find_application(files) {
        Ok(application) => application,
        Err(_) => return read,
    };
    let app_path = match files.application_path(&application) {
        Ok(path) => path,
        Err(error) => {
            read.push(PublicFile {
                name: "application",
                path: application.aid.clone(),
                content: Err(error.to_string()),
            });
            return read;
        }
    };
    let in_app = |fid: &[u8]| [app_path.as_slice(), fid].concat();
    let odf_path = in_app(&ODF_FID);
    let odf = files.read_directory(&odf_path);
    read.push(PublicFile {
        name: "ODF",
        path: odf_path,
        content: odf.clone().map_err(|error| error.to_string()),
    });
    let token_info_path = in_app(&TOKEN_INFO_FID);
    read.push(PublicFile {
        name: "TokenInfo",
        path: token_info_path.clone(),
        content: files
            .read_directory(&token_info_path)
            .map_err(|error| error.to_string()),
    });
    let Ok(directory) = odf.and_then(|odf| pkcs15::parse_odf(&odf, &app_path)) else {
        return read;
    };
    let named = [
        ("PrKDF", &directory.private_keys),
        ("CDF", &directory.certificates),
        ("AODF", &directory.auth_objects),
    ];
    for (name, paths) in named {
        for path in paths {
            read.push(PublicFile {
                name,
                path: path.clone(),
                content: files
                    .read_directory(path)
                    .map_err(|error| error.to_string()),
            });
        }
    }
    read
}

/// Walks EF.DIR -> ODF -> PrKDF/CDF/AODF to the login key, and reads its certificate.
pub(super) fn read_login_profile(
    files: &mut impl FileAccess,
    card_type: CardType,
    serial: &IccSerial,
) -> Result<CardProfile, CardError> {
    let application = find_application(files)?;
    let app_path = files.application_path(&application)?;
    let mut odf_path = app_path.clone();
    odf_path.extend_from_slice(&ODF_FID);
    let odf = files.read_directory(&odf_path)?;
    let directory = pkcs15::parse_odf(&odf, &app_path)?;
    let keys = pkcs15::parse_prkdf(&files.read_all(&directory.private_keys)?)?;
    let certificates = pkcs15::parse_cdf(&files.read_all(&directory.certificates)?, &app_path)?;
    let auth_objects = pkcs15::parse_aodf(&files.read_all(&directory.auth_objects)?)?;
    let login = pkcs15::find_login_objects(&keys, &certificates, &auth_objects)?;
    if !matches!(login.key.kind, pkcs15::KeyKind::Rsa { .. }) {
        return Err(CardError::Unsupported(
            "the authentication key is not RSA".into(),
        ));
    }
    // The PrKDF's reference is used for the MSE on both generations (CPS3: 0x82; CPS4: the
    // Cryptolib's 0x20, which it also recognises the key by).
    let key_reference = login
        .key
        .key_reference
        .and_then(|reference| u8::try_from(reference).ok())
        .ok_or_else(|| CardError::Unsupported("the authentication key has no reference".into()))?;
    let certificate_der = files.read_der_file(&login.certificate.path)?;
    debug!(
        card = card_type.protocol_name(),
        key = ?login.key.label,
        certificate = ?login.certificate.label,
        pin = ?login.pin.label,
        apdus = files.apdus_so_far(),
        "card profile read"
    );
    Ok(CardProfile {
        card_type,
        icc_serial: serial.clone(),
        application: match application.path {
            Some(path) => ApplicationAddress::Path(path),
            None => ApplicationAddress::Aid(application.aid),
        },
        key_reference,
        pin: login.pin.policy,
        certificate_der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::hex;

    #[test]
    fn the_file_size_comes_from_an_fcp_or_an_fci() {
        assert_eq!(fcp_file_size(&hex("62 04 80 02 01 23")).unwrap(), 0x123);
        assert_eq!(fcp_file_size(&hex("6F 04 81 02 00 40")).unwrap(), 0x40);
        assert_eq!(
            fcp_file_size(&hex("6F 08 84 00 62 04 80 02 00 16")).unwrap(),
            0x16
        );
        assert!(fcp_file_size(&hex("64 04 80 02 00 16")).is_err());
        assert_eq!(
            fci_file_id(&hex("6F 04 83 02 00 01")),
            Some(vec![0x00, 0x01])
        );
        assert_eq!(fci_file_id(&hex("62 03 82 01 38")), None);
    }

    /// A scripted reader of one directory file: the FCP says `size`, the card answers the
    /// reads as given.
    struct Files<'t>(crate::card::channel::Channel<'t>);

    fn directory_read(size: usize, reads: Vec<(&str, &str)>) -> Result<Vec<u8>, CardError> {
        let fcp = format!("62 04 80 02 {:02X} {:02X} 90 00", size >> 8, size & 0xFF);
        let mut script = vec![
            ("00 A4 09 04 04 3F 00 50 31", "61 06"),
            ("00 C0 00 00 06", fcp.as_str()),
        ];
        script.extend(reads);
        let mut transport =
            crate::card::testing::ScriptedTransport::new(script).over(crate::card::Protocol::T0);
        let mut files = Files(crate::card::channel::Channel::new(&mut transport));
        files.read_directory(&hex("3F 00 50 31"))
    }

    impl FileAccess for Files<'_> {
        fn select_sized(&mut self, path: &[u8]) -> Result<usize, CardError> {
            let fcp = self.0.send_ok(
                &Command::new(0x00, 0xA4, 0x09, 0x04)
                    .with_data(path)
                    .expecting_answer(),
            )?;
            fcp_file_size(&fcp)
        }
        fn send(&mut self, command: &Command) -> Result<Response, CardError> {
            self.0.send(command)
        }
        fn class_byte(&self) -> u8 {
            0x00
        }
        fn read_chunk(&self) -> usize {
            0xE7
        }
        fn application_path(&mut self, _: &pkcs15::Application) -> Result<Vec<u8>, CardError> {
            Ok(Vec::new())
        }
        fn apdus_so_far(&self) -> usize {
            self.0.apdus_sent()
        }
    }

    #[test]
    fn a_directory_is_read_by_its_fcp_size_and_its_end_is_no_error() {
        // 0x130 bytes of objects: E7, then exactly the 0x49 left.
        let object = |n: usize| {
            let mut element = vec![0x30, 0x81, (n - 3) as u8];
            element.resize(n, 0x11);
            element
        };
        let content = [object(0xE7), object(0x49)].concat();
        let spaced =
            |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02X} ")).collect() };
        let first = format!("{}90 00", spaced(&content[..0xE7]));
        let rest = format!("{}90 00", spaced(&content[0xE7..]));
        let data = directory_read(
            0x130,
            vec![("00 B0 00 00 E7", &first), ("00 B0 00 E7 49", &rest)],
        )
        .unwrap();
        assert_eq!(data, content);

        // A file the FCP says is longer than its data: each end-of-file answer ends the read.
        for end in ["62 82", "6B 00", "67 00"] {
            let data = directory_read(
                0x130,
                vec![("00 B0 00 00 E7", &first), ("00 B0 00 E7 49", end)],
            )
            .unwrap();
            assert_eq!(data, content[..0xE7], "{end}");
        }
        // 62 82 with the last bytes.
        let last = format!("{}62 82", spaced(&content[0xE7..0xF0]));
        let data = directory_read(
            0x130,
            vec![("00 B0 00 00 E7", &first), ("00 B0 00 E7 49", &last)],
        )
        .unwrap();
        assert_eq!(data.len(), 0xF0);
        // At offset 0 the same answers are errors: never a file read as empty.
        for end in ["6B 00", "67 00", "62 82", "90 00"] {
            assert!(
                directory_read(0x40, vec![("00 B0 00 00 40", end)]).is_err(),
                "{end}"
            );
        }
    }
}
