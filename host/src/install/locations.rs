//! Where each browser reads native messaging host manifests, per platform and scope.
//!
//! Sources (manifests/README.md has the links): Chrome's and Chromium's native messaging guide,
//! Microsoft's Edge guide, MDN's "Native manifests" page for Firefox. Brave documents nothing: its
//! per-user folder is its own profile root (`BraveSoftware/Brave-Browser`, from brave-core's
//! `chrome_paths_linux.cc`); system-wide, and per user on macOS, it reads Google Chrome's folders
//! (traced by other projects; Brave's developers said so on brave-browser#5074). Those shared
//! folders list both browsers, so uninstalling one never removes what the other still reads.

use std::path::{Path, PathBuf};

use super::{Browser, InstallError};

/// The operating systems whose browsers read manifests from fixed folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
}

impl Platform {
    /// The platform this binary runs on; Windows registers hosts in the registry instead.
    pub fn current() -> Option<Platform> {
        if cfg!(target_os = "macos") {
            Some(Platform::MacOs)
        } else if cfg!(all(unix, not(target_os = "macos"))) {
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
/// dir, real runs `/`), `home` and `xdg_config_home` give the per-user ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub root: PathBuf,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
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
        }
    }

    fn home(&self) -> Result<&Path, InstallError> {
        self.home.as_deref().ok_or(InstallError::NoHome)
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
}

impl Location {
    fn new(base: PathBuf, below_base: &str, browsers: &[Browser]) -> Location {
        Location {
            // Set by `locations`, which knows the scope.
            scope: Scope::User,
            directory: base.join(below_base),
            base,
            browsers: browsers.to_vec(),
        }
    }

    /// The manifest file itself.
    pub fn manifest_file(&self, host_name: &str) -> PathBuf {
        self.directory.join(format!("{host_name}.json"))
    }

    pub fn is_read_by(&self, browser: Browser) -> bool {
        self.browsers.contains(&browser)
    }
}

use Browser::{Brave, Chrome, Chromium, Edge, Firefox};

/// Every manifest location of `scope` on `platform`, whatever the browser.
pub fn locations(
    platform: Platform,
    scope: Scope,
    roots: &Roots,
) -> Result<Vec<Location>, InstallError> {
    let mut all = match (platform, scope) {
        (Platform::Linux, Scope::System) => {
            let etc = roots.system("/etc");
            let etc_opt = roots.system("/etc/opt");
            vec![
                Location::new(
                    etc_opt.clone(),
                    "chrome/native-messaging-hosts",
                    &[Chrome, Brave],
                ),
                Location::new(etc, "chromium/native-messaging-hosts", &[Chromium]),
                Location::new(etc_opt, "edge/native-messaging-hosts", &[Edge]),
                // Debian and Ubuntu build Firefox with /usr/lib, Fedora and openSUSE with /usr/lib64.
                Location::new(
                    roots.system("/usr/lib"),
                    "mozilla/native-messaging-hosts",
                    &[Firefox],
                ),
                Location::new(
                    roots.system("/usr/lib64"),
                    "mozilla/native-messaging-hosts",
                    &[Firefox],
                ),
            ]
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
            xdg_config_home: None,
        }
    }

    #[test]
    fn every_browser_has_a_user_and_a_system_location_on_each_platform() {
        for platform in [Platform::Linux, Platform::MacOs] {
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
                    assert_ne!(location.directory, location.base);
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
}
