//! `cpx-connect doctor`: in-process against virtual readers for every manifest and policy case
//! (no pcscd needed), then the binary itself, without PC/SC and with the virtual card in pcscd.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::{assert_contains, binary};
use cpx_connect::card::{CardType, PinStatus, Transport, TransportError};
use cpx_connect::doctor::{
    self, certificate_check, Check, Context, Language, Report, Status, Topic,
};
use cpx_connect::install::{self, Browser, ExtensionIds, Platform, Roots, Scope};
use cpx_connect::readers::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use cpx_connect::service::holder::Holder as CertificateHolder;
use cpx_connect::service::{CertificateReport, HostService};
use cpx_virtual_card::{Holder, SharedCard, VirtualCard};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const READER: &str = "Lecteur virtuel";
const HOST_FILE: &str = "org.cpxconnect.host.json";

/// One reader, with or without a virtual card, in this process; or no PC/SC service at all.
#[derive(Clone)]
enum Readers {
    ServiceDown,
    One(Option<SharedCard>),
}

impl ReaderBackend for Readers {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        match self {
            Readers::ServiceDown => Err(BackendError::ServiceUnavailable),
            Readers::One(card) => Ok(vec![ReaderSlot {
                name: READER.to_owned(),
                atr: card.as_ref().map(|c| c.lock().unwrap().atr()),
            }]),
        }
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        match self {
            Readers::One(Some(card)) => Ok(Box::new(Connection(card.clone()))),
            _ => Err(BackendError::NoCard(reader.to_owned())),
        }
    }
}

struct Connection(SharedCard);

impl CardConnection for Connection {
    fn transaction(&mut self) -> Result<Box<dyn Transport + '_>, BackendError> {
        Ok(Box::new(CardTransport(self.0.clone())))
    }
}

struct CardTransport(SharedCard);

impl Transport for CardTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // The doctor reads like `certificates`: never a VERIFY (INS 20) with a PIN.
        assert!(
            !(command.get(1) == Some(&0x20) && command.len() > 5),
            "the doctor sent a PIN"
        );
        Ok(self.0.lock().unwrap().transmit(command))
    }
}

fn dupont() -> Readers {
    Readers::One(Some(Arc::new(Mutex::new(VirtualCard::cps3(
        Holder::Dupont,
    )))))
}

/// A temp HOME and root, and the doctor's view of them.
struct Workstation {
    dir: tempfile::TempDir,
    language: Language,
}

impl Workstation {
    fn new() -> Workstation {
        Workstation {
            dir: tempfile::tempdir().unwrap(),
            language: Language::English,
        }
    }

    /// A workstation where `install` registered this build of the host for these browsers (all
    /// of the scope's when none is named).
    fn with_host(scope: Scope, browsers: &[Browser]) -> Workstation {
        let workstation = Workstation::new();
        workstation.install(scope, browsers, &binary());
        workstation
    }

    fn roots(&self) -> Roots {
        Roots {
            root: self.dir.path().join("root"),
            home: Some(self.dir.path().join("home")),
            ..Roots::default()
        }
    }

    fn context(&self) -> Context {
        Context {
            platform: Platform::Linux,
            roots: self.roots(),
            binary: binary(),
            ids: ExtensionIds::embedded().unwrap(),
            language: self.language,
            now: OffsetDateTime::now_utc(),
            log_directory: Some(self.dir.path().join("logs")),
            browsers: Some(Browser::ALL.to_vec()),
        }
    }

