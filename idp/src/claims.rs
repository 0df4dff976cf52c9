//! What the provider says about the holder: only what the certificate proves, under Pro Santé
//! Connect's claim names where it has one (see README.md's claim table).

use cpx_verify::Identity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{Client, SubjectKind};
use crate::jose::b64;

/// The holder as a login proved them, kept in the session and in each grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub anchor_id: String,
    pub id_nat: String,
    pub given_name: String,
    pub family_name: String,
    pub profession: Option<String>,
    /// When the card and PIN were used, seconds since 1970.
    pub auth_time: u64,
}

impl Holder {
    pub fn from_identity(identity: Identity, auth_time: u64) -> Self {
        Self {
            anchor_id: identity.anchor_id,
            id_nat: identity.id_nat,
            given_name: identity.given_name,
            family_name: identity.surname,
            profession: identity.profession,
            auth_time,
        }
    }
}

/// Length-prefixed, so that no two different inputs hash alike.
fn digest_of(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// `sub`: stable for a holder across card renewals (the idNat survives them), and tied to the
/// anchor so that another PKI's certificate with the same idNat is another subject. Public: the
/// same for every site. Pairwise: mixed with the client's sector and the provider's secret, so
/// two sites cannot match their users by `sub` (nor compute each other's).
pub fn subject(holder: &Holder, client: &Client, secret: Option<&str>) -> String {
    match client.subject {
        SubjectKind::Public => b64(&digest_of(&[
            "cpx-idp/sub/public/v1",
            &holder.anchor_id,
            &holder.id_nat,
        ])),
        SubjectKind::Pairwise => b64(&digest_of(&[
            "cpx-idp/sub/pairwise/v1",
            secret.unwrap_or_default(),
            &client.sector,
            &holder.anchor_id,
            &holder.id_nat,
        ])),
    }
}

/// Whether `scopes` ask for the identity claims (`profile`, or Pro Santé Connect's `scope_all`).
pub fn wants_identity(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|scope| scope == "profile" || scope == "scope_all")
}

/// The identity claims: the names from the certificate's subject, the idNat, the profession
/// where the certificate carries it. Nothing from a directory.
pub fn identity_claims(holder: &Holder) -> Map<String, Value> {
    let mut claims = Map::new();
    if !holder.given_name.is_empty() {
        claims.insert("given_name".into(), json!(holder.given_name));
    }
    if !holder.family_name.is_empty() {
        claims.insert("family_name".into(), json!(holder.family_name));
    }
    claims.insert("preferred_username".into(), json!(holder.id_nat));
    claims.insert("SubjectNameID".into(), json!(holder.id_nat));
    if let Some(profession) = &holder.profession {
        claims.insert("profession".into(), json!(profession));
    }
    claims
}
