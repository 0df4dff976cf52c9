//! Token validation against the fixture PKI (tests/fixtures, made by generate.sh).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use cpx_verify::{
    ConfigError, Identity, NonceError, NonceStore, TrustConfig, Validator, VerifyError,
    MAX_TOKEN_BYTES,
};
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The token of leaf-valid for ORIGIN and NONCE with one field replaced: most tests of the token's
/// shape differ from an accepted token by that one field.
fn valid_token_with(field: &str, value: Value) -> Value {
    let mut token = token_value("leaf-valid", "RS256", ORIGIN, NONCE);
    token[field] = value;
    token
}

/// The token of `leaf`'s certificate for ORIGIN and NONCE, carrying `signature` instead of the one
/// its fixture key makes.
fn token_signed_as(leaf: &str, algorithm: &str, signature: &[u8]) -> Vec<u8> {
    let mut token = token_value(leaf, algorithm, ORIGIN, NONCE);
    token["signature"] = json!(STANDARD.encode(signature));
    to_bytes(&token)
}

/// The token of leaf-valid made for `origin` and `nonce`, whatever the validator expects.
fn valid_token_for(origin: &str, nonce: &str) -> Vec<u8> {
    to_bytes(&token_value("leaf-valid", "RS256", origin, nonce))
}

/// The token of leaf-valid padded, in a field the validator ignores, to exactly `size` bytes.
fn valid_token_of_size(size: usize) -> Vec<u8> {
    let mut token = valid_token_with("padding", json!(""));
    let missing = size - to_bytes(&token).len();
    token["padding"] = json!("x".repeat(missing));
    let bytes = to_bytes(&token);
    assert_eq!(bytes.len(), size);
    bytes
}

/// Why the production-like validator refuses the RS256 token of the fixture certificate `leaf`.
fn refusal_of_leaf(leaf: &str) -> Option<VerifyError> {
    validate_leaf(&validator(), leaf).err()
}

/// The fields every token must carry, each a non-empty string.
const TOKEN_FIELDS: [&str; 5] = [
    "format",
    "unverifiedCertificate",
    "algorithm",
    "signature",
    "appVersion",
];

fn code_of(result: Result<Identity, VerifyError>) -> &'static str {
    match result {
        Ok(identity) => panic!("token accepted for {}", identity.id_nat),
        Err(error) => error.code(),
    }
}

/// The holder as the site shows them: idNat, surname, given name and profession.
fn holder(identity: &Identity) -> (&str, &str, &str, Option<&str>) {
    (
        &identity.id_nat,
        &identity.surname,
        &identity.given_name,
        identity.profession.as_deref(),
    )
}

// --- acceptance -----------------------------------------------------------------------------

#[test]
fn accepts_a_valid_rs256_token_and_returns_the_holder() {
    let identity = validate(&token("leaf-valid", "RS256")).expect("valid token");
    assert_eq!(
        holder(&identity),
        ("810001234567", "DUPONT", "MARIE", Some("Médecin"))
    );
    assert_eq!(
        identity.issuer,
        "CN=TEST AC IGC-SANTE FORT PERSONNES,OU=IGC-SANTE TEST,OU=0002 187512751,O=ASIP-SANTE,C=FR"
    );
    assert_eq!(identity.serial_hex, "1001");
    // generate.sh: -enddate 20481231000000Z
    assert_eq!(
        identity.not_after.duration_since(UNIX_EPOCH).ok(),
        Some(Duration::from_secs(2_492_985_600))
    );
    assert_eq!(identity.certificate_der, fixture("leaf-valid.der"));
}

#[test]
fn accepts_at_the_current_time() {
    // The fixtures are meant for the demo too: they must be valid today, not only at now().
    let result = validator().validate(&token("leaf-valid", "RS256"), NONCE, SystemTime::now());
    assert_eq!(
        result.map(|identity| identity.id_nat).ok().as_deref(),
        Some("810001234567")
    );
}

