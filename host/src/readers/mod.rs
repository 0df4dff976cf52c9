//! Readers and the cards in them, behind a trait: PC/SC in production, virtual readers in tests.

mod pcsc;

pub use self::pcsc::PcscBackend;

use crate::card::{Transport, TransportError};

/// A reader and, when a card is in it, the card's ATR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSlot {
    pub name: String,
    pub atr: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("the PC/SC service is not available")]
    ServiceUnavailable,
    #[error("reader {0:?} is no longer connected")]
    ReaderGone(String),
    #[error("no card in reader {0:?}")]
    NoCard(String),
    #[error("the card in reader {0:?} is in exclusive use by another application")]
    CardBusy(String),
    #[error("the card in reader {0:?} does not respond")]
    CardUnresponsive(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("PC/SC error: {0}")]
    Other(String),
}

pub trait ReaderBackend {
    /// Every reader the system knows, with the ATR of the card in it.
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError>;
    /// A shared connection to the card in `reader`.
    fn connect(&mut self, reader: &str) -> Result<Box<dyn CardConnection>, BackendError>;
    /// After a "card changed" error: brings the card in `reader` to a state where it can be
    /// talked to again (for PC/SC, a reset through pcscd, which powers a card swapped in between
    /// two of its polls). Best effort; nothing to do by default.
    fn recover(&mut self, _reader: &str) {}
}

pub trait CardConnection {
    /// Begins a transaction: nobody else talks to the card until the transport is dropped.
    /// A card reset by another application since the connection was made is reconnected here.
    fn transaction(&mut self) -> Result<Box<dyn Transport + '_>, BackendError>;
}
