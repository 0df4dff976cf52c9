//! The provider's figures (README, Figures): `/token` requests per second, whole card logins
//! per second, their p50 and p99, and the memory per pending login, in memory and on Redis.
//!
//! `bash scripts/bench-idp.sh` (or `cargo bench -p cpx-idp --bench idp`). Needs `redis-server`
//! (a private one is started, as the tests do). The provider runs in-process on a 2-worker
//! runtime, driven through its router (no TCP, no TLS: what is measured is the provider and
//! its store). Requests per second: `CONCURRENCY` browsers or sites at a time. Latencies: one
//! request (or login) at a time, so that they are the provider's own and not a queue's (an
//! in-memory request never yields, a Redis one does: under load they would not compare).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::Redis;
use common::*;
use cpx_verify::test_util::{sign_test_token, TestCard};

const CONCURRENCY: usize = 16;
const LOGINS: usize = 400;
const TOKENS: usize = 2_000;
const PENDING: usize = 20_000;

/// No throttling in the way: the bench measures the work, not the limits.
const UNTHROTTLED: &str = "
[limits]
address_burst = 100000000
address_period_ms = 1
client_burst = 100000000
client_period_ms = 1
";

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn figures(mut latencies: Vec<Duration>, wall: Duration) -> Figures {
    latencies.sort();
    let at = |fraction: f64| {
        let index = ((latencies.len() as f64 * fraction) as usize).min(latencies.len() - 1);
        latencies[index]
    };
    Figures {
        per_second: latencies.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Runs `count` jobs, `concurrency` at a time; each returns the provider's time it measured.
async fn run<F, Fut>(count: usize, concurrency: usize, job: F) -> Result<Figures, Error>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Duration, String>> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (job, next) = (job.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, String>(latencies);
                }
                latencies.push(job(index).await?);
            }
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(figures(latencies, started.elapsed()))
}

/// A whole card login: /authorize, the login page, the challenge, the card's token posted,
/// the code redeemed at /token. The software card's signature is made between the requests
/// and is not counted (a real card's time is not either).
async fn card_login(idp: &Idp) -> Result<Duration, String> {
    let fail = |error: Error| error.to_string();
    let mut provider_time = Duration::ZERO;
    let started = Instant::now();
    let login_cookie = idp.start_login(&site_query("")).await.map_err(fail)?;
    let (csrf, nonce) = idp.challenge(&login_cookie).await.map_err(fail)?;
    provider_time += started.elapsed();
    let token = sign_test_token(ISSUER, &nonce, &TestCard::valid()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let done = idp
        .post_card(&[("__Host-cpx-idp-login", &login_cookie)], &csrf, token)
        .await
        .map_err(fail)?;
    let (params, _) = done.logged_in().map_err(fail)?;
    let code = params.get("code").ok_or("no code")?;
    let tokens = idp
        .token_basic("site", SECRET, &code_form(code, REDIRECT))
        .await
        .map_err(fail)?;
    if tokens.status != axum::http::StatusCode::OK {
        return Err(format!("token: {}", tokens.body));
    }
    Ok(provider_time + started.elapsed())
}

/// Codes for the /token run, made cheaply through single sign-on (prompt=none).
async fn codes(idp: &Idp, count: usize) -> Result<Vec<String>, Error> {
    let (_, session) = idp.login(&site_query("")).await?;
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let answer = idp
            .get(
                &format!("/authorize?{}", site_query("&prompt=none")),
                &[("__Host-cpx-idp-session", &session)],
            )
            .await?;
        let params: HashMap<String, String> = answer.redirect_params();
        codes.push(params.get("code").ok_or("no code")?.clone());
    }
    Ok(codes)
}

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .map(|kib: u64| kib * 1024)
        .unwrap_or_default()
}

fn redis_used_memory(redis: &Redis) -> Result<u64, Error> {
    let info = redis.raw_command(&["INFO", "memory"])?;
    let value = info
        .split_once("used_memory:")
        .and_then(|(_, rest)| rest.split_once("\r\n"))
        .map(|(value, _)| value.trim().to_owned())
        .ok_or("no used_memory")?;
    Ok(value.parse()?)
}

