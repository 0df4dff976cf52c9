//! The site over real HTTPS, driven like a browser would (reqwest with a cookie jar), with
//! real tokens: the fixture holder keys sign `SHA-256(origin) || SHA-256(nonce)` with
//! RSASSA-PKCS1-v1_5 / SHA-256 and the Web eID JSON is built around the signature.

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cpx_demo::{AppState, DemoConfig};
use reqwest::header::{CONTENT_TYPE, ORIGIN, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common;

use common::site::{page, post_credentials, post_form, Site};
use common::{
    csrf_of, location, make_token, read_fixture, TestResult, MARIE_ID_NAT, MARIE_PASSWORD,
    MARIE_USERNAME, PIERRE_PASSWORD, PIERRE_USERNAME,
};

async fn get_nonce(client: &Client, site: &Site) -> Result<String, Box<dyn std::error::Error>> {
    common::fetch_nonce(client, &site.origin).await
}

/// Posts a token as the page's script does.
async fn post_token(
    client: &Client,
    site: &Site,
    token: &Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    common::post_card_token(client, &site.origin, &site.origin, token).await
}

/// A fresh challenge, and the token `holder`'s card makes of it for the site's origin.
async fn token_for_site(
    client: &Client,
    site: &Site,
    holder: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    let nonce = get_nonce(client, site).await?;
    make_token(holder, &site.origin, &nonce)
}

/// Nonce, token signed by `holder` for the site's origin, post: what one click does.
async fn card_login(
    client: &Client,
    site: &Site,
    holder: &str,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let token = token_for_site(client, site, holder).await?;
    post_token(client, site, &token).await
}

/// The card login of `holder` is accepted (200); returns the answer's body.
async fn accepted_card_login(
    client: &Client,
    site: &Site,
    holder: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    let (status, body) = card_login(client, site, holder).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(body)
}

/// Every one of `texts` is on the page `html`.
fn assert_shows(html: &str, texts: &[&str]) {
    for text in texts {
        assert!(html.contains(text), "{text} missing from {html}");
    }
}

/// A new browser that has opened the start page (and holds a session of it).
async fn visitor(site: &Site) -> Result<Client, Box<dyn std::error::Error>> {
    let client = site.browser()?;
    page(&client, site, "/").await?;
    Ok(client)
}

/// A new site with its first visitor.
async fn site_and_visitor() -> Result<(Site, Client), Box<dyn std::error::Error>> {
    let site = Site::start().await?;
    let client = visitor(&site).await?;
    Ok((site, client))
}

async fn password_login(
    client: &Client,
    site: &Site,
    username: &str,
    password: &str,
) -> Result<Response, Box<dyn std::error::Error>> {
    let (_, html) = page(client, site, "/").await?;
    let csrf = csrf_of(&html)?;
    post_credentials(client, site, "/connexion", &csrf, username, password).await
}

/// Card login of an unlinked card, then the link form with the given credentials.
async fn link_card(
    client: &Client,
    site: &Site,
    holder: &str,
    username: &str,
    password: &str,
) -> Result<Response, Box<dyn std::error::Error>> {
    let body = accepted_card_login(client, site, holder).await?;
    assert_eq!(body["status"], "link_required");
    let (status, html) = page(client, site, "/lier").await?;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html)?;
    post_credentials(client, site, "/lier", &csrf, username, password).await
}

async fn logout(client: &Client, site: &Site) -> TestResult {
    let (_, html) = page(client, site, "/compte").await?;
    let response = post_form(client, site, "/deconnexion", &[("csrf", &csrf_of(&html)?)]).await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/"));
    Ok(())
}

/// A new site, and a browser in which Marie linked her card to her account (card login,
/// then the link form with her credentials).
async fn site_with_marie_linked() -> Result<(Site, Client), Box<dyn std::error::Error>> {
    let site = Site::start().await?;
    let client = site.browser()?;
    let linked = link_card(&client, &site, "marie", MARIE_USERNAME, MARIE_PASSWORD).await?;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    Ok((site, client))
}

/// The account page of a signed-in browser (200) shows each of `texts`.
async fn assert_account_page_shows(client: &Client, site: &Site, texts: &[&str]) -> TestResult {
    let (status, html) = page(client, site, "/compte").await?;
    assert_eq!(status, StatusCode::OK);
    assert_shows(&html, texts);
    Ok(())
}

