//! `cpx-connect doctor --card-report FILE`: what each inserted card says about itself, read
//! without a PIN, in one text file a user attaches to a bug report. Public data only: the ATR,
//! the protocol, the PKCS#15 files (EF.DIR, ODF, TokenInfo, PrKDF, CDF, AODF) and what they
//! declare, the certificates' subjects, issuers and validity, the PIN tries when they can be read
//! without spending one, the answers to a few harmless probes that settle what the public
//! evidence leaves open (host/PROTOCOL.md, "What a card report settles"), and the trace of every
//! APDU with its status word.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use x509_cert::der::Decode;

use crate::card::apdu::{Command, StatusWord};
use crate::card::channel::{Channel, IAS_ROOT_AID};
use crate::card::tlv::TlvReader;
use crate::card::{self, pkcs15, CardType, Protocol, PublicFile, Transport, TransportError};
use crate::readers::{PcscBackend, ReaderBackend};

/// `cpx-connect doctor --card-report FILE` (`-` for standard output).
pub fn run_from_command_line(file: &Path) -> ExitCode {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let report = report(
        &mut PcscBackend::new(),
        &format!("cpx-connect {}", env!("CARGO_PKG_VERSION")),
        &now,
    );
    let written = if file == Path::new("-") {
        print!("{report}");
        Ok(())
    } else {
        std::fs::write(file, &report)
    };
    match written {
        Ok(()) => {
            if file != Path::new("-") {
                eprintln!(
                    "Card report written to {}: attach it to your bug report. It holds no PIN \
                     and nothing secret.",
                    file.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "cpx-connect doctor: cannot write {}: {error}",
                file.display()
            );
            ExitCode::from(2)
        }
    }
}

/// The report of every reader and card `backend` knows; `version` and `date` head it.
pub fn report<B: ReaderBackend>(backend: &mut B, version: &str, date: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# CPx Connect card report");
    let _ = writeln!(out, "program: {version}");
    let _ = writeln!(out, "date: {date}");
    let _ = writeln!(
        out,
        "contents: public card data only (no PIN was asked or sent)"
    );
    let readers = match backend.readers() {
        Ok(readers) => readers,
        Err(error) => {
            let _ = writeln!(out, "\nPC/SC: {error}");
            return out;
        }
    };
    if readers.is_empty() {
        let _ = writeln!(out, "\nno reader");
    }
    for slot in readers {
        let _ = writeln!(out, "\n## reader {:?}", slot.name);
        let Some(atr) = slot.atr else {
            let _ = writeln!(out, "no card");
            continue;
        };
        let card_type = card::recognise(&atr);
        let _ = writeln!(out, "ATR: {}", spaced(&atr));
        let _ = writeln!(
            out,
            "recognised as: {} (state {})",
            match card_type {
                CardType::Cps3 => "CPS3",
                CardType::Cps4 => "CPS4",
                CardType::Cps3Contactless => "CPS3 read contactless",
                CardType::Unknown => "not a CPx card this host knows",
            },
            card_type.state()
        );
        if !card_type.can_log_in() {
            continue;
        }
        card_section(backend, &slot.name, card_type, &mut out);
    }
    out
}

fn card_section<B: ReaderBackend>(
    backend: &mut B,
    reader: &str,
    card_type: CardType,
    out: &mut String,
) {
    let mut connection = match backend.connect(reader) {
        Ok(connection) => connection,
        Err(error) => {
            let _ = writeln!(out, "connect: {error}");
            return;
        }
    };
    let mut transport = match connection.transaction() {
        Ok(transport) => transport,
        Err(error) => {
            let _ = writeln!(out, "transaction: {error}");
            return;
        }
    };
    let protocol = match transport.protocol() {
        Some(Protocol::T0) => "T=0",
        Some(Protocol::T1) => "T=1",
        None => "not told by the reader stack",
    };
    let _ = writeln!(out, "protocol: {protocol}");
    let mut recording = Recording {
        inner: transport.as_mut(),
        trace: Vec::new(),
    };
    let mut facts = String::new();
    let mut pin_reference = None;
    if let Ok(mut driver) = card::driver(card_type, &mut recording) {
        pin_reference = read_card(driver.as_mut(), &mut facts);
    }
    probes(
        &mut Channel::new(&mut recording),
        card_type,
        pin_reference.unwrap_or(DEFAULT_PIN_REFERENCE),
        &mut facts,
    );
    out.push_str(&facts);
    let _ = writeln!(out, "\n### APDU trace ({} commands)", recording.trace.len());
    for line in &recording.trace {
        let _ = writeln!(out, "{line}");
    }
}

/// Reads what a login reads; returns the PIN's reference when the AODF gave it.
fn read_card(driver: &mut dyn card::CpxCard, out: &mut String) -> Option<u8> {
    let serial = match driver.icc_serial() {
        Ok(serial) => {
            let _ = writeln!(out, "EF.SN.ICC serial: {}", serial.to_hex());
            serial
        }
        Err(error) => {
            let _ = writeln!(out, "EF.SN.ICC: {error}");
            return None;
        }
    };
    let _ = writeln!(out, "\n### PKCS#15 files");
    for file in driver.public_files() {
        describe_file(&file, out);
    }
    let _ = writeln!(out, "\n### login objects");
    let profile = match driver.read_profile(&serial) {
        Ok(profile) => profile,
        Err(error) => {
            let _ = writeln!(out, "login profile: {error}");
            return None;
        }
    };
    let _ = writeln!(
        out,
        "application: {}\nauthentication key reference: {:02X}\nPIN: {:?}",
        profile.application.describe(),
        profile.key_reference,
        profile.pin
    );
    describe_certificate("authentication certificate", &profile.certificate_der, out);
    match driver.pin_status(&profile) {
        Ok(status) => {
            let _ = writeln!(
                out,
                "PIN tries left: {} of {}",
                status.retries_left,
                status
                    .max_retries
                    .map_or_else(|| "?".to_owned(), |max| max.to_string())
            );
        }
        Err(error) => {
            let _ = writeln!(out, "PIN tries: {error}");
        }
    }
    Some(profile.pin.reference())
}

/// The PIN reference CARD.md infers (`BF 81 01`), when the AODF could not be read.
const DEFAULT_PIN_REFERENCE: u8 = 0x01;
const MF: [u8; 2] = [0x3F, 0x00];
const EF_DIR_FID: [u8; 2] = [0x2F, 0x00];

/// The harmless probes of issue 22: no PIN, and no try spent (the question that might spend
/// one is asked only when the tries read before it leave room, and a login asks it anyway).
/// host/PROTOCOL.md says what each settles and what the host does once a report shows it.
fn probes(channel: &mut Channel<'_>, card_type: CardType, pin_reference: u8, out: &mut String) {
    let _ = writeln!(out, "\n### probes (no PIN, no try spent)");
    let cla = match card_type {
        CardType::Cps4 => 0x01,
        _ => 0x00,
    };
    let select = |p1: u8, p2: u8, data: &[u8]| {
        let command = Command::new(cla, 0xA4, p1, p2).with_data(data);
        if p2 == 0x0C {
            command
        } else {
            command.expecting_answer()
        }
    };
    let mf = match card_type {
        CardType::Cps4 => select(0x00, 0x0C, &MF),
        _ => select(0x09, 0x0C, &MF),
    };

    // 1. Does the VERIFY-without-data question spend a try? GET DATA of the tries (from the
    //    MF, as the vendor reads them) before and after it.
    let tries_query = [
        0x4D,
        0x08,
        0x70,
        0x06,
        0xBF,
        0x81,
        pin_reference,
        0x02,
        0xA0,
        0x80,
    ];
    let get_tries = Command::new(cla, 0xCB, 0x3F, 0xFF)
        .with_data(tries_query)
        .expecting_answer();
    let read_tries = |channel: &mut Channel<'_>, out: &mut String, when: &str| {
        probe(channel, "select MF", &mf, out);
        probe(
            channel,
            &format!("PIN tries (GET DATA) {when}"),
            &get_tries,
            out,
        )
        .and_then(|answer| tries_left(&answer, pin_reference))
    };
    let tries_before = read_tries(channel, out, "before the question");
    let question = Command::new(cla, 0x20, 0x00, pin_reference);
    match tries_before {
        Some(tries) if tries >= 2 => {
            probe(
                channel,
                "VERIFY without data (the question)",
                &question,
                out,
            );
            let tries_after = read_tries(channel, out, "after the question");
            let verdict = match tries_after {
                Some(after) if after == tries => "the question spent no try".to_owned(),
                Some(after) => format!("THE QUESTION SPENT A TRY ({tries} -> {after})"),
                None => "tries unreadable after the question".to_owned(),
            };
            let _ = writeln!(out, "  settles: {verdict}");
        }
        Some(tries) => {
            let _ = writeln!(
                out,
                "  the question is not asked: {tries} tries left leave no room to learn"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  the question is not asked here: the tries cannot be read without it"
            );
        }
    }

    // 2. How the card answers the Cryptolib's reselect of the IAS root (apdu.c:458-481).
    probe(
        channel,
        "SELECT IAS root (as the Cryptolib, case 3)",
        &Command::new(cla, 0xA4, 0x04, 0x04).with_data(IAS_ROOT_AID),
        out,
    );

    // 3. On a CPS4: is the CPS3 application AID there, and how does it answer?
    if card_type == CardType::Cps4 {
        probe(
            channel,
            "SELECT CPS3 application AID, P2=0C",
            &select(0x04, 0x0C, &pkcs15::CPS3_CONTACT_AID),
            out,
        );
        probe(
            channel,
            "SELECT CPS3 application AID, P2=00",
            &select(0x04, 0x00, &pkcs15::CPS3_CONTACT_AID),
            out,
        );
    }

    // 4. EF.DIR and the application: FCP or FCI, with P2=00 and P2=04.
    for p2 in [0x00, 0x04] {
        probe(channel, "select MF", &mf, out);
        let ef_dir = match card_type {
            CardType::Cps4 => select(0x00, p2, &EF_DIR_FID),
            _ => select(0x09, p2, &[MF, EF_DIR_FID].concat()),
        };
        probe(
            channel,
            &format!("SELECT EF.DIR, P2={p2:02X}"),
            &ef_dir,
            out,
        );
        probe(
            channel,
            &format!("SELECT application AID, P2={p2:02X}"),
            &select(0x04, p2, &pkcs15::CPS3_CONTACT_AID),
            out,
        );
    }
}

