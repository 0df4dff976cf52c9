//! Two users of one session host at once (issue 20.2, ADMIN.md "Remote desktops and thin
//! clients"): each session has its own PC/SC service with the reader redirected from its thin
//! client, each user has a HOME of their own, and each browser starts its own `cpx-connect`.
//! Dupont and Martin log in at the same moment; each gets a token from their own card, sees only
//! their own reader, and the host writes only into their own folders.
//!
//! The sessions' pcscd instances are private ones (tests/e2e/src/session_pcscd.rs), on vpcd ports
//! chosen at run time: the machine's pcscd and its vpcd slots are not used, so the pcscd test
//! lock is not taken.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cpx_e2e::session_pcscd::SessionPcscd;
use cpx_e2e::{answered, authenticate_request, nonce, wait_until, Host};
use cpx_virtual_card::vpcd::InsertedCard;
use cpx_virtual_card::{Holder, SharedCard, VirtualCard};
use serde_json::json;

/// One user's session: its PC/SC service with the user's card in the redirected reader.
struct Session {
    // Declared first so the card leaves the reader before the session's pcscd stops.
    _inserted: InsertedCard,
    card: SharedCard,
    pcscd: SessionPcscd,
    origin: &'static str,
    pin: &'static str,
    surname: &'static str,
}

impl Session {
    fn open(
        reader_name: &str,
        holder: Holder,
        pin: &'static str,
        origin: &'static str,
        surname: &'static str,
    ) -> Session {
        let pcscd = SessionPcscd::start(reader_name);
        let card = cpx_virtual_card::shared(VirtualCard::cps3(holder).with_pin(pin));
        let inserted =
            cpx_virtual_card::vpcd::insert(card.clone(), pcscd.port).expect("insert into vpcd");
        let session = Session {
            _inserted: inserted,
            card,
            pcscd,
            origin,
            pin,
            surname,
        };
        session.wait_for_card();
        session
    }

    fn socket_variable(&self) -> (&'static str, PathBuf) {
        ("PCSCLITE_CSOCK_NAME", self.pcscd.socket())
    }

    /// Waits until a host in this session sees the card in the session's reader.
    fn wait_for_card(&self) {
        let (name, socket) = self.socket_variable();
        wait_until(&format!("card in {}", self.pcscd.reader), || {
            let home = tempfile::tempdir().expect("temporary HOME");
            let mut host = Host::spawn_for_user(home, &[(name, socket.as_os_str())]);
            let status = host.command("status");
            status["result"]["readers"]
                .as_array()
                .is_some_and(|readers| {
                    readers
                        .iter()
                        .any(|r| r["name"] == self.pcscd.reader.as_str() && !r["card"].is_null())
                })
        });
    }

    fn icc_serial_hex(&self) -> String {
        self.card
            .lock()
            .expect("card")
            .icc_serial()
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect()
    }
}

/// Every file under `folder`, as paths relative to it.
fn files_under(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory)
            .expect("read a test folder")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(folder).expect("under").to_path_buf());
            }
        }
    }
    files.sort();
    files
}

fn text_of_files_in(folder: &Path) -> String {
    let mut text = String::new();
    for file in files_under(folder) {
        text.push_str(&std::fs::read_to_string(folder.join(file)).unwrap_or_default());
    }
    text
}

