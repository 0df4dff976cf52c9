//! Target (b): the request parser on arbitrary bytes, checked against an independent reading of
//! the same bytes with `serde_json::Value`.

use cpx_connect::protocol::request::{parse, Command};
use cpx_connect::protocol::wire::{ErrorCode, RequestId};
use serde_json::Value;

pub fn run(data: &[u8]) {
    let parsed = parse(data);
    if let Err(rejected) = &parsed {
        assert!(
            matches!(
                rejected.error.code,
                ErrorCode::InvalidRequest | ErrorCode::UnknownCommand
            ),
            "parse answered {}",
            rejected.error.code
        );
        assert!(!rejected.error.message.is_empty());
    }
    // The host reads lazily: a value it drops unread (the first of two keys with the same name)
    // may hold what `Value` refuses, a lone surrogate or a number beyond f64. Such requests are
    // only checked for the codes above.
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match parsed {
        Ok(request) => {
            let object = value
                .as_object()
                .expect("an accepted request is a JSON object");
            assert!(
                object
                    .keys()
                    .all(|key| matches!(key.as_str(), "id" | "command" | "arguments")),
                "accepted an unknown field"
            );
            assert_eq!(
                Some(&request.id),
                object.get("id").and_then(echoed_id).as_ref()
            );
            let name = object.get("command").and_then(Value::as_str);
            let expected = match &request.command {
                Command::Version => "version",
                Command::Status => "status",
                Command::Certificates => "certificates",
                Command::Quit => "quit",
                Command::Authenticate(arguments) => {
                    let given = object["arguments"]
                        .as_object()
                        .expect("authenticate arguments are an object");
                    let text = |field: &str| given.get(field).and_then(Value::as_str);
                    assert_eq!(text("origin"), Some(arguments.origin.as_str()));
                    assert_eq!(
                        text("challengeNonce"),
                        Some(arguments.challenge_nonce.as_str())
                    );
                    assert_eq!(
                        text("certificateId"),
                        Some(arguments.certificate_id.as_str())
                    );
                    "authenticate"
                }
            };
            assert_eq!(name, Some(expected));
        }
        Err(rejected) => {
            // An id is echoed only when it was readable as a string or a number.
            if rejected.id != RequestId::Null {
                let readable = value.get("id").and_then(echoed_id);
                assert_eq!(Some(&rejected.id), readable.as_ref());
            }
            if let Some(pin) = lone_pin(&value) {
                assert!(
                    !rejected.error.message.contains(pin),
                    "the PIN appears in the error message"
                );
            }
        }
    }
}

fn echoed_id(id: &Value) -> Option<RequestId> {
    match id {
        Value::String(text) => Some(RequestId::Text(text.clone())),
        Value::Number(number) => Some(RequestId::Number(number.clone())),
        _ => None,
    }
}

/// `arguments.pin` when it is a PIN (4 or more digits) that appears nowhere else in the request
/// (no key, string or number contains it), so that finding it in a message means the message
/// quotes the PIN.
fn lone_pin(request: &Value) -> Option<&str> {
    let pin = request.get("arguments")?.get("pin")?.as_str()?;
    if pin.len() < 4 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut texts = Vec::new();
    collect_texts(request, &mut texts);
    let occurrences = texts.iter().filter(|text| text.contains(pin)).count();
    (occurrences == 1).then_some(pin)
}

fn collect_texts(value: &Value, texts: &mut Vec<String>) {
    match value {
        Value::String(text) => texts.push(text.clone()),
        Value::Number(number) => texts.push(number.to_string()),
        Value::Array(items) => items.iter().for_each(|item| collect_texts(item, texts)),
        Value::Object(map) => {
            for (key, item) in map {
                texts.push(key.clone());
                collect_texts(item, texts);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}
