//! HTTP load on the demo's card login: `workers` browsers each log in again and again with the
//! fixture card "marie" (the token is signed here with its test key, so no card is involved),
//! through `GET /api/nonce` then `POST /api/login/card`. Prints logins per second and the
//! latency of the login request (p50, p99). Used by scripts/bench-rp.sh.
//!
//! cargo run --release -p cpx-demo --example load -- https://localhost:PORT WORKERS SECONDS

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::Client;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn fixture(name: &str) -> Result<Vec<u8>, Error> {
    Ok(std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )?)
}

struct Card {
    key: RsaPrivateKey,
    certificate: String,
}

impl Card {
    fn token(&self, origin: &str, nonce: &str) -> Result<String, Error> {
        let message = [Sha256::digest(origin), Sha256::digest(nonce)].concat();
        let signature = self
            .key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&message))?;
        Ok(json!({
            "format": "web-eid:1.0",
            "unverifiedCertificate": self.certificate,
            "algorithm": "RS256",
            "signature": STANDARD.encode(signature),
            "appVersion": "https://cpxconnect.org/cpx-connect/releases/0.1.0",
        })
        .to_string())
    }
}

fn browser(port: u16) -> Result<Client, Error> {
    Ok(Client::builder()
        .cookie_store(true)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .build()?)
}

/// GET /api/nonce then POST the token: the status of the login, and how long the POST took.
async fn login(client: &Client, origin: &str, card: &Card) -> Result<(String, Duration), Error> {
    let nonce: Value = client
        .get(format!("{origin}/api/nonce"))
        .header("x-requested-with", "cpx-connect")
        .send()
        .await?
        .json()
        .await?;
    let nonce = nonce["nonce"].as_str().ok_or("no nonce")?.to_owned();
    let token = card.token(origin, &nonce)?;
    let started = Instant::now();
    let body: Value = client
        .post(format!("{origin}/api/login/card"))
        .header(ORIGIN, origin)
        .header(CONTENT_TYPE, "application/json")
        .body(token)
        .send()
        .await?
        .json()
        .await?;
    Ok((
        body["status"].as_str().unwrap_or("error").to_owned(),
        started.elapsed(),
    ))
}

/// Links the card to marie.dupont (the site runs with --seed-demo-user) if it is not yet.
async fn link_once(origin: &str, port: u16, card: &Card) -> Result<(), Error> {
    let client = browser(port)?;
    client.get(format!("{origin}/")).send().await?;
    let (status, _) = login(&client, origin, card).await?;
    if status != "link_required" {
        return Ok(());
    }
    let html = client
        .get(format!("{origin}/lier"))
        .send()
        .await?
        .text()
        .await?;
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).ok_or("no csrf")? + marker.len();
    let csrf = &html[start..start + html[start..].find('"').ok_or("csrf")?];
    client
        .post(format!("{origin}/lier"))
        .form(&[
            ("csrf", csrf),
            ("username", "marie.dupont"),
            ("password", "demo1234"),
        ])
        .send()
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let origin = args
        .get(1)
        .ok_or("usage: load ORIGIN WORKERS SECONDS")?
        .clone();
    let workers: usize = args.get(2).map_or(Ok(8), |text| text.parse())?;
    let seconds: u64 = args.get(3).map_or(Ok(20), |text| text.parse())?;
    let port: u16 = origin.rsplit(':').next().ok_or("no port")?.parse()?;
    let card = Arc::new(Card {
        key: RsaPrivateKey::from_pkcs8_der(&fixture("marie.key.der")?)?,
        certificate: STANDARD.encode(fixture("marie.der")?),
    });
    link_once(&origin, port, &card).await?;

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let origin = origin.clone();
        let card = Arc::clone(&card);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let client = browser(port)?;
            client.get(format!("{origin}/")).send().await?;
            while Instant::now() < deadline {
                match login(&client, &origin, &card).await {
                    Ok((status, latency)) if status == "logged_in" => latencies.push(latency),
                    _ => failures += 1,
                }
            }
            Ok::<_, Error>((latencies, failures))
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (mut worker, failed) = task.await??;
        latencies.append(&mut worker);
        failures += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "logins {} in {elapsed:.1} s: {:.0} logins/s, login request p50 {:.1} ms, p99 {:.1} ms, failures {failures}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
    );
    Ok(())
}
