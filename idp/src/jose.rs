//! The JOSE the provider needs, and no more: compact JWS signed RS256 or ES256 (ID tokens),
//! checked against a JWK (client assertions, `id_token_hint`), and JWKs of public keys.
//! Written on the RustCrypto `rsa` and `p256` crates the workspace already builds rather than a
//! general JOSE crate: two algorithms, no `none`, no key from the token's own header.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::BigUint;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::Algorithm;

/// The provider's private signing key.
pub enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec(p256::ecdsa::SigningKey),
}

/// A public key that can check a JWS.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(Box<rsa::RsaPublicKey>),
    Ec(p256::ecdsa::VerifyingKey),
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl PrivateKey {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PrivateKey::Rsa(_) => Algorithm::RS256,
            PrivateKey::Ec(_) => Algorithm::ES256,
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(key) => PublicKey::Rsa(Box::new(key.to_public_key())),
            PrivateKey::Ec(key) => PublicKey::Ec(*key.verifying_key()),
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            PrivateKey::Rsa(key) => {
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new((**key).clone());
                let signature: rsa::pkcs1v15::Signature = signer.sign(input);
                rsa::signature::SignatureEncoding::to_vec(&signature)
            }
            PrivateKey::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input);
                // JWS ES256: R || S, 64 bytes (RFC 7518 §3.4), not DER.
                signature.to_bytes().to_vec()
            }
        }
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
    }
}

/// A compact JWS of `claims`, with `kid` and `typ: JWT` in its header.
pub fn sign_jwt(key: &PrivateKey, kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": algorithm_name(key.algorithm()), "kid": kid, "typ": "JWT" });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// The public JWK of a key, with its `kid`.
pub fn public_jwk(key: &PublicKey, kid: &str) -> Value {
    match key {
        PublicKey::Rsa(key) => json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
        }),
        PublicKey::Ec(key) => {
            let point = key.to_encoded_point(false);
            json!({
                "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
                "x": point.x().map(|x| b64(x)).unwrap_or_default(),
                "y": point.y().map(|y| b64(y)).unwrap_or_default(),
            })
        }
    }
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The usable signing keys of a JWK Set, with their `kid` (if any).
pub fn public_keys(jwks: &Value) -> Vec<(Option<String>, PublicKey)> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|jwk| {
            jwk.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|jwk| {
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            let field = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(decode_b64);
            let key = match jwk.get("kty").and_then(Value::as_str)? {
                "RSA" => {
                    let n = BigUint::from_bytes_be(&field("n")?);
                    let e = BigUint::from_bytes_be(&field("e")?);
                    PublicKey::Rsa(Box::new(rsa::RsaPublicKey::new(n, e).ok()?))
                }
                "EC" if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
                    let (x, y) = (field("x")?, field("y")?);
                    if x.len() != 32 || y.len() != 32 {
                        return None;
                    }
                    // SEC1 uncompressed point: 0x04 || x || y.
                    let point = [&[0x04][..], &x, &y].concat();
                    PublicKey::Ec(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()?)
                }
                _ => return None,
            };
            Some((kid, key))
        })
        .collect()
}

/// A compact JWS split and decoded, not yet checked.
pub struct UncheckedJws {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl UncheckedJws {
    pub fn parse(token: &str) -> Option<Self> {
        // Bounded: a JWS here is an assertion or an ID token, a few KB at most.
        if token.len() > 16 * 1024 {
            return None;
        }
        let mut parts = token.split('.');
        let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header_json: Value = serde_json::from_slice(&decode_b64(header)?).ok()?;
        let claims_json: Value = serde_json::from_slice(&decode_b64(claims)?).ok()?;
        if !claims_json.is_object() {
            return None;
        }
        Some(Self {
            header: header_json,
            claims: claims_json,
            signing_input: format!("{header}.{claims}"),
            signature: decode_b64(signature)?,
        })
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Whether the signature is right for `key`, under the algorithm the key's type fixes
    /// (the header's `alg` must agree: never `none`, never HMAC with a public key).
    pub fn verify(&self, key: &PublicKey) -> bool {
        let alg = self.header.get("alg").and_then(Value::as_str);
        let input = self.signing_input.as_bytes();
        match key {
            PublicKey::Rsa(key) if alg == Some("RS256") => {
                let Ok(signature) = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice())
                else {
                    return false;
                };
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new((**key).clone())
                    .verify(input, &signature)
                    .is_ok()
            }
            PublicKey::Ec(key) if alg == Some("ES256") => {
                let Ok(signature) = p256::ecdsa::Signature::from_slice(&self.signature) else {
                    return false;
                };
                key.verify(input, &signature).is_ok()
            }
            _ => false,
        }
    }

    /// Checked against the keys of a set: the one its `kid` names, else any.
    pub fn verify_with_any(&self, keys: &[(Option<String>, PublicKey)]) -> bool {
        keys.iter()
            .filter(|(kid, _)| match (self.kid(), kid) {
                (Some(wanted), Some(kid)) => wanted == kid,
                _ => true,
            })
            .any(|(_, key)| self.verify(key))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ec_key() -> PrivateKey {
        PrivateKey::Ec(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// The same JWS with another header (the signature kept).
    fn with_header(token: &str, header: &Value) -> String {
        let mut parts = token.splitn(2, '.');
        let _ = parts.next();
        format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            parts.next().unwrap_or_default()
        )
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_only() {
        let (key, other) = (ec_key(), ec_key());
        let token = sign_jwt(&key, "k1", &json!({ "sub": "x" }));
        let jws = UncheckedJws::parse(&token);
        assert!(jws.as_ref().is_some_and(|jws| jws.verify(&key.public())));
        assert!(jws.as_ref().is_some_and(|jws| !jws.verify(&other.public())));
    }

    #[test]
    fn the_header_cannot_choose_none_or_another_algorithm() {
        let key = ec_key();
        let token = sign_jwt(&key, "k1", &json!({ "sub": "x" }));
        for alg in ["none", "HS256", "RS256", "ES384"] {
            let forged = with_header(&token, &json!({ "alg": alg, "kid": "k1" }));
            let jws = UncheckedJws::parse(&forged);
            assert!(jws.is_some_and(|jws| !jws.verify(&key.public())), "{alg}");
        }
        // No signature at all.
        let unsigned = format!(
            "{}.",
            token
                .rsplit_once('.')
                .map(|(input, _)| input)
                .unwrap_or_default()
        );
        assert!(UncheckedJws::parse(&unsigned).is_none_or(|jws| !jws.verify(&key.public())));
    }

    #[test]
    fn a_jwk_round_trips_to_a_key_that_verifies() {
        let key = ec_key();
        let jwks = json!({ "keys": [public_jwk(&key.public(), "k1")] });
        let keys = public_keys(&jwks);
        assert_eq!(keys.len(), 1);
        let token = sign_jwt(&key, "k1", &json!({ "sub": "x" }));
        assert!(UncheckedJws::parse(&token).is_some_and(|jws| jws.verify_with_any(&keys)));
        // An encryption key, or an unknown curve, is not a signing key.
        let ignored = json!({ "keys": [
            { "kty": "EC", "crv": "P-384", "x": "AA", "y": "AA" },
            { "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "oct", "k": "secret" },
        ]});
        assert!(public_keys(&ignored).is_empty());
    }
}
