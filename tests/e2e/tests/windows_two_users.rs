//! Two Windows users of one session host at once (issue 20.2), through `cpx-connect.exe` under
//! Wine: each user's host writes its logs and card cache in that user's `%LOCALAPPDATA%` only,
//! and each logs in with their own card while the other does. Wine takes LOCALAPPDATA from the
//! prefix's user profile, not from the environment, so each user is a WINEPREFIX of their own
//! (made by tests/windows/run.sh for users `dupont` and `martin`), as each Windows user is a
//! profile of their own. Each host's PC/SC is the test winscard.dll (tests/windows/
//! winscard-vpcd.c) listening on a port of its own: both readers are "CPx Virtual Reader 0", as
//! two thin clients with the same reader model are. Ignored in the workspace run:
//! tests/windows/run.sh runs it with `--ignored` (CPX_WINE_USER_PREFIXES, CPX_CONNECT_BIN
//! pointing at tests/windows/wine-host.sh).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cpx_e2e::{answered, authenticate_request, nonce, Host};
use cpx_virtual_card::vpcd::InsertedCard;
use cpx_virtual_card::{shared, vpcd, Holder, SharedCard, VirtualCard};
use serde_json::json;

/// The reader the test winscard.dll offers.
const READER: &str = "CPx Virtual Reader 0";

struct WindowsUser {
    name: &'static str,
    prefix: PathBuf,
    card: SharedCard,
    origin: &'static str,
    pin: &'static str,
    surname: &'static str,
}

impl WindowsUser {
    fn local_app_data(&self) -> PathBuf {
        self.prefix
            .join("drive_c/users")
            .join(self.name)
            .join("AppData/Local")
    }
}

/// A port nothing listens on now, for one user's winscard.dll.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Inserts the card as soon as the user's winscard.dll listens (it does from the host's first
/// PC/SC call).
fn insert_when_listening(card: &SharedCard, port: u16) -> InsertedCard {
    let started = Instant::now();
    loop {
        match vpcd::insert(card.clone(), port) {
            Ok(inserted) => return inserted,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("the test winscard.dll never listened on {port}: {error}"),
        }
    }
}

fn files_in(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs cpx-connect.exe under Wine, two user prefixes and the test winscard.dll: tests/windows/run.sh runs it"]
fn two_windows_users_log_in_at_once_each_in_their_own_local_app_data() {
    let prefixes = std::env::var("CPX_WINE_USER_PREFIXES")
        .expect("CPX_WINE_USER_PREFIXES: Dupont's and Martin's WINEPREFIX, colon-separated");
    let (dupont_prefix, martin_prefix) = prefixes
        .split_once(':')
        .expect("two prefixes, colon-separated");
    let users = [
        WindowsUser {
            name: "dupont",
            prefix: PathBuf::from(dupont_prefix),
            card: shared(VirtualCard::cps3(Holder::Dupont).with_pin("1234")),
            origin: "https://dpi.hopital-a.example",
            pin: "1234",
            surname: "DUPONT",
        },
        WindowsUser {
            name: "martin",
            prefix: PathBuf::from(martin_prefix),
            card: shared(VirtualCard::cps3(Holder::Martin).with_pin("5678")),
            origin: "https://viatrajectoire.example",
            pin: "5678",
            surname: "MARTIN",
        },
    ];
    let ports = [free_port(), free_port()];
    let mut hosts: Vec<Host> = users
        .iter()
        .zip(ports)
        .map(|(user, port)| {
            let port = port.to_string();
            Host::spawn_for_user(
                tempfile::tempdir().expect("HOME for Wine"),
                &[
                    ("WINEPREFIX", user.prefix.as_os_str()),
                    ("CPX_VPCD_PORT", std::ffi::OsStr::new(&port)),
                ],
            )
        })
        .collect();

    // Both read their certificates at the same time.
    for host in hosts.iter_mut() {
        host.send(&json!({"id": "certificates", "command": "certificates"}));
    }
    let _inserted: Vec<InsertedCard> = users
        .iter()
        .zip(ports)
        .map(|(user, port)| insert_when_listening(&user.card, port))
        .collect();
    let mut certificate_ids = Vec::new();
    for (user, host) in users.iter().zip(hosts.iter_mut()) {
        let answer = answered(host, "certificates");
        certificate_ids.push(cpx_e2e::only_certificate_id(&answer, user.surname, READER));
    }

    // Both log in at the same time, each to its own site.
    let challenges = [nonce(0xC3), nonce(0xD4)];
    for (index, (user, host)) in users.iter().zip(hosts.iter_mut()).enumerate() {
        host.send(&authenticate_request(
            &certificate_ids[index],
            user.origin,
            &challenges[index],
            user.pin,
        ));
    }
    for (index, (user, host)) in users.iter().zip(hosts.iter_mut()).enumerate() {
        let answer = answered(host, "authenticate");
        let token = &answer["result"];
        cpx_e2e::assert_the_site_accepts(token, user.origin, &challenges[index], user.surname);
        assert_eq!(user.card.lock().expect("card").verify_count(), 1);
    }
    for host in hosts.iter_mut() {
        host.send(&json!({"id": "quit", "command": "quit"}));
        answered(host, "quit");
        assert!(host.wait().success());
    }

    // Each host's log and cache are in its own user's LOCALAPPDATA, about its own login only.
    for (user, other) in [(&users[0], &users[1]), (&users[1], &users[0])] {
        let folder = user.local_app_data().join("cpx-connect");
        let mut log = String::new();
        for file in files_in(&folder.join("logs")) {
            log.push_str(&std::fs::read_to_string(file).unwrap_or_default());
        }
        assert!(log.contains(user.origin), "own login in the log: {log}");
        assert!(!log.contains(other.origin), "no other login: {log}");
        let serial: String = user
            .card
            .lock()
            .expect("card")
            .icc_serial()
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        let cached = files_in(&folder.join("cache"));
        assert_eq!(cached.len(), 1, "one card in the cache: {cached:?}");
        assert!(
            cached[0].to_string_lossy().contains(&serial),
            "{} is the user's card",
            cached[0].display()
        );
    }
}
