//! The PC/SC backend: the only module that speaks `pcsc`.
//!
//! Over 600 lines with its tests: the one module that imports pcsc keeps every PC/SC detail
//! (contexts, sharing, transactions, reader states) in one place.

use std::cell::Cell;
use std::ffi::CString;
use std::time::Duration;

use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use tracing::{debug, warn};

use super::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use crate::card::apdu::carries_pin;
use crate::card::{Protocol, Transport, TransportError};

/// Largest response of a short APDU: 256 data bytes and the status word.
const MAX_RESPONSE: usize = 258;

/// How long a failed exchange waits for pcscd to report the card gone: pcscd polls readers
/// every 400 ms, and a card pulled out mid-command shows up only at that poll.
const REMOVAL_NOTICE_TIME: Duration = Duration::from_millis(1000);

/// Connects to the PC/SC service lazily, so that `version` never waits on pcscd, and again after
/// pcscd restarts.
#[derive(Default)]
pub struct PcscBackend {
    context: Option<Context>,
}

impl PcscBackend {
    pub fn new() -> Self {
        PcscBackend::default()
    }

    fn context(&mut self) -> Result<&Context, BackendError> {
        if let Some(context) = &self.context {
            if context.is_valid().is_ok() {
                return self
                    .context
                    .as_ref()
                    .ok_or(BackendError::ServiceUnavailable);
            }
        }
        // Whatever the code, no context means no service to talk to (Wine's winscard stub fails
        // here with SCARD_F_INTERNAL_ERROR).
        let context = Context::establish(Scope::User).map_err(|error| {
            debug!(%error, "no PC/SC context");
            BackendError::ServiceUnavailable
        })?;
        Ok(self.context.insert(context))
    }

    /// Drops a context that the service no longer honours, so the next call establishes a new one.
    fn forget_context_on(&mut self, error: &BackendError) {
        if *error == BackendError::ServiceUnavailable {
            self.context = None;
        }
    }

    fn list(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        let context = self.context()?;
        let names = match context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            Err(error) => return Err(service_error(error, "")),
        };
        let mut states: Vec<ReaderState> = names
            .into_iter()
            .map(|name| ReaderState::new(name, State::UNAWARE))
            .collect();
        if let Err(error) = context.get_status_change(Duration::ZERO, &mut states) {
            return Err(service_error(error, ""));
        }
        Ok(states
            .iter()
            .map(|state| {
                let present = state.event_state().contains(State::PRESENT)
                    && !state.event_state().contains(State::MUTE);
                ReaderSlot {
                    name: state.name().to_string_lossy().into_owned(),
                    atr: present.then(|| state.atr().to_vec()),
                }
            })
            .collect())
    }
}

impl ReaderBackend for PcscBackend {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        let result = self.list();
        if let Err(error) = &result {
            self.forget_context_on(error);
        }
        result
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        let name = CString::new(reader).map_err(|_| BackendError::ReaderGone(reader.into()))?;
        let result = self
            .context()
            .and_then(|context| {
                context
                    .connect(&name, ShareMode::Shared, Protocols::ANY)
                    .map(|card| (card, context.clone()))
                    .map_err(|error| service_error(error, reader))
            })
            .map(|(card, context)| {
                Box::new(PcscConnection {
                    card: Some(card),
                    context,
                    reader: name,
                    pin_trace: PinTrace::default(),
                }) as Box<dyn CardConnection>
            });
        if let Err(error) = &result {
            self.forget_context_on(error);
        }
        result
    }

    /// A card pulled out and put back (or replaced) between two of pcscd's polls is never
    /// powered by pcscd, which still believes in the old card: every exchange then fails with
    /// `SCARD_E_NOT_TRANSACTED`. A reset through pcscd powers the card now in the reader and
    /// reads its ATR. The card changed anyway, so no other program's session survives it.
    fn recover(&mut self, reader: &str) {
        let Ok(name) = CString::new(reader) else {
            return;
        };
        let Ok(context) = self.context() else {
            return;
        };
        match context.connect(&name, ShareMode::Shared, Protocols::ANY) {
            Ok(mut card) => {
                if let Err(error) =
                    card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::ResetCard)
                {
                    debug!(%error, reader, "reset after a card change failed");
                }
                if let Err((_, error)) = card.disconnect(Disposition::LeaveCard) {
                    debug!(%error, reader, "disconnect after the reset failed");
                }
            }
            Err(error) => debug!(%error, reader, "no connection to reset the card"),
        }
    }
}

