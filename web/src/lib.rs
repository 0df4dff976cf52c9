//! The web pieces both relying-party services (the demo site `cpx-demo` and the OpenID Connect
//! provider `cpx-idp`) need, written once: the security headers of every answer, random tokens
//! and their constant-time comparison, who the client is behind a proxy, keyed throttling,
//! HTTPS with limits on what one client can hold, and the CRLs' reloading schedule.
#![forbid(unsafe_code)]

pub mod body;
pub mod client;
pub mod headers;
pub mod reload;
pub mod secrets;
pub mod server;
pub mod throttle;