/// The unlink form of the account page `html`, posted with `password`.
async fn post_unlink(
    client: &Client,
    site: &Site,
    html: &str,
    password: &str,
) -> Result<Response, Box<dyn std::error::Error>> {
    let csrf = csrf_of(html)?;
    post_form(
        client,
        site,
        "/compte/dissocier",
        &[("csrf", &csrf), ("password", password)],
    )
    .await
}

/// The account page sends this browser back to the start: nobody is signed in.
async fn assert_signed_out(client: &Client, site: &Site) -> TestResult {
    assert_eq!(
        page(client, site, "/compte").await?.0,
        StatusCode::SEE_OTHER
    );
    Ok(())
}

/// The card `id_nat` is linked to the account `username`.
fn assert_linked(site: &Site, id_nat: &str, username: &str) {
    assert_eq!(site.linked_account_of(id_nat).as_deref(), Some(username));
}

/// The link form of the page `html` posted with the account's credentials: the card `id_nat`
/// is now the account's. Returns the answer to the post.
async fn link_from_page(
    client: &Client,
    site: &Site,
    html: &str,
    id_nat: &str,
    (username, password): (&str, &str),
) -> Result<Response, Box<dyn std::error::Error>> {
    let csrf = csrf_of(html)?;
    let linked = post_credentials(client, site, "/lier", &csrf, username, password).await?;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    assert_linked(site, id_nat, username);
    Ok(linked)
}

/// A new browser at the start page, then `holder`'s card: refused with 401 and `code`.
/// Returns the browser and the answer's body.
async fn refused_card_login(
    site: &Site,
    holder: &str,
    code: &str,
) -> Result<(Client, Value), Box<dyn std::error::Error>> {
    let client = visitor(site).await?;
    let (status, body) = card_login(&client, site, holder).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], code);
    Ok((client, body))
}

/// The refusal's sentence for the page contains `text`.
fn assert_message_contains(body: &Value, text: &str) {
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains(text)),
        "{body}"
    );
}

/// The first `Set-Cookie` of `response`, attributes and all.
fn first_set_cookie(response: &Response) -> String {
    response
        .headers()
        .get(SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn password_login_opens_the_account_page() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;

    let first = client.get(site.url("/")).send().await?;
    let cookie = first_set_cookie(&first);
    assert!(cookie.starts_with("__Host-cpx_demo_session="), "{cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let html = first.text().await?;
    assert_shows(
        &html,
        &["S'identifier par carte CPS", r#"action="/connexion""#],
    );

    let wrong = password_login(&client, &site, MARIE_USERNAME, "not-the-password").await?;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong
        .text()
        .await?
        .contains("Identifiant ou mot de passe incorrect."));
    assert_signed_out(&client, &site).await?;

    let right = password_login(&client, &site, MARIE_USERNAME, MARIE_PASSWORD).await?;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right).as_deref(), Some("/compte"));
    let new_cookie = first_set_cookie(&right);
    assert!(new_cookie.starts_with("__Host-cpx_demo_session="));
    assert_ne!(
        new_cookie.split(';').next(),
        cookie.split(';').next(),
        "login must change the session id"
    );

    assert_account_page_shows(
        &client,
        &site,
        &[
            "Marie Dupont",
            "Aucune carte CPS n'est associée à votre compte.",
        ],
    )
    .await?;

    logout(&client, &site).await?;
    assert_signed_out(&client, &site).await?;
    Ok(())
}

