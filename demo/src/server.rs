//! HTTPS for the demo site: `cpx_web::server`, shared with the OpenID Connect provider (a
//! self-signed certificate made at start-up, connection and header-time limits).

pub use cpx_web::server::*;
