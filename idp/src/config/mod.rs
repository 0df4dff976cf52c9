//! The provider's configuration file (`idp.toml`), read and checked as a whole at start: a
//! mistake stops the start with one line that names the entry, never a login later.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

mod file;
use file::{FileClient, FileConfig, FileKey, FileStore, FileTrust};

/// Scopes a client may be given. `scope_all` is Pro Santé Connect's name for the identity
/// claims: a site written for it keeps its request unchanged.
pub const SUPPORTED_SCOPES: [&str; 3] = ["openid", "profile", "scope_all"];

/// Why the configuration was refused: one line, naming the entry.
#[derive(Debug, thiserror::Error)]
#[error("{entry}: {why}")]
pub struct ConfigError {
    pub entry: String,
    pub why: String,
}

fn refuse(entry: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError {
        entry: entry.into(),
        why: why.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Algorithm {
    RS256,
    ES256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    #[default]
    Public,
    Pairwise,
}

/// How a client proves who it is at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic` or `client_secret_post`: the SHA-256 of the secret.
    Secret { sha256: [u8; 32] },
    /// `private_key_jwt`: the client's public keys (a JWK Set, as read from its file).
    PrivateKeyJwt { jwks: serde_json::Value },
    /// `private_key_jwt`, the keys published by the client at this URL (`client_keys.rs`).
    PrivateKeyJwtAt { jwks_uri: Url },
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub auth: ClientAuth,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub subject: SubjectKind,
    /// For pairwise subjects: the sector (the redirect URIs' host unless configured).
    pub sector: String,
}

#[derive(Debug, Clone)]
pub struct SigningKeyFile {
    pub kid: String,
    pub file: PathBuf,
    pub algorithm: Algorithm,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct TrustFiles {
    pub anchors_der: Vec<Vec<u8>>,
    pub intermediates_der: Vec<Vec<u8>>,
    pub crls_der: Vec<Vec<u8>>,
    /// Where `crls_der` came from: read again while serving, every `crl_reload`.
    pub crl_paths: Vec<PathBuf>,
    pub crl_reload: Duration,
    pub no_crl_for_der: Vec<Vec<u8>>,
    pub policies: Vec<String>,
    pub allow_test_anchors: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests per client address (authorize, login steps): a burst, then one per period.
    pub address_burst: u32,
    pub address_period: Duration,
    /// Token requests per `client_id`.
    pub client_burst: u32,
    pub client_period: Duration,
    /// Connections open at once, time for the TLS handshake then a request's headers
    /// (`cpx_web::server`), time for a request's body once its headers are in (`408`).
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    /// The shortest time between two fetches of a client's `jwks_uri` (`client_keys.rs`).
    pub jwks_refetch: Duration,
}

/// Where the provider keeps its transactions, codes, tokens, sessions and challenges when
/// several instances serve one issuer: a Redis (`[store] url`, `redis://` or `rediss://`,
/// a password in the URL is sent with AUTH; `ca_file`: the CA a `rediss://` server chains to).
/// In the configuration file rather than on the command line: the URL may carry a password,
/// which a command line shows to every local user.
#[derive(Clone)]
pub struct StoreSettings {
    pub url: String,
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for StoreSettings {
    // Never the URL: it may hold the password.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("StoreSettings { .. }")
    }
}

fn check_store(
    store: &FileStore,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<StoreSettings, ConfigError> {
    let scheme_ok =
        Url::parse(&store.url).is_ok_and(|url| url.scheme() == "redis" || url.scheme() == "rediss");
    if !scheme_ok {
        return Err(refuse("store.url", "must be a redis:// or rediss:// URL"));
    }
    let ca_pem =
        match &store.ca_file {
            None => None,
            Some(file) => {
                let path = resolve(file);
                Some(std::fs::read(&path).map_err(|error| {
                    refuse("store.ca_file", format!("{}: {error}", path.display()))
                })?)
            }
        };
    Ok(StoreSettings {
        url: store.url.clone(),
        ca_pem,
    })
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `https://host[:port]`: the issuer, and the origin the card signs for.
    pub issuer: String,
    pub listen: SocketAddr,
    /// Certificate and key (PEM); `None`: plain HTTP for a TLS-terminating proxy in front.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub page_library: PathBuf,
    pub hsts_max_age: u64,
    pub acr: String,
    pub subject_secret: Option<String>,
    pub session_lifetime: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed (empty: the peer is the client).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub signing_keys: Vec<SigningKeyFile>,
    pub trust: TrustFiles,
    pub limits: Limits,
    pub clients: Vec<Client>,
    /// `None`: in memory.
    pub store: Option<StoreSettings>,
}

impl ProviderConfig {
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    /// Reads and checks `path`; relative file names in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| refuse(path.display().to_string(), error.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Checks the text of a configuration file; files it names are read relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|error| {
            // toml's message spans several lines (the excerpt): keep its first.
            let message = error
                .message()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            let at = error
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!("line {line}")
                })
                .unwrap_or_else(|| "file".to_owned());
            refuse(at, message)
        })?;
        check_issuer(&file.issuer)?;
        let resolve = |path: &Path| base.join(path);
        let keys = check_keys(&file.signing_keys, &resolve)?;
        let trust = read_trust(&file.trust, &resolve)?;
        let mut clients = Vec::new();
        let mut seen = HashSet::new();
        for (index, client) in file.clients.iter().enumerate() {
            let entry = format!("clients[{index}] ({})", client.client_id);
            if !seen.insert(client.client_id.clone()) {
                return Err(refuse(entry, "client_id used twice"));
            }
            clients.push(check_client(client, &entry, &resolve)?);
        }
        if clients
            .iter()
            .any(|client| client.subject == SubjectKind::Pairwise)
            && file.subject_secret.as_deref().is_none_or(|s| s.len() < 32)
        {
            return Err(refuse(
                "subject_secret",
                "pairwise subjects need a secret of at least 32 characters",
            ));
        }
        if file.acr.is_empty() {
            return Err(refuse("acr", "must not be empty"));
        }
        let store = match &file.store {
            Some(store) => Some(check_store(store, &resolve)?),
            None => None,
        };
        let tls = file
            .tls
            .map(|tls| (resolve(&tls.certificate), resolve(&tls.key)));
        Ok(ProviderConfig {
            issuer: file.issuer,
            listen: file.listen,
            tls,
            page_library: resolve(&file.page_library),
            hsts_max_age: file.hsts_max_age,
            acr: file.acr,
            subject_secret: file.subject_secret,
            session_lifetime: Duration::from_secs(file.session_minutes.max(1) * 60),
            trusted_proxies: file.trusted_proxies,
            signing_keys: keys,
            trust,
            limits: Limits {
                address_burst: file.limits.address_burst,
                address_period: Duration::from_millis(file.limits.address_period_ms),
                client_burst: file.limits.client_burst,
                client_period: Duration::from_millis(file.limits.client_period_ms),
                max_connections: file.limits.max_connections,
                header_read_timeout: Duration::from_millis(file.limits.header_read_timeout_ms),
                body_read_timeout: Duration::from_millis(file.limits.body_read_timeout_ms),
                jwks_refetch: Duration::from_millis(file.limits.jwks_refetch_ms),
            },
            clients,
            store,
        })
    }
}

