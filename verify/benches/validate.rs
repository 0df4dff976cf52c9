//! What validating a token costs, next to its floor: the RSA-2048 verifications it cannot avoid
//! (the token's signature and the card certificate's), measured in the same run; and whether
//! the CRL's size changes it (1,000 vs 100,000 revoked serials).
//!
//! `cargo bench -p cpx-verify --bench validate` (or `bash scripts/bench-rp.sh`). The PKI is made
//! by `benches/make-pki.sh` in `target/bench-pki` on the first run.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Instant, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cpx_verify::{TrustConfig, Validator};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use der::{Decode, Encode};
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "https://viatrajectoire.example.fr";
const NONCE: &str = "q1O8b0lGyZxVq9JvV8u5D3xPj4nq0c6c2cYbX1mZr0E=";

fn pki() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target"))
        .join("bench-pki");
    let status = Command::new("bash")
        .arg(manifest.join("benches/make-pki.sh"))
        .arg(&dir)
        .status()
        .expect("bash");
    assert!(status.success(), "make-pki.sh failed");
    dir
}

fn read(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn validator(dir: &std::path::Path, crl: &str) -> Validator {
    let trust = TrustConfig::new(vec![read(dir, "root.der")])
        .and_then(|trust| trust.with_intermediates(vec![read(dir, "ca.der")]))
        .and_then(|trust| trust.with_crls(vec![read(dir, "root-arl.der"), read(dir, crl)]))
        .and_then(|trust| trust.with_certificate_policies(&["1.3.6.1.4.1.32473.1.1"]))
        .expect("bench trust");
    Validator::new(trust, ORIGIN).expect("bench validator")
}

fn bench(criterion: &mut Criterion) {
    let dir = pki();
    let key = RsaPrivateKey::from_pkcs8_der(&read(&dir, "card.key.der")).expect("card key");
    let card = read(&dir, "card.der");
    let message = [Sha256::digest(ORIGIN), Sha256::digest(NONCE)].concat();
    let signature = key
        .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&message))
        .expect("sign");
    let token = serde_json::to_vec(&serde_json::json!({
        "format": "web-eid:1.0",
        "unverifiedCertificate": STANDARD.encode(&card),
        "algorithm": "RS256",
        "signature": STANDARD.encode(&signature),
        "appVersion": "https://cpxconnect.org/cpx-connect/releases/0.1.0",
    }))
    .expect("token");

    // The floor: the token's signature with the card's key, the card certificate's signature
    // with the intermediate's key. Validation cannot do with fewer public-key operations.
    let card_cert = x509_cert::Certificate::from_der(&card).expect("card");
    let card_key = card_cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec();
    let card_tbs = card_cert.tbs_certificate.to_der().expect("tbs");
    let card_signature = card_cert.signature.raw_bytes().to_vec();
    let ca_cert = x509_cert::Certificate::from_der(&read(&dir, "ca.der")).expect("ca");
    let ca_key = ca_cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec();
    let floor = || {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &card_key)
            .verify(black_box(&message), black_box(&signature))
            .expect("token signature");
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &ca_key)
            .verify(black_box(&card_tbs), black_box(&card_signature))
            .expect("certificate signature");
    };

    let now = SystemTime::now();
    let small = validator(&dir, "crl-1000.der");
    let started = Instant::now();
    let large = validator(&dir, "crl-100000.der");
    eprintln!(
        "start-up with the 100,000-entry CRL (parsed, signature verified once): {:?}",
        started.elapsed()
    );
    for validator in [&small, &large] {
        let identity = validator
            .validate(&token, NONCE, now)
            .expect("the bench token is valid");
        assert_eq!(identity.id_nat, "810001234567");
    }

    let mut group = criterion.benchmark_group("login");
    group.bench_function("floor: 2 RSA-2048 verifications", |b| b.iter(floor));
    group.bench_function("validate, CRL of 1,000", |b| {
        b.iter(|| small.validate(black_box(&token), NONCE, now))
    });
    group.bench_function("validate, CRL of 100,000", |b| {
        b.iter(|| large.validate(black_box(&token), NONCE, now))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
