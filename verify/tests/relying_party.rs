//! The relying party under attack (issue 11): account binding to (anchor, idNat), revocation by
//! default, certificate policies, anchor validity, CRLs matched by key, the nonce store's cap,
//! cheap rejections first.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use cpx_verify::{
    ConfigError, Identity, NonceError, NonceStore, TrustConfig, Validator, VerifyError,
};
use der::{Decode, Encode};
use serde_json::json;
use sha2::{Digest, Sha256};

fn spki_sha256_hex(certificate: &str) -> String {
    let certificate = x509_cert::Certificate::from_der(&fixture(certificate)).expect("fixture");
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("SPKI");
    Sha256::digest(spki)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn validate_with(trust: TrustConfig, leaf: &str) -> Result<Identity, VerifyError> {
    validate_leaf(&validator_for(trust), leaf)
}

/// leaf-short-ca's token (valid to 2048) validated in 2027 and in March 2030, before and after
/// short-ca.der expires (2030-01-01).
fn short_ca_leaf_before_and_after_its_ca_expires(
    trust: TrustConfig,
) -> (Result<Identity, VerifyError>, Result<Identity, VerifyError>) {
    let validator = validator_for(trust);
    let token = token("leaf-short-ca", "RS256");
    let before = UNIX_EPOCH + Duration::from_secs(1_800_000_000); // 2027
    let after = UNIX_EPOCH + Duration::from_secs(1_900_000_000); // 2030-03
    (
        validator.validate(&token, NONCE, before),
        validator.validate(&token, NONCE, after),
    )
}

fn root_and_ca() -> TrustConfig {
    test_trust(&["root-ca.der"], &["ca.der"], &[])
}

/// The root and the issuing CA with exactly these fixture CRLs: what the builder takes, before
/// `Validator::new` checks that they fit together.
fn root_and_ca_with_crls(crls: &[&str]) -> TrustConfig {
    test_trust(&["root-ca.der"], &["ca.der"], crls)
}

/// Refreshes `validator`'s CRLs with `ca_crl` for the issuing CA and the root's own CRL, as a
/// site's periodic reload does.
fn replace_ca_crl(validator: &Validator, ca_crl: &str) -> Result<usize, ConfigError> {
    validator.replace_crls(vec![fixture(ca_crl), fixture("root-ca.crl.der")])
}

/// Why the validator refuses to start with `trust` (None when it starts).
fn start_error(trust: TrustConfig) -> Option<ConfigError> {
    Validator::new(trust, ORIGIN).err()
}

// --- 1. (anchor, idNat) ------------------------------------------------------------------------

#[test]
fn identity_names_the_anchor_its_path_ended_at() {
    let identity = validate(&token("leaf-valid", "RS256")).expect("valid");
    assert_eq!(identity.anchor_id, spki_sha256_hex("root-ca.der"));
    assert_eq!(validator().trust().anchor_ids(), vec![identity.anchor_id]);
}

#[test]
fn the_same_idnat_under_another_anchor_is_another_account_key() {
    // A site trusting IGC-Santé and another PKI: a certificate of the other PKI with the
    // victim's CN must not map to the victim's account.
    let trust = TrustConfig::new(vec![fixture("root-ca.der"), fixture("other-ca.der")])
        .and_then(|trust| trust.with_intermediates(vec![fixture("ca.der")]))
        .and_then(|trust| trust.with_crls(vec![fixture("ca.crl.der"), fixture("root-ca.crl.der")]))
        .expect("config")
        .without_crl_for(fixture("other-ca.der"))
        .allow_test_anchors();
    let validator = validator_for(trust);
    let victim = validate_leaf(&validator, "leaf-valid").expect("valid");
    let other = validate_leaf(&validator, "leaf-other-ca").expect("valid under the other anchor");
    assert_eq!(victim.id_nat, other.id_nat);
    assert_ne!(
        (&victim.anchor_id, &victim.id_nat),
        (&other.anchor_id, &other.id_nat)
    );
    assert_eq!(other.anchor_id, spki_sha256_hex("other-ca.der"));
}

#[test]
fn a_cn_that_is_not_an_idnat_is_refused() {
    let result = validate(&token("leaf-bad-idnat", "RS256"));
    assert!(
        matches!(result, Err(VerifyError::IdNatInvalid { ref id_nat }) if id_nat == "marie"),
        "{result:?}"
    );
    assert_eq!(
        result.err().map(|error| error.code()),
        Some("ERR_IDNAT_INVALID")
    );
}

#[test]
fn test_anchors_are_refused_unless_allowed() {
    let production = TrustConfig::new(vec![fixture("root-ca.der")])
        .and_then(|trust| trust.with_crls(vec![fixture("root-ca.crl.der")]))
        .expect("config");
    assert!(matches!(
        start_error(production),
        Some(ConfigError::TestAnchorNotAllowed { ref subject }) if subject.contains("TEST AC RACINE")
    ));
    // A test intermediate under a production anchor is refused too.
    let with_test_intermediate = TrustConfig::new(vec![fixture("other-ca.der")])
        .and_then(|trust| trust.with_intermediates(vec![fixture("ca.der")]))
        .expect("config")
        .without_crl_for(fixture("other-ca.der"));
    assert!(matches!(
        start_error(with_test_intermediate),
        Some(ConfigError::TestAnchorNotAllowed { .. })
    ));
    // An anchor not named as a test CA is fine without the flag.
    let other = TrustConfig::new(vec![fixture("other-ca.der")])
        .and_then(|trust| trust.with_crls(vec![fixture("other-ca.crl.der")]))
        .expect("config");
    assert!(Validator::new(other, ORIGIN).is_ok());
}

// --- 2. revocation by default, CRLs checked at load, reload -------------------------------------

#[test]
fn a_ca_without_a_crl_stops_the_start() {
    // Before: the validator started, then every login failed with ERR_REVOCATION_UNKNOWN.
    let trust = root_and_ca_with_crls(&["root-ca.crl.der"]);
    match Validator::new(trust, ORIGIN) {
        Err(error @ ConfigError::CaWithoutCrl { .. }) => {
            assert_eq!(error.code(), "ERR_CONFIG_CA_WITHOUT_CRL");
            let message = error.to_string();
            assert!(
                message.contains("TEST AC IGC-SANTE FORT PERSONNES"),
                "{message}"
            );
            assert!(message.contains("with_crls"), "{message}");
            assert!(message.contains("without_crl_for"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn the_root_needs_a_crl_too_or_an_explicit_opt_out() {
    // The intermediate is checked against the root's CRL (its ARL).
    let trust = root_and_ca_with_crls(&["ca.crl.der"]);
    assert!(matches!(
        start_error(trust),
        Some(ConfigError::CaWithoutCrl { ref subject }) if subject.contains("TEST AC RACINE")
    ));
    let trust = root_and_ca_with_crls(&["ca.crl.der"]).without_crl_for(fixture("root-ca.der"));
    assert!(validate_with(trust, "leaf-valid").is_ok());
}

#[test]
fn a_refresh_that_leaves_a_ca_without_its_crl_is_refused() {
    let validator = validator();
    assert!(matches!(
        validator.replace_crls(vec![fixture("root-ca.crl.der")]),
        Err(ConfigError::CaWithoutCrl { .. })
    ));
    let refusal = validate_leaf(&validator, "leaf-revoked").err();
    assert_eq!(refusal, Some(VerifyError::Revoked));
}

#[test]
fn config_errors_have_codes_and_name_the_method_that_fixes_them() {
    let test_anchor = TrustConfig::new(vec![fixture("root-ca.der")])
        .and_then(|trust| trust.with_crls(vec![fixture("root-ca.crl.der")]))
        .and_then(|trust| Validator::new(trust, ORIGIN).map(|_| ()));
    let error = test_anchor.expect_err("a test anchor is refused");
    assert_eq!(error.code(), "ERR_CONFIG_TEST_ANCHOR");
    assert!(error.to_string().contains("allow_test_anchors"), "{error}");
    let error = TrustConfig::new(Vec::new()).expect_err("no anchor");
    assert_eq!(error.code(), "ERR_CONFIG_NO_TRUST_ANCHOR");
    let error = root_and_ca()
        .with_certificate_policies::<&str>(&[])
        .expect_err("empty list");
    assert_eq!(error.code(), "ERR_CONFIG_POLICY_LIST_EMPTY");
    assert!(
        error.to_string().contains("with_certificate_policies"),
        "{error}"
    );
}

// --- CRL rollback (issue 18, RP 3) ----------------------------------------------------------------

#[test]
fn an_older_crl_than_the_one_in_force_is_refused() {
    let validator = validator();
    // ca-previous.crl.der: thisUpdate a day earlier, CRL number 1 (ca.crl.der has 2), and
    // leaf-revoked not yet in it: taking it would bring a revoked card back.
    let result = replace_ca_crl(&validator, "ca-previous.crl.der");
    match result {
        Err(error @ ConfigError::CrlRollback { index: 0, .. }) => {
            assert_eq!(error.code(), "ERR_CONFIG_CRL_ROLLBACK");
            assert!(error.to_string().contains("thisUpdate"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    let refusal = validate_leaf(&validator, "leaf-revoked").err();
    assert_eq!(refusal, Some(VerifyError::Revoked));
}

#[test]
fn a_crl_with_a_lower_number_is_refused_whatever_its_date() {
    let validator = validator();
    // Newer by thisUpdate (an hour after ca.crl.der), but CRL number 1 < 2.
    let result = replace_ca_crl(&validator, "ca-renumbered.crl.der");
    assert!(
        matches!(result, Err(ConfigError::CrlRollback { index: 0, ref why, .. }) if why.contains("CRL number")),
        "{result:?}"
    );
    // The same CRL again, or a newer one, is a normal refresh.
    assert_eq!(replace_ca_crl(&validator, "ca.crl.der"), Ok(2));
}

#[test]
fn the_builder_refuses_two_crls_of_one_ca_that_disagree_on_which_is_newer() {
    // ca.crl.der is newer by CRL number, ca-renumbered.crl.der by thisUpdate.
    let trust = root_and_ca_with_crls(&["ca.crl.der", "ca-renumbered.crl.der", "root-ca.crl.der"]);
    assert!(matches!(
        start_error(trust),
        Some(ConfigError::CrlRollback { .. })
    ));
    // An old and a new CRL that agree: the newest is kept, the old one cannot undo it.
    let trust = root_and_ca_with_crls(&["ca.crl.der", "ca-previous.crl.der", "root-ca.crl.der"]);
    let refusal = validate_with(trust, "leaf-revoked").err();
    assert_eq!(refusal, Some(VerifyError::Revoked));
}

// --- shortcut anchors (issue 18, RP 10) ------------------------------------------------------------

#[test]
fn a_shortcut_intermediate_is_checked_against_its_own_serial_in_its_anchors_crl() {
    // ca.der and rollover-ca.der share one name, both under the root, both taken as shortcut
    // anchors; the root's ARL revokes ca.der (serial 0200) only.
    let trust = test_trust(
        &["root-ca.der"],
        &["rollover-ca.der", "ca.der"],
        &[
            "ca.crl.der",
            "rollover-ca.crl.der",
            "root-ca-revokes-ca.crl.der",
        ],
    );
    let validator = validator_for(trust);
    let check = |leaf: &str| validate_leaf(&validator, leaf);
    assert_eq!(check("leaf-valid").err(), Some(VerifyError::Revoked));
    let identity = check("leaf-rollover-valid").expect("rollover-ca is not revoked");
    assert_eq!(identity.anchor_id, spki_sha256_hex("root-ca.der"));
}

#[test]
fn a_crl_that_matches_no_configured_ca_stops_the_start() {
    let trust = root_and_ca_with_crls(&["ca.crl.der", "root-ca.crl.der", "other-ca.crl.der"]);
    assert!(matches!(
        start_error(trust),
        Some(ConfigError::CrlMatchesNoCa { index: 2, ref issuer }) if issuer.contains("OTHER CA")
    ));
}

#[test]
fn a_crl_with_a_bad_signature_is_refused_at_load_not_at_each_login() {
    let mut tampered = fixture("ca.crl.der");
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01; // inside the signature BIT STRING
    let trust = root_and_ca()
        .with_crls(vec![tampered, fixture("root-ca.crl.der")])
        .expect("parses");
    assert!(matches!(
        start_error(trust),
        Some(ConfigError::CrlMatchesNoCa { index: 0, .. })
    ));
}

#[test]
fn an_opt_out_must_name_a_configured_ca() {
    let trust = root_and_ca_with_crls(&["ca.crl.der", "root-ca.crl.der"])
        .without_crl_for(fixture("other-ca.der"));
    assert!(matches!(
        start_error(trust),
        Some(ConfigError::InvalidNoCrlCa { index: 0, .. })
    ));
}

#[test]
fn crls_are_replaced_while_serving() {
    let trust = root_and_ca_with_crls(&["root-ca.crl.der"]).without_crl_for(fixture("ca.der"));
    let validator = validator_for(trust);
    let check = || validate_leaf(&validator, "leaf-revoked");
    assert!(check().is_ok());
    assert_eq!(replace_ca_crl(&validator, "ca.crl.der"), Ok(2));
    assert_eq!(check().err(), Some(VerifyError::Revoked));
    // A bad replacement is refused and the CRLs in force stay.
    assert!(validator
        .replace_crls(vec![fixture("other-ca.crl.der")])
        .is_err());
    assert_eq!(check().err(), Some(VerifyError::Revoked));
}

// --- 3. certificate policies --------------------------------------------------------------------

#[test]
fn only_the_configured_certificate_policies_are_accepted() {
    let trust = || {
        trust()
            .with_certificate_policies(&["1.3.6.1.4.1.32473.1.1"])
            .expect("OIDs")
    };
    assert!(validate_with(trust(), "leaf-valid").is_ok());
    let refused = validate_with(trust(), "leaf-other-policy");
    assert_eq!(refused, Err(VerifyError::PolicyNotAllowed));
    assert_eq!(
        refused.err().map(|error| error.code()),
        Some("ERR_CERTIFICATE_POLICY")
    );
    // Without a list, any policy is accepted (the README says to configure one).
    assert!(validate_with(common::trust(), "leaf-other-policy").is_ok());
    assert!(matches!(
        common::trust().with_certificate_policies(&["not an oid"]),
        Err(ConfigError::InvalidPolicyOid { .. })
    ));
    // An empty list (say, an empty configuration file) is refused, not taken for "any policy".
    assert!(matches!(
        common::trust().with_certificate_policies::<&str>(&[]),
        Err(ConfigError::NoPolicyOid)
    ));
}

/// An intermediate whose extendedKeyUsage leaves out clientAuth issues no login certificate,
/// whether or not the validator takes the intermediate, verified once, as a shortcut anchor.
#[test]
fn an_intermediate_restricted_to_email_issues_no_login_certificate() {
    let trust = test_trust(
        &["root-ca.der"],
        &["email-ca.der"],
        &["email-ca.crl.der", "root-ca.crl.der"],
    );
    assert_eq!(
        validate_with(trust, "leaf-email-ca").err(),
        Some(VerifyError::WrongExtendedKeyUsage)
    );
}

// --- 4. anchor validity -------------------------------------------------------------------------

#[test]
fn an_expired_anchor_is_refused_even_if_the_user_certificate_is_current() {
    // short-ca.der expires on 2030-01-01; leaf-short-ca runs to 2048.
    let trust = test_trust(&["short-ca.der"], &[], &["short-ca.crl.der"]);
    let (before, after) = short_ca_leaf_before_and_after_its_ca_expires(trust);
    assert!(before.is_ok());
    assert_eq!(after.err(), Some(VerifyError::CertificateExpired));
}

// --- 5. CRLs matched by key -----------------------------------------------------------------------

#[test]
fn two_cas_of_the_same_name_each_get_their_own_crl() {
    let trust = test_trust(
        &["root-ca.der"],
        &["ca.der", "rollover-ca.der"],
        &["ca.crl.der", "rollover-ca.crl.der", "root-ca.crl.der"],
    );
    let validator = validator_for(trust);
    let check = |leaf: &str| validate_leaf(&validator, leaf);
    assert!(check("leaf-valid").is_ok());
    assert_eq!(check("leaf-revoked").err(), Some(VerifyError::Revoked));
    assert!(
        check("leaf-rollover-valid").is_ok(),
        "{:?}",
        check("leaf-rollover-valid")
    );
    assert_eq!(
        check("leaf-rollover-revoked").err(),
        Some(VerifyError::Revoked)
    );
}

// --- 6. nonce store cap ---------------------------------------------------------------------------

#[test]
fn the_nonce_store_is_capped_and_refuses_rather_than_evicts() {
    let store = NonceStore::with_capacity(Duration::from_secs(300), 3);
    let first = store.try_issue("a").expect("room");
    store.try_issue("b").expect("room");
    store.try_issue("c").expect("room");
    assert_eq!(
        store.try_issue("d").map_err(|error| error.code()),
        Err("ERR_NONCE_STORE_FULL")
    );
    // Nobody's challenge was evicted to make room.
    assert_eq!(store.consume("a", &first), Ok(()));
    // A session that has one may get a new one; a used one frees room.
    assert!(store.try_issue("b").is_ok());
    assert!(store.try_issue("d").is_ok());
    assert_eq!(store.len(), 3);
    assert_eq!(
        NonceStore::default().capacity(),
        cpx_verify::DEFAULT_MAX_NONCES
    );
}

#[test]
fn expired_nonces_free_room_in_the_capped_store() {
    let store = NonceStore::with_capacity(Duration::ZERO, 2);
    store.try_issue("a").expect("a nonce");
    store.try_issue("b").expect("a nonce");
    assert!(store.try_issue("c").is_ok());
    assert_eq!(store.consume("c", "x"), Err(NonceError::Unknown));
}

// --- 7. cheap rejections first ---------------------------------------------------------------------

#[test]
fn a_junk_signature_is_refused_before_the_path_is_built() {
    // An untrusted certificate with a signature for another origin: the signature check, one
    // public-key operation, refuses it before any path building or CRL lookup.
    let untrusted = token_value("leaf-other-ca", "RS256", "https://evil.example", NONCE);
    let mut revoked = token_value("leaf-revoked", "RS256", "https://evil.example", NONCE);
    assert_eq!(refusal(&untrusted), Some(VerifyError::BadSignature));
    assert_eq!(refusal(&revoked), Some(VerifyError::BadSignature));
    revoked["signature"] = json!("AAAA");
    assert_eq!(refusal(&revoked), Some(VerifyError::BadSignature));
}

#[test]
fn a_validation_time_before_1970_is_not_a_panic() {
    let result = validator().validate(
        &token("leaf-valid", "RS256"),
        NONCE,
        SystemTime::UNIX_EPOCH - Duration::from_secs(10),
    );
    // Such a clock is read as 1970, when no card certificate was valid yet.
    assert_eq!(result.err(), Some(VerifyError::CertificateNotYetValid));
}

// --- intermediates verified once at start-up (the validation's cost) ------------------------------

#[test]
fn an_intermediate_verified_at_start_up_still_has_its_dates_checked_per_token() {
    // short-ca.der (to 2030) as an intermediate under the root: the card's path skips the
    // intermediate's signature, not its dates.
    let trust = test_trust(
        &["root-ca.der"],
        &["short-ca.der"],
        &["short-ca.crl.der", "root-ca.crl.der"],
    );
    let (before, after) = short_ca_leaf_before_and_after_its_ca_expires(trust);
    let identity = before.expect("valid in 2027");
    assert_eq!(identity.anchor_id, spki_sha256_hex("root-ca.der"));
    assert_eq!(after.err(), Some(VerifyError::CertificateExpired));
}

#[test]
fn an_intermediate_still_needs_its_anchors_crl() {
    // Without the root's ARL, the intermediate's own revocation status would be unknown: the
    // start stops (a_shortcut_intermediate_is_checked_against_its_own_serial_in_its_anchors_crl
    // shows the ARL applied to it).
    let trust = test_trust(&["root-ca.der"], &["ca.der"], &["ca.crl.der"]);
    assert!(matches!(
        start_error(trust),
        Some(ConfigError::CaWithoutCrl { ref subject }) if subject.contains("RACINE")
    ));
}
