//! Faults through the whole stack: the real `cpx-connect`, pcscd, and a virtual card whose
//! vpcd connection a test scripts (pulled out before or during an APDU, reset, slow, answering
//! a status word it should not). The host must answer a documented error code, stay alive, and
//! log in once the fault is over, and it never sends a VERIFY a request did not ask for.
//!
//! Every case prints a `fault-table:` line (fault, request, answer, recovered); the Fault table
//! of tests/virtual-card/README.md comes from
//! `cargo test -p cpx-e2e --test faults -- --nocapture --test-threads=1 2>&1 | grep fault-table`.

use std::time::{Duration, Instant};

use cpx_e2e::{
    authenticate_request, documented_error_codes, nonce, pcscd, verifies_with_pin, CardSlot, Host,
};
use cpx_virtual_card::faults::Fault;
use cpx_virtual_card::{ins, pcscd_test_lock, Holder, VirtualCard};
use serde_json::Value;

const ORIGIN: &str = "https://demo.cpxconnect.org";
const PIN: &str = "1234";

/// The pcscd lock and a Dupont card in slot 0 (or not, for the empty-slot case).
struct Bench {
    slot: CardSlot,
    _lock: std::fs::File,
}

impl Bench {
    fn new() -> Bench {
        let mut bench = Bench::with_empty_slot();
        bench.slot.insert();
        bench
    }

    fn with_empty_slot() -> Bench {
        let lock = pcscd_test_lock().expect("pcscd test lock");
        pcscd::ensure_running();
        Bench {
            slot: CardSlot::new(0, VirtualCard::cps3(Holder::Dupont)),
            _lock: lock,
        }
    }

    /// Sends `request` and checks the VERIFY rule on what reached the card meanwhile: at most
    /// one VERIFY with a PIN for an `authenticate`, none for anything else.
    fn request(&self, host: &mut Host, request: &Value) -> Value {
        let before = self.slot.faults.received_count();
        let answer = host.request(request);
        let sent = &self.slot.faults.received()[before..];
        let allowed = usize::from(request["command"] == "authenticate");
        assert!(
            verifies_with_pin(sent) <= allowed,
            "{} VERIFY for one {} request",
            verifies_with_pin(sent),
            request["command"]
        );
        answer
    }

    fn certificates(&self, host: &mut Host) -> Value {
        self.request(
            host,
            &serde_json::json!({"id": "certificates", "command": "certificates"}),
        )
    }

    fn authenticate(&self, host: &mut Host, certificate_id: &str) -> Value {
        self.request(
            host,
            &authenticate_request(certificate_id, ORIGIN, &nonce(3), PIN),
        )
    }

    /// `certificates` then `authenticate` succeed, and the token carries this card's
    /// certificate.
    fn logs_in(&self, host: &mut Host) -> bool {
        let certificates = self.certificates(host);
        let Some(id) = certificates["result"]["certificates"][0]["certificateId"].as_str() else {
            eprintln!("no certificate: {certificates}");
            return false;
        };
        let token = self.authenticate(host, id);
        let expected = cpx_e2e::auth_certificate_base64(&self.slot.card);
        let ok = token["result"]["format"] == "web-eid:1.0"
            && token["result"]["unverifiedCertificate"] == expected;
        if !ok {
            eprintln!("login failed: {token}");
        }
        ok
    }

    /// After a fault, the same host logs in again. The fault's row of the table is printed
    /// first, so that a failing case still shows what the host answered.
    fn assert_recovers(&self, host: &mut Host, fault: &str, request: &str, answer: &Value) {
        let recovered = self.logs_in(host);
        table_row(fault, request, answer, recovered);
        assert!(recovered, "{fault}: the same host logs in after the fault");
    }

    /// Takes the card out (if the fault has not) and puts it back.
    fn reinsert(&mut self) {
        self.slot.remove();
        self.slot.insert();
    }
}

fn error_code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("none")
}

/// The answer is an error with a documented code (and `sw` for a card error with one).
fn assert_documented_error(answer: &Value) {
    let code = error_code(answer);
    assert!(
        documented_error_codes().contains(&code),
        "not a documented error: {answer}"
    );
}

