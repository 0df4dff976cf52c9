//! The flood of issue 18 (RP item 1): "GET /, then /api/nonce" in a loop, from one client and
//! then from many (loopback addresses 127.0.0.x), while a legitimate user logs in by card.
//! Bounded in count and time for CI; `CPX_FLOOD_ROUNDS` makes it longer (scripts/flood.sh in
//! this crate runs the long version and prints the figures).

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::site::Site;
use common::{csrf_of, make_token, TestError, TestResult, MARIE_PASSWORD, MARIE_USERNAME};
use reqwest::header::SET_COOKIE;
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// What a flood saw.
#[derive(Debug, Default)]
struct FloodOutcome {
    rounds: usize,
    nonces: usize,
    throttled: usize,
    store_full: usize,
    other: Vec<StatusCode>,
}

fn rounds() -> usize {
    std::env::var("CPX_FLOOD_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(150)
}

/// `rounds` times, or until `budget` is spent: a fresh visitor (no cookie) loads the login
/// page, then asks for a challenge with the session it got.
async fn flood(
    site: &Site,
    from: IpAddr,
    rounds: usize,
    budget: Duration,
) -> Result<FloodOutcome, TestError> {
    // No cookie jar: every round is a new visitor; the session cookie is sent by hand.
    let client = Client::builder()
        .local_address(from)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", site_address(site)?)
        .build()?;
    let deadline = Instant::now() + budget;
    let mut outcome = FloodOutcome::default();
    while outcome.rounds < rounds && Instant::now() < deadline {
        outcome.rounds += 1;
        let page = client.get(site.url("/")).send().await?;
        let cookie = page
            .headers()
            .get(SET_COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(str::to_owned);
        match page.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                outcome.throttled += 1;
                continue;
            }
            other => {
                outcome.other.push(other);
                continue;
            }
        }
        let Some(cookie) = cookie else {
            outcome.other.push(StatusCode::OK);
            continue;
        };
        let answer = client
            .get(site.url("/api/nonce"))
            .header("cookie", cookie)
            .header("x-requested-with", "cpx-connect")
            .send()
            .await?;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or_default();
        match status {
            StatusCode::OK => outcome.nonces += 1,
            StatusCode::TOO_MANY_REQUESTS => outcome.throttled += 1,
            _ if body["code"] == "ERR_NONCE_STORE_FULL" => outcome.store_full += 1,
            other => outcome.other.push(other),
        }
    }
    Ok(outcome)
}

fn site_address(site: &Site) -> Result<std::net::SocketAddr, TestError> {
    let port: u16 = site.origin.rsplit(':').next().unwrap_or_default().parse()?;
    Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Marie links her card once (password), so that a card login alone logs her in.
async fn link_marie(site: &Site) -> TestResult {
    let client = site.browser_from(IpAddr::from([127, 0, 1, 1]))?;
    let (status, body) = card_login(site, &client).await?;
    assert_eq!(body["status"], "link_required", "{status} {body}");
    let html = client.get(site.url("/lier")).send().await?.text().await?;
    let csrf = csrf_of(&html)?;
    let linked = client
        .post(site.url("/lier"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", MARIE_USERNAME),
            ("password", MARIE_PASSWORD),
        ])
        .send()
        .await?;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    Ok(())
}

/// One click on the card button: login page, challenge, token.
async fn card_login(site: &Site, client: &Client) -> Result<(StatusCode, Value), TestError> {
    let nonce = common::fetch_nonce(client, &site.origin).await?;
    let token = make_token("marie", &site.origin, &nonce)?;
    common::post_card_token(client, &site.origin, &site.origin, &token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sessions_and_challenges_blocks_no_login() -> TestResult {
    let site = Site::start_with(|config| {
        config.max_anonymous_sessions = 60;
        config.max_signed_in_sessions = 20;
    })
    .await?;
    link_marie(&site).await?;
    let rounds = rounds();
    let started = Instant::now();

    // One client floods while Marie, elsewhere, clicks the card button.
    let flooding = flood(
        &site,
        IpAddr::from([127, 0, 0, 1]),
        rounds,
        Duration::from_secs(60),
    );
    let marie = site.browser_from(IpAddr::from([127, 0, 0, 2]))?;
    let (one, (status, body)) = tokio::try_join!(flooding, card_login(&site, &marie))?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "logged_in", "{body}");
    assert!(one.throttled > 0, "one client was never throttled: {one:?}");
    let burst = usize::try_from(site.state.config().session_creation_burst)?;
    assert!(one.nonces <= burst + 2, "{one:?}");
    assert_eq!(one.store_full, 0, "{one:?}");
    assert!(one.other.is_empty(), "{one:?}");

    // Now many clients (127.0.0.10...), together past the anonymous-session cap.
    let mut many = FloodOutcome::default();
    for last in 10..20u8 {
        let outcome = flood(
            &site,
            IpAddr::from([127, 0, 0, last]),
            rounds / 5,
            Duration::from_secs(30),
        )
        .await?;
        many.rounds += outcome.rounds;
        many.nonces += outcome.nonces;
        many.throttled += outcome.throttled;
        many.store_full += outcome.store_full;
        many.other.extend(outcome.other);
    }
    assert!(
        many.nonces > 60,
        "the flood did not pass the session cap: {many:?}"
    );
    assert_eq!(many.store_full, 0, "{many:?}");
    let (anonymous, signed_in) = site.state.session_counts();
    let challenges = site.state.cards().outstanding_nonces();
    assert!(
        challenges <= usize::try_from(anonymous + signed_in)?,
        "{challenges} challenges for {anonymous} + {signed_in} sessions"
    );

    // And Marie still logs in, from a fresh browser.
    let marie = site.browser_from(IpAddr::from([127, 0, 0, 3]))?;
    let (status, body) = card_login(&site, &marie).await?;
    assert_eq!(body["status"], "logged_in", "{status} {body}");
    eprintln!(
        "flood: one client {one:?}; many clients {many:?}; {anonymous} anonymous sessions, \
         {challenges} challenges held; {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
