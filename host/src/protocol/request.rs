//! Parsing a request frame into a typed command, naming the field at fault when it does not fit.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::wire::{RequestId, WireError};
use crate::card::Pin;

#[derive(Debug)]
pub enum Command {
    Version,
    Status,
    Certificates,
    Authenticate(AuthenticateArguments),
    Quit,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthenticateArguments {
    pub origin: String,
    pub challenge_nonce: String,
    pub certificate_id: String,
    #[serde(default)]
    pub pin: Option<Pin>,
}

#[derive(Debug)]
pub struct Request {
    pub id: RequestId,
    pub command: Command,
}

/// A request that could not be parsed, with the id to answer it with when one was readable.
#[derive(Debug)]
pub struct Rejected {
    pub id: RequestId,
    pub error: WireError,
}

pub fn parse(frame: &[u8]) -> Result<Request, Rejected> {
    let reject = |id: RequestId, error: WireError| Rejected { id, error };
    // Parsers disagree on which of two equal keys wins (DESIGN.md), so none may appear, at any
    // depth. Checked before anything is taken from the request, so no duplicate can choose it.
    if let Err(error) = duplicates::check(frame) {
        return Err(reject(RequestId::Null, WireError::invalid_request(error)));
    }
    // Borrow every value from the frame (which is wiped after use) instead of copying a PIN around.
    let fields: BTreeMap<String, &RawValue> = serde_json::from_slice(frame).map_err(|error| {
        reject(
            RequestId::Null,
            WireError::invalid_request(format!("the request is not a JSON object: {error}")),
        )
    })?;
    let id = match fields.get("id") {
        Some(raw) => RequestId::parse(raw).ok_or_else(|| {
            reject(
                RequestId::Null,
                WireError::invalid_request("field `id` must be a string or a number"),
            )
        })?,
        None => {
            return Err(reject(
                RequestId::Null,
                WireError::invalid_request("missing field `id`"),
            ))
        }
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !matches!(key.as_str(), "id" | "command" | "arguments"))
    {
        return Err(reject(
            id,
            WireError::invalid_request(format!("unknown field `{unknown}`")),
        ));
    }
    let Some(command) = fields.get("command") else {
        return Err(reject(
            id,
            WireError::invalid_request("missing field `command`"),
        ));
    };
    let Ok(command) = serde_json::from_str::<&str>(command.get())
        .map(str::to_owned)
        .or_else(|_| serde_json::from_str::<String>(command.get()))
    else {
        return Err(reject(
            id,
            WireError::invalid_request("field `command` must be a string"),
        ));
    };
    let arguments = fields.get("arguments").copied();
    let no_arguments = |id: &RequestId| match arguments {
        None => Ok(()),
        Some(raw) if raw.get() == "null" => Ok(()),
        // Commands without arguments accept none, or an empty object.
        Some(raw) => match serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) {
            Ok(map) if map.is_empty() => Ok(()),
            Ok(map) => Err(Rejected {
                id: id.clone(),
                error: WireError::invalid_request(format!(
                    "field `arguments`: unknown field `{}`",
                    map.keys().next().map(String::as_str).unwrap_or_default()
                )),
            }),
            Err(_) => Err(Rejected {
                id: id.clone(),
                error: WireError::invalid_request("field `arguments` must be an object"),
            }),
        },
    };
    let command = match command.as_str() {
        "version" => no_arguments(&id).map(|_| Command::Version)?,
        "status" => no_arguments(&id).map(|_| Command::Status)?,
        "certificates" => no_arguments(&id).map(|_| Command::Certificates)?,
        "quit" => no_arguments(&id).map(|_| Command::Quit)?,
        "authenticate" => {
            let Some(raw) = arguments else {
                return Err(reject(
                    id,
                    WireError::invalid_request("missing field `arguments`"),
                ));
            };
            // serde would also take the fields in order from an array; the protocol says object.
            if !raw.get().starts_with('{') {
                return Err(reject(
                    id,
                    WireError::invalid_request("field `arguments` must be an object"),
                ));
            }
            // Name the field whose JSON type is wrong: serde's own message says only what it met.
            if let Ok(fields) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) {
                let expected_strings = ["origin", "challengeNonce", "certificateId", "pin"];
                for (name, value) in &fields {
                    let is_string = value.get().starts_with('"');
                    let allowed_null = name == "pin" && value.get() == "null";
                    if expected_strings.contains(&name.as_str()) && !is_string && !allowed_null {
                        return Err(reject(
                            id,
                            WireError::invalid_request(format!(
                                "field `arguments.{name}` must be a string"
                            )),
                        ));
                    }
                }
            }
            match serde_json::from_str::<AuthenticateArguments>(raw.get()) {
                Ok(arguments) => Command::Authenticate(arguments),
                Err(error) => {
                    return Err(reject(
                        id,
                        WireError::invalid_request(format!(
                            "field `arguments`: {}",
                            redact(&error)
                        )),
                    ))
                }
            }
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            return Err(reject(id, WireError::unknown_command(&shown)));
        }
    };
    Ok(Request { id, command })
}

