//! Several instances of the site sharing one Redis (issue 12): a challenge issued by one is
//! accepted by another, a token logs in once whatever the number of instances it is sent to,
//! a Redis restart gives clear errors and no replay, an unreachable Redis stops the start.
//!
//! Needs `redis-server` (Debian package, installed by scripts/setup.sh); each test starts its
//! own on a free port with no persistence. Without it the tests are skipped on a developer
//! machine, and fail under CI=true.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cpx_demo::{build_router, server, AppState, DemoConfig};
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

mod common;

use common::redis::Redis;
use common::{csrf_of, fixture, free_port, make_token, read_fixture, TestResult};

/// One instance of the site on its own port; all instances share the origin (the load
/// balancer's), the Redis and the account database.
struct Instance {
    url: String,
    handle: axum_server::Handle<SocketAddr>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

struct Cluster {
    origin: String,
    instances: Vec<Instance>,
    _workdir: tempfile::TempDir,
}

impl Cluster {
    async fn start(redis: &Redis, count: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let workdir = tempfile::tempdir()?;
        let listeners = (0..count)
            .map(|_| server::bind("127.0.0.1:0".parse()?).map_err(Into::into))
            .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
        let origin = format!("https://localhost:{}", listeners[0].local_addr()?.port());
        let mut instances = Vec::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            let port = listener.local_addr()?.port();
            let mut config = DemoConfig::new(
                &origin,
                workdir.path().join("demo.sqlite"),
                vec![read_fixture("test-ca.der")?],
            )?;
            config.crls_der = vec![read_fixture("test-ca.crl.der")?];
            config.allow_test_anchors = true;
            config.store_url = Some(redis.url());
            let state = AppState::connect(config).await?;
            if index == 0 {
                state
                    .store()
                    .create_account("marie.dupont", "Marie Dupont", "demo1234")?;
            }
            let identity = server::self_signed_identity(&origin)?;
            let handle = axum_server::Handle::new();
            let router = build_router(state);
            let server_handle = handle.clone();
            tokio::spawn(async move {
                let _ = server::serve(listener, router, &identity, server_handle).await;
            });
            instances.push(Instance {
                url: format!("https://localhost:{port}"),
                handle,
            });
        }
        Ok(Cluster {
            origin,
            instances,
            _workdir: workdir,
        })
    }

    /// A browser: one cookie jar for every instance (cookies do not depend on the port).
    fn browser(&self) -> Result<Client, Box<dyn std::error::Error>> {
        Ok(Client::builder()
            .cookie_store(true)
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
            .timeout(Duration::from_secs(20))
            .build()?)
    }

    fn url(&self, instance: usize, path: &str) -> String {
        format!("{}{path}", self.instances[instance].url)
    }
}

/// The login page then a challenge, both from `instance`.
async fn nonce_from(
    cluster: &Cluster,
    client: &Client,
    instance: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    client.get(cluster.url(instance, "/")).send().await?;
    let response = client
        .get(cluster.url(instance, "/api/nonce"))
        .header("x-requested-with", "cpx-connect")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await?;
    Ok(body["nonce"].as_str().ok_or("no nonce")?.to_owned())
}

async fn post_token(
    cluster: &Cluster,
    client: &Client,
    instance: usize,
    token: &Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let response = client
        .post(cluster.url(instance, "/api/login/card"))
        .header(ORIGIN, &cluster.origin)
        .header(CONTENT_TYPE, "application/json")
        .body(token.to_string())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(json!({ "text": text })),
    ))
}

