//! Errors of the card layer: what went wrong talking to a card, in card terms.

use super::apdu::StatusWord;
use super::transport::TransportError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card refused a command.
    #[error("the card answered {sw} to instruction {ins:02X}")]
    Status { ins: u8, sw: StatusWord },
    /// The card broke the APDU protocol (short answer, endless `61xx`...).
    #[error("card protocol error: {0}")]
    Protocol(&'static str),
    /// A file the card returned does not parse as what it should hold.
    #[error("malformed card data: {0}")]
    Malformed(String),
    /// The card answers but is not a CPx card, or lacks what a login needs.
    #[error("unsupported card: {0}")]
    Unsupported(String),
    /// The PIN does not fit the card's PIN object (length, characters).
    #[error("the PIN does not fit the card's PIN rules: {0}")]
    PinFormat(&'static str),
    #[error("wrong PIN, {retries_left} tries left")]
    WrongPin { retries_left: u8 },
    #[error("the PIN is blocked")]
    PinBlocked,
}

impl From<super::tlv::TlvError> for CardError {
    fn from(error: super::tlv::TlvError) -> Self {
        CardError::Malformed(error.to_string())
    }
}