fn describe(answer: &Value) -> String {
    match answer["error"]["sw"].as_str() {
        Some(sw) => format!("{} (sw {sw})", error_code(answer)),
        None if answer.get("error").is_some() => error_code(answer).to_owned(),
        None => "success".to_owned(),
    }
}

fn table_row(fault: &str, request: &str, answer: &Value, recovered: bool) {
    eprintln!(
        "fault-table: | {fault} | {request} | {} | {} |",
        describe(answer),
        if recovered { "yes" } else { "no" }
    );
}

/// The position (from 1) of the first APDU with `instruction`; for VERIFY, the one that carries
/// the PIN (the host first asks with a VERIFY without data whether the PIN is verified already).
fn position_of(apdus: &[Vec<u8>], instruction: u8) -> usize {
    apdus
        .iter()
        .position(|apdu| {
            apdu.get(1) == Some(&instruction) && (instruction != ins::VERIFY || apdu.len() > 5)
        })
        .unwrap_or_else(|| panic!("no INS {instruction:02X} in the reference login"))
        + 1
}

/// The APDUs of one `authenticate` of a card the host already knows, from a clean run.
fn reference_authenticate(bench: &Bench, host: &mut Host, id: &str) -> Vec<Vec<u8>> {
    let before = bench.slot.faults.received_count();
    let answer = bench.authenticate(host, id);
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    bench.slot.faults.received()[before..].to_vec()
}

/// A new host that lists the bench's card and logs in once, cleanly: the host, the certificate
/// id, and the APDUs of that `authenticate`, where a test then places its faults.
fn a_reference_login(bench: &Bench) -> (Host, String, Vec<Vec<u8>>) {
    let mut host = Host::spawn();
    let id = certificate_id(bench, &mut host);
    let reference = reference_authenticate(bench, &mut host, &id);
    (host, id, reference)
}

