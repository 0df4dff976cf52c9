//! `doctor --card-report`: the report of each virtual card, kept as a golden file
//! (host/tests/golden/). The volatile parts (program version, date) are fixed by the test.
//! `CPX_UPDATE_GOLDEN=1 cargo test -p cpx-connect --test card_report` rewrites the files after a
//! deliberate change; review the diff.

mod common;

use common::VirtualReaders;
use cpx_connect::doctor::card_report;
use cpx_virtual_card::{Holder, VirtualCard};

fn check_golden(name: &str, readers: VirtualReaders) {
    let mut readers = readers;
    let report = card_report::report(&mut readers, "cpx-connect (test)", "2026-01-01T00:00:00Z");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("card-report-{name}.txt"));
    if std::env::var_os("CPX_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &report).expect("write golden file");
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert_eq!(
        report,
        golden,
        "{name}: the report differs from {}",
        path.display()
    );
}

#[test]
fn the_report_of_each_virtual_card_matches_its_golden_file() {
    check_golden(
        "cps3-dupont",
        VirtualReaders::with(vec![("Reader A", Some(VirtualCard::cps3(Holder::Dupont)))]),
    );
    check_golden(
        "cps3-martin-relative-layout",
        VirtualReaders::with(vec![(
            "Reader A",
            Some(VirtualCard::cps3(Holder::Martin).with_relative_layout()),
        )]),
    );
    check_golden(
        "cps4-dupont",
        VirtualReaders::with(vec![("Reader A", Some(VirtualCard::cps4(Holder::Dupont)))]),
    );
    check_golden(
        "no-card-and-contactless",
        VirtualReaders::with(vec![
            ("Empty", None),
            (
                "Pad",
                Some(VirtualCard::cps3(Holder::Dupont).seen_contactless()),
            ),
        ]),
    );
}

#[test]
fn the_report_sends_no_pin_and_spends_no_try() {
    let readers = VirtualReaders::with(vec![("Reader A", Some(VirtualCard::cps3(Holder::Dupont)))]);
    let card = readers.card(0);
    let mut readers = readers;
    let report = card_report::report(&mut readers, "v", "d");
    let card = card.lock().unwrap();
    assert_eq!(card.verify_count(), 0);
    assert_eq!(card.pin_tries_left(), 3);
    assert!(report.contains("PIN tries left: 3 of 3"), "{report}");
    assert!(report.contains("subject: "), "{report}");
    assert!(report.contains("### APDU trace"), "{report}");
}
