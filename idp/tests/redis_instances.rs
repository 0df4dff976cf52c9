//! Two instances of the provider on one real Redis (a private `redis-server` per test, as the
//! demo's tests start it): what one instance issues, the other honours exactly once; a login
//! started on one is finished on the other; a Redis that goes away gives the spec's answers.

mod common;

use axum::http::StatusCode;
use common::redis::{Redis, RedisOptions};
use common::*;
use cpx_verify::test_util::TestCard;

/// Two instances on `redis`.
async fn pair(redis: &Redis) -> Result<(Idp, Idp), Error> {
    let text = config_text("RS256", &redis_store_entry(&redis.url()));
    let mut instances = instances_from_text(&text, 2).await?.into_iter();
    match (instances.next(), instances.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("two instances expected".into()),
    }
}

/// A fresh redis-server and two instances on it; `None` when redis-server is missing outside
/// CI (the test is skipped; under `CI=true` it fails).
async fn pair_on_new_redis() -> Result<Option<(Redis, Idp, Idp)>, Error> {
    let Some(redis) = Redis::start()? else {
        return Ok(None);
    };
    let (a, b) = pair(&redis).await?;
    Ok(Some((redis, a, b)))
}

/// The token form for the code of a login's redirect.
fn code_form_of(params: &std::collections::HashMap<String, String>) -> Result<String, Error> {
    Ok(code_form(params.get("code").ok_or("no code")?, REDIRECT))
}

async fn userinfo_status(idp: &Idp, access_token: &str) -> Result<StatusCode, Error> {
    let answer = idp
        .send(
            axum::http::Request::get("/userinfo")
                .header("authorization", format!("Bearer {access_token}"))
                .body(axum::body::Body::empty())?,
        )
        .await?;
    Ok(answer.status)
}

#[tokio::test]
async fn a_code_issued_by_a_is_redeemed_once_at_b_and_a_second_use_revokes() -> TestResult {
    let Some((redis, a, b)) = pair_on_new_redis().await? else {
        return Ok(());
    };
    let (params, _) = a.login(&site_query("")).await?;
    let code = params.get("code").ok_or("no code")?;

    let redeemed = b
        .token_basic("site", SECRET, &code_form(code, REDIRECT))
        .await?;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.body);
    let access_token = redeemed.json()["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_owned();
    assert_eq!(userinfo_status(&a, &access_token).await?, StatusCode::OK);

    let again = a
        .token_basic("site", SECRET, &code_form(code, REDIRECT))
        .await?;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");
    // The second presentation revoked what the first gave, on every instance.
    assert_eq!(
        userinfo_status(&a, &access_token).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo_status(&b, &access_token).await?,
        StatusCode::UNAUTHORIZED
    );
    // Keys are digests under the issuer's prefix: the code itself is nowhere in Redis.
    let keys = redis.raw_command(&["KEYS", "*"])?;
    assert!(keys.contains("cpx-idp:https://idp.test:"), "{keys}");
    assert!(!keys.contains(code.as_str()), "{keys}");
    Ok(())
}

