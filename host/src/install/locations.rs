//! Where each browser reads native messaging host manifests, per platform and scope.
//!
//! Sources (manifests/README.md has the links): Chrome's and Chromium's native messaging guide,
//! Microsoft's Edge guide, MDN's "Native manifests" page for Firefox. Brave documents nothing: its
//! per-user folder is its own profile root (`BraveSoftware/Brave-Browser`, from brave-core's
//! `chrome_paths_linux.cc`); system-wide, and per user on macOS, it reads Google Chrome's folders
//! (traced by other projects; Brave's developers said so on brave-browser#5074). Those shared
//! folders list both browsers, so uninstalling one never removes what the other still reads.
//!
//! On Windows a location is a registry key (HKCU per user, HKLM system-wide) whose default value
//! names the manifest file; the manifests sit under `%LOCALAPPDATA%\cpx-connect` per user and next
//! to the binary system-wide, one for the Chromium family and one for Firefox, as the MSI and
//! `manifests/windows/` lay them out. Brave reads Google Chrome's key there too.
//!
//! Over 600 lines for its tests: every browser's folders and registry keys per platform and scope,
//! pinned against the vendors' documentation, below ~420 lines of code.

use std::path::{Path, PathBuf};

use super::registry::{Hive, RegistryKey};
use super::{Browser, InstallError};

/// The operating systems we register on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    /// The platform this binary runs on.
    pub fn current() -> Option<Platform> {
        if cfg!(target_os = "macos") {
            Some(Platform::MacOs)
        } else if cfg!(windows) {
            Some(Platform::Windows)
        } else if cfg!(unix) {
            Some(Platform::Linux)
        } else {
            None
        }
    }
}

/// Per user (the default) or for every account on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    System,
}

/// The folders the locations are made from: `root` prefixes every system path (tests use a temp
/// dir, real runs `/`), `home` and `xdg_config_home` give the per-user ones; on Windows,
/// `local_app_data` the per-user manifest folder's parent and `program_folder` (the binary's
/// folder) the system-wide one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots {
    pub root: PathBuf,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub local_app_data: Option<PathBuf>,
    pub program_folder: Option<PathBuf>,
}

impl Roots {
    /// `HOME` and `XDG_CONFIG_HOME` from the environment (the latter only when absolute, as
    /// the XDG spec and Chromium require), system paths under `root`.
    pub fn from_env(root: PathBuf) -> Roots {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        Roots {
            root,
            home: absolute("HOME"),
            xdg_config_home: absolute("XDG_CONFIG_HOME"),
            local_app_data: absolute("LOCALAPPDATA"),
            program_folder: super::own_binary()
                .ok()
                .and_then(|binary| binary.parent().map(Path::to_path_buf)),
        }
    }

    fn home(&self) -> Result<&Path, InstallError> {
        self.home.as_deref().ok_or(InstallError::NoHome)
    }

    fn local_app_data(&self) -> Result<&Path, InstallError> {
        self.local_app_data
            .as_deref()
            .ok_or(InstallError::NoLocalAppData)
    }

    fn program_folder(&self) -> Result<&Path, InstallError> {
        self.program_folder
            .as_deref()
            .ok_or(InstallError::NoProgramFolder)
    }

    fn system(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }
}

/// A folder holding one manifest, which browsers read it, and how far up empty folders may be
/// removed on uninstall (`base` itself is never removed: it existed before us).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub scope: Scope,
    pub directory: PathBuf,
    pub base: PathBuf,
    pub browsers: Vec<Browser>,
    /// Windows: the `NativeMessagingHosts` key under which the host's key names the manifest.
    pub registry: Option<RegistryKey>,
    /// What follows the host name in the manifest's file name.
    file_suffix: &'static str,
}

impl Location {
    fn new(base: PathBuf, below_base: &str, browsers: &[Browser]) -> Location {
        Location {
            // Set by `locations`, which knows the scope.
            scope: Scope::User,
            directory: base.join(below_base),
            base,
            browsers: browsers.to_vec(),
            registry: None,
            file_suffix: ".json",
        }
    }

    /// A Windows registration: `hosts_key` names a manifest in `directory`.
    fn registered(
        directory: PathBuf,
        base: PathBuf,
        hosts_key: RegistryKey,
        browsers: &[Browser],
    ) -> Location {
        let firefox = browsers.iter().any(|b| b.is_firefox());
        Location {
            scope: Scope::User,
            directory,
            base,
            browsers: browsers.to_vec(),
            registry: Some(hosts_key),
            file_suffix: if firefox { ".firefox.json" } else { ".json" },
        }
    }