/// `PENDING` logins left at the card step (a transaction and its challenge each).
async fn leave_pending(idp: &Idp) -> Result<(), Error> {
    for _ in 0..PENDING {
        let login_cookie = idp.start_login(&site_query("")).await?;
        idp.challenge(&login_cookie).await?;
    }
    Ok(())
}

fn print_row(store: &str, what: &str, loaded: &Figures, alone: &Figures) {
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "| {store} | {what} | {:.0} | {:.1} ms | {:.1} ms |",
        loaded.per_second,
        ms(alone.p50),
        ms(alone.p99)
    );
}

async fn logins(idp: &Arc<Idp>, count: usize, concurrency: usize) -> Result<Figures, Error> {
    let idp = idp.clone();
    run(count, concurrency, move |_| {
        let idp = idp.clone();
        async move { card_login(&idp).await }
    })
    .await
}

async fn tokens(idp: &Arc<Idp>, count: usize, concurrency: usize) -> Result<Figures, Error> {
    let codes = Arc::new(codes(idp, count).await?);
    let idp = idp.clone();
    run(count, concurrency, move |index| {
        let (idp, codes) = (idp.clone(), codes.clone());
        async move {
            let started = Instant::now();
            let answer = idp
                .token_basic("site", SECRET, &code_form(&codes[index], REDIRECT))
                .await
                .map_err(|error| error.to_string())?;
            if answer.status != axum::http::StatusCode::OK {
                return Err(format!("token: {}", answer.body));
            }
            Ok(started.elapsed())
        }
    })
    .await
}

async fn measure(store: &str, idp: Arc<Idp>) -> Result<(), Error> {
    // Warm up (connections, the RSA key's precomputation).
    idp.login(&site_query("")).await?;
    let loaded = logins(&idp, LOGINS, CONCURRENCY).await?;
    let alone = logins(&idp, LOGINS / 2, 1).await?;
    print_row(store, "whole card login", &loaded, &alone);
    let loaded = tokens(&idp, TOKENS, CONCURRENCY).await?;
    let alone = tokens(&idp, TOKENS / 2, 1).await?;
    print_row(store, "`/token`", &loaded, &alone);
    Ok(())
}

fn main() -> Result<(), Error> {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then only build-check.
    if !std::env::args().any(|arg| arg == "--bench") {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..200 {
            sign_test_token(ISSUER, "bench-nonce", &TestCard::valid())?;
        }
        println!(
            "software card signature (not counted): {:.2} ms",
            started.elapsed().as_secs_f64() * 1000.0 / 200.0
        );
        println!(
            "| store | what | per second, {CONCURRENCY} at a time | p50, one at a time | p99, one at a time |"
        );
        println!("|---|---|---|---|---|");

        // First, on a fresh process: the allocator has no freed memory yet to hand back.
        let memory = Arc::new(provider_with("RS256", UNTHROTTLED)?);
        memory.login(&site_query("")).await?;
        let before = resident_bytes();
        leave_pending(&memory).await?;
        let memory_per_login = resident_bytes().saturating_sub(before) / PENDING as u64;
        measure("memory", memory.clone()).await?;

        let redis = Redis::start()?.ok_or("redis-server is needed")?;
        let text = config_text(
            "RS256",
            &format!("{UNTHROTTLED}{}", redis_store_entry(&redis.url())),
        );
        let on_redis = Arc::new(
            instances_from_text(&text, 1)
                .await?
                .pop()
                .ok_or("no instance")?,
        );
        measure("Redis", on_redis.clone()).await?;
        let before = redis_used_memory(&redis)?;
        leave_pending(&on_redis).await?;
        let redis_per_login = redis_used_memory(&redis)?.saturating_sub(before) / PENDING as u64;
        println!(
            "memory per pending login ({PENDING} left at the card step): {memory_per_login} bytes \
             of the process's RSS in memory; {redis_per_login} bytes of Redis used_memory on Redis"
        );
        Ok(())
    })
}