#[tokio::test]
async fn unlinked_card_goes_to_linking_then_logs_in() -> TestResult {
    let (site, client) = site_and_visitor().await?;

    let body = accepted_card_login(&client, &site, "marie").await?;
    assert_eq!(
        body,
        json!({ "status": "link_required", "redirect": "/lier" })
    );
    // Not logged in yet: the card alone proves nothing about the account.
    assert_signed_out(&client, &site).await?;

    let (status, html) = page(&client, &site, "/lier").await?;
    assert_eq!(status, StatusCode::OK);
    assert_shows(
        &html,
        &[
            "Connectez votre compte professionnel à votre carte CPS",
            "MARIE DUPONT",
            MARIE_ID_NAT,
            "Médecin",
        ],
    );

    let marie = (MARIE_USERNAME, MARIE_PASSWORD);
    let linked = link_from_page(&client, &site, &html, MARIE_ID_NAT, marie).await?;
    assert_eq!(location(&linked).as_deref(), Some("/compte"));

    assert_account_page_shows(
        &client,
        &site,
        &[
            "Votre carte CPS est maintenant associée à votre compte.",
            MARIE_ID_NAT,
            "Médecin",
            "Dissocier cette carte",
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn linked_card_logs_in_alone() -> TestResult {
    let (site, client) = site_with_marie_linked().await?;
    logout(&client, &site).await?;

    // A fresh browser, nothing but the card.
    let other_browser = visitor(&site).await?;
    let body = accepted_card_login(&other_browser, &site, "marie").await?;
    assert_eq!(
        body,
        json!({ "status": "logged_in", "redirect": "/compte" })
    );
    assert_account_page_shows(
        &other_browser,
        &site,
        &[
            "Marie Dupont",
            "Vous êtes connecté avec la carte CPS de MARIE DUPONT.",
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn unlinked_card_must_be_linked_again() -> TestResult {
    let (site, client) = site_with_marie_linked().await?;

    // Without the password (a session left open on a shared workstation): nothing changes.
    let (_, html) = page(&client, &site, "/compte").await?;
    let refused = post_unlink(&client, &site, &html, "not-the-password").await?;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    assert_linked(&site, MARIE_ID_NAT, MARIE_USERNAME);
    let (_, html) = page(&client, &site, "/compte").await?;
    assert!(html.contains("Mot de passe incorrect : la carte CPS"));

    let unlinked = post_unlink(&client, &site, &html, MARIE_PASSWORD).await?;
    assert_eq!(unlinked.status(), StatusCode::SEE_OTHER);
    assert_eq!(site.linked_account_of(MARIE_ID_NAT), None);
    let (_, html) = page(&client, &site, "/compte").await?;
    assert_shows(
        &html,
        &[
            "Votre carte CPS a été dissociée de votre compte.",
            "Aucune carte CPS n'est associée à votre compte.",
        ],
    );

    logout(&client, &site).await?;
    let body = accepted_card_login(&client, &site, "marie").await?;
    assert_eq!(body["status"], "link_required");
    Ok(())
}

#[tokio::test]
async fn wrong_password_on_the_link_form_links_nothing() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    let refused = link_card(&client, &site, "marie", MARIE_USERNAME, "demo12345").await?;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let html = refused.text().await?;
    assert_shows(
        &html,
        &[
            "Identifiant ou mot de passe incorrect.",
            "Connectez votre compte professionnel à votre carte CPS",
        ],
    );
    assert_eq!(site.linked_account_of(MARIE_ID_NAT), None);
    assert_signed_out(&client, &site).await?;

    // The card is still waiting: the right password links it.
    let marie = (MARIE_USERNAME, MARIE_PASSWORD);
    link_from_page(&client, &site, &html, MARIE_ID_NAT, marie).await?;
    Ok(())
}

#[tokio::test]
async fn an_account_links_only_one_card() -> TestResult {
    let (site, client) = site_with_marie_linked().await?;
    logout(&client, &site).await?;

    // Pierre's card, but Marie's credentials: Marie's account already has a card.
    let refused = link_card(&client, &site, "pierre", MARIE_USERNAME, MARIE_PASSWORD).await?;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused
        .text()
        .await?
        .contains("Ce compte est déjà associé à une autre carte CPS."));
    assert_eq!(site.linked_account_of("810009876543"), None);
    assert_linked(&site, MARIE_ID_NAT, MARIE_USERNAME);
    Ok(())
}

#[tokio::test]
async fn replayed_token_is_refused() -> TestResult {
    let (site, client) = site_and_visitor().await?;
    let token = token_for_site(&client, &site, "marie").await?;
    let (status, _) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::OK);

    // The same token again: its challenge is spent.
    let (status, body) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "ERR_NONCE_MISSING");
    assert_message_contains(&body, "S'identifier par carte CPS");

    // And with a fresh challenge the old token does not match it.
    get_nonce(&client, &site).await?;
    let (status, body) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "ERR_SIGNATURE_INVALID");
    Ok(())
}

/// The statuses are cpx-verify's table (verify/README.md): a token the site cannot read is the
/// request's fault (400), not a refused card (401).
#[tokio::test]
async fn a_token_that_is_not_a_token_is_a_bad_request() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    get_nonce(&client, &site).await?;
    let (status, body) = post_token(&client, &site, &json!({ "format": "web-eid:1" })).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "ERR_TOKEN_MALFORMED");
    Ok(())
}

