//! The one seam between card drivers and whatever carries bytes to the card.
//!
//! Drivers, the PC/SC backend, the virtual card and the scripted test transport all meet here:
//! a driver never sees PC/SC types, only `transmit`.

/// Why a command could not reach the card, or its answer could not come back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the card was removed")]
    CardRemoved,
    #[error("the card was reset by another application")]
    CardReset,
    #[error("the PC/SC service stopped")]
    ServiceGone,
    #[error("transport failure: {0}")]
    Other(String),
}

/// Sends one command APDU and returns the whole response (data then SW1 SW2).
///
/// Implementations run inside a card transaction: the caller owns the card until it drops the transport.
pub trait Transport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;
}
