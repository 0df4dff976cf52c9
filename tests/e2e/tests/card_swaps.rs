//! A card swapped a moment before `certificates`, as a user does it: pulled out and put back (or
//! another card put in) between two of pcscd's polls, at random moments, with the real
//! `cpx-connect` and pcscd. The host answers with the card now in the reader, or says the card
//! is gone; never a card error, never a VERIFY (issue 9, item 9: about half of such swaps
//! answered `ERR_CARD_ERROR` "an attempt was made to end a non-existent transaction").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cpx_e2e::{pcscd, wait_for_card, Host, SLOT_PORTS, SLOT_READERS};
use cpx_virtual_card::{pcscd_test_lock, shared, vpcd, Holder, VirtualCard};

/// A small xorshift generator: the test prints its seed, so a failing run can be replayed with
/// `CPX_SWAP_SEED`.
struct Random(u64);

impl Random {
    fn new() -> Random {
        let seed = std::env::var("CPX_SWAP_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_nanos() as u64)
                    .unwrap_or(1)
                    | 1
            });
        eprintln!("card swaps: CPX_SWAP_SEED={seed}");
        Random(seed)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

const SWAPS: usize = 8;

#[test]
fn a_card_swapped_a_moment_before_certificates_is_read_as_the_card_now_inside() {
    let _lock = pcscd_test_lock().expect("pcscd test lock");
    pcscd::ensure_running();
    let mut random = Random::new();
    let cards = [
        shared(VirtualCard::cps3(Holder::Dupont)),
        shared(VirtualCard::cps3(Holder::Martin)),
    ];
    let surname = |index: usize| ["DUPONT", "MARTIN"][index];
    let mut inside = 0;
    let mut inserted = vpcd::insert(cards[inside].clone(), SLOT_PORTS[0]).expect("insert");
    wait_for_card(SLOT_READERS[0], true);
    let mut host = Host::spawn();
    let answer = host.command("certificates");
    assert_eq!(
        answer["result"]["certificates"][0]["holder"]["surname"],
        surname(inside),
        "{answer}"
    );

    let mut outcomes = Vec::new();
    for swap in 0..SWAPS {
        // The same card put back, or the other one.
        let next = random.below(2) as usize;
        inserted.pull_out_now();
        std::thread::sleep(Duration::from_millis(random.below(60)));
        inserted = vpcd::insert(cards[next].clone(), SLOT_PORTS[0]).expect("insert");
        inside = next;
        std::thread::sleep(Duration::from_millis(random.below(200)));
        let answer = host.command("certificates");
        let outcome = match answer["error"]["code"].as_str() {
            None => {
                assert_eq!(
                    answer["result"]["certificates"][0]["holder"]["surname"],
                    surname(inside),
                    "swap {swap}: the card read is not the card inside: {answer}"
                );
                "read".to_owned()
            }
            // pcscd saw the slot empty at its last poll: an honest answer. ERR_CARD_REMOVED is
            // not: the card changed once, before the request, which reads again once.
            Some(code @ "ERR_NO_CARD") => code.to_owned(),
            Some(_) => panic!("swap {swap}: {answer}"),
        };
        outcomes.push(outcome);
        // Once pcscd has settled, the card inside is read, whatever happened.
        std::thread::sleep(vpcd::REMOVAL_SETTLE_TIME);
        let answer = host.command("certificates");
        assert_eq!(
            answer["result"]["certificates"][0]["holder"]["surname"],
            surname(inside),
            "swap {swap}, settled: {answer}"
        );
    }
    eprintln!("card swaps: {outcomes:?}");
    if std::env::var_os("CPX_SWAP_LOG").is_some() {
        eprintln!("{}", host.log_text());
    }
    for card in &cards {
        assert_eq!(card.lock().expect("card").verify_count(), 0, "no VERIFY");
    }
    inserted.remove();
    wait_for_card(SLOT_READERS[0], false);
}
