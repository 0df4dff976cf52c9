//! Faults a test arms on a card in a vpcd slot: the card pulled out before or during an APDU,
//! reset, slow to answer, or answering a status word it should not.
//!
//! They act in the vpcd serving loop ([`crate::vpcd::insert_with_faults`]), which sees every
//! command APDU and control byte, so the card itself ([`crate::VirtualCard`]) stays a faithful
//! card. "APDU n" counts command APDUs (not control bytes) from the moment the fault is armed:
//! `arm(1, ..)` hits the next command. The plan also keeps every command APDU that came over
//! the wire, faulted or not, so a test can check exactly what the host sent (e.g. no VERIFY it
//! was not asked for).

use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What happens to APDU n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The card is pulled out right after answering APDU n-1 (at once when n is 1): APDU n
    /// never reaches it. pcscd sees the slot empty at its next poll (about 400 ms).
    RemoveBefore,
    /// The card receives APDU n and acts on it (a VERIFY spends its try), then is pulled out
    /// before answering.
    RemoveDuring,
    /// The card is power-cycled just before APDU n, as when another application resets it: the
    /// PIN state, security environment and current file are lost, the PIN counter is kept.
    /// pcscd is not told (vpcd has no way to), so the host sees only a card that forgot.
    ResetBefore,
    /// APDU n is answered after this delay.
    Delay(Duration),
    /// APDU n is answered with this status word alone; the card never sees the command.
    StatusWord(u16),
}

/// A fault that has happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredFault {
    pub fault: Fault,
    /// The n it was armed with.
    pub n: usize,
    /// Header (CLA INS P1 P2) of APDU n; `None` when the card left before it arrived.
    pub command_header: Option<Vec<u8>>,
}

/// Faults armed for a card in a vpcd slot, shared between the test and the serving thread.
/// Cloning gives another handle on the same plan.
#[derive(Clone, Default)]
pub struct FaultPlan {
    state: Arc<Mutex<PlanState>>,
}

#[derive(Default)]
struct PlanState {
    received: Vec<Vec<u8>>,
    armed: Vec<ArmedFault>,
    fired: Vec<FiredFault>,
    /// The slot's connection while the card is in it, to pull the card out at once.
    connection: Option<TcpStream>,
}

struct ArmedFault {
    fault: Fault,
    n: usize,
    /// Position in `received` (1-based) of the APDU it concerns.
    position: usize,
}

/// What the serving loop does with one command APDU.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CommandFaults {
    /// Close the connection without giving the command to the card.
    pub remove_before: bool,
    pub reset_before: bool,
    /// Answer this status word instead of asking the card.
    pub status_word: Option<u16>,
    /// Close the connection after the card has acted, instead of answering.
    pub remove_during: bool,
    pub delay: Duration,
}

impl FaultPlan {
    pub fn new() -> Self {
        FaultPlan::default()
    }

    fn state(&self) -> MutexGuard<'_, PlanState> {
        // A poisoned lock only means a test thread panicked: the plan is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Arms `fault` for the `n`th command APDU from now (n = 0 is taken as 1). Several faults
    /// may be armed at once, for the same APDU or different ones.
    pub fn arm(&self, n: usize, fault: Fault) {
        let n = n.max(1);
        let mut state = self.state();
        let position = state.received.len() + n;
        if fault == Fault::RemoveBefore && n == 1 {
            if let Some(connection) = state.connection.take() {
                // Errors mean the connection is already gone: the card is out either way.
                let _ = connection.shutdown(Shutdown::Both);
                state.fired.push(FiredFault {
                    fault,
                    n,
                    command_header: None,
                });
                return;
            }
        }
        state.armed.push(ArmedFault { fault, n, position });
    }

    /// Drops every fault that has not fired yet.
    pub fn disarm(&self) {
        self.state().armed.clear();
    }

    /// How many armed faults have not fired yet.
    pub fn pending(&self) -> usize {
        self.state().armed.len()
    }

    /// The faults that fired, in order.
    pub fn fired(&self) -> Vec<FiredFault> {
        self.state().fired.clone()
    }