    /// The manifest file itself.
    pub fn manifest_file(&self, host_name: &str) -> PathBuf {
        self.directory
            .join(format!("{host_name}{}", self.file_suffix))
    }

    /// Windows: the host's own key, whose default value is the manifest's path.
    pub fn registry_key(&self, host_name: &str) -> Option<RegistryKey> {
        self.registry.as_ref().map(|key| key.join(host_name))
    }

    /// Windows: the key above which uninstall never removes an emptied key (`Software`).
    pub fn registry_base(&self) -> Option<RegistryKey> {
        let key = self.registry.as_ref()?;
        let first = key.path.split('\\').next().unwrap_or_default();
        Some(RegistryKey::new(key.hive, first))
    }

    pub fn is_read_by(&self, browser: Browser) -> bool {
        self.browsers.contains(&browser)
    }
}

use Browser::{Brave, Chrome, Chromium, Edge, Firefox};

/// Which Linux family's Firefox build reads the system-wide manifests, from `os-release`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Debian, Ubuntu and their derivatives: `/usr/lib/mozilla`.
    Debian,
    /// Fedora, RHEL, openSUSE and theirs: `/usr/lib64/mozilla`.
    Lib64,
    /// Anything else: both folders, the tolerant choice.
    Unknown,
}

impl Distribution {
    /// `ID` and `ID_LIKE` of `/etc/os-release` (else `/usr/lib/os-release`) under `roots.root`.
    pub fn of(roots: &Roots) -> Distribution {
        let text = ["/etc/os-release", "/usr/lib/os-release"]
            .into_iter()
            .find_map(|file| std::fs::read_to_string(roots.system(file)).ok())
            .unwrap_or_default();
        let mut words = Vec::new();
        for line in text.lines() {
            if let Some(value) = line
                .strip_prefix("ID=")
                .or_else(|| line.strip_prefix("ID_LIKE="))
            {
                let value = value.trim().trim_matches('"').trim_matches('\'');
                words.extend(value.split_whitespace().map(str::to_lowercase));
            }
        }
        let any = |names: &[&str]| words.iter().any(|word| names.contains(&word.as_str()));
        if any(&["debian", "ubuntu"]) {
            Distribution::Debian
        } else if any(&["fedora", "rhel", "centos", "suse", "opensuse"]) {
            Distribution::Lib64
        } else {
            Distribution::Unknown
        }
    }

    fn firefox_library_folders(self) -> &'static [&'static str] {
        match self {
            Distribution::Debian => &["/usr/lib"],
            Distribution::Lib64 => &["/usr/lib64"],
            Distribution::Unknown => &["/usr/lib", "/usr/lib64"],
        }
    }
}

/// Every manifest location of `scope` on `platform`, whatever the browser; on Linux system-wide
/// only this distribution's Firefox folder.
pub fn locations(
    platform: Platform,
    scope: Scope,
    roots: &Roots,
) -> Result<Vec<Location>, InstallError> {
    locations_of(platform, scope, roots, false)
}

/// [`locations`] with every distribution's folders: what uninstall looks through, so that a
/// manifest an older version wrote in the other distribution's folder goes too.
pub fn every_location(
    platform: Platform,
    scope: Scope,
    roots: &Roots,
) -> Result<Vec<Location>, InstallError> {
    locations_of(platform, scope, roots, true)
}

