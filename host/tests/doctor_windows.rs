//! `cpx-connect doctor` on Windows, in-process on any platform: registrations read from an
//! in-memory registry as `install` writes them, the smart card service down (as under Wine, or a
//! Windows machine without a reader). The real registry is checked under Wine by
//! tests/windows/run.sh.

mod common;

use std::path::Path;

use common::assert_contains;
use cpx_connect::doctor::{self, Context, Language, Report, Status, Topic};
use cpx_connect::install::registry::{Hive, MemoryRegistry, Registry, RegistryKey, RegistryValue};
use cpx_connect::install::{self, Browser, ExtensionIds, Platform, Roots, Scope};
use cpx_connect::readers::{BackendError, CardConnection, ReaderBackend, ReaderSlot};
use cpx_connect::service::HostService;
use time::OffsetDateTime;

struct ServiceDown;

impl ReaderBackend for ServiceDown {
    fn readers(&mut self) -> Result<Vec<ReaderSlot>, BackendError> {
        Err(BackendError::ServiceUnavailable)
    }

    fn connect(&mut self, _reader: &str) -> Result<Box<dyn CardConnection>, BackendError> {
        Err(BackendError::ServiceUnavailable)
    }
}

struct Workstation {
    dir: tempfile::TempDir,
    registry: MemoryRegistry,
}

impl Workstation {
    fn new() -> Workstation {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        std::fs::create_dir_all(dir.path().join("program")).unwrap();
        // The doctor compares the manifest's path with its own binary, which must exist.
        std::fs::write(dir.path().join("program").join("cpx-connect.exe"), b"MZ").unwrap();
        Workstation {
            dir,
            registry: MemoryRegistry::new(),
        }
    }

    fn roots(&self) -> Roots {
        Roots {
            local_app_data: Some(self.dir.path().join("local")),
            program_folder: Some(self.dir.path().join("program")),
            ..Roots::default()
        }
    }

    fn binary(&self) -> std::path::PathBuf {
        install::canonical(&self.dir.path().join("program").join("cpx-connect.exe")).unwrap()
    }

    fn request(&self, scope: Scope, browsers: &[Browser]) -> install::Request {
        let ids = ExtensionIds::embedded().unwrap();
        install::Request {
            platform: Platform::Windows,
            scope,
            roots: self.roots(),
            browsers: browsers.to_vec(),
            binary: self.binary(),
            chrome_extension_ids: ids.release_chrome_ids(),
            firefox_addon_ids: vec![ids.firefox_addon_id.clone()],
            ids,
            packages: install::PackageDatabase::None,
            registry_keys: true,
        }
    }

    /// Names `manifest` as the host's manifest under the key of the browser at `browser_key`
    /// (its `NativeMessagingHosts\org.cpxconnect.host`), as an administrator (or another
    /// installer) may write it.
    fn register_manifest(&mut self, hive: Hive, browser_key: &str, manifest: &Path) {
        let key = format!("{browser_key}\\NativeMessagingHosts\\org.cpxconnect.host");
        self.registry
            .set_default_value(&RegistryKey::new(hive, key), &manifest.to_string_lossy())
            .unwrap();
    }

    fn doctor(&self) -> Report {
        let context = Context {
            platform: Platform::Windows,
            roots: self.roots(),
            binary: self.binary(),
            ids: ExtensionIds::embedded().unwrap(),
            language: Language::English,
            now: OffsetDateTime::now_utc(),
            log_directory: Some(
                self.dir
                    .path()
                    .join("local")
                    .join("cpx-connect")
                    .join("logs"),
            ),
            browsers: Some(Browser::ALL.to_vec()),
        };
        doctor::run_with_registry(&context, &mut HostService::new(ServiceDown), &self.registry)
    }
}

fn only(report: &Report, topic: Topic) -> doctor::Check {
    let checks: Vec<_> = report.checks_about(topic).cloned().collect();
    assert_eq!(checks.len(), 1, "{topic:?} in\n{report}");
    checks.into_iter().next().unwrap()
}

#[test]
fn registrations_are_followed_from_the_registry_and_the_stopped_service_is_named() {
    let mut workstation = Workstation::new();
    let request = workstation.request(Scope::System, &[]);
    install::install_with(&request, &mut workstation.registry).unwrap();
    let report = workstation.doctor();
    assert!(!report.login_possible);

    let service = only(&report, Topic::PcscService);
    assert_eq!(service.status, Status::Fail);
    assert_contains(&service.text, "SCardSvr");
    assert!(
        service
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains("sc start SCardSvr"),
        "{report}"
    );
    let program = workstation.dir.path().join("program");
    for browser in Browser::ALL {
        let manifest = only(&report, Topic::Manifest(browser));
        assert_eq!(manifest.status, Status::Ok, "{report}");
        let file = if browser.is_firefox() {
            "org.cpxconnect.host.firefox.json"
        } else {
            "org.cpxconnect.host.json"
        };
        assert_contains(&manifest.text, &program.join(file).display().to_string());
    }
}