    /// Every command APDU vpcd delivered, in order, whether a fault hit it or not (full bytes,
    /// PINs included: this is a test card).
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.state().received.clone()
    }

    /// How many command APDUs vpcd delivered.
    pub fn received_count(&self) -> usize {
        self.state().received.len()
    }

    /// The serving loop starts serving `connection`.
    pub(crate) fn attach(&self, connection: TcpStream) {
        self.state().connection = Some(connection);
    }

    /// The serving loop of `connection` stopped: nothing left to pull out, unless the card was
    /// inserted again meanwhile (a newer connection, which stays).
    pub(crate) fn detach(&self, connection: &TcpStream) {
        let mut state = self.state();
        let same = |attached: &TcpStream| matches!((attached.local_addr(), connection.local_addr()), (Ok(a), Ok(b)) if a == b);
        if state.connection.as_ref().is_some_and(same) {
            state.connection = None;
        }
    }

    /// Records a command APDU from vpcd and says which faults hit it.
    pub(crate) fn command_arrived(&self, apdu: &[u8]) -> CommandFaults {
        let mut state = self.state();
        state.received.push(apdu.to_vec());
        let position = state.received.len();
        let header = apdu.iter().take(4).copied().collect::<Vec<u8>>();
        let (due, later): (Vec<ArmedFault>, Vec<ArmedFault>) = std::mem::take(&mut state.armed)
            .into_iter()
            .partition(|armed| armed.position <= position);
        state.armed = later;
        let mut faults = CommandFaults::default();
        for armed in due {
            match &armed.fault {
                // Armed before the card was in the slot: it leaves as the command arrives.
                Fault::RemoveBefore => faults.remove_before = true,
                Fault::RemoveDuring => faults.remove_during = true,
                Fault::ResetBefore => faults.reset_before = true,
                Fault::Delay(delay) => faults.delay += *delay,
                Fault::StatusWord(sw) => faults.status_word = Some(*sw),
            }
            state.fired.push(FiredFault {
                fault: armed.fault,
                n: armed.n,
                command_header: (armed.position == position).then(|| header.clone()),
            });
        }
        faults
    }

    /// Called once an answer went out: true if the card must leave before the next command.
    pub(crate) fn answered(&self) -> bool {
        let mut state = self.state();
        let next = state.received.len() + 1;
        let Some(index) = state
            .armed
            .iter()
            .position(|armed| armed.fault == Fault::RemoveBefore && armed.position == next)
        else {
            return false;
        };
        let armed = state.armed.remove(index);
        state.fired.push(FiredFault {
            fault: armed.fault,
            n: armed.n,
            command_header: None,
        });
        true
    }
}

impl std::fmt::Debug for FaultPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("FaultPlan")
            .field("received", &state.received.len())
            .field("pending", &state.armed.len())
            .field("fired", &state.fired)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELECT: [u8; 9] = [0x00, 0xA4, 0x09, 0x0C, 0x04, 0x3F, 0x00, 0xD0, 0x03];

    #[test]
    fn counts_from_the_moment_a_fault_is_armed() {
        let plan = FaultPlan::new();
        assert_eq!(plan.command_arrived(&SELECT), CommandFaults::default());
        plan.arm(2, Fault::StatusWord(0x6F00));
        assert_eq!(plan.command_arrived(&SELECT), CommandFaults::default());
        let faults = plan.command_arrived(&SELECT);
        assert_eq!(faults.status_word, Some(0x6F00));
        assert_eq!(plan.pending(), 0);
        assert_eq!(
            plan.fired(),
            [FiredFault {
                fault: Fault::StatusWord(0x6F00),
                n: 2,
                command_header: Some(SELECT[..4].to_vec()),
            }]
        );
        assert_eq!(plan.received_count(), 3);
    }

    #[test]
    fn faults_on_the_same_apdu_combine_and_delays_add_up() {
        let plan = FaultPlan::new();
        plan.arm(1, Fault::ResetBefore);
        plan.arm(1, Fault::Delay(Duration::from_millis(30)));
        plan.arm(1, Fault::Delay(Duration::from_millis(20)));
        plan.arm(1, Fault::RemoveDuring);
        let faults = plan.command_arrived(&SELECT);
        assert_eq!(
            faults,
            CommandFaults {
                remove_before: false,
                reset_before: true,
                status_word: None,
                remove_during: true,
                delay: Duration::from_millis(50),
            }
        );
        assert_eq!(plan.fired().len(), 4);
    }

    #[test]
    fn removal_before_apdu_n_happens_once_apdu_n_minus_1_is_answered() {
        let plan = FaultPlan::new();
        plan.arm(2, Fault::RemoveBefore);
        assert_eq!(plan.command_arrived(&SELECT), CommandFaults::default());
        assert!(plan.answered());
        assert_eq!(plan.fired()[0].command_header, None);
        assert!(!plan.answered(), "fires once");
    }

    #[test]
    fn removal_before_the_next_apdu_without_a_card_in_the_slot_waits_for_the_command() {
        let plan = FaultPlan::new();
        plan.arm(1, Fault::RemoveBefore);
        assert_eq!(plan.pending(), 1);
        assert!(plan.command_arrived(&SELECT).remove_before);
    }

    #[test]
    fn disarm_drops_what_has_not_fired() {
        let plan = FaultPlan::new();
        plan.arm(3, Fault::RemoveDuring);
        plan.disarm();
        for _ in 0..5 {
            assert_eq!(plan.command_arrived(&SELECT), CommandFaults::default());
            assert!(!plan.answered());
        }
        assert!(plan.fired().is_empty());
    }
}