#[test]
fn two_users_log_in_at_once_each_with_their_own_card_and_folders() {
    // The machine's pcscd, if one runs, must not notice the sessions' own.
    let machine_pcscd = machine_pcscd_files();
    let dupont = Session::open(
        "Thin client A",
        Holder::Dupont,
        "1234",
        "https://dpi.hopital-a.example",
        "DUPONT",
    );
    let martin = Session::open(
        "Thin client B",
        Holder::Martin,
        "5678",
        "https://viatrajectoire.example",
        "MARTIN",
    );

    // Both hosts get the same TMPDIR, a folder every session could write to: the host must
    // leave it empty.
    let shared_temporary = tempfile::tempdir().expect("shared TMPDIR");
    // Dupont's session sets the XDG folders; Martin's does not, so his host takes the
    // defaults under HOME.
    let dupont_home = tempfile::tempdir().expect("Dupont's HOME");
    let dupont_home_path = dupont_home.path().to_path_buf();
    let dupont_state = dupont_home_path.join("xdg-state");
    let dupont_cache = dupont_home_path.join("xdg-cache");
    let martin_home = tempfile::tempdir().expect("Martin's HOME");
    let martin_home_path = martin_home.path().to_path_buf();

    let (socket_name, dupont_socket) = dupont.socket_variable();
    let (_, martin_socket) = martin.socket_variable();
    let temporary: &OsStr = shared_temporary.path().as_os_str();
    let mut dupont_host = Host::spawn_for_user(
        dupont_home,
        &[
            (socket_name, dupont_socket.as_os_str()),
            ("XDG_STATE_HOME", dupont_state.as_os_str()),
            ("XDG_CACHE_HOME", dupont_cache.as_os_str()),
            ("TMPDIR", temporary),
        ],
    );
    let mut martin_host = Host::spawn_for_user(
        martin_home,
        &[
            (socket_name, martin_socket.as_os_str()),
            ("TMPDIR", temporary),
        ],
    );
    let mut users: [(&Session, &mut Host); 2] =
        [(&dupont, &mut dupont_host), (&martin, &mut martin_host)];

    // Both read their certificates at the same time: each sees one card, its own, in its own
    // reader.
    for (_, host) in users.iter_mut() {
        host.send(&json!({"id": "certificates", "command": "certificates"}));
    }
    let mut certificate_ids = Vec::new();
    for (session, host) in users.iter_mut() {
        let answer = answered(host, "certificates");
        certificate_ids.push(cpx_e2e::only_certificate_id(
            &answer,
            session.surname,
            session.pcscd.reader.as_str(),
        ));
    }

    // `status` lists the session's readers and nothing else.
    for (_, host) in users.iter_mut() {
        host.send(&json!({"id": "status", "command": "status"}));
    }
    for (session, host) in users.iter_mut() {
        let answer = answered(host, "status");
        let readers = answer["result"]["readers"].as_array().expect("readers");
        // vpcd's two slots, both the session's; the card in the first.
        let names: Vec<&str> = readers.iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(names, session.pcscd.readers(), "only the session's readers");
        assert_eq!(readers[0]["card"]["type"], "CPS3");
        assert!(readers[1]["card"].is_null(), "{answer}");
    }

    // Both log in at the same time, each to its own site.
    let challenges = [nonce(0xA1), nonce(0xB2)];
    for (index, (session, host)) in users.iter_mut().enumerate() {
        host.send(&authenticate_request(
            &certificate_ids[index],
            session.origin,
            &challenges[index],
            session.pin,
        ));
    }
    for (index, (session, host)) in users.iter_mut().enumerate() {
        let answer = answered(host, "authenticate");
        let token = &answer["result"];
        cpx_e2e::assert_the_site_accepts(
            token,
            session.origin,
            &challenges[index],
            session.surname,
        );
        // One VERIFY, on this session's card only.
        assert_eq!(session.card.lock().expect("card").verify_count(), 1);
    }

    for (_, host) in users.iter_mut() {
        host.send(&json!({"id": "quit", "command": "quit"}));
        answered(host, "quit");
        assert!(host.wait().success());
    }

    // Each host wrote its log and its card cache in its own user's folders, and nothing else
    // anywhere: Dupont's under the XDG folders his session set, Martin's under HOME.
    let dupont_files = files_under(&dupont_home_path);
    let martin_files = files_under(&martin_home_path);
    assert_eq!(
        files_under(shared_temporary.path()),
        Vec::<PathBuf>::new(),
        "nothing in the shared TMPDIR"
    );
    for (session, other, home_files, logs, cache) in [
        (
            &dupont,
            &martin,
            &dupont_files,
            dupont_state.join("cpx-connect"),
            dupont_cache.join("cpx-connect"),
        ),
        (
            &martin,
            &dupont,
            &martin_files,
            martin_home_path.join(".local/state/cpx-connect"),
            martin_home_path.join(".cache/cpx-connect"),
        ),
    ] {
        // Readable by their user alone: other sessions must not see who logged in where.
        for folder in [&logs, &cache] {
            let mode = std::fs::metadata(folder)
                .expect("folder")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{}", folder.display());
        }
        let log = text_of_files_in(&logs);
        assert!(log.contains(&session.pcscd.reader), "own reader in the log");
        assert!(log.contains(session.origin), "own login in the log");
        assert!(!log.contains(&other.pcscd.reader), "no other reader: {log}");
        assert!(!log.contains(other.origin), "no other login: {log}");

        let cached = files_under(&cache);
        assert_eq!(cached.len(), 1, "one card in the cache: {cached:?}");
        let name = cached[0].to_string_lossy().into_owned();
        assert!(
            name.contains(&session.icc_serial_hex()),
            "{name} is the session's card"
        );
        assert!(
            !name.contains(&other.icc_serial_hex()),
            "{name} is not the other card"
        );

        let expected = files_under(&logs).len() + cached.len();
        assert_eq!(
            home_files.len(),
            expected,
            "only logs and cache in HOME: {home_files:?}"
        );
    }
    assert_eq!(
        machine_pcscd_files(),
        machine_pcscd,
        "the machine's pcscd files"
    );
}

/// The machine pcscd's pid file content and whether its socket is there.
fn machine_pcscd_files() -> (Option<Vec<u8>>, bool) {
    (
        std::fs::read("/run/pcscd/pcscd.pid").ok(),
        Path::new("/run/pcscd/pcscd.comm").exists(),
    )
}