#[tokio::test]
async fn token_made_for_another_origin_is_refused() -> TestResult {
    let (site, client) = site_and_visitor().await?;
    let nonce = get_nonce(&client, &site).await?;
    // What a phishing site relaying our nonce would get from the card.
    let token = make_token("marie", "https://cps-login.example.net", &nonce)?;
    let (status, body) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "ERR_SIGNATURE_INVALID");
    assert_eq!(body["status"], "error");
    assert_eq!(site.linked_account_of(MARIE_ID_NAT), None);
    Ok(())
}

#[tokio::test]
async fn card_from_an_untrusted_ca_is_refused() -> TestResult {
    let site = Site::start().await?;
    let (client, body) =
        refused_card_login(&site, "untrusted-holder", "ERR_CERTIFICATE_UNTRUSTED").await?;
    assert_message_contains(&body, "autorité de certification");
    assert_eq!(
        page(&client, &site, "/lier").await?.0,
        StatusCode::SEE_OTHER
    );
    Ok(())
}

#[tokio::test]
async fn revoked_card_is_refused() -> TestResult {
    let site = Site::start().await?;
    refused_card_login(&site, "revoked-holder", "ERR_CERTIFICATE_REVOKED").await?;
    Ok(())
}

#[tokio::test]
async fn forms_without_the_session_csrf_token_are_refused() -> TestResult {
    let (site, client) = site_with_marie_linked().await?;

    // A token from another browser's session is no better than none.
    let other_browser = site.browser()?;
    let (_, other_html) = page(&other_browser, &site, "/").await?;
    let foreign_csrf = csrf_of(&other_html)?;
    for csrf in ["", "forged", foreign_csrf.as_str()] {
        let refused = post_form(&client, &site, "/compte/dissocier", &[("csrf", csrf)]).await?;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused
            .text()
            .await?
            .contains("Le formulaire a expiré ou ne provient pas de ce site."));
    }
    assert_linked(&site, MARIE_ID_NAT, MARIE_USERNAME);

    let refused = post_form(&client, &site, "/deconnexion", &[]).await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(page(&client, &site, "/compte").await?.0, StatusCode::OK);

    let fresh = visitor(&site).await?;
    let refused = post_form(
        &fresh,
        &site,
        "/connexion",
        &[
            ("csrf", "forged"),
            ("username", MARIE_USERNAME),
            ("password", MARIE_PASSWORD),
        ],
    )
    .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_signed_out(&fresh, &site).await?;
    Ok(())
}

#[tokio::test]
async fn json_endpoints_check_the_origin_header() -> TestResult {
    let (site, client) = site_and_visitor().await?;
    let token = token_for_site(&client, &site, "marie").await?;

    for origin in [Some("https://evil.example"), None] {
        let mut request = client
            .post(site.url("/api/login/card"))
            .header(CONTENT_TYPE, "application/json")
            .body(token.to_string());
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = request.send().await?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?}");
        let body: Value = response.json().await?;
        assert_eq!(body["code"], "ERR_ORIGIN_MISMATCH");
    }
    let cross_site_nonce = client
        .get(site.url("/api/nonce"))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await?;
    assert_eq!(cross_site_nonce.status(), StatusCode::FORBIDDEN);

    // The refusals spent nothing: the genuine request still goes through.
    let (status, body) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(())
}

#[tokio::test]
async fn page_library_is_served_from_its_path_or_missing() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    let missing = client
        .get(site.url("/static/cpx-connect.js"))
        .send()
        .await?;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let library_dir = tempfile::tempdir()?;
    let library_path = library_dir.path().join("cpx-connect.js");
    std::fs::write(&library_path, "export function authenticate() {}\n")?;
    let served_path = library_path.clone();
    let site = Site::start_with(|config| config.page_library = served_path).await?;
    let client = site.browser()?;
    let served = client
        .get(site.url("/static/cpx-connect.js"))
        .send()
        .await?;
    assert_eq!(served.status(), StatusCode::OK);
    assert!(served
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/javascript")));
    assert_eq!(served.text().await?, "export function authenticate() {}\n");

    // Read at each request: a rebuilt library is picked up without a restart.
    std::fs::write(&library_path, "export function status() {}\n")?;
    let served = client
        .get(site.url("/static/cpx-connect.js"))
        .send()
        .await?;
    assert_eq!(served.text().await?, "export function status() {}\n");
    Ok(())
}

