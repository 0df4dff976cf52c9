//! Replays the seed corpus through every harness without libFuzzer, and checks that the recorded
//! card sessions replay faithfully: the seeds reach the deep paths only if they do.

mod support;

use cpx_connect::card::CardError;
use cpx_connect::protocol::server::Exit;
use cpx_connect_fuzz::{card_answers, frames, host, pkcs15, request};
use cpx_virtual_card::{Holder, VirtualCard};
use support::seeds::{self, Seed};

fn run(seed: &Seed) {
    match seed.target {
        "frames" => frames::run(&seed.bytes),
        "request" => request::run(&seed.bytes),
        "pkcs15" => pkcs15::run(&seed.bytes),
        "card_answers" => drop(card_answers::run(&seed.bytes)),
        "card_answers_cps4" => drop(card_answers::run_cps4(&seed.bytes)),
        "host" => drop(host::run(&seed.bytes)),
        other => panic!("seed for an unknown target {other}"),
    }
}

/// Inputs that once made a harness fail (fuzz/regressions/<target>/), whether the fault was in
/// the host (each also has a unit test beside the host code) or in the harness's own checks.
#[test]
fn every_past_failure_passes_its_harness() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for target in seeds::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("regression entry").path();
            let bytes = std::fs::read(&path).expect("regression input");
            run(&Seed {
                target,
                name: path.display().to_string(),
                bytes,
            });
            replayed += 1;
        }
    }
    assert!(
        replayed >= 4,
        "only {replayed} regression inputs found in {}",
        root.display()
    );
}

#[test]
fn every_seed_passes_its_harness() {
    let seeds = seeds::all();
    for target in seeds::TARGETS {
        let count = seeds.iter().filter(|seed| seed.target == target).count();
        assert!(count >= 2, "target {target} has {count} seeds");
    }
    for seed in &seeds {
        run(seed);
    }
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    seeds::all()
        .into_iter()
        .find(|seed| seed.target == target && seed.name == name)
        .unwrap_or_else(|| panic!("no seed {target}/{name}"))
        .bytes
}

#[test]
fn a_recorded_card_session_replays_to_the_same_results() {
    let card = VirtualCard::cps3(Holder::Dupont);
    let outcome = card_answers::run(&seed("card_answers", "dupont"));
    let serial = outcome.serial.expect("serial");
    assert_eq!(&serial.0[5..], card.icc_serial());
    let profile = outcome.profile.expect("profile");
    assert_eq!(profile.certificate_der, card.auth_certificate_der());
    assert_eq!(profile.key_reference, 0x82);
    let status = outcome.pin_status.expect("PIN status");
    assert_eq!((status.retries_left, status.max_retries), (3, Some(3)));
    assert_eq!(outcome.signature.expect("signature").len(), 256);
}

#[test]
fn recorded_pin_failures_replay_as_pin_errors() {
    let wrong = card_answers::run(&seed("card_answers", "wrong-pin"));
    assert_eq!(
        wrong.signature.unwrap_err(),
        CardError::WrongPin { retries_left: 2 }
    );
    let blocked = card_answers::run(&seed("card_answers", "blocked"));
    assert_eq!(blocked.pin_status.expect("PIN status").retries_left, 0);
    assert_eq!(blocked.signature.unwrap_err(), CardError::PinBlocked);
}

#[test]
fn a_recorded_cps4_session_replays_to_the_same_results() {
    let card = VirtualCard::cps4(Holder::Dupont);
    let outcome = card_answers::run_cps4(&seed("card_answers_cps4", "dupont"));
    assert_eq!(&outcome.serial.expect("serial").0[5..], card.icc_serial());
    let profile = outcome.profile.expect("profile");
    assert_eq!(profile.certificate_der, card.auth_certificate_der());
    assert_eq!(outcome.pin_status.expect("PIN status").retries_left, 3);
    assert_eq!(outcome.signature.expect("signature").len(), 256);
    let wrong = card_answers::run_cps4(&seed("card_answers_cps4", "wrong-pin"));
    assert_eq!(
        wrong.signature.unwrap_err(),
        CardError::WrongPin { retries_left: 2 }
    );
    let blocked = card_answers::run_cps4(&seed("card_answers_cps4", "blocked"));
    assert_eq!(blocked.signature.unwrap_err(), CardError::PinBlocked);
}

