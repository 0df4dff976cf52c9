//! The code flow end to end in-process, and each rule of `/authorize`, the login steps and
//! `/userinfo` with the error code the spec names.

mod common;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use common::*;
use cpx_verify::test_util::TestCard;
use cpx_web::messages::{browser_message, page_table, server_message, Language};

#[test]
fn pkce_test_values_agree() {
    use sha2::Digest;
    assert_eq!(b64(&sha2::Sha256::digest(VERIFIER.as_bytes())), CHALLENGE);
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_only_what_is_served() -> TestResult {
    let idp = provider()?;
    let answer = idp.get("/.well-known/openid-configuration", &[]).await?;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = answer.json();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(doc["end_session_endpoint"], format!("{ISSUER}/logout"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    Ok(())
}

#[tokio::test]
async fn jwks_lists_the_active_key_and_the_old_one() -> TestResult {
    let idp = provider()?;
    let jwks = idp.get("/jwks", &[]).await?.json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|key| key["kid"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kids, ["rs-1", "es-1"]);
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
    Ok(())
}

/// The whole flow: authorize, card, code with state and iss, token (basic), ID token checked
/// independently, userinfo.
#[tokio::test]
async fn a_card_login_gives_a_verified_id_token_and_userinfo() -> TestResult {
    let idp = provider()?;
    let (params, _) = idp.login(&site_query("")).await?;
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    let code = params.get("code").ok_or("no code")?;
    let answer = idp
        .token_basic("site", SECRET, &code_form(code, REDIRECT))
        .await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), "no-store");
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let jwks = idp.get("/jwks", &[]).await?.json();
    let claims = verify_id_token(tokens["id_token"].as_str().unwrap_or_default(), &jwks)?;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "site");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["acr"], "eidas1");
    assert_eq!(claims["amr"], serde_json::json!(["sc", "pin"]));
    assert_eq!(claims["given_name"], "MARIE");
    assert_eq!(claims["family_name"], "DUPONT");
    assert_eq!(claims["SubjectNameID"], "810001234567");
    assert_eq!(claims["preferred_username"], "810001234567");
    let (iat, exp, auth_time) = (
        claims["iat"].as_u64().unwrap_or(0),
        claims["exp"].as_u64().unwrap_or(0),
        claims["auth_time"].as_u64().unwrap_or(0),
    );
    assert!(exp > iat && auth_time <= iat && iat <= now());
    assert_eq!(claims["sub"].as_str().map(str::len), Some(43));

    let access = tokens["access_token"].as_str().unwrap_or_default();
    let info = idp.userinfo(access).await?;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.json()["sub"], claims["sub"]);
    assert_eq!(info.json()["SubjectNameID"], "810001234567");
    Ok(())
}

#[tokio::test]
async fn an_es256_provider_signs_with_p256_and_still_lists_the_old_rsa_key() -> TestResult {
    let idp = provider_with("ES256", "")?;
    let jwks = idp.get("/jwks", &[]).await?.json();
    assert_eq!(jwks["keys"][0]["kid"], "es-1");
    assert_eq!(jwks["keys"][1]["kid"], "rs-1");
    let claims = site_login_claims(&idp, &site_query("")).await?;
    assert_eq!(claims["aud"], "site");
    Ok(())
}

/// A card login at `site` with `query`, then the ID token's claims, checked independently.
async fn site_login_claims(idp: &Idp, query: &str) -> Result<serde_json::Value, Error> {
    let (params, _) = idp.login(query).await?;
    let code = params.get("code").ok_or("no code")?;
    idp.id_token_claims("site", code, REDIRECT).await
}

/// Without the profile scope, the identity claims stay out.
#[tokio::test]
async fn openid_alone_gives_sub_and_no_identity_claims() -> TestResult {
    let idp = provider()?;
    let query = site_query("").replace("scope=openid%20profile", "scope=openid");
    let claims = site_login_claims(&idp, &query).await?;
    assert!(claims.get("SubjectNameID").is_none() && claims.get("given_name").is_none());
    Ok(())
}