#[tokio::test]
async fn signed_in_user_links_a_card_from_the_account_page() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    let signed_in = password_login(&client, &site, PIERRE_USERNAME, PIERRE_PASSWORD).await?;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &site, "/compte").await?;
    assert_shows(
        &html,
        &["Associer ma carte CPS", r#"id="card-login-button""#],
    );

    let body = accepted_card_login(&client, &site, "pierre").await?;
    assert_eq!(body["status"], "link_required");
    let (_, html) = page(&client, &site, "/lier").await?;
    assert_shows(
        &html,
        &[&format!(r#"value="{PIERRE_USERNAME}""#), "PIERRE MARTIN"],
    );

    let pierre = (PIERRE_USERNAME, PIERRE_PASSWORD);
    link_from_page(&client, &site, &html, "810009876543", pierre).await?;
    let (_, html) = page(&client, &site, "/compte").await?;
    assert!(html.contains("Infirmier"));
    Ok(())
}

#[tokio::test]
async fn expired_challenge_is_refused() -> TestResult {
    let site = Site::start_with(|config| config.nonce_lifetime = Duration::ZERO).await?;
    let (_, body) = refused_card_login(&site, "marie", "ERR_NONCE_EXPIRED").await?;
    assert_message_contains(&body, "expiré");
    Ok(())
}

// --- the relying party under attack (issue 11) ------------------------------------------------

fn session_cookie_of(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("__Host-cpx_demo_session="))
        .map(str::to_owned)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_verified_card_waits_in_a_new_session_an_attacker_cannot_follow() -> TestResult {
    let site = Site::start().await?;
    let victim = site.browser()?;
    // The attacker made this session and planted its cookie in the victim's browser.
    let planted = victim.get(site.url("/")).send().await?;
    let planted = cookie_pair(&session_cookie_of(&planted).ok_or("no session cookie")?);

    let token = token_for_site(&victim, &site, "marie").await?;
    let response = victim
        .post(site.url("/api/login/card"))
        .header(ORIGIN, &site.origin)
        .header(CONTENT_TYPE, "application/json")
        .body(token.to_string())
        .send()
        .await?;
    let rotated = session_cookie_of(&response).ok_or("the session id was not rotated")?;
    assert_ne!(cookie_pair(&rotated), planted);
    let body: Value = response.json().await?;
    assert_eq!(body["status"], "link_required");

    // The attacker, with the planted id, sees no pending card and cannot link it.
    let attacker = site.browser()?;
    let response = attacker
        .get(site.url("/lier"))
        .header(reqwest::header::COOKIE, &planted)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/"));
    // The victim still can.
    let (status, _) = page(&victim, &site, "/lier").await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_session_cookie_is_host_prefixed_and_hsts_is_sent() -> TestResult {
    let site = Site::start().await?;
    let response = site.browser()?.get(site.url("/")).send().await?;
    let hsts = response
        .headers()
        .get("strict-transport-security")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    assert_eq!(hsts.as_deref(), Some("max-age=31536000"));
    let cookie = session_cookie_of(&response).ok_or("no __Host- session cookie")?;
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    Ok(())
}

#[tokio::test]
async fn a_pending_card_waits_only_a_short_time() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let defaults = DemoConfig::new(
        "https://localhost:8443",
        workdir.path().join("x.sqlite"),
        vec![],
    )?;
    assert!(defaults.pending_card_lifetime <= Duration::from_secs(120));

    let site = Site::start_with(|config| config.pending_card_lifetime = Duration::ZERO).await?;
    let client = site.browser()?;
    let (_, body) = card_login(&client, &site, "marie").await?;
    assert_eq!(body["status"], "link_required");
    let response = client.get(site.url("/lier")).send().await?;
    assert_eq!(location(&response).as_deref(), Some("/"));
    Ok(())
}

#[tokio::test]
async fn static_files_404s_and_cookieless_api_calls_make_no_session() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    for path in [
        "/static/style.css",
        "/static/card-login.js",
        "/no-such-page",
    ] {
        let response = client.get(site.url(path)).send().await?;
        assert!(session_cookie_of(&response).is_none(), "{path}");
    }
    let response = client
        .get(site.url("/api/nonce"))
        .header("x-requested-with", "cpx-connect")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie_of(&response).is_none());
    assert_eq!(site.state.session_counts(), (0, 0));
    assert_eq!(site.state.cards().outstanding_nonces(), 0);
    Ok(())
}