    /// Registers `binary` for `browsers` (all when empty) as `install` would.
    fn install(&self, scope: Scope, browsers: &[Browser], binary: &Path) {
        let ids = ExtensionIds::embedded().unwrap();
        install::install(&install::Request {
            platform: Platform::Linux,
            scope,
            roots: self.roots(),
            browsers: browsers.to_vec(),
            binary: binary.to_path_buf(),
            chrome_extension_ids: ids.release_chrome_ids(),
            firefox_addon_ids: vec![ids.firefox_addon_id.clone()],
            ids,
            packages: install::PackageDatabase::None,
            registry_keys: true,
        })
        .unwrap();
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn doctor(&self, readers: Readers) -> Report {
        doctor::run(&self.context(), &mut HostService::new(readers))
    }
}

fn only(report: &Report, topic: Topic) -> Check {
    let checks: Vec<&Check> = report.checks_about(topic).collect();
    assert_eq!(checks.len(), 1, "{topic:?} in\n{report}");
    checks[0].clone()
}

#[test]
fn everything_in_place_means_a_login_can_work() {
    let workstation = Workstation::with_host(Scope::User, &[]);
    let report = workstation.doctor(dupont());
    assert!(report.login_possible, "{report}");
    assert_eq!(only(&report, Topic::PcscService).status, Status::Ok);
    assert_eq!(
        only(&report, Topic::Readers).text,
        format!("Card readers: {READER}")
    );
    assert_eq!(
        only(&report, Topic::Card).text,
        format!("Card in {READER}: CPS3")
    );
    let certificate = only(&report, Topic::Certificate);
    assert_eq!(certificate.status, Status::Ok, "{report}");
    assert_contains(&certificate.text, "(810001234567), CPS3 card");
    for browser in Browser::ALL {
        let manifest = only(&report, Topic::Manifest(browser));
        assert_eq!(manifest.status, Status::Ok, "{report}");
        assert_contains(&manifest.text, "starts this program for ");
    }
    let chromium = only(&report, Topic::Manifest(Browser::Chromium)).text;
    let ids = ExtensionIds::embedded().unwrap();
    let release: Vec<String> = (ids.release_chrome_ids().iter())
        .map(|id| format!("chrome-extension://{id}/"))
        .collect();
    assert!(chromium.ends_with(&release.join(", ")), "{chromium}");
    assert!(!chromium.contains(&ids.chrome_extension_id), "{chromium}");
    let firefox = only(&report, Topic::Manifest(Browser::Firefox)).text;
    assert!(firefox.ends_with(&ids.firefox_addon_id), "{firefox}");
    assert_eq!(only(&report, Topic::Verdict).status, Status::Ok);
    // No policies here: each browser's line says every https site may ask, as a warning.
    for browser in Browser::ALL {
        let policy = only(&report, Topic::Policy(browser));
        assert_eq!(policy.status, Status::Warn, "{report}");
        assert!(
            policy
                .text
                .ends_with("none: CPx Connect is not force-installed, and every https site may ask for a card login"),
            "{}",
            policy.text
        );
    }
    let logs = only(&report, Topic::Logs);
    assert!(logs
        .text
        .contains(&workstation.dir.path().join("logs").display().to_string()));
}

#[test]
fn a_cps_read_contactless_is_told_to_go_in_the_contact_slot() {
    let workstation = Workstation::with_host(Scope::User, &[]);
    let card = VirtualCard::cps3(Holder::Dupont).seen_contactless();
    let report = workstation.doctor(Readers::One(Some(Arc::new(Mutex::new(card)))));
    assert!(!report.login_possible, "{report}");
    let checks: Vec<&Check> = report.checks_about(Topic::Card).collect();
    let contactless = checks
        .iter()
        .find(|check| check.text.contains("contactless"))
        .unwrap_or_else(|| panic!("no contactless check in\n{report}"));
    assert_eq!(contactless.status, Status::Warn);
    assert!(
        contactless
            .fix
            .as_deref()
            .is_some_and(|fix| fix.contains("contact slot")),
        "{report}"
    );
}

#[test]
fn missing_manifests_are_warnings_with_the_install_command() {
    let workstation = Workstation::new();
    let report = workstation.doctor(dupont());
    assert!(!report.login_possible, "{report}");
    for browser in Browser::ALL {
        let check = only(&report, Topic::Manifest(browser));
        assert_eq!(check.status, Status::Warn);
        assert_contains(&check.text, "host not registered");
        assert_eq!(
            check.fix.as_deref(),
            Some(format!("run `cpx-connect install --browser {}`", browser.argument()).as_str())
        );
    }
    let verdict = only(&report, Topic::Verdict);
    assert_eq!(verdict.status, Status::Fail);
    assert_eq!(verdict.text, "A card login cannot work yet");
}

#[test]
fn one_correct_browser_is_enough() {
    let workstation = Workstation::with_host(Scope::System, &[Browser::Firefox]);
    let report = workstation.doctor(dupont());
    assert!(report.login_possible, "{report}");
    assert_eq!(
        only(&report, Topic::Verdict).text,
        "A card login can work in: Firefox"
    );
    assert_eq!(
        only(&report, Topic::Manifest(Browser::Chrome)).status,
        Status::Warn
    );
}

#[test]
fn manifests_pointing_elsewhere_fail_and_say_where() {
    let workstation = Workstation::new();
    let other = workstation.write("elsewhere/cpx-connect", "#!/bin/sh\n");
    workstation.install(Scope::User, &[Browser::Chromium], &other);
    let gone = workstation.dir.path().join("removed/cpx-connect");
    workstation.install(Scope::System, &[Browser::Edge], &gone);
    let report = workstation.doctor(dupont());
    assert!(!report.login_possible, "{report}");

    let chromium = only(&report, Topic::Manifest(Browser::Chromium));
    assert_eq!(chromium.status, Status::Fail);
    assert_contains(
        &chromium.text,
        &format!(
            "points at {}, not at this program ({})",
            other.display(),
            binary().display()
        ),
    );
    assert_eq!(
        chromium.fix.as_deref(),
        Some("run `cpx-connect install --browser chromium`")
    );

    let edge = only(&report, Topic::Manifest(Browser::Edge));
    assert_eq!(edge.status, Status::Fail);
    assert_contains(
        &edge.text,
        &format!("points at {}, which does not exist", gone.display()),
    );
    assert_eq!(
        edge.fix.as_deref(),
        Some("run `cpx-connect install --browser edge --system`")
    );
}

#[test]
fn a_per_user_manifest_hides_the_system_one() {
    let workstation = Workstation::with_host(Scope::System, &[Browser::Chromium]);
    let broken = workstation.write(
        &format!("home/.config/chromium/NativeMessagingHosts/{HOST_FILE}"),
        "{ not json",
    );
    let report = workstation.doctor(dupont());
    let chromium = only(&report, Topic::Manifest(Browser::Chromium));
    assert_eq!(chromium.status, Status::Fail);
    assert_contains(&chromium.text, &format!("{}: unreadable", broken.display()));
    assert!(!report.login_possible);
}

#[test]
fn manifests_for_another_host_type_or_no_extension_fail() {
    let workstation = Workstation::new();
    let path = binary().display().to_string();
    workstation.write(
        &format!("home/.config/google-chrome/NativeMessagingHosts/{HOST_FILE}"),
        &format!(r#"{{"name":"org.other.host","description":"","path":"{path}","type":"stdio","allowed_origins":[]}}"#),
    );
    workstation.write(
        &format!("home/.config/chromium/NativeMessagingHosts/{HOST_FILE}"),
        &format!(r#"{{"name":"org.cpxconnect.host","description":"","path":"{path}","type":"stdio","allowed_origins":[]}}"#),
    );
    workstation.write(
        &format!("home/.mozilla/native-messaging-hosts/{HOST_FILE}"),
        &format!(r#"{{"name":"org.cpxconnect.host","description":"","path":"{path}","type":"stdio","allowed_extensions":["other@example.org"]}}"#),
    );
    let report = workstation.doctor(dupont());
    let chrome = only(&report, Topic::Manifest(Browser::Chrome));
    assert!(
        chrome.status == Status::Fail && chrome.text.contains("names the host \"org.other.host\""),
        "{}",
        chrome.text
    );
    let chromium = only(&report, Topic::Manifest(Browser::Chromium));
    assert!(
        chromium.status == Status::Fail && chromium.text.ends_with("allows no extension"),
        "{}",
        chromium.text
    );
    // Another add-on id still starts this program: a warning, not a failure.
    let firefox = only(&report, Topic::Manifest(Browser::Firefox));
    assert_eq!(firefox.status, Status::Warn, "{}", firefox.text);
    assert_contains(
        &firefox.text,
        "only for other@example.org (not the CPx Connect extension cpx-connect@cpxconnect.org)",
    );
}

#[test]
fn chromium_policies_are_summarised_and_a_blocklist_fails_the_browser() {
    let workstation = Workstation::with_host(Scope::System, &[Browser::Chromium, Browser::Chrome]);
    let id = ExtensionIds::embedded().unwrap().chrome_extension_id;
    let policy = workstation.write(
        "root/etc/chromium/policies/managed/cpx-connect.json",
        &format!(
            r#"{{"ExtensionInstallForcelist": ["{id};https://example.org/updates.xml"],
                "3rdparty": {{"extensions": {{"{id}": {{"allowedOrigins": ["https://viatrajectoire.sante-ra.fr"]}}}}}}}}"#
        ),
    );
    let blocking = workstation.write(
        "root/etc/opt/chrome/policies/managed/lockdown.json",
        r#"{"NativeMessagingBlocklist": ["*"], "NativeMessagingAllowlist": ["org.example.other"]}"#,
    );
    let report = workstation.doctor(dupont());

    let chromium = only(&report, Topic::Policy(Browser::Chromium));
    assert_eq!(chromium.status, Status::Ok);
    assert_eq!(
        chromium.text,
        format!(
            "Chromium policies: read {}; the extension is force-installed; only these sites may ask for a card login: https://viatrajectoire.sante-ra.fr",
            policy.display()
        )
    );
    assert_eq!(
        only(&report, Topic::Manifest(Browser::Chromium)).status,
        Status::Ok
    );

    let chrome = only(&report, Topic::Manifest(Browser::Chrome));
    assert_eq!(chrome.status, Status::Fail, "{report}");
    assert_contains(
        &chrome.text,
        &format!(
            "blocked by the NativeMessagingBlocklist policy of {}",
            blocking.display()
        ),
    );
    assert_eq!(
        chrome.fix.as_deref(),
        Some("add org.cpxconnect.host to the NativeMessagingAllowlist policy")
    );
    let chrome_policy = only(&report, Topic::Policy(Browser::Chrome));
    assert_contains(
        &chrome_policy.text,
        "the extension is not force-installed; no allowedOrigins: every https site may ask for a card login",
    );
    // Chromium still works, so a login can.
    assert!(report.login_possible, "{report}");
}

#[test]
fn user_level_hosts_disabled_ignores_per_user_manifests() {
    let workstation = Workstation::with_host(Scope::User, &[Browser::Chromium]);
    workstation.write(
        "root/etc/chromium/policies/managed/hosts.json",
        r#"{"NativeMessagingUserLevelHosts": false}"#,
    );
    let report = workstation.doctor(dupont());
    let chromium = only(&report, Topic::Manifest(Browser::Chromium));
    assert_eq!(chromium.status, Status::Warn, "{report}");
    assert_eq!(
        chromium.fix.as_deref(),
        Some("run `cpx-connect install --browser chromium --system`")
    );
    assert!(only(&report, Topic::Policy(Browser::Chromium))
        .text
        .contains("per-user hosts ignored"));
    assert!(!report.login_possible);
}

#[test]
fn firefox_policies_and_unreadable_policy_files() {
    let workstation = Workstation::new();
    workstation.write(
        "root/etc/firefox/policies/policies.json",
        r#"{"policies": {
            "ExtensionSettings": {"cpx-connect@cpxconnect.org": {"installation_mode": "force_installed", "install_url": "https://example.org/cpx-connect.xpi"}},
            "3rdparty": {"Extensions": {"cpx-connect@cpxconnect.org": {"allowedOrigins": []}}}}}"#,
    );
    let broken = workstation.write("root/etc/opt/edge/policies/managed/broken.json", "{,}");
    let report = workstation.doctor(dupont());
    let firefox = only(&report, Topic::Policy(Browser::Firefox));
    assert!(
        firefox.text.contains(
            "the extension is force-installed; allowedOrigins is an empty list: NO site may ask for a card login"
        ),
        "{}",
        firefox.text
    );
    // The extension refuses every site with an empty list: no login can work there.
    assert_eq!(firefox.status, Status::Fail);
    let edge = only(&report, Topic::Policy(Browser::Edge));
    assert_eq!(edge.status, Status::Warn);
    assert_contains(&edge.text, &format!("{} unreadable", broken.display()));
}

