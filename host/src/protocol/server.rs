//! The request loop: one frame in, one frame out, in order, until the input ends or `quit`.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::json;
use tracing::{debug, info, warn};

use super::framing::{self, FrameError};
use super::request::{self, AuthenticateArguments, Command, Rejected};
use super::wire::{self, RequestId, WireError};
use crate::readers::ReaderBackend;
use crate::service::{CertificateReport, HostService, StatusReport};
use crate::token::{ChallengeNonce, Origin};

pub const PROTOCOL_VERSION: u32 = 1;

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// End of input or `quit`: the browser is done with us.
    Finished,
    /// The input broke the framing (oversize or truncated frame); the stream cannot resynchronise.
    BrokenStream,
    /// stdout is gone: nobody is listening.
    OutputClosed,
}

pub fn serve<B: ReaderBackend>(
    input: &mut impl Read,
    output: &mut impl Write,
    service: &mut HostService<B>,
) -> Exit {
    loop {
        let frame = match framing::read_frame(input) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Exit::Finished,
            Err(error) => {
                warn!(%error, "unreadable frame; stopping");
                let answer = wire::error_json(
                    &RequestId::Null,
                    &WireError::invalid_request(error.to_string()),
                );
                // The stream is lost either way; the answer is a courtesy.
                let _ = framing::write_frame(output, &answer);
                return match error {
                    FrameError::Io(_) => Exit::OutputClosed,
                    FrameError::TooLarge(_) | FrameError::Truncated => Exit::BrokenStream,
                };
            }
        };
        let (answer, quit) = match request::parse(&frame) {
            Ok(request) => {
                debug!(id = ?request.id, command = command_name(&request.command), "request");
                let quit = matches!(request.command, Command::Quit);
                (handle(request.id, request.command, service), quit)
            }
            Err(Rejected { id, error }) => {
                info!(code = error.code, "request rejected");
                (wire::error_json(&id, &error), false)
            }
        };
        drop(frame);
        if let Err(error) = framing::write_frame(output, &answer) {
            warn!(%error, "cannot write the answer");
            return Exit::OutputClosed;
        }
        if quit {
            return Exit::Finished;
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Version => "version",
        Command::Status => "status",
        Command::Certificates => "certificates",
        Command::Authenticate(_) => "authenticate",
        Command::Quit => "quit",
    }
}

fn handle<B: ReaderBackend>(
    id: RequestId,
    command: Command,
    service: &mut HostService<B>,
) -> Vec<u8> {
    let result = match command {
        Command::Version => Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": PROTOCOL_VERSION,
        })),
        Command::Status => Ok(status_json(service.status())),
        Command::Certificates => service
            .certificates()
            .map(|reports| json!({ "certificates": reports.iter().map(certificate_json).collect::<Vec<_>>() }))
            .map_err(WireError::from),
        Command::Authenticate(arguments) => authenticate(arguments, service),
        Command::Quit => Ok(json!({})),
    };
    let encoded = result.and_then(|value| {
        wire::success_json(&id, value).map_err(|error| WireError::internal(error.to_string()))
    });
    match encoded {
        Ok(bytes) if bytes.len() <= framing::MAX_FRAME => bytes,
        Ok(_) => wire::error_json(&id, &WireError::internal("the answer exceeds 1 MiB")),
        Err(error) => {
            info!(code = error.code, "request failed");
            wire::error_json(&id, &error)
        }
    }
}

fn authenticate<B: ReaderBackend>(
    arguments: AuthenticateArguments,
    service: &mut HostService<B>,
) -> Result<serde_json::Value, WireError> {
    let origin = Origin::parse(&arguments.origin)?;
    let nonce = ChallengeNonce::parse(&arguments.challenge_nonce)?;
    let pin = match arguments.pin {
        Some(pin) if !pin.is_empty() => pin,
        _ => return Err(WireError::pin_required()),
    };
    if !pin.is_digits() {
        return Err(crate::service::HostError::PinFormat("the PIN must be digits only").into());
    }
    let login = service.authenticate(&origin, &nonce, &arguments.certificate_id, &pin)?;
    serde_json::to_value(&login.token).map_err(|error| WireError::internal(error.to_string()))
}

fn status_json(report: StatusReport) -> serde_json::Value {
    let readers: Vec<serde_json::Value> = report
        .readers
        .into_iter()
        .map(|reader| {
            let card = reader.card.map(|card| {
                json!({ "atr": crate::hex::encode(&card.atr), "type": card.card_type.protocol_name() })
            });
            json!({ "name": reader.name, "card": card })
        })
        .collect();
    json!({
        "service": if report.service_available { "ok" } else { "unavailable" },
        "readers": readers,
    })
}

fn certificate_json(report: &CertificateReport) -> serde_json::Value {
    json!({
        "certificateId": report.certificate_id,
        "reader": report.reader,
        "cardType": report.card_type.protocol_name(),
        "certificate": BASE64.encode(&report.certificate_der),
        "holder": report.holder,
        "notAfter": report.not_after,
        "pin": {
            "retriesLeft": report.pin.retries_left,
            "maxRetries": report.pin.max_retries,
            "minLength": report.pin_min_length,
            "maxLength": report.pin_max_length,
        },
    })
}
