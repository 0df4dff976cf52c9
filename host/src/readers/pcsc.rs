//! The PC/SC backend: the only module that speaks `pcsc`.

use std::cell::Cell;
use std::ffi::CString;
use std::time::Duration;

use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use tracing::{debug, warn};

use super::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use crate::card::{Transport, TransportError};

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
        let context = Context::establish(Scope::User).map_err(|error| {
            debug!(%error, "no PC/SC context");
            service_error(error, "")
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
                    pin_presented: Cell::new(false),
                }) as Box<dyn CardConnection>
            });
        if let Err(error) = &result {
            self.forget_context_on(error);
        }
        result
    }
}

struct PcscConnection {
    /// `None` only once dropped.
    card: Option<Card>,
    context: Context,
    reader: CString,
    /// A VERIFY with a PIN went to the card: it may hold a verified PIN until reset.
    pin_presented: Cell<bool>,
}

impl Drop for PcscConnection {
    /// Leaves the card as it is for the other programs sharing it (another program's session
    /// on the card survives a `certificates`), unless this connection sent a PIN: then the card
    /// is reset, so that the verified PIN does not outlive the request.
    fn drop(&mut self) {
        let Some(card) = self.card.take() else {
            return;
        };
        let disposition = if self.pin_presented.get() {
            Disposition::ResetCard
        } else {
            Disposition::LeaveCard
        };
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
            pin_presented,
        } = self;
        let reader_name = reader.to_string_lossy().into_owned();
        let card = card
            .as_mut()
            .ok_or_else(|| BackendError::Other("connection already closed".into()))?;
        let card = match card.transaction2() {
            Ok(transaction) => {
                return Ok(Box::new(PcscTransport {
                    transaction,
                    context,
                    reader,
                    pin_presented,
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
                    transaction,
                    context,
                    reader,
                    pin_presented,
                }) as Box<dyn Transport>
            })
            .map_err(|error| service_error(error, &reader_name))
    }
}

struct PcscTransport<'c> {
    transaction: pcsc::Transaction<'c>,
    context: &'c Context,
    reader: &'c CString,
    pin_presented: &'c Cell<bool>,
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
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // VERIFY (INS 20) with data, on any logical channel.
        if command.len() > 5 && command[1] == 0x20 {
            self.pin_presented.set(true);
        }
        let mut buffer = [0u8; MAX_RESPONSE];
        match self.transaction.transmit(command, &mut buffer) {
            // Fewer than two bytes is no answer at all: vpcd's answer when the card left.
            Ok(response) if response.len() < 2 && self.card_left() => {
                Err(TransportError::CardRemoved)
            }
            Ok(response) => Ok(response.to_vec()),
            Err(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard) => {
                Err(TransportError::CardRemoved)
            }
            Err(pcsc::Error::ResetCard) => Err(TransportError::CardReset),
            Err(
                pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle,
            ) => Err(TransportError::ServiceGone),
            Err(_) if self.card_left() => Err(TransportError::CardRemoved),
            Err(error) => Err(TransportError::Other(error.to_string())),
        }
    }
}

fn service_error(error: pcsc::Error, reader: &str) -> BackendError {
    match error {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle => {
            BackendError::ServiceUnavailable
        }
        pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => BackendError::NoCard(reader.into()),
        pcsc::Error::UnknownReader
        | pcsc::Error::ReaderUnavailable
        | pcsc::Error::NoReadersAvailable => BackendError::ReaderGone(reader.into()),
        pcsc::Error::SharingViolation => BackendError::CardBusy(reader.into()),
        pcsc::Error::UnpoweredCard
        | pcsc::Error::UnresponsiveCard
        | pcsc::Error::UnsupportedCard => BackendError::CardUnresponsive(reader.into()),
        pcsc::Error::ResetCard => BackendError::Transport(TransportError::CardReset),
        other => BackendError::Other(other.to_string()),
    }
}