#[test]
fn no_service_no_reader_no_card_and_foreign_cards_each_explain_the_fix() {
    let workstation = Workstation::with_host(Scope::User, &[]);

    let report = workstation.doctor(Readers::ServiceDown);
    let service = only(&report, Topic::PcscService);
    assert_eq!(service.status, Status::Fail);
    assert!(service
        .fix
        .as_deref()
        .is_some_and(|fix| fix.contains("systemctl enable --now pcscd.socket")));
    assert!(!report.login_possible);

    let report = workstation.doctor(Readers::One(None));
    let card = only(&report, Topic::Card);
    assert_eq!(
        (card.status, card.text.as_str()),
        (Status::Fail, "Card: none inserted")
    );
    assert!(!report.login_possible);

    let foreign = VirtualCard::cps3(Holder::Dupont);
    let foreign = Arc::new(Mutex::new(foreign));
    let report = doctor::run(
        &workstation.context(),
        &mut HostService::new(ForeignAtr(Readers::One(Some(foreign)))),
    );
    let cards: Vec<&Check> = report.checks_about(Topic::Card).collect();
    assert_eq!(cards.len(), 2, "{report}");
    assert_eq!(cards[0].status, Status::Warn);
    assert_contains(&cards[0].text, "not a CPx card with a login key (ATR 3B00)");
    assert_eq!(
        (cards[1].status, cards[1].text.as_str()),
        (Status::Fail, "Card: no CPx card inserted")
    );
    assert_eq!(report.checks_about(Topic::Certificate).count(), 0);
    assert!(!report.login_possible);
}

