//! Memory of the challenge store: the in-memory NonceStore filled to 1,000,000 outstanding
//! challenges (its default cap is 100,000), measured as the growth of this process's resident
//! memory; and, with a Redis URL, Redis's used_memory growth for 100,000 challenges issued
//! through RedisChallengeStore. Used by scripts/bench-rp.sh.
//!
//! cargo run --release -p cpx-demo --example challenge_memory -- [redis://127.0.0.1:PORT/0]

use std::time::Duration;

use cpx_verify::{ChallengeStore, NonceStore, RedisChallengeStore};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn resident_kib() -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("VmRSS value")?
        .parse()?)
}

async fn redis_used_memory(url: &str) -> Result<u64, Error> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut connection)
        .await?;
    let line = info
        .lines()
        .find(|line| line.starts_with("used_memory:"))
        .ok_or("no used_memory")?;
    Ok(line.trim_start_matches("used_memory:").trim().parse()?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    const COUNT: usize = 1_000_000;
    let before = resident_kib()?;
    let store = NonceStore::with_capacity(Duration::from_secs(300), COUNT);
    for i in 0..COUNT {
        store.try_issue(&format!("{i:043}"))?;
    }
    let after = resident_kib()?;
    println!(
        "in-memory store, {} outstanding challenges (43-character session ids): {:.0} MiB resident, {} bytes each",
        store.len(),
        (after - before) as f64 / 1024.0,
        (after - before) * 1024 / COUNT as u64
    );
    drop(store);

    if let Some(url) = std::env::args().nth(1) {
        const REDIS_COUNT: usize = 100_000;
        let challenges = RedisChallengeStore::connect(&url, Duration::from_secs(300)).await?;
        let before = redis_used_memory(&url).await?;
        let mut tasks = Vec::new();
        for worker in 0..32 {
            let challenges = challenges.clone();
            tasks.push(tokio::spawn(async move {
                for i in (worker..REDIS_COUNT).step_by(32) {
                    challenges.issue(&format!("{i:043}")).await?;
                }
                Ok::<_, cpx_verify::ChallengeError>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let after = redis_used_memory(&url).await?;
        println!(
            "Redis, {REDIS_COUNT} outstanding challenges: used_memory +{:.1} MiB, {} bytes each (1,000,000: about {:.0} MiB)",
            (after - before) as f64 / 1048576.0,
            (after - before) / REDIS_COUNT as u64,
            (after - before) as f64 * 10.0 / 1048576.0
        );
    }
    Ok(())
}