fn certificate_id(bench: &Bench, host: &mut Host) -> String {
    let answer = bench.certificates(host);
    answer["result"]["certificates"][0]["certificateId"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate: {answer}"))
        .to_owned()
}

#[test]
fn a_card_pulled_out_mid_login_is_reported_as_removed_and_the_same_host_logs_in_once_it_is_back() {
    let mut bench = Bench::new();
    let (mut host, id, reference) = a_reference_login(&bench);
    let cases = [
        (Fault::RemoveBefore, ins::VERIFY, "pulled out before VERIFY"),
        (Fault::RemoveDuring, ins::VERIFY, "pulled out during VERIFY"),
        (
            Fault::RemoveDuring,
            ins::INTERNAL_AUTHENTICATE,
            "pulled out during INTERNAL AUTHENTICATE",
        ),
        (
            Fault::RemoveDuring,
            ins::GET_RESPONSE,
            "pulled out during GET RESPONSE (signature)",
        ),
    ];
    for (fault, instruction, label) in cases {
        let tries_before = bench.slot.card.lock().unwrap().pin_tries_left();
        let verifies_before = bench.slot.card.lock().unwrap().verify_count();
        let card_sees_verify = !(fault == Fault::RemoveBefore && instruction == ins::VERIFY);
        bench
            .slot
            .faults
            .arm(position_of(&reference, instruction), fault);
        let answer = bench.authenticate(&mut host, &id);
        assert_eq!(error_code(&answer), "ERR_CARD_REMOVED", "{label}: {answer}");
        assert_eq!(bench.slot.faults.pending(), 0, "{label}: the fault fired");
        assert!(!bench.slot.is_inserted());
        // The card saw the VERIFY only if it was still in; the right PIN spends no try.
        let verified = bench.slot.card.lock().unwrap().verify_count() - verifies_before;
        assert_eq!(verified, usize::from(card_sees_verify), "{label}");
        assert_eq!(
            bench.slot.card.lock().unwrap().pin_tries_left(),
            tries_before
        );

        // While the card is out the host says so, and stays alive.
        let while_out = bench.authenticate(&mut host, &id);
        assert_eq!(error_code(&while_out), "ERR_NO_CARD", "{while_out}");
        bench.reinsert();
        bench.assert_recovers(&mut host, label, "authenticate", &answer);
    }

    // Pulled out between `certificates` and `authenticate` (the PIN window is open).
    let fault = "pulled out between certificates and authenticate";
    bench.slot.faults.arm(1, Fault::RemoveBefore);
    let answer = bench.authenticate(&mut host, &id);
    assert!(
        ["ERR_NO_CARD", "ERR_CARD_REMOVED"].contains(&error_code(&answer)),
        "{answer}"
    );
    bench.reinsert();
    bench.assert_recovers(&mut host, fault, "authenticate", &answer);
}

#[test]
fn a_slot_without_a_card_is_reported_and_a_card_put_in_later_is_used() {
    let mut bench = Bench::with_empty_slot();
    cpx_e2e::wait_for_card(bench.slot.reader(), false);
    let mut host = Host::spawn();
    let status = host.command("status");
    let reader = status["result"]["readers"]
        .as_array()
        .and_then(|readers| readers.iter().find(|r| r["name"] == bench.slot.reader()))
        .cloned()
        .unwrap_or_else(|| panic!("reader listed: {status}"));
    assert!(reader["card"].is_null(), "{status}");
    let certificates = bench.certificates(&mut host);
    assert_eq!(error_code(&certificates), "ERR_NO_CARD", "{certificates}");
    let id = cpx_virtual_card::VirtualCard::cps3(Holder::Dupont)
        .auth_certificate_der()
        .to_vec();
    let id = cpx_e2e_certificate_id(&id);
    let authenticate = bench.authenticate(&mut host, &id);
    assert_eq!(error_code(&authenticate), "ERR_NO_CARD", "{authenticate}");

    bench.slot.insert();
    let recovered = bench.logs_in(&mut host);
    table_row(
        "no card in the slot",
        "certificates",
        &certificates,
        recovered,
    );
    table_row(
        "no card in the slot",
        "authenticate",
        &authenticate,
        recovered,
    );
    assert!(recovered);
    assert_eq!(bench.slot.card.lock().unwrap().verify_count(), 1);
}

/// The protocol's certificate id: hex of the first 16 bytes of SHA-256 of the DER.
fn cpx_e2e_certificate_id(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(der)[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn a_card_reset_mid_login_is_a_card_error_and_the_next_login_succeeds_without_a_second_verify() {
    let bench = Bench::new();
    let (mut host, id, reference) = a_reference_login(&bench);
    let cases = [
        (ins::VERIFY, "reset before VERIFY"),
        (ins::MSE, "reset before MSE SET (after VERIFY)"),
        (
            ins::INTERNAL_AUTHENTICATE,
            "reset before INTERNAL AUTHENTICATE",
        ),
        (ins::GET_RESPONSE, "reset before GET RESPONSE (signature)"),
    ];
    for (instruction, label) in cases {
        let verifies_before = bench.slot.card.lock().unwrap().verify_count();
        bench
            .slot
            .faults
            .arm(position_of(&reference, instruction), Fault::ResetBefore);
        let answer = bench.authenticate(&mut host, &id);
        // pcscd is not told of this reset (only the card knows), so the host sees a card that
        // forgot its state: a card error with the card's status word, never a retried VERIFY.
        assert_eq!(error_code(&answer), "ERR_CARD_ERROR", "{label}: {answer}");
        assert!(answer["error"]["sw"].is_string(), "{label}: {answer}");
        assert_eq!(
            bench.slot.card.lock().unwrap().verify_count() - verifies_before,
            1,
            "{label}: one VERIFY, the request's own"
        );
        bench.assert_recovers(&mut host, label, "authenticate", &answer);
    }

    // Reset in the middle of `certificates` (between GET DATA and its GET RESPONSE).
    let fault = "reset before GET RESPONSE (PIN status)";
    let before = bench.slot.faults.received_count();
    assert!(bench.logs_in(&mut host));
    let login = bench.slot.faults.received()[before..].to_vec();
    let get_response_of_get_data = position_of(&login, ins::GET_DATA) + 1;
    bench
        .slot
        .faults
        .arm(get_response_of_get_data, Fault::ResetBefore);
    let answer = bench.certificates(&mut host);
    assert_eq!(error_code(&answer), "ERR_CARD_ERROR", "{answer}");
    bench.assert_recovers(&mut host, fault, "certificates", &answer);
}

#[test]
fn a_slow_card_still_logs_in() {
    let bench = Bench::new();
    let mut host = Host::spawn();
    let delay = Duration::from_secs(3);

    // A new card: the slow APDU is a READ BINARY of its files.
    bench.slot.faults.arm(2, Fault::Delay(delay));
    let started = Instant::now();
    let certificates = bench.certificates(&mut host);
    assert!(started.elapsed() >= delay);
    assert_eq!(
        bench.slot.faults.fired()[0]
            .command_header
            .as_ref()
            .map(|h| h[1]),
        Some(ins::READ_BINARY)
    );
    let id = certificates["result"]["certificates"][0]["certificateId"]
        .as_str()
        .unwrap_or_else(|| panic!("{certificates}"))
        .to_owned();
    table_row(
        "READ BINARY answered after 3 s",
        "certificates",
        &certificates,
        true,
    );

    let reference = reference_authenticate(&bench, &mut host, &id);
    bench.slot.faults.arm(
        position_of(&reference, ins::INTERNAL_AUTHENTICATE),
        Fault::Delay(delay),
    );
    let started = Instant::now();
    let answer = bench.authenticate(&mut host, &id);
    assert!(started.elapsed() >= delay);
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    table_row(
        "INTERNAL AUTHENTICATE answered after 3 s",
        "authenticate",
        &answer,
        true,
    );
}

#[test]
fn unexpected_status_words_are_card_errors_with_the_status_word_and_the_next_login_succeeds() {
    let bench = Bench::new();
    let (mut host, id, reference) = a_reference_login(&bench);
    let select_application = reference
        .iter()
        .position(|apdu| apdu.get(1) == Some(&ins::SELECT) && apdu.get(2) == Some(&0x04))
        .expect("SELECT by AID in the reference login")
        + 1;
    let cases: [(&[usize], u16, &str, &str); 4] = [
        (
            &[select_application],
            0x6A82,
            "6A82",
            "6A 82 to SELECT application",
        ),
        (
            &[position_of(&reference, ins::VERIFY)],
            0x6F00,
            "6F00",
            "6F 00 to VERIFY",
        ),
        (
            &[position_of(&reference, ins::INTERNAL_AUTHENTICATE)],
            0x6F00,
            "6F00",
            "6F 00 to INTERNAL AUTHENTICATE",
        ),
        // EF.SN.ICC is read by short identifier first, then by path: both refused.
        (
            &[1, 2],
            0x6A82,
            "6A82",
            "6A 82 to EF.SN.ICC (by SFI, then SELECT)",
        ),
    ];
    for (positions, sw, sw_text, label) in cases {
        let tries_before = bench.slot.card.lock().unwrap().pin_tries_left();
        for position in positions {
            bench.slot.faults.arm(*position, Fault::StatusWord(sw));
        }
        let answer = bench.authenticate(&mut host, &id);
        assert_documented_error(&answer);
        assert_eq!(error_code(&answer), "ERR_CARD_ERROR", "{label}: {answer}");
        assert_eq!(answer["error"]["sw"], sw_text, "{label}: {answer}");
        assert_eq!(
            bench.slot.card.lock().unwrap().pin_tries_left(),
            tries_before
        );
        bench.assert_recovers(&mut host, label, "authenticate", &answer);
    }

    // `certificates` with a PIN status the card will not give.
    let fault = "6F 00 to GET DATA (PIN status)";
    let before = bench.slot.faults.received_count();
    assert!(bench.logs_in(&mut host));
    let login = bench.slot.faults.received()[before..].to_vec();
    bench.slot.faults.arm(
        position_of(&login, ins::GET_DATA),
        Fault::StatusWord(0x6F00),
    );
    let answer = bench.certificates(&mut host);
    assert_eq!(error_code(&answer), "ERR_CARD_ERROR", "{answer}");
    assert_eq!(answer["error"]["sw"], "6F00", "{answer}");
    bench.assert_recovers(&mut host, fault, "certificates", &answer);
}

/// Pulls the card out during each APDU of a full login in turn (`certificates` then
/// `authenticate`), each time in a new host process; checks the answer and that the same
/// process logs in once the card is back.
fn walk_a_removal_through_every_apdu(known_card: bool) {
    let mut bench = Bench::new();
    let kind = if known_card { "known card" } else { "new card" };
    let shared_cache = tempfile::tempdir().expect("cache directory");

    // Reference run: which APDUs a login sends, and the certificate id.
    let mut host = Host::spawn_with_cache(shared_cache.path());
    if known_card {
        assert!(bench.logs_in(&mut host), "first login fills the cache");
        host = Host::spawn_with_cache(shared_cache.path());
    }
    let start = bench.slot.faults.received_count();
    let id = certificate_id(&bench, &mut host);
    let certificates_apdus = bench.slot.faults.received_count() - start;
    reference_authenticate(&bench, &mut host, &id);
    let login: Vec<Vec<u8>> = bench.slot.faults.received()[start..].to_vec();
    drop(host);
    eprintln!(
        "{kind}: a login is {certificates_apdus} APDUs of certificates and {} of authenticate",
        login.len() - certificates_apdus
    );

    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for position in 1..=login.len() {
        let fresh_cache = tempfile::tempdir().expect("cache directory");
        let cache = if known_card {
            shared_cache.path()
        } else {
            fresh_cache.path()
        };
        let mut host = Host::spawn_with_cache(cache);
        bench.slot.faults.arm(position, Fault::RemoveDuring);
        let in_certificates = position <= certificates_apdus;
        let answer = if in_certificates {
            bench.certificates(&mut host)
        } else {
            let listed = bench.certificates(&mut host);
            assert_eq!(
                listed["result"]["certificates"][0]["certificateId"], id,
                "{listed}"
            );
            bench.authenticate(&mut host, &id)
        };
        assert_eq!(
            bench.slot.faults.pending(),
            0,
            "{kind}, APDU {position}: the fault did not fire: {answer}"
        );
        assert_documented_error(&answer);
        // `certificates` reads again once after a card change (no PIN involved): by then pcscd
        // may have seen the slot empty.
        let expected: &[&str] = if in_certificates {
            &["ERR_CARD_REMOVED", "ERR_NO_CARD"]
        } else {
            &["ERR_CARD_REMOVED"]
        };
        assert!(
            expected.contains(&error_code(&answer)),
            "{kind}, APDU {position}: {answer}"
        );
        if in_certificates {
            // The page never got a certificate id, but one it kept from before is refused too.
            let while_out = bench.authenticate(&mut host, &id);
            assert_eq!(error_code(&while_out), "ERR_NO_CARD", "{while_out}");
        }
        bench.reinsert();
        let recovered = bench.logs_in(&mut host);
        let header: Vec<String> = login[position - 1]
            .iter()
            .take(4)
            .map(|byte| format!("{byte:02X}"))
            .collect();
        eprintln!(
            "fault-walk: {kind}, pulled out during APDU {position:2} ({}) of {}: {}, recovered {}",
            header.join(" "),
            if in_certificates {
                "certificates"
            } else {
                "authenticate"
            },
            describe(&answer),
            if recovered { "yes" } else { "no" }
        );
        assert!(
            recovered,
            "{kind}, APDU {position}: login after reinsertion"
        );
        *codes.entry(describe(&answer)).or_default() += 1;
    }
    let summary: Vec<String> = codes
        .iter()
        .map(|(code, count)| format!("{code} x{count}"))
        .collect();
    eprintln!(
        "fault-table: | pulled out during each of the {} APDUs of a login, {kind} | certificates, authenticate | {} | yes |",
        login.len(),
        summary.join(", ")
    );
}

#[test]
fn a_removal_at_every_apdu_of_a_new_card_login_is_reported_and_the_host_recovers() {
    walk_a_removal_through_every_apdu(false);
}

#[test]
fn a_removal_at_every_apdu_of_a_known_card_login_is_reported_and_the_host_recovers() {
    walk_a_removal_through_every_apdu(true);
}

/// Another program on the desk: pcsc-tools' `scriptor` on the reader, fed commands one line
/// at a time (an APDU in hex, or `reset`: SCardReconnect with SCARD_RESET_CARD).
struct OtherProgram {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    answers: std::sync::mpsc::Receiver<String>,
}

impl OtherProgram {
    /// Starts it: it connects to the card (shared) and keeps the connection until `finish`.
    fn start(reader: &str) -> OtherProgram {
        use std::io::BufRead;
        // Through perl with autoflush on: scriptor's answers must arrive line by line, not when
        // it exits.
        let mut child = std::process::Command::new("perl")
            .args([
                "-e",
                "$| = 1; do '/usr/bin/scriptor'; die $@ if $@;",
                "--",
                "-r",
                reader,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("scriptor (package pcsc-tools)");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("scriptor stdout");
        let (sender, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                // "< 90 00 : Normal processing." or "< OK: <ATR>" / "< KO: <error>".
                if line.starts_with('<') && sender.send(line).is_err() {
                    return;
                }
            }
        });
        OtherProgram {
            child,
            stdin,
            answers,
        }
    }

    /// Sends one line and waits for the card's (or pcscd's) answer to it; `None` if the program
    /// ended instead (it stops at the first PC/SC error).
    fn run(&mut self, line: &str) -> Option<String> {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("scriptor stdin open");
        writeln!(stdin, "{line}").expect("write to scriptor");
        stdin.flush().expect("flush to scriptor");
        self.answers.recv_timeout(Duration::from_secs(30)).ok()
    }

    /// Ends it and returns what it wrote to stderr.
    fn finish(mut self) -> String {
        use std::io::Read;
        self.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Still running after 30 s: end the process this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

const SELECT_EF_SN_ICC: &str = "00 A4 09 0C 04 3F 00 D0 03";

#[test]
fn another_program_resetting_the_card_mid_login_waits_for_the_host_and_the_next_login_succeeds() {
    let bench = Bench::new();
    let (mut host, id, reference) = a_reference_login(&bench);

    // The host is inside its card transaction, waiting for a slow INTERNAL AUTHENTICATE, when
    // another program resets the card through pcscd. A reset landing there would lose the
    // signature waiting for GET RESPONSE.
    let fault = "another program (scriptor) resets the card during a slow INTERNAL AUTHENTICATE";
    bench.slot.faults.arm(
        position_of(&reference, ins::INTERNAL_AUTHENTICATE),
        Fault::Delay(Duration::from_secs(2)),
    );
    let verifies_before = bench.slot.card.lock().unwrap().verify_count();
    let mut other = OtherProgram::start(bench.slot.reader());
    host.send(&authenticate_request(&id, ORIGIN, &nonce(4), PIN));
    cpx_e2e::wait_until("the slow APDU reached the card", || {
        bench.slot.faults.pending() == 0
    });
    let reset = other.run("reset");
    let answer = host.answer();
    eprintln!("scriptor reset: {reset:?}; {}", other.finish());
    assert!(reset.is_some_and(|line| line.starts_with("< OK")));
    // pcscd holds the reset back until the host's transaction ends: the login is intact.
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    assert_eq!(
        bench.slot.card.lock().unwrap().verify_count() - verifies_before,
        1
    );
    bench.assert_recovers(&mut host, fault, "authenticate", &answer);
}

#[test]
fn another_program_sharing_the_card_keeps_its_session_until_the_host_has_used_a_pin() {
    let bench = Bench::new();
    let mut host = Host::spawn();
    let mut other = OtherProgram::start(bench.slot.reader());
    let answer = other.run(SELECT_EF_SN_ICC);
    assert!(
        answer.as_deref().is_some_and(|a| a.starts_with("< 90 00")),
        "{answer:?}"
    );

    // Reading certificates leaves the card as it was for the other program.
    let id = certificate_id(&bench, &mut host);
    let after_certificates = other.run(SELECT_EF_SN_ICC);
    assert!(
        after_certificates
            .as_deref()
            .is_some_and(|a| a.starts_with("< 90 00")),
        "the other program's connection survives a certificates: {after_certificates:?}"
    );
    table_row(
        "another program uses the card before and after: its session survives",
        "certificates",
        &serde_json::json!({"result": {}}),
        after_certificates.is_some(),
    );

    // A login sends the PIN, and the host then resets the card so that the verified PIN does
    // not outlive the request: the other program's next command learns of the reset.
    let fault = "another program uses the card before and after: the host resets the card after its VERIFY (by design)";
    let answer = bench.authenticate(&mut host, &id);
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    let after_login = other.run(SELECT_EF_SN_ICC);
    let printed = other.finish();
    assert_eq!(after_login, None, "{printed}");
    assert!(printed.contains("Card was reset"), "{printed}");
    assert!(!bench.slot.card.lock().unwrap().pin_verified());
    bench.assert_recovers(&mut host, fault, "authenticate", &answer);
}
