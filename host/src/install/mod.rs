//! Registers the host with the browsers: writes (or removes) the native messaging host manifest
//! in every folder a browser reads, per user or system-wide; on Windows also the registry key
//! that points each browser at the manifest. Where the manifests go is `locations.rs`, writing
//! them `manifests.rs`, what removal does `removal.rs`; the registry trait and its in-memory
//! implementation are `registry.rs`, the Windows one `windows.rs`.
//!
//! Over 600 lines for its tests: install, reinstall and uninstall against an in-memory Windows
//! registry (shared manifests, keys naming other files, the MSI's manifests-only rewrite), below
//! ~350 lines of code.

pub mod configuration;
mod locations;
mod manifests;
pub mod packages;
pub mod registry;
mod removal;
#[cfg(windows)]
mod windows;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use locations::{
    every_location, locations, read_order, Distribution, Location, Platform, Roots, Scope,
};
pub use manifests::{install, install_with, HostManifest, MANIFEST_DESCRIPTION};
pub use packages::PackageDatabase;
use registry::Registry;
pub use removal::{uninstall, uninstall_with};

/// The ids the extension is built with, embedded at build time so the binary and the extension
/// can never disagree.
const IDS_JSON: &str = include_str!("../../../extension/ids.json");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionIds {
    /// The development channel's id (the unpacked build). Its private key is public: anyone can
    /// publish an extension with this id, so it is admitted only through `install --dev`.
    pub chrome_extension_id: String,
    pub firefox_addon_id: String,
    pub native_host_name: String,
    /// The release channels' known ids (store, self-hosted): what the host manifests admit.
    #[serde(default)]
    pub allowed_chrome_extension_ids: Vec<String>,
}

impl ExtensionIds {
    /// The ids of `extension/ids.json`.
    pub fn embedded() -> Result<ExtensionIds, InstallError> {
        serde_json::from_str(IDS_JSON).map_err(|error| InstallError::EmbeddedIds(error.to_string()))
    }

    /// The Chrome extension ids the host admits by default: the release channels'. Never the
    /// development id, even if ids.json listed it.
    pub fn release_chrome_ids(&self) -> Vec<String> {
        (self.allowed_chrome_extension_ids.iter())
            .filter(|id| **id != self.chrome_extension_id)
            .cloned()
            .collect()
    }

    /// The development build's id, whose key is public.
    pub fn development_chrome_id(&self) -> &str {
        &self.chrome_extension_id
    }

    /// Whether `id` is one of CPx Connect's own builds, release or development.
    pub fn is_ours(&self, id: &str) -> bool {
        id == self.chrome_extension_id
            || self
                .allowed_chrome_extension_ids
                .iter()
                .any(|known| known == id)
    }
}

/// The browsers we register with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Browser {
    Chrome,
    Chromium,
    Edge,
    Brave,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 5] = [
        Browser::Chrome,
        Browser::Chromium,
        Browser::Edge,
        Browser::Brave,
        Browser::Firefox,
    ];

    pub fn display_name(self) -> &'static str {
        match self {
            Browser::Chrome => "Google Chrome",
            Browser::Chromium => "Chromium",
            Browser::Edge => "Microsoft Edge",
            Browser::Brave => "Brave",
            Browser::Firefox => "Firefox",
        }
    }

    /// The name `--browser` takes.
    pub fn argument(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
            Browser::Firefox => "firefox",
        }
    }

    pub fn is_firefox(self) -> bool {
        self == Browser::Firefox
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("extension/ids.json embedded in this binary does not parse: {0}")]
    EmbeddedIds(String),
    #[error("HOME is not set (or not an absolute path): per-user manifests live under it; set HOME or use --system")]
    NoHome,
    #[error("LOCALAPPDATA is not set (or not an absolute path): per-user manifests live under it; set it or use --system")]
    NoLocalAppData,
    #[error(
        "cannot find the folder of this program: system-wide manifests are written next to it"
    )]
    NoProgramFolder,
    #[error("{0:?} is not a Chrome extension id (32 letters a to p)")]
    InvalidExtensionId(String),
    #[error("{0:?} is not a Firefox add-on id (name@domain or {{uuid}})")]
    InvalidAddonId(String),
    #[error("{origin}: {reason}; give Chrome extension ids and Firefox add-on ids separated by commas (EXTENSION_IDS=abcdefghijklmnopabcdefghijklmnop,name@domain)")]
    InvalidExtraIds { origin: String, reason: String },
    #[error("cannot find this program's own path for the manifest: {0}")]
    OwnPath(io::Error),
    #[error("this platform has no known native messaging host locations")]
    UnsupportedPlatform,
    #[error("cannot {action} {path}: {source}{hint}", hint = permission_hint(.source, *.scope))]
    Io {
        action: &'static str,
        path: PathBuf,
        scope: Scope,
        source: io::Error,
    },
    #[error("cannot {action} the registry key {key}: {source}{hint}", hint = permission_hint(.source, *.scope))]
    Registry {
        action: &'static str,
        key: String,
        scope: Scope,
        source: io::Error,
    },
}

