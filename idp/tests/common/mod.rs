//! The provider in-process for tests: a configuration on the test PKI of cpx-verify's
//! `test-util`, the router driven with `oneshot`, the browser's and the site's steps, and an
//! independent check of ID tokens (rsa/p256 directly, not the provider's own JOSE code).
#![allow(dead_code)]

/// The demo's private redis-server per test (the same helper, not a copy).
#[path = "../../../demo/tests/common/redis.rs"]
pub mod redis;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cpx_idp::store::{Challenges, MemoryStore, Store};
use cpx_idp::web::TRANSACTION_LIFETIME;
use cpx_idp::{build_router, KeySet, Provider, ProviderConfig};
use cpx_verify::test_util::{
    sign_test_token, TestCard, TEST_ISSUING_CA_CRL_DER, TEST_ISSUING_CA_DER, TEST_ROOT_CA_CRL_DER,
    TEST_ROOT_CA_DER,
};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Error = Box<dyn std::error::Error>;
/// The name the demo's Redis helper uses.
pub type TestError = Error;

pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Under `CI=true` nothing is skipped: a missing redis-server fails the test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

pub const ISSUER: &str = "https://idp.test";
pub const SECRET: &str = "a-long-random-client-secret-for-tests-0123456789";
pub const REDIRECT: &str = "https://site.test/callback";
pub const OTHER_REDIRECT: &str = "https://other.test/cb";
pub const LOGOUT_BACK: &str = "https://site.test/bye";
/// A PKCE verifier and its S256 challenge (`pkce_test_values_agree` checks the pair).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kXB3qwvdkKKhP4e3c0Lbk7xPsRo";
pub const CHALLENGE: &str = "AVJNNlaSK9la_UuX24kn2fzaShDHyq8KNUFHHwMwfvI";

/// One RSA key for every test (2048-bit generation is the slow part).
fn rsa_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .ok()
            .and_then(|key| key.to_pkcs8_pem(LineEnding::LF).ok())
            .map(|pem| pem.to_string())
            .unwrap_or_default()
    })
}

