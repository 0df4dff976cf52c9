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
        let (id, answer, quit) = match request::parse(&frame) {
            Ok(request) => {
                debug!(id = ?request.id, command = command_name(&request.command), "request");
                let quit = matches!(request.command, Command::Quit);
                let id = request.id.clone();
                (id, handle(request.id, request.command, service), quit)
            }
            Err(Rejected { id, error }) => {
                info!(code = error.code.as_str(), "request rejected");
                let answer = wire::error_json(&id, &error);
                (id, answer, false)
            }
        };
        drop(frame);
        let answer = fit_frame(&id, answer);
        if let Err(error) = framing::write_frame(output, &answer) {
            warn!(%error, "cannot write the answer");
            return Exit::OutputClosed;
        }
        if quit {
            return Exit::Finished;
        }
    }
}

/// The answer, if it fits a frame. One that does not can only be echoing something huge from the
/// request (its id, a field name): it becomes a short error instead, without the id if the id alone
/// is too big, so that every request still gets an answer.
fn fit_frame(id: &RequestId, answer: Vec<u8>) -> Vec<u8> {
    if answer.len() <= framing::MAX_FRAME {
        return answer;
    }
    warn!(
        bytes = answer.len(),
        "answer over 1 MiB replaced by an error"
    );
    let error = WireError::invalid_request(
        "the answer would exceed 1 MiB: the request's id or a field name is too long",
    );
    let with_id = wire::error_json(id, &error);
    if with_id.len() <= framing::MAX_FRAME {
        with_id
    } else {
        wire::error_json(&RequestId::Null, &error)
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
            info!(code = error.code.as_str(), "request failed");
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
                json!({
                    "atr": crate::hex::encode(&card.atr),
                    "type": card.card_type.protocol_name(),
                    "state": card.card_type.state(),
                })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::{BackendError, CardConnection, ReaderSlot};

    /// A machine without PC/SC: these tests never reach a card.
    struct NoPcsc;

    impl ReaderBackend for NoPcsc {
        fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
            Err(BackendError::ServiceUnavailable)
        }

        fn connect(&mut self, _reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
            Err(BackendError::ServiceUnavailable)
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut bytes = (body.len() as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(body);
        bytes
    }

    /// A request of exactly 1 MiB made of `template` with its `{}` filled.
    fn largest_request(template: &str) -> Vec<u8> {
        let room = framing::MAX_FRAME - (template.len() - 2);
        template.replace("{}", &"x".repeat(room)).into_bytes()
    }

    fn answers_to(input: &[u8]) -> (Vec<serde_json::Value>, Exit) {
        let mut output = Vec::new();
        let exit = serve(&mut &input[..], &mut output, &mut HostService::new(NoPcsc));
        let mut answers = Vec::new();
        let mut rest = output.as_slice();
        while let Some(frame) = framing::read_frame(&mut rest).unwrap() {
            assert!(frame.len() <= framing::MAX_FRAME);
            answers.push(serde_json::from_slice(&frame).unwrap());
        }
        (answers, exit)
    }

    #[test]
    fn requests_whose_answer_would_exceed_1_mib_still_get_one() {
        // Found by the malformed-input test: echoing a 1 MiB id or field name made an answer the
        // host could not write, and it stopped without answering.
        let mut input = Vec::new();
        for template in [
            r#"{"id":"{}","command":"nope"}"#,
            r#"{"id":"{}","command":"version"}"#,
            r#"{"id":"f","command":"version","{}":1}"#,
        ] {
            input.extend(frame(&largest_request(template)));
        }
        input.extend(frame(br#"{"id":"after","command":"version"}"#));
        let (answers, exit) = answers_to(&input);
        assert_eq!(exit, Exit::Finished);
        assert_eq!(answers.len(), 4);
        for (answer, id) in answers.iter().zip([json!(null), json!(null), json!("f")]) {
            assert_eq!(answer["id"], id);
            assert_eq!(answer["error"]["code"], "ERR_INVALID_REQUEST");
            assert!(answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1 MiB"));
        }
        assert_eq!(answers[3]["result"]["protocol"], PROTOCOL_VERSION);
    }
}