/// The issuer is also the origin the card signs for: `https://host[:port]`, as a browser
/// reports it (cpx-verify checks the same when the validator is built).
fn check_issuer(issuer: &str) -> Result<(), ConfigError> {
    let url = Url::parse(issuer).map_err(|error| refuse("issuer", error.to_string()))?;
    if url.scheme() != "https" || url.origin().ascii_serialization() != issuer {
        return Err(refuse(
            "issuer",
            format!("{issuer:?} must be an https origin without path or trailing slash, e.g. https://idp.example.org"),
        ));
    }
    Ok(())
}

fn check_keys(
    keys: &[FileKey],
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<Vec<SigningKeyFile>, ConfigError> {
    if keys.iter().filter(|key| key.active).count() != 1 {
        return Err(refuse(
            "signing_keys",
            "exactly one key must be `active = true` (the others are kept for rotation)",
        ));
    }
    let mut kids = HashSet::new();
    let mut checked = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let entry = format!("signing_keys[{index}] ({})", key.kid);
        if key.kid.is_empty() || !kids.insert(key.kid.clone()) {
            return Err(refuse(entry, "kid empty or used twice"));
        }
        checked.push(SigningKeyFile {
            kid: key.kid.clone(),
            file: resolve(&key.file),
            algorithm: key.algorithm,
            active: key.active,
        });
    }
    Ok(checked)
}