fn permission_hint(error: &io::Error, scope: Scope) -> &'static str {
    match (error.kind(), scope) {
        (io::ErrorKind::PermissionDenied, Scope::System) if cfg!(windows) => {
            " (system-wide installation needs administrator rights: run it from an elevated prompt)"
        }
        (io::ErrorKind::PermissionDenied, Scope::System) => {
            " (system-wide installation needs administrator rights: run it with sudo)"
        }
        (io::ErrorKind::PermissionDenied, Scope::User) => {
            " (check the owner and permissions of that folder)"
        }
        _ => "",
    }
}

/// A Chrome extension id: 32 letters from a to p.
pub fn check_extension_id(id: &str) -> Result<(), InstallError> {
    if configuration::is_chrome_extension_id(id) {
        Ok(())
    } else {
        Err(InstallError::InvalidExtensionId(id.to_owned()))
    }
}

/// A Firefox add-on id: email-like or a braced UUID.
pub fn check_addon_id(id: &str) -> Result<(), InstallError> {
    if configuration::is_firefox_addon_id(id) {
        Ok(())
    } else {
        Err(InstallError::InvalidAddonId(id.to_owned()))
    }
}

/// What `install` or `uninstall` wants done.
#[derive(Debug, Clone)]
pub struct Request {
    pub platform: Platform,
    pub scope: Scope,
    pub roots: Roots,
    /// Empty: every browser.
    pub browsers: Vec<Browser>,
    /// The binary the manifests point at (absolute).
    pub binary: PathBuf,
    /// The Chrome extension ids the manifests admit: `--extension-id`, else the release ids; the
    /// development id with `--dev`; on Linux, the configuration file's.
    pub chrome_extension_ids: Vec<String>,
    /// The Firefox add-on ids the manifests admit: CPx Connect's, and the configuration file's.
    pub firefox_addon_ids: Vec<String>,
    pub ids: ExtensionIds,
    /// Who owns the system files: a file a package installed is never written or removed.
    pub packages: PackageDatabase,
    /// Windows: also write the registry keys naming the manifests. Off for the MSI's custom
    /// action, which rewrites the manifests next to the exe while the MSI owns the keys.
    pub registry_keys: bool,
}

impl Request {
    fn selected(&self) -> Vec<Browser> {
        if self.browsers.is_empty() {
            Browser::ALL.to_vec()
        } else {
            self.browsers.clone()
        }
    }
}

