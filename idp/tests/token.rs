//! `/token`: each client authentication method, each error code RFC 6749 §5.2 names, and the
//! code's rules (single use, bound to its client, redirect URI and PKCE; a second
//! presentation revokes what it gave).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use cpx_idp::store::{Kind, MemoryStore, Store, StoreError};
use serde_json::json;
use tokio::sync::Notify;

type StoreResult<T> = Result<T, StoreError>;

/// A code for `site`, fresh from a card login.
async fn site_code(idp: &Idp) -> Result<String, Error> {
    let (params, _) = idp.login(&site_query("")).await?;
    Ok(params.get("code").cloned().ok_or("no code")?)
}

/// The default provider and a fresh code of `site` on it.
async fn provider_with_a_code() -> Result<(Idp, String), Error> {
    let idp = provider()?;
    let code = site_code(&idp).await?;
    Ok((idp, code))
}

async fn userinfo_status(idp: &Idp, access_token: &str) -> Result<StatusCode, Error> {
    Ok(idp.userinfo(access_token).await?.status)
}

/// The code's form with `client_secret_post` credentials of `site`.
fn secret_post_form(code: &str) -> String {
    format!(
        "{}&client_id=site&client_secret={}",
        code_form(code, REDIRECT),
        urlencode(SECRET)
    )
}

fn assert_invalid_client(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.json()["error"], "invalid_client");
    assert!(answer.header("www-authenticate").starts_with("Basic"));
    assert_eq!(answer.header("cache-control"), "no-store");
}

#[tokio::test]
async fn a_wrong_secret_or_an_unknown_client_is_invalid_client_401() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let form = code_form(&code, REDIRECT);
    assert_invalid_client(&idp.token_basic("site", "wrong-secret", &form).await?);
    assert_invalid_client(&idp.token_basic("nobody", SECRET, &form).await?);
    assert_invalid_client(&idp.token_form(&form).await?);
    // A secret for the private_key_jwt client is another method than it registered.
    assert_invalid_client(&idp.token_basic("jwt-site", SECRET, &form).await?);
    Ok(())
}

#[tokio::test]
async fn client_secret_post_is_accepted() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let form = secret_post_form(&code);
    let answer = idp.token_form(&form).await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    Ok(())
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_invalid_request() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let form = secret_post_form(&code);
    let answer = idp.token_basic("site", SECRET, &form).await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_request");
    Ok(())
}