/// Links Marie's card through instance 0, so that later card logins log in.
async fn link_marie(cluster: &Cluster) -> TestResult {
    let client = cluster.browser()?;
    let nonce = nonce_from(cluster, &client, 0).await?;
    let (status, body) = post_token(
        cluster,
        &client,
        0,
        &make_token("marie", &cluster.origin, &nonce)?,
    )
    .await?;
    assert_eq!(body["status"], "link_required", "{status} {body}");
    let html = client
        .get(cluster.url(0, "/lier"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = csrf_of(&html)?;
    let linked = client
        .post(cluster.url(0, "/lier"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "marie.dupont"),
            ("password", "demo1234"),
        ])
        .send()
        .await?;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_issued_by_one_instance_is_accepted_by_another() -> TestResult {
    let Some(redis) = Redis::start()? else {
        return Ok(());
    };
    let cluster = Cluster::start(&redis, 2).await?;
    let client = cluster.browser()?;
    let nonce = nonce_from(&cluster, &client, 0).await?;
    let token = make_token("marie", &cluster.origin, &nonce)?;
    let (status, body) = post_token(&cluster, &client, 1, &token).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "link_required");
    // The session (with its pending card) is shared too.
    let response = client.get(cluster.url(0, "/lier")).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    // And spent everywhere: the same token again, on either instance, is refused.
    for instance in [0, 1] {
        let (status, _) = post_token(&cluster, &client, instance, &token).await?;
        assert_ne!(status, StatusCode::OK);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_sent_to_two_instances_at_once_logs_in_exactly_once() -> TestResult {
    let Some(redis) = Redis::start()? else {
        return Ok(());
    };
    let cluster = Cluster::start(&redis, 2).await?;
    link_marie(&cluster).await?;
    for round in 0..25 {
        let client = cluster.browser()?;
        let nonce = nonce_from(&cluster, &client, round % 2).await?;
        let token = make_token("marie", &cluster.origin, &nonce)?;
        let (a, b) = tokio::join!(
            post_token(&cluster, &client, 0, &token),
            post_token(&cluster, &client, 1, &token)
        );
        let logged_in = [a?, b?]
            .iter()
            .filter(|(status, body)| *status == StatusCode::OK && body["status"] == "logged_in")
            .count();
        assert_eq!(logged_in, 1, "round {round}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_gives_clear_errors_and_no_replay() -> TestResult {
    let Some(mut redis) = Redis::start()? else {
        return Ok(());
    };
    let cluster = Cluster::start(&redis, 2).await?;
    link_marie(&cluster).await?;
    let client = cluster.browser()?;
    let nonce = nonce_from(&cluster, &client, 0).await?;
    let token = make_token("marie", &cluster.origin, &nonce)?;

    redis.stop();
    let (status, body) = post_token(&cluster, &client, 1, &token).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let page = client.get(cluster.url(0, "/")).send().await?;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await?.contains("momentanément indisponible"));

    redis.spawn()?;
    // Both instances reconnect by themselves (no restart of the site).
    let deadline = Instant::now() + Duration::from_secs(20);
    for instance in [0, 1] {
        loop {
            let probe = cluster.browser()?;
            let status = probe.get(cluster.url(instance, "/")).send().await?.status();
            let nonce_status = probe
                .get(cluster.url(instance, "/api/nonce"))
                .header("x-requested-with", "cpx-connect")
                .send()
                .await?
                .status();
            if status == StatusCode::OK && nonce_status == StatusCode::OK {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "instance {instance} did not reconnect"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The challenge (and the session) went with the old Redis: the token made for it is
    // refused on both instances.
    for instance in [0, 1] {
        let (status, body) = post_token(&cluster, &client, instance, &token).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "ERR_NONCE_MISSING");
    }
    let fresh = cluster.browser()?;
    let nonce = nonce_from(&cluster, &fresh, 1).await?;
    let (status, body) = post_token(
        &cluster,
        &fresh,
        0,
        &make_token("marie", &cluster.origin, &nonce)?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(())
}

#[test]
fn an_unreachable_redis_stops_the_start_with_one_clear_line() -> TestResult {
    if Redis::start()?.is_none() {
        return Ok(());
    }
    let workdir = tempfile::tempdir()?;
    let closed = free_port()?;
    let output = Command::new(env!("CARGO_BIN_EXE_cpx-demo"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--origin",
            "https://localhost:8443",
        ])
        .arg("--db")
        .arg(workdir.path().join("demo.sqlite"))
        .arg("--trust-anchor")
        .arg(fixture("test-ca.der"))
        .arg("--crl")
        .arg(fixture("test-ca.crl.der"))
        .arg("--allow-test-anchors")
        .args(["--store", &format!("redis://127.0.0.1:{closed}/0")])
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "cpx-demo: error: cannot use the Redis store at redis://127.0.0.1:{closed}/0"
        )),
        "{stderr}"
    );
    Ok(())
}
