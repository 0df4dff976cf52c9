//! The web pieces both relying-party services (the demo site `cpx-demo` and the OpenID Connect
//! provider `cpx-idp`) need, written once: the security headers of every answer, random tokens
//! and their constant-time comparison, who the client is behind a proxy, and keyed throttling.
#![forbid(unsafe_code)]

pub mod client;
pub mod headers;
pub mod secrets;
pub mod throttle;
