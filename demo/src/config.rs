//! What the demo site needs to start: its own origin, its database, what it trusts.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `build_app` needs. Built by the CLI from its arguments, or directly by tests.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The site's own origin, e.g. `https://localhost:8443`. Tokens are checked against this,
    /// never against anything the request says.
    pub origin: String,
    /// SQLite file holding accounts and card links (created if missing).
    pub database_path: PathBuf,
    /// DER certificates of the CAs whose cards may log in.
    pub trust_anchors_der: Vec<Vec<u8>>,
    /// DER CRLs applied to those cards.
    pub crls_der: Vec<Vec<u8>>,
    /// DER intermediate CA certificates (between the cards' issuer and an anchor).
    pub intermediates_der: Vec<Vec<u8>>,
    /// CA certificates (DER) whose cards are accepted without a CRL (explicit opt-out).
    pub no_crl_for_der: Vec<Vec<u8>>,
    /// Accepted certificate policy OIDs (empty: any).
    pub certificate_policies: Vec<String>,
    /// Accept test CAs as anchors (the demo's fixtures are test CAs); off in production.
    pub allow_test_anchors: bool,
    /// Where the CRLs were read from, to read them again on a schedule or a signal.
    pub crl_paths: Vec<PathBuf>,
    /// How long a verified but not yet linked card waits for the link form: short, since on a
    /// shared workstation the next user could link it to their account.
    pub pending_card_lifetime: Duration,
    /// Password attempts per account: this many at once, then one per `account_attempt_period`.
    /// Past the burst an attempt waits for its turn (at most `account_max_delay`, else `429`)
    /// rather than being refused: guesses on an account slow it down, they do not lock its
    /// owner out.
    pub account_attempt_burst: u32,
    pub account_attempt_period: Duration,
    pub account_max_delay: Duration,
    /// Password attempts per client address: this many at once, then one per period.
    pub client_attempt_burst: u32,
    pub client_attempt_period: Duration,
    /// New sessions per client (an IPv4 address or an IPv6 /64): this many at once, then one
    /// per period; past that, `429`. One client cannot then evict the anonymous sessions
    /// (nor, through them, the challenges) of everyone else.
    pub session_creation_burst: u32,
    pub session_creation_period: Duration,
    /// Challenges (`GET /api/nonce`) per client: this many at once, then one per period.
    pub challenge_burst: u32,
    pub challenge_period: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed (empty, the default: the peer
    /// address is the client; see `client::client_address`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections open at once, and the time for the TLS handshake and then a request's
    /// headers (`server::ServeLimits`).
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// Time to receive a request's whole body, once its headers are in (`408` past it).
    pub body_read_timeout: Duration,
    /// Password hashes (Argon2, 19 MiB each) computed at once; further attempts wait.
    pub max_concurrent_password_hashes: usize,
    /// Anonymous sessions kept at most (the least recently used go first), and signed-in ones:
    /// a flood of new visitors evicts only other anonymous sessions.
    pub max_anonymous_sessions: u64,
    pub max_signed_in_sessions: u64,
    /// `redis://host:port/db`: challenges and sessions in this Redis, shared by every instance
    /// of the site; `None`: in this process's memory.
    pub store_url: Option<String>,
    /// With a `rediss://` store: the CA certificate (PEM) its TLS certificate chains to,
    /// instead of the system's roots.
    pub store_ca: Option<PathBuf>,
    /// `Strict-Transport-Security` max-age in seconds.
    pub hsts_max_age: u64,
    /// The extension's page library, served as `/static/cpx-connect.js`, read at each request.
    pub page_library: PathBuf,
    /// How long a login challenge stays valid.
    pub nonce_lifetime: Duration,
    /// How long an idle browser session lives.
    pub session_idle_timeout: Duration,
    /// The OpenID Connect provider of the second button (`routes/oidc.rs`); `None`: no button.
    pub oidc: Option<crate::oidc::OidcConfig>,
}

impl DemoConfig {
    /// A configuration with the usual lifetimes (challenge 5 minutes, idle session 30 minutes)
    /// and the page library at its place in the repository.
    pub fn new(
        origin: &str,
        database_path: PathBuf,
        trust_anchors_der: Vec<Vec<u8>>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            origin: parse_origin(origin)?,
            database_path,
            trust_anchors_der,
            crls_der: Vec::new(),
            intermediates_der: Vec::new(),
            no_crl_for_der: Vec::new(),
            certificate_policies: Vec::new(),
            allow_test_anchors: false,
            crl_paths: Vec::new(),
            page_library: default_page_library(),
            nonce_lifetime: Duration::from_secs(5 * 60),
            session_idle_timeout: Duration::from_secs(30 * 60),
            pending_card_lifetime: Duration::from_secs(2 * 60),
            account_attempt_burst: 5,
            account_attempt_period: Duration::from_secs(10),
            account_max_delay: Duration::from_secs(10),
            client_attempt_burst: 20,
            client_attempt_period: Duration::from_secs(2),
            session_creation_burst: 30,
            session_creation_period: Duration::from_secs(2),
            challenge_burst: 20,
            challenge_period: Duration::from_secs(2),
            trusted_proxies: Vec::new(),
            max_connections: 1000,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_concurrent_password_hashes: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2),
            max_anonymous_sessions: 10_000,
            max_signed_in_sessions: 100_000,
            hsts_max_age: 365 * 24 * 3600,
            store_url: None,
            store_ca: None,
            oidc: None,
        })
    }
}

