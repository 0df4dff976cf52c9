//! Malformed frames and requests fed to the real `cpx-connect` binary: each gets a clear error with
//! the right code and id, and the host goes on answering (or, after a broken frame, answers once
//! and exits with code 1). Every case is refused before any card access, so no pcscd is needed.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cpx_e2e::{host_binary, Host};
use serde_json::{json, Value};

const MAX_FRAME: usize = 1024 * 1024;
const ORIGIN: &str = "https://demo.cpxconnect.org";

fn nonce() -> String {
    BASE64.encode([0x42u8; 32])
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as u32).to_ne_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

/// What the host must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An error with this code whose message contains the needle (the field at fault).
    Error(&'static str, &'static str),
    /// The `version` result: the request was well-formed after all.
    Version,
}

struct Case {
    name: String,
    body: Vec<u8>,
    id: Value,
    expect: Expect,
    /// Text that must not appear in the answer (a PIN).
    secret: Option<String>,
}

const INVALID: &str = "ERR_INVALID_REQUEST";
const UNKNOWN: &str = "ERR_UNKNOWN_COMMAND";

/// Cases whose body is not a readable request: answered with `"id": null`.
fn unreadable_cases() -> Vec<Case> {
    let deep_id = format!(
        r#"{{"id":{}1{},"command":"version"}}"#,
        r#"{"a":"#.repeat(1000),
        "}".repeat(1000)
    );
    #[rustfmt::skip]
    let raw: Vec<(&str, Vec<u8>, &'static str)> = vec![
        ("empty frame", b"".to_vec(), "JSON"),
        ("whitespace only", b"  \n\t ".to_vec(), "JSON"),
        ("invalid UTF-8", vec![0xFF, 0xFE, 0xFD], "JSON"),
        ("invalid UTF-8 inside a string", b"{\"id\":\"\xC3\x28\",\"command\":\"version\"}".to_vec(), "JSON"),
        ("UTF-8 byte order mark", "\u{FEFF}{\"id\":1,\"command\":\"version\"}".into(), "JSON"),
        ("array", b"[]".to_vec(), "JSON"),
        ("number", b"42".to_vec(), "JSON"),
        ("string", b"\"version\"".to_vec(), "JSON"),
        ("null", b"null".to_vec(), "JSON"),
        ("boolean", b"true".to_vec(), "JSON"),
        ("truncated JSON", br#"{"id":1,"command":"vers"#.to_vec(), "JSON"),
        ("trailing garbage", br#"{"id":1,"command":"version"} x"#.to_vec(), "JSON"),
        ("two objects", br#"{"id":1,"command":"version"}{}"#.to_vec(), "JSON"),
        ("trailing comma", br#"{"id":1,"command":"version",}"#.to_vec(), "JSON"),
        ("single quotes", br#"{'id':1,'command':'version'}"#.to_vec(), "JSON"),
        ("comment", br#"{"id":1,/*x*/"command":"version"}"#.to_vec(), "JSON"),
        ("NaN", br#"{"id":NaN,"command":"version"}"#.to_vec(), "JSON"),
        ("NUL after the object", b"{\"id\":1,\"command\":\"version\"}\0".to_vec(), "JSON"),
        ("raw NUL inside a string", b"{\"id\":\"a\0b\",\"command\":\"version\"}".to_vec(), "JSON"),
        ("lone surrogate key", br#"{"\ud800":1,"id":1,"command":"version"}"#.to_vec(), "JSON"),
        ("deep nesting in id", deep_id.into_bytes(), "id"),
        ("missing id", br#"{"command":"version"}"#.to_vec(), "id"),
        ("id null", br#"{"id":null,"command":"version"}"#.to_vec(), "id"),
        ("id boolean", br#"{"id":true,"command":"version"}"#.to_vec(), "id"),
        ("id object", br#"{"id":{"n":1},"command":"version"}"#.to_vec(), "id"),
        ("id array", br#"{"id":[1],"command":"version"}"#.to_vec(), "id"),
        ("id out of range", br#"{"id":1e999,"command":"version"}"#.to_vec(), "id"),
    ];
    raw.into_iter()
        .map(|(name, body, needle)| Case {
            name: name.into(),
            body,
            id: Value::Null,
            expect: Expect::Error(INVALID, needle),
            secret: None,
        })
        .collect()
}

/// A request with the given id; the id is echoed in the answer.
fn with_id(name: &str, id: Value, request: Value, expect: Expect) -> Case {
    let mut request = request;
    request["id"] = id.clone();
    Case {
        name: name.into(),
        body: serde_json::to_vec(&request).expect("JSON"),
        id,
        expect,
        secret: None,
    }
}

/// Adds a case whose id names it.
fn add(cases: &mut Vec<Case>, name: &str, request: Value, expect: Expect) {
    let id = json!(format!("case {name}"));
    cases.push(with_id(name, id, request, expect));
}

/// Readable requests the host refuses: the id comes back with the error.
fn request_cases() -> Vec<Case> {
    let error = Expect::Error;
    let mut cases = Vec::new();
    // One line a case: the request, and the error it gets.
    #[rustfmt::skip]
    let simple: [(&str, Value, Expect); 16] = [
        ("missing command",                json!({}), error(INVALID, "command")),
        ("command number",                 json!({"command": 1}), error(INVALID, "command")),
        ("command null",                   json!({"command": null}), error(INVALID, "command")),
        ("command array",                  json!({"command": ["version"]}), error(INVALID, "command")),
        ("command object",                 json!({"command": {"name": "version"}}), error(INVALID, "command")),
        ("unknown command",                json!({"command": "sign"}), error(UNKNOWN, "sign")),
        ("command in capitals",            json!({"command": "VERSION"}), error(UNKNOWN, "VERSION")),
        ("empty command",                  json!({"command": ""}), error(UNKNOWN, "unknown command")),
        ("command with a space",           json!({"command": "version "}), error(UNKNOWN, "version")),
        ("command with NUL",               json!({"command": "version\u{0}"}), error(UNKNOWN, "version")),
        ("unknown field",                  json!({"command": "version", "extra": 1}), error(INVALID, "extra")),
        ("field in capitals",              json!({"Command": "version"}), error(INVALID, "Command")),
        ("arguments to version",           json!({"command": "version", "arguments": {"x": 1}}), error(INVALID, "arguments")),
        ("arguments array",                json!({"command": "quit", "arguments": []}), error(INVALID, "arguments")),
        ("arguments string",               json!({"command": "version", "arguments": "x"}), error(INVALID, "arguments")),
        ("authenticate without arguments", json!({"command": "authenticate"}), error(INVALID, "arguments")),
    ];
    for (name, request, expect) in simple {
        add(&mut cases, name, request, expect);
    }
    for (name, arguments) in [
        ("arguments null", json!(null)),
        (
            "arguments array for authenticate",
            json!([ORIGIN, nonce(), "c", "1234"]),
        ),
        ("arguments number", json!(7)),
    ] {
        add(
            &mut cases,
            name,
            json!({"command": "authenticate", "arguments": arguments}),
            error(INVALID, "arguments"),
        );
    }
    let authenticate =
        |arguments: Value| json!({"command": "authenticate", "arguments": arguments});
    let valid = || json!({"origin": ORIGIN, "challengeNonce": nonce(), "certificateId": "c"});
    let without = |field: &str| {
        let mut arguments = valid();
        arguments.as_object_mut().expect("object").remove(field);
        authenticate(arguments)
    };
    let replaced = |field: &str, value: Value| {
        let mut arguments = valid();
        arguments[field] = value;
        authenticate(arguments)
    };
    #[rustfmt::skip]
    let arguments_cases: [(&str, Value, Expect); 5] = [
        ("missing origin",         without("origin"), error(INVALID, "origin")),
        ("missing challengeNonce", without("challengeNonce"), error(INVALID, "challengeNonce")),
        ("missing certificateId",  without("certificateId"), error(INVALID, "certificateId")),
        ("unknown argument",       replaced("sign", json!("x")), error(INVALID, "sign")),
        ("argument in other case", replaced("Origin", json!(ORIGIN)), error(INVALID, "Origin")),
    ];
    for (name, request, expect) in arguments_cases {
        add(&mut cases, name, request, expect);
    }
    for (field, value) in [
        ("origin", json!(443)),
        ("origin", json!(null)),
        ("origin", json!([ORIGIN])),
        ("challengeNonce", json!(null)),
        ("challengeNonce", json!({"n": 1})),
        ("certificateId", json!(["c"])),
        ("certificateId", json!(true)),
        ("pin", json!({"digits": "1234"})),
        ("pin", json!(false)),
        ("pin", json!(["1", "2"])),
    ] {
        add(
            &mut cases,
            &format!("{field} as {value}"),
            replaced(field, value),
            error(
                INVALID,
                match field {
                    "origin" => "arguments.origin",
                    "challengeNonce" => "arguments.challengeNonce",
                    "certificateId" => "arguments.certificateId",
                    _ => "arguments.pin",
                },
            ),
        );
    }
    let duplicate = format!(
        r#"{{"id":"dup arg","command":"authenticate","arguments":{{"origin":"{ORIGIN}","origin":"{ORIGIN}","challengeNonce":"{}","certificateId":"c"}}}}"#,
        nonce()
    );
    // Nesting as deep as a frame allows, where the host only skips over it.
    let depth = (MAX_FRAME - 100) / 2;
    let deep_arguments = format!(
        r#"{{"id":"deep","command":"version","arguments":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    cases.push(Case {
        name: "deep nesting in arguments".into(),
        body: deep_arguments.into_bytes(),
        id: json!("deep"),
        expect: Expect::Error(INVALID, "arguments"),
        secret: None,
    });
    cases.push(Case {
        name: "duplicate argument".into(),
        body: duplicate.into_bytes(),
        // A request with a duplicate key is not read at all, not even its id.
        id: Value::Null,
        expect: Expect::Error(INVALID, "origin"),
        secret: None,
    });

    // Origins that break the rules, with everything else valid.
    for origin in [
        "http://demo.cpxconnect.org",
        "https://demo.cpxconnect.org/",
        "https://demo.cpxconnect.org/login",
        "https://demo.cpxconnect.org?next=1",
        "https://demo.cpxconnect.org#top",
        "https://Demo.CpxConnect.org",
        "https://demo.cpxconnect.org:0",
        "https://demo.cpxconnect.org:65536",
        "https://demo.cpxconnect.org:080",
        "https://demo.cpxconnect.org:",
        "https://user@demo.cpxconnect.org",
        "https://",
        "",
        "demo.cpxconnect.org",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        "https://::1",
        "https://demo..cpxconnect.org",
        "https://-demo.cpxconnect.org",
        "https://démo.cpxconnect.org",
        "https://demo.cpxconnect.org\u{0}",
        " https://demo.cpxconnect.org",
    ] {
        let mut request = replaced("origin", json!(origin));
        request["arguments"]["pin"] = json!("1234");
        add(
            &mut cases,
            &format!("origin {origin:?}"),
            request,
            error("ERR_ORIGIN_INVALID", "origin"),
        );
    }
    let long_origin = format!("https://{}.fr", "a.".repeat(124));
    assert_eq!(long_origin.len(), 259);
    add(
        &mut cases,
        "origin over 255 characters",
        replaced("origin", json!(long_origin)),
        error("ERR_ORIGIN_INVALID", "origin"),
    );
    // The origin is checked first, the nonce next.
    let mut both_bad = replaced("origin", json!("http://x"));
    both_bad["arguments"]["challengeNonce"] = json!("short");
    add(
        &mut cases,
        "bad origin and nonce",
        both_bad,
        error("ERR_ORIGIN_INVALID", "origin"),
    );

    let short = BASE64.encode([1u8; 32]);
    for (name, nonce) in [
        ("nonce of 43 characters", short[..43].to_owned()),
        ("nonce of 129 characters", "A".repeat(129)),
        ("nonce not base64", "!".repeat(44)),
        ("nonce in base64url", format!("{}-_==", "A".repeat(40))),
        (
            "nonce with a space",
            format!("{} {}", &short[..20], &short[20..43]),
        ),
        ("empty nonce", String::new()),
        ("nonce with NUL", format!("{}\u{0}", &short[..43])),
    ] {
        add(
            &mut cases,
            name,
            replaced("challengeNonce", json!(nonce)),
            error("ERR_NONCE_INVALID", "challengeNonce"),
        );
    }

    // PINs: missing is refused as required, anything but digits as a format error; neither is
    // ever echoed.
    for (name, pin) in [
        ("no pin", None),
        ("pin null", Some(json!(null))),
        ("empty pin", Some(json!(""))),
    ] {
        let mut request = authenticate(valid());
        if let Some(pin) = pin {
            request["arguments"]["pin"] = pin;
        }
        add(&mut cases, name, request, error("ERR_PIN_REQUIRED", "PIN"));
    }
    let mut secret_cases = Vec::new();
    for pin in [
        "12a4",
        " 1234",
        "1234 ",
        "１２３４",
        "1234\u{0}",
        "-123",
        "12.4",
        "0x1234",
    ] {
        let mut request = authenticate(valid());
        request["arguments"]["pin"] = json!(pin);
        secret_cases.push((
            format!("pin {pin:?}"),
            request,
            error("ERR_PIN_FORMAT", "digits"),
            pin.to_owned(),
        ));
    }
    let mut numeric_pin = authenticate(valid());
    numeric_pin["arguments"]["pin"] = json!(987654);
    secret_cases.push((
        "pin as a number".into(),
        numeric_pin,
        error(INVALID, "arguments"),
        "987654".into(),
    ));
    for (index, (name, request, expect, pin)) in secret_cases.into_iter().enumerate() {
        // The id must not carry the PIN: the answer is searched for it.
        let mut case = with_id(
            &name,
            json!(format!("secret case {index}")),
            request,
            expect,
        );
        case.secret = Some(pin);
        cases.push(case);
    }

    // Ids of every readable kind are echoed as sent.
    for id in [
        json!(0),
        json!(-1),
        json!(2.5),
        json!(12345678901234567890u64),
        json!("é 🔑"),
        json!(""),
    ] {
        cases.push(with_id(
            &format!("id {id}"),
            id,
            json!({"command": "nope"}),
            error(UNKNOWN, "nope"),
        ));
    }
    // Duplicate keys anywhere: parsers disagree on which one wins (DESIGN.md), so the request
    // is refused, with a null id since even the id may be the duplicate.
    for (name, body, key) in [
        (
            "duplicate id",
            r#"{"id":1,"id":2,"command":"nope"}"#,
            "`id`",
        ),
        (
            "duplicate command",
            r#"{"id":"dc","command":"version","command":"quit"}"#,
            "`command`",
        ),
        (
            "duplicate command, the first one unknown",
            r#"{"id":"dc","command":"sign","command":"version"}"#,
            "`command`",
        ),
        (
            "duplicate key deep in arguments",
            r#"{"id":"dn","command":"version","arguments":{"a":[{"b":{"c":1,"c":1}}]}}"#,
            "`c`",
        ),
        (
            "duplicate key hidden by an escape",
            r#"{"id":"de","command":"version","comm\u0061nd":"quit"}"#,
            "`command`",
        ),
    ] {
        cases.push(Case {
            name: name.into(),
            body: body.as_bytes().to_vec(),
            id: Value::Null,
            expect: Expect::Error(INVALID, key),
            secret: None,
        });
    }
    cases
}

/// Strings as large as a frame allows.
fn huge_cases() -> Vec<Case> {
    let room = MAX_FRAME - 200;
    let big = |c: char| c.to_string().repeat(room);
    let error = Expect::Error;
    let mut cases = Vec::new();
    let mut add = |name: &str, request: Value, expect: Expect| {
        let case = with_id(name, json!(format!("huge {name}")), request, expect);
        assert!(case.body.len() <= MAX_FRAME, "{name} does not fit a frame");
        cases.push(case);
    };
    let arguments = |field: &str, value: String| {
        let mut arguments = json!({"origin": ORIGIN, "challengeNonce": nonce(), "certificateId": "c", "pin": "1234"});
        arguments[field] = json!(value);
        json!({"command": "authenticate", "arguments": arguments})
    };
    add(
        "origin",
        arguments("origin", format!("https://{}", big('a'))),
        error("ERR_ORIGIN_INVALID", "origin"),
    );
    add(
        "nonce",
        arguments("challengeNonce", big('A')),
        error("ERR_NONCE_INVALID", "challengeNonce"),
    );
    add(
        "pin",
        arguments("pin", big('x')),
        error("ERR_PIN_FORMAT", "digits"),
    );
    let mut certificate_id = arguments("certificateId", big('c'));
    certificate_id["arguments"]["origin"] = json!("http://x");
    add(
        "certificate id",
        certificate_id,
        error("ERR_ORIGIN_INVALID", "origin"),
    );
    add(
        "command",
        json!({"command": big('z')}),
        error(UNKNOWN, "zzz"),
    );
    let mut padded =
        serde_json::to_vec(&json!({"id": "padded", "command": "version"})).expect("JSON");
    padded.resize(MAX_FRAME, b' ');
    cases.push(Case {
        name: "request padded to exactly 1 MiB".into(),
        body: padded,
        id: json!("padded"),
        expect: Expect::Version,
        secret: None,
    });
    cases
}

/// An answer or id cut short for failure messages (some are a megabyte long).
fn short(value: &Value) -> String {
    value.to_string().chars().take(300).collect()
}

fn check_answer(case: &Case, answer: &Value) {
    let name = &case.name;
    assert!(answer["id"] == case.id, "{name}: id of {}", short(answer));
    match case.expect {
        Expect::Error(code, needle) => {
            assert_eq!(answer["error"]["code"], code, "{name}: {}", short(answer));
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(needle),
                "{name}: {} lacks {needle:?}",
                short(answer)
            );
            assert!(
                message.len() < 1024,
                "{name}: a {}-byte message",
                message.len()
            );
            assert!(answer.get("result").is_none(), "{name}");
        }
        Expect::Version => {
            assert_eq!(answer["result"]["protocol"], 1, "{name}: {}", short(answer));
        }
    }
    if let Some(secret) = &case.secret {
        assert!(
            !answer.to_string().contains(secret.as_str()),
            "{name}: the PIN is in the answer"
        );
    }
}

fn assert_still_answers(host: &mut Host, after: &str) {
    let answer = host.request(&json!({"id": "alive", "command": "version"}));
    assert_eq!(answer["id"], "alive", "after {after}");
    assert_eq!(answer["result"]["protocol"], 1, "after {after}: {answer}");
}

#[test]
fn malformed_requests_get_their_error_and_the_host_goes_on() {
    let cases: Vec<Case> = [unreadable_cases(), request_cases(), huge_cases()]
        .into_iter()
        .flatten()
        .collect();
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut host = Host::spawn();
    for case in &cases {
        host.send_raw(&frame(&case.body));
        let answer = host.answer();
        check_answer(case, &answer);
        assert_still_answers(&mut host, &case.name);
    }
    let status = host.finish();
    assert_eq!(
        status.code(),
        Some(0),
        "end of input after {} cases",
        cases.len()
    );
}

#[test]
fn requests_whose_answer_would_exceed_a_frame_still_get_one() {
    // Echoing these ids or field names would make an answer over 1 MiB, which the host must
    // never write; it answers without them instead of going quiet. Each request is exactly
    // 1 MiB, the largest frame accepted.
    let fill = |template: &str| {
        let room = MAX_FRAME - (template.len() - 2);
        template.replace("{}", &"x".repeat(room))
    };
    let huge_id = fill(r#"{"id":"{}","command":"nope"}"#);
    let huge_id_version = fill(r#"{"id":"{}","command":"version"}"#);
    let huge_field = fill(r#"{"id":"f","command":"version","{}":1}"#);
    let huge_argument = fill(r#"{"id":"a","command":"authenticate","arguments":{"{}":1}}"#);
    let mut host = Host::spawn();
    for (name, body, id) in [
        ("huge id", huge_id, Value::Null),
        ("huge id of a valid request", huge_id_version, Value::Null),
        ("huge field name", huge_field, json!("f")),
        ("huge argument name", huge_argument, json!("a")),
    ] {
        assert_eq!(body.len(), MAX_FRAME);
        host.send_raw(&frame(body.as_bytes()));
        let answer = host.answer();
        assert!(answer["id"] == id, "{name}: {}", short(&answer));
        assert_eq!(
            answer["error"]["code"],
            INVALID,
            "{name}: {}",
            short(&answer)
        );
        assert_still_answers(&mut host, name);
    }
    assert_eq!(host.finish().code(), Some(0));
}

/// Broken frames the host sees while its input stays open: one answer, then exit code 1.
#[test]
fn an_impossible_length_ends_the_stream_with_one_answer() {
    for (name, length) in [
        ("1 MiB + 1", (MAX_FRAME + 1) as u32),
        ("u32::MAX", u32::MAX),
        ("2 GiB", 1 << 31),
    ] {
        let mut host = Host::spawn();
        assert_still_answers(&mut host, "start");
        let mut bytes = length.to_ne_bytes().to_vec();
        // A valid frame after the bad length is never read: the stream has lost its place.
        bytes.extend(frame(br#"{"id":"after","command":"version"}"#));
        host.send_raw(&bytes);
        let answer = host.answer();
        assert_eq!(answer["id"], Value::Null, "{name}");
        assert_eq!(answer["error"]["code"], INVALID, "{name}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("1 MiB"),
            "{name}: {answer}"
        );
        assert_eq!(host.wait().code(), Some(1), "{name}");
    }
}

/// Runs the host over a whole input (stdin closed at its end): its answers and exit status.
fn run_to_end(input: &[u8]) -> (Vec<Value>, ExitStatus) {
    let home = tempfile::tempdir().expect("temporary HOME");
    let mut child = Command::new(host_binary())
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("CPX_CONNECT_CACHE_DIR", home.path().join("cache"))
        .env_remove("CPX_CONNECT_LOG_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cpx-connect");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write the input");
    drop(stdin);
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut output)
        .expect("read the answers");
    let status = child.wait().expect("exit status");
    let mut answers = Vec::new();
    let mut rest = output.as_slice();
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a partial length on stdout");
        let length = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let body = rest.get(4..4 + length).expect("a whole frame on stdout");
        answers.push(serde_json::from_slice(body).expect("a JSON answer"));
        rest = &rest[4 + length..];
    }
    (answers, status)
}

#[test]
fn input_that_ends_inside_a_frame_is_answered_then_exit_1() {
    let version = frame(br#"{"id":"first","command":"version"}"#);
    let mut cut_body = frame(br#"{"id":"cut","command":"version"}"#);
    cut_body.truncate(cut_body.len() - 5);
    let mut longer_than_what_follows = 100u32.to_ne_bytes().to_vec();
    longer_than_what_follows.extend(br#"{"id":"short"}"#);
    for (name, tail) in [
        ("one byte of a length", vec![0x10]),
        ("three bytes of a length", vec![0x10, 0x00, 0x00]),
        ("a length and no body", 20u32.to_ne_bytes().to_vec()),
        ("a body cut short", cut_body),
        (
            "a length larger than what follows",
            longer_than_what_follows,
        ),
    ] {
        let (answers, status) = run_to_end(&[version.clone(), tail].concat());
        assert_eq!(answers.len(), 2, "{name}: {answers:?}");
        assert_eq!(answers[0]["id"], "first", "{name}");
        assert_eq!(answers[1]["id"], Value::Null, "{name}");
        assert_eq!(answers[1]["error"]["code"], INVALID, "{name}");
        assert_eq!(status.code(), Some(1), "{name}");
    }
}

#[test]
fn a_clean_end_of_input_exits_0() {
    let (answers, status) = run_to_end(b"");
    assert!(answers.is_empty());
    assert_eq!(status.code(), Some(0));
    let (answers, status) = run_to_end(&frame(b"{}"));
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["error"]["code"], INVALID);
    assert_eq!(status.code(), Some(0));
}
