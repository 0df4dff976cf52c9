//! Registers the host with the browsers: writes (or removes) the native messaging host manifest
//! in every folder a browser reads, per user or system-wide; on Windows also the registry key
//! that points each browser at the manifest.

mod locations;
pub mod registry;
#[cfg(windows)]
mod windows;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use locations::{locations, read_order, Location, Platform, Roots, Scope};
use registry::Registry;

/// The ids the extension is built with, embedded at build time so the binary and the extension
/// can never disagree.
const IDS_JSON: &str = include_str!("../../../extension/ids.json");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionIds {
    /// The development channel's id (the unpacked build).
    pub chrome_extension_id: String,
    pub firefox_addon_id: String,
    pub native_host_name: String,
    /// Every channel's known id (store, self-hosted, development): what the host manifests admit.
    #[serde(default)]
    pub allowed_chrome_extension_ids: Vec<String>,
}

impl ExtensionIds {
    /// The ids of `extension/ids.json`.
    pub fn embedded() -> Result<ExtensionIds, InstallError> {
        serde_json::from_str(IDS_JSON).map_err(|error| InstallError::EmbeddedIds(error.to_string()))
    }

    /// The Chrome extension ids the host admits by default: every channel's, or the development
    /// id alone when ids.json lists none.
    pub fn admitted_chrome_ids(&self) -> Vec<String> {
        if self.allowed_chrome_extension_ids.is_empty() {
            vec![self.chrome_extension_id.clone()]
        } else {
            self.allowed_chrome_extension_ids.clone()
        }
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
    if id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
        Ok(())
    } else {
        Err(InstallError::InvalidExtensionId(id.to_owned()))
    }
}

/// The manifest a browser reads, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostManifest {
    pub name: String,
    pub description: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_extensions: Option<Vec<String>>,
}

pub const MANIFEST_DESCRIPTION: &str =
    "CPx Connect: login to health web services with a CPx card (CPS)";

impl HostManifest {
    /// The manifest for the browsers of one location: Firefox names add-ons, the Chromium family
    /// names extension origins; a location is read by one family only.
    pub fn for_location(
        location: &Location,
        binary: &Path,
        ids: &ExtensionIds,
        chrome_extension_ids: &[String],
    ) -> HostManifest {
        let firefox = location.browsers.iter().any(|b| b.is_firefox());
        HostManifest {
            name: ids.native_host_name.clone(),
            description: MANIFEST_DESCRIPTION.to_owned(),
            path: binary.to_string_lossy().into_owned(),
            kind: "stdio".to_owned(),
            allowed_origins: (!firefox).then(|| {
                chrome_extension_ids
                    .iter()
                    .map(|id| format!("chrome-extension://{id}/"))
                    .collect()
            }),
            allowed_extensions: firefox.then(|| vec![ids.firefox_addon_id.clone()]),
        }
    }