#[test]
fn accepts_the_signature_as_the_card_makes_it() {
    // The host sends the card DigestInfo(SHA-256(SHA-256(origin) || SHA-256(nonce))) and the card
    // pads it (PKCS#1 v1.5 type 1): sign that prehashed digest directly.
    let key = rsa::RsaPrivateKey::from_pkcs8_der(&fixture("leaf-valid.key.der")).expect("key");
    let digest = Sha256::digest(signed_message("RS256", ORIGIN, NONCE));
    let signature = key
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
        .expect("sign");
    assert!(validate(&token_signed_as("leaf-valid", "RS256", &signature)).is_ok());
}

#[test]
fn accepts_every_supported_algorithm_with_a_matching_key() {
    for (leaf, algorithm) in [
        ("leaf-valid", "RS384"),
        ("leaf-valid", "RS512"),
        ("leaf-valid", "PS256"),
        ("leaf-valid", "PS384"),
        ("leaf-valid", "PS512"),
        ("leaf-ec-p256", "ES256"),
        ("leaf-ec-p384", "ES384"),
    ] {
        let result = validate(&token(leaf, algorithm));
        assert!(result.is_ok(), "{leaf} {algorithm}: {result:?}");
    }
}

#[test]
fn accepts_the_test_card_subject_layout_with_profession_in_ou() {
    let identity = validate(&token("leaf-test-card", "RS256")).expect("valid token");
    assert_eq!(
        holder(&identity),
        (
            "00B7010446",
            "MASSEUR1044",
            "HONORE",
            Some("Masseur-Kinésithérapeute")
        )
    );
    assert_eq!(identity.serial_hex, "100A");
}

#[test]
fn accepts_a_certificate_without_extended_key_usage() {
    assert!(validate(&token("leaf-no-eku", "RS256")).is_ok());
}

#[test]
fn accepts_unknown_extra_fields() {
    let mut token = token_value("leaf-valid", "RS256", ORIGIN, NONCE);
    token["unverifiedSigningCertificates"] = json!([{"certificate": "AAAA"}]);
    token["somethingNew"] = json!({"nested": true});
    assert!(validate(&to_bytes(&token)).is_ok());
}

#[test]
fn accepts_minor_format_versions_and_unpadded_base64() {
    let mut token = token_value("leaf-valid", "RS256", ORIGIN, NONCE);
    token["format"] = json!("web-eid:1.1");
    let signature = token["signature"]
        .as_str()
        .expect("string")
        .trim_end_matches('=')
        .to_owned();
    token["signature"] = json!(signature);
    assert!(validate(&to_bytes(&token)).is_ok());
    token["format"] = json!("web-eid:1");
    assert!(validate(&to_bytes(&token)).is_ok());
}