/// One code sent to A and B at once is a code presented twice: at most one of them gets
/// tokens, the other `invalid_grant`, and what was given is revoked by the other presentation
/// (or never leaves, when the other came while it was being given: token.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_sent_to_a_and_b_at_once_gives_no_lasting_access() -> TestResult {
    let Some((_redis, a, b)) = pair_on_new_redis().await? else {
        return Ok(());
    };
    for _ in 0..10 {
        let (params, _) = a.login(&site_query("")).await?;
        let form = code_form_of(&params)?;
        let (at_a, at_b) = tokio::join!(
            a.token_basic("site", SECRET, &form),
            b.token_basic("site", SECRET, &form)
        );
        let (at_a, at_b) = (at_a?, at_b?);
        let answers = [&at_a, &at_b];
        let given: Vec<_> = answers
            .iter()
            .filter(|answer| answer.status == StatusCode::OK)
            .collect();
        assert!(given.len() <= 1, "{} / {}", at_a.body, at_b.body);
        for refused in answers
            .iter()
            .filter(|answer| answer.status != StatusCode::OK)
        {
            assert_eq!(refused.json()["error"], "invalid_grant", "{}", refused.body);
        }
        for answer in given {
            let access_token = answer.json()["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for instance in [&a, &b] {
                let status = userinfo_status(instance, &access_token).await?;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", answer.body);
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_login_started_at_a_is_finished_at_b_and_its_session_ends_everywhere() -> TestResult {
    let Some((_redis, a, b)) = pair_on_new_redis().await? else {
        return Ok(());
    };
    // /authorize, the login page and the challenge at A; the card's answer posted to B.
    let login_cookie = a.start_login(&site_query("")).await?;
    let (csrf, nonce) = a.challenge(&login_cookie).await?;
    assert!(!nonce.is_empty());
    let token = cpx_verify::test_util::sign_test_token(ISSUER, &nonce, &TestCard::valid())?;
    let done = b
        .post_card(&[("__Host-cpx-idp-login", &login_cookie)], &csrf, token)
        .await?;
    let (params, session) = done.logged_in()?;
    let tokens = a
        .token_basic("site", SECRET, &code_form_of(&params)?)
        .await?;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);

    // Single sign-on: the session made at B answers prompt=none at A.
    assert!(a.session_alive(&session).await?);
    // Logout at B (with the ID token as hint) ends it at A too.
    let id_token = tokens.json()["id_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let logout = b
        .get_in_session(&format!("/logout?id_token_hint={id_token}"), &session)
        .await?;
    assert!(logout.status.is_success() || logout.status.is_redirection());
    assert!(!a.session_alive(&session).await?);
    assert!(!b.session_alive(&session).await?);
    Ok(())
}

#[tokio::test]
async fn two_issuers_share_one_redis_without_seeing_each_other() -> TestResult {
    let Some((redis, a, _)) = pair_on_new_redis().await? else {
        return Ok(());
    };
    // Same clients, same secret, another issuer.
    let other_text = config_text("RS256", &redis_store_entry(&redis.url())).replace(
        "issuer = \"https://idp.test\"",
        "issuer = \"https://idp2.test\"",
    );
    let other = instances_from_text(&other_text, 1)
        .await?
        .pop()
        .ok_or("no instance")?;
    let (params, _) = a.login(&site_query("")).await?;
    let form = code_form_of(&params)?;
    let elsewhere = other.token_basic("site", SECRET, &form).await?;
    assert_eq!(elsewhere.json()["error"], "invalid_grant");
    let here = a.token_basic("site", SECRET, &form).await?;
    assert_eq!(here.status, StatusCode::OK, "{}", here.body);
    Ok(())
}

#[tokio::test]
async fn a_redis_gone_while_running_gives_the_spec_s_answers_and_no_replay() -> TestResult {
    let Some((mut redis, a, b)) = pair_on_new_redis().await? else {
        return Ok(());
    };
    let (params, session) = a.login(&site_query("")).await?;
    let first = code_form_of(&params)?;
    let tokens = a.token_basic("site", SECRET, &first).await?.json();
    let id_token = tokens["id_token"].as_str().unwrap_or_default().to_owned();
    let (params, _) = a.login(&site_query("")).await?;
    let form = code_form_of(&params)?;
    let login_cookie = a.start_login(&site_query("")).await?;
    let (csrf, _) = a.challenge(&login_cookie).await?;

    redis.stop();
    let token = b.token_basic("site", SECRET, &form).await?;
    assert_eq!(token.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(token.json()["error"], "temporarily_unavailable");
    assert_eq!(token.header("cache-control"), "no-store");
    let authorize = b
        .get(&format!("/authorize?{}", site_query("")), &[])
        .await?;
    assert_eq!(
        authorize.redirect_error().as_deref(),
        Some("temporarily_unavailable"),
        "{:?}",
        authorize.location()
    );
    // With a session cookie, the session cannot be read: not "login_required", unavailable.
    let silent = b.authorize_in_session("&prompt=none", &session).await?;
    assert_eq!(
        silent.redirect_error().as_deref(),
        Some("temporarily_unavailable")
    );
    let page = b
        .get("/login", &[("__Host-cpx-idp-login", &login_cookie)])
        .await?;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    let card = b
        .post_card(&[("__Host-cpx-idp-login", &login_cookie)], &csrf, "{}")
        .await?;
    assert_eq!(card.status, StatusCode::SERVICE_UNAVAILABLE);
    // A logout that cannot end the session in the store says so, not "logged out".
    let logout = b
        .get_in_session(&format!("/logout?id_token_hint={id_token}"), &session)
        .await?;
    assert_eq!(logout.status, StatusCode::SERVICE_UNAVAILABLE);
    // Without a hint the holder is asked, from the session: unreadable, so 503, not "logged out".
    let asked = b.get_in_session("/logout", &session).await?;
    assert_eq!(asked.status, StatusCode::SERVICE_UNAVAILABLE);

    // Redis back (empty: no persistence): the connection comes back by itself; the code kept
    // in the Redis that went away is gone, never redeemable twice.
    redis.spawn()?;
    let mut again = b.token_basic("site", SECRET, &form).await?;
    for _ in 0..50 {
        if again.status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        again = b.token_basic("site", SECRET, &form).await?;
    }
    assert_eq!(again.json()["error"], "invalid_grant", "{}", again.body);
    // A's connections learn of the restart at their first command (one 503), then reconnect.
    let mut login = a.login(&site_query("")).await;
    for _ in 0..50 {
        if login.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        login = a.login(&site_query("")).await;
    }
    let (params, _) = login?;
    let fresh = code_form_of(&params)?;
    let redeemed = b.token_basic("site", SECRET, &fresh).await?;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.body);
    Ok(())
}

#[tokio::test]
async fn a_password_protected_redis_is_used_with_auth() -> TestResult {
    let Some(redis) = Redis::start_with(RedisOptions {
        password: Some("idp-secret".to_owned()),
        args: Vec::new(),
    })?
    else {
        return Ok(());
    };
    let without = redis.url().replace(":idp-secret@", "");
    let refused = instances_from_text(&config_text("RS256", &redis_store_entry(&without)), 1).await;
    assert!(refused.is_err(), "a Redis needing AUTH was used without");
    let (a, b) = pair(&redis).await?;
    let (params, _) = a.login(&site_query("")).await?;
    let form = code_form_of(&params)?;
    let redeemed = b.token_basic("site", SECRET, &form).await?;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.body);
    Ok(())
}

/// The binary: a Redis that does not answer stops the start with one line naming the entry.
#[test]
fn an_unreachable_redis_stops_the_start_with_one_line() -> TestResult {
    let nobody = format!("redis://127.0.0.1:{}/0", free_port()?);
    let stderr = serve_refused_in_one_line(
        env!("CARGO_BIN_EXE_cpx-idp"),
        &config_text("RS256", &redis_store_entry(&nobody)),
    )?;
    assert!(stderr.contains("store.url: Redis unreachable"), "{stderr}");
    Ok(())
}

/// PEM text of one DER object (`label`: CERTIFICATE, PRIVATE KEY), as redis-server reads it.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .filter_map(|line| std::str::from_utf8(line).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn a_rediss_store_with_its_ca_and_a_password_serves_two_instances() -> TestResult {
    // A self-signed certificate for 127.0.0.1 (the demo server's maker): its own CA.
    let identity = cpx_web::server::self_signed_identity("https://127.0.0.1")?;
    let workdir = tempfile::tempdir()?;
    let file = |name: &str| workdir.path().join(name).display().to_string();
    let certificate = pem("CERTIFICATE", &identity.certificate_der);
    std::fs::write(file("redis.pem"), &certificate)?;
    std::fs::write(
        file("redis.key"),
        pem("PRIVATE KEY", &identity.private_key_pkcs8_der),
    )?;
    let tls_port = free_port()?;
    let tls = |flag: &str, value: String| [format!("--tls-{flag}"), value];
    let args = [
        tls("port", tls_port.to_string()),
        tls("cert-file", file("redis.pem")),
        tls("key-file", file("redis.key")),
        tls("ca-cert-file", file("redis.pem")),
        tls("auth-clients", "no".to_owned()),
    ]
    .concat();
    let Some(_redis) = Redis::start_with(RedisOptions {
        password: Some("over-tls".to_owned()),
        args,
    })?
    else {
        return Ok(());
    };
    let url = format!("rediss://:over-tls@127.0.0.1:{tls_port}/0");
    // Without the CA the server's certificate is not trusted: the start is refused.
    let untrusted = instances_from_text(&config_text("RS256", &redis_store_entry(&url)), 1).await;
    assert!(
        untrusted.is_err(),
        "an untrusted Redis certificate was accepted"
    );

    let store = format!(
        "{}ca_file = \"{}\"\n",
        redis_store_entry(&url),
        file("redis.pem")
    );
    let mut instances = instances_from_text(&config_text("RS256", &store), 2).await?;
    let (b, a) = (
        instances.pop().ok_or("no b")?,
        instances.pop().ok_or("no a")?,
    );
    let (params, _) = a.login(&site_query("")).await?;
    let redeemed = b
        .token_basic("site", SECRET, &code_form_of(&params)?)
        .await?;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.body);
    Ok(())
}