/// What happened to one manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Removed,
    NotPresent,
    /// Not removed: these browsers, not being uninstalled, read it too.
    KeptFor(Vec<Browser>),
    /// Neither written nor removed: this package installed it, and only it may change it.
    OwnedByPackage(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub file: PathBuf,
    /// Windows: the key naming `file` (`HKCU\...`); `None` for a manifest found by its folder,
    /// and for a Windows manifest file removed once no key names it.
    pub registry: Option<String>,
    pub browsers: Vec<Browser>,
    pub outcome: Outcome,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |browsers: &[Browser]| {
            browsers
                .iter()
                .map(|b| b.display_name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let verb = match &self.outcome {
            Outcome::Created => "written",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Removed => "removed",
            Outcome::NotPresent => "absent",
            Outcome::KeptFor(_) => "kept",
            Outcome::OwnedByPackage(_) => "left",
        };
        match &self.registry {
            Some(key) => write!(
                f,
                "{verb:<9} {key} -> {} ({})",
                self.file.display(),
                names(&self.browsers)
            )?,
            None => write!(
                f,
                "{verb:<9} {} ({})",
                self.file.display(),
                names(&self.browsers)
            )?,
        }
        if let Outcome::KeptFor(others) = &self.outcome {
            write!(f, ": still read by {}", names(others))?;
        }
        if let Outcome::OwnedByPackage(package) = &self.outcome {
            write!(
                f,
                ": it belongs to the package {package}, which alone may change or remove it"
            )?;
        }
        Ok(())
    }
}

/// The absolute, canonical path of the running binary: what every manifest points at.
pub fn own_binary() -> Result<PathBuf, InstallError> {
    std::env::current_exe()
        .and_then(|path| canonical(&path))
        .map_err(InstallError::OwnPath)
}

/// `path` made absolute with links resolved. On Windows without the `\\?\` prefix that
/// `canonicalize` adds, which browsers do not expect in a manifest.
pub fn canonical(path: &Path) -> io::Result<PathBuf> {
    let canonical = path.canonicalize()?;
    Ok(PathBuf::from(without_verbatim_prefix(
        &canonical.to_string_lossy(),
    )))
}

/// `\\?\C:\x` -> `C:\x`, `\\?\UNC\server\share` -> `\\server\share`; anything else unchanged.
fn without_verbatim_prefix(path: &str) -> String {
    if let Some(rest) = path.strip_prefix(r"\\?\UNC\") {
        return format!(r"\\{rest}");
    }
    match path.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

/// The error of a file step, for `map_err`.
pub(super) fn io_error(
    action: &'static str,
    path: &Path,
    scope: Scope,
) -> impl FnOnce(io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io {
        action,
        path,
        scope,
        source,
    }
}

/// The error of a registry step, for `map_err`.
pub(super) fn registry_error(
    action: &'static str,
    key: &registry::RegistryKey,
    scope: Scope,
) -> impl FnOnce(io::Error) -> InstallError {
    let key = key.to_string();
    move |source| InstallError::Registry {
        action,
        key,
        scope,
        source,
    }
}

/// The text a Windows key's default value holds: the manifest's path.
pub(super) fn registry_value(file: &Path) -> String {
    file.to_string_lossy().into_owned()
}

/// The registry of this machine: the real one on Windows, an empty one elsewhere. Here rather
/// than in `registry.rs`, so that the trait and the in-memory registry never name the Windows
/// implementation.
pub fn system_registry() -> Box<dyn Registry> {
    #[cfg(windows)]
    {
        Box::new(windows::SystemRegistry)
    }
    #[cfg(not(windows))]
    {
        Box::new(registry::MemoryRegistry::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_ids_are_the_extension_s() {
        let ids = ExtensionIds::embedded().unwrap();
        assert_eq!(ids.native_host_name, "org.cpxconnect.host");
        assert_eq!(ids.firefox_addon_id, "cpx-connect@cpxconnect.org");
        check_extension_id(&ids.chrome_extension_id).unwrap();
        assert!(!ids.release_chrome_ids().is_empty());
        for id in ids.release_chrome_ids() {
            check_extension_id(&id).unwrap();
            assert!(ids.is_ours(&id));
        }
        // The development id's key is public: never admitted by default.
        assert!(!ids.release_chrome_ids().contains(&ids.chrome_extension_id));
        assert!(!ids
            .allowed_chrome_extension_ids
            .contains(&ids.chrome_extension_id));
        assert!(ids.is_ours(ids.development_chrome_id()));
    }

    #[test]
    fn extension_ids_are_32_letters_a_to_p() {
        check_extension_id("abcdefghijklmnopabcdefghijklmnop").unwrap();
        for bad in [
            "",
            "abcdefghijklmnopabcdefghijklmno",
            "abcdefghijklmnopabcdefghijklmnoq",
            "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP",
        ] {
            assert!(check_extension_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn steps_print_one_line_each() {
        let step = Step {
            file: PathBuf::from("/etc/opt/chrome/native-messaging-hosts/org.cpxconnect.host.json"),
            registry: None,
            browsers: vec![Browser::Chrome, Browser::Brave],
            outcome: Outcome::KeptFor(vec![Browser::Chrome]),
        };
        assert_eq!(
            step.to_string(),
            "kept      /etc/opt/chrome/native-messaging-hosts/org.cpxconnect.host.json (Google Chrome, Brave): still read by Google Chrome"
        );
    }

    mod windows_registration {
        use super::super::registry::{Hive, MemoryRegistry, RegistryKey};
        use super::*;

        fn request(dir: &Path, scope: Scope, browsers: &[Browser]) -> Request {
            let ids = ExtensionIds::embedded().unwrap();
            Request {
                platform: Platform::Windows,
                scope,
                roots: Roots {
                    local_app_data: Some(dir.join("local")),
                    program_folder: Some(dir.join("program")),
                    ..Roots::default()
                },
                browsers: browsers.to_vec(),
                binary: dir.join("program").join("cpx-connect.exe"),
                chrome_extension_ids: ids.release_chrome_ids(),
                firefox_addon_ids: vec![ids.firefox_addon_id.clone()],
                ids,
                packages: PackageDatabase::None,
                registry_keys: true,
            }
        }

        /// A registry as a browser left it: Chrome's own key with a subkey, another vendor's key.
        fn machine_registry() -> MemoryRegistry {
            let mut registry = MemoryRegistry::new();
            registry.create_key(&RegistryKey::new(
                Hive::CurrentUser,
                "Software\\Google\\Chrome\\PreferenceMACs",
            ));
            registry.create_key(&RegistryKey::new(Hive::CurrentUser, "Software\\Other"));
            registry
        }

        fn outcomes(steps: &[Step]) -> Vec<Outcome> {
            steps.iter().map(|step| step.outcome.clone()).collect()
        }

        #[test]
        fn install_twice_then_uninstall_leaves_the_registry_and_folders_as_they_were() {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("local")).unwrap();
            let request = request(dir.path(), Scope::User, &[]);
            let mut registry = machine_registry();
            let before = registry.dump();

            let steps = install_with(&request, &mut registry).unwrap();
            assert_eq!(outcomes(&steps), vec![Outcome::Created; 4]);
            let manifests = dir.path().join("local").join("cpx-connect");
            let chromium = manifests.join("org.cpxconnect.host.json");
            let firefox = manifests.join("org.cpxconnect.host.firefox.json");
            let key = |path: &str| {
                RegistryKey::new(
                    Hive::CurrentUser,
                    format!("Software\\{path}\\NativeMessagingHosts\\org.cpxconnect.host"),
                )
            };
            for (browsers, file) in [
                ("Google\\Chrome", &chromium),
                ("Chromium", &chromium),
                ("Microsoft\\Edge", &chromium),
                ("Mozilla", &firefox),
            ] {
                assert_eq!(
                    registry.default_value(&key(browsers)).unwrap(),
                    Some(file.to_string_lossy().into_owned()),
                    "{browsers}"
                );
            }
            let manifest: HostManifest =
                serde_json::from_str(&std::fs::read_to_string(&firefox).unwrap()).unwrap();
            assert_eq!(
                manifest.allowed_extensions,
                Some(vec!["cpx-connect@cpxconnect.org".to_owned()])
            );
            assert_eq!(manifest.path, request.binary.to_string_lossy());
            assert!(steps[0]
                .to_string()
                .starts_with("written   HKCU\\Software\\Google\\Chrome\\NativeMessagingHosts\\org.cpxconnect.host -> "));

            let again = install_with(&request, &mut registry).unwrap();
            assert_eq!(outcomes(&again), vec![Outcome::Unchanged; 4]);

            let removed = uninstall_with(&request, &mut registry).unwrap();
            assert_eq!(outcomes(&removed), vec![Outcome::Removed; 6]);
            assert_eq!(registry.dump(), before);
            assert!(!manifests.exists());
            assert!(dir.path().join("local").exists());

            let nothing = uninstall_with(&request, &mut registry).unwrap();
            assert_eq!(outcomes(&nothing), vec![Outcome::NotPresent; 4]);
        }

        #[test]
        fn manifests_only_writes_the_manifests_and_leaves_the_keys_to_the_msi() {
            let dir = tempfile::tempdir().unwrap();
            let mut request = request(dir.path(), Scope::System, &[]);
            request.registry_keys = false;
            request
                .chrome_extension_ids
                .push("abcdefghijklmnopabcdefghijklmnop".to_owned());
            request
                .firefox_addon_ids
                .push("hospital@chu.example.fr".to_owned());
            let mut registry = machine_registry();
            let before = registry.dump();

            let steps = install_with(&request, &mut registry).unwrap();
            // One file for Chrome, Chromium and Edge, one for Firefox.
            use Outcome::{Created, Unchanged};
            assert_eq!(outcomes(&steps), [Created, Unchanged, Unchanged, Created]);
            assert!(steps.iter().all(|step| step.registry.is_none()));
            assert_eq!(registry.dump(), before, "no key written");
            let program = dir.path().join("program");
            let chromium: HostManifest = serde_json::from_str(
                &std::fs::read_to_string(program.join("org.cpxconnect.host.json")).unwrap(),
            )
            .unwrap();
            assert!(chromium
                .allowed_origins
                .unwrap()
                .contains(&"chrome-extension://abcdefghijklmnopabcdefghijklmnop/".to_owned()));
            let firefox: HostManifest = serde_json::from_str(
                &std::fs::read_to_string(program.join("org.cpxconnect.host.firefox.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(
                firefox.allowed_extensions,
                Some(vec![
                    "cpx-connect@cpxconnect.org".to_owned(),
                    "hospital@chu.example.fr".to_owned()
                ])
            );
            let mut names: Vec<_> = std::fs::read_dir(&program)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(
                names,
                [
                    "org.cpxconnect.host.firefox.json",
                    "org.cpxconnect.host.json"
                ],
                "nothing else in the exe's folder"
            );
        }

        #[test]
        fn a_shared_manifest_stays_while_another_key_names_it() {
            let dir = tempfile::tempdir().unwrap();
            let mut registry = MemoryRegistry::new();
            install_with(&request(dir.path(), Scope::System, &[]), &mut registry).unwrap();
            let chromium = dir.path().join("program").join("org.cpxconnect.host.json");
            let firefox = dir
                .path()
                .join("program")
                .join("org.cpxconnect.host.firefox.json");

            let steps = uninstall_with(
                &request(
                    dir.path(),
                    Scope::System,
                    &[Browser::Chromium, Browser::Firefox],
                ),
                &mut registry,
            )
            .unwrap();
            assert_eq!(
                outcomes(&steps),
                vec![Outcome::Removed, Outcome::Removed, Outcome::Removed]
            );
            assert_eq!(steps[2].file, firefox);
            assert!(chromium.exists(), "Chrome and Edge still read it");
            assert!(!firefox.exists());

            // Brave reads Chrome's key: uninstalling Chrome alone keeps it.
            let steps = uninstall_with(
                &request(dir.path(), Scope::System, &[Browser::Chrome]),
                &mut registry,
            )
            .unwrap();
            assert_eq!(
                outcomes(&steps),
                vec![Outcome::KeptFor(vec![Browser::Brave])]
            );

            let steps =
                uninstall_with(&request(dir.path(), Scope::System, &[]), &mut registry).unwrap();
            assert_eq!(
                outcomes(&steps),
                vec![
                    Outcome::Removed,
                    Outcome::NotPresent,
                    Outcome::Removed,
                    Outcome::NotPresent,
                    Outcome::Removed
                ]
            );
            assert!(!chromium.exists());
            // The binary's own folder is never removed.
            assert!(dir.path().join("program").exists());
            // Only `SOFTWARE`, which every machine has, remains.
            assert_eq!(registry.dump(), vec![("HKLM\\software".to_owned(), None)]);
        }

        #[test]
        fn a_key_naming_another_manifest_is_rewritten() {
            let dir = tempfile::tempdir().unwrap();
            let request = request(dir.path(), Scope::User, &[Browser::Edge]);
            let mut registry = MemoryRegistry::new();
            let edge = RegistryKey::new(
                Hive::CurrentUser,
                "Software\\Microsoft\\Edge\\NativeMessagingHosts\\org.cpxconnect.host",
            );
            registry
                .set_default_value(&edge, "C:\\old\\org.cpxconnect.host.json")
                .unwrap();
            let steps = install_with(&request, &mut registry).unwrap();
            assert_eq!(outcomes(&steps), vec![Outcome::Updated]);
            assert_eq!(
                registry.default_value(&edge).unwrap(),
                Some(steps[0].file.to_string_lossy().into_owned())
            );
        }

        #[test]
        fn verbatim_prefixes_are_dropped() {
            assert_eq!(
                without_verbatim_prefix(r"\\?\C:\Program Files\CPx Connect\cpx-connect.exe"),
                r"C:\Program Files\CPx Connect\cpx-connect.exe"
            );
            assert_eq!(
                without_verbatim_prefix(r"\\?\UNC\server\share\cpx-connect.exe"),
                r"\\server\share\cpx-connect.exe"
            );
            assert_eq!(
                without_verbatim_prefix("/usr/bin/cpx-connect"),
                "/usr/bin/cpx-connect"
            );
        }
    }
}