/// Sends one probe and writes its answer; the answer's data when the card gave any status.
fn probe(
    channel: &mut Channel<'_>,
    what: &str,
    command: &Command,
    out: &mut String,
) -> Option<Vec<u8>> {
    match channel.send_as_asked(command) {
        Ok(response) => {
            if response.data.is_empty() {
                let _ = writeln!(out, "{what}: SW {}", response.sw);
            } else {
                let _ = writeln!(
                    out,
                    "{what}: SW {}, {} bytes: {}",
                    response.sw,
                    response.data.len(),
                    spaced(&response.data)
                );
            }
            (response.sw == StatusWord::Success).then_some(response.data)
        }
        Err(error) => {
            let _ = writeln!(out, "{what}: {error}");
            None
        }
    }
}

/// Tries left (`9B`) in a GET DATA answer `70 { BF 81 ref { A0 { 9A, 9B, ... } } }`.
fn tries_left(answer: &[u8], reference: u8) -> Option<u8> {
    let value = TlvReader::new(answer)
        .next_tagged(0x70)
        .ok()?
        .require(0xBF8100 | u32::from(reference))
        .ok()?
        .require(0xA0)
        .ok()?
        .require(0x9B)
        .ok()?
        .as_u32()
        .ok()?;
    u8::try_from(value).ok()
}

