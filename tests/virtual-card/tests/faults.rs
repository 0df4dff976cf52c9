//! The fault layer byte by byte: the test plays vpcd's side of the socket (no pcscd), arms
//! faults and checks exactly what comes back, and what the card saw.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use cpx_virtual_card::faults::{Fault, FaultPlan, FiredFault};
use cpx_virtual_card::{shared, vpcd, Holder, SharedCard, VirtualCard};

const ATR_REQUEST: u8 = 0x04;
const POWER_ON: u8 = 0x01;

const SELECT_SN: [u8; 9] = [0x00, 0xA4, 0x09, 0x0C, 0x04, 0x3F, 0x00, 0xD0, 0x03];
const READ_SN: [u8; 5] = [0x00, 0xB0, 0x00, 0x00, 0x0C];
const VERIFY_1234: [u8; 13] = [
    0x00, 0x20, 0x00, 0x01, 0x08, 0x31, 0x32, 0x33, 0x34, 0xFF, 0xFF, 0xFF, 0xFF,
];
const VERIFY_STATUS: [u8; 4] = [0x00, 0x20, 0x00, 0x01];

/// vpcd's side of one slot: a local listener the card connects to.
struct FakeVpcd {
    listener: TcpListener,
    stream: TcpStream,
}

impl FakeVpcd {
    /// Inserts `card` with `plan` into a fresh local "slot".
    fn with_card(card: &SharedCard, plan: &FaultPlan) -> (FakeVpcd, vpcd::InsertedCard) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let (stream, inserted) = insert(&listener, card, plan);
        (FakeVpcd { listener, stream }, inserted)
    }

    /// The card comes back into the same slot.
    fn reinsert(&mut self, card: &SharedCard, plan: &FaultPlan) -> vpcd::InsertedCard {
        let (stream, inserted) = insert(&self.listener, card, plan);
        self.stream = stream;
        inserted
    }

    fn send(&mut self, payload: &[u8]) {
        let mut frame = (payload.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(payload);
        // The card may have closed the socket already: a failed write shows up as no answer.
        let _ = self.stream.write_all(&frame);
    }

    /// The next frame, or `None` if the card closed the connection.
    fn receive(&mut self) -> Option<Vec<u8>> {
        let mut length = [0u8; 2];
        match self.stream.read_exact(&mut length) {
            Ok(()) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                ) =>
            {
                return None
            }
            Err(error) => panic!("reading from the card: {error}"),
        }
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(length))];
        self.stream.read_exact(&mut payload).unwrap();
        Some(payload)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Option<Vec<u8>> {
        self.send(apdu);
        self.receive()
    }

    fn control(&mut self, code: u8) {
        self.send(&[code]);
    }
}

/// Inserts `card` with `plan` into the local slot `listener` stands for: the card connects as
/// it would to vpcd; returns the slot's end of that connection and the card being served.
fn insert(
    listener: &TcpListener,
    card: &SharedCard,
    plan: &FaultPlan,
) -> (TcpStream, vpcd::InsertedCard) {
    let port = listener.local_addr().unwrap().port();
    let inserted = vpcd::insert_with_faults(card.clone(), port, plan).unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (stream, inserted)
}

/// `card` in a fresh local slot, with a fault plan nothing is armed in yet: where each test
/// starts.
fn in_a_slot(card: VirtualCard) -> (SharedCard, FaultPlan, FakeVpcd, vpcd::InsertedCard) {
    let card = shared(card);
    let plan = FaultPlan::new();
    let (vpcd, inserted) = FakeVpcd::with_card(&card, &plan);
    (card, plan, vpcd, inserted)
}

fn sn_answer() -> Vec<u8> {
    let mut answer = vec![0x5A, 0x0A, 0x80, 0x25, 0x00, 0x00, 0x01];
    answer.extend(VirtualCard::cps3(Holder::Dupont).icc_serial());
    answer.extend([0x90, 0x00]);
    answer
}

