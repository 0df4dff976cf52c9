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
use reqwest::{Client, StatusCode};
use serde_json::Value;

mod common;

use common::redis::{Redis, RedisOptions};
use common::{csrf_of, fixture, free_port, make_token, test_ca_config, TestResult};

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
        Self::start_with(&redis.url(), count, |_| {}).await
    }

    /// Instances on the Redis at `url`, with their configuration changed by `adjust`.
    async fn start_with(
        url: &str,
        count: usize,
        adjust: impl Fn(&mut DemoConfig),
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let workdir = tempfile::tempdir()?;
        let listeners = (0..count)
            .map(|_| server::bind("127.0.0.1:0".parse()?).map_err(Into::into))
            .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
        let origin = format!("https://localhost:{}", listeners[0].local_addr()?.port());
        let mut instances = Vec::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            let port = listener.local_addr()?.port();
            let mut config = test_ca_config(&origin, workdir.path().join("demo.sqlite"))?;
            config.store_url = Some(url.to_owned());
            adjust(&mut config);
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
    common::fetch_nonce(client, &cluster.instances[instance].url).await
}

async fn post_token(
    cluster: &Cluster,
    client: &Client,
    instance: usize,
    token: &Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    common::post_card_token(
        client,
        &cluster.instances[instance].url,
        &cluster.origin,
        token,
    )
    .await
}

/// A challenge from `instance`, and the token Marie's card makes of it.
async fn marie_token(
    cluster: &Cluster,
    client: &Client,
    instance: usize,
) -> Result<Value, Box<dyn std::error::Error>> {
    let nonce = nonce_from(cluster, client, instance).await?;
    make_token("marie", &cluster.origin, &nonce)
}

/// A new browser's card login of Marie through instance 0 logs her in (her card is linked).
async fn assert_marie_s_card_logs_in(cluster: &Cluster) -> TestResult {
    let client = cluster.browser()?;
    let token = marie_token(cluster, &client, 0).await?;
    let (status, body) = post_token(cluster, &client, 0, &token).await?;
    assert_eq!(body["status"], "logged_in", "{status} {body}");
    Ok(())
}

/// Two instances on `redis`, Marie's card linked through the first.
async fn two_instances_with_marie_linked(
    redis: &Redis,
) -> Result<Cluster, Box<dyn std::error::Error>> {
    let cluster = Cluster::start(redis, 2).await?;
    link_marie(&cluster).await?;
    Ok(cluster)
}

/// Links Marie's card through instance 0, so that later card logins log in.
async fn link_marie(cluster: &Cluster) -> TestResult {
    let client = cluster.browser()?;
    let token = marie_token(cluster, &client, 0).await?;
    let (status, body) = post_token(cluster, &client, 0, &token).await?;
    assert_eq!(body["status"], "link_required", "{status} {body}");
    post_marie_s_credentials(cluster, &client, 0, "/lier", "/lier").await
}