#[tokio::test]
async fn a_flood_of_new_visitors_logs_nobody_out() -> TestResult {
    let site = Site::start_with(|config| config.max_anonymous_sessions = 5).await?;
    let marie = site.browser()?;
    let response = password_login(&marie, &site, MARIE_USERNAME, MARIE_PASSWORD).await?;
    assert_eq!(location(&response).as_deref(), Some("/compte"));
    for _ in 0..40 {
        site.browser()?.get(site.url("/")).send().await?;
    }
    let (anonymous, signed_in) = site.state.session_counts();
    assert!(anonymous <= 5, "{anonymous}");
    assert_eq!(signed_in, 1);
    assert_account_page_shows(&marie, &site, &["Marie Dupont"]).await?;
    Ok(())
}

#[tokio::test]
async fn password_guessing_is_throttled_and_each_failure_rotates_the_csrf_token() -> TestResult {
    let site = Site::start_with(|config| {
        config.account_attempt_burst = 3;
        config.account_attempt_period = Duration::from_secs(3600);
    })
    .await?;
    let client = site.browser()?;
    let (_, html) = page(&client, &site, "/").await?;
    let mut csrf = csrf_of(&html)?;
    for _ in 0..3 {
        let response =
            post_credentials(&client, &site, "/connexion", &csrf, MARIE_USERNAME, "guess").await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let next = csrf_of(&response.text().await?)?;
        assert_ne!(next, csrf, "the CSRF token must change after a failure");
        csrf = next;
    }
    // Even the right password waits now, and says how long.
    let response = post_credentials(
        &client,
        &site,
        "/connexion",
        &csrf,
        MARIE_USERNAME,
        MARIE_PASSWORD,
    )
    .await?;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    // Another account is not blocked by Marie's attempts.
    let other = site.browser()?;
    let response = password_login(&other, &site, PIERRE_USERNAME, PIERRE_PASSWORD).await?;
    assert_eq!(location(&response).as_deref(), Some("/compte"));
    Ok(())
}

#[test]
fn concurrent_password_hashes_are_bounded_near_the_cpu_count() -> TestResult {
    let config = DemoConfig::new("https://localhost:8443", "x.sqlite".into(), vec![])?;
    let cpus = std::thread::available_parallelism().map(usize::from)?;
    assert_eq!(config.max_concurrent_password_hashes, cpus);
    Ok(())
}

#[tokio::test]
async fn another_site_cannot_reset_a_login_in_progress() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    let nonce = get_nonce(&client, &site).await?;
    // A cross-site top-level navigation to /api/nonce: the Lax cookie goes along, but not the
    // page script's header.
    let navigation = client
        .get(site.url("/api/nonce"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await?;
    assert_eq!(navigation.status(), StatusCode::FORBIDDEN);
    let token = make_token("marie", &site.origin, &nonce)?;
    let (status, body) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(())
}

#[test]
fn client_text_is_escaped_before_the_log() {
    assert_eq!(
        cpx_demo::web::escape_for_log("refused: `web-eid:9\ncpx-demo: fake line`"),
        "refused: `web-eid:9\\u{a}cpx-demo: fake line`"
    );
    assert_eq!(
        cpx_demo::web::escape_for_log("Médecin \u{202e}evil\u{1b}[2J"),
        "Médecin \\u{202e}evil\\u{1b}[2J"
    );
    // Issue 18 RP item 9: format characters (Cf: zero-width, soft hyphen, BOM, tags) and the
    // line and paragraph separators (Zl, Zp), which some viewers show as line breaks.
    assert_eq!(
        cpx_demo::web::escape_for_log(
            "a\u{2028}b\u{2029}c\u{200b}d\u{ad}e\u{feff}f\u{e0041}g\u{2060}h"
        ),
        "a\\u{2028}b\\u{2029}c\\u{200b}d\\u{ad}e\\u{feff}f\\u{e0041}g\\u{2060}h"
    );
    // Letters, marks and symbols of every script stay readable.
    assert_eq!(
        cpx_demo::web::escape_for_log("Infirmière Ἀθῆναι 医師 e\u{301}"),
        "Infirmière Ἀθῆναι 医師 e\u{301}"
    );
}

#[tokio::test]
async fn test_anchors_need_the_flag() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let mut config = DemoConfig::new(
        "https://localhost:8443",
        workdir.path().join("demo.sqlite"),
        vec![read_fixture("test-ca.der")?],
    )?;
    config.crls_der = vec![read_fixture("test-ca.crl.der")?];
    assert!(matches!(
        AppState::new(config.clone()),
        Err(cpx_demo::AppError::Trust(_))
    ));
    config.allow_test_anchors = true;
    assert!(AppState::new(config).is_ok());
    Ok(())
}

