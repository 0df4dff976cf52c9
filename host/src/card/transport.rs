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

/// The transmission protocol the reader and the card agreed on (ISO 7816-3), in card terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Character protocol: response data of a case-4 command comes through `61xx` + GET
    /// RESPONSE; Le is not sent with command data.
    T0,
    /// Block protocol: a case-4 command carries Le, and the data comes back with `90 00` at once.
    T1,
}

/// Sends one command APDU and returns the whole response (data then SW1 SW2).
///
/// Implementations run inside a card transaction: the caller owns the card until it drops the transport.
pub trait Transport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// The active protocol, when the transport knows it. `None`: the card layer takes the most
    /// tolerant path (T=0 forms, and Le added once when a case-4 command is refused `67 00`).
    fn protocol(&self) -> Option<Protocol> {
        None
    }
}
