//! What a login must show, checked as a relying party would: the token's signature over the
//! origin and nonce (independently of the host's code, with `rsa` and `sha2`), a site trusting
//! only the test CA accepting it, the PIN counters of wrong PINs, and the host's log keeping no
//! PIN. Shared by the CPS3, CPS4, several-card, two-user and Windows tests.

use serde_json::Value;

use crate::*;

/// A relying party's validator for the site `origin`, trusting only the virtual cards' test CA,
/// with its CRL (a test CA must be allowed explicitly).
pub fn test_ca_validator(origin: &str) -> cpx_verify::Validator {
    let trust = cpx_verify::TrustConfig::new(vec![cpx_virtual_card::test_ca_der().to_vec()])
        .and_then(|trust| trust.with_crls(vec![cpx_virtual_card::test_ca_crl_der().to_vec()]))
        .expect("the test CA and its CRL load")
        .allow_test_anchors();
    cpx_verify::Validator::new(trust, origin).expect("a validator for the test CA")
}

/// Checks a token's signature as a relying party would, with `rsa` and `sha2` from the
/// certificate in the token, independently of the host's own check.
pub fn assert_signature_verifies(token: &Value, origin: &str, nonce: &str) {
    use base64::Engine;
    let certificate = base64::engine::general_purpose::STANDARD
        .decode(
            token["unverifiedCertificate"]
                .as_str()
                .expect("unverifiedCertificate"),
        )
        .expect("base64 certificate");
    assert_signed_with_key_of(token, &certificate, origin, nonce);
}

/// Checks that the token's signature is the key of `certificate_der` signing the login digest,
/// `SHA-256(SHA-256(origin) || SHA-256(nonce))`, with `rsa` and `sha2`: a test that knows which
/// card must have signed names its certificate rather than trusting the one in the token.
pub fn assert_signed_with_key_of(token: &Value, certificate_der: &[u8], origin: &str, nonce: &str) {
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    use sha2::{Digest, Sha256};
    use x509_cert::der::{Decode, Encode};
    let signature = base64::engine::general_purpose::STANDARD
        .decode(token["signature"].as_str().expect("signature"))
        .expect("base64 signature");
    let spki = x509_cert::Certificate::from_der(certificate_der)
        .expect("certificate")
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("SPKI");
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).expect("RSA key");
    let login_digest = Sha256::new()
        .chain_update(Sha256::digest(origin.as_bytes()))
        .chain_update(Sha256::digest(nonce.as_bytes()))
        .finalize();
    key.verify(
        rsa::Pkcs1v15Sign::new::<Sha256>(),
        &login_digest,
        &signature,
    )
    .expect("the token's signature verifies with the certificate's key");
}

/// The first certificate `certificates` lists.
pub fn first_certificate(host: &mut Host) -> Value {
    let answer = host.command("certificates");
    answer["result"]["certificates"][0].clone()
}