impl DemoConfig {
    /// The limits `server::serve_with` applies to connections.
    pub fn serve_limits(&self) -> crate::server::ServeLimits {
        crate::server::ServeLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid origin {origin:?}: {why} (expected https://host[:port], with no path)")]
    InvalidOrigin { origin: String, why: &'static str },
    #[error("cannot read {path}: {source}")]
    UnreadableFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a DER-encoded {what} (PEM files must be converted first, e.g. `openssl x509 -outform DER`)")]
    NotDer { path: PathBuf, what: &'static str },
    #[error("at least one --trust-anchor is required")]
    NoTrustAnchor,
}

/// `extension/page/cpx-connect.js` in the repository this crate was built from.
pub fn default_page_library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("extension")
        .join("page")
        .join("cpx-connect.js")
}

/// Checks that `origin` is `https://host[:port]` and returns it without a trailing slash,
/// the form browsers report and the host signs.
pub fn parse_origin(origin: &str) -> Result<String, ConfigError> {
    let invalid = |why| ConfigError::InvalidOrigin {
        origin: origin.to_owned(),
        why,
    };
    let trimmed = origin.strip_suffix('/').unwrap_or(origin);
    let authority = trimmed
        .strip_prefix("https://")
        .ok_or_else(|| invalid("the scheme must be https"))?;
    if authority.is_empty() {
        return Err(invalid("the host is missing"));
    }
    if authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(invalid("only a host and a port are allowed"));
    }
    if let Some((host, port)) = authority.rsplit_once(':') {
        // An IPv6 literal ends with `]`; anything else after the last `:` is a port.
        if !port.ends_with(']') {
            if host.is_empty() {
                return Err(invalid("the host is missing"));
            }
            if port.parse::<u16>().is_err() {
                return Err(invalid("the port is not a number from 0 to 65535"));
            }
        }
    }
    if trimmed.len() > 255 {
        return Err(invalid("longer than 255 characters"));
    }
    let normalised = trimmed.to_ascii_lowercase();
    // The verifier's own rule: an origin it refuses would fail every login after a good start.
    if cpx_verify::check_origin(&normalised).is_err() {
        return Err(invalid(
            "not an origin a browser reports (ASCII host, xn-- form for IDN, no :443)",
        ));
    }
    Ok(normalised)
}

/// Reads DER files, checking that each starts like a DER SEQUENCE so a PEM file or a
/// wrong path gives a clear message at start-up rather than a failed login later.
pub fn read_der_files(paths: &[PathBuf], what: &'static str) -> Result<Vec<Vec<u8>>, ConfigError> {
    paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|source| ConfigError::UnreadableFile {
                path: path.clone(),
                source,
            })?;
            if !looks_like_der_sequence(&bytes) {
                return Err(ConfigError::NotDer {
                    path: path.clone(),
                    what,
                });
            }
            Ok(bytes)
        })
        .collect()
}

/// A DER SEQUENCE whose encoded length matches the data exactly.
fn looks_like_der_sequence(bytes: &[u8]) -> bool {
    let [0x30, first_length_byte, rest @ ..] = bytes else {
        return false;
    };
    let (content_length, header_rest) = match *first_length_byte {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let count = usize::from(long & 0x7f);
            if rest.len() < count {
                return false;
            }
            let length = rest[..count]
                .iter()
                .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
            (length, &rest[count..])
        }
        _ => return false,
    };
    header_rest.len() == content_length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_normalised_and_checked() {
        assert_eq!(
            parse_origin("https://localhost:8443/").ok().as_deref(),
            Some("https://localhost:8443")
        );
        assert_eq!(
            parse_origin("https://Example.ORG").ok().as_deref(),
            Some("https://example.org")
        );
        for bad in [
            "http://localhost:8443",
            "https://",
            "https://localhost:8443/login",
            "https://localhost:99999",
            "https://localhost?x=1",
            "localhost:8443",
            // Accepted by the old check, refused by the verifier at every login.
            "https://localhost:443",
            "https://exämple.org",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn der_check_accepts_sequences_and_refuses_pem() {
        assert!(looks_like_der_sequence(&[0x30, 0x03, 1, 2, 3]));
        assert!(looks_like_der_sequence(
            &[[0x30, 0x81, 0x80].as_slice(), &[0u8; 0x80]].concat()
        ));
        assert!(!looks_like_der_sequence(&[0x30, 0x03, 1, 2]));
        assert!(!looks_like_der_sequence(b"-----BEGIN CERTIFICATE-----"));
        assert!(!looks_like_der_sequence(&[]));
    }
}
