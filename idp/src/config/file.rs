//! `idp.toml` as written: what serde reads, with the defaults of every optional entry. Nothing
//! here is checked; `super` turns it into a [`super::ProviderConfig`] or one line of refusal.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Algorithm, SubjectKind};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) issuer: String,
    pub(super) listen: SocketAddr,
    pub(super) tls: Option<FileTls>,
    #[serde(default = "default_page_library")]
    pub(super) page_library: PathBuf,
    #[serde(default = "default_hsts")]
    pub(super) hsts_max_age: u64,
    #[serde(default = "default_acr")]
    pub(super) acr: String,
    /// Secret mixed into pairwise subjects, so one site cannot compute another's.
    pub(super) subject_secret: Option<String>,
    #[serde(default = "default_session_minutes")]
    pub(super) session_minutes: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the per-address limits.
    #[serde(default)]
    pub(super) trusted_proxies: Vec<std::net::IpAddr>,
    pub(super) signing_keys: Vec<FileKey>,
    pub(super) trust: FileTrust,
    #[serde(default)]
    pub(super) limits: FileLimits,
    #[serde(default)]
    pub(super) clients: Vec<FileClient>,
    /// Absent: in memory (one instance). See [`StoreSettings`].
    pub(super) store: Option<FileStore>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileStore {
    pub(super) url: String,
    pub(super) ca_file: Option<PathBuf>,
}

fn default_page_library() -> PathBuf {
    PathBuf::from("extension/page/cpx-connect.js")
}
fn default_hsts() -> u64 {
    31_536_000
}
fn default_acr() -> String {
    "eidas1".to_owned()
}
fn default_session_minutes() -> u64 {
    480
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    pub(super) certificate: PathBuf,
    pub(super) key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileKey {
    pub(super) kid: String,
    pub(super) file: PathBuf,
    pub(super) algorithm: Algorithm,
    #[serde(default)]
    pub(super) active: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTrust {
    pub(super) anchors: Vec<PathBuf>,
    #[serde(default)]
    pub(super) intermediates: Vec<PathBuf>,
    #[serde(default)]
    pub(super) crls: Vec<PathBuf>,
    #[serde(default)]
    pub(super) no_crl_for: Vec<PathBuf>,
    #[serde(default)]
    pub(super) policies: Vec<String>,
    #[serde(default)]
    pub(super) allow_test_anchors: bool,
    /// Minutes between two readings of the `crls` files while serving (also on SIGHUP).
    #[serde(default = "default_crl_reload_minutes")]
    pub(super) crl_reload_minutes: u64,
}

fn default_crl_reload_minutes() -> u64 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    #[serde(default = "default_address_burst")]
    pub(super) address_burst: u32,
    #[serde(default = "default_address_period_ms")]
    pub(super) address_period_ms: u64,
    #[serde(default = "default_client_burst")]
    pub(super) client_burst: u32,
    #[serde(default = "default_client_period_ms")]
    pub(super) client_period_ms: u64,
    #[serde(default = "default_max_connections")]
    pub(super) max_connections: usize,
    #[serde(default = "default_read_timeout_ms")]
    pub(super) header_read_timeout_ms: u64,
    #[serde(default = "default_read_timeout_ms")]
    pub(super) body_read_timeout_ms: u64,
    #[serde(default = "default_jwks_refetch_ms")]
    pub(super) jwks_refetch_ms: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            address_burst: default_address_burst(),
            address_period_ms: default_address_period_ms(),
            client_burst: default_client_burst(),
            client_period_ms: default_client_period_ms(),
            max_connections: default_max_connections(),
            header_read_timeout_ms: default_read_timeout_ms(),
            body_read_timeout_ms: default_read_timeout_ms(),
            jwks_refetch_ms: default_jwks_refetch_ms(),
        }
    }
}
/// A hospital's workstations often reach the provider from one NAT address: room for the
/// morning's logins (three requests each), while one client alone cannot flood the stores.
fn default_address_burst() -> u32 {
    300
}
fn default_address_period_ms() -> u64 {
    50
}
fn default_client_burst() -> u32 {
    200
}
fn default_client_period_ms() -> u64 {
    50
}
fn default_max_connections() -> usize {
    1000
}
fn default_jwks_refetch_ms() -> u64 {
    30_000
}
fn default_read_timeout_ms() -> u64 {
    10_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileClient {
    pub(super) client_id: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    /// SHA-256 (hex) of the client secret: secrets are long random strings the provider's
    /// administrator generates, so a plain digest cannot be reversed, and the token endpoint
    /// stays cheap (a password hash per request would be a denial-of-service lever).
    pub(super) secret_sha256: Option<String>,
    pub(super) jwks_file: Option<PathBuf>,
    pub(super) jwks_uri: Option<String>,
    pub(super) redirect_uris: Vec<String>,
    #[serde(default)]
    pub(super) post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_scopes")]
    pub(super) scopes: Vec<String>,
    #[serde(default)]
    pub(super) subject: SubjectKind,
    pub(super) sector: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".to_owned(), "profile".to_owned()]
}
