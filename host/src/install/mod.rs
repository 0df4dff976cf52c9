//! Registers the host with the browsers: writes (or removes) the native messaging host manifest
//! in every folder a browser reads, per user or system-wide. Linux and macOS only; Windows uses
//! registry keys, set by `manifests/windows/install-host.ps1`.

mod locations;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use locations::{locations, read_order, Location, Platform, Roots, Scope};

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
    #[error("{0:?} is not a Chrome extension id (32 letters a to p)")]
    InvalidExtensionId(String),
    #[error("cannot find this program's own path for the manifest: {0}")]
    OwnPath(io::Error),
    #[error("this platform keeps native messaging hosts in the registry: use manifests/windows/install-host.ps1")]
    UnsupportedPlatform,
    #[error("cannot {action} {path}: {source}{hint}", hint = permission_hint(.source, *.scope))]
    Io {
        action: &'static str,
        path: PathBuf,
        scope: Scope,
        source: io::Error,
    },
}

fn permission_hint(error: &io::Error, scope: Scope) -> &'static str {
    match (error.kind(), scope) {
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
        write!(
            f,
            "{verb:<9} {} ({})",
            self.file.display(),
            names(&self.browsers)
        )?;
        if let Outcome::KeptFor(others) = &self.outcome {
            write!(f, ": still read by {}", names(others))?;
        }
        Ok(())
    }
}

/// The absolute, canonical path of the running binary: what every manifest points at.
pub fn own_binary() -> Result<PathBuf, InstallError> {
    std::env::current_exe()
        .and_then(|path| path.canonicalize())
        .map_err(InstallError::OwnPath)
}

/// Writes the manifest into every location of the selected browsers. Rewriting an identical
/// manifest touches nothing and says so.
pub fn install(request: &Request) -> Result<Vec<Step>, InstallError> {
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
        let outcome = write_if_changed(&file, &manifest.to_file_text(), request.scope)?;
        steps.push(Step {
            file,
            browsers: location.browsers.clone(),
            outcome,
        });
    }
    Ok(steps)
}

/// Removes the manifest from the locations of the selected browsers, except where a browser
/// left installed reads the same file, then the folders that removal left empty.
pub fn uninstall(request: &Request) -> Result<Vec<Step>, InstallError> {
    let selected = request.selected();
    let mut steps = Vec::new();
    for location in locations(request.platform, request.scope, &request.roots)? {
        if !location.browsers.iter().any(|b| selected.contains(b)) {
            continue;
        }
        let file = location.manifest_file(&request.ids.native_host_name);
        let others: Vec<Browser> = location
            .browsers
            .iter()
            .copied()
            .filter(|b| !selected.contains(b))
            .collect();
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
            remove_empty_folders(&location);
            Outcome::Removed
        };
        steps.push(Step {
            file,
            browsers: location.browsers.clone(),
            outcome,
        });
    }
    Ok(steps)
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
            browsers: vec![Browser::Chrome, Browser::Brave],
            outcome: Outcome::KeptFor(vec![Browser::Chrome]),
        };
        assert_eq!(
            step.to_string(),
            "kept      /etc/opt/chrome/native-messaging-hosts/org.cpxconnect.host.json (Google Chrome, Brave): still read by Google Chrome"
        );
    }
}
