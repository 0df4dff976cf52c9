//! Issue 18 RP item 7: a client cannot hold the server with slow requests or many connections:
//! headers and body have read timeouts, and connections are capped.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::site::Site;
use common::{TestError, TestResult};
use reqwest::StatusCode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The test site's certificate is self-signed and new: accept any (this client only talks to it).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn address(site: &Site) -> Result<SocketAddr, TestError> {
    let port: u16 = site.origin.rsplit(':').next().unwrap_or_default().parse()?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// An HTTP/1.1-over-TLS connection to the site.
async fn tls_connect(site: &Site) -> Result<TlsStream<TcpStream>, TestError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(address(site)?).await?;
    Ok(TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?)
}

/// Reads until the server closes (or errs); what it answered, and when it closed.
async fn read_until_closed(
    stream: &mut TlsStream<TcpStream>,
    within: Duration,
) -> Result<(String, Instant), TestError> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, stream.read(&mut buffer)).await {
            Err(_) => return Err("the server did not close the connection in time".into()),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Ok((
                    String::from_utf8_lossy(&answer).into_owned(),
                    Instant::now(),
                ))
            }
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
        }
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off() -> TestResult {
    let site =
        Site::start_with(|config| config.header_read_timeout = Duration::from_secs(1)).await?;
    let mut stream = tls_connect(&site).await?;
    let started = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await?;
    stream.flush().await?;
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(8)).await?;
    let waited = closed - started;
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    Ok(())
}

#[tokio::test]
async fn a_slow_body_gets_408() -> TestResult {
    let site = Site::start_with(|config| config.body_read_timeout = Duration::from_secs(1)).await?;
    let mut stream = tls_connect(&site).await?;
    stream
        .write_all(
            b"POST /connexion HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=",
        )
        .await?;
    stream.flush().await?;
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buffer))
        .await
        .map_err(|_| "no answer to a stalled body")??;
    let answer = String::from_utf8_lossy(&buffer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    Ok(())
}

#[tokio::test]
async fn connections_past_the_cap_are_closed() -> TestResult {
    let site = Site::start_with(|config| config.max_connections = 2).await?;
    let mut first = tls_connect(&site).await?;
    let _second = tls_connect(&site).await?;
    // A third one: the server closes it at once (the handshake fails).
    let third = tokio::time::timeout(Duration::from_secs(5), tls_connect(&site)).await;
    assert!(
        matches!(third, Ok(Err(_))),
        "a connection past the cap was served"
    );
    // The held connections still work, and a closed one frees its place.
    first
        .write_all(
            b"GET /static/style.css HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await?;
    let (answer, _) = read_until_closed(&mut first, Duration::from_secs(5)).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = site
            .browser()?
            .get(site.url("/static/style.css"))
            .send()
            .await;
        if matches!(&response, Ok(response) if response.status() == StatusCode::OK) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
