//! What goes back on the wire: the response envelope, request ids and the error codes of
//! the protocol (documented in host/PROTOCOL.md; codes are append-only).

use serde::Serialize;
use serde_json::value::RawValue;

use crate::card::CardType;
use crate::service::HostError;
use crate::token::InputError;

/// The request's `id`, echoed as it came: a string or a number, or null when unreadable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RequestId {
    Null,
    Text(String),
    Number(serde_json::Number),
}

impl RequestId {
    pub fn parse(raw: &RawValue) -> Option<Self> {
        match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
            serde_json::Value::String(text) => Some(RequestId::Text(text)),
            serde_json::Value::Number(number) => Some(RequestId::Number(number)),
            _ => None,
        }
    }
}

/// An error as the extension receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries_left: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sw: Option<String>,
    /// With `ERR_CARD_UNSUPPORTED`: `"contactless"` when the card is a CPS read contactless.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_state: Option<&'static str>,
}

impl WireError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
            retries_left: None,
            sw: None,
            card_state: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        WireError::new("ERR_INVALID_REQUEST", message)
    }

    pub fn unknown_command(command: &str) -> Self {
        WireError::new(
            "ERR_UNKNOWN_COMMAND",
            format!("unknown command {command:?}"),
        )
    }

    pub fn pin_required() -> Self {
        WireError::new("ERR_PIN_REQUIRED", "the request carries no PIN")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        WireError::new("ERR_INTERNAL", message)
    }
}

impl From<InputError> for WireError {
    fn from(error: InputError) -> Self {
        let code = match error {
            InputError::Origin => "ERR_ORIGIN_INVALID",
            InputError::Nonce => "ERR_NONCE_INVALID",
        };
        WireError::new(code, error.to_string())
    }
}

impl From<HostError> for WireError {
    fn from(error: HostError) -> Self {
        let message = error.to_string();
        match error {
            HostError::PcscUnavailable => WireError::new("ERR_PCSC_UNAVAILABLE", message),
            HostError::NoReader => WireError::new("ERR_NO_READER", message),
            HostError::NoCard => WireError::new("ERR_NO_CARD", message),
            HostError::CardUnsupported(_) => WireError::new("ERR_CARD_UNSUPPORTED", message),
            HostError::CardContactless => WireError {
                card_state: Some(CardType::Cps3Contactless.state()),
                ..WireError::new("ERR_CARD_UNSUPPORTED", message)
            },
            HostError::CertificateNotFound => WireError::new("ERR_CERTIFICATE_NOT_FOUND", message),
            HostError::CardRemoved => WireError::new("ERR_CARD_REMOVED", message),
            HostError::PinFormat(_) => WireError::new("ERR_PIN_FORMAT", message),
            HostError::PinIncorrect { retries_left } => WireError {
                retries_left: Some(retries_left),
                ..WireError::new("ERR_PIN_INCORRECT", message)
            },
            HostError::PinBlocked => WireError::new("ERR_PIN_BLOCKED", message),
            HostError::Card { sw, .. } => WireError {
                sw: sw.map(|sw| format!("{sw:04X}")),
                ..WireError::new("ERR_CARD_ERROR", message)
            },
            HostError::Internal(_) => WireError::new("ERR_INTERNAL", message),
        }
    }
}

#[derive(Serialize)]
struct SuccessEnvelope<'a, T: Serialize> {
    id: &'a RequestId,
    result: T,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    id: &'a RequestId,
    error: &'a WireError,
}

pub fn success_json(id: &RequestId, result: impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&SuccessEnvelope { id, result })
}

pub fn error_json(id: &RequestId, error: &WireError) -> Vec<u8> {
    // Serialising these plain strings and numbers cannot fail; fall back to a fixed frame anyway.
    serde_json::to_vec(&ErrorEnvelope { id, error }).unwrap_or_else(|_| {
        br#"{"id":null,"error":{"code":"ERR_INTERNAL","message":"unserialisable error"}}"#.to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_extra_fields() {
        let wrong_pin = WireError::from(HostError::PinIncorrect { retries_left: 2 });
        let json: serde_json::Value =
            serde_json::from_slice(&error_json(&RequestId::Text("a".into()), &wrong_pin)).unwrap();
        assert_eq!(json["id"], "a");
        assert_eq!(json["error"]["code"], "ERR_PIN_INCORRECT");
        assert_eq!(json["error"]["retriesLeft"], 2);
        assert!(json["error"].get("sw").is_none());

        let card = WireError::from(HostError::Card {
            sw: Some(0x6A82),
            message: "x".into(),
        });
        let json: serde_json::Value =
            serde_json::from_slice(&error_json(&RequestId::Null, &card)).unwrap();
        assert_eq!(json["id"], serde_json::Value::Null);
        assert_eq!(json["error"]["sw"], "6A82");
    }

    #[test]
    fn every_host_error_has_its_documented_code() {
        let cases = [
            (HostError::PcscUnavailable, "ERR_PCSC_UNAVAILABLE"),
            (HostError::NoReader, "ERR_NO_READER"),
            (HostError::NoCard, "ERR_NO_CARD"),
            (
                HostError::CardUnsupported("x".into()),
                "ERR_CARD_UNSUPPORTED",
            ),
            (HostError::CertificateNotFound, "ERR_CERTIFICATE_NOT_FOUND"),
            (HostError::CardContactless, "ERR_CARD_UNSUPPORTED"),
            (HostError::CardRemoved, "ERR_CARD_REMOVED"),
            (HostError::PinFormat("x"), "ERR_PIN_FORMAT"),
            (HostError::PinBlocked, "ERR_PIN_BLOCKED"),
            (HostError::Internal("x".into()), "ERR_INTERNAL"),
        ];
        for (error, code) in cases {
            assert_eq!(WireError::from(error).code, code);
        }
        assert_eq!(
            WireError::from(InputError::Origin).code,
            "ERR_ORIGIN_INVALID"
        );
        assert_eq!(WireError::from(InputError::Nonce).code, "ERR_NONCE_INVALID");
    }
}
