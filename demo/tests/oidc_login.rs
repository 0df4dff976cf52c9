//! The demo site as an OpenID Connect client of cpx-idp, both in this process: the site over
//! real HTTPS (its test browser, `common::site`), the provider's router driven with its own
//! test helpers (`idp/tests/common`: the card token made with cpx-verify's `TestCard`). The
//! site reaches the provider (discovery, JWKS, token) through `ProviderHttp::Custom`, which
//! hands each request to that router.

// Both test helper modules (this crate's and the provider's) load the demo's Redis helper
// file, so this one binary holds it twice; nothing here uses Redis.
#![allow(clippy::duplicate_mod)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use cpx_demo::oidc::{OidcConfig, ProviderHttp, ProviderHttpError};
use reqwest::{Client, StatusCode};
use tower::ServiceExt;

mod common;
#[path = "../../idp/tests/common/mod.rs"]
mod idp_common;

use common::site::{page, post_credentials, post_form, Site};
use common::{csrf_of, location, TestError, TestResult, MARIE_PASSWORD, MARIE_USERNAME};
use idp_common::{provider_with, Idp, ISSUER, SECRET};

const CLIENT_ID: &str = "cpx-demo";
const LOGIN_COOKIE: &str = "__Host-cpx-idp-login";
const SESSION_COOKIE: &str = "__Host-cpx-idp-session";

/// Where the site's requests to the provider go: the provider's router, once it is there.
type ProviderSlot = Arc<Mutex<Option<Router>>>;

/// The site, and the provider it is registered at.
struct Both {
    site: Site,
    idp: Idp,
    slot: ProviderSlot,
}

/// Requests of the site to the provider, answered by the provider's router.
fn in_process(slot: ProviderSlot) -> ProviderHttp {
    ProviderHttp::Custom(Arc::new(move |request: axum::http::Request<Vec<u8>>| {
        let slot = Arc::clone(&slot);
        Box::pin(async move {
            let router = slot
                .lock()
                .ok()
                .and_then(|router| router.clone())
                .ok_or_else(|| ProviderHttpError("the provider is not there yet".into()))?;
            let (mut parts, body) = request.into_parts();
            // The router knows paths only; the provider's own origin is its issuer.
            parts.uri = parts
                .uri
                .path_and_query()
                .map(|path| path.as_str())
                .unwrap_or("/")
                .parse()
                .map_err(|error| ProviderHttpError(format!("{error}")))?;
            let answer = router
                .oneshot(axum::http::Request::from_parts(parts, Body::from(body)))
                .await
                .map_err(|error| ProviderHttpError(format!("{error}")))?;
            let (parts, body) = answer.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .map_err(|error| ProviderHttpError(format!("{error}")))?;
            Ok(axum::http::Response::from_parts(parts, bytes.to_vec()))
        })
    }))
}

/// The site's registration at the provider (`idp_common`'s configuration plus this client).
fn demo_client(origin: &str) -> String {
    idp_common::secret_client_entry(
        CLIENT_ID,
        "Démo CPx Connect",
        &format!("{origin}/oidc/retour"),
        &format!("{origin}/"),
        r#""openid", "profile""#,
    )
}

async fn start_with(issuer: &str, http: Option<ProviderHttp>) -> Result<Both, TestError> {
    let slot: ProviderSlot = Arc::new(Mutex::new(None));
    let http = http.unwrap_or_else(|| in_process(Arc::clone(&slot)));
    let mut setup = None;
    let site = Site::start_with(|config| {
        setup = Some(OidcConfig::new(
            issuer,
            CLIENT_ID,
            SECRET,
            &config.origin,
            http,
        ));
        config.oidc = setup
            .as_ref()
            .and_then(|result| result.as_ref().ok())
            .cloned();
    })
    .await?;
    setup.ok_or("no OIDC configuration")??;
    let mut both = Both {
        idp: provider_with("RS256", &demo_client(&site.origin))?,
        site,
        slot,
    };
    both.restart_provider("RS256")?;
    Ok(both)
}

async fn start() -> Result<Both, TestError> {
    start_with(ISSUER, None).await
}

/// The site and its provider, and a new browser.
async fn start_with_a_browser() -> Result<(Both, Client), TestError> {
    let both = start().await?;
    let browser = both.site.browser()?;
    Ok((both, browser))
}

impl Both {
    /// The provider (again): a new one, with new keys of which `active` signs, the same clients.
    fn restart_provider(&mut self, active: &str) -> TestResult {
        self.idp = provider_with(active, &demo_client(&self.site.origin))?;
        let mut slot = self.slot.lock().map_err(|_| "provider slot poisoned")?;
        *slot = Some(self.idp.router.clone());
        Ok(())
    }

    /// The one-button form `action` of the page at `from`, posted with the page's CSRF token.
    async fn submit(
        &self,
        browser: &Client,
        from: &str,
        action: &str,
    ) -> Result<reqwest::Response, TestError> {
        let (_, html) = page(browser, &self.site, from).await?;
        post_form(browser, &self.site, action, &[("csrf", &csrf_of(&html)?)]).await
    }