fn locations_of(
    platform: Platform,
    scope: Scope,
    roots: &Roots,
    every_distribution: bool,
) -> Result<Vec<Location>, InstallError> {
    let mut all = match (platform, scope) {
        (Platform::Linux, Scope::System) => {
            let etc = roots.system("/etc");
            let etc_opt = roots.system("/etc/opt");
            let mut system = vec![
                Location::new(
                    etc_opt.clone(),
                    "chrome/native-messaging-hosts",
                    &[Chrome, Brave],
                ),
                Location::new(etc, "chromium/native-messaging-hosts", &[Chromium]),
                Location::new(etc_opt, "edge/native-messaging-hosts", &[Edge]),
            ];
            // Debian and Ubuntu build Firefox with /usr/lib, Fedora and openSUSE with /usr/lib64:
            // only this distribution's folder, unless removing (an older version wrote both).
            let distribution = if every_distribution {
                Distribution::Unknown
            } else {
                Distribution::of(roots)
            };
            for library in distribution.firefox_library_folders() {
                system.push(Location::new(
                    roots.system(library),
                    "mozilla/native-messaging-hosts",
                    &[Firefox],
                ));
            }
            system
        }
        (Platform::Linux, Scope::User) => {
            let home = roots.home()?;
            let config = roots
                .xdg_config_home
                .clone()
                .unwrap_or_else(|| home.join(".config"));
            vec![
                Location::new(
                    config.clone(),
                    "google-chrome/NativeMessagingHosts",
                    &[Chrome],
                ),
                Location::new(config.clone(), "chromium/NativeMessagingHosts", &[Chromium]),
                Location::new(
                    config.clone(),
                    "microsoft-edge/NativeMessagingHosts",
                    &[Edge],
                ),
                Location::new(
                    config,
                    "BraveSoftware/Brave-Browser/NativeMessagingHosts",
                    &[Brave],
                ),
                // Firefox 147+ keeps profiles under XDG_CONFIG_HOME but still reads manifests here.
                Location::new(
                    home.to_path_buf(),
                    ".mozilla/native-messaging-hosts",
                    &[Firefox],
                ),
            ]
        }
        (Platform::MacOs, Scope::System) => {
            let library = roots.system("/Library");
            let support = roots.system("/Library/Application Support");
            vec![
                Location::new(
                    library.clone(),
                    "Google/Chrome/NativeMessagingHosts",
                    &[Chrome, Brave],
                ),
                Location::new(
                    support.clone(),
                    "Chromium/NativeMessagingHosts",
                    &[Chromium],
                ),
                Location::new(library, "Microsoft/Edge/NativeMessagingHosts", &[Edge]),
                Location::new(support, "Mozilla/NativeMessagingHosts", &[Firefox]),
            ]
        }
        (Platform::Windows, scope) => {
            // Chrome's and Edge's guides, and MDN, name these keys, under HKCU or HKLM alike.
            let (hive, software, directory, base) = match scope {
                Scope::User => {
                    let local = roots.local_app_data()?;
                    (
                        Hive::CurrentUser,
                        "Software",
                        local.join("cpx-connect"),
                        local.to_path_buf(),
                    )
                }
                Scope::System => {
                    let folder = roots.program_folder()?;
                    (
                        Hive::LocalMachine,
                        "SOFTWARE",
                        folder.to_path_buf(),
                        folder.to_path_buf(),
                    )
                }
            };
            let key = |below: &str| RegistryKey::new(hive, format!("{software}\\{below}"));
            vec![
                Location::registered(
                    directory.clone(),
                    base.clone(),
                    key("Google\\Chrome\\NativeMessagingHosts"),
                    &[Chrome, Brave],
                ),
                Location::registered(
                    directory.clone(),
                    base.clone(),
                    key("Chromium\\NativeMessagingHosts"),
                    &[Chromium],
                ),
                Location::registered(
                    directory.clone(),
                    base.clone(),
                    key("Microsoft\\Edge\\NativeMessagingHosts"),
                    &[Edge],
                ),
                Location::registered(
                    directory,
                    base,
                    key("Mozilla\\NativeMessagingHosts"),
                    &[Firefox],
                ),
            ]
        }
        (Platform::MacOs, Scope::User) => {
            let support = roots.home()?.join("Library/Application Support");
            vec![
                Location::new(
                    support.clone(),
                    "Google/Chrome/NativeMessagingHosts",
                    &[Chrome, Brave],
                ),
                Location::new(
                    support.clone(),
                    "Chromium/NativeMessagingHosts",
                    &[Chromium],
                ),
                Location::new(
                    support.clone(),
                    "Microsoft Edge/NativeMessagingHosts",
                    &[Edge],
                ),
                Location::new(
                    support.clone(),
                    "BraveSoftware/Brave-Browser/NativeMessagingHosts",
                    &[Brave],
                ),
                Location::new(support, "Mozilla/NativeMessagingHosts", &[Firefox]),
            ]
        }
    };
    for location in &mut all {
        location.scope = scope;
    }
    Ok(all)
}

