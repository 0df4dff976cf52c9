//! HTTPS on a self-signed certificate made at start-up.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "address {addr} is already in use (another cpx-demo running? choose another with --addr)"
    )]
    AddressInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot make the self-signed TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// A certificate and its key, both DER.
pub struct TlsIdentity {
    pub certificate_der: Vec<u8>,
    pub private_key_pkcs8_der: Vec<u8>,
}

impl TlsIdentity {
    /// SHA-256 of the certificate, as browsers show it, to compare with the warning page.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(&self.certificate_der)
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A fresh self-signed certificate for `localhost`, the loopback addresses and the host of
/// `origin`. Browsers warn about it once; the demo makes a new one at every start.
pub fn self_signed_identity(origin: &str) -> Result<TlsIdentity, ServeError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let origin_host = origin_host(origin);
    if !origin_host.is_empty() && !names.iter().any(|name| name == origin_host) {
        names.push(origin_host.to_owned());
    }
    let certified = rcgen::generate_simple_self_signed(names)?;
    Ok(TlsIdentity {
        certificate_der: certified.cert.der().to_vec(),
        private_key_pkcs8_der: certified.signing_key.serialize_der(),
    })
}

/// `localhost` from `https://localhost:8443`, `::1` from `https://[::1]:8443`.
fn origin_host(origin: &str) -> &str {
    let authority = origin.strip_prefix("https://").unwrap_or(origin);
    if let Some(bracketed) = authority.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// Binds the address now, so a port in use is reported before anything else starts.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    let listener = TcpListener::bind(addr).map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => ServeError::AddressInUse { addr },
        _ => ServeError::Bind { addr, source },
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok(listener)
}

fn rustls_config(identity: &TlsIdentity) -> Result<RustlsConfig, ServeError> {
    // The provider is named here rather than taken from a process default, so the server
    // does not depend on which rustls features other crates in the build switch on.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(identity.certificate_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                identity.private_key_pkcs8_der.clone(),
            )),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// Serves `router` over HTTPS on `listener` until `handle` asks it to stop.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    identity: &TlsIdentity,
    handle: Handle<SocketAddr>,
) -> Result<(), ServeError> {
    let tls = rustls_config(identity)?;
    axum_server::from_tcp_rustls(listener, tls)?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_origin() {
        assert_eq!(origin_host("https://localhost:8443"), "localhost");
        assert_eq!(origin_host("https://demo.example.org"), "demo.example.org");
        assert_eq!(origin_host("https://[::1]:8443"), "::1");
    }

    #[test]
    fn self_signed_certificate_is_usable_by_rustls() -> Result<(), ServeError> {
        let identity = self_signed_identity("https://demo.example.org:8443")?;
        assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
        rustls_config(&identity)?;
        Ok(())
    }
}