    /// The button on the login page: the provider's `/authorize` the browser is sent to.
    async fn press_button(&self, browser: &Client) -> Result<url::Url, TestError> {
        let (status, html) = page(browser, &self.site, "/").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Se connecter avec CPx Connect (OpenID Connect)"));
        let response = post_form(
            browser,
            &self.site,
            "/oidc/connexion",
            &[("csrf", &csrf_of(&html)?)],
        )
        .await?;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to = location(&response).ok_or("no redirect to the provider")?;
        let url = url::Url::parse(&to)?;
        assert_eq!(url.origin().ascii_serialization(), ISSUER);
        Ok(url)
    }

    /// The button, then the card at the provider: the URL back to the site, and the provider's
    /// session cookie.
    async fn card_at_provider(&self, browser: &Client) -> Result<(String, String), TestError> {
        let authorize = self.press_button(browser).await?;
        let query: HashMap<String, String> = authorize.query_pairs().into_owned().collect();
        assert_eq!(
            query.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        assert!(query.contains_key("state") && query.contains_key("nonce"));
        let path = &authorize[url::Position::BeforePath..];
        let login = self.idp.get(path, &[]).await?;
        let login_cookie = login.cookie(LOGIN_COOKIE).ok_or("no login transaction")?;
        let done = self
            .idp
            .card_login(&login_cookie, &cpx_verify::test_util::TestCard::valid())
            .await?;
        assert_eq!(done.status, axum::http::StatusCode::OK, "{}", done.body);
        let back = done.json()["redirect"]
            .as_str()
            .ok_or("no redirect back")?
            .to_owned();
        let session = done.cookie(SESSION_COOKIE).ok_or("no provider session")?;
        Ok((back, session))
    }

    /// The whole login through the provider; returns where the site sent the browser and
    /// the provider's session cookie.
    async fn login(&self, browser: &Client) -> Result<(String, String), TestError> {
        let (back, provider_session) = self.card_at_provider(browser).await?;
        assert!(back.starts_with(&self.site.url("/oidc/retour?")), "{back}");
        let response = browser.get(&back).send().await?;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Ok((
            location(&response).ok_or("no redirect after the return")?,
            provider_session,
        ))
    }

    /// The first login of the holder: through the provider, then the link step with Marie's
    /// account. Returns the provider's session cookie.
    async fn first_login(&self, browser: &Client) -> Result<String, TestError> {
        let (to, provider_session) = self.login(browser).await?;
        assert_eq!(to, "/lier");
        let (status, html) = page(browser, &self.site, "/lier").await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("(OpenID Connect)"), "{html}");
        let linked = post_credentials(
            browser,
            &self.site,
            "/lier",
            &csrf_of(&html)?,
            MARIE_USERNAME,
            MARIE_PASSWORD,
        )
        .await?;
        assert_eq!(linked.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&linked).as_deref(), Some("/compte"));
        Ok(provider_session)
    }

    /// The flash of the login page after a refused or cancelled return.
    async fn login_page_notice(&self, browser: &Client) -> Result<String, TestError> {
        let (_, html) = page(browser, &self.site, "/").await?;
        Ok(html)
    }
}

#[tokio::test]
async fn first_login_links_then_the_next_goes_straight_in() -> TestResult {
    let (both, browser) = start_with_a_browser().await?;
    both.first_login(&browser).await?;
    let (status, html) = page(&browser, &both.site, "/compte").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Marie Dupont"));
    // The account page says how the card reaches it now.
    assert!(
        html.contains(&format!("<code>{ISSUER}</code> a vérifié")),
        "{html}"
    );
    assert!(!html.contains("Aucune carte CPS n&#39;est associée"));

    // Another browser, the same holder: no linking step.
    let other = both.site.browser()?;
    let (to, _) = both.login(&other).await?;
    assert_eq!(to, "/compte");
    let (_, html) = page(&other, &both.site, "/compte").await?;
    assert!(html.contains("Marie Dupont"));
    assert!(html.contains("Vous êtes connecté avec CPx Connect"));
    Ok(())
}

/// The provider's answer `back` with `key` set to `value`, or removed when `value` is `None`.
fn answer_with(back: &str, key: &str, value: Option<&str>) -> Result<String, TestError> {
    let mut url = url::Url::parse(back)?;
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(name, _)| name != key)
        .collect();
    if let Some(value) = value {
        pairs.push((key.to_owned(), value.to_owned()));
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
    Ok(url.into())
}