/// Reports an ATR no CPx card has.
struct ForeignAtr(Readers);

impl ReaderBackend for ForeignAtr {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        let mut readers = self.0.readers()?;
        for reader in &mut readers {
            reader.atr = reader.atr.as_ref().map(|_| vec![0x3B, 0x00]);
        }
        Ok(readers)
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        self.0.connect(reader)
    }
}

fn certificate(not_after: &str, retries_left: u8) -> CertificateReport {
    CertificateReport {
        certificate_id: "00".into(),
        reader: READER.into(),
        card_type: CardType::Cps3,
        certificate_der: Vec::new(),
        holder: CertificateHolder {
            id_nat: Some("810001234567".into()),
            surname: Some("DUPONT".into()),
            given_name: Some("MARIE".into()),
            profession: None,
        },
        not_after: not_after.into(),
        pin: PinStatus {
            retries_left,
            max_retries: Some(3),
        },
        pin_min_length: 4,
        pin_max_length: 8,
    }
}

#[test]
fn certificate_expiry_and_blocked_pin() {
    let now = OffsetDateTime::parse("2026-06-01T12:00:00Z", &Rfc3339).unwrap();
    let check = |not_after, tries| {
        certificate_check(Language::English, now, &certificate(not_after, tries))
    };
    let fine = check("2028-01-01T00:00:00Z", 3);
    assert_eq!(fine.status, Status::Ok);
    assert_eq!(
        fine.text,
        "Certificate of MARIE DUPONT (810001234567), CPS3 card, valid until 2028-01-01, PIN tries left 3/3"
    );
    assert_eq!(check("2026-06-20T00:00:00Z", 3).status, Status::Warn);
    let expired = check("2026-05-31T23:59:59Z", 3);
    assert_eq!(expired.status, Status::Fail);
    assert!(expired.fix.unwrap().contains("expired"));
    let blocked = check("2028-01-01T00:00:00Z", 0);
    assert_eq!(blocked.status, Status::Fail);
    assert!(blocked.fix.unwrap().contains("PIN is blocked"));
    assert_eq!(check("someday", 3).status, Status::Warn);
    let french = certificate_check(
        Language::French,
        now,
        &certificate("2026-05-01T00:00:00Z", 3),
    );
    assert!(
        french.text.starts_with(
            "Certificat de MARIE DUPONT (810001234567), carte CPS3, valide jusqu'au 2026-05-01"
        ),
        "{}",
        french.text
    );
    assert!(french.fix.unwrap().starts_with("le certificat a expiré"));
}

