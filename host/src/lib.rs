//! CPx Connect's native messaging host: it signs origin-bound login challenges with a French
//! health-professional CPx card on behalf of the browser extension.
//!
//! Layers, each using only the one below: `protocol` (frames, JSON) -> `service` (commands in card
//! terms) -> `card` (drivers, APDUs) -> `card::Transport`, implemented by `readers` (PC/SC).
#![forbid(unsafe_code)]

pub mod card;
mod hex;
pub mod logging;
pub mod protocol;
pub mod readers;
pub mod service;
pub mod token;

pub use hex::encode as hex_encode;
