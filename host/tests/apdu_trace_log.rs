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
    for secret in [
        "4739",
        "8521",
        "34373339",
        "38353231",
        "34 37 33 39",
        "38 35 32 31",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