mod duplicates {
    //! A pass over the whole request that refuses an object with the same key twice.

    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    /// `Err` names the repeated key (shortened), or says the JSON does not parse.
    pub fn check(frame: &[u8]) -> Result<(), String> {
        let mut deserializer = serde_json::Deserializer::from_slice(frame);
        // serde_json's own recursion limit (128) bounds the depth of this walk.
        // Any other error ends the request: a value this walk cannot read (a lone surrogate, a
        // number beyond f64) must not hide a duplicate that the lazier parse proper lets through.
        Walk { top: true }
            .deserialize(&mut deserializer)
            .or_else(|error| {
                let text = error.to_string();
                let text = text.split(" at line ").next().unwrap_or_default();
                if text == RECURSION {
                    // No request nests more than two levels, so the parse proper refuses this one
                    // anyway, naming the field that nests too deep.
                    Ok(())
                } else if error.is_data() {
                    Err(text.to_owned())
                } else {
                    Err(format!("the request is not a JSON object: {text}"))
                }
            })
    }

    const RECURSION: &str = "recursion limit exceeded";

    /// Visits any JSON value, keeping nothing but the keys of the object being read. In the
    /// request object itself (`top`), an error is prefixed with the field it was found in.
    struct Walk {
        top: bool,
    }

    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk {
        type Value = ();

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("any JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
            while items.next_element_seed(Walk { top: false })?.is_some() {}
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = entries.next_key::<String>()? {
                if seen.contains(&key) {
                    let shown: String = key.chars().take(64).collect();
                    return Err(de::Error::custom(format_args!("duplicate key `{shown}`")));
                }
                if let Err(error) = entries.next_value_seed(Walk { top: false }) {
                    let text = error.to_string();
                    let text = text.split(" at line ").next().unwrap_or_default();
                    if !self.top || text == RECURSION {
                        return Err(error);
                    }
                    let shown: String = key.chars().take(64).collect();
                    return Err(de::Error::custom(format_args!(
                        "field `{shown}` is not JSON the host accepts: {text}"
                    )));
                }
                seen.insert(key);
            }
            Ok(())
        }
    }
}

