//! The CRLs are read again while the provider serves (`cpx-idp serve` does it every
//! `crl_reload_minutes` and on SIGHUP, with cpx-web's schedule): a new CRL takes effect
//! without a restart; a bad one leaves the CRLs in force.

mod common;

use axum::http::StatusCode;
use common::*;
use cpx_verify::test_util::{TestCard, TEST_ISSUING_CA_CRL_DER, TEST_ROOT_CA_CRL_DER};

/// The card login of `card` at `/login/card`: its status and error code.
async fn card_login_status(idp: &Idp, card: &TestCard) -> Result<(StatusCode, String), Error> {
    let login_cookie = idp.start_login(&site_query("")).await?;
    let answer = idp.card_login(&login_cookie, card).await?;
    let code = answer.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((answer.status, code))
}

#[tokio::test]
async fn a_new_crl_takes_effect_without_a_restart_and_a_bad_one_changes_nothing() -> TestResult {
    // At start the issuing CA is accepted without a CRL, and "later.crl.der" holds a second
    // copy of the root's: the revoked card still logs in.
    let text = config_text("RS256", "").replace(
        "crls = [\"issuing.crl.der\", \"root.crl.der\"]",
        "crls = [\"later.crl.der\", \"root.crl.der\"]\nno_crl_for = [\"issuing.der\"]",
    );
    let (idp, provider) = provider_and_handle(&text, |dir| {
        Ok(std::fs::write(
            dir.join("later.crl.der"),
            TEST_ROOT_CA_CRL_DER,
        )?)
    })?;
    assert_eq!(
        card_login_status(&idp, &TestCard::revoked()).await?.0,
        StatusCode::OK
    );

    // The issuing CA's CRL arrives in the file: read again, the revoked card is refused.
    let later = provider.config.trust.crl_paths[0].clone();
    std::fs::write(&later, TEST_ISSUING_CA_CRL_DER)?;
    assert_eq!(provider.reload_crls_from_disk()?, 2);
    let (status, code) = card_login_status(&idp, &TestCard::revoked()).await?;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "ERR_CERTIFICATE_REVOKED")
    );

    // A file that does not read as a CRL: refused, the CRLs in force stay.
    std::fs::write(&later, b"not a CRL")?;
    assert!(provider.reload_crls_from_disk().is_err());
    let (_, code) = card_login_status(&idp, &TestCard::revoked()).await?;
    assert_eq!(code, "ERR_CERTIFICATE_REVOKED");
    assert_eq!(
        card_login_status(&idp, &TestCard::valid()).await?.0,
        StatusCode::OK
    );
    Ok(())
}