    /// Pretty JSON with a final newline, the exact bytes written to disk.
    pub fn to_file_text(&self) -> String {
        // A struct of strings always serialises.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
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
    /// The Chrome extension ids the manifests admit: `--extension-id`, else every channel's.
    pub chrome_extension_ids: Vec<String>,
    pub ids: ExtensionIds,
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

fn registry_error(
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
fn registry_value(file: &Path) -> String {
    file.to_string_lossy().into_owned()
}

/// Writes the manifest into every location of the selected browsers (and, on Windows, the
/// registry keys naming it). Rewriting an identical manifest touches nothing and says so.
pub fn install(request: &Request) -> Result<Vec<Step>, InstallError> {
    install_with(request, registry::system().as_mut())
}

/// [`install`] with the given registry (tests use an in-memory one).
pub fn install_with(
    request: &Request,
    registry: &mut dyn Registry,
) -> Result<Vec<Step>, InstallError> {
    for id in &request.chrome_extension_ids {
        check_extension_id(id)?;
    }
    let selected = request.selected();
    let mut steps = Vec::new();
    for location in locations(request.platform, request.scope, &request.roots)? {
        if !location.browsers.iter().any(|b| selected.contains(b)) {
            continue;
        }
        let manifest = HostManifest::for_location(
            &location,
            &request.binary,
            &request.ids,
            &request.chrome_extension_ids,
        );
        let file = location.manifest_file(&request.ids.native_host_name);
        // The file first: a key never names a manifest that is not there yet.
        let mut outcome = write_if_changed(&file, &manifest.to_file_text(), request.scope)?;
        let key = location.registry_key(&request.ids.native_host_name);
        if let Some(key) = &key {
            let value = registry_value(&file);
            let existing =
                registry
                    .default_value(key)
                    .map_err(registry_error("read", key, request.scope))?;
            if existing.as_deref() != Some(value.as_str()) {
                registry
                    .set_default_value(key, &value)
                    .map_err(registry_error("write", key, request.scope))?;
                outcome = if existing.is_some() {
                    Outcome::Updated
                } else {
                    Outcome::Created
                };
            }
        }
        steps.push(Step {
            file,
            registry: key.map(|key| key.to_string()),
            browsers: location.browsers.clone(),
            outcome,
        });
    }
    Ok(steps)
}

/// Removes the manifest from the locations of the selected browsers, except where a browser
/// left installed reads the same file, then the folders that removal left empty.
pub fn uninstall(request: &Request) -> Result<Vec<Step>, InstallError> {
    uninstall_with(request, registry::system().as_mut())
}

/// [`uninstall`] with the given registry (tests use an in-memory one).
pub fn uninstall_with(
    request: &Request,
    registry: &mut dyn Registry,
) -> Result<Vec<Step>, InstallError> {
    let selected = request.selected();
    let host_name = &request.ids.native_host_name;
    let all = locations(request.platform, request.scope, &request.roots)?;
    let mut steps = Vec::new();
    for location in &all {
        if !location.browsers.iter().any(|b| selected.contains(b)) {
            continue;
        }
        let file = location.manifest_file(host_name);
        let others: Vec<Browser> = location
            .browsers
            .iter()
            .copied()
            .filter(|b| !selected.contains(b))
            .collect();
        if let Some(key) = location.registry_key(host_name) {
            let outcome = unregister(registry, location, &key, others, request.scope)?;
            steps.push(Step {
                file,
                registry: Some(key.to_string()),
                browsers: location.browsers.clone(),
                outcome,
            });
            continue;
        }
        let outcome = if !file.exists() {
            Outcome::NotPresent
        } else if !others.is_empty() {
            Outcome::KeptFor(others)
        } else {
            std::fs::remove_file(&file).map_err(|source| InstallError::Io {
                action: "remove",
                path: file.clone(),
                scope: request.scope,
                source,
            })?;
            remove_empty_folders(location);
            Outcome::Removed
        };
        steps.push(Step {
            file,
            registry: None,
            browsers: location.browsers.clone(),
            outcome,
        });
    }
    remove_unnamed_manifests(request, registry, &all, &selected, &mut steps)?;
    Ok(steps)
}

/// Windows: deletes the host's key of one location (and the parents that leaves empty).
fn unregister(
    registry: &mut dyn Registry,
    location: &Location,
    key: &registry::RegistryKey,
    others: Vec<Browser>,
    scope: Scope,
) -> Result<Outcome, InstallError> {
    let present = registry
        .default_value(key)
        .map_err(registry_error("read", key, scope))?
        .is_some();
    if !present {
        return Ok(Outcome::NotPresent);
    }
    if !others.is_empty() {
        return Ok(Outcome::KeptFor(others));
    }
    let base = location.registry_base().unwrap_or_else(|| key.clone());
    registry::delete_key_and_empty_parents(registry, key, &base)
        .map_err(registry_error("delete", key, scope))?;
    Ok(Outcome::Removed)
}

/// Windows: several keys name one manifest file. Once none of this scope's keys names it any
/// more, the file goes, then the folders that leaves empty.
fn remove_unnamed_manifests(
    request: &Request,
    registry: &dyn Registry,
    all: &[Location],
    selected: &[Browser],
    steps: &mut Vec<Step>,
) -> Result<(), InstallError> {
    let host_name = &request.ids.native_host_name;
    let mut named = Vec::new();
    for location in all {
        if let Some(key) = location.registry_key(host_name) {
            if let Some(value) =
                registry
                    .default_value(&key)
                    .map_err(registry_error("read", &key, request.scope))?
            {
                named.push(value.to_lowercase());
            }
        }
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for location in all {
        let file = location.manifest_file(host_name);
        if location.registry.is_none()
            || !location.browsers.iter().any(|b| selected.contains(b))
            || seen.contains(&file)
        {
            continue;
        }
        seen.push(file.clone());
        if named.contains(&registry_value(&file).to_lowercase()) || !file.exists() {
            continue;
        }
        std::fs::remove_file(&file).map_err(|source| InstallError::Io {
            action: "remove",
            path: file.clone(),
            scope: request.scope,
            source,
        })?;
        remove_empty_folders(location);
        let browsers = all
            .iter()
            .filter(|other| other.manifest_file(host_name) == file)
            .flat_map(|other| other.browsers.iter().copied())
            .collect();
        steps.push(Step {
            file,
            registry: None,
            browsers,
            outcome: Outcome::Removed,
        });
    }
    Ok(())
}

fn write_if_changed(file: &Path, text: &str, scope: Scope) -> Result<Outcome, InstallError> {
    let io_error = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io {
            action,
            path,
            scope,
            source,
        }
    };
    let existing = match std::fs::read(file) {
        Ok(bytes) => Some(bytes),
        // A file in the way of the folder is reported when the folder is created.
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            None
        }
        Err(error) => return Err(io_error("read", file)(error)),
    };
    if existing.as_deref() == Some(text.as_bytes()) {
        return Ok(Outcome::Unchanged);
    }
    let directory = file.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(directory).map_err(io_error("create the folder", directory))?;
    // Write beside, then rename: a browser starting meanwhile sees the old or the new manifest.
    let partial = file.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(io_error("write", &partial))?;
    make_world_readable(&partial).map_err(io_error("set permissions on", &partial))?;
    if let Err(error) = std::fs::rename(&partial, file) {
        let _ = std::fs::remove_file(&partial);
        return Err(io_error("write", file)(error));
    }
    Ok(if existing.is_some() {
        Outcome::Updated
    } else {
        Outcome::Created
    })
}

/// Browsers run as the user: a system-wide manifest must be readable by everyone whatever the
/// administrator's umask.
#[cfg(unix)]
fn make_world_readable(file: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn make_world_readable(_file: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes the manifest folder and its parents while they are empty, stopping below `base`.
fn remove_empty_folders(location: &Location) {
    let mut folder = location.directory.as_path();
    while folder.starts_with(&location.base) && folder != location.base {
        // Fails (and stops) on the first folder that still holds something.
        if std::fs::remove_dir(folder).is_err() {
            return;
        }
        match folder.parent() {
            Some(parent) => folder = parent,
            None => return,
        }
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
        for id in ids.admitted_chrome_ids() {
            check_extension_id(&id).unwrap();
        }
        assert!(ids.admitted_chrome_ids().contains(&ids.chrome_extension_id));
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
                chrome_extension_ids: ids.admitted_chrome_ids(),
                ids,
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
