//! Drives `examples/axum_login.rs` in-process (tower `oneshot`), as a browser would, with tokens
//! from `test_util::sign_test_token`; and checks its HTTP statuses against the README's table.

#[path = "../examples/axum_login.rs"]
#[allow(dead_code)] // its `main` and argument parsing are not used here
mod axum_login;

use axum::body::{to_bytes, Body};
use axum::http::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{Request, StatusCode};
use axum::Router;
use cpx_verify::test_util::{sign_test_token, test_trust_config, TestCard};
use cpx_verify::Validator;
use serde_json::Value;
use tower::ServiceExt;

const ORIGIN_OF_SITE: &str = "https://localhost:8443";

fn site() -> Router {
    let trust = test_trust_config().expect("the test PKI loads");
    let validator = Validator::new(trust, ORIGIN_OF_SITE).expect("a valid origin");
    axum_login::router(validator)
}

struct Answer {
    status: StatusCode,
    session_cookie: Option<String>,
    set_cookie: Option<String>,
    json: Value,
}

async fn send(site: &Router, request: Request<Body>) -> Answer {
    let response = site.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|value| value.to_str().expect("ASCII cookie").to_owned());
    let session_cookie = set_cookie.as_ref().map(|cookie| {
        cookie
            .split(';')
            .next()
            .expect("a name=value pair")
            .to_owned()
    });
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Answer {
        status,
        session_cookie,
        set_cookie,
        json,
    }
}