fn describe_file(file: &PublicFile, out: &mut String) {
    let _ = writeln!(out, "{} at {}:", file.name, spaced(&file.path));
    let content = match &file.content {
        Ok(content) => content,
        Err(error) => {
            let _ = writeln!(out, "  not read: {error}");
            return;
        }
    };
    let _ = writeln!(out, "  {} bytes: {}", content.len(), spaced(content));
    let summary: Vec<String> = match file.name {
        "EF.DIR" => pkcs15::parse_dir(content).map(|applications| {
            applications
                .iter()
                .map(|app| {
                    format!(
                        "application {} label {:?} path {}",
                        spaced(&app.aid),
                        app.label,
                        app.path.as_deref().map_or_else(|| "none".into(), spaced)
                    )
                })
                .collect()
        }),
        "PrKDF" => pkcs15::parse_prkdf(content).map(|keys| {
            keys.iter()
                .map(|key| {
                    format!(
                        "key {:?} iD {} usage {:#06X} reference {} authId {} {:?}",
                        key.label,
                        spaced(&key.id),
                        key.usage,
                        key.key_reference
                            .map_or_else(|| "none".into(), |r| format!("{r:02X}")),
                        key.auth_id.as_deref().map_or_else(|| "none".into(), spaced),
                        key.kind
                    )
                })
                .collect()
        }),
        "CDF" => pkcs15::parse_cdf(content, &[]).map(|certificates| {
            certificates
                .iter()
                .map(|certificate| {
                    format!(
                        "certificate {:?} iD {} authority {} path {}",
                        certificate.label,
                        spaced(&certificate.id),
                        certificate.authority,
                        spaced(&certificate.path)
                    )
                })
                .collect()
        }),
        "AODF" => pkcs15::parse_aodf(content).map(|objects| {
            objects
                .iter()
                .map(|object| {
                    format!(
                        "PIN {:?} authId {} {:?}",
                        object.label,
                        spaced(&object.auth_id),
                        object.policy
                    )
                })
                .collect()
        }),
        _ => Ok(Vec::new()),
    }
    .unwrap_or_else(|error| vec![format!("does not parse: {error}")]);
    for line in summary {
        let _ = writeln!(out, "  {line}");
    }
}

