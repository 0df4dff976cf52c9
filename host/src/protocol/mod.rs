//! Native messaging protocol 1: frames, requests, responses and the request loop.
//! It sees the service's operations, never APDUs.

pub mod framing;
pub mod request;
pub mod server;
pub mod wire;