#[test]
fn a_recorded_login_replays_through_the_whole_host() {
    let outcome = host::run(&seed("host", "dupont-login"));
    assert_eq!(outcome.exit, Exit::Finished);
    let answers = outcome.answers;
    assert_eq!(answers.len(), 5);
    let certificates = answers[0]["result"]["certificates"]
        .as_array()
        .expect("certificates");
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0]["holder"]["surname"], "DUPONT");
    assert_eq!(answers[1]["id"], "auth");
    assert_eq!(answers[1]["result"]["format"], "web-eid:1.0");
    assert_eq!(answers[2]["result"]["service"], "ok");
    assert_eq!(answers[3]["result"]["protocol"], 1);
    assert_eq!(answers[4]["result"], serde_json::json!({}));

    let second_reader = host::run(&seed("host", "martin-second-reader"));
    assert_eq!(second_reader.answers[1]["result"]["format"], "web-eid:1.0");
    assert_eq!(
        second_reader.answers[0]["result"]["certificates"][0]["reader"],
        "Reader 1"
    );

    let cps4 = host::run(&seed("host", "cps4-login"));
    assert_eq!(
        cps4.answers[0]["result"]["certificates"][0]["cardType"],
        "CPS4"
    );
    assert_eq!(cps4.answers[1]["result"]["format"], "web-eid:1.0");

    let wrong_pin = host::run(&seed("host", "wrong-pin"));
    assert_eq!(wrong_pin.answers[1]["error"]["code"], "ERR_PIN_INCORRECT");
    assert_eq!(wrong_pin.answers[1]["error"]["retriesLeft"], 2);
}

#[test]
fn hosts_without_a_card_answer_with_their_codes() {
    for (name, code) in [
        ("no-reader", "ERR_NO_READER"),
        ("pcsc-down", "ERR_PCSC_UNAVAILABLE"),
    ] {
        let outcome = host::run(&seed("host", name));
        assert_eq!(outcome.answers[0]["error"]["code"], code, "{name}");
        assert_eq!(outcome.answers[1]["error"]["code"], code, "{name}");
        assert_eq!(outcome.answers[3]["result"]["protocol"], 1, "{name}");
    }
}

#[test]
fn the_iso9564_regression_reaches_the_pin_encoder() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("regressions/pkcs15/iso9564-pin-policy-longer-than-its-block"),
    )
    .expect("regression input");
    let objects = cpx_connect::card::pkcs15::parse_aodf(&bytes).expect("a valid AODF");
    assert_eq!(objects.len(), 1);
    let policy = &objects[0].policy;
    assert_eq!(
        policy.encoding(),
        cpx_connect::card::pin::PinEncoding::Iso9564_1
    );
    assert_eq!(policy.max_length(), 16);
}

#[test]
fn the_pkcs15_variant_seeds_parse_as_a_real_card_would_have_them() {
    use cpx_connect::card::pkcs15;
    let app = [0x3F, 0x00, 0x00, 0x01];
    let certificates =
        pkcs15::parse_cdf(&seed("pkcs15", "cdf-subclass-and-extensions"), &app).expect("CDF");
    assert_eq!(certificates[0].path, [0x3F, 0x00, 0x00, 0x01, 0x6F, 0x41]);
    let pins =
        pkcs15::parse_aodf(&seed("pkcs15", "aodf-padded-with-00-and-extended")).expect("AODF");
    assert_eq!(pins[0].policy.max_length(), 12);
    let relative = pkcs15::parse_odf(&seed("pkcs15", "odf-relative"), &[]).expect("ODF");
    assert_eq!(relative.private_keys, [vec![0x6F, 0x11]]);
}
