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

/// The probes of issue 22: the VERIFY-without-data question between two readings of the tries,
/// never when one try too few would leave no room; the IAS root; EF.DIR and the application
/// with P2=00 and P2=04. None sends a PIN or spends a try.
#[test]
fn the_probes_settle_the_open_questions_without_spending_a_try() {
    for (tries, asked) in [(3, true), (2, true), (1, false)] {
        let readers = VirtualReaders::with(vec![(
            "Reader A",
            Some(VirtualCard::cps3(Holder::Dupont).with_pin_tries_left(tries)),
        )]);
        let card = readers.card(0);
        let mut readers = readers;
        let report = card_report::report(&mut readers, "v", "d");
        let card = card.lock().unwrap();
        assert_eq!(card.verify_count(), 0);
        assert_eq!(card.pin_tries_left(), tries);
        let questions = card
            .apdu_log()
            .iter()
            .filter(|apdu| apdu.as_slice() == [0x00, 0x20, 0x00, 0x01])
            .count();
        assert_eq!(questions, usize::from(asked), "{tries} tries");
        assert_eq!(
            report.contains("settles: the question spent no try"),
            asked,
            "{report}"
        );
        for probe in [
            "SELECT IAS root (as the Cryptolib, case 3): SW 9000",
            "SELECT EF.DIR, P2=00: SW 9000",
            "SELECT EF.DIR, P2=04: SW 9000",
            "SELECT application AID, P2=00: SW 6A86",
            "SELECT application AID, P2=04: SW 9000",
        ] {
            assert!(report.contains(probe), "{probe}: {report}");
        }
    }
}