fn wait_until_not_serving(inserted: &vpcd::InsertedCard) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while inserted.is_serving() {
        assert!(Instant::now() < deadline, "the serving thread did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn without_faults_the_card_answers_and_the_plan_records_every_command() {
    let (card, plan, mut vpcd, _inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    vpcd.control(POWER_ON);
    vpcd.control(ATR_REQUEST);
    assert_eq!(vpcd.receive().unwrap(), card.lock().unwrap().atr());
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    assert_eq!(vpcd.transmit(&READ_SN).unwrap(), sn_answer());
    assert_eq!(plan.received(), [SELECT_SN.to_vec(), READ_SN.to_vec()]);
    assert!(plan.fired().is_empty());
}

#[test]
fn removal_during_apdu_n_lets_the_card_act_then_closes_without_an_answer() {
    let (card, plan, mut vpcd, inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    plan.arm(2, Fault::RemoveDuring);
    assert_eq!(vpcd.transmit(&READ_SN).unwrap(), sn_answer());
    assert_eq!(
        vpcd.transmit(&VERIFY_1234),
        None,
        "no answer, socket closed"
    );
    wait_until_not_serving(&inserted);
    // The card did receive and act on the VERIFY.
    assert_eq!(card.lock().unwrap().verify_count(), 1);
    assert!(card.lock().unwrap().pin_verified());
    assert_eq!(
        plan.fired(),
        [FiredFault {
            fault: Fault::RemoveDuring,
            n: 2,
            command_header: Some(VERIFY_1234[..4].to_vec()),
        }]
    );
    assert_eq!(plan.received().len(), 3);
}

#[test]
fn removal_before_apdu_n_closes_right_after_answering_apdu_n_minus_1() {
    let (card, plan, mut vpcd, inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    plan.arm(2, Fault::RemoveBefore);
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    // Nothing is sent yet, and the connection is already closed.
    assert_eq!(vpcd.receive(), None);
    wait_until_not_serving(&inserted);
    assert_eq!(vpcd.transmit(&VERIFY_1234), None);
    assert_eq!(card.lock().unwrap().apdu_log(), [SELECT_SN.to_vec()]);
    assert_eq!(card.lock().unwrap().verify_count(), 0);
    assert_eq!(plan.fired()[0].command_header, None);
}

#[test]
fn removal_before_the_next_apdu_pulls_the_card_out_at_once() {
    let (_, plan, mut vpcd, inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    plan.arm(1, Fault::RemoveBefore);
    assert_eq!(vpcd.receive(), None);
    wait_until_not_serving(&inserted);
    assert_eq!(plan.fired().len(), 1);
    assert_eq!(plan.pending(), 0);
}

#[test]
fn a_removed_card_goes_back_in_and_the_plan_keeps_counting() {
    let (card, plan, mut vpcd, inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    plan.arm(1, Fault::RemoveDuring);
    plan.arm(3, Fault::StatusWord(0x6F00));
    assert_eq!(vpcd.transmit(&SELECT_SN), None);
    wait_until_not_serving(&inserted);
    let _again = vpcd.reinsert(&card, &plan);
    vpcd.control(POWER_ON);
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    assert_eq!(vpcd.transmit(&READ_SN).unwrap(), [0x6F, 0x00]);
    assert_eq!(plan.received().len(), 3);
    assert_eq!(plan.pending(), 0);
}

#[test]
fn a_reset_before_apdu_n_loses_the_pin_state_but_keeps_the_counter() {
    let (card, plan, mut vpcd, _inserted) =
        in_a_slot(VirtualCard::cps3(Holder::Dupont).with_pin_tries_left(2));
    assert_eq!(vpcd.transmit(&VERIFY_1234).unwrap(), [0x90, 0x00]);
    assert_eq!(vpcd.transmit(&VERIFY_STATUS).unwrap(), [0x90, 0x00]);
    plan.arm(1, Fault::ResetBefore);
    // Not verified any more: 63 C3, the counter back at 3 from the right PIN, not reset.
    assert_eq!(vpcd.transmit(&VERIFY_STATUS).unwrap(), [0x63, 0xC3]);
    assert!(!card.lock().unwrap().pin_verified());

    // Tries spent before a reset stay spent.
    let wrong = [
        0x00, 0x20, 0x00, 0x01, 0x08, 0x39, 0x39, 0x39, 0x39, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
    assert_eq!(vpcd.transmit(&wrong).unwrap(), [0x63, 0xC2]);
    plan.arm(1, Fault::ResetBefore);
    assert_eq!(vpcd.transmit(&VERIFY_STATUS).unwrap(), [0x63, 0xC2]);
    // A reset also loses the current file: READ BINARY has no EF to read.
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    plan.arm(1, Fault::ResetBefore);
    assert_eq!(vpcd.transmit(&READ_SN).unwrap(), [0x69, 0x86]);
}

#[test]
fn a_delayed_answer_comes_late_and_unchanged() {
    let (_, plan, mut vpcd, _inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    plan.arm(1, Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    assert_eq!(vpcd.transmit(&READ_SN).unwrap(), sn_answer());
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(vpcd.transmit(&READ_SN).unwrap(), sn_answer());
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "only APDU n"
    );
}

#[test]
fn an_unexpected_status_word_replaces_the_answer_and_the_card_never_sees_the_command() {
    let (card, plan, mut vpcd, _inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    plan.arm(1, Fault::StatusWord(0x6A82));
    plan.arm(2, Fault::StatusWord(0x6F00));
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x6A, 0x82]);
    assert_eq!(vpcd.transmit(&VERIFY_1234).unwrap(), [0x6F, 0x00]);
    assert!(card.lock().unwrap().apdu_log().is_empty());
    assert_eq!(card.lock().unwrap().verify_count(), 0);
    // What came over the wire is still on record.
    assert_eq!(plan.received(), [SELECT_SN.to_vec(), VERIFY_1234.to_vec()]);
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
}

#[test]
fn control_bytes_are_not_counted_as_apdus() {
    let (card, plan, mut vpcd, _inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    plan.arm(2, Fault::StatusWord(0x6F00));
    vpcd.control(ATR_REQUEST);
    assert_eq!(vpcd.receive().unwrap(), card.lock().unwrap().atr());
    vpcd.control(POWER_ON);
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x90, 0x00]);
    vpcd.control(ATR_REQUEST);
    assert_eq!(vpcd.receive().unwrap(), card.lock().unwrap().atr());
    assert_eq!(vpcd.transmit(&SELECT_SN).unwrap(), [0x6F, 0x00]);
}

#[test]
fn after_a_fault_pulled_the_card_out_removal_waits_only_the_rest_of_the_settle_time() {
    let (_, plan, mut vpcd, inserted) = in_a_slot(VirtualCard::cps3(Holder::Dupont));
    plan.arm(1, Fault::RemoveDuring);
    assert_eq!(vpcd.transmit(&SELECT_SN), None);
    wait_until_not_serving(&inserted);
    std::thread::sleep(vpcd::REMOVAL_SETTLE_TIME);
    let started = Instant::now();
    inserted.remove();
    assert!(started.elapsed() < vpcd::REMOVAL_SETTLE_TIME / 2);
}