#[tokio::test]
async fn a_ca_without_a_crl_is_refused_and_crls_reload_without_a_restart() -> TestResult {
    let crl_dir = tempfile::tempdir()?;
    let crl_path = crl_dir.path().join("test-ca.crl.der");
    // No CRL and no opt-out: the site does not start (it used to, then refused every card
    // login with ERR_REVOCATION_UNKNOWN).
    let refused = Site::start_with(|config| config.crls_der.clear()).await;
    let message = refused
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("no CRL covers the CA"), "{message}");
    assert!(message.contains("without_crl_for"), "{message}");

    let ca = read_fixture("test-ca.der")?;
    let path = crl_path.clone();
    let site = Site::start_with(move |config| {
        config.crls_der.clear();
        config.no_crl_for_der = vec![ca];
        config.crl_paths = vec![path];
    })
    .await?;
    let (_, body) = card_login(&site.browser()?, &site, "revoked-holder").await?;
    assert_eq!(body["status"], "link_required", "{body}");
    // The file is missing: the reload fails and the CRLs in force stay.
    assert!(site.state.reload_crls_from_disk().is_err());
    std::fs::write(&crl_path, read_fixture("test-ca.crl.der")?)?;
    assert_eq!(site.state.reload_crls_from_disk()?, 1);
    let (status, body) = card_login(&site.browser()?, &site, "revoked-holder").await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "ERR_CERTIFICATE_REVOKED");
    Ok(())
}

#[tokio::test]
async fn a_chain_through_an_intermediate_is_accepted_with_both_crls() -> TestResult {
    // cpx-verify's fixtures: a root, the issuing CA as intermediate, and a card under it.
    let verify_fixture = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../verify/tests/fixtures")
                .join(name),
        )
    };
    let root = verify_fixture("root-ca.der")?;
    let intermediate = verify_fixture("ca.der")?;
    let crls = vec![
        verify_fixture("ca.crl.der")?,
        verify_fixture("root-ca.crl.der")?,
    ];
    let site = Site::start_with(move |config| {
        config.trust_anchors_der = vec![root];
        config.intermediates_der = vec![intermediate];
        config.crls_der = crls;
    })
    .await?;
    let client = site.browser()?;
    let nonce = get_nonce(&client, &site).await?;
    let key = RsaPrivateKey::from_pkcs8_der(&verify_fixture("leaf-valid.key.der")?)?;
    let message = [
        Sha256::digest(site.origin.as_bytes()),
        Sha256::digest(nonce.as_bytes()),
    ]
    .concat();
    let signature = key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&message))?;
    let token = json!({
        "format": "web-eid:1.0",
        "unverifiedCertificate": STANDARD.encode(verify_fixture("leaf-valid.der")?),
        "algorithm": "RS256",
        "signature": STANDARD.encode(signature),
        "appVersion": "https://cpxconnect.org/cpx-connect/releases/0.1.0",
    });
    let (status, body) = post_token(&client, &site, &token).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "link_required");
    Ok(())
}