struct PcscConnection {
    /// `None` only once dropped.
    card: Option<Card>,
    context: Context,
    reader: CString,
    /// What this connection's VERIFYs said about the card's PIN state.
    pin_trace: PinTrace,
}

/// The PIN state this connection saw, which decides how the card is left (host/PROTOCOL.md,
/// "The card between requests").
#[derive(Default)]
struct PinTrace {
    /// A VERIFY with a PIN went to the card: it may hold a verified PIN until reset.
    presented: Cell<bool>,
    /// Before that, a VERIFY without data (the drivers' probe) answered `90 00`: the PIN was
    /// already verified, by another program's session.
    verified_before: Cell<Option<bool>>,
}

impl PinTrace {
    /// Notes a VERIFY and its answer.
    fn observe(&self, command: &[u8], answer: &[u8]) {
        if command.get(1) != Some(&0x20) {
            return;
        }
        if carries_pin(command) {
            self.presented.set(true);
        } else if !self.presented.get() {
            self.verified_before
                .set(Some(answer.ends_with(&[0x90, 0x00])));
        }
    }

    /// Reset only when this request's VERIFY may have created the verified state: a PIN went
    /// to the card, and the card was not verified before it (or that is unknown). A card that
    /// another program had verified is left as it was, so that program stays logged in.
    fn disposition(&self) -> Disposition {
        if self.presented.get() && self.verified_before.get() != Some(true) {
            Disposition::ResetCard
        } else {
            Disposition::LeaveCard
        }
    }
}

impl Drop for PcscConnection {
    /// Leaves the card as it is for the other programs sharing it, unless this connection's
    /// VERIFY verified a PIN the card did not hold verified before: then the card is reset, so
    /// that the verified state this request created does not outlive it.
    fn drop(&mut self) {
        let Some(card) = self.card.take() else {
            return;
        };
        let disposition = self.pin_trace.disposition();
        // On failure the handle is dropped, which resets the card: the handle is gone anyway.
        if let Err((_, error)) = card.disconnect(disposition) {
            debug!(%error, "disconnect failed");
        }
    }
}

impl CardConnection for PcscConnection {
    fn transaction(&mut self) -> Result<Box<dyn Transport + '_>, BackendError> {
        let PcscConnection {
            card,
            context,
            reader,
            pin_trace,
        } = self;
        let reader_name = reader.to_string_lossy().into_owned();
        let card = card
            .as_mut()
            .ok_or_else(|| BackendError::Other("connection already closed".into()))?;
        let card = match card.transaction2() {
            Ok(transaction) => {
                return Ok(Box::new(PcscTransport {
                    protocol: active_protocol(&transaction),
                    transaction,
                    context,
                    reader,
                    pin_trace,
                }))
            }
            Err((card, pcsc::Error::ResetCard)) => card,
            Err((_, error)) => return Err(service_error(error, &reader_name)),
        };
        // Another application reset the card: our session state on it is gone, so reconnect
        // and let the driver select from scratch.
        warn!(reader = %reader_name, "card was reset; reconnecting");
        card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
            .map_err(|error| service_error(error, &reader_name))?;
        card.transaction()
            .map(|transaction| {
                Box::new(PcscTransport {
                    protocol: active_protocol(&transaction),
                    transaction,
                    context,
                    reader,
                    pin_trace,
                }) as Box<dyn Transport>
            })
            .map_err(|error| service_error(error, &reader_name))
    }
}

/// The protocol pcscd negotiated with the card (SCardStatus), in the card layer's terms. With
/// `SCARD_PROTOCOL_ANY`, pcsc-lite tries T=1 first when the ATR offers both (`prothandler.c`,
/// `PHSetProtocol`), as the production CPS4's does.
fn active_protocol(card: &Card) -> Option<Protocol> {
    match card.status2_owned().ok()?.protocol2()? {
        pcsc::Protocol::T0 => Some(Protocol::T0),
        pcsc::Protocol::T1 => Some(Protocol::T1),
        pcsc::Protocol::RAW => None,
    }
}

struct PcscTransport<'c> {
    protocol: Option<Protocol>,
    transaction: pcsc::Transaction<'c>,
    context: &'c Context,
    reader: &'c CString,
    pin_trace: &'c PinTrace,
}