/// The form of the page `page` of `instance`, posted to `action` with Marie's credentials and
/// the page's CSRF token: accepted, with a redirect.
async fn post_marie_s_credentials(
    cluster: &Cluster,
    client: &Client,
    instance: usize,
    page: &str,
    action: &str,
) -> TestResult {
    let html = client
        .get(cluster.url(instance, page))
        .send()
        .await?
        .text()
        .await?;
    let csrf = csrf_of(&html)?;
    let response = client
        .post(cluster.url(instance, action))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "marie.dupont"),
            ("password", "demo1234"),
        ])
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_issued_by_one_instance_is_accepted_by_another() -> TestResult {
    let Some(redis) = Redis::start()? else {
        return Ok(());
    };
    let cluster = Cluster::start(&redis, 2).await?;
    let client = cluster.browser()?;
    let token = marie_token(&cluster, &client, 0).await?;
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
    let cluster = two_instances_with_marie_linked(&redis).await?;
    for round in 0..25 {
        let client = cluster.browser()?;
        let token = marie_token(&cluster, &client, round % 2).await?;
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
    let cluster = two_instances_with_marie_linked(&redis).await?;
    let client = cluster.browser()?;
    let token = marie_token(&cluster, &client, 0).await?;

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
    let token = marie_token(&cluster, &fresh, 1).await?;
    let (status, body) = post_token(&cluster, &fresh, 0, &token).await?;
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

/// Password login of Marie in `client` through `instance`.
async fn password_login(cluster: &Cluster, client: &Client, instance: usize) -> TestResult {
    post_marie_s_credentials(cluster, client, instance, "/", "/connexion").await
}

/// A field of redis-server's INFO.
fn info_field(
    redis: &Redis,
    section: &str,
    field: &str,
) -> Result<u64, Box<dyn std::error::Error>> {
    let info = redis.raw_command(&["INFO", section])?;
    let marker = format!("{field}:");
    let value = info
        .split_once(marker.as_str())
        .and_then(|(_, rest)| rest.split_once("\r\n"))
        .map(|(value, _)| value.trim().to_owned())
        .ok_or_else(|| format!("no {field} in INFO {section}"))?;
    Ok(value.parse()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_filling_redis_evicts_no_signed_in_session() -> TestResult {
    // The settings demo/README.md gives: a bound, and eviction among keys with a TTL only.
    let args = ["--maxmemory", "3mb", "--maxmemory-policy", "volatile-ttl"];
    let Some(redis) = Redis::start_with_args(&args)? else {
        return Ok(());
    };
    // The per-client limits would stop this flood early: lift them, to fill Redis.
    let cluster = Cluster::start_with(&redis.url(), 1, |config| {
        config.session_creation_burst = 1_000_000;
        config.challenge_burst = 1_000_000;
    })
    .await?;
    link_marie(&cluster).await?;
    let marie = cluster.browser()?;
    password_login(&cluster, &marie, 0).await?;

    // Signed-in sessions carry no TTL (not evictable); anonymous ones and challenges do.
    let user_keys = redis.raw_command(&["KEYS", "cpx:session:user:*"])?;
    let user_key = user_keys
        .lines()
        .find(|line| line.starts_with("cpx:session:user:"))
        .ok_or("no signed-in session key")?
        .to_owned();
    assert_eq!(redis.raw_command(&["TTL", &user_key])?, ":-1\r\n");

    let flooder = Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rounds = 0;
    while info_field(&redis, "stats", "evicted_keys")? < 200 {
        assert!(
            Instant::now() < deadline,
            "Redis never evicted ({rounds} rounds)"
        );
        rounds += 1;
        let page = flooder.get(cluster.url(0, "/")).send().await?;
        assert_eq!(page.status(), StatusCode::OK);
        let cookie = page
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .ok_or("no session cookie")?
            .to_owned();
        let nonce = flooder
            .get(cluster.url(0, "/api/nonce"))
            .header("cookie", &cookie)
            .header("x-requested-with", "cpx-connect")
            .send()
            .await?;
        assert_eq!(nonce.status(), StatusCode::OK);
    }
    eprintln!(
        "redis flood: {rounds} rounds, {} keys evicted",
        info_field(&redis, "stats", "evicted_keys")?
    );
    // Marie is still signed in, and a card login still works.
    let account = marie.get(cluster.url(0, "/compte")).send().await?;
    assert_eq!(account.status(), StatusCode::OK);
    assert_marie_s_card_logs_in(&cluster).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_with_a_password_is_used_with_auth() -> TestResult {
    let Some(redis) = Redis::start_with(RedisOptions {
        password: Some("s3cret-for-the-test".to_owned()),
        ..RedisOptions::default()
    })?
    else {
        return Ok(());
    };
    // Without the password: refused at start-up, not at the first login.
    let without = format!("redis://127.0.0.1:{}/0", redis.port);
    let refused = Cluster::start_with(&without, 1, |_| {}).await;
    let message = refused
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("cannot use the Redis store"), "{message}");
    assert!(
        message.contains("NOAUTH") || message.contains("uthentication"),
        "{message}"
    );

    let cluster = Cluster::start_with(&redis.url(), 1, |_| {}).await?;
    link_marie(&cluster).await?;
    let keys = redis.raw_command(&["KEYS", "cpx:*"])?;
    assert!(keys.contains("cpx:session:user:"), "{keys}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rediss_store_is_used_over_tls_with_its_ca() -> TestResult {
    // A throw-away CA and server certificate for 127.0.0.1, made now.
    let workdir = tempfile::tempdir()?;
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let server_key = rcgen::KeyPair::generate()?;
    let server =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&server_key, &ca)?;
    let path = |name: &str| workdir.path().join(name).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem())?;
    std::fs::write(path("server.pem"), server.pem())?;
    std::fs::write(path("server.key"), server_key.serialize_pem())?;
    let tls_port = free_port()?;
    let Some(redis) = Redis::start_with(RedisOptions {
        password: Some("over-tls".to_owned()),
        args: vec![
            "--tls-port".to_owned(),
            tls_port.to_string(),
            "--tls-cert-file".to_owned(),
            path("server.pem"),
            "--tls-key-file".to_owned(),
            path("server.key"),
            "--tls-ca-cert-file".to_owned(),
            path("ca.pem"),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ],
    })?
    else {
        return Ok(());
    };
    let url = format!("rediss://:over-tls@127.0.0.1:{tls_port}/0");
    // Without the CA, the server's certificate is not trusted: refused at start-up.
    let refused = Cluster::start_with(&url, 1, |_| {}).await;
    assert!(
        refused.is_err(),
        "an untrusted TLS certificate was accepted"
    );

    let cluster = Cluster::start_with(&url, 1, |config| {
        config.store_ca = Some(workdir.path().join("ca.pem"));
    })
    .await?;
    link_marie(&cluster).await?;
    assert_marie_s_card_logs_in(&cluster).await?;
    assert!(info_field(&redis, "stats", "total_connections_received")? > 0);
    let keys = redis.raw_command(&["KEYS", "cpx:*"])?;
    assert!(keys.contains("cpx:session:user:"), "{keys}");
    Ok(())
}

#[tokio::test]
async fn the_eviction_policy_of_redis_is_read_and_judged() -> TestResult {
    let Some(redis) = Redis::start_with_args(&["--maxmemory-policy", "allkeys-lru"])? else {
        return Ok(());
    };
    let store = cpx_demo::redis_sessions::RedisSessionStore::connect(&redis.url(), None).await?;
    let policy = store.eviction_policy().await.ok_or("no policy read")?;
    assert_eq!(policy, "allkeys-lru");
    assert!(cpx_demo::redis_sessions::eviction_policy_warning(&policy).is_some());
    Ok(())
}