/// Issue 18 RP item 6: on a shared workstation the cookie must not outlive the browser, and the
/// server ends an idle session whatever the cookie says.
#[tokio::test]
async fn the_session_cookie_ends_with_the_browser_and_idle_sessions_end_on_the_server() -> TestResult
{
    let site =
        Site::start_with(|config| config.session_idle_timeout = Duration::from_secs(2)).await?;
    let client = site.browser()?;
    let first = client.get(site.url("/")).send().await?;
    let cookie = session_cookie_of(&first).ok_or("no session cookie")?;
    let lowered = cookie.to_ascii_lowercase();
    assert!(!lowered.contains("max-age"), "{cookie}");
    assert!(!lowered.contains("expires"), "{cookie}");
    let response = password_login(&client, &site, MARIE_USERNAME, MARIE_PASSWORD).await?;
    assert_eq!(location(&response).as_deref(), Some("/compte"));
    if let Some(renewed) = session_cookie_of(&response) {
        assert!(
            !renewed.to_ascii_lowercase().contains("max-age"),
            "{renewed}"
        );
    }
    // Used within the idle time: still signed in.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = page(&client, &site, "/compte").await?;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = page(&client, &site, "/compte").await?;
    assert_eq!(status, StatusCode::OK, "activity must extend the session");
    // Idle longer than the timeout: the cookie is still in the browser, the session is not.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let response = client.get(site.url("/compte")).send().await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/"));
    Ok(())
}

/// Issue 18 RP item 8: past the per-account burst, an attempt waits its turn rather than being
/// refused, so guesses on an account cannot lock its owner out.
#[tokio::test]
async fn past_the_account_burst_a_login_is_delayed_not_refused() -> TestResult {
    let site = Site::start_with(|config| {
        config.account_attempt_burst = 2;
        config.account_attempt_period = Duration::from_secs(1);
        config.account_max_delay = Duration::from_secs(3);
    })
    .await?;
    for _ in 0..2 {
        let attacker = site.browser_from([127, 0, 0, 9].into())?;
        let response = password_login(&attacker, &site, MARIE_USERNAME, "guess").await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let marie = site.browser()?;
    let started = std::time::Instant::now();
    let response = password_login(&marie, &site, MARIE_USERNAME, MARIE_PASSWORD).await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/compte"));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the attempt was not delayed: {:?}",
        started.elapsed()
    );
    Ok(())
}

/// Issue 18 RP item 8: a username that cannot exist (bad syntax) is never a throttling key,
/// so junk names cannot fill the per-account table or push real accounts out of it.
#[tokio::test]
async fn usernames_of_bad_syntax_are_not_throttling_keys() -> TestResult {
    let site = Site::start().await?;
    let client = site.browser()?;
    for junk in ["a b", "x\u{202e}y", &"z".repeat(65), "<script>"] {
        let response = password_login(&client, &site, junk, "guess").await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(site.state.throttled_accounts(), 0);
    let response = password_login(&client, &site, MARIE_USERNAME, "guess").await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(site.state.throttled_accounts(), 1);
    Ok(())
}

/// Issue 18 RP item 8: X-Forwarded-For is believed only from a configured proxy.
#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_a_trusted_proxy() -> TestResult {
    async fn new_sessions_until_throttled(
        site: &Site,
        forwarded: impl Fn(usize) -> String,
    ) -> Result<usize, common::TestError> {
        for round in 0..6 {
            let visitor = site.browser()?;
            let response = visitor
                .get(site.url("/"))
                .header("x-forwarded-for", forwarded(round))
                .send()
                .await?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                return Ok(round);
            }
        }
        Ok(6)
    }
    let limit = |config: &mut DemoConfig| {
        config.session_creation_burst = 2;
        config.session_creation_period = Duration::from_secs(3600);
    };
    // Off by default: every visitor claiming another address is still 127.0.0.1.
    let site = Site::start_with(limit).await?;
    let made = new_sessions_until_throttled(&site, |round| format!("198.51.100.{round}")).await?;
    assert_eq!(made, 2);
    // Behind a trusted proxy (here 127.0.0.1): each forwarded address is its own client...
    let site = Site::start_with(|config| {
        limit(config);
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap_or([0, 0, 0, 0].into())];
    })
    .await?;
    let made = new_sessions_until_throttled(&site, |round| format!("198.51.100.{round}")).await?;
    assert_eq!(made, 6);
    // ...but an IPv6 /64 is one client, and the entries left of the proxy's are claims.
    let made = new_sessions_until_throttled(&site, |round| {
        format!("203.0.113.{round}, 2001:db8:5:6::{round}")
    })
    .await?;
    assert_eq!(made, 2);
    Ok(())
}