fn read_trust(
    trust: &FileTrust,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<TrustFiles, ConfigError> {
    let read_all = |paths: &[PathBuf], what: &str| -> Result<Vec<Vec<u8>>, ConfigError> {
        paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                let entry = format!("trust.{what}[{index}]");
                let bytes = std::fs::read(resolve(path))
                    .map_err(|error| refuse(&entry, format!("{}: {error}", path.display())))?;
                // DER starts with a SEQUENCE; PEM would fail later with a vaguer message.
                if bytes.first() != Some(&0x30) {
                    return Err(refuse(
                        entry,
                        format!(
                            "{} is not DER (convert PEM with openssl -outform DER)",
                            path.display()
                        ),
                    ));
                }
                Ok(bytes)
            })
            .collect()
    };
    if trust.anchors.is_empty() {
        return Err(refuse(
            "trust.anchors",
            "at least one trust anchor is needed",
        ));
    }
    Ok(TrustFiles {
        anchors_der: read_all(&trust.anchors, "anchors")?,
        intermediates_der: read_all(&trust.intermediates, "intermediates")?,
        crls_der: read_all(&trust.crls, "crls")?,
        crl_paths: trust.crls.iter().map(|path| resolve(path)).collect(),
        crl_reload: Duration::from_secs(trust.crl_reload_minutes.max(1).saturating_mul(60)),
        no_crl_for_der: read_all(&trust.no_crl_for, "no_crl_for")?,
        policies: trust.policies.clone(),
        allow_test_anchors: trust.allow_test_anchors,
    })
}

/// A URL of the client (redirect, post-logout, key set): https, or http on a loopback address
/// (native and local development clients, RFC 8252); no fragment. Redirect URIs are compared
/// later character for character.
fn check_client_url(uri: &str) -> Result<Url, String> {
    let url = Url::parse(uri).map_err(|error| format!("{uri:?}: {error}"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri:?} has a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(format!(
            "{uri:?} must be https, or http on a loopback address"
        )),
    }
}

fn check_client(
    client: &FileClient,
    entry: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<Client, ConfigError> {
    if client.client_id.is_empty()
        || !client
            .client_id
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b':')
    {
        return Err(refuse(
            entry,
            "client_id must be printable ASCII without ':' or spaces",
        ));
    }
    let auth = match (&client.secret_sha256, &client.jwks_file, &client.jwks_uri) {
        (Some(hex), None, None) => ClientAuth::Secret {
            sha256: parse_sha256_hex(hex)
                .ok_or_else(|| refuse(entry, "secret_sha256 must be 64 hex digits"))?,
        },
        // The same rule as a redirect URI: the keys must come from the site itself, over TLS.
        (None, None, Some(uri)) => ClientAuth::PrivateKeyJwtAt {
            jwks_uri: check_client_url(uri)
                .map_err(|why| refuse(entry, format!("jwks_uri: {why}")))?,
        },
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(resolve(path))
                .map_err(|error| refuse(entry, format!("jwks_file {}: {error}", path.display())))?;
            let jwks: serde_json::Value = serde_json::from_str(&text)
                .map_err(|error| refuse(entry, format!("jwks_file: {error}")))?;
            if crate::jose::public_keys(&jwks).is_empty() {
                return Err(refuse(entry, "jwks_file holds no RSA or P-256 signing key"));
            }
            ClientAuth::PrivateKeyJwt { jwks }
        }
        _ => {
            return Err(refuse(
                entry,
                "give exactly one of secret_sha256 (client_secret_basic/post), jwks_file or jwks_uri (private_key_jwt)",
            ))
        }
    };
    if client.redirect_uris.is_empty() {
        return Err(refuse(entry, "at least one redirect_uris entry is needed"));
    }
    let mut hosts = HashSet::new();
    for uri in &client.redirect_uris {
        let url =
            check_client_url(uri).map_err(|why| refuse(entry, format!("redirect_uris: {why}")))?;
        hosts.insert(url.host_str().unwrap_or_default().to_owned());
    }
    for uri in &client.post_logout_redirect_uris {
        check_client_url(uri)
            .map_err(|why| refuse(entry, format!("post_logout_redirect_uris: {why}")))?;
    }
    if !client.scopes.iter().any(|scope| scope == "openid") {
        return Err(refuse(entry, "scopes must include openid"));
    }
    if let Some(unknown) = client
        .scopes
        .iter()
        .find(|scope| !SUPPORTED_SCOPES.contains(&scope.as_str()))
    {
        return Err(refuse(entry, format!("unknown scope {unknown:?}")));
    }
    let sector = match (&client.sector, client.subject) {
        (Some(sector), _) => sector.clone(),
        (None, SubjectKind::Pairwise) if hosts.len() > 1 => {
            return Err(refuse(
                entry,
                "pairwise subjects with redirect URIs on several hosts need a `sector`",
            ))
        }
        (None, _) => hosts.into_iter().next().unwrap_or_default(),
    };
    Ok(Client {
        client_id: client.client_id.clone(),
        name: client
            .name
            .clone()
            .unwrap_or_else(|| client.client_id.clone()),
        auth,
        redirect_uris: client.redirect_uris.clone(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        scopes: client.scopes.clone(),
        subject: client.subject,
        sector,
    })
}

pub fn parse_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}
