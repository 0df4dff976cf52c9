//! The trace log level, which records every APDU, never records a PIN.
//!
//! In a test binary of its own: tracing caches per call site whether anyone listens, and another
//! test thread touching the same call sites without a subscriber can leave the trace events of a
//! scoped subscriber unrecorded (seen as an intermittent failure when this test ran beside the
//! other in-process tests).

mod common;

use common::{authenticate, certificate_id_of, exchange, VirtualReaders};
use cpx_connect::service::HostService;
use cpx_virtual_card::{Holder, VirtualCard};

/// A writer the log subscriber appends to, shared with the test.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_apdu_trace_log_level_never_records_verify_data() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let readers = VirtualReaders::with(vec![(
        "Reader A",
        Some(VirtualCard::cps3(Holder::Dupont).with_pin("4739")),
    )]);
    let card = readers.card(0);
    tracing::subscriber::with_default(subscriber, || {
        let mut service = HostService::new(readers);
        let id = certificate_id_of(&mut service);
        let answers = exchange(&mut service, &[authenticate(&id, "4739")]);
        assert!(answers[0]["result"].is_object(), "{}", answers[0]);
        let answers = exchange(&mut service, &[authenticate(&id, "8521")]);
        assert_eq!(answers[0]["error"]["code"], "ERR_PIN_INCORRECT");
    });
    assert_eq!(card.lock().unwrap().verify_count(), 2);
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // The trace level logs APDUs...
    assert!(
        log.contains("card <-") && log.contains("00 88 00 00"),
        "{log}"
    );
    // ... and a VERIFY only as its header, length and REDACTED: no PIN in any encoding.
    assert!(log.contains("00 20 00 01 [8] REDACTED"), "{log}");
    for pin in ["4739", "8521"] {
        assert!(!appears_as_a_word(&log, pin), "{pin} in the log:\n{log}");
    }
    for encoded in ["34373339", "38353231", "34 37 33 39", "38 35 32 31"] {
        assert!(!log.contains(encoded), "{encoded} in the log:\n{log}");
    }
}

/// Whether `digits` stands in `log` on its own, not inside a longer run of letters and digits.
/// The log's hex (a signature, a challenge) is random from one run to the next, and four digits
/// turn up inside it in about one run in fifty: that is not a PIN in the log. A PIN logged as
/// `pin=4739`, `"4739"` or `[4739]` stands on its own.
fn appears_as_a_word(log: &str, digits: &str) -> bool {
    let bytes = log.as_bytes();
    log.match_indices(digits).any(|(start, found)| {
        let end = start + found.len();
        let before = start.checked_sub(1).map(|index| bytes[index]);
        let after = bytes.get(end).copied();
        ![before, after]
            .into_iter()
            .flatten()
            .any(|byte| byte.is_ascii_alphanumeric())
    })
}

#[test]
fn four_digits_inside_logged_hex_are_not_a_pin_but_four_digits_on_their_own_are() {
    assert!(!appears_as_a_word("sw=9000 data=E5BD4739F8B5", "4739"));
    assert!(!appears_as_a_word("data=4739F8B5", "4739"));
    assert!(appears_as_a_word("pin=4739 command", "4739"));
    assert!(appears_as_a_word("pin=\"4739\"", "4739"));
    assert!(appears_as_a_word("4739", "4739"));
}