/// The private_key_jwt client's key.
pub fn client_key() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Writes the files a configuration names into `dir`: both signing keys (which one signs is
/// the configuration's choice, `config_text`), the test CAs and their CRLs, client-1's JWKS.
pub fn write_files(dir: &Path) -> Result<(), Error> {
    std::fs::write(dir.join("rs.pem"), rsa_pem())?;
    let ec = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    std::fs::write(
        dir.join("es.pem"),
        ec.to_pkcs8_pem(LineEnding::LF)?.as_bytes(),
    )?;
    std::fs::write(dir.join("root.der"), TEST_ROOT_CA_DER)?;
    std::fs::write(dir.join("issuing.der"), TEST_ISSUING_CA_DER)?;
    std::fs::write(dir.join("issuing.crl.der"), TEST_ISSUING_CA_CRL_DER)?;
    std::fs::write(dir.join("root.crl.der"), TEST_ROOT_CA_CRL_DER)?;
    let jwks = serde_json::json!({ "keys": [ec_jwk(client_key(), "client-1")] });
    std::fs::write(dir.join("client-jwks.json"), jwks.to_string())?;
    Ok(())
}

pub fn config_text(active: &str, extra: &str) -> String {
    let (rs_active, es_active) = if active == "ES256" {
        (false, true)
    } else {
        (true, false)
    };
    format!(
        r#"
issuer = "{ISSUER}"
listen = "127.0.0.1:0"
subject_secret = "a-secret-of-more-than-32-characters-for-pairwise"

[[signing_keys]]
kid = "rs-1"
file = "rs.pem"
algorithm = "RS256"
active = {rs_active}

[[signing_keys]]
kid = "es-1"
file = "es.pem"
algorithm = "ES256"
active = {es_active}

[trust]
anchors = ["root.der"]
intermediates = ["issuing.der"]
crls = ["issuing.crl.der", "root.crl.der"]
allow_test_anchors = true
{site}
[[clients]]
client_id = "jwt-site"
jwks_file = "client-jwks.json"
redirect_uris = ["{OTHER_REDIRECT}"]
scopes = ["openid"]
subject = "pairwise"

[[clients]]
client_id = "pairwise-site"
secret_sha256 = "{secret}"
redirect_uris = ["https://pairwise.test/cb"]
subject = "pairwise"
{extra}
"#,
        site = secret_client_entry(
            "site",
            "Site de test",
            REDIRECT,
            LOGOUT_BACK,
            r#""openid", "profile", "scope_all""#
        ),
        secret = sha256_hex(SECRET)
    )
}

/// A `[[clients]]` entry of a site authenticated with the test `SECRET`, with one redirect
/// URI, one post-logout URI and `scopes` (the items of the TOML array).
pub fn secret_client_entry(
    client_id: &str,
    name: &str,
    redirect_uri: &str,
    post_logout_uri: &str,
    scopes: &str,
) -> String {
    format!(
        r#"
[[clients]]
client_id = "{client_id}"
name = "{name}"
secret_sha256 = "{secret}"
redirect_uris = ["{redirect_uri}"]
post_logout_redirect_uris = ["{post_logout_uri}"]
scopes = [{scopes}]
"#,
        secret = sha256_hex(SECRET)
    )
}

pub struct Idp {
    pub router: Router,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

pub fn provider_with(active: &str, extra: &str) -> Result<Idp, Error> {
    provider_from_text(&config_text(active, extra))
}

/// From a whole configuration text (the files of `write_files` beside it).
pub fn provider_from_text(text: &str) -> Result<Idp, Error> {
    Ok(provider_and_handle(text, |_| Ok(()))?.0)
}

/// The default configuration on the given store.
pub fn provider_with_store(store: Arc<dyn Store>) -> Result<Idp, Error> {
    let text = config_text("RS256", "");
    Ok(provider_on(&text, |_| Ok(()), Some(store))?.0)
}

/// The same, with the provider's handle (for what runs beside the requests) and `prepare`
/// called on the folder of the files before they are read.
pub fn provider_and_handle(
    text: &str,
    prepare: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<(Idp, std::sync::Arc<Provider>), Error> {
    provider_on(text, prepare, None)
}

/// On `store`, or in memory.
fn provider_on(
    text: &str,
    prepare: impl FnOnce(&Path) -> Result<(), Error>,
    store: Option<Arc<dyn Store>>,
) -> Result<(Idp, std::sync::Arc<Provider>), Error> {
    let dir = tempfile::tempdir()?;
    write_files(dir.path())?;
    prepare(dir.path())?;
    let config = ProviderConfig::parse(text, dir.path())?;
    let keys = KeySet::load(&config.signing_keys)?;
    let store = store.unwrap_or_else(|| Arc::new(MemoryStore::default()));
    let challenges = Challenges::in_memory(TRANSACTION_LIFETIME);
    let provider = std::sync::Arc::new(Provider::new(config, keys, store, challenges)?);
    let idp = Idp {
        router: build_router(provider.clone()),
        _dir: std::sync::Arc::new(dir),
    };
    Ok((idp, provider))
}

/// `count` instances of one provider sharing the store `[store]` in `text` names (Redis), as
/// processes behind a load balancer: one configuration and key set, each its own connections,
/// limits and memory.
pub async fn instances_from_text(text: &str, count: usize) -> Result<Vec<Idp>, Error> {
    let dir = std::sync::Arc::new(tempfile::tempdir()?);
    write_files(dir.path())?;
    let config = ProviderConfig::parse(text, dir.path())?;
    let mut instances = Vec::new();
    for _ in 0..count {
        let keys = KeySet::load(&config.signing_keys)?;
        let provider = Provider::open(config.clone(), keys).await?;
        instances.push(Idp {
            router: build_router(provider),
            _dir: dir.clone(),
        });
    }
    Ok(instances)
}

/// `cpx-idp serve` on the configuration `text` (files of `write_files` beside it), for a start
/// that must stop: its exit status and standard error. The binary is the caller's
/// `env!("CARGO_BIN_EXE_cpx-idp")`: this module is shared with the demo's tests, which have none.
pub fn serve_refused(binary: &str, text: &str) -> Result<std::process::Output, Error> {
    let dir = tempfile::tempdir()?;
    write_files(dir.path())?;
    let path = dir.path().join("idp.toml");
    std::fs::write(&path, text)?;
    Ok(std::process::Command::new(binary)
        .args(["serve", "--config"])
        .arg(&path)
        .output()?)
}

/// The same, for a start that must stop as the binary's refusals do: exit status 2 and one
/// line on standard error, which is returned.
pub fn serve_refused_in_one_line(binary: &str, text: &str) -> Result<String, Error> {
    let output = serve_refused(binary, text)?;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    Ok(stderr)
}

/// The `[store]` entry for the Redis at `url`.
pub fn redis_store_entry(url: &str) -> String {
    format!("\n[store]\nurl = \"{url}\"\n")
}

pub fn provider() -> Result<Idp, Error> {
    provider_with("RS256", "")
}

/// The default provider with the `[limits]` entries `limits` (one `key = value` a line).
pub fn provider_with_limits(limits: &str) -> Result<Idp, Error> {
    provider_with("RS256", &format!("[limits]\n{limits}"))
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn location(&self) -> Option<String> {
        self.headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }

    /// The value a `Set-Cookie` gives `name` (not a removal).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| text.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, value)| *key == name && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// A successful `/login/card` answer: the parameters of the redirect back to the site and
    /// the provider's session cookie.
    pub fn logged_in(&self) -> Result<(HashMap<String, String>, String), Error> {
        if self.status != StatusCode::OK {
            return Err(format!("card login: {} {}", self.status, self.body).into());
        }
        let redirect = self.json()["redirect"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let params = url::Url::parse(&redirect)?
            .query_pairs()
            .into_owned()
            .collect();
        let session = self
            .cookie("__Host-cpx-idp-session")
            .ok_or("no session cookie")?;
        Ok((params, session))
    }

    /// The `error` parameter of the redirect, if any.
    pub fn redirect_error(&self) -> Option<String> {
        self.redirect_params().get("error").cloned()
    }

    /// The query parameters of the redirect.
    pub fn redirect_params(&self) -> HashMap<String, String> {
        self.location()
            .and_then(|location| url::Url::parse(&location).ok())
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }
}

impl Idp {
    pub async fn send(&self, request: Request<Body>) -> Result<Answer, Error> {
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    pub async fn get(&self, uri: &str, cookies: &[(&str, &str)]) -> Result<Answer, Error> {
        let mut request = Request::get(uri);
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookie_header(cookies));
        }
        self.send(request.body(Body::empty())?).await
    }

    /// `/token` with `client_secret_basic`.
    pub async fn token_basic(
        &self,
        client_id: &str,
        secret: &str,
        form: &str,
    ) -> Result<Answer, Error> {
        let credentials = STANDARD.encode(format!("{client_id}:{secret}"));
        self.send(
            Request::post("/token")
                .header(AUTHORIZATION, format!("Basic {credentials}"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))?,
        )
        .await
    }

    pub async fn token_form(&self, form: &str) -> Result<Answer, Error> {
        self.send(
            Request::post("/token")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))?,
        )
        .await
    }

    /// The browser at the login page with a card: challenge, token, post. Returns the answer
    /// of `/login/card`.
    pub async fn card_login(&self, login_cookie: &str, card: &TestCard) -> Result<Answer, Error> {
        self.card_login_with(login_cookie, card, None).await
    }

    /// The same from a browser that also holds the provider's session cookie `session`.
    pub async fn card_login_with(
        &self,
        login_cookie: &str,
        card: &TestCard,
        session: Option<&str>,
    ) -> Result<Answer, Error> {
        let mut cookies = vec![("__Host-cpx-idp-login", login_cookie)];
        if let Some(session) = session {
            cookies.push(("__Host-cpx-idp-session", session));
        }
        let (csrf, nonce) = self.challenge(login_cookie).await?;
        let token = sign_test_token(ISSUER, &nonce, card)?;
        self.post_card(&cookies, &csrf, token).await
    }

    /// The login page's CSRF token, then the challenge the card signs, as the login script
    /// asks for them: (csrf, nonce).
    pub async fn challenge(&self, login_cookie: &str) -> Result<(String, String), Error> {
        let csrf = csrf_of(&self.login_page(login_cookie).await?.body);
        let challenge = self
            .send(
                Request::get("/login/challenge")
                    .header(
                        COOKIE,
                        cookie_header(&[("__Host-cpx-idp-login", login_cookie)]),
                    )
                    .header("x-requested-with", "cpx-connect")
                    .header("x-csrf-token", &csrf)
                    .body(Body::empty())?,
            )
            .await?;
        let nonce = challenge.json()["nonce"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((csrf, nonce))
    }

    /// `body` posted to `/login/card` as the login script posts a token.
    pub async fn post_card(
        &self,
        cookies: &[(&str, &str)],
        csrf: &str,
        body: impl Into<Body>,
    ) -> Result<Answer, Error> {
        self.post_card_from(ISSUER, cookies, csrf, body).await
    }

    /// The same from a page of `origin` (the `Origin` header the browser sends).
    pub async fn post_card_from(
        &self,
        origin: &str,
        cookies: &[(&str, &str)],
        csrf: &str,
        body: impl Into<Body>,
    ) -> Result<Answer, Error> {
        self.send(
            Request::post("/login/card")
                .header(COOKIE, cookie_header(cookies))
                .header("origin", origin)
                .header("x-requested-with", "cpx-connect")
                .header("x-csrf-token", csrf)
                .header(CONTENT_TYPE, "application/json")
                .body(body.into())?,
        )
        .await
    }

    /// `/authorize` with `query` from a browser without a session: the login cookie.
    pub async fn start_login(&self, query: &str) -> Result<String, Error> {
        let authorize = self.get(&format!("/authorize?{query}"), &[]).await?;
        Ok(authorize
            .cookie("__Host-cpx-idp-login")
            .ok_or("no login cookie")?)
    }

    /// `/authorize` with `query`, then the card login: the redirect URL back to the site and
    /// the provider's session cookie.
    pub async fn login(&self, query: &str) -> Result<(HashMap<String, String>, String), Error> {
        let login_cookie = self.start_login(query).await?;
        self.card_login(&login_cookie, &TestCard::valid())
            .await?
            .logged_in()
    }

    /// A card login at `site` with its standard request: the provider's session cookie.
    pub async fn signed_in_session(&self) -> Result<String, Error> {
        Ok(self.login(&site_query("")).await?.1)
    }

    /// Whether the provider's session `session` still answers `prompt=none` with a code.
    pub async fn session_alive(&self, session: &str) -> Result<bool, Error> {
        let answer = self.authorize_in_session("&prompt=none", session).await?;
        Ok(answer.redirect_params().contains_key("code"))
    }

    /// `/userinfo` with the access token `access` as a bearer token.
    pub async fn userinfo(&self, access: &str) -> Result<Answer, Error> {
        self.send(
            Request::get("/userinfo")
                .header(AUTHORIZATION, format!("Bearer {access}"))
                .body(Body::empty())?,
        )
        .await
    }

    /// `/authorize` with the site's standard request and `extra` (`site_query`), from a
    /// browser holding the provider's session `session`.
    pub async fn authorize_in_session(&self, extra: &str, session: &str) -> Result<Answer, Error> {
        let uri = format!("/authorize?{}", site_query(extra));
        self.get_in_session(&uri, session).await
    }

    /// `uri` from a browser holding only the provider's session cookie `session`.
    pub async fn get_in_session(&self, uri: &str, session: &str) -> Result<Answer, Error> {
        self.get(uri, &[("__Host-cpx-idp-session", session)]).await
    }

    /// The login page, for the browser holding the login cookie `login_cookie`.
    pub async fn login_page(&self, login_cookie: &str) -> Result<Answer, Error> {
        self.get("/login", &[("__Host-cpx-idp-login", login_cookie)])
            .await
    }

    /// The login page's « Annuler » form, posted with `csrf`.
    pub async fn cancel_login(&self, login_cookie: &str, csrf: &str) -> Result<Answer, Error> {
        self.send(
            Request::post("/login/cancel")
                .header(
                    COOKIE,
                    cookie_header(&[("__Host-cpx-idp-login", login_cookie)]),
                )
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={csrf}")))?,
        )
        .await
    }

    /// The same, asked in the languages of the header `accept_language`.
    pub async fn login_page_in(
        &self,
        login_cookie: &str,
        accept_language: &str,
    ) -> Result<Answer, Error> {
        self.send(
            Request::get("/login")
                .header(
                    COOKIE,
                    cookie_header(&[("__Host-cpx-idp-login", login_cookie)]),
                )
                .header("accept-language", accept_language)
                .body(Body::empty())?,
        )
        .await
    }

    /// The code redeemed by `client_id` (with the test secret) and its ID token checked
    /// against the provider's JWKS with `verify_id_token`: the token's claims.
    pub async fn id_token_claims(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Value, Error> {
        let tokens = self
            .token_basic(client_id, SECRET, &code_form(code, redirect_uri))
            .await?
            .json();
        let jwks = self.get("/jwks", &[]).await?.json();
        verify_id_token(tokens["id_token"].as_str().unwrap_or_default(), &jwks)
    }
}

pub fn cookie_header(cookies: &[(&str, &str)]) -> String {
    cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn csrf_of(html: &str) -> String {
    html.split("data-csrf=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// A standard request of the site `site`.
pub fn site_query(extra: &str) -> String {
    format!(
        "response_type=code&client_id=site&redirect_uri={}&scope=openid%20profile&state=st-1&nonce=n-1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(REDIRECT)
    )
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn code_form(code: &str, redirect_uri: &str) -> String {
    format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(code),
        urlencode(redirect_uri)
    )
}

/// The ID token's claims if its signature verifies with the JWKS key its `kid` names; the
/// check is made here with the rsa and p256 crates, not with the provider's code.
pub fn verify_id_token(id_token: &str, jwks: &Value) -> Result<Value, Error> {
    use p256::ecdsa::signature::Verifier;
    let parts: Vec<&str> = id_token.split('.').collect();
    if parts.len() != 3 {
        return Err("not a compact JWS".into());
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0])?)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1])?)?;
    let signature = URL_SAFE_NO_PAD.decode(parts[2])?;
    let input = format!("{}.{}", parts[0], parts[1]);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["kid"] == kid))
        .ok_or("kid not in the JWKS")?;
    let field = |name: &str| -> Result<Vec<u8>, Error> {
        Ok(URL_SAFE_NO_PAD.decode(jwk[name].as_str().ok_or("jwk field")?)?)
    };
    match header["alg"].as_str() {
        Some("RS256") => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&field("n")?),
                rsa::BigUint::from_bytes_be(&field("e")?),
            )?;
            let digest = Sha256::digest(input.as_bytes());
            key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)?;
        }
        Some("ES256") => {
            let point = [&[0x04][..], &field("x")?, &field("y")?].concat();
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)?;
            let signature = p256::ecdsa::Signature::from_slice(&signature)?;
            key.verify(input.as_bytes(), &signature)?;
        }
        other => return Err(format!("unexpected alg {other:?}").into()),
    }
    Ok(claims)
}

/// The public JWK of a client's P-256 key.
pub fn ec_jwk(key: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid,
        "x": b64(point.x().map(|x| &x[..]).unwrap_or_default()),
        "y": b64(point.y().map(|y| &y[..]).unwrap_or_default()),
    })
}

/// A `private_key_jwt` assertion of the client `jwt-site`, signed ES256.
pub fn client_assertion(claims: &Value) -> String {
    client_assertion_by(client_key(), "client-1", claims)
}

/// A `private_key_jwt` assertion signed ES256 with `key`, named `kid`.
pub fn client_assertion_by(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    use p256::ecdsa::signature::Signer;
    let header = serde_json::json!({ "alg": "ES256", "kid": kid, "typ": "JWT" });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default()
}
