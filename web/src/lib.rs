//! The web pieces both relying-party services (the demo site `cpx-demo` and the OpenID Connect
//! provider `cpx-idp`) need, written once: the security headers of every answer, random tokens
//! and their constant-time comparison, who the client is behind a proxy, keyed throttling,
//! HTTPS with limits on what one client can hold, and the CRLs' reloading schedule; the sentence
//! shown for each card login error (French and English) and the page script that shows them
//! (`static/card-login.js`).
#![forbid(unsafe_code)]

pub mod body;
pub mod client;
pub mod headers;
pub mod messages;
pub mod reload;
pub mod secrets;
pub mod server;
pub mod throttle;