#[test]
fn a_per_user_key_wins_and_a_key_naming_a_missing_manifest_fails() {
    let mut workstation = Workstation::new();
    install::install_with(
        &workstation.request(Scope::System, &[]),
        &mut workstation.registry,
    )
    .unwrap();
    // Chrome looks under HKCU first and stops at the first key, even a broken one.
    let missing = workstation.dir.path().join("gone.json");
    workstation.register_manifest(Hive::CurrentUser, "Software\\Google\\Chrome", &missing);
    let report = workstation.doctor();
    let chrome = only(&report, Topic::Manifest(Browser::Chrome));
    assert_eq!(chrome.status, Status::Fail, "{report}");
    assert_contains(&chrome.text, &missing.display().to_string());
    assert_eq!(
        only(&report, Topic::Manifest(Browser::Edge)).status,
        Status::Ok
    );
}

#[test]
fn after_uninstall_the_keys_looked_at_are_listed() {
    let mut workstation = Workstation::new();
    let request = workstation.request(Scope::User, &[]);
    install::install_with(&request, &mut workstation.registry).unwrap();
    install::uninstall_with(&request, &mut workstation.registry).unwrap();
    assert!(!Path::new(&workstation.dir.path().join("local").join("cpx-connect")).exists());
    let report = workstation.doctor();
    let edge = only(&report, Topic::Manifest(Browser::Edge));
    assert_eq!(edge.status, Status::Warn);
    assert_contains(&edge.text,
            "HKCU\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\org.cpxconnect.host, HKLM\\SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\org.cpxconnect.host"
        );
    assert_eq!(
        edge.fix.as_deref(),
        Some("run `cpx-connect install --browser edge`")
    );
}

#[test]
fn a_manifest_naming_the_exe_relative_to_its_folder_is_this_program() {
    // What the MSI installs: manifests next to the exe saying just "cpx-connect.exe".
    let mut workstation = Workstation::new();
    let program = workstation.dir.path().join("program");
    let ids = ExtensionIds::embedded().unwrap();
    let manifest = program.join("org.cpxconnect.host.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "name": ids.native_host_name,
            "description": "CPx Connect",
            "path": "cpx-connect.exe",
            "type": "stdio",
            "allowed_origins": ids.release_chrome_ids().iter().map(|id| format!("chrome-extension://{id}/")).collect::<Vec<_>>(),
        })
        .to_string(),
    )
    .unwrap();
    workstation.register_manifest(Hive::LocalMachine, "SOFTWARE\\Chromium", &manifest);
    let report = workstation.doctor();
    let chromium = only(&report, Topic::Manifest(Browser::Chromium));
    assert_eq!(chromium.status, Status::Ok, "{report}");
}

/// Issue 18.1 on Windows: Edge drops an `allowedOrigins` written as a plain string (its schema
/// wants a list), so without `restrictOrigins` every site may ask; Chrome with the list and
/// `restrictOrigins` as a DWORD admits exactly its sites. The doctor reads both from the registry.
#[test]
fn policies_are_read_from_the_registry_with_each_browser_s_semantics() {
    let mut workstation = Workstation::new();
    let ids = ExtensionIds::embedded().unwrap();
    let id = &ids.release_chrome_ids()[0];
    let policy = |vendor: &str| {
        RegistryKey::new(
            Hive::LocalMachine,
            format!("SOFTWARE\\Policies\\{vendor}\\3rdparty\\extensions\\{id}\\policy"),
        )
    };
    workstation.registry.set_value(
        &policy("Microsoft\\Edge"),
        "allowedOrigins",
        RegistryValue::String("https://dpi.example.fr".to_owned()),
    );
    let chrome = policy("Google\\Chrome");
    workstation
        .registry
        .set_value(&chrome, "restrictOrigins", RegistryValue::Dword(1));
    workstation.registry.set_value(
        &chrome.join("allowedOrigins"),
        "1",
        RegistryValue::String("https://dpi.example.fr".to_owned()),
    );
    let report = workstation.doctor();

    let edge = only(&report, Topic::Policy(Browser::Edge));
    assert_eq!(edge.status, Status::Fail, "{report}");
    assert!(
        edge.text.starts_with(
            "Microsoft Edge policies: read HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge;"
        ),
        "{}",
        edge.text
    );
    assert_contains(&edge.text, "EVERY https site may ask for a card login");
    let chrome = only(&report, Topic::Policy(Browser::Chrome));
    assert!(
        chrome
            .text
            .ends_with("only these sites may ask for a card login: https://dpi.example.fr"),
        "{}",
        chrome.text
    );
    // Firefox has no policy in this registry: every https site, as a warning.
    let firefox = only(&report, Topic::Policy(Browser::Firefox));
    assert_eq!(firefox.status, Status::Warn, "{report}");
}