#[test]
fn accepts_the_issuing_ca_itself_as_trust_anchor() {
    let trust = test_trust(&["ca.der"], &[], &["ca.crl.der"]);
    let result = validate_leaf(&validator_for(trust), "leaf-valid");
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn accepts_a_token_exactly_at_the_size_limit() {
    assert!(validate(&valid_token_of_size(MAX_TOKEN_BYTES)).is_ok());
}

// --- origin, nonce, signature, algorithm -----------------------------------------------------

#[test]
fn rejects_a_token_made_for_another_origin() {
    let token = valid_token_for("https://evil.example", NONCE);
    assert_eq!(code_of(validate(&token)), "ERR_SIGNATURE_INVALID");
}

#[test]
fn rejects_a_token_made_for_the_origin_with_a_trailing_slash() {
    let token = valid_token_for(&format!("{ORIGIN}/"), NONCE);
    assert_eq!(code_of(validate(&token)), "ERR_SIGNATURE_INVALID");
}

#[test]
fn rejects_a_token_made_for_another_nonce() {
    let other_nonce = NonceStore::default().try_issue("session").expect("a nonce");
    let token = valid_token_for(ORIGIN, &other_nonce);
    assert_eq!(validate(&token).err(), Some(VerifyError::BadSignature));
}

#[test]
fn rejects_a_tampered_signature() {
    let mut signature = sign("leaf-valid", "RS256", ORIGIN, NONCE);
    signature[100] ^= 0x01;
    let token = token_signed_as("leaf-valid", "RS256", &signature);
    assert_eq!(validate(&token).err(), Some(VerifyError::BadSignature));
}

#[test]
fn rejects_a_tampered_ecdsa_signature_and_one_of_the_wrong_length() {
    let mut signature = sign("leaf-ec-p256", "ES256", ORIGIN, NONCE);
    signature[40] ^= 0x01;
    for signature in [&signature[..], &signature[..63]] {
        let token = token_signed_as("leaf-ec-p256", "ES256", signature);
        assert_eq!(validate(&token).err(), Some(VerifyError::BadSignature));
    }
}

#[test]
fn rejects_a_signature_by_another_key_than_the_certificate() {
    // A valid signature by leaf-no-eku's key, presented with leaf-valid's certificate.
    let signature = sign("leaf-no-eku", "RS256", ORIGIN, NONCE);
    let token = token_signed_as("leaf-valid", "RS256", &signature);
    assert_eq!(validate(&token).err(), Some(VerifyError::BadSignature));
}

#[test]
fn rejects_an_algorithm_that_does_not_match_the_key() {
    // EC signatures presented with an RSA certificate, and the reverse, and the wrong curve.
    for (certificate_of, signed_by, algorithm) in [
        ("leaf-valid", "leaf-ec-p256", "ES256"),
        ("leaf-ec-p256", "leaf-valid", "RS256"),
        ("leaf-ec-p256", "leaf-valid", "PS256"),
        ("leaf-ec-p256", "leaf-ec-p384", "ES384"),
        ("leaf-ec-p384", "leaf-ec-p256", "ES256"),
    ] {
        let mut token = token_value(signed_by, algorithm, ORIGIN, NONCE);
        let certificate = fixture(&format!("{certificate_of}.der"));
        token["unverifiedCertificate"] = json!(STANDARD.encode(certificate));
        let result = validate(&to_bytes(&token));
        assert_eq!(
            code_of(result),
            "ERR_ALGORITHM_KEY_MISMATCH",
            "{certificate_of} {algorithm}"
        );
    }
}

#[test]
fn rejects_unknown_algorithms() {
    for algorithm in ["HS256", "none", "ES512", "rs256", "RS1", "EdDSA"] {
        assert_eq!(
            refusal(&valid_token_with("algorithm", json!(algorithm))),
            Some(VerifyError::UnsupportedAlgorithm {
                algorithm: algorithm.to_owned()
            }),
        );
    }
}

// --- nonces through the store ----------------------------------------------------------------

fn token_for_session(store: &NonceStore, session: &str) -> (Vec<u8>, String) {
    let nonce = store.try_issue(session).expect("a nonce");
    (valid_token_for(ORIGIN, &nonce), nonce)
}

#[test]
fn nonce_store_validation_accepts_once_then_refuses_the_replay() {
    let store = NonceStore::default();
    let (token, _) = token_for_session(&store, "session-a");
    let validator = validator();
    let first = validator.validate_with_nonce_store(&token, &store, "session-a", now());
    assert_eq!(
        first.map(|identity| identity.id_nat).ok().as_deref(),
        Some("810001234567")
    );
    let replay = validator.validate_with_nonce_store(&token, &store, "session-a", now());
    assert_eq!(replay.err(), Some(VerifyError::Nonce(NonceError::Unknown)));
}

#[test]
fn replayed_nonce_is_refused_when_consumed_by_hand() {
    let store = NonceStore::default();
    let (token, nonce) = token_for_session(&store, "session-a");
    assert_eq!(store.consume("session-a", &nonce), Ok(()));
    assert!(validator().validate(&token, &nonce, now()).is_ok());
    assert_eq!(store.consume("session-a", &nonce), Err(NonceError::Unknown));
}

#[test]
fn expired_nonce_is_refused() {
    let store = NonceStore::new(Duration::from_millis(20));
    let (token, _) = token_for_session(&store, "session-a");
    std::thread::sleep(Duration::from_millis(60));
    let result = validator().validate_with_nonce_store(&token, &store, "session-a", now());
    assert_eq!(result.err(), Some(VerifyError::Nonce(NonceError::Expired)));
    assert_eq!(
        VerifyError::Nonce(NonceError::Expired).code(),
        "ERR_NONCE_EXPIRED"
    );
}

#[test]
fn nonce_of_another_session_is_refused() {
    let store = NonceStore::default();
    let (token, victim_nonce) = token_for_session(&store, "victim");
    // The attacker's session has a nonce of its own, but presents the victim's.
    let _attacker_nonce = store.try_issue("attacker").expect("a nonce");
    assert_eq!(
        store.consume("attacker", &victim_nonce),
        Err(NonceError::WrongSession)
    );
    // Through the store-driven path, the attacker's session only ever gets its own nonce,
    // so the victim's token does not verify.
    let result = validator().validate_with_nonce_store(&token, &store, "attacker", now());
    assert_eq!(result.err(), Some(VerifyError::BadSignature));
}

#[test]
fn session_without_a_nonce_is_refused() {
    let store = NonceStore::default();
    let token = token("leaf-valid", "RS256");
    let result = validator().validate_with_nonce_store(&token, &store, "no-such", now());
    assert_eq!(result.err(), Some(VerifyError::Nonce(NonceError::Unknown)));
}

// --- certificate ----------------------------------------------------------------------------

#[test]
fn rejects_an_expired_certificate() {
    assert_eq!(
        code_of(validate(&token("leaf-expired", "RS256"))),
        "ERR_CERTIFICATE_EXPIRED"
    );
}

#[test]
fn rejects_a_valid_certificate_after_its_not_after() {
    let token = token("leaf-valid", "RS256");
    let after = UNIX_EPOCH + Duration::from_secs(2_492_985_600 + 1);
    let result = validator().validate(&token, NONCE, after);
    assert_eq!(result.err(), Some(VerifyError::CertificateExpired));
}

/// Each fixture certificate with one fault is refused with the error that names that fault.
#[test]
fn rejects_each_faulty_certificate_with_the_error_of_its_fault() {
    for (leaf, error) in [
        // a certificate not yet valid
        ("leaf-not-yet-valid", VerifyError::CertificateNotYetValid),
        // a certificate from an untrusted CA
        ("leaf-other-ca", VerifyError::UntrustedIssuer),
        // a revoked certificate
        ("leaf-revoked", VerifyError::Revoked),
        // a certificate without digitalSignature in its key usage
        ("leaf-no-digital-signature", VerifyError::WrongKeyUsage),
        // a certificate whose extended key usage lacks clientAuth
        ("leaf-email-eku", VerifyError::WrongExtendedKeyUsage),
    ] {
        assert_eq!(refusal_of_leaf(leaf), Some(error), "{leaf}");
    }
}

#[test]
fn rejects_a_chain_missing_its_intermediate() {
    let trust = test_trust(&["root-ca.der"], &[], &["root-ca.crl.der"]);
    let result = validate_leaf(&validator_for(trust), "leaf-valid");
    assert_eq!(result.err(), Some(VerifyError::UntrustedIssuer));
}

#[test]
fn an_intermediate_alone_is_not_trusted() {
    let trust = test_trust(
        &["other-ca.der"],
        &["ca.der"],
        &["other-ca.crl.der", "ca.crl.der"],
    );
    let result = validate_leaf(&validator_for(trust), "leaf-valid");
    assert_eq!(result.err(), Some(VerifyError::UntrustedIssuer));
}

#[test]
fn revoked_certificate_passes_with_an_explicit_opt_out_so_the_crl_is_what_refuses_it() {
    let trust = TrustConfig::new(vec![fixture("root-ca.der")])
        .and_then(|trust| trust.with_intermediates(vec![fixture("ca.der")]))
        .and_then(|trust| trust.with_crls(vec![fixture("root-ca.crl.der")]))
        .expect("config")
        .without_crl_for(fixture("ca.der"))
        .allow_test_anchors();
    let result = validate_leaf(&validator_for(trust), "leaf-revoked");
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_crl_of_another_issuer_is_not_applied_to_this_chain() {
    // other-ca.crl.der revokes serial 1001 of OTHER CA, the serial leaf-valid has too.
    let trust = test_trust(
        &["root-ca.der", "other-ca.der"],
        &["ca.der"],
        &["other-ca.crl.der", "ca.crl.der", "root-ca.crl.der"],
    );
    let validator = validator_for(trust);
    let valid = validate_leaf(&validator, "leaf-valid");
    assert!(valid.is_ok(), "{valid:?}");
    // ...while it does apply to the other CA's own certificate with that serial.
    let other = validate_leaf(&validator, "leaf-other-ca");
    assert_eq!(other.err(), Some(VerifyError::Revoked));
}

#[test]
fn rejects_when_the_configured_crl_has_expired() {
    let after_next_update = crl_next_update("ca.crl.der") + Duration::from_secs(1);
    let result = validator().validate(&token("leaf-valid", "RS256"), NONCE, after_next_update);
    assert_eq!(result.err(), Some(VerifyError::CrlExpired));
}

#[test]
fn rejects_a_certificate_without_cn() {
    assert_eq!(
        code_of(validate(&token("leaf-no-cn", "RS256"))),
        "ERR_IDENTITY_INCOMPLETE"
    );
}

#[test]
fn rejects_a_ca_certificate_presented_as_user_certificate() {
    // A CA certificate has keyCertSign and cRLSign, not digitalSignature: refused on its purpose
    // before its key (which did not sign this token anyway) is used.
    let token = valid_token_with(
        "unverifiedCertificate",
        json!(STANDARD.encode(fixture("ca.der"))),
    );
    assert_eq!(refusal(&token), Some(VerifyError::WrongKeyUsage));
}

// --- token shape -----------------------------------------------------------------------------

fn malformed_field(token: &Value) -> Option<&'static str> {
    match validate(&to_bytes(token)) {
        Err(VerifyError::Malformed { field, .. }) => Some(field),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn rejects_a_token_that_is_not_a_json_object() {
    for bytes in [
        &b"not json"[..],
        b"",
        b"[1,2]",
        b"\"web-eid:1.0\"",
        b"null",
        b"{\"format\":",
    ] {
        assert_eq!(code_of(validate(bytes)), "ERR_TOKEN_MALFORMED", "{bytes:?}");
    }
}

#[test]
fn rejects_each_missing_field() {
    for field in TOKEN_FIELDS {
        let mut token = token_value("leaf-valid", "RS256", ORIGIN, NONCE);
        token.as_object_mut().expect("object").remove(field);
        assert_eq!(malformed_field(&token), Some(field));
    }
}

#[test]
fn rejects_each_wrongly_typed_field() {
    for field in TOKEN_FIELDS {
        for wrong in [
            json!(null),
            json!(1),
            json!(true),
            json!(["x"]),
            json!({"x": 1}),
            json!(""),
        ] {
            let token = valid_token_with(field, wrong.clone());
            assert_eq!(malformed_field(&token), Some(field), "{field} = {wrong}");
        }
    }
}

#[test]
fn rejects_bad_base64() {
    for field in ["unverifiedCertificate", "signature"] {
        for bad in ["not base64!", "AAA=A", "YWI_", "YW I="] {
            let token = valid_token_with(field, json!(bad));
            assert_eq!(malformed_field(&token), Some(field), "{field} = {bad}");
        }
    }
}

#[test]
fn rejects_a_certificate_that_is_not_x509() {
    let mut token = token_value("leaf-valid", "RS256", ORIGIN, NONCE);
    token["unverifiedCertificate"] = json!(STANDARD.encode(b"definitely not DER"));
    assert_eq!(malformed_field(&token), Some("unverifiedCertificate"));
    // Truncated DER.
    let certificate = fixture("leaf-valid.der");
    token["unverifiedCertificate"] = json!(STANDARD.encode(&certificate[..certificate.len() - 10]));
    assert_eq!(malformed_field(&token), Some("unverifiedCertificate"));
}

#[test]
fn rejects_unsupported_formats() {
    for format in [
        "web-eid:2",
        "web-eid:2.0",
        "web-eid:10",
        "web-eid:1.",
        "web-eid",
        "jwt",
    ] {
        assert_eq!(
            refusal(&valid_token_with("format", json!(format))),
            Some(VerifyError::UnsupportedFormat {
                format: format.to_owned()
            })
        );
    }
}

#[test]
fn rejects_an_oversized_token() {
    assert_eq!(
        validate(&valid_token_of_size(MAX_TOKEN_BYTES + 1)).err(),
        Some(VerifyError::TooLarge {
            max: MAX_TOKEN_BYTES
        })
    );
    assert_eq!(
        code_of(validate(&vec![b' '; 1 << 20])),
        "ERR_TOKEN_TOO_LARGE"
    );
}

// --- the caller's own mistakes ----------------------------------------------------------------

#[test]
fn a_site_origin_no_browser_reports_stops_the_start() {
    for (origin, why) in [
        ("https://demo.cpxconnect.test/", "trailing slash"),
        ("http://demo.cpxconnect.test", "http:"),
        ("https://DEMO.cpxconnect.test", "upper case"),
        ("https://demo.cpxconnect.test:443", ":443"),
        ("https://demo.cpxconnect.test/login", "a path"),
        ("demo.cpxconnect.test", "https://"),
    ] {
        match Validator::new(trust(), origin) {
            Err(error @ ConfigError::InvalidSiteOrigin { .. }) => {
                assert_eq!(error.code(), "ERR_CONFIG_ORIGIN_INVALID");
                assert!(error.to_string().contains(why), "{origin}: {error}");
            }
            other => panic!("{origin}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn refuses_an_expected_nonce_the_host_would_refuse() {
    let token = token("leaf-valid", "RS256");
    for nonce in ["", "short", &"A".repeat(129), &format!("{}!", &NONCE[..44])] {
        let result = validator().validate(&token, nonce, now());
        assert_eq!(
            result.err(),
            Some(VerifyError::InvalidExpectedNonce),
            "{nonce}"
        );
    }
}

// --- configuration ----------------------------------------------------------------------------

#[test]
fn configuration_errors_name_the_bad_input() {
    assert_eq!(
        TrustConfig::new(vec![]).err(),
        Some(ConfigError::NoTrustAnchors)
    );
    assert!(matches!(
        TrustConfig::new(vec![fixture("root-ca.der"), b"junk".to_vec()]),
        Err(ConfigError::InvalidTrustAnchor { index: 1, .. })
    ));
    let trust = || TrustConfig::new(vec![fixture("root-ca.der")]).expect("anchor");
    assert!(matches!(
        trust().with_intermediates(vec![b"junk".to_vec()]),
        Err(ConfigError::InvalidIntermediate { index: 0, .. })
    ));
    assert!(matches!(
        trust().with_crls(vec![fixture("ca.crl.der"), fixture("ca.der")]),
        Err(ConfigError::InvalidCrl { index: 1, .. })
    ));
}

// --- API properties ---------------------------------------------------------------------------

#[test]
fn validator_and_nonce_store_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Validator>();
    assert_send_sync::<NonceStore>();
}

#[test]
fn identity_serializes_for_a_session_store() {
    let identity = validate(&token("leaf-valid", "RS256")).expect("valid token");
    let json = serde_json::to_value(&identity).expect("serialize");
    assert_eq!(json["id_nat"], "810001234567");
    assert_eq!(json["profession"], "Médecin");
    let back: Identity = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, identity);
}
