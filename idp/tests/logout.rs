//! RP-initiated logout: with a hint this provider signed, the session ends and the browser
//! goes back only to a registered URI; without one, the holder is asked.

mod common;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE};
use axum::http::{Request, StatusCode};
use common::*;
use cpx_verify::test_util::TestCard;

/// A session and the ID token of its login at `site`.
async fn logged_in(idp: &Idp) -> Result<(String, String), Error> {
    logged_in_with(idp, &TestCard::valid()).await
}

/// The same with `card`, in a browser of its own.
async fn logged_in_with(idp: &Idp, card: &TestCard) -> Result<(String, String), Error> {
    let login_cookie = idp.start_login(&site_query("")).await?;
    let (params, session) = idp.card_login(&login_cookie, card).await?.logged_in()?;
    let code = params.get("code").ok_or("no code")?;
    let tokens = idp
        .token_basic("site", SECRET, &code_form(code, REDIRECT))
        .await?
        .json();
    let id_token = tokens["id_token"].as_str().ok_or("no ID token")?;
    Ok((session, id_token.to_owned()))
}

/// A site's logout request: the ID token as hint, and where the browser should go back.
fn hinted_logout(id_token: &str, back: &str) -> String {
    format!(
        "/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
        urlencode(back)
    )
}

#[tokio::test]
async fn a_hinted_logout_ends_the_session_and_returns_to_the_registered_uri() -> TestResult {
    let idp = provider()?;
    let (session, id_token) = logged_in(&idp).await?;
    assert!(idp.session_alive(&session).await?);
    let uri = format!("{}&state=bye-1", hinted_logout(&id_token, LOGOUT_BACK));
    let answer = idp.get_in_session(&uri, &session).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        answer.location(),
        Some(format!("{LOGOUT_BACK}?state=bye-1"))
    );
    assert!(!idp.session_alive(&session).await?);
    Ok(())
}

#[tokio::test]
async fn an_unregistered_post_logout_uri_gets_a_page_never_a_redirect() -> TestResult {
    let idp = provider()?;
    let (session, id_token) = logged_in(&idp).await?;
    for uri in ["https://evil.test/", REDIRECT] {
        let answer = idp
            .get_in_session(&hinted_logout(&id_token, uri), &session)
            .await?;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(answer.location(), None);
    }
    // A hint this provider did not sign is refused too.
    let forged = format!(
        "{}.{}.AAAA",
        b64(b"{\"alg\":\"RS256\"}"),
        b64(b"{\"aud\":\"site\"}")
    );
    let answer = idp
        .get_in_session(&format!("/logout?id_token_hint={forged}"), &session)
        .await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(idp.session_alive(&session).await?);
    Ok(())
}

#[tokio::test]
async fn without_a_hint_the_holder_confirms_with_the_session_s_csrf_token() -> TestResult {
    let idp = provider()?;
    let (session, _) = logged_in(&idp).await?;
    let page = idp.get_in_session("/logout", &session).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        idp.session_alive(&session).await?,
        "a link alone ends nothing"
    );
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let post = |csrf: &str| {
        Request::post("/logout")
            .header(
                COOKIE,
                cookie_header(&[("__Host-cpx-idp-session", &session)]),
            )
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}")))
    };
    assert_eq!(
        idp.send(post("forged")?).await?.status,
        StatusCode::FORBIDDEN
    );
    assert!(idp.session_alive(&session).await?);
    assert_eq!(idp.send(post(&csrf)?).await?.status, StatusCode::OK);
    assert!(!idp.session_alive(&session).await?);
    Ok(())
}

/// A provider that also trusts cpx-verify's test fixtures CA, so that a second holder
/// (`TestCard::test_card_layout`, another anchor and idNat) can log in.
fn provider_with_two_holders() -> Result<Idp, Error> {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../verify/tests/fixtures");
    let text = config_text("RS256", "")
        .replace(
            "anchors = [\"root.der\"]",
            "anchors = [\"root.der\", \"fixtures-ca.der\"]",
        )
        .replace(
            "crls = [\"issuing.crl.der\", \"root.crl.der\"]",
            "crls = [\"issuing.crl.der\", \"root.crl.der\", \"fixtures-ca.crl.der\"]",
        );
    let (idp, _) = provider_and_handle(&text, |dir| {
        std::fs::copy(fixtures.join("ca.der"), dir.join("fixtures-ca.der"))?;
        std::fs::copy(fixtures.join("ca.crl.der"), dir.join("fixtures-ca.crl.der"))?;
        Ok(())
    })?;
    Ok(idp)
}

/// An ID token is no secret: every site holds its users'. One of another holder, as a hint,
/// must not end this browser's session unasked (before, it did, and sent the browser on).
#[tokio::test]
async fn a_hint_naming_another_holder_asks_before_ending_the_session() -> TestResult {
    let idp = provider_with_two_holders()?;
    // This browser: the usual holder, signed in.
    let session = idp.signed_in_session().await?;
    // Another holder's login at the site, in another browser: the site gets their ID token.
    let (_, other_id_token) = logged_in_with(&idp, &TestCard::test_card_layout()).await?;

    let uri = hinted_logout(&other_id_token, LOGOUT_BACK);
    let answer = idp.get_in_session(&uri, &session).await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.location().is_none());
    assert!(
        answer.body.contains("csrf"),
        "the confirmation form: {}",
        answer.body
    );
    assert!(idp.session_alive(&session).await?);
    Ok(())
}
