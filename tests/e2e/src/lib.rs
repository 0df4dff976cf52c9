//! Helpers for the end-to-end tests: the real `cpx-connect` binary over pipes, the system pcscd,
//! and virtual cards in vpcd's slots.
//!
//! There is one pcscd per machine and vpcd has two slots, so every test holds the machine-wide
//! lock ([`cpx_virtual_card::pcscd_test_lock`]) while it uses them.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod login;
pub mod session_pcscd;

/// vpcd's two slots as Debian configures them, and the reader names pcscd gives them.
pub const SLOT_PORTS: [u16; 2] = [35963, 35964];
pub const SLOT_READERS: [&str; 2] = ["Virtual PCD 00 00", "Virtual PCD 00 01"];

/// How long any single answer from the host may take before the test fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The host binary: `$CPX_CONNECT_BIN`, else next to this test's own target directory.
pub fn host_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CPX_CONNECT_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test binary> -> target/<profile>/cpx-connect
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps");
    let binary = profile_dir.join("cpx-connect");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build -p cpx-connect` (the README's test command does)",
        binary.display()
    );
    binary
}

/// A running `cpx-connect`, spoken to as a browser would.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<Result<Value, String>>,
    pub home: tempfile::TempDir,
}

impl Host {
    /// Starts the host with the arguments Chrome passes, a fresh HOME, and trace-level logs in it.
    pub fn spawn() -> Host {
        Host::spawn_with(&[
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
            "--parent-window=0",
        ])
    }

    pub fn spawn_with(arguments: &[&str]) -> Host {
        Host::launch(arguments, None)
    }

    /// Like [`Host::spawn`], with the card cache in `cache_dir`, e.g. shared with an earlier
    /// host process so that the card is already known.
    pub fn spawn_with_cache(cache_dir: &Path) -> Host {
        Host::launch(
            &[
                "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
                "--parent-window=0",
            ],
            Some(cache_dir),
        )
    }

    fn launch(arguments: &[&str], cache_dir: Option<&Path>) -> Host {
        let home = tempfile::tempdir().expect("temporary HOME");
        let cache_dir = match cache_dir {
            Some(directory) => directory.as_os_str().to_owned(),
            None => std::env::var_os("CPX_E2E_CACHE_DIR")
                .unwrap_or_else(|| home.path().join("cache").into_os_string()),
        };
        let mut command = Command::new(host_binary());
        command
            .args(arguments)
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", home.path().join("state"))
            .env_remove("CPX_CONNECT_LOG_DIR")
            // The card cache lives in the fresh HOME unless a test shares one on purpose.
            .env("CPX_CONNECT_CACHE_DIR", cache_dir);
        Host::start(command, home)
    }

    /// Starts the host as one user of a shared machine: Chrome's arguments, `home` as HOME,
    /// no override of the log or cache folder (the host finds its own from HOME and the XDG
    /// variables), then `environment` (the user's XDG folders, the session's PC/SC socket...).
    pub fn spawn_for_user(home: tempfile::TempDir, environment: &[(&str, &OsStr)]) -> Host {
        let mut command = Command::new(host_binary());
        command
            .args([
                "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
                "--parent-window=0",
            ])
            .env("HOME", home.path())
            .env_remove("CPX_CONNECT_LOG_DIR")
            .env_remove("CPX_CONNECT_CACHE_DIR")
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("PCSCLITE_CSOCK_NAME")
            .envs(environment.iter().copied());
        Host::start(command, home)
    }

    fn start(mut command: Command, home: tempfile::TempDir) -> Host {
        let mut child = command
            // Trace level, so tests can check what even the most verbose log holds.
            .env(
                "CPX_CONNECT_LOG",
                std::env::var("CPX_E2E_HOST_LOG").unwrap_or_else(|_| "trace".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cpx-connect");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("host stdout");
        let (sender, answers) = mpsc::channel();
        thread::spawn(move || loop {
            let mut length = [0u8; 4];
            if stdout.read_exact(&mut length).is_err() {
                return;
            }
            let mut body = vec![0u8; u32::from_ne_bytes(length) as usize];
            let answer = stdout
                .read_exact(&mut body)
                .map_err(|e| e.to_string())
                .and_then(|_| serde_json::from_slice(&body).map_err(|e| e.to_string()));
            if sender.send(answer).is_err() {
                return;
            }
        });
        Host {
            child,
            stdin,
            answers,
            home,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).expect("write to the host");
        stdin.flush().expect("flush to the host");
    }

    pub fn send(&mut self, request: &Value) {
        let body = serde_json::to_vec(request).expect("request JSON");
        let mut frame = (body.len() as u32).to_ne_bytes().to_vec();
        frame.extend(body);
        self.send_raw(&frame);
    }

    /// The next answer; panics if none comes within the timeout (the host must never hang).
    pub fn answer(&mut self) -> Value {
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => panic!("unreadable answer: {error}"),
            Err(_) => panic!("no answer from the host within {ANSWER_TIMEOUT:?}"),
        }
    }

    pub fn request(&mut self, request: &Value) -> Value {
        self.send(request);
        self.answer()
    }

    pub fn command(&mut self, command: &str) -> Value {
        self.request(&json!({"id": command, "command": command}))
    }

    /// Closes stdin (the browser going away) and waits for the exit status.
    pub fn finish(mut self) -> ExitStatus {
        self.stdin.take();
        self.wait()
    }

    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the host") {
                return status;
            }
            assert!(Instant::now() < deadline, "the host did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the host logged so far.
    pub fn log_text(&self) -> String {
        let directory = self.home.path().join("state").join("cpx-connect");
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(directory) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    pub fn stderr_text(mut self) -> String {
        self.stdin.take();
        self.wait();
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The machine's pcscd, which the tests may stop and restart.
pub mod pcscd {
    use super::*;

    /// A live pcscd process, found in /proc. Not `pgrep`: it also lists a killed pcscd that its
    /// parent has not reaped yet (a zombie), as in a container whose first process reaps
    /// nothing, and the tests would then wait for a stop that has happened.
    pub fn is_running() -> bool {
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return false;
        };
        processes.flatten().any(|process| {
            std::fs::read_to_string(process.path().join("stat"))
                .is_ok_and(|stat| is_live_pcscd(&stat))
        })
    }

    /// `/proc/PID/stat` reads `PID (COMM) STATE ...`; Z is a zombie, X a process being removed.
    fn is_live_pcscd(stat: &str) -> bool {
        stat.split_once(" (")
            .and_then(|(_, rest)| rest.rsplit_once(") "))
            .is_some_and(|(comm, rest)| {
                comm == "pcscd" && !rest.starts_with('Z') && !rest.starts_with('X')
            })
    }

    fn vpcd_listening() -> bool {
        TcpStream::connect(("127.0.0.1", SLOT_PORTS[0])).is_ok()
    }

    /// Starts pcscd with the system configuration if it is not running, and waits for vpcd.
    pub fn ensure_running() {
        if !is_running() {
            start(&[]);
        }
        wait_until("vpcd listening", vpcd_listening);
    }

    pub fn start(arguments: &[&str]) {
        let status = Command::new("pcscd")
            .args(arguments)
            .status()
            .expect("pcscd must be installed (apt-get install pcscd)");
        assert!(status.success(), "pcscd failed to start");
        wait_until("pcscd running", is_running);
    }

    pub fn stop() {
        let _ = Command::new("pkill").args(["-x", "pcscd"]).status();
        wait_until("pcscd stopped", || !is_running());
        // A socket left behind would make the next pcscd refuse to start.
        let _ = std::fs::remove_file("/run/pcscd/pcscd.comm");
        let _ = std::fs::remove_file("/run/pcscd/pcscd.pid");
    }

    /// Restores the normal pcscd when dropped, whatever the test did to it.
    pub struct RestoreOnDrop;

    impl Drop for RestoreOnDrop {
        fn drop(&mut self) {
            if thread::panicking() {
                // The test has failed already: a second panic here would abort the whole test
                // binary and hide the other tests' results. Restore what can be restored.
                let restored = std::panic::catch_unwind(|| {
                    stop();
                    ensure_running();
                });
                if restored.is_err() {
                    eprintln!("pcscd could not be restored after the failed test");
                }
            } else {
                stop();
                ensure_running();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::is_live_pcscd;

        #[test]
        fn a_zombie_pcscd_is_not_running() {
            assert!(is_live_pcscd("812 (pcscd) S 1 812 812 0 -1 4194624"));
            assert!(!is_live_pcscd("812 (pcscd) Z 1 812 812 0 -1 4194624"));
            assert!(!is_live_pcscd(
                "813 (pcscd-helper) S 1 812 812 0 -1 4194624"
            ));
            assert!(!is_live_pcscd("814 (a (pcscd) b) S 1 812 812 0 -1 4194624"));
        }
    }
}

pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until pcscd reports the reader with (or without) a card, as the host sees it.
pub fn wait_for_card(reader: &str, present: bool) {
    wait_until(&format!("card present={present} in {reader}"), || {
        let mut host = Host::spawn();
        let status = host.command("status");
        status["result"]["readers"]
            .as_array()
            .map(|readers| {
                readers
                    .iter()
                    .any(|r| r["name"] == reader && r["card"].is_null() != present)
            })
            .unwrap_or(false)
    });
}

/// A 32-byte challenge nonce in base64, as a relying party makes.
pub fn nonce(seed: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

pub fn authenticate_request(certificate_id: &str, origin: &str, nonce: &str, pin: &str) -> Value {
    json!({"id": "auth", "command": "authenticate", "arguments": {
        "origin": origin, "challengeNonce": nonce, "certificateId": certificate_id, "pin": pin}})
}

/// Every error code of protocol 1, read from the table of host/PROTOCOL.md ("Error codes"):
/// these tests check the binary against the contract relying parties read, without linking the
/// host's code (host/tests/error_codes.rs checks the table against the host's own list).
pub fn documented_error_codes() -> Vec<&'static str> {
    const PROTOCOL: &str = include_str!("../../../host/PROTOCOL.md");
    PROTOCOL
        .lines()
        .skip_while(|line| !line.starts_with("| code | when |"))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
        .collect()
}

/// How many of `apdus` are a VERIFY carrying a PIN (a VERIFY without data only asks the status).
pub fn verifies_with_pin(apdus: &[Vec<u8>]) -> usize {
    apdus
        .iter()
        .filter(|apdu| apdu.len() > 5 && apdu[0] & 0xF0 == 0x00 && apdu[1] == 0x20)
        .count()
}

/// True when no command of `apdus` carries both data and Le, as under T=0 (ISO 7816-3: a case 4
/// command goes without Le, and its answer comes through GET RESPONSE).
pub fn no_command_carries_data_and_le(apdus: &[Vec<u8>]) -> bool {
    apdus
        .iter()
        .all(|apdu| apdu.len() <= 5 || apdu.len() == 5 + usize::from(apdu[4]))
}

/// One of vpcd's two slots and the virtual card that belongs in it, with a fault plan that
/// sees every APDU the card is sent. The caller holds the pcscd lock.
pub struct CardSlot {
    pub index: usize,
    pub card: cpx_virtual_card::SharedCard,
    pub faults: cpx_virtual_card::faults::FaultPlan,
    inserted: Option<cpx_virtual_card::vpcd::InsertedCard>,
}

impl CardSlot {
    /// `card` ready for slot `index` (0 or 1), not inserted yet: the slot is empty.
    pub fn new(index: usize, card: cpx_virtual_card::VirtualCard) -> CardSlot {
        CardSlot {
            index,
            card: cpx_virtual_card::shared(card),
            faults: cpx_virtual_card::faults::FaultPlan::new(),
            inserted: None,
        }
    }

    /// `card` in slot `index`, once pcscd reports it.
    pub fn inserted(index: usize, card: cpx_virtual_card::VirtualCard) -> CardSlot {
        let mut slot = CardSlot::new(index, card);
        slot.insert();
        slot
    }

    pub fn reader(&self) -> &'static str {
        SLOT_READERS[self.index]
    }

    /// Puts the card in the slot (with its fault plan) and waits until pcscd reports it.
    pub fn insert(&mut self) {
        assert!(self.inserted.is_none(), "the card is already in the slot");
        let inserted = cpx_virtual_card::vpcd::insert_with_faults(
            self.card.clone(),
            SLOT_PORTS[self.index],
            &self.faults,
        )
        .expect("insert into vpcd");
        self.inserted = Some(inserted);
        wait_for_card(self.reader(), true);
    }

    /// Pulls the card out (if a fault has not already) and waits until pcscd has polled the
    /// empty slot, so that the card can go back in as a new insertion. pcscd may report the
    /// slot empty before its own poll has seen it (after a failed reset of a card pulled out
    /// mid-command): a card put back then is never noticed, hence the settle time of
    /// [`cpx_virtual_card::vpcd::InsertedCard::remove`] even after a fault pulled the card out.
    pub fn remove(&mut self) {
        if let Some(inserted) = self.inserted.take() {
            inserted.remove();
        }
        wait_for_card(self.reader(), false);
    }

    /// True while the card is in the slot (a removal fault ends that).
    pub fn is_inserted(&self) -> bool {
        self.inserted
            .as_ref()
            .is_some_and(|inserted| inserted.is_serving())
    }

    /// Exchanges the cards (and their fault plans) of two slots whose cards are out.
    pub fn swap_cards(&mut self, other: &mut CardSlot) {
        assert!(self.inserted.is_none() && other.inserted.is_none());
        std::mem::swap(&mut self.card, &mut other.card);
        std::mem::swap(&mut self.faults, &mut other.faults);
    }
}

/// A test bench: the pcscd lock, a running pcscd, and one card in vpcd's first slot, for as long
/// as the test holds it.
pub struct Bench {
    pub card: cpx_virtual_card::SharedCard,
    inserted: Option<cpx_virtual_card::vpcd::InsertedCard>,
    _lock: std::fs::File,
}

impl Bench {
    pub fn with_card(card: cpx_virtual_card::VirtualCard) -> Bench {
        let lock = cpx_virtual_card::pcscd_test_lock().expect("pcscd test lock");
        pcscd::ensure_running();
        let card = cpx_virtual_card::shared(card);
        let inserted =
            cpx_virtual_card::vpcd::insert(card.clone(), SLOT_PORTS[0]).expect("insert into vpcd");
        wait_for_card(SLOT_READERS[0], true);
        Bench {
            card,
            inserted: Some(inserted),
            _lock: lock,
        }
    }

    /// Pulls the card out and waits until pcscd has seen it go.
    pub fn remove_card(&mut self) {
        if let Some(inserted) = self.inserted.take() {
            inserted.remove();
        }
        wait_for_card(SLOT_READERS[0], false);
    }

    /// Puts the card back and waits until pcscd sees it.
    pub fn insert_card(&mut self) {
        self.inserted = Some(
            cpx_virtual_card::vpcd::insert(self.card.clone(), SLOT_PORTS[0]).expect("reinsert"),
        );
        wait_for_card(SLOT_READERS[0], true);
    }

    /// APDUs the card received since its log was last cleared.
    pub fn apdus(&self) -> usize {
        self.card.lock().expect("card").apdu_log().len()
    }

    pub fn clear_log(&self) {
        self.card.lock().expect("card").clear_log();
    }
}

pub use login::*;

#[cfg(test)]
mod tests {
    /// The table is found and read whole: its first and last rows are there, and only codes.
    #[test]
    fn the_protocol_table_gives_the_codes() {
        let codes = super::documented_error_codes();
        assert_eq!(codes.first(), Some(&"ERR_INVALID_REQUEST"));
        assert_eq!(codes.last(), Some(&"ERR_INTERNAL"));
        assert!(
            codes.iter().all(|code| code.starts_with("ERR_")),
            "{codes:?}"
        );
    }
}
