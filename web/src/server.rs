//! HTTPS with limits on what one client can hold (connections at once, time for the TLS
//! handshake and the request headers), on a certificate from files or a self-signed one made at
//! start-up (the demo's).

use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use hyper_util::rt::TokioTimer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("address {addr} is already in use (another instance running? choose another address)")]
    AddressInUse { addr: SocketAddr },
    #[error("TLS certificate or key {path}: {why}")]
    TlsFiles { path: String, why: String },
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

/// A certificate and its key, both DER, and the intermediates sent after it.
pub struct TlsIdentity {
    pub certificate_der: Vec<u8>,
    pub private_key_pkcs8_der: Vec<u8>,
    pub intermediates_der: Vec<Vec<u8>>,
}

impl TlsIdentity {
    /// From PEM files: the certificate then its intermediates, and a PKCS#8 key
    /// (`openssl pkcs8 -topk8 -nocrypt` converts another).
    pub fn from_pem_files(
        certificates: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, ServeError> {
        let refused = |path: &std::path::Path, why: String| ServeError::TlsFiles {
            path: path.display().to_string(),
            why,
        };
        let mut chain: Vec<Vec<u8>> = CertificateDer::pem_file_iter(certificates)
            .map_err(|error| refused(certificates, error.to_string()))?
            .map(|certificate| certificate.map(|der| der.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|error| refused(certificates, error.to_string()))?;
        if chain.is_empty() {
            return Err(refused(certificates, "no certificate".to_owned()));
        }
        let certificate_der = chain.remove(0);
        let private_key = PrivatePkcs8KeyDer::from_pem_file(key)
            .map_err(|error| refused(key, format!("not a PKCS#8 private key: {error}")))?;
        let identity = Self {
            certificate_der,
            private_key_pkcs8_der: private_key.secret_pkcs8_der().to_vec(),
            intermediates_der: chain,
        };
        // Checked now: a key that does not match the certificate stops the start.
        rustls_config(&identity)?;
        Ok(identity)
    }

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
        intermediates_der: Vec::new(),
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
            std::iter::once(&identity.certificate_der)
                .chain(&identity.intermediates_der)
                .map(|der| CertificateDer::from(der.clone()))
                .collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                identity.private_key_pkcs8_der.clone(),
            )),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// What one client can hold of the server: connections and the time to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections open at once; past that a new connection is closed at once.
    pub max_connections: usize,
    /// Time for the TLS handshake, and then for a request's headers (HTTP/1.1).
    pub header_read_timeout: Duration,
}

impl Default for ServeLimits {
    /// 1,000 connections (under the usual 1,024 open files), 10 seconds.
    fn default() -> Self {
        Self {
            max_connections: 1000,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` over HTTPS on `listener` until `handle` asks it to stop, with the default
/// [`ServeLimits`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    identity: &TlsIdentity,
    handle: Handle<SocketAddr>,
) -> Result<(), ServeError> {
    serve_with(listener, router, identity, handle, ServeLimits::default()).await
}

/// The same with these limits. (The body's read timeout is the router's: the demo's
/// `read_body_in_time`.)
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    identity: &TlsIdentity,
    handle: Handle<SocketAddr>,
    limits: ServeLimits,
) -> Result<(), ServeError> {
    let tls = rustls_config(identity)?;
    let acceptor = RustlsAcceptor::new(tls)
        .handshake_timeout(limits.header_read_timeout)
        .acceptor(CappedAcceptor {
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        });
    let mut server = axum_server::from_tcp(listener)?.acceptor(acceptor);
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    server
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await?;
    Ok(())
}

/// Admits a connection only while fewer than the cap are open: the permit lives in the
/// connection's stream and is given back when the connection closes. Past the cap the
/// connection is closed at once (the client sees it closed, and may retry).
#[derive(Clone)]
struct CappedAcceptor {
    permits: Arc<Semaphore>,
}

impl<S: Send + 'static> Accept<TcpStream, S> for CappedAcceptor {
    type Stream = Capped<TcpStream>;
    type Service = S;
    type Future = std::future::Ready<std::io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        std::future::ready(match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Ok((
                Capped {
                    inner: stream,
                    _permit: permit,
                },
                service,
            )),
            Err(_) => Err(std::io::Error::other("connection cap reached")),
        })
    }
}

/// A stream holding one of the connection permits.
struct Capped<T> {
    inner: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(context, buffer)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(context, buffer)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
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
    fn a_certificate_and_key_from_pem_files_are_checked_together(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let certified = rcgen::generate_simple_self_signed(vec!["idp.example".to_owned()])?;
        let other = rcgen::KeyPair::generate()?;
        let (certificate, key, wrong_key) = (
            dir.path().join("cert.pem"),
            dir.path().join("key.pem"),
            dir.path().join("other.pem"),
        );
        std::fs::write(&certificate, certified.cert.pem())?;
        std::fs::write(&key, certified.signing_key.serialize_pem())?;
        std::fs::write(&wrong_key, other.serialize_pem())?;
        let identity = TlsIdentity::from_pem_files(&certificate, &key)?;
        assert_eq!(identity.certificate_der, certified.cert.der().to_vec());
        assert!(identity.intermediates_der.is_empty());
        assert!(matches!(
            TlsIdentity::from_pem_files(&certificate, &wrong_key),
            Err(ServeError::Tls(_))
        ));
        assert!(matches!(
            TlsIdentity::from_pem_files(&key, &key),
            Err(ServeError::TlsFiles { .. })
        ));
        Ok(())
    }

    #[test]
    fn self_signed_certificate_is_usable_by_rustls() -> Result<(), ServeError> {
        let identity = self_signed_identity("https://demo.example.org:8443")?;
        assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
        rustls_config(&identity)?;
        Ok(())
    }
}
