//! The provider's signing keys: read from PEM files at start, one active (it signs), the
//! others listed in the JWKS until the tokens they signed have expired (rotation).

use std::path::Path;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{json, Value};

use crate::config::{Algorithm, ConfigError, SigningKeyFile};
use crate::jose::{self, PrivateKey, PublicKey, UncheckedJws};

pub struct SigningKey {
    pub kid: String,
    pub key: PrivateKey,
}

pub struct KeySet {
    active: SigningKey,
    /// Every key's public half (the active one first), as the JWKS lists them.
    public: Vec<(String, PublicKey)>,
}

fn refuse(entry: &SigningKeyFile, why: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        entry: format!("signing_keys ({})", entry.kid),
        why: format!("{}: {why}", entry.file.display()),
    }
}

fn read_key(entry: &SigningKeyFile) -> Result<PrivateKey, ConfigError> {
    let pem = std::fs::read_to_string(&entry.file).map_err(|error| refuse(entry, error))?;
    match entry.algorithm {
        Algorithm::RS256 => {
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(&pem))
                .map_err(|_| refuse(entry, "not an RSA private key (PKCS#8 or PKCS#1 PEM)"))?;
            if rsa::traits::PublicKeyParts::size(&key) < 256 {
                return Err(refuse(entry, "RSA keys must be at least 2048 bits"));
            }
            Ok(PrivateKey::Rsa(Box::new(key)))
        }
        Algorithm::ES256 => p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
            .map(PrivateKey::Ec)
            .map_err(|_| refuse(entry, "not a P-256 private key (PKCS#8 PEM)")),
    }
}

/// Demo mode only: makes the key file if it is missing (PKCS#8 PEM, readable by its owner
/// only where the platform allows saying so). The normal mode never makes a key: a provider
/// that silently changed keys would log every site's users into failures.
pub fn generate_missing(entry: &SigningKeyFile) -> Result<bool, ConfigError> {
    if entry.file.exists() {
        return Ok(false);
    }
    let mut rng = rand::rngs::OsRng;
    let pem = match entry.algorithm {
        Algorithm::RS256 => rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|error| refuse(entry, error))?
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| refuse(entry, error))?,
        Algorithm::ES256 => p256::ecdsa::SigningKey::random(&mut rng)
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| refuse(entry, error))?,
    };
    if let Some(parent) = entry.file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| refuse(entry, error))?;
    }
    write_private(&entry.file, pem.as_bytes()).map_err(|error| refuse(entry, error))?;
    Ok(true)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl KeySet {
    pub fn load(entries: &[SigningKeyFile]) -> Result<Self, ConfigError> {
        let mut active = None;
        let mut public = Vec::new();
        for entry in entries {
            let key = read_key(entry)?;
            if entry.active {
                public.insert(0, (entry.kid.clone(), key.public()));
                active = Some(SigningKey {
                    kid: entry.kid.clone(),
                    key,
                });
            } else {
                public.push((entry.kid.clone(), key.public()));
            }
        }
        let active = active.ok_or_else(|| ConfigError {
            entry: "signing_keys".to_owned(),
            why: "no active key".to_owned(),
        })?;
        Ok(Self { active, public })
    }

    pub fn from_keys(active: SigningKey, old: Vec<SigningKey>) -> Self {
        let mut public = vec![(active.kid.clone(), active.key.public())];
        public.extend(old.iter().map(|key| (key.kid.clone(), key.key.public())));
        Self { active, public }
    }

    pub fn sign(&self, claims: &Value) -> String {
        jose::sign_jwt(&self.active.key, &self.active.kid, claims)
    }

    pub fn active_algorithm(&self) -> Algorithm {
        self.active.key.algorithm()
    }

    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .public
            .iter()
            .map(|(kid, key)| jose::public_jwk(key, kid))
            .collect();
        json!({ "keys": keys })
    }

    /// The claims of a JWS this provider signed (with any key it still lists), else `None`.
    pub fn verify_own(&self, token: &str) -> Option<Value> {
        let jws = UncheckedJws::parse(token)?;
        let keys: Vec<(Option<String>, PublicKey)> = self
            .public
            .iter()
            .map(|(kid, key)| (Some(kid.clone()), key.clone()))
            .collect();
        jws.verify_with_any(&keys).then_some(jws.claims)
    }

    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .public
            .iter()
            .map(|(_, key)| match key {
                PublicKey::Rsa(_) => "RS256",
                PublicKey::Ec(_) => "ES256",
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}