async fn open_login_page(site: &Router) -> String {
    let page = send(site, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let set_cookie = page.set_cookie.expect("the login page makes the session");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    let cookie = page.session_cookie.expect("a session cookie");
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    // 32 random bytes in unpadded base64url: 43 characters.
    assert_eq!(cookie.len(), "__Host-session=".len() + 43, "{cookie}");
    cookie
}

/// The site, and the session cookie its login page gave the browser.
async fn site_with_a_session() -> (Router, String) {
    let site = site();
    let cookie = open_login_page(&site).await;
    (site, cookie)
}

async fn fetch_nonce(site: &Router, cookie: &str) -> Answer {
    let request = Request::get("/api/nonce")
        .header(COOKIE, cookie)
        .header("X-Requested-With", "cpx-connect")
        .header(ORIGIN, ORIGIN_OF_SITE)
        .body(Body::empty())
        .unwrap();
    send(site, request).await
}

/// A token `card` signs for `origin` over a fresh challenge of the session, as the page library
/// asks for one before each login.
async fn card_token(site: &Router, cookie: &str, origin: &str, card: &TestCard) -> Vec<u8> {
    let answer = fetch_nonce(site, cookie).await;
    let nonce = answer.json["nonce"].as_str().expect("a nonce");
    sign_test_token(origin, nonce, card).unwrap()
}

/// The card login request a browser sends, with the headers a test leaves out or changes: the
/// `Origin` header (`None`: left out) and the content type.
fn login_request(
    cookie: &str,
    origin: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Request<Body> {
    let mut request = Request::post("/api/login/card").header(COOKIE, cookie);
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    request
        .header(CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

async fn post_token(site: &Router, cookie: &str, token: Vec<u8>) -> Answer {
    let request = login_request(cookie, Some(ORIGIN_OF_SITE), "application/json", token);
    send(site, request).await
}

#[tokio::test]
async fn a_test_card_logs_in_and_gets_a_new_session_id() {
    let (site, cookie) = site_with_a_session().await;
    let nonce = fetch_nonce(&site, &cookie).await;
    assert_eq!(nonce.status, StatusCode::OK);
    let nonce = nonce.json["nonce"].as_str().expect("a nonce").to_owned();

    let token = sign_test_token(ORIGIN_OF_SITE, &nonce, &TestCard::valid()).unwrap();
    let login = post_token(&site, &cookie, token.clone()).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.json);
    let identity = &login.json["identity"];
    assert_eq!(identity["id_nat"], "810001234567");
    assert_eq!(identity["surname"], "DUPONT");
    assert_eq!(identity["anchor_id"].as_str().map(str::len), Some(64));
    assert!(identity["not_after"].is_u64(), "{identity}");
    assert!(identity["certificate_der"].is_string(), "{identity}");
    let new_cookie = login.session_cookie.expect("a new session at login");
    assert_ne!(new_cookie, cookie);
    let me = Request::get("/api/me")
        .header(COOKIE, &new_cookie)
        .body(Body::empty())
        .unwrap();
    let me = send(&site, me).await;
    assert_eq!(me.json["id_nat"], "810001234567");
    assert_eq!(me.json["anchor_id"], identity["anchor_id"]);

    // The old session is gone, and the token cannot be replayed in the new one.
    let with_old = post_token(&site, &cookie, token.clone()).await;
    assert_eq!(with_old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(with_old.json["error"], "ERR_SESSION_EXPIRED");
    let replayed = post_token(&site, &new_cookie, token).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replayed.json["error"], "ERR_NONCE_UNKNOWN");
}

#[tokio::test]
async fn refusals_carry_the_code_only() {
    let (site, cookie) = site_with_a_session().await;

    let revoked = card_token(&site, &cookie, ORIGIN_OF_SITE, &TestCard::revoked()).await;
    let answer = post_token(&site, &cookie, revoked).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.json,
        serde_json::json!({"error": "ERR_CERTIFICATE_REVOKED"})
    );

    // A token made on another site's page.
    let elsewhere = card_token(&site, &cookie, "https://evil.example", &TestCard::valid()).await;
    let answer = post_token(&site, &cookie, elsewhere).await;
    assert_eq!(
        answer.json,
        serde_json::json!({"error": "ERR_SIGNATURE_INVALID"})
    );

    // Each refusal spent the session's challenge: a fresh one, then a body that is no token.
    assert_eq!(fetch_nonce(&site, &cookie).await.status, StatusCode::OK);
    let answer = post_token(&site, &cookie, b"not json".to_vec()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json,
        serde_json::json!({"error": "ERR_TOKEN_MALFORMED"})
    );
}

#[tokio::test]
async fn the_nonce_needs_the_header_and_a_session_the_site_made() {
    let (site, cookie) = site_with_a_session().await;

    let without_header = Request::get("/api/nonce")
        .header(COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let answer = send(&site, without_header).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json["error"], "ERR_ORIGIN_MISMATCH");

    let cross_site = Request::get("/api/nonce")
        .header(COOKIE, &cookie)
        .header("X-Requested-With", "cpx-connect")
        .header(ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&site, cross_site).await.status, StatusCode::FORBIDDEN);

    let invented = fetch_nonce(&site, "__Host-session=chosen-by-the-client").await;
    assert_eq!(invented.status, StatusCode::UNAUTHORIZED);
    assert_eq!(invented.json["error"], "ERR_SESSION_EXPIRED");
    assert!(
        invented.set_cookie.is_none(),
        "no session for a JSON request"
    );
}

#[tokio::test]
async fn a_login_needs_our_origin_and_json() {
    let (site, cookie) = site_with_a_session().await;
    let token = card_token(&site, &cookie, ORIGIN_OF_SITE, &TestCard::valid()).await;

    let no_origin = login_request(&cookie, None, "application/json", token.clone());
    assert_eq!(send(&site, no_origin).await.status, StatusCode::FORBIDDEN);

    let form = "application/x-www-form-urlencoded";
    let as_form = login_request(&cookie, Some(ORIGIN_OF_SITE), form, token.clone());
    assert_eq!(
        send(&site, as_form).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    // A body far past any token is not read.
    let huge = vec![b' '; 1 << 20];
    let huge = login_request(&cookie, Some(ORIGIN_OF_SITE), "application/json", huge);
    assert_eq!(
        send(&site, huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // None of these refusals spent the challenge.
    assert_eq!(
        post_token(&site, &cookie, token).await.status,
        StatusCode::OK
    );
}

/// Every row of the README's HTTP table says the status `cpx_verify::http_status` gives, which
/// the example answers with.
#[test]
fn the_example_answers_the_statuses_of_the_readme_table() {
    let readme = include_str!("../README.md");
    let rows = http_table_rows(readme);
    assert!(rows.len() >= 25, "the HTTP table has {} rows", rows.len());
    for (code, status) in rows {
        assert_eq!(
            axum_login::http_status(&code).as_u16(),
            status,
            "{code}: the README and cpx_verify::http_status disagree"
        );
    }
}

/// (code, status) of each row of the table under "### Error codes and HTTP statuses".
fn http_table_rows(readme: &str) -> Vec<(String, u16)> {
    let section = readme
        .split("### Error codes and HTTP statuses")
        .nth(1)
        .expect("the README has the HTTP table");
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.split_whitespace().next()?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect()
}