/// The id of the first certificate `certificates` lists, for the `authenticate` requests that
/// follow.
pub fn first_certificate_id(host: &mut Host) -> String {
    let certificate = first_certificate(host);
    certificate["certificateId"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate listed: {certificate}"))
        .to_owned()
}

/// The entry of `reader` in a `status` answer; panics, showing the answer, if it is not listed.
pub fn listed_reader(status: &Value, reader: &str) -> Value {
    status["result"]["readers"]
        .as_array()
        .and_then(|readers| readers.iter().find(|r| r["name"] == reader))
        .cloned()
        .unwrap_or_else(|| panic!("{reader} not listed: {status}"))
}

/// The next answer of `host`, which must be a result, not an error (`what` names the request
/// in the failure): for tests that send requests to several hosts before reading the answers.
pub fn answered(host: &mut Host, what: &str) -> Value {
    let answer = host.answer();
    assert!(answer.get("result").is_some(), "{what}: {answer}");
    answer
}

/// The id of the one certificate a `certificates` answer lists, after checking that it is the
/// only one, and that it is `surname`'s, in `reader`: what one user of a shared machine sees.
pub fn only_certificate_id(answer: &Value, surname: &str, reader: &str) -> String {
    let certificates = answer["result"]["certificates"].as_array().expect("a list");
    assert_eq!(certificates.len(), 1, "only the user's card: {answer}");
    assert_eq!(certificates[0]["holder"]["surname"], surname);
    assert_eq!(certificates[0]["reader"], reader);
    certificates[0]["certificateId"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// Sends `authenticate` for `certificate_id` and checks the answer is a Web eID token whose
/// signature verifies over `origin` and `nonce` (see [`assert_signature_verifies`]); returns
/// the token.
pub fn assert_logs_in(
    host: &mut Host,
    certificate_id: &str,
    origin: &str,
    nonce: &str,
    pin: &str,
) -> Value {
    let answer = host.request(&authenticate_request(certificate_id, origin, nonce, pin));
    let token = &answer["result"];
    assert_eq!(token["format"], "web-eid:1.0", "{answer}");
    assert_signature_verifies(token, origin, nonce);
    token.clone()
}

/// A login with `certificate` (an entry of `certificates`) that both verifiers accept: the
/// token's signature verifies (see [`assert_logs_in`]), and a relying party for `origin` that
/// trusts only the test CA accepts it. Returns the token and what that relying party read.
pub fn assert_both_verifiers_accept_a_login(
    host: &mut Host,
    certificate: &Value,
    origin: &str,
    nonce: &str,
    pin: &str,
) -> (Value, cpx_verify::Identity) {
    let id = certificate["certificateId"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate id: {certificate}"));
    let token = assert_logs_in(host, id, origin, nonce, pin);
    let identity = relying_party_identity(&token, origin, nonce);
    (token, identity)
}

/// What a relying party for `origin` trusting only the test CA ([`test_ca_validator`]) reads
/// from `token`, which it must accept for `nonce`.
pub fn relying_party_identity(token: &Value, origin: &str, nonce: &str) -> cpx_verify::Identity {
    let token_json = serde_json::to_vec(token).expect("token JSON");
    test_ca_validator(origin)
        .validate(&token_json, nonce, std::time::SystemTime::now())
        .expect("cpx-verify accepts the host's token")
}

/// A wrong PIN, then the right one, on the bench's card: the wrong one is reported with two
/// tries left (in the answer, in `certificates` and on the card), the right one gives a token
/// and the counter is back to three. Returns the host, whose log the caller reads.
pub fn assert_a_wrong_pin_counts_down(
    bench: &Bench,
    origin: &str,
    wrong_pin: &str,
    right_pin: &str,
) -> Host {
    let mut host = Host::spawn();
    let id = first_certificate_id(&mut host);
    let answer = host.request(&authenticate_request(&id, origin, &nonce(1), wrong_pin));
    assert_eq!(answer["error"]["code"], "ERR_PIN_INCORRECT", "{answer}");
    assert_eq!(answer["error"]["retriesLeft"], 2);
    assert_eq!(first_certificate(&mut host)["pin"]["retriesLeft"], 2);
    assert_eq!(bench.card.lock().unwrap().pin_tries_left(), 2);
    let answer = host.request(&authenticate_request(&id, origin, &nonce(2), right_pin));
    assert_eq!(answer["result"]["format"], "web-eid:1.0", "{answer}");
    assert_eq!(first_certificate(&mut host)["pin"]["retriesLeft"], 3);
    host
}

/// The host's log shows the VERIFY as `verify_header` then `[8] REDACTED`, and none of `pins`
/// as a request carries them (`"1234"`) or as the card receives them (`31323334FFFFFFFF`: ASCII
/// padded with FF to 8 bytes), nor any of `also_absent`.
pub fn assert_the_log_redacts_the_pins(
    log: &str,
    verify_header: &str,
    pins: &[&str],
    also_absent: &[&str],
) {
    assert!(
        log.contains(&format!("{verify_header} [8] REDACTED")),
        "VERIFY is logged redacted: {log}"
    );
    let as_sent = pins.iter().flat_map(|pin| {
        let ascii: String = pin.bytes().map(|byte| format!("{byte:02X}")).collect();
        [format!("\"{pin}\""), ascii + &"FF".repeat(8 - pin.len())]
    });
    let also_absent = also_absent.iter().map(|text| text.to_string());
    for secret in as_sent.chain(also_absent) {
        assert!(!log.contains(&secret), "log contains {secret}");
    }
}

/// The card's authentication certificate as `certificates` lists it: its DER in base64.
pub fn auth_certificate_base64(card: &cpx_virtual_card::SharedCard) -> String {
    use base64::Engine;
    let card = card.lock().expect("card");
    base64::engine::general_purpose::STANDARD.encode(card.auth_certificate_der())
}

/// The token is `surname`'s for the site `origin` and its `nonce`: its signature verifies (see
/// [`assert_signature_verifies`]) and that site's relying party accepts it as `surname`'s.
pub fn assert_the_site_accepts(token: &Value, origin: &str, nonce: &str, surname: &str) {
    assert_signature_verifies(token, origin, nonce);
    assert_eq!(
        relying_party_identity(token, origin, nonce).surname,
        surname
    );
}

/// Three wrong PINs block the bench's card: the first two are reported with the tries left,
/// the third as incorrect or blocked (cards differ), and a fourth request, with the right PIN,
/// is refused as blocked without a VERIFY carrying it: the host's status question before the
/// VERIFY finds the PIN blocked. At most one VERIFY with a PIN per request, none other.
pub fn assert_three_wrong_pins_block_the_card(bench: &Bench, origin: &str) {
    let mut host = Host::spawn();
    let id = first_certificate_id(&mut host);
    for (attempt, expected) in [(1, 2), (2, 1)] {
        let answer = host.request(&authenticate_request(&id, origin, &nonce(attempt), "0000"));
        assert_eq!(answer["error"]["code"], "ERR_PIN_INCORRECT", "{answer}");
        assert_eq!(answer["error"]["retriesLeft"], expected);
    }
    let answer = host.request(&authenticate_request(&id, origin, &nonce(3), "0000"));
    let code = answer["error"]["code"].as_str().unwrap_or_default();
    assert!(
        code == "ERR_PIN_BLOCKED" || code == "ERR_PIN_INCORRECT",
        "{answer}"
    );
    assert_eq!(bench.card.lock().unwrap().pin_tries_left(), 0);
    assert_eq!(bench.card.lock().unwrap().verify_count(), 3);

    let answer = host.request(&authenticate_request(&id, origin, &nonce(4), "1234"));
    assert_eq!(answer["error"]["code"], "ERR_PIN_BLOCKED", "{answer}");
    // Reading certificates and PIN status after the block sends no VERIFY at all.
    assert_eq!(first_certificate(&mut host)["pin"]["retriesLeft"], 0);
    let card = bench.card.lock().unwrap();
    assert_eq!(card.verify_count(), 3);
    assert_eq!(
        verifies_with_pin(card.apdu_log()),
        3,
        "at most one VERIFY with a PIN per authenticate request, none other"
    );
}