impl PcscTransport<'_> {
    /// After an exchange failed in a way PC/SC did not explain (vpcd answers nothing, a CCID
    /// reader `SCARD_E_NOT_TRANSACTED`): was the card pulled out? pcscd may learn it only at
    /// its next poll, so wait for that, briefly.
    fn card_left(&self) -> bool {
        match self.transaction.status2_owned() {
            Err(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard | pcsc::Error::ResetCard) => {
                return true
            }
            Ok(status) if !status.status().contains(pcsc::Status::PRESENT) => return true,
            _ => {}
        }
        let mut states = [ReaderState::new(self.reader.clone(), State::UNAWARE)];
        if self
            .context
            .get_status_change(Duration::ZERO, &mut states)
            .is_err()
        {
            return false;
        }
        if !states[0].event_state().contains(State::PRESENT) {
            return true;
        }
        let events_before = states[0].event_count();
        states[0].sync_current_state();
        // A timeout means nothing changed: the card is still there.
        if self
            .context
            .get_status_change(REMOVAL_NOTICE_TIME, &mut states)
            .is_err()
        {
            return false;
        }
        // Gone, or gone and back already.
        !states[0].event_state().contains(State::PRESENT)
            || states[0].event_count() != events_before
    }
}

impl Transport for PcscTransport<'_> {
    fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // A VERIFY with a PIN counts as presented even if no answer comes back.
        if carries_pin(command) {
            self.pin_trace.presented.set(true);
        }
        let mut buffer = [0u8; MAX_RESPONSE];
        match self.transaction.transmit(command, &mut buffer) {
            // Fewer than two bytes is no answer at all: vpcd's answer when the card left.
            Ok(response) if response.len() < 2 && self.card_left() => {
                Err(TransportError::CardRemoved)
            }
            Ok(response) => {
                self.pin_trace.observe(command, response);
                Ok(response.to_vec())
            }
            Err(error) => {
                match transport_error(error).inspect(|_| debug!(%error, "transmit failed")) {
                    Some(mapped) => Err(mapped),
                    None if self.card_left() => Err(TransportError::CardRemoved),
                    None => Err(TransportError::Other(error.to_string())),
                }
            }
        }
    }
}

/// What a PC/SC error code means to the host, whichever call returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// No PC/SC service, or it went away: `ERR_PCSC_UNAVAILABLE`.
    NoService,
    /// The reader is not (or no longer) there.
    NoReader,
    /// No card in the reader (any more).
    NoCard,
    /// The card was reset, removed, or replaced since the handle was made: a request that sends
    /// no PIN starts again once, any other ends with `ERR_CARD_REMOVED`.
    CardChanged,
    /// Another program holds the card exclusively.
    CardBusy,
    /// The card or the reader does not work with it: `ERR_CARD_ERROR`.
    CardUnresponsive,
    /// A call this host makes wrongly, or a code it never asks for (the Windows smart card
    /// file-system and cache codes): a bug, `ERR_INTERNAL`.
    Internal,
}

/// Every PC/SC error code, in one table: the match is exhaustive, so a code the `pcsc` crate
/// adds does not compile until it is placed. (`SCardEstablishContext` failing for any reason is
/// [`Meaning::NoService`] whatever the code, see [`PcscBackend::context`]: Wine's stub fails it
/// with `SCARD_F_INTERNAL_ERROR`.)
fn meaning(error: pcsc::Error) -> Meaning {
    use pcsc::Error as E;
    match error {
        // pcscd not running, stopped, or its socket broke mid-call (pcsc-lite answers
        // SCARD_F_COMM_ERROR then); a context or handle it no longer knows (it restarted);
        // the system shutting down; a server too busy to answer.
        E::NoService
        | E::ServiceStopped
        | E::CommError
        | E::InvalidHandle
        | E::Shutdown
        | E::SystemCancelled
        | E::ServerTooBusy => Meaning::NoService,
        E::UnknownReader
        | E::ReaderUnavailable
        | E::NoReadersAvailable
        | E::ReaderUnsupported
        | E::DuplicateReader => Meaning::NoReader,
        E::NoSmartcard => Meaning::NoCard,
        // A swapped card shows up as any of these: a reset or removal seen by pcscd, or, when the
        // card was put back between two of pcscd's polls, a transaction pcscd no longer knows
        // ("an attempt was made to end a non-existent transaction") or a lost exchange.
        E::ResetCard | E::RemovedCard | E::NotTransacted | E::CommDataLost => Meaning::CardChanged,
        E::SharingViolation => Meaning::CardBusy,
        E::UnpoweredCard
        | E::UnresponsiveCard
        | E::UnsupportedCard
        | E::CardUnsupported
        | E::InvalidAtr
        | E::ProtoMismatch
        | E::NotReady
        | E::Timeout
        | E::WaitedTooLong
        | E::UnknownCard => Meaning::CardUnresponsive,
        E::InternalError
        | E::Cancelled
        | E::InvalidParameter
        | E::InvalidTarget
        | E::NoMemory
        | E::InsufficientBuffer
        | E::CantDispose
        | E::InvalidValue
        | E::UnknownError
        | E::PciTooSmall
        | E::UnsupportedFeature
        | E::UnknownResMng
        | E::IccInstallation
        | E::IccCreateorder
        | E::DirNotFound
        | E::FileNotFound
        | E::NoDir
        | E::NoFile
        | E::NoAccess
        | E::WriteTooMany
        | E::BadSeek
        | E::InvalidChv
        | E::NoSuchCertificate
        | E::CertificateUnavailable
        | E::NoKeyContainer
        | E::SecurityViolation
        | E::WrongChv
        | E::ChvBlocked
        | E::Eof
        | E::CancelledByUser
        | E::CardNotAuthenticated
        | E::CacheItemNotFound
        | E::CacheItemStale
        | E::CacheItemTooBig => Meaning::Internal,
        #[cfg(target_os = "windows")]
        E::Unexpected => Meaning::Internal,
    }
}