#[tokio::test]
async fn an_answer_with_another_state_or_issuer_or_none_is_refused() -> TestResult {
    let (both, browser) = start_with_a_browser().await?;
    for (case, key, value) in [
        ("a state of another login", "state", Some("x")),
        // RFC 9207: a mix-up, the answer of another provider.
        ("another issuer", "iss", Some("https://other-idp.example")),
        // cpx-idp's discovery says it names itself (2.4: then a missing iss is refused).
        ("no issuer", "iss", None),
    ] {
        let (back, _) = both.card_at_provider(&browser).await?;
        assert!(back.contains("iss="), "cpx-idp names itself: {back}");
        let tampered = answer_with(&back, key, value)?;
        let response = browser.get(&tampered).send().await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert!(response.text().await?.contains("a été refusée"), "{case}");
        // Nothing signed in, and the login under way is spent: the genuine answer is refused too.
        let (status, _) = page(&browser, &both.site, "/compte").await?;
        assert_eq!(status, StatusCode::SEE_OTHER, "{case}");
        let replay = browser.get(&back).send().await?;
        assert_eq!(location(&replay).as_deref(), Some("/"), "{case}");
        assert!(
            both.login_page_notice(&browser)
                .await?
                .contains("Aucune connexion par CPx Connect"),
            "{case}"
        );
    }
    // The genuine answer of a new login still signs in.
    let (to, _) = both.login(&browser).await?;
    assert_eq!(to, "/lier");
    Ok(())
}

#[tokio::test]
async fn cancel_at_the_provider_comes_back_with_a_french_message() -> TestResult {
    let (both, browser) = start_with_a_browser().await?;
    let authorize = both.press_button(&browser).await?;
    let login = both
        .idp
        .get(&authorize[url::Position::BeforePath..], &[])
        .await?;
    let login_cookie = login.cookie(LOGIN_COOKIE).ok_or("no login transaction")?;
    // « Annuler » on the provider's login page: its form, with the page's CSRF token.
    let provider_page = both.idp.login_page(&login_cookie).await?;
    let csrf = idp_common::csrf_of(&provider_page.body);
    let cancelled = both.idp.cancel_login(&login_cookie, &csrf).await?;
    let back = cancelled.location().ok_or("no redirect after cancel")?;
    assert!(back.contains("error=access_denied"), "{back}");
    let response = browser.get(&back).send().await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/"));
    let html = both.login_page_notice(&browser).await?;
    assert!(html.contains("Connexion annulée"), "{html}");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_provider_gives_a_clear_page() -> TestResult {
    // Over the network, to a port nothing listens on any more.
    let issuer = format!("https://localhost:{}", common::free_port()?);
    let both = start_with(&issuer, Some(ProviderHttp::network(None)?)).await?;
    let browser = both.site.browser()?;
    let response = both.submit(&browser, "/", "/oidc/connexion").await?;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await?.contains("ne répond pas"));
    // The rest of the site is unharmed.
    let (status, _) = page(&browser, &both.site, "/").await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn logout_ends_the_provider_session_too() -> TestResult {
    let (both, browser) = start_with_a_browser().await?;
    let provider_session = both.first_login(&browser).await?;
    let response = both.submit(&browser, "/compte", "/deconnexion").await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = url::Url::parse(&location(&response).ok_or("no logout redirect")?)?;
    let query: HashMap<String, String> = end_session.query_pairs().into_owned().collect();
    assert!(query.contains_key("id_token_hint"));
    assert_eq!(
        query.get("post_logout_redirect_uri"),
        Some(&both.site.url("/"))
    );
    // This site's session is over already.
    let (status, _) = page(&browser, &both.site, "/compte").await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The provider ends its own and sends the browser back.
    let ended = both
        .idp
        .get_in_session(&end_session[url::Position::BeforePath..], &provider_session)
        .await?;
    assert_eq!(ended.location(), Some(both.site.url("/")));
    // Its session is gone: a silent login (prompt=none) with the old cookie is refused.
    let silent = both
        .idp
        .authorize_in_session("&prompt=none", &provider_session)
        .await?;
    assert_eq!(silent.redirect_error().as_deref(), Some("login_required"));
    Ok(())
}

#[tokio::test]
async fn the_button_is_there_only_with_a_provider() -> TestResult {
    let (both, browser) = start_with_a_browser().await?;
    let response = browser.get(both.site.url("/")).send().await?;
    // The button's form leads to the provider (and so does the logout's): form-action allows it.
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {ISSUER}")),
        "{csp}"
    );
    assert!(response.text().await?.contains("oidc-login-button"));

    let plain = Site::start().await?;
    let browser = plain.browser()?;
    let (_, html) = page(&browser, &plain, "/").await?;
    assert!(!html.contains("oidc-login-button"));
    assert!(!html.contains("OpenID Connect"));
    let response = post_form(
        &browser,
        &plain,
        "/oidc/connexion",
        &[("csrf", &csrf_of(&html)?)],
    )
    .await?;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn new_provider_keys_are_fetched_again() -> TestResult {
    let mut both = start().await?;
    let browser = both.site.browser()?;
    // The first login keeps the discovery and the JWKS (RS256 keys).
    both.first_login(&browser).await?;
    // The provider comes back with new keys, ES256 active: the kept JWKS cannot check its ID
    // tokens, the site fetches the keys again and the holder goes straight in.
    both.restart_provider("ES256")?;
    let other = both.site.browser()?;
    let (to, _) = both.login(&other).await?;
    assert_eq!(to, "/compte");
    Ok(())
}
