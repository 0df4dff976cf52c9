//! Figures for the README (run by scripts/bench.sh, which builds everything in release mode):
//! spawn-to-`version` time next to a minimal host, a full login through pcscd with the virtual
//! card, the APDUs it takes, the bytes on the card's line and the seconds they take at the
//! card's own speed, the host's peak RSS, and the binary size.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpx_e2e::{authenticate_request, nonce, pcscd, wait_for_card, Host, SLOT_PORTS, SLOT_READERS};
use cpx_virtual_card::{pcscd_test_lock, shared, vpcd, Holder, VirtualCard};

const ORIGIN: &str = "https://demo.cpxconnect.org";

fn spawn_to_version(binary: &PathBuf) -> Duration {
    let request = br#"{"id":1,"command":"version"}"#;
    let mut frame = (request.len() as u32).to_ne_bytes().to_vec();
    frame.extend_from_slice(request);
    let start = Instant::now();
    let mut child = Command::new(binary)
        .arg("chrome-extension://abcdefghijklmnopabcdefghijklmnop/")
        .env(
            "CPX_CONNECT_LOG_DIR",
            std::env::temp_dir().join("cpx-bench-logs"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&frame).expect("write");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut length = [0u8; 4];
    stdout.read_exact(&mut length).expect("answer length");
    let mut body = vec![0u8; u32::from_ne_bytes(length) as usize];
    stdout.read_exact(&mut body).expect("answer body");
    let elapsed = start.elapsed();
    drop(stdin);
    child.wait().expect("exit");
    elapsed
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let host = PathBuf::from(std::env::var("CPX_CONNECT_BIN").expect("CPX_CONNECT_BIN"));
    let minimal = PathBuf::from(std::env::var("CPX_MINIMAL_HOST").expect("CPX_MINIMAL_HOST"));
    let rounds: usize = std::env::var("CPX_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);

    let minimal_c = std::env::var_os("CPX_MINIMAL_C_HOST").map(PathBuf::from);

    // 1. Start-up: alternate the programs so that machine noise hits them alike.
    let (mut ours, mut baseline, mut baseline_c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(spawn_to_version(&host));
        baseline.push(spawn_to_version(&minimal));
        if let Some(minimal_c) = &minimal_c {
            baseline_c.push(spawn_to_version(minimal_c));
        }
    }
    let (ours_median, base_median) = (percentile(&mut ours, 0.5), percentile(&mut baseline, 0.5));
    println!("spawn -> version answer, {rounds} rounds:");
    println!(
        "  cpx-connect   median {}  p90 {}",
        ms(ours_median),
        ms(percentile(&mut ours, 0.9))
    );
    println!(
        "  minimal host  median {}  p90 {}",
        ms(base_median),
        ms(percentile(&mut baseline, 0.9))
    );
    println!(
        "  ratio (median) {:.2}x",
        ours_median.as_secs_f64() / base_median.as_secs_f64()
    );
    if !baseline_c.is_empty() {
        let c_median = percentile(&mut baseline_c, 0.5);
        println!(
            "  minimal C host median {}  p90 {}  ratio (median) {:.2}x",
            ms(c_median),
            ms(percentile(&mut baseline_c, 0.9)),
            ours_median.as_secs_f64() / c_median.as_secs_f64()
        );
    }

    // 2. Logins through pcscd with the virtual cards.
    let _lock = pcscd_test_lock().expect("pcscd lock");
    pcscd::ensure_running();
    let mut peak_rss = 0;
    for (name, card) in [
        ("CPS3 (T=0)", VirtualCard::cps3(Holder::Dupont)),
        (
            "CPS4 (T=0)",
            VirtualCard::cps4(Holder::Dupont).with_t0_answers(),
        ),
        ("CPS4 (T=1)", VirtualCard::cps4(Holder::Dupont)),
    ] {
        peak_rss = peak_rss.max(logins(name, card));
    }
    println!("  peak RSS of the host during a login: {} KiB", peak_rss);
    let size = std::fs::metadata(&host).map(|m| m.len()).unwrap_or(0);
    println!(
        "release binary: {} bytes ({:.2} MiB, stripped)",
        size,
        size as f64 / 1048576.0
    );
}

/// Logins with `card` in vpcd's first slot, each from a new host process as a browser starts
/// it; the processes share one card cache, so the first meets a new card and the others a known
/// one. Prints the figures and returns the host's peak RSS in KiB.
fn logins(name: &str, card: VirtualCard) -> u64 {
    let atr = card.atr();
    let card = shared(card);
    // Bytes on the line: every command and every answer, as vpcd carries them.
    let line_bytes = Arc::new(Mutex::new(0usize));
    let counter = line_bytes.clone();
    let inserted = vpcd::insert_with_observer(
        card.clone(),
        SLOT_PORTS[0],
        Box::new(move |command, answer| {
            if let Ok(mut bytes) = counter.lock() {
                *bytes += command.len() + answer.len();
            }
        }),
    )
    .expect("insert card");
    wait_for_card(SLOT_READERS[0], true);
    let cache = std::env::temp_dir().join(format!("cpx-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    std::env::set_var("CPX_E2E_CACHE_DIR", &cache);
    let login_rounds = 11;
    let mut known_times = Vec::new();
    let (mut new_card, mut known_apdus) = ((Duration::ZERO, 0, 0), (0, 0));
    let mut peak_rss = 0;
    for round in 0..login_rounds {
        card.lock().expect("card").clear_log();
        *line_bytes.lock().expect("bytes") = 0;
        let start = Instant::now();
        let mut process = Host::spawn();
        let certificates = process.command("certificates");
        let id = certificates["result"]["certificates"][0]["certificateId"]
            .as_str()
            .expect("a certificate")
            .to_owned();
        let token = process.request(&authenticate_request(
            &id,
            ORIGIN,
            &nonce(round as u8),
            "1234",
        ));
        assert_eq!(token["result"]["format"], "web-eid:1.0", "{token}");
        let elapsed = start.elapsed();
        let apdus = card.lock().expect("card").apdu_log().len();
        // One T=0 procedure byte per command (ISO 7816-3 10.3.3); T=1 block framing is left
        // out (4 bytes per block each way).
        let bytes = *line_bytes.lock().expect("bytes") + apdus;
        if round == 0 {
            new_card = (elapsed, apdus, bytes);
        } else {
            known_times.push(elapsed);
            known_apdus = (known_apdus.0.max(apdus), known_apdus.1.max(bytes));
        }
        peak_rss = peak_rss.max(peak_rss_kib(process.pid()).unwrap_or(0));
    }
    let _ = std::fs::remove_dir_all(&cache);
    println!(
        "login (certificates + authenticate) from a new host process, pcscd + vpcd, virtual {name}:"
    );
    let byte_time = seconds_per_byte(&atr);
    println!(
        "  card line: {:.0} bit/s from the ATR's TA1, {:.2} ms a byte (12 etu)",
        12.0 / byte_time,
        byte_time * 1000.0
    );
    println!(
        "  new card:   {}  APDUs {}  bytes {}  at card speed {:.2} s",
        ms(new_card.0),
        new_card.1,
        new_card.2,
        new_card.2 as f64 * byte_time
    );
    println!(
        "  known card: median {} of {}  APDUs {}  bytes {}  at card speed {:.2} s",
        ms(percentile(&mut known_times, 0.5)),
        login_rounds - 1,
        known_apdus.0,
        known_apdus.1,
        known_apdus.1 as f64 * byte_time
    );
    inserted.remove();
    wait_for_card(SLOT_READERS[0], false);
    peak_rss
}

/// Seconds a byte takes on the card's line: 12 etu (10 of the character, 2 of guard time,
/// ISO 7816-3 7.2), an etu being Fi/Di clock cycles at the default 3.5712 MHz, Fi and Di from
/// TA1 (Fi 372, Di 1, 9600 bit/s, when there is no TA1: the CPS3).
fn seconds_per_byte(atr: &[u8]) -> f64 {
    const CLOCK_HZ: f64 = 3_571_200.0;
    const FI: [f64; 16] = [
        372.0, 372.0, 558.0, 744.0, 1116.0, 1488.0, 1860.0, 372.0, 372.0, 512.0, 768.0, 1024.0,
        1536.0, 2048.0, 372.0, 372.0,
    ];
    const DI: [f64; 16] = [
        1.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 12.0, 20.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    ];
    let ta1 = match atr {
        [_, t0, ta1, ..] if t0 & 0x10 != 0 => Some(*ta1),
        _ => None,
    };
    let (fi, di) = ta1.map_or((372.0, 1.0), |ta1| {
        (FI[usize::from(ta1 >> 4)], DI[usize::from(ta1 & 0x0F)])
    });
    12.0 * fi / di / CLOCK_HZ
}