/// A PC/SC error of a call outside a card exchange (listing, connecting, beginning a transaction).
fn service_error(error: pcsc::Error, reader: &str) -> BackendError {
    debug!(%error, reader, "PC/SC call failed");
    match meaning(error) {
        Meaning::NoService => BackendError::ServiceUnavailable,
        Meaning::NoReader => BackendError::ReaderGone(reader.into()),
        Meaning::NoCard => BackendError::NoCard(reader.into()),
        Meaning::CardChanged => BackendError::Transport(TransportError::CardReset),
        Meaning::CardBusy => BackendError::CardBusy(reader.into()),
        Meaning::CardUnresponsive => BackendError::CardUnresponsive(reader.into()),
        Meaning::Internal => BackendError::Other(error.to_string()),
    }
}

/// A PC/SC error of a card exchange; `None` for the kinds that need a look at the reader
/// (was the card pulled out?) before they can be told apart.
fn transport_error(error: pcsc::Error) -> Option<TransportError> {
    match meaning(error) {
        Meaning::NoService => Some(TransportError::ServiceGone),
        Meaning::NoCard | Meaning::NoReader => Some(TransportError::CardRemoved),
        Meaning::CardChanged if error == pcsc::Error::RemovedCard => {
            Some(TransportError::CardRemoved)
        }
        Meaning::CardChanged => Some(TransportError::CardReset),
        Meaning::CardBusy | Meaning::CardUnresponsive | Meaning::Internal => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of the `pcsc` crate (2.x) but Windows' `SCARD_E_UNEXPECTED`.
    const EVERY_ERROR: [pcsc::Error; 62] = {
        use pcsc::Error as E;
        [
            E::InternalError,
            E::Cancelled,
            E::InvalidHandle,
            E::InvalidParameter,
            E::InvalidTarget,
            E::NoMemory,
            E::WaitedTooLong,
            E::InsufficientBuffer,
            E::UnknownReader,
            E::Timeout,
            E::SharingViolation,
            E::NoSmartcard,
            E::UnknownCard,
            E::CantDispose,
            E::ProtoMismatch,
            E::NotReady,
            E::InvalidValue,
            E::SystemCancelled,
            E::CommError,
            E::UnknownError,
            E::InvalidAtr,
            E::NotTransacted,
            E::ReaderUnavailable,
            E::Shutdown,
            E::PciTooSmall,
            E::ReaderUnsupported,
            E::DuplicateReader,
            E::CardUnsupported,
            E::NoService,
            E::ServiceStopped,
            E::IccInstallation,
            E::IccCreateorder,
            E::UnsupportedFeature,
            E::DirNotFound,
            E::FileNotFound,
            E::NoDir,
            E::NoFile,
            E::NoAccess,
            E::WriteTooMany,
            E::BadSeek,
            E::InvalidChv,
            E::UnknownResMng,
            E::NoSuchCertificate,
            E::CertificateUnavailable,
            E::NoReadersAvailable,
            E::CommDataLost,
            E::NoKeyContainer,
            E::ServerTooBusy,
            E::UnsupportedCard,
            E::UnresponsiveCard,
            E::UnpoweredCard,
            E::ResetCard,
            E::RemovedCard,
            E::SecurityViolation,
            E::WrongChv,
            E::ChvBlocked,
            E::Eof,
            E::CancelledByUser,
            E::CardNotAuthenticated,
            E::CacheItemNotFound,
            E::CacheItemStale,
            E::CacheItemTooBig,
        ]
    };

    fn wire_code(error: BackendError) -> &'static str {
        let host: crate::service::HostError = error.into();
        crate::protocol::wire::WireError::from(host).code.as_str()
    }

    #[test]
    fn every_pcsc_code_has_its_wire_code() {
        let distinct: std::collections::HashSet<_> = EVERY_ERROR.iter().collect();
        assert_eq!(distinct.len(), EVERY_ERROR.len(), "a code listed twice");
        for error in EVERY_ERROR {
            let expected = match meaning(error) {
                Meaning::NoService => "ERR_PCSC_UNAVAILABLE",
                Meaning::NoReader | Meaning::NoCard | Meaning::CardChanged => "ERR_CARD_REMOVED",
                Meaning::CardBusy | Meaning::CardUnresponsive => "ERR_CARD_ERROR",
                Meaning::Internal => "ERR_INTERNAL",
            };
            assert_eq!(
                wire_code(service_error(error, "R")),
                expected,
                "{error:?} outside an exchange"
            );
            if let Some(transport) = transport_error(error) {
                assert_eq!(
                    wire_code(BackendError::Transport(transport)),
                    expected,
                    "{error:?} in an exchange"
                );
            }
        }
    }

    /// Commands and the card's answers to them, in order.
    type Exchanges<'a> = &'a [(&'a [u8], &'a [u8])];

    /// What a trace decides once the card has answered these commands, in this order.
    fn disposition_after(exchanges: Exchanges) -> Disposition {
        let trace = PinTrace::default();
        for (command, answer) in exchanges {
            trace.observe(command, answer);
        }
        trace.disposition()
    }

    #[test]
    fn the_card_is_reset_only_when_this_request_verified_a_pin_it_did_not_hold() {
        let probe = [0x00, 0x20, 0x00, 0x01];
        let verify = [0x00, 0x20, 0x00, 0x01, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
        use Disposition::{LeaveCard, ResetCard};
        let read = [0x00, 0xB0, 0x00, 0x00, 0x0C];
        let ok: &[u8] = &[0x90, 0x00];
        let cases: [(Exchanges, Disposition); 6] = [
            // No VERIFY: nothing to undo.
            (&[(&read, ok)], LeaveCard),
            // Not verified before (63 C3): our VERIFY made it so, reset.
            (&[(&probe, &[0x63, 0xC3]), (&verify, ok)], ResetCard),
            // Verified by another program's session: leave it logged in.
            (&[(&probe, ok), (&verify, ok)], LeaveCard),
            // Unknown (no probe, or a card that does not answer it): reset.
            (&[(&verify, &[0x63, 0xC2])], ResetCard),
            (&[(&probe, &[0x6A, 0x86]), (&verify, ok)], ResetCard),
            // A probe after our VERIFY says nothing about before.
            (&[(&verify, ok), (&probe, ok)], ResetCard),
        ];
        for (exchanges, expected) in cases {
            assert_eq!(disposition_after(exchanges), expected, "{exchanges:02X?}");
        }
    }

    #[test]
    fn the_codes_of_the_issues_mean_what_they_say() {
        use pcsc::Error::*;
        // "no service" kinds (issue 10), including the Windows service stopped.
        for error in [NoService, ServiceStopped, CommError, InvalidHandle] {
            assert_eq!(meaning(error), Meaning::NoService, "{error:?}");
        }
        // "card changed" kinds (issue 9): the quick swap's "non-existent transaction" included.
        for error in [ResetCard, RemovedCard, NotTransacted, CommDataLost] {
            assert_eq!(meaning(error), Meaning::CardChanged, "{error:?}");
            assert!(transport_error(error).is_some(), "{error:?}");
        }
        assert_eq!(
            transport_error(NotTransacted),
            Some(TransportError::CardReset)
        );
        assert_eq!(
            transport_error(RemovedCard),
            Some(TransportError::CardRemoved)
        );
        assert_eq!(meaning(NoReadersAvailable), Meaning::NoReader);
        assert_eq!(meaning(InternalError), Meaning::Internal);
    }
}