/// The manifest folders `browser` reads, in the order it looks: per user first, then system-wide.
/// The first manifest found wins, even a broken one (Chromium stops there).
pub fn read_order(platform: Platform, browser: Browser, roots: &Roots) -> Vec<Location> {
    [Scope::User, Scope::System]
        .into_iter()
        // Without HOME there are no per-user locations to read: the system ones remain.
        .filter_map(|scope| locations(platform, scope, roots).ok())
        .flatten()
        .filter(|location| location.is_read_by(browser))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Roots {
        Roots {
            root: PathBuf::from("/r"),
            home: Some(PathBuf::from("/h")),
            local_app_data: Some(PathBuf::from("/l")),
            program_folder: Some(PathBuf::from("/p")),
            ..Roots::default()
        }
    }

    #[test]
    fn every_browser_has_a_user_and_a_system_location_on_each_platform() {
        for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
            for scope in [Scope::User, Scope::System] {
                let all = locations(platform, scope, &roots()).unwrap();
                for browser in Browser::ALL {
                    assert!(
                        all.iter().any(|l| l.is_read_by(browser)),
                        "{platform:?} {scope:?} {browser:?}"
                    );
                }
                for location in &all {
                    assert!(location.directory.starts_with(&location.base));
                    // Windows' system-wide manifests sit next to the binary, in its own folder.
                    if platform != Platform::Windows {
                        assert_ne!(location.directory, location.base);
                    }
                    assert_eq!(location.registry.is_some(), platform == Platform::Windows);
                }
            }
        }
    }

    #[test]
    fn xdg_config_home_moves_chromium_family_user_folders_but_not_firefox() {
        let roots = Roots {
            xdg_config_home: Some(PathBuf::from("/x")),
            ..roots()
        };
        let user = locations(Platform::Linux, Scope::User, &roots).unwrap();
        let chrome = user.iter().find(|l| l.is_read_by(Chrome)).unwrap();
        assert_eq!(
            chrome.directory,
            Path::new("/x/google-chrome/NativeMessagingHosts")
        );
        let firefox = user.iter().find(|l| l.is_read_by(Firefox)).unwrap();
        assert_eq!(
            firefox.directory,
            Path::new("/h/.mozilla/native-messaging-hosts")
        );
    }

    #[test]
    fn user_scope_needs_a_home_but_read_order_falls_back_to_system() {
        let roots = Roots {
            home: None,
            ..roots()
        };
        assert!(matches!(
            locations(Platform::Linux, Scope::User, &roots),
            Err(InstallError::NoHome)
        ));
        let order = read_order(Platform::Linux, Chromium, &roots);
        assert_eq!(
            order
                .iter()
                .map(|l| l.directory.clone())
                .collect::<Vec<_>>(),
            vec![PathBuf::from("/r/etc/chromium/native-messaging-hosts")]
        );
    }

    #[test]
    fn macos_locations_are_the_documented_ones() {
        let folders = |scope| {
            locations(Platform::MacOs, scope, &roots())
                .unwrap()
                .into_iter()
                .map(|l| (l.directory.display().to_string(), l.browsers))
                .collect::<Vec<_>>()
        };
        let support = "/h/Library/Application Support";
        assert_eq!(
            folders(Scope::User),
            vec![
                (
                    format!("{support}/Google/Chrome/NativeMessagingHosts"),
                    vec![Chrome, Brave]
                ),
                (
                    format!("{support}/Chromium/NativeMessagingHosts"),
                    vec![Chromium]
                ),
                (
                    format!("{support}/Microsoft Edge/NativeMessagingHosts"),
                    vec![Edge]
                ),
                (
                    format!("{support}/BraveSoftware/Brave-Browser/NativeMessagingHosts"),
                    vec![Brave]
                ),
                (
                    format!("{support}/Mozilla/NativeMessagingHosts"),
                    vec![Firefox]
                ),
            ]
        );
        assert_eq!(
            folders(Scope::System),
            vec![
                (
                    "/r/Library/Google/Chrome/NativeMessagingHosts".to_owned(),
                    vec![Chrome, Brave]
                ),
                (
                    "/r/Library/Application Support/Chromium/NativeMessagingHosts".to_owned(),
                    vec![Chromium]
                ),
                (
                    "/r/Library/Microsoft/Edge/NativeMessagingHosts".to_owned(),
                    vec![Edge]
                ),
                (
                    "/r/Library/Application Support/Mozilla/NativeMessagingHosts".to_owned(),
                    vec![Firefox]
                ),
            ]
        );
    }

    #[test]
    fn linux_firefox_system_folder_is_the_distribution_s_own() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            root: dir.path().to_path_buf(),
            ..roots()
        };
        let firefox_folders = |every: bool| {
            locations_of(Platform::Linux, Scope::System, &roots, every)
                .unwrap()
                .into_iter()
                .filter(|l| l.is_read_by(Firefox))
                .map(|l| {
                    let folder = l.directory.strip_prefix(dir.path()).unwrap();
                    folder.display().to_string()
                })
                .collect::<Vec<_>>()
        };
        let lib = "usr/lib/mozilla/native-messaging-hosts";
        let lib64 = "usr/lib64/mozilla/native-messaging-hosts";
        // No os-release: both.
        assert_eq!(firefox_folders(false), [lib, lib64]);
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let release = dir.path().join("etc/os-release");
        std::fs::write(&release, "PRETTY_NAME=\"Debian GNU/Linux 13\"\nID=debian\n").unwrap();
        assert_eq!(firefox_folders(false), [lib]);
        std::fs::write(&release, "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n").unwrap();
        assert_eq!(firefox_folders(false), [lib]);
        std::fs::write(
            &release,
            "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n",
        )
        .unwrap();
        assert_eq!(firefox_folders(false), [lib64]);
        std::fs::write(&release, "ID=fedora\n").unwrap();
        assert_eq!(firefox_folders(false), [lib64]);
        // Removal looks in both whatever the distribution.
        assert_eq!(firefox_folders(true), [lib, lib64]);
    }

    #[test]
    fn read_order_is_user_then_system() {
        let order = read_order(Platform::MacOs, Brave, &roots());
        let directories: Vec<_> = order.iter().map(|l| l.directory.clone()).collect();
        assert_eq!(
            directories,
            vec![
                PathBuf::from("/h/Library/Application Support/Google/Chrome/NativeMessagingHosts"),
                PathBuf::from("/h/Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts"),
                PathBuf::from("/r/Library/Google/Chrome/NativeMessagingHosts"),
            ]
        );
    }

    #[test]
    fn windows_registers_four_keys_pointing_at_two_manifests() {
        let host = "org.cpxconnect.host";
        let registrations = |scope| {
            locations(Platform::Windows, scope, &roots())
                .unwrap()
                .into_iter()
                .map(|l| {
                    (
                        l.registry_key(host).unwrap().to_string(),
                        l.manifest_file(host).display().to_string(),
                        l.browsers,
                    )
                })
                .collect::<Vec<_>>()
        };
        let chromium = "/l/cpx-connect/org.cpxconnect.host.json".to_owned();
        let firefox = "/l/cpx-connect/org.cpxconnect.host.firefox.json".to_owned();
        assert_eq!(
            registrations(Scope::User),
            vec![
                (
                    format!("HKCU\\Software\\Google\\Chrome\\NativeMessagingHosts\\{host}"),
                    chromium.clone(),
                    vec![Chrome, Brave]
                ),
                (
                    format!("HKCU\\Software\\Chromium\\NativeMessagingHosts\\{host}"),
                    chromium.clone(),
                    vec![Chromium]
                ),
                (
                    format!("HKCU\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\{host}"),
                    chromium,
                    vec![Edge]
                ),
                (
                    format!("HKCU\\Software\\Mozilla\\NativeMessagingHosts\\{host}"),
                    firefox,
                    vec![Firefox]
                ),
            ]
        );
        let system = registrations(Scope::System);
        assert_eq!(
            system[3],
            (
                format!("HKLM\\SOFTWARE\\Mozilla\\NativeMessagingHosts\\{host}"),
                "/p/org.cpxconnect.host.firefox.json".to_owned(),
                vec![Firefox]
            )
        );
        let no_local = Roots {
            local_app_data: None,
            ..roots()
        };
        assert!(matches!(
            locations(Platform::Windows, Scope::User, &no_local),
            Err(InstallError::NoLocalAppData)
        ));
        // Chrome looks per user first, then machine-wide.
        let order: Vec<_> = read_order(Platform::Windows, Chrome, &roots())
            .iter()
            .map(|l| l.registry_key(host).unwrap().hive)
            .collect();
        assert_eq!(order, vec![Hive::CurrentUser, Hive::LocalMachine]);
    }
}
