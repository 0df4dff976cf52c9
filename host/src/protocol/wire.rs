//! What goes back on the wire: the response envelope, request ids and the error codes of
//! the protocol (documented in host/PROTOCOL.md; codes are append-only).
//!
//! [`ErrorCode`] is the one list of the protocol's codes. Every other copy (host/PROTOCOL.md, the
//! README, the extension's `HOST_ERROR_CODES`, the end-to-end tests' list, the demo's French
//! messages) is checked against it by `host/tests/error_codes.rs`; the fuzz harnesses use it.

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

/// Declares [`ErrorCode`] from one list, so that the variants, [`ErrorCode::ALL`] and the wire
/// strings cannot disagree.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal,)+) => {
        /// An error code of protocol 1, as the extension receives it in `error.code`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order host/PROTOCOL.md documents them. Append only.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it travels: `ERR_...`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// Frame, JSON or field problem; the message names the field.
    InvalidRequest = "ERR_INVALID_REQUEST",
    UnknownCommand = "ERR_UNKNOWN_COMMAND",
    OriginInvalid = "ERR_ORIGIN_INVALID",
    NonceInvalid = "ERR_NONCE_INVALID",
    PcscUnavailable = "ERR_PCSC_UNAVAILABLE",
    NoReader = "ERR_NO_READER",
    NoCard = "ERR_NO_CARD",
    /// With `cardState: "contactless"` when the only CPS is read contactless.
    CardUnsupported = "ERR_CARD_UNSUPPORTED",
    CertificateNotFound = "ERR_CERTIFICATE_NOT_FOUND",
    CardRemoved = "ERR_CARD_REMOVED",
    PinRequired = "ERR_PIN_REQUIRED",
    PinFormat = "ERR_PIN_FORMAT",
    /// With `retriesLeft`.
    PinIncorrect = "ERR_PIN_INCORRECT",
    PinBlocked = "ERR_PIN_BLOCKED",
    /// With `sw` when the card gave a status word.
    CardError = "ERR_CARD_ERROR",
    Internal = "ERR_INTERNAL",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// So that tests compare a code with the string the extension sees.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error as the extension receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub code: ErrorCode,
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
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
            retries_left: None,
            sw: None,
            card_state: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        WireError::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unknown_command(command: &str) -> Self {
        WireError::new(
            ErrorCode::UnknownCommand,
            format!("unknown command {command:?}"),
        )
    }

    pub fn pin_required() -> Self {
        WireError::new(ErrorCode::PinRequired, "the request carries no PIN")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        WireError::new(ErrorCode::Internal, message)
    }
}

impl From<InputError> for WireError {
    fn from(error: InputError) -> Self {
        let code = match error {
            InputError::Origin => ErrorCode::OriginInvalid,
            InputError::Nonce => ErrorCode::NonceInvalid,
        };
        WireError::new(code, error.to_string())
    }
}

impl From<HostError> for WireError {
    fn from(error: HostError) -> Self {
        let message = error.to_string();
        match error {
            HostError::PcscUnavailable => WireError::new(ErrorCode::PcscUnavailable, message),
            HostError::NoReader => WireError::new(ErrorCode::NoReader, message),
            HostError::NoCard => WireError::new(ErrorCode::NoCard, message),
            HostError::CardUnsupported(_) => WireError::new(ErrorCode::CardUnsupported, message),
            HostError::CardContactless => WireError {
                card_state: Some(CardType::Cps3Contactless.state()),
                ..WireError::new(ErrorCode::CardUnsupported, message)
            },
            HostError::CertificateNotFound => {
                WireError::new(ErrorCode::CertificateNotFound, message)
            }
            HostError::CardRemoved => WireError::new(ErrorCode::CardRemoved, message),
            HostError::PinFormat(_) => WireError::new(ErrorCode::PinFormat, message),
            HostError::PinIncorrect { retries_left } => WireError {
                retries_left: Some(retries_left),
                ..WireError::new(ErrorCode::PinIncorrect, message)
            },
            HostError::PinBlocked => WireError::new(ErrorCode::PinBlocked, message),
            HostError::Card { sw, .. } => WireError {
                sw: sw.map(|sw| format!("{sw:04X}")),
                ..WireError::new(ErrorCode::CardError, message)
            },
            HostError::Internal(_) => WireError::new(ErrorCode::Internal, message),
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