/// Each command of the Redis store, on a real Redis: what the memory store's unit tests check.
#[tokio::test]
async fn the_redis_store_keeps_the_store_contract() -> TestResult {
    use cpx_idp::store::{Kind, RedisStore, Store};
    use std::time::Duration;
    let Some(redis) = Redis::start()? else {
        return Ok(());
    };
    let store = RedisStore::connect(&redis.url(), None, ISSUER).await?;
    let minute = Duration::from_secs(60);
    store.put(Kind::Code, "k", "v".into(), minute).await?;
    assert_eq!(store.get(Kind::Transaction, "k").await?, None);
    assert_eq!(store.get(Kind::Code, "k").await?.as_deref(), Some("v"));
    assert_eq!(store.take(Kind::Code, "k").await?.as_deref(), Some("v"));
    assert_eq!(store.take(Kind::Code, "k").await?, None);
    assert!(store.insert_new(Kind::UsedJti, "j", minute).await?);
    assert!(!store.insert_new(Kind::UsedJti, "j", minute).await?);
    store.put(Kind::Session, "s", "1".into(), minute).await?;
    store.delete(Kind::Session, "s").await?;
    assert_eq!(store.get(Kind::Session, "s").await?, None);
    // Redis expires: a millisecond's entry is soon gone.
    store
        .put(Kind::Code, "short", "v".into(), Duration::from_millis(1))
        .await?;
    let mut gone = false;
    for _ in 0..100 {
        if store.get(Kind::Code, "short").await?.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone);
    // Every key has a TTL (evictable under volatile-ttl, gone when its use is over).
    let ttl = redis.raw_command(&["PTTL", "cpx-idp:https://idp.test:jti:j"])?;
    let ttl: i64 = ttl.trim().trim_start_matches(':').parse()?;
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    Ok(())
}
