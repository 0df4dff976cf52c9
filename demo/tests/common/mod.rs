//! Helpers shared by the demo's integration tests (each test file is its own crate and uses
//! only some of them, hence the `dead_code` allowance).
#![allow(dead_code)]

pub mod redis;
pub mod site;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cpx_demo::DemoConfig;
use reqwest::header::{CONTENT_TYPE, LOCATION, ORIGIN};
use reqwest::{Client, Response, StatusCode};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub type TestError = Box<dyn std::error::Error>;
pub type TestResult = Result<(), TestError>;

pub const MARIE_USERNAME: &str = "marie.dupont";
pub const MARIE_PASSWORD: &str = "demo1234";
pub const PIERRE_USERNAME: &str = "pierre.martin";
pub const PIERRE_PASSWORD: &str = "soins-2026";
pub const MARIE_ID_NAT: &str = "810001234567";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

pub fn read_fixture(name: &str) -> Result<Vec<u8>, TestError> {
    let path = fixture(name);
    std::fs::read(&path).map_err(|error| {
        format!(
            "fixture {} ({error}): run demo/tests/fixtures/generate.sh",
            path.display()
        )
        .into()
    })
}

/// The site's configuration for `origin` with its accounts in `database`, trusting the test
/// CA (with its CRL and the flag a test anchor needs).
pub fn test_ca_config(origin: &str, database: PathBuf) -> Result<DemoConfig, TestError> {
    let mut config = DemoConfig::new(origin, database, vec![read_fixture("test-ca.der")?])?;
    config.crls_der = vec![read_fixture("test-ca.crl.der")?];
    config.allow_test_anchors = true;
    Ok(config)
}

pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether the tests run in CI, where a missing tool is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// The Web eID token a card with `holder`'s key would produce for `origin` and `nonce`:
/// RSASSA-PKCS1-v1_5 / SHA-256 over `SHA-256(origin) || SHA-256(nonce)`.
pub fn make_token(holder: &str, origin: &str, nonce: &str) -> Result<Value, TestError> {
    let key = RsaPrivateKey::from_pkcs8_der(&read_fixture(&format!("{holder}.key.der"))?)?;
    let certificate = read_fixture(&format!("{holder}.der"))?;
    let message = [
        Sha256::digest(origin.as_bytes()),
        Sha256::digest(nonce.as_bytes()),
    ]
    .concat();
    let signature = key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&message))?;
    Ok(json!({
        "format": "web-eid:1.0",
        "unverifiedCertificate": STANDARD.encode(certificate),
        "algorithm": "RS256",
        "signature": STANDARD.encode(signature),
        "appVersion": "https://cpxconnect.org/cpx-connect/releases/0.1.0",
    }))
}

/// What the card button's script asks first: the page (the session comes from a page the user
/// loaded), then a challenge. `base`: the site's or the instance's URL, without a path.
pub async fn fetch_nonce(client: &Client, base: &str) -> Result<String, TestError> {
    client.get(format!("{base}/")).send().await?;
    let response = client
        .get(format!("{base}/api/nonce"))
        .header("accept", "application/json")
        .header("x-requested-with", "cpx-connect")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await?;
    Ok(body["nonce"].as_str().ok_or("no nonce")?.to_owned())
}

/// A token posted as the page's script does (a same-origin fetch: `Origin` is the site's). The
/// answer's JSON, or its text under `"text"` when it is not JSON.
pub async fn post_card_token(
    client: &Client,
    base: &str,
    origin: &str,
    token: &Value,
) -> Result<(StatusCode, Value), TestError> {
    let response = client
        .post(format!("{base}/api/login/card"))
        .header(ORIGIN, origin)
        .header(CONTENT_TYPE, "application/json")
        .body(token.to_string())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(json!({ "text": text })),
    ))
}

/// The hidden CSRF field of the first form in `html`.
pub fn csrf_of(html: &str) -> Result<String, TestError> {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).ok_or("no csrf field in the page")? + marker.len();
    let length = html[start..].find('"').ok_or("unterminated csrf field")?;
    Ok(html[start..start + length].to_owned())
}

pub fn location(response: &Response) -> Option<String> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