/// serde's messages quote offending values ("invalid type: string \"1234\""...); keep only the
/// part that names the problem, since the value could be a PIN.
fn redact(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    if text.starts_with("invalid type") || text.starts_with("invalid value") {
        match text.split_once(", expected") {
            Some((kind, expected)) => {
                let kind = kind.split(':').nth(1).unwrap_or_default();
                let kind = kind.split_whitespace().next().unwrap_or_default();
                format!("wrong type ({kind}), expected{expected}")
            }
            None => "wrong type".to_owned(),
        }
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(frame: &str) -> Rejected {
        parse(frame.as_bytes()).expect_err(frame)
    }

    #[test]
    fn parses_each_command() {
        for (frame, expected) in [
            (r#"{"id":1,"command":"version"}"#, "Version"),
            (r#"{"id":"a","command":"status","arguments":{}}"#, "Status"),
            (
                r#"{"id":2,"command":"certificates","arguments":null}"#,
                "Certificates",
            ),
            (r#"{"id":3,"command":"quit"}"#, "Quit"),
        ] {
            let request = parse(frame.as_bytes()).unwrap();
            assert_eq!(format!("{:?}", request.command), expected);
        }
        let request = parse(
            br#"{"id":9,"command":"authenticate","arguments":{"origin":"https://a.fr","challengeNonce":"n","certificateId":"c","pin":"1234"}}"#,
        )
        .unwrap();
        let Command::Authenticate(arguments) = request.command else {
            panic!("not authenticate");
        };
        assert_eq!(arguments.origin, "https://a.fr");
        assert_eq!(arguments.pin.map(|p| p.len()), Some(4));
        assert_eq!(
            request.id,
            RequestId::parse(&RawValue::from_string("9".into()).unwrap()).unwrap()
        );
    }

    #[test]
    fn the_pin_is_optional_in_parsing_and_never_echoed() {
        let request = parse(
            br#"{"id":1,"command":"authenticate","arguments":{"origin":"o","challengeNonce":"n","certificateId":"c"}}"#,
        )
        .unwrap();
        let Command::Authenticate(arguments) = request.command else {
            panic!("not authenticate");
        };
        assert!(arguments.pin.is_none());
        let error = rejected(
            r#"{"id":1,"command":"authenticate","arguments":{"origin":"o","challengeNonce":"n","certificateId":"c","pin":98765}}"#,
        );
        assert_eq!(error.error.code, "ERR_INVALID_REQUEST");
        assert!(
            !error.error.message.contains("98765"),
            "{}",
            error.error.message
        );
        let error = rejected(
            r#"{"id":1,"command":"authenticate","arguments":{"origin":7,"challengeNonce":"n","certificateId":"c","pin":"4321"}}"#,
        );
        assert!(error.error.message.contains("origin") || error.error.message.contains("expected"));
        assert!(!error.error.message.contains("4321"));
    }

    #[test]
    fn names_the_field_at_fault() {
        for (frame, id_kept, needle) in [
            (r#"{"command":"version"}"#, false, "id"),
            (r#"{"id":true,"command":"version"}"#, false, "id"),
            (r#"{"id":{},"command":"version"}"#, false, "id"),
            (r#"{"id":null,"command":"version"}"#, false, "id"),
            (r#"{"id":1}"#, true, "command"),
            (r#"{"id":1,"command":5}"#, true, "command"),
            (r#"{"id":1,"command":"version","extra":1}"#, true, "extra"),
            (
                r#"{"id":1,"command":"version","arguments":{"x":1}}"#,
                true,
                "arguments",
            ),
            (
                r#"{"id":1,"command":"version","arguments":[]}"#,
                true,
                "arguments",
            ),
            (r#"{"id":1,"command":"authenticate"}"#, true, "arguments"),
            (
                r#"{"id":1,"command":"authenticate","arguments":{"challengeNonce":"n","certificateId":"c"}}"#,
                true,
                "origin",
            ),
            (
                r#"{"id":1,"command":"authenticate","arguments":{"origin":"o","challengeNonce":"n","certificateId":"c","sign":"x"}}"#,
                true,
                "sign",
            ),
        ] {
            let error = rejected(frame);
            assert_eq!(error.error.code, "ERR_INVALID_REQUEST", "{frame}");
            assert_eq!(error.id != RequestId::Null, id_kept, "{frame}");
            assert!(
                error.error.message.contains(needle),
                "{frame}: {}",
                error.error.message
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_json_object() {
        for frame in [
            "",
            "[]",
            "1",
            "\"x\"",
            "{",
            "{\"id\":1,}",
            "\u{0}",
            "{\"id\":1,\"command\":\"version\"} x",
        ] {
            let error = rejected(frame);
            assert_eq!(error.error.code, "ERR_INVALID_REQUEST", "{frame:?}");
            assert_eq!(error.id, RequestId::Null);
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let error = rejected(&format!(
            "{{\"id\":1,\"command\":\"version\",\"arguments\":{deep}}}"
        ));
        assert_eq!(error.error.code, "ERR_INVALID_REQUEST");
        assert!(parse(&[0xFF, 0xFE]).is_err());
    }

    #[test]
    fn authenticate_arguments_must_be_an_object() {
        // Found by the malformed-input test: an array was read as the fields in declaration
        // order, and the request went on to the card.
        for arguments in [
            r#"["https://a.fr","QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=","c","1234"]"#,
            r#""x""#,
            "7",
        ] {
            let error = rejected(&format!(
                r#"{{"id":1,"command":"authenticate","arguments":{arguments}}}"#
            ));
            assert_eq!(error.error.code, "ERR_INVALID_REQUEST", "{arguments}");
            assert_eq!(error.error.message, "field `arguments` must be an object");
            assert_ne!(error.id, RequestId::Null);
        }
        assert!(parse(
            br#"{"id":1,"command":"authenticate","arguments": {"origin":"o","challengeNonce":"n","certificateId":"c"}}"#
        )
        .is_ok());
    }

    #[test]
    fn a_key_given_twice_anywhere_is_refused() {
        // Before: the last `command` won, so this request was a `quit`.
        for (frame, key) in [
            (
                r#"{"id":1,"command":"version","command":"quit"}"#,
                "command",
            ),
            (r#"{"id":1,"id":2,"command":"version"}"#, "id"),
            (
                r#"{"id":1,"command":"version","arguments":{"a":{"x":1,"x":2}}}"#,
                "x",
            ),
            (
                r#"{"id":1,"command":"status","arguments":[{"k":0},{"k":1,"k":2}]}"#,
                "k",
            ),
            // A value the lazy parse would skip unread does not hide the duplicate.
            (r#"{"id":1,"command":"v\ud800","command":"quit"}"#, ""),
            // The same key after unescaping is the same key.
            (
                r#"{"id":1,"command":"version","\u0063ommand":"quit"}"#,
                "command",
            ),
        ] {
            let error = rejected(frame);
            assert_eq!(error.error.code, "ERR_INVALID_REQUEST", "{frame}");
            assert_eq!(error.id, RequestId::Null, "{frame}");
            assert!(
                key.is_empty()
                    || error
                        .error
                        .message
                        .contains(&format!("duplicate key `{key}`")),
                "{frame}: {}",
                error.error.message
            );
        }
        // Equal keys in different objects are not duplicates.
        assert!(parse(br#"{"id":1,"command":"version","arguments":{}}"#).is_ok());
        let nested = r#"{"id":1,"command":"status","arguments":[{"id":1},{"id":2}]}"#;
        assert!(rejected(nested).error.message.contains("arguments"));
        // A PIN given twice is refused without quoting it.
        let error = rejected(
            r#"{"id":1,"command":"authenticate","arguments":{"origin":"o","challengeNonce":"n","certificateId":"c","pin":"4321","pin":"8765"}}"#,
        );
        assert!(error.error.message.contains("duplicate key `pin`"));
        assert!(!error.error.message.contains("4321") && !error.error.message.contains("8765"));
    }

    #[test]
    fn unknown_commands_have_their_own_code() {
        let error = rejected(r#"{"id":"x","command":"sign"}"#);
        assert_eq!(error.error.code, "ERR_UNKNOWN_COMMAND");
        assert_eq!(
            error.id,
            RequestId::parse(&RawValue::from_string("\"x\"".into()).unwrap()).unwrap()
        );
    }
}