// ---- /authorize: no redirect before the client and the redirect URI are known ----

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_never_a_redirect() -> TestResult {
    let idp = provider()?;
    let query = site_query("").replace("client_id=site", "client_id=nobody");
    let answer = idp.get(&format!("/authorize?{query}"), &[]).await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.location(), None);
    assert!(answer.body.contains("client_id"));
    Ok(())
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect() -> TestResult {
    let idp = provider()?;
    for bad in [
        "https://evil.test/callback",
        "https://site.test/callback/",
        "https://site.test/callback?x=1",
    ] {
        let query = site_query("").replace(&urlencode(REDIRECT), &urlencode(bad));
        let answer = idp.get(&format!("/authorize?{query}"), &[]).await?;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(answer.location(), None, "{bad}");
    }
    // Another client's registered URI is not this client's.
    let query = site_query("").replace(&urlencode(REDIRECT), &urlencode(OTHER_REDIRECT));
    let answer = idp.get(&format!("/authorize?{query}"), &[]).await?;
    assert_eq!(answer.location(), None);
    Ok(())
}

/// The errors sent back to the site, with `state` and `iss`.
async fn authorize_error(idp: &Idp, query: &str) -> Result<String, Error> {
    let answer = idp.get(&format!("/authorize?{query}"), &[]).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let location = answer.location().unwrap_or_default();
    assert!(location.starts_with(REDIRECT), "{location}");
    let params = answer.redirect_params();
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    assert!(!params.contains_key("code"));
    Ok(params.get("error").cloned().unwrap_or_default())
}

/// `query` is sent back to the site with the error code `error`.
async fn assert_authorize_error(idp: &Idp, query: &str, error: &str) -> TestResult {
    assert_eq!(authorize_error(idp, query).await?, error, "{query}");
    Ok(())
}

#[tokio::test]
async fn only_response_type_code_is_served() -> TestResult {
    let idp = provider()?;
    for other in ["token", "id_token", "code%20id_token"] {
        let query = site_query("").replace("response_type=code", &format!("response_type={other}"));
        assert_authorize_error(&idp, &query, "unsupported_response_type").await?;
    }
    let query = site_query("").replace("response_type=code&", "");
    assert_authorize_error(&idp, &query, "invalid_request").await
}

#[tokio::test]
async fn pkce_s256_is_required_and_plain_is_refused() -> TestResult {
    let idp = provider()?;
    let plain = site_query("").replace("code_challenge_method=S256", "code_challenge_method=plain");
    let none = site_query("").replace("&code_challenge_method=S256", "");
    let no_challenge = site_query("").replace(&format!("code_challenge={CHALLENGE}&"), "");
    for query in [plain, none, no_challenge] {
        assert_authorize_error(&idp, &query, "invalid_request").await?;
    }
    Ok(())
}