#[test]
fn the_report_speaks_french_in_a_french_locale() {
    let mut workstation = Workstation::with_host(Scope::User, &[Browser::Firefox]);
    workstation.language = Language::French;
    let report = workstation.doctor(dupont());
    let text = report.to_string();
    assert_contains(&text, "OK    Service PC/SC : actif\n");
    assert_contains(&text, &format!("OK    Carte dans {READER} : CPS3\n"));
    assert_contains(&text, "WARN  Chromium : hôte non déclaré");
    assert_contains(
        &text,
        " -> correctif : lancez `cpx-connect install --browser chromium`\n",
    );
    assert!(
        text.ends_with("OK    La connexion par carte peut fonctionner dans : Firefox\n"),
        "{text}"
    );
}

/// The binary, with PC/SC pointed at a socket that does not exist (pcsc-lite's
/// PCSCLITE_CSOCK_NAME), so the machine's pcscd is never asked.
fn doctor_binary(
    home: &Path,
    root: &Path,
    extra_env: &[(&str, &str)],
    pcsc_socket: Option<&Path>,
) -> Output {
    let mut command = Command::new(binary());
    command
        .args(["doctor", "--root"])
        .arg(root)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("CPX_CONNECT_LOG_DIR")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    if let Some(socket) = pcsc_socket {
        command.env("PCSCLITE_CSOCK_NAME", socket);
    }
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn the_binary_exits_2_without_pc_sc_and_follows_the_locale() {
    let dir = tempfile::tempdir().unwrap();
    let (home, root) = (dir.path().join("home"), dir.path().join("root"));
    let socket = dir.path().join("no-pcscd.comm");
    let install = Command::new(binary())
        .args(["install", "--browser", "chromium"])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(install.status.success());

    let output = doctor_binary(&home, &root, &[], Some(&socket));
    assert_eq!(
        output.status.code(),
        Some(i32::from(doctor::exit::FAILURES))
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "OK    cpx-connect {} at {}\n",
            env!("CARGO_PKG_VERSION"),
            binary().display()
        )),
        "{text}"
    );
    assert_contains(
        &text,
        "FAIL  PC/SC service: not reachable -> fix: install and start pcscd",
    );
    assert_contains(
        &text,
        &format!(
            "OK    Chromium: {}",
            home.join(".config/chromium/NativeMessagingHosts")
                .join(HOST_FILE)
                .display()
        ),
    );
    assert_contains(
        &text,
        &format!(
            "OK    Logs: {}",
            home.join(".local/state/cpx-connect").display()
        ),
    );
    assert!(
        text.ends_with("FAIL  A card login cannot work yet -> fix: correct the FAIL lines above\n"),
        "{text}"
    );

    // --json: the same report for scripts, and the same exit code.
    let mut command = Command::new(binary());
    command
        .args(["doctor", "--json", "--root"])
        .arg(&root)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env("PCSCLITE_CSOCK_NAME", &socket);
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(i32::from(doctor::exit::FAILURES))
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["schema"], doctor::JSON_SCHEMA);
    assert_eq!(report["status"], "fail");
    assert_eq!(report["exitCode"], doctor::exit::FAILURES);
    assert_eq!(report["loginPossible"], false);
    let pcsc = (report["checks"].as_array().unwrap().iter())
        .find(|check| check["text"] == "PC/SC service: not reachable")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(pcsc["status"], "fail");
    assert!(
        pcsc["fix"]
            .as_str()
            .is_some_and(|fix| fix.starts_with("install and start pcscd")),
        "{pcsc}"
    );
    // A usage error is "the doctor could not run", not a FAIL line.
    let output = Command::new(binary())
        .args(["doctor", "--no-such-option"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(i32::from(doctor::exit::DOCTOR_ERROR))
    );

    let output = doctor_binary(
        &home,
        &root,
        &[("LC_MESSAGES", "fr_FR.UTF-8")],
        Some(&socket),
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert_contains(
        &text,
        "FAIL  Service PC/SC : injoignable -> correctif : installez et démarrez pcscd",
    );
}

/// The whole chain: pcscd, vpcd, the virtual card, the binary. Holds the machine-wide lock.
#[test]
fn the_binary_exits_1_with_warnings_only_with_the_virtual_card_in_pcscd() {
    let _lock = cpx_virtual_card::pcscd_test_lock().expect("pcscd test lock");
    cpx_e2e::pcscd::ensure_running();
    let card = cpx_virtual_card::shared(VirtualCard::cps3(Holder::Dupont));
    let _inserted =
        cpx_virtual_card::vpcd::insert(card, cpx_e2e::SLOT_PORTS[0]).expect("insert into vpcd");
    cpx_e2e::wait_for_card(cpx_e2e::SLOT_READERS[0], true);

    let dir = tempfile::tempdir().unwrap();
    let (home, root) = (dir.path().join("home"), dir.path().join("root"));
    let install = Command::new(binary())
        .args(["install", "--system", "--browser", "firefox", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(install.status.success());
    let output = doctor_binary(&home, &root, &[], None);
    let text = String::from_utf8(output.stdout).unwrap();
    // No browser installed and no policy: warnings, no failure.
    assert_eq!(
        output.status.code(),
        Some(i32::from(doctor::exit::WARNINGS)),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
    assert_contains(&text, "OK    PC/SC service: running\n");
    assert_contains(
        &text,
        &format!("OK    Card in {}: CPS3\n", cpx_e2e::SLOT_READERS[0]),
    );
    assert_contains(&text, "OK    Certificate of ");
    assert_contains(&text, "(810001234567), CPS3 card, valid until ");
    assert!(
        text.ends_with("OK    A card login can work in: Firefox\n"),
        "{text}"
    );
}

#[test]
fn malformed_allowed_origins_and_unknown_pattern_forms_are_reported() {
    let workstation = Workstation::new();
    // Firefox does no schema check: a plain string is kept as it is, and the extension refuses
    // every site.
    workstation.write(
        "root/etc/firefox/policies/policies.json",
        r#"{"policies": {"3rdparty": {"Extensions": {"cpx-connect@cpxconnect.org": {"allowedOrigins": "https://portail.example.fr"}}}}}"#,
    );
    let id = ExtensionIds::embedded().unwrap().chrome_extension_id;
    workstation.write(
        "root/etc/chromium/policies/managed/cpx-connect.json",
        &format!(
            r#"{{"3rdparty": {{"extensions": {{"{id}": {{"allowedOrigins": ["https://portail.example.fr", "[*.]sante.fr", "https://*.sante.fr/*", "https://*.ght.fr:443"]}}}}}}}}"#
        ),
    );
    let report = workstation.doctor(dupont());

    let firefox = only(&report, Topic::Policy(Browser::Firefox));
    assert_eq!(firefox.status, Status::Fail, "{}", firefox.text);
    assert_contains(
        &firefox.text,
        "NO site may ask for a card login: allowedOrigins is a text, not a list",
    );

    // One entry the extension cannot read refuses every site: a typo never opens the list.
    let chromium = only(&report, Topic::Policy(Browser::Chromium));
    assert_eq!(chromium.status, Status::Fail, "{}", chromium.text);
    assert_contains(&chromium.text,
            "NO site may ask for a card login: allowedOrigins has 2 invalid entries (https://portail.example.fr, \
             [*.]sante.fr (refused: expected https://host[:port] or https://*.domain, with no user, path, query or fragment), \
             https://*.sante.fr/* (refused: expected https://host[:port] or https://*.domain, with no user, path, query or fragment), \
             https://*.ght.fr:443 (= https://*.ght.fr))"
        );
    assert!(
        chromium.fix.as_deref().is_some_and(|fix| fix.starts_with(
            "write allowedOrigins as a list of texts https://host[:port] or https://*.domain"
        )),
        "{:?}",
        chromium.fix
    );
}

#[test]
fn the_development_id_admitted_is_a_warning() {
    let workstation = Workstation::new();
    let ids = ExtensionIds::embedded().unwrap();
    let mut chrome_ids = ids.release_chrome_ids();
    chrome_ids.push(ids.development_chrome_id().to_owned());
    install::install(&install::Request {
        platform: Platform::Linux,
        scope: Scope::System,
        roots: workstation.roots(),
        browsers: vec![Browser::Chromium],
        binary: binary(),
        chrome_extension_ids: chrome_ids,
        firefox_addon_ids: vec![ids.firefox_addon_id.clone()],
        ids: ids.clone(),
        packages: install::PackageDatabase::None,
        registry_keys: true,
    })
    .unwrap();
    let report = workstation.doctor(dupont());
    let chromium = only(&report, Topic::Manifest(Browser::Chromium));
    assert_eq!(chromium.status, Status::Warn, "{report}");
    assert_contains(
        &chromium.text,
        &format!(
            "including the development build {}, whose private key is public",
            ids.development_chrome_id()
        ),
    );
    assert_eq!(
        chromium.fix.as_deref(),
        Some("run `cpx-connect install --system` (without --dev) on a workstation that is not a developer's")
    );
    // Still a login can work: a warning, not a failure.
    assert!(report.login_possible, "{report}");
}

/// Issue 20.3: a Chromium snap cannot start a native host. With the host registered for Chromium
/// and no other browser, the doctor names the snap and promises no login.
#[test]
fn a_chromium_snap_is_named_and_no_login_is_promised_there() {
    let workstation = Workstation::with_host(Scope::User, &[Browser::Chromium]);
    let report = workstation.doctor(dupont());
    assert!(report.login_possible, "{report}");

    workstation.write("root/snap/bin/chromium", "");
    let report = workstation.doctor(dupont());
    let sandbox = only(&report, Topic::Sandbox(Browser::Chromium));
    assert_eq!(sandbox.status, Status::Fail, "{report}");
    assert!(
        sandbox.text.starts_with("Chromium is a snap: "),
        "{}",
        sandbox.text
    );
    assert!(!report.login_possible, "{report}");
    assert_eq!(only(&report, Topic::Verdict).status, Status::Fail);
}