#[tokio::test]
async fn another_grant_type_is_unsupported_grant_type() -> TestResult {
    let idp = provider()?;
    let answer = idp
        .token_basic("site", SECRET, "grant_type=refresh_token&refresh_token=x")
        .await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "unsupported_grant_type");
    let answer = idp.token_basic("site", SECRET, "code=x").await?;
    assert_eq!(answer.json()["error"], "invalid_request");
    Ok(())
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_is_invalid_grant_and_spends_the_code() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let wrong_verifier = code_form(&code, REDIRECT).replace(VERIFIER, &"A".repeat(43));
    let answer = idp.token_basic("site", SECRET, &wrong_verifier).await?;
    assert_eq!(answer.json()["error"], "invalid_grant");
    // Taken by the failed attempt: the right verifier comes too late.
    let answer = idp
        .token_basic("site", SECRET, &code_form(&code, REDIRECT))
        .await?;
    assert_eq!(answer.json()["error"], "invalid_grant");

    let code = site_code(&idp).await?;
    let answer = idp
        .token_basic("site", SECRET, &code_form(&code, "https://site.test/other"))
        .await?;
    assert_eq!(answer.json()["error"], "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn a_code_of_another_client_is_invalid_grant() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let answer = idp
        .token_basic("pairwise-site", SECRET, &code_form(&code, REDIRECT))
        .await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn a_code_presented_twice_fails_and_revokes_its_access_token() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let form = code_form(&code, REDIRECT);
    let first = idp.token_basic("site", SECRET, &form).await?;
    assert_eq!(first.status, StatusCode::OK);
    let access = first.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(userinfo_status(&idp, &access).await?, StatusCode::OK);
    let second = idp.token_basic("site", SECRET, &form).await?;
    assert_eq!(second.json()["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&idp, &access).await?,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_give_one_token() -> TestResult {
    let (idp, code) = provider_with_a_code().await?;
    let form = code_form(&code, REDIRECT);
    let (a, b) = tokio::join!(
        idp.token_basic("site", SECRET, &form),
        idp.token_basic("site", SECRET, &form)
    );
    let statuses = [a?.status, b?.status];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    Ok(())
}

/// A memory store that holds the first redemption between taking its code and writing what
/// it gives, until the test lets it go.
struct PausingStore {
    inner: MemoryStore,
    armed: AtomicBool,
    reached: Notify,
    resume: Notify,
}

#[async_trait::async_trait]
impl Store for PausingStore {
    async fn put(&self, kind: Kind, key: &str, value: String, ttl: Duration) -> StoreResult<()> {
        if kind == Kind::AccessToken && self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.resume.notified().await;
        }
        self.inner.put(kind, key, value, ttl).await
    }
    async fn get(&self, kind: Kind, key: &str) -> StoreResult<Option<String>> {
        self.inner.get(kind, key).await
    }
    async fn take(&self, kind: Kind, key: &str) -> StoreResult<Option<String>> {
        self.inner.take(kind, key).await
    }
    async fn delete(&self, kind: Kind, key: &str) -> StoreResult<()> {
        self.inner.delete(kind, key).await
    }
    async fn insert_new(&self, kind: Kind, key: &str, ttl: Duration) -> StoreResult<bool> {
        self.inner.insert_new(kind, key, ttl).await
    }
}

/// The code stolen and presented while the site's own redemption is still under way: the
/// second request finds no code and nothing redeemed yet to revoke. The redemption under way
/// must then give nothing (before, it gave a working access token and an ID token).
#[tokio::test]
async fn a_code_presented_again_during_its_redemption_gives_nothing() -> TestResult {
    let store = Arc::new(PausingStore {
        inner: MemoryStore::default(),
        armed: AtomicBool::new(false),
        reached: Notify::new(),
        resume: Notify::new(),
    });
    let idp = Arc::new(provider_with_store(store.clone())?);
    let code = site_code(&idp).await?;
    let form = code_form(&code, REDIRECT);
    store.armed.store(true, Ordering::SeqCst);
    let first = tokio::spawn({
        let (idp, form) = (idp.clone(), form.clone());
        async move {
            let answer = idp.token_basic("site", SECRET, &form).await;
            answer
                .map(|a| (a.status, a.json()))
                .map_err(|e| e.to_string())
        }
    });
    store.reached.notified().await;
    let second = idp.token_basic("site", SECRET, &form).await?;
    assert_eq!(second.json()["error"], "invalid_grant");
    store.resume.notify_one();
    let (status, body) = first.await??;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(body.get("id_token").is_none() && body.get("access_token").is_none());
    Ok(())
}

// ---- private_key_jwt ----

fn assertion_claims(aud: &str, jti: &str, exp: u64) -> serde_json::Value {
    json!({ "iss": "jwt-site", "sub": "jwt-site", "aud": aud, "jti": jti, "exp": exp, "iat": now() })
}

async fn jwt_code(idp: &Idp) -> Result<String, Error> {
    let query = site_query("")
        .replace("client_id=site", "client_id=jwt-site")
        .replace(&urlencode(REDIRECT), &urlencode(OTHER_REDIRECT))
        .replace("scope=openid%20profile", "scope=openid");
    let (params, _) = idp.login(&query).await?;
    Ok(params.get("code").cloned().ok_or("no code")?)
}

fn jwt_form(code: &str, assertion: &str) -> String {
    format!(
        "{}&client_assertion_type={}&client_assertion={assertion}",
        code_form(code, OTHER_REDIRECT),
        urlencode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    )
}

#[tokio::test]
async fn private_key_jwt_is_accepted_once_per_jti() -> TestResult {
    let idp = provider()?;
    let code = jwt_code(&idp).await?;
    let assertion = client_assertion(&assertion_claims(
        &format!("{ISSUER}/token"),
        "jti-1",
        now() + 60,
    ));
    let answer = idp.token_form(&jwt_form(&code, &assertion)).await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let jwks = idp.get("/jwks", &[]).await?.json();
    let claims = verify_id_token(
        answer.json()["id_token"].as_str().unwrap_or_default(),
        &jwks,
    )?;
    assert_eq!(claims["aud"], "jwt-site");
    // The same assertion again (a replay): refused whatever the code.
    let code = jwt_code(&idp).await?;
    assert_invalid_client(&idp.token_form(&jwt_form(&code, &assertion)).await?);
    Ok(())
}

#[tokio::test]
async fn a_bad_assertion_is_invalid_client() -> TestResult {
    let idp = provider()?;
    let code = jwt_code(&idp).await?;
    let token_endpoint = format!("{ISSUER}/token");
    let bad = [
        assertion_claims("https://elsewhere.test/token", "a", now() + 60),
        assertion_claims(&token_endpoint, "b", now().saturating_sub(5)),
        assertion_claims(&token_endpoint, "c", now() + 3600),
        json!({ "iss": "jwt-site", "sub": "site", "aud": token_endpoint, "jti": "d", "exp": now() + 60 }),
        json!({ "iss": "jwt-site", "sub": "jwt-site", "aud": token_endpoint, "exp": now() + 60 }),
    ];
    for claims in bad {
        let answer = idp
            .token_form(&jwt_form(&code, &client_assertion(&claims)))
            .await?;
        assert_invalid_client(&answer);
    }
    // A signature by another key.
    let assertion = client_assertion(&assertion_claims(&token_endpoint, "e", now() + 60));
    let mut parts: Vec<&str> = assertion.split('.').collect();
    let forged = b64(&[7u8; 64]);
    parts[2] = &forged;
    assert_invalid_client(&idp.token_form(&jwt_form(&code, &parts.join("."))).await?);
    // The issuer as audience is accepted too (RFC 7523 allows it), and the code was not spent.
    let assertion = client_assertion(&assertion_claims(ISSUER, "f", now() + 60));
    let answer = idp.token_form(&jwt_form(&code, &assertion)).await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    Ok(())
}

/// A `/token` request of `site` with a wrong secret.
async fn with_a_wrong_secret(idp: &Idp) -> Result<Answer, Error> {
    idp.token_basic("site", "wrong", "grant_type=authorization_code")
        .await
}

/// `times` requests with a wrong secret, each refused for the secret (401), none throttled.
async fn assert_wrong_secrets_get_401(idp: &Idp, times: usize) -> TestResult {
    for _ in 0..times {
        assert_eq!(
            with_a_wrong_secret(idp).await?.status,
            StatusCode::UNAUTHORIZED
        );
    }
    Ok(())
}

#[tokio::test]
async fn too_many_token_requests_of_one_client_meet_429() -> TestResult {
    let idp = provider_with_limits("client_burst = 2\nclient_period_ms = 60000\n")?;
    assert_wrong_secrets_get_401(&idp, 2).await?;
    let answer = with_a_wrong_secret(&idp).await?;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

/// A site's server redeems every code from one address: the per-address limit of the
/// browser-facing endpoints does not apply to it.
#[tokio::test]
async fn the_token_endpoint_is_not_limited_per_address() -> TestResult {
    let idp = provider_with_limits("address_burst = 1\naddress_period_ms = 60000\n")?;
    assert_wrong_secrets_get_401(&idp, 3).await
}

// ---- private_key_jwt, the client's keys at a URL (jwks_uri) ----

/// The site's key server: serves whatever key set the test puts in, and counts its fetches.
struct KeyServer {
    url: String,
    jwks: Arc<std::sync::Mutex<serde_json::Value>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl KeyServer {
    async fn start(jwks: serde_json::Value) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/jwks", listener.local_addr()?);
        let jwks = Arc::new(std::sync::Mutex::new(jwks));
        let fetches = Arc::new(AtomicUsize::new(0));
        let served = (jwks.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (jwks, fetches) = served.clone();
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let body = jwks.lock().map(|jwks| jwks.to_string()).unwrap_or_default();
                    ([("content-type", "application/json")], body)
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            jwks,
            fetches,
            task,
        })
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn serve(&self, jwks: serde_json::Value) {
        if let Ok(mut served) = self.jwks.lock() {
            *served = jwks;
        }
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const URL_SITE_REDIRECT: &str = "https://url-site.test/cb";

/// The provider with the client `url-site`, whose keys are at `jwks_uri`.
fn provider_with_url_client(jwks_uri: &str, refetch_ms: u64) -> Result<Idp, Error> {
    provider_with(
        "RS256",
        &format!(
            r#"
[[clients]]
client_id = "url-site"
jwks_uri = "{jwks_uri}"
redirect_uris = ["{URL_SITE_REDIRECT}"]
scopes = ["openid"]

[limits]
jwks_refetch_ms = {refetch_ms}
"#
        ),
    )
}

/// A key server holding the key `client-1`, and the provider with `url-site` reading it.
async fn provider_fetching_client_1(refetch_ms: u64) -> Result<(KeyServer, Idp), Error> {
    let server = KeyServer::start(json!({ "keys": [ec_jwk(client_key(), "client-1")] })).await?;
    let idp = provider_with_url_client(&server.url, refetch_ms)?;
    Ok((server, idp))
}

/// A card login for `url-site`, then `/token` with an assertion signed by `key` as `kid`.
async fn url_site_token(
    idp: &Idp,
    key: &p256::ecdsa::SigningKey,
    kid: &str,
    jti: &str,
) -> Result<Answer, Error> {
    let query = site_query("")
        .replace("client_id=site", "client_id=url-site")
        .replace(&urlencode(REDIRECT), &urlencode(URL_SITE_REDIRECT))
        .replace("scope=openid%20profile", "scope=openid");
    let (params, _) = idp.login(&query).await?;
    let code = params.get("code").cloned().ok_or("no code")?;
    let claims = json!({
        "iss": "url-site", "sub": "url-site", "aud": format!("{ISSUER}/token"),
        "jti": jti, "exp": now() + 60, "iat": now(),
    });
    let form = format!(
        "{}&client_assertion_type={}&client_assertion={}",
        code_form(&code, URL_SITE_REDIRECT),
        urlencode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        client_assertion_by(key, kid, &claims)
    );
    idp.token_form(&form).await
}

#[tokio::test]
async fn keys_at_a_url_are_fetched_once_kept_and_follow_a_rotation() -> TestResult {
    let (server, idp) = provider_fetching_client_1(0).await?;
    let first = url_site_token(&idp, client_key(), "client-1", "u1").await?;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let second = url_site_token(&idp, client_key(), "client-1", "u2").await?;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(
        server.fetches(),
        1,
        "known keys are kept, not fetched per request"
    );

    // The site rotates: its new key is fetched when an assertion first names it.
    let new_key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    server.serve(json!({ "keys": [ec_jwk(&new_key, "client-2")] }));
    let rotated = url_site_token(&idp, &new_key, "client-2", "u3").await?;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(server.fetches(), 2);
    // And the key it withdrew no longer signs for it.
    let old = url_site_token(&idp, client_key(), "client-1", "u4").await?;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.body);
    assert_eq!(old.json()["error"], "invalid_client");
    Ok(())
}

#[tokio::test]
async fn made_up_key_ids_do_not_make_the_provider_hammer_the_site() -> TestResult {
    // The default: at most one fetch per client every 30 s.
    let (server, idp) = provider_fetching_client_1(30_000).await?;
    let first = url_site_token(&idp, client_key(), "client-1", "m0").await?;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    for attempt in 1..=4 {
        let forger = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let kid = format!("made-up-{attempt}");
        let answer = url_site_token(&idp, &forger, &kid, &format!("m{attempt}")).await?;
        assert_eq!(answer.json()["error"], "invalid_client", "{}", answer.body);
    }
    assert_eq!(server.fetches(), 1);
    Ok(())
}

#[tokio::test]
async fn a_key_server_that_cannot_be_reached_is_invalid_client() -> TestResult {
    // A port nothing listens on any more.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        format!("http://{}/jwks", listener.local_addr()?)
    };
    let idp = provider_with_url_client(&closed, 0)?;
    let answer = url_site_token(&idp, client_key(), "client-1", "c1").await?;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.json()["error"], "invalid_client");
    assert!(answer.json()["error_description"]
        .as_str()
        .is_some_and(|text| text.contains("keys could not be fetched")));
    Ok(())
}

#[tokio::test]
async fn a_key_server_that_answers_no_key_set_is_invalid_client() -> TestResult {
    let server = KeyServer::start(json!({ "keys": [] })).await?;
    let idp = provider_with_url_client(&server.url, 0)?;
    for body in [json!({ "keys": [] }), json!("not a key set")] {
        server.serve(body);
        let answer = url_site_token(&idp, client_key(), "client-1", "n1").await?;
        assert_eq!(answer.json()["error"], "invalid_client", "{}", answer.body);
    }
    Ok(())
}