#[tokio::test]
async fn scope_must_contain_openid_and_only_the_client_s_scopes() -> TestResult {
    let idp = provider()?;
    // No openid, then a scope the client was not given.
    for scope in ["scope=profile", "scope=openid%20email"] {
        let query = site_query("").replace("scope=openid%20profile", scope);
        assert_authorize_error(&idp, &query, "invalid_scope").await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_repeated_parameter_is_invalid_request() -> TestResult {
    assert_authorize_error(
        &provider()?,
        &site_query("&scope=openid"),
        "invalid_request",
    )
    .await
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() -> TestResult {
    assert_authorize_error(&provider()?, &site_query("&prompt=none"), "login_required").await
}

#[tokio::test]
async fn cancelling_the_login_sends_access_denied() -> TestResult {
    let idp = provider()?;
    let login = idp.start_login(&site_query("")).await?;
    let page = idp.login_page(&login).await?;
    let csrf = csrf_of(&page.body);
    // A forged form (no token) is refused.
    let forged = idp.cancel_login(&login, "").await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let answer = idp.cancel_login(&login, &csrf).await?;
    let params = answer.redirect_params();
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    Ok(())
}

// ---- the login page and the card steps ----

#[tokio::test]
async fn the_login_page_speaks_french_or_english() -> TestResult {
    let idp = provider()?;
    let authorize = idp
        .get(&format!("/authorize?{}", site_query("")), &[])
        .await?;
    assert_eq!(authorize.location().as_deref(), Some("/login"));
    let login = authorize
        .cookie("__Host-cpx-idp-login")
        .ok_or("no cookie")?;
    let french = idp.login_page(&login).await?;
    assert!(
        french.body.contains("S&#39;identifier par carte CPS")
            || french.body.contains("S'identifier par carte CPS")
    );
    assert!(french.body.contains("lang=\"fr\""));
    let english = idp.login_page_in(&login, "en-GB,en;q=0.9,fr;q=0.5").await?;
    assert!(english.body.contains("Log in with CPS card"));
    // Every answer: never framed, HTTPS only, not cached.
    let csp = french.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(french
        .header("strict-transport-security")
        .starts_with("max-age="));
    assert_eq!(french.header("cache-control"), "no-store");
    Ok(())
}

/// The page script is the one both services serve, told its endpoints by the button, and the
/// page hands it the sentence of every browser-side error in the page's language.
#[tokio::test]
async fn the_login_page_gives_the_shared_script_its_sentences_in_the_page_s_language() -> TestResult
{
    let idp = provider()?;
    let login = idp.start_login(&site_query("")).await?;
    for (accept, language) in [("fr-FR", Language::French), ("en-GB", Language::English)] {
        let page = idp.login_page_in(&login, accept).await?;
        let table = messages_of(&page.body)?;
        assert_eq!(table, serde_json::Value::Object(page_table(language)));
        assert_eq!(
            table["ERR_PIN_BLOCKED"],
            browser_message("ERR_PIN_BLOCKED").text(language)
        );
        for attribute in [
            r#"data-challenge-url="/login/challenge""#,
            r#"data-login-url="/login/card""#,
            r#"data-redirect="site-answer""#,
            r#"src="/static/card-login.js""#,
        ] {
            assert!(page.body.contains(attribute), "{attribute}");
        }
    }
    let script = idp.get("/static/card-login.js", &[]).await?;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.body, cpx_web::messages::CARD_LOGIN_SCRIPT);
    Ok(())
}

/// The JSON in the page's `<script id="cpx-messages">`.
fn messages_of(html: &str) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let start_tag = r#"<script type="application/json" id="cpx-messages">"#;
    let start = html.find(start_tag).ok_or("no message table")? + start_tag.len();
    let length = html[start..].find("</script>").ok_or("table not closed")?;
    Ok(serde_json::from_str(&html[start..start + length])?)
}

/// A refused step answers its code and the sentence in the browser's language.
#[tokio::test]
async fn a_refused_login_step_answers_the_sentence_in_the_page_s_language() -> TestResult {
    let idp = provider()?;
    let expired = idp
        .send(
            Request::get("/login/challenge")
                .header("x-requested-with", "cpx-connect")
                .header("accept-language", "en-US,en;q=0.8")
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(expired.json()["error"], "ERR_LOGIN_EXPIRED");
    assert_eq!(
        expired.json()["message"],
        server_message("ERR_LOGIN_EXPIRED").en
    );
    Ok(())
}

#[tokio::test]
async fn the_card_post_needs_the_page_s_csrf_token_and_this_origin() -> TestResult {
    let idp = provider()?;
    let login = idp.start_login(&site_query("")).await?;
    let cookies = [("__Host-cpx-idp-login", login.as_str())];
    let csrf = csrf_of(&idp.login_page(&login).await?.body);
    for (origin, csrf) in [(ISSUER, "wrong"), ("https://evil.test", csrf.as_str())] {
        let answer = idp.post_card_from(origin, &cookies, csrf, "{}").await?;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{origin}");
    }
    Ok(())
}

#[tokio::test]
async fn a_revoked_card_is_refused_with_cpx_verify_s_code() -> TestResult {
    let idp = provider()?;
    let login = idp.start_login(&site_query("")).await?;
    let answer = idp.card_login(&login, &TestCard::revoked()).await?;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "ERR_CERTIFICATE_REVOKED");
    // With the sentence the page shows, in the page's language (French without a preference).
    assert_eq!(
        answer.json()["message"],
        server_message("ERR_CERTIFICATE_REVOKED").fr
    );
    assert_the_login_goes_on(&idp, &login).await
}

/// After a refused card, the login goes on with a valid one (a new challenge).
async fn assert_the_login_goes_on(idp: &Idp, login: &str) -> TestResult {
    let answer = idp.card_login(login, &TestCard::valid()).await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    Ok(())
}

/// A body that is no token is the request's fault (400), as cpx-verify's table says, and the
/// login can go on.
#[tokio::test]
async fn a_body_that_is_not_a_token_is_a_bad_request() -> TestResult {
    let idp = provider()?;
    let login = idp.start_login(&site_query("")).await?;
    let (csrf, nonce) = idp.challenge(&login).await?;
    assert!(!nonce.is_empty(), "a challenge was issued");
    let cookies = [("__Host-cpx-idp-login", login.as_str())];
    let answer = idp
        .post_card(&cookies, &csrf, r#"{"format":"web-eid:1"}"#)
        .await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.json()["error"], "ERR_TOKEN_MALFORMED");
    assert_the_login_goes_on(&idp, &login).await
}

#[tokio::test]
async fn a_login_transaction_is_used_once() -> TestResult {
    let idp = provider()?;
    let login = idp.start_login(&site_query("")).await?;
    assert_eq!(
        idp.card_login(&login, &TestCard::valid()).await?.status,
        StatusCode::OK
    );
    let again = idp.login_page(&login).await?;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    Ok(())
}

// ---- the provider's session: SSO, prompt=login, max_age ----

/// The default provider and the session cookie of a card login on it.
async fn provider_with_a_session() -> Result<(Idp, String), Error> {
    let idp = provider()?;
    let session = idp.signed_in_session().await?;
    Ok((idp, session))
}

#[tokio::test]
async fn a_session_answers_at_once_unless_prompt_login_or_max_age() -> TestResult {
    let (idp, session) = provider_with_a_session().await?;
    let again = idp.authorize_in_session("", &session).await?;
    assert!(
        again.redirect_params().contains_key("code"),
        "{:?}",
        again.location()
    );
    let none = idp.authorize_in_session("&prompt=none", &session).await?;
    assert!(none.redirect_params().contains_key("code"));
    let login = idp.authorize_in_session("&prompt=login", &session).await?;
    assert_eq!(login.location().as_deref(), Some("/login"));
    let max_age = idp.authorize_in_session("&max_age=0", &session).await?;
    assert_eq!(max_age.location().as_deref(), Some("/login"));
    let recent = idp.authorize_in_session("&max_age=3600", &session).await?;
    assert!(recent.redirect_params().contains_key("code"));
    let stale = idp.authorize_in_session("&max_age=abc", &session).await?;
    assert_eq!(stale.redirect_error().as_deref(), Some("invalid_request"));
    Ok(())
}

// ---- subjects ----

#[tokio::test]
async fn public_subjects_are_shared_and_pairwise_ones_are_not() -> TestResult {
    let idp = provider()?;
    let (params, session) = idp.login(&site_query("")).await?;
    let code = params.get("code").ok_or("no code")?;
    let public = idp.id_token_claims("site", code, REDIRECT).await?;
    let pairwise_query = site_query("")
        .replace("client_id=site", "client_id=pairwise-site")
        .replace(&urlencode(REDIRECT), &urlencode("https://pairwise.test/cb"));
    let answer = idp
        .get_in_session(&format!("/authorize?{pairwise_query}"), &session)
        .await?;
    let code = answer
        .redirect_params()
        .get("code")
        .cloned()
        .ok_or("no code")?;
    let pairwise = idp
        .id_token_claims("pairwise-site", &code, "https://pairwise.test/cb")
        .await?;
    assert_ne!(public["sub"], pairwise["sub"]);
    // Stable: the same holder logging in again at the public site gets the same sub.
    let again = site_login_claims(&idp, &site_query("")).await?;
    assert_eq!(public["sub"], again["sub"]);
    Ok(())
}

// ---- /userinfo ----

#[tokio::test]
async fn userinfo_refuses_an_unknown_token_with_invalid_token() -> TestResult {
    let idp = provider()?;
    let answer = idp.userinfo("not-a-token").await?;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_token");
    assert!(answer.header("www-authenticate").contains("invalid_token"));
    Ok(())
}

// ---- throttling per address ----

#[tokio::test]
async fn too_many_requests_from_one_address_meet_429() -> TestResult {
    let idp = provider_with_limits("address_burst = 3\naddress_period_ms = 60000\n")?;
    let authorize = format!("/authorize?{}", site_query(""));
    for _ in 0..3 {
        assert_eq!(
            idp.get(&authorize, &[]).await?.status,
            StatusCode::SEE_OTHER
        );
    }
    let answer = idp.get(&authorize, &[]).await?;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!answer.header("retry-after").is_empty());
    Ok(())
}