fn describe_certificate(what: &str, der: &[u8], out: &mut String) {
    match x509_cert::Certificate::from_der(der) {
        Ok(certificate) => {
            let tbs = &certificate.tbs_certificate;
            let _ = writeln!(
                out,
                "{what}: {} bytes\n  subject: {}\n  issuer: {}\n  valid from {} to {}",
                der.len(),
                tbs.subject,
                tbs.issuer,
                tbs.validity.not_before,
                tbs.validity.not_after
            );
        }
        Err(error) => {
            let _ = writeln!(out, "{what}: does not parse: {error}");
        }
    }
}

/// A transport that keeps every exchange for the trace. The report sends no PIN; a VERIFY with
/// data would still be written without its data.
struct Recording<'t> {
    inner: &'t mut dyn Transport,
    trace: Vec<String>,
}

impl Transport for Recording<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let shown = if card::apdu::carries_pin(command) {
            format!(
                "{} [{} bytes not shown]",
                spaced(&command[..5]),
                command.len() - 5
            )
        } else {
            spaced(command)
        };
        let answer = self.inner.transmit(command);
        let line = match &answer {
            Ok(response) => {
                let (data, sw) = response.split_at(response.len().saturating_sub(2));
                if data.is_empty() {
                    format!("> {shown}\n< SW {}", spaced(sw))
                } else {
                    format!("> {shown}\n< SW {} data {}", spaced(sw), spaced(data))
                }
            }
            Err(error) => format!("> {shown}\n< {error}"),
        };
        self.trace.push(line);
        answer
    }

    fn protocol(&self) -> Option<Protocol> {
        self.inner.protocol()
    }
}

fn spaced(bytes: &[u8]) -> String {
    let hex = crate::hex::encode(bytes);
    let mut out = String::with_capacity(hex.len() * 3 / 2);
    for (index, pair) in hex.as_bytes().chunks(2).enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(std::str::from_utf8(pair).unwrap_or("??"));
    }
    out
}
