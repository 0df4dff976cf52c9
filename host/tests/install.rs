//! `cpx-connect install` / `uninstall` as an administrator runs them, with a temp HOME and the
//! hidden `--root` so that nothing touches the machine's real browser folders; and the
//! browser's own way of starting the binary, which must still reach native messaging.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{assert_contains, binary};
use serde_json::{json, Value};

const HOST_FILE: &str = "org.cpxconnect.host.json";

/// What `extension/ids.json` says, read here independently of the binary's embedded copy.
struct Ids {
    /// Every channel's id: what `install` admits without --extension-id.
    chrome: Vec<String>,
    firefox: String,
}

fn ids() -> Ids {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension/ids.json");
    let ids: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(ids["nativeHostName"], "org.cpxconnect.host");
    Ids {
        chrome: ids["allowedChromeExtensionIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect(),
        firefox: ids["firefoxAddonId"].as_str().unwrap().to_owned(),
    }
}

/// A throw-away machine: a HOME and a root for system paths, with the folders a real system
/// already has (so that uninstall can be checked to leave exactly them).
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let machine = Machine {
            dir: tempfile::tempdir().unwrap(),
        };
        for existing in [
            "home/.config",
            "root/etc/opt",
            "root/usr/lib",
            "root/usr/lib64",
        ] {
            std::fs::create_dir_all(machine.dir.path().join(existing)).unwrap();
        }
        machine
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Where the host manifest is in this folder of the user's HOME.
    fn user_manifest(&self, folder: &str) -> PathBuf {
        self.home().join(folder).join(HOST_FILE)
    }

    /// Where the host manifest is in this system folder.
    fn system_manifest(&self, folder: &str) -> PathBuf {
        self.root().join(folder).join(HOST_FILE)
    }

    fn run(&self, arguments: &[&str]) -> Output {
        Command::new(binary())
            .args(arguments)
            .arg("--root")
            .arg(self.root())
            .env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout's lines.
    fn ok(&self, arguments: &[&str]) -> Vec<String> {
        let output = self.run(arguments);
        assert!(
            output.status.success(),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs, expects exit `code` with nothing written and nothing on stdout; returns stderr.
    fn refused(&self, arguments: &[&str], code: i32) -> String {
        let before = self.tree();
        let output = self.run(arguments);
        assert_eq!(output.status.code(), Some(code), "{arguments:?}");
        assert!(output.stdout.is_empty(), "{arguments:?}");
        assert_eq!(self.tree(), before, "{arguments:?} changed files");
        String::from_utf8(output.stderr).unwrap()
    }

    /// Every file and folder below the machine, relative, sorted.
    fn tree(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if path.is_dir() {
                    walk(&path, base, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out.sort();
        out
    }
}

/// The user manifests of Linux, relative to HOME, and which family each is.
const USER_MANIFESTS: [(&str, bool); 5] = [
    (".config/google-chrome/NativeMessagingHosts", false),
    (".config/chromium/NativeMessagingHosts", false),
    (".config/microsoft-edge/NativeMessagingHosts", false),
    (
        ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        false,
    ),
    (".mozilla/native-messaging-hosts", true),
];

/// The system manifests of Linux, relative to the root.
const SYSTEM_MANIFESTS: [(&str, bool); 5] = [
    ("etc/opt/chrome/native-messaging-hosts", false),
    ("etc/chromium/native-messaging-hosts", false),
    ("etc/opt/edge/native-messaging-hosts", false),
    ("usr/lib/mozilla/native-messaging-hosts", true),
    ("usr/lib64/mozilla/native-messaging-hosts", true),
];

fn expected_manifest(firefox: bool, chrome_ids: &[String]) -> Value {
    let ids = ids();
    let mut manifest = json!({
        "name": "org.cpxconnect.host",
        "description": "CPx Connect: login to health web services with a CPx card (CPS)",
        "path": binary().to_str().unwrap(),
        "type": "stdio",
    });
    if firefox {
        manifest["allowed_extensions"] = json!([ids.firefox]);
    } else {
        let origins: Vec<String> = chrome_ids
            .iter()
            .map(|id| format!("chrome-extension://{id}/"))
            .collect();
        manifest["allowed_origins"] = json!(origins);
    }
    manifest
}

/// Checks that `install` or `uninstall` said the same of every manifest: each line of its
/// report starts with `word` ("removed ", "unchanged ", ...).
fn assert_every_line_starts_with(lines: &[String], word: &str) {
    assert!(lines.iter().all(|l| l.starts_with(word)), "{lines:#?}");
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn install_writes_every_user_manifest_and_says_so() {
    let machine = Machine::new();
    let lines = machine.ok(&["install"]);
    assert_eq!(lines.len(), USER_MANIFESTS.len(), "{lines:#?}");
    for ((folder, firefox), line) in USER_MANIFESTS.iter().zip(&lines) {
        let file = machine.user_manifest(folder);
        assert_eq!(
            read_json(&file),
            expected_manifest(*firefox, &ids().chrome),
            "{}",
            file.display()
        );
        assert!(
            line.starts_with("written ") && line.contains(&file.display().to_string()),
            "{line}"
        );
    }
    // Nothing system-wide without --system.
    assert!(!machine.root().join("etc/chromium").exists());
}

#[test]
fn system_install_writes_every_system_manifest_readable_by_all() {
    use std::os::unix::fs::PermissionsExt;
    let machine = Machine::new();
    let lines = machine.ok(&["install", "--system"]);
    assert_eq!(lines.len(), SYSTEM_MANIFESTS.len(), "{lines:#?}");
    for (folder, firefox) in SYSTEM_MANIFESTS {
        let file = machine.system_manifest(folder);
        assert_eq!(read_json(&file), expected_manifest(firefox, &ids().chrome));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{}", file.display());
    }
    let chrome_line = lines
        .iter()
        .find(|l| l.contains("etc/opt/chrome/"))
        .unwrap();
    assert!(
        chrome_line.ends_with("(Google Chrome, Brave)"),
        "{chrome_line}"
    );
    assert!(!machine.home().join(".mozilla").exists());
}

#[test]
fn installing_again_changes_nothing_and_says_so() {
    let machine = Machine::new();
    machine.ok(&["install", "--system"]);
    let file = machine.system_manifest("etc/chromium/native-messaging-hosts");
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let lines = machine.ok(&["install", "--system"]);
    assert_eq!(lines.len(), SYSTEM_MANIFESTS.len());
    assert_every_line_starts_with(&lines, "unchanged ");
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );

    // A manifest someone edited is put back.
    std::fs::write(&file, "{}").unwrap();
    let lines = machine.ok(&["install", "--system", "--browser", "chromium"]);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("updated "), "{}", lines[0]);
    assert_eq!(read_json(&file), expected_manifest(false, &ids().chrome));
}

#[test]
fn browser_selects_only_its_locations() {
    let machine = Machine::new();
    let lines = machine.ok(&["install", "--browser", "firefox", "--browser", "edge"]);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(machine
        .user_manifest(".config/microsoft-edge/NativeMessagingHosts")
        .exists());
    assert!(machine
        .user_manifest(".mozilla/native-messaging-hosts")
        .exists());
    assert!(!machine.home().join(".config/google-chrome").exists());
    assert!(!machine.home().join(".config/chromium").exists());
}

#[test]
fn extension_id_goes_into_chromium_family_manifests_only() {
    let machine = Machine::new();
    let custom = "abcdefghijklmnopabcdefghijklmnop";
    machine.ok(&["install", "--extension-id", custom]);
    for (folder, firefox) in USER_MANIFESTS {
        let file = machine.user_manifest(folder);
        assert_eq!(
            read_json(&file),
            expected_manifest(firefox, &[custom.to_owned()])
        );
    }
}

#[test]
fn xdg_config_home_moves_chromium_family_user_manifests() {
    let machine = Machine::new();
    let config = machine.dir.path().join("xdg");
    let output = Command::new(binary())
        .args(["install", "--browser", "chromium", "--browser", "firefox"])
        .env("HOME", machine.home())
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(config
        .join("chromium/NativeMessagingHosts")
        .join(HOST_FILE)
        .exists());
    // Firefox reads ~/.mozilla whatever XDG_CONFIG_HOME says.
    assert!(machine
        .user_manifest(".mozilla/native-messaging-hosts")
        .exists());
}

#[test]
fn uninstall_leaves_nothing_behind() {
    let machine = Machine::new();
    let pristine = machine.tree();
    machine.ok(&["install"]);
    machine.ok(&["install", "--system"]);
    assert_ne!(machine.tree(), pristine);

    let lines = machine.ok(&["uninstall", "--system"]);
    assert_eq!(lines.len(), SYSTEM_MANIFESTS.len());
    assert_every_line_starts_with(&lines, "removed ");
    let lines = machine.ok(&["uninstall"]);
    assert_eq!(lines.len(), USER_MANIFESTS.len());
    assert_every_line_starts_with(&lines, "removed ");
    assert_eq!(machine.tree(), pristine);

    // Again: nothing to remove, and it says so.
    let lines = machine.ok(&["uninstall"]);
    assert_every_line_starts_with(&lines, "absent ");
}

#[test]
fn uninstall_keeps_what_another_browser_still_reads_and_what_is_not_ours() {
    let machine = Machine::new();
    machine.ok(&["install", "--system"]);
    // Chrome's system folder is Brave's too.
    let shared = machine.system_manifest("etc/opt/chrome/native-messaging-hosts");
    let lines = machine.ok(&["uninstall", "--system", "--browser", "chrome"]);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("kept ") && lines[0].ends_with("still read by Brave"),
        "{}",
        lines[0]
    );
    assert!(shared.exists());
    let lines = machine.ok(&[
        "uninstall",
        "--system",
        "--browser",
        "chrome",
        "--browser",
        "brave",
    ]);
    assert!(lines[0].starts_with("removed "), "{}", lines[0]);
    assert!(!shared.exists());

    // A folder holding something else stays.
    let other = machine
        .root()
        .join("etc/chromium/native-messaging-hosts/other.host.json");
    std::fs::write(&other, "{}").unwrap();
    machine.ok(&["uninstall", "--system"]);
    assert!(other.exists());
    assert!(!machine
        .system_manifest("etc/chromium/native-messaging-hosts")
        .exists());
}

#[test]
fn unknown_browser_is_refused_with_the_list_of_known_ones() {
    let stderr = Machine::new().refused(&["install", "--browser", "opera"], 2);
    assert_contains(&stderr, "invalid value 'opera'");
    assert_contains(&stderr, "chrome, chromium, edge, brave, firefox");
}

#[test]
fn invalid_extension_id_is_refused_before_writing() {
    let stderr = Machine::new().refused(&["install", "--extension-id", "not-an-id"], 1);
    assert_contains(&stderr, "\"not-an-id\" is not a Chrome extension id");
}

/// What the MSI runs on its EXTENSION_IDS before installing anything: the list whole or nothing.
#[test]
fn the_msi_s_extension_ids_check_refuses_a_bad_item_and_writes_nothing() {
    let machine = Machine::new();
    let stderr = machine.refused(
        &[
            "install",
            "--check-extension-ids",
            "abcdefghijklmnopabcdefghijklmnop,not-an-id",
        ],
        1,
    );
    assert_contains(
        &stderr,
        "EXTENSION_IDS: \"not-an-id\" is neither a Chrome extension id",
    );
    let before = machine.tree();
    let said = machine.ok(&[
        "install",
        "--check-extension-ids",
        "abcdefghijklmnopabcdefghijklmnop, hospital@chu.example.fr",
    ]);
    assert_eq!(
        said,
        ["EXTENSION_IDS: 1 Chrome extension id(s), 1 Firefox add-on id(s)"]
    );
    assert_eq!(machine.tree(), before, "a check writes nothing");
}

#[test]
fn a_folder_that_cannot_be_created_is_named_in_the_error() {
    let machine = Machine::new();
    // A file where the folder should be: fails for root too (permissions would not).
    std::fs::write(machine.root().join("etc/chromium"), "not a folder").unwrap();
    let stderr = machine.refused(&["install", "--system", "--browser", "chromium"], 1);
    let folder = machine.root().join("etc/chromium/native-messaging-hosts");
    assert_contains(
        &stderr,
        &format!("cannot create the folder {}", folder.display()),
    );
}

#[test]
fn per_user_install_without_home_explains_itself() {
    let output = Command::new(binary())
        .arg("install")
        .env_remove("HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_contains(&stderr, "HOME is not set");
    assert_contains(&stderr, "--system");
}

#[test]
fn help_and_version_come_from_the_command_line() {
    let version = Command::new(binary()).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("cpx-connect {}", env!("CARGO_PKG_VERSION"))
    );
    let help = Command::new(binary()).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for subcommand in ["install", "uninstall", "doctor"] {
        assert_contains(&help, subcommand);
    }
    // The test hook stays out of sight.
    let install_help = Command::new(binary())
        .args(["install", "--help"])
        .output()
        .unwrap();
    let install_help = String::from_utf8_lossy(&install_help.stdout);
    assert!(install_help.contains("--system") && install_help.contains("--extension-id"));
    assert!(!install_help.contains("--root"), "{install_help}");
}

/// One `version` request over native messaging, as a browser sends it.
fn version_over_native_messaging(arguments: &[&str]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary())
        .args(arguments)
        .env("HOME", home.path())
        .env("CPX_CONNECT_LOG_DIR", home.path().join("logs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let body = br#"{"id":1,"command":"version"}"#;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&(body.len() as u32).to_ne_bytes()).unwrap();
    stdin.write_all(body).unwrap();
    drop(stdin);
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{arguments:?}");
    assert!(stdout.len() > 4, "{arguments:?}: no frame");
    let length = u32::from_ne_bytes(stdout[..4].try_into().unwrap()) as usize;
    assert_eq!(stdout.len(), 4 + length, "stdout carries one frame only");
    serde_json::from_slice(&stdout[4..]).unwrap()
}

#[test]
fn browser_launches_still_speak_native_messaging() {
    for arguments in [
        // Chrome, Chromium, Edge, Brave.
        vec![
            "chrome-extension://gapckhmmcgdnlnkngjfiahgdokdkihjb/",
            "--parent-window=0",
        ],
        // Firefox.
        vec![
            "/usr/lib/mozilla/native-messaging-hosts/org.cpxconnect.host.json",
            "cpx-connect@cpxconnect.org",
        ],
        vec![],
    ] {
        let answer = version_over_native_messaging(&arguments);
        assert_eq!(answer["id"], 1, "{arguments:?}");
        assert_eq!(answer["result"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(answer["result"]["protocol"], 1);
    }
}

/// What `extension/ids.json` names as the development build's id, whose key is public.
fn development_id() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension/ids.json");
    let ids: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    ids["channels"]["development"]["chromeExtensionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn release_ids_only_and_the_development_id_only_with_dev() {
    let machine = Machine::new();
    let development = development_id();
    assert!(!ids().chrome.contains(&development), "ids.json");
    machine.ok(&["install", "--system", "--browser", "chromium"]);
    let file = machine.system_manifest("etc/chromium/native-messaging-hosts");
    assert_eq!(read_json(&file), expected_manifest(false, &ids().chrome));

    machine.ok(&["install", "--system", "--browser", "chromium", "--dev"]);
    let mut with_development = ids().chrome;
    with_development.push(development);
    assert_eq!(
        read_json(&file),
        expected_manifest(false, &with_development)
    );

    // A reinstall without --dev takes it out again.
    machine.ok(&["install", "--system", "--browser", "chromium"]);
    assert_eq!(read_json(&file), expected_manifest(false, &ids().chrome));
}

#[test]
fn the_configuration_file_admits_extra_chrome_and_firefox_ids() {
    let machine = Machine::new();
    let conf = machine.root().join("etc/cpx-connect/extension-ids.conf");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    let extra_chrome = "abcdefghijklmnopabcdefghijklmnop";
    let extra_firefox = "cpx@chu.example.fr";
    std::fs::write(
        &conf,
        format!(
            "# the hospital's own build\n{extra_chrome}\n{extra_firefox} # its add-on\nnot an id\n"
        ),
    )
    .unwrap();
    let output = machine.run(&["install", "--system"]);
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_contains(
        &stderr,
        "extension-ids.conf: line 4: \"not an id\" is neither",
    );
    let chromium = machine.system_manifest("etc/chromium/native-messaging-hosts");
    let mut chrome = ids().chrome;
    chrome.push(extra_chrome.to_owned());
    assert_eq!(read_json(&chromium), expected_manifest(false, &chrome));
    let firefox = machine.system_manifest("usr/lib/mozilla/native-messaging-hosts");
    assert_eq!(
        read_json(&firefox)["allowed_extensions"],
        json!([ids().firefox, extra_firefox])
    );

    // An id taken out of the file is gone at the next install.
    std::fs::write(&conf, "# nothing extra\n").unwrap();
    machine.ok(&["install", "--system"]);
    assert_eq!(
        read_json(&chromium),
        expected_manifest(false, &ids().chrome)
    );
    assert_eq!(read_json(&firefox), expected_manifest(true, &[]));
}

#[test]
fn files_a_package_owns_are_neither_written_nor_removed() {
    let machine = Machine::new();
    let chromium = machine.system_manifest("etc/chromium/native-messaging-hosts");
    let listing = machine.dir.path().join("package-files");
    std::fs::write(&listing, format!("cpx-connect: {}\n", chromium.display())).unwrap();
    let listing = listing.to_str().unwrap();

    // Absent and owned (dpkg lists it, someone deleted it): install leaves it absent.
    let output = machine.run(&["install", "--system", "--package-files", listing]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.lines().any(|line| line.starts_with("left ")
            && line.contains(&chromium.display().to_string())
            && line.ends_with(
                "it belongs to the package cpx-connect, which alone may change or remove it"
            )),
        "{stdout}"
    );
    assert!(!chromium.exists());
    // The other browsers' manifests were written.
    assert!(machine
        .system_manifest("etc/opt/edge/native-messaging-hosts")
        .exists());

    // Present and owned: uninstall refuses to delete it, removes the rest.
    std::fs::create_dir_all(chromium.parent().unwrap()).unwrap();
    std::fs::write(&chromium, "{\"package\": true}\n").unwrap();
    let output = machine.run(&["uninstall", "--system", "--package-files", listing]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("files that a package installed were left as they are"));
    assert_eq!(
        std::fs::read_to_string(&chromium).unwrap(),
        "{\"package\": true}\n"
    );
    assert!(!machine
        .system_manifest("etc/opt/edge/native-messaging-hosts")
        .exists());
}

#[test]
fn debian_gets_only_its_own_firefox_folder_and_uninstall_clears_both() {
    let machine = Machine::new();
    std::fs::create_dir_all(machine.root().join("etc")).unwrap();
    std::fs::write(machine.root().join("etc/os-release"), "ID=debian\n").unwrap();
    let lib = machine
        .root()
        .join("usr/lib/mozilla/native-messaging-hosts");
    let lib64 = machine
        .root()
        .join("usr/lib64/mozilla/native-messaging-hosts");
    let lines = machine.ok(&["install", "--system"]);
    assert_eq!(lines.len(), SYSTEM_MANIFESTS.len() - 1, "{lines:#?}");
    assert!(lib.join(HOST_FILE).exists());
    assert!(!machine.root().join("usr/lib64/mozilla").exists());

    // What an older version left where Debian's Firefox never looks goes on uninstall.
    std::fs::create_dir_all(&lib64).unwrap();
    std::fs::write(lib64.join(HOST_FILE), "{}").unwrap();
    machine.ok(&["uninstall", "--system"]);
    assert!(!lib.join(HOST_FILE).exists());
    assert!(!machine.root().join("usr/lib64/mozilla").exists());
    assert!(machine.root().join("usr/lib64").exists());
}