/// Behind a trusted proxy, each forwarded client has its own quota; from any other peer the
/// header is the client's own claim and changes nothing.
#[tokio::test]
async fn forwarded_clients_are_told_apart_only_behind_a_trusted_proxy() -> TestResult {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let text = config_text(
        "RS256",
        "[limits]\naddress_burst = 2\naddress_period_ms = 60000\n",
    )
    .replace(
        "subject_secret",
        "trusted_proxies = [\"10.0.0.2\"]\nsubject_secret",
    );
    let idp = provider_from_text(&text)?;
    let from = |peer: &str, forwarded: &str| -> Result<Request<Body>, Error> {
        let mut request = Request::get(format!("/authorize?{}", site_query("")))
            .header("x-forwarded-for", forwarded)
            .body(Body::empty())?;
        let peer: SocketAddr = peer.parse()?;
        request.extensions_mut().insert(ConnectInfo(peer));
        Ok(request)
    };
    for _ in 0..2 {
        assert_eq!(
            idp.send(from("10.0.0.2:4000", "198.51.100.1")?)
                .await?
                .status,
            StatusCode::SEE_OTHER
        );
    }
    let third = idp.send(from("10.0.0.2:4000", "198.51.100.1")?).await?;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    let other = idp.send(from("10.0.0.2:4000", "198.51.100.2")?).await?;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(
            idp.send(from("192.0.2.9:4000", forwarded)?).await?.status,
            StatusCode::SEE_OTHER
        );
    }
    let claimed = idp.send(from("192.0.2.9:4000", "203.0.113.3")?).await?;
    assert_eq!(claimed.status, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

/// A body that does not come in time gets 408, and holds no handler.
#[tokio::test]
async fn a_body_not_received_in_time_gets_408() -> TestResult {
    let idp = provider_with_limits("body_read_timeout_ms = 200\n")?;
    let never = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let answer = idp
        .send(
            Request::post("/token")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from_stream(never))?,
        )
        .await?;
    assert_eq!(answer.status, StatusCode::REQUEST_TIMEOUT);
    Ok(())
}

/// A new card login (here forced by prompt=login) replaces the browser's session: the old
/// cookie no longer signs anyone in.
#[tokio::test]
async fn a_new_login_replaces_the_previous_session() -> TestResult {
    let (idp, old) = provider_with_a_session().await?;
    let forced = idp.authorize_in_session("&prompt=login", &old).await?;
    let login = forced
        .cookie("__Host-cpx-idp-login")
        .ok_or("no login cookie")?;
    let done = idp
        .card_login_with(&login, &TestCard::valid(), Some(&old))
        .await?;
    let new = done.cookie("__Host-cpx-idp-session").ok_or("no session")?;
    assert_ne!(new, old);
    for (session, alive) in [(old.as_str(), false), (new.as_str(), true)] {
        assert_eq!(idp.session_alive(session).await?, alive);
    }
    Ok(())
}
