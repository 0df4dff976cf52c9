//! Shared test helpers: fixture loading and token signing with independent implementations
//! (the rsa, p256 and p384 crates, not ring which the verifier uses).
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cpx_verify::{Identity, TrustConfig, Validator, VerifyError};
use der::Decode;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

pub const ORIGIN: &str = "https://demo.cpxconnect.test";
/// A 44-character nonce, as `NonceStore::issue` makes.
pub const NONCE: &str = "q1O8b0lGyZxVq9JvV8u5D3xPj4nq0c6c2cYbX1mZr0E=";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "fixture {} (run tests/fixtures/generate.sh): {error}",
            path.display()
        )
    })
}

/// A time at which the fixtures are all current: one day after the test CA issued its CRL
/// (so the result does not depend on when generate.sh ran, nor on the wall clock).
pub fn now() -> SystemTime {
    crl_this_update("ca.crl.der") + Duration::from_secs(24 * 3600)
}

pub fn crl_this_update(name: &str) -> SystemTime {
    let crl = x509_cert::crl::CertificateList::from_der(&fixture(name)).expect("fixture CRL");
    crl.tbs_cert_list.this_update.to_system_time()
}

pub fn crl_next_update(name: &str) -> SystemTime {
    let crl = x509_cert::crl::CertificateList::from_der(&fixture(name)).expect("fixture CRL");
    crl.tbs_cert_list
        .next_update
        .expect("fixture CRL has nextUpdate")
        .to_system_time()
}

/// Production-like: the test root as anchor, the issuing CA as intermediate, the CRLs of both
/// (test anchors allowed: these are test CAs).
pub fn trust() -> TrustConfig {
    TrustConfig::new(vec![fixture("root-ca.der")])
        .and_then(|trust| trust.with_intermediates(vec![fixture("ca.der")]))
        .and_then(|trust| trust.with_crls(vec![fixture("ca.crl.der"), fixture("root-ca.crl.der")]))
        .expect("fixture trust config")
        .allow_test_anchors()
}

pub fn validator() -> Validator {
    Validator::new(trust(), ORIGIN).expect("fixture validator")
}

/// A trust configuration from fixture files: anchors, intermediates and CRLs, the test CAs
/// allowed.
pub fn test_trust(anchors: &[&str], intermediates: &[&str], crls: &[&str]) -> TrustConfig {
    let read = |names: &[&str]| names.iter().map(|name| fixture(name)).collect::<Vec<_>>();
    TrustConfig::new(read(anchors))
        .and_then(|trust| trust.with_intermediates(read(intermediates)))
        .and_then(|trust| trust.with_crls(read(crls)))
        .expect("config")
        .allow_test_anchors()
}

pub fn validator_for(trust: TrustConfig) -> Validator {
    Validator::new(trust, ORIGIN).expect("fixture validator")
}

/// Validates a token with the production-like validator, for NONCE at now().
pub fn validate(token: &[u8]) -> Result<Identity, VerifyError> {
    validator().validate(token, NONCE, now())
}

/// Validates the RS256 token of the fixture certificate `leaf` with `validator`, for NONCE at
/// now(): the one call most tests vary only by certificate and trust configuration.
pub fn validate_leaf(validator: &Validator, leaf: &str) -> Result<Identity, VerifyError> {
    validator.validate(&token(leaf, "RS256"), NONCE, now())
}

/// Why the production-like validator refuses `token` (None when it accepts it).
pub fn refusal(token: &Value) -> Option<VerifyError> {
    validate(&to_bytes(token)).err()
}

/// The message of Web eID: hash(origin) || hash(nonce), with the algorithm's hash.
pub fn signed_message(algorithm: &str, origin: &str, nonce: &str) -> Vec<u8> {
    match &algorithm[2..] {
        "256" => [Sha256::digest(origin), Sha256::digest(nonce)].concat(),
        "384" => [Sha384::digest(origin), Sha384::digest(nonce)].concat(),
        "512" => [Sha512::digest(origin), Sha512::digest(nonce)].concat(),
        other => panic!("no hash for {other}"),
    }
}

/// Signs with the fixture key of `leaf` (e.g. "leaf-valid") using `algorithm` (RS*, PS*, ES256
/// with a P-256 key, ES384 with a P-384 key).
pub fn sign(leaf: &str, algorithm: &str, origin: &str, nonce: &str) -> Vec<u8> {
    let key_der = fixture(&format!("{leaf}.key.der"));
    let message = signed_message(algorithm, origin, nonce);
    match algorithm {
        "RS256" => rsa_pkcs1::<Sha256>(&key_der, &message),
        "RS384" => rsa_pkcs1::<Sha384>(&key_der, &message),
        "RS512" => rsa_pkcs1::<Sha512>(&key_der, &message),
        "PS256" => rsa_pss::<Sha256>(&key_der, &message),
        "PS384" => rsa_pss::<Sha384>(&key_der, &message),
        "PS512" => rsa_pss::<Sha512>(&key_der, &message),
        "ES256" => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(&key_der).expect("P-256 key");
            let signature: p256::ecdsa::Signature = key.sign(&message);
            signature.to_bytes().to_vec() // raw R || S, as Web eID
        }
        "ES384" => {
            let key = p384::ecdsa::SigningKey::from_pkcs8_der(&key_der).expect("P-384 key");
            let signature: p384::ecdsa::Signature = key.sign(&message);
            signature.to_bytes().to_vec()
        }
        other => panic!("test helper cannot sign {other}"),
    }
}

fn rsa_pkcs1<D>(key_der: &[u8], message: &[u8]) -> Vec<u8>
where
    D: Digest + rsa::pkcs8::AssociatedOid,
{
    let key = rsa::RsaPrivateKey::from_pkcs8_der(key_der).expect("RSA key");
    rsa::pkcs1v15::SigningKey::<D>::new(key)
        .sign(message)
        .to_vec()
}

fn rsa_pss<D>(key_der: &[u8], message: &[u8]) -> Vec<u8>
where
    D: Digest + rsa::signature::digest::FixedOutputReset,
{
    let key = rsa::RsaPrivateKey::from_pkcs8_der(key_der).expect("RSA key");
    rsa::pss::SigningKey::<D>::new(key)
        .sign_with_rng(&mut rsa::rand_core::OsRng, message)
        .to_vec()
}

/// The token the host would send, as a JSON value (tests may then alter it).
pub fn token_value(leaf: &str, algorithm: &str, origin: &str, nonce: &str) -> Value {
    json!({
        "format": "web-eid:1.0",
        "unverifiedCertificate": STANDARD.encode(fixture(&format!("{leaf}.der"))),
        "algorithm": algorithm,
        "signature": STANDARD.encode(sign(leaf, algorithm, origin, nonce)),
        "appVersion": "https://cpxconnect.test/cpx-connect/releases/0.1.0",
    })
}

pub fn token(leaf: &str, algorithm: &str) -> Vec<u8> {
    to_bytes(&token_value(leaf, algorithm, ORIGIN, NONCE))
}

pub fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON")
}
