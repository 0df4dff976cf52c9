//! Which browsers are installed, so that the report speaks only of those. Found where their
//! installers put them: executables on Linux (packages, /opt, snap, flatpak), application
//! bundles on macOS, the `App Paths` key each installer writes on Windows.

use std::path::PathBuf;

use crate::install::registry::{Hive, Registry, RegistryKey};
use crate::install::{Browser, Platform, Roots};

fn linux_executables(browser: Browser) -> &'static [&'static str] {
    match browser {
        Browser::Chrome => &[
            "/opt/google/chrome/chrome",
            "/usr/bin/google-chrome",
            "/usr/bin/google-chrome-stable",
            "/var/lib/flatpak/exports/bin/com.google.Chrome",
        ],
        Browser::Chromium => &[
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/lib/chromium/chromium",
            "/snap/bin/chromium",
            "/var/lib/flatpak/exports/bin/org.chromium.Chromium",
        ],
        Browser::Edge => &[
            "/opt/microsoft/msedge/msedge",
            "/usr/bin/microsoft-edge",
            "/usr/bin/microsoft-edge-stable",
            "/var/lib/flatpak/exports/bin/com.microsoft.Edge",
        ],
        Browser::Brave => &[
            "/opt/brave.com/brave/brave",
            "/usr/bin/brave-browser",
            "/usr/bin/brave",
            "/snap/bin/brave",
            "/var/lib/flatpak/exports/bin/com.brave.Browser",
        ],
        Browser::Firefox => &[
            "/usr/bin/firefox",
            "/usr/bin/firefox-esr",
            "/usr/lib/firefox/firefox",
            "/usr/lib/firefox-esr/firefox-esr",
            "/opt/firefox/firefox",
            "/snap/bin/firefox",
            "/var/lib/flatpak/exports/bin/org.mozilla.firefox",
        ],
    }
}

fn macos_bundle(browser: Browser) -> &'static str {
    match browser {
        Browser::Chrome => "Google Chrome.app",
        Browser::Chromium => "Chromium.app",
        Browser::Edge => "Microsoft Edge.app",
        Browser::Brave => "Brave Browser.app",
        Browser::Firefox => "Firefox.app",
    }
}

/// Whether `browser` is installed on Windows: its `App Paths` entry, per machine or per user.
/// Chrome and Chromium both register `chrome.exe`; the path tells them apart.
fn on_windows(browser: Browser, registry: &dyn Registry) -> bool {
    let exe = match browser {
        Browser::Chrome | Browser::Chromium => "chrome.exe",
        Browser::Edge => "msedge.exe",
        Browser::Brave => "brave.exe",
        Browser::Firefox => "firefox.exe",
    };
    [
        (Hive::LocalMachine, "SOFTWARE"),
        (Hive::CurrentUser, "Software"),
    ]
    .into_iter()
    .filter_map(|(hive, software)| {
        let key = RegistryKey::new(
            hive,
            format!("{software}\\Microsoft\\Windows\\CurrentVersion\\App Paths\\{exe}"),
        );
        registry.default_value(&key).ok().flatten()
    })
    .any(|path| {
        let google = path.to_lowercase().contains("\\google\\chrome\\");
        match browser {
            Browser::Chrome => google,
            Browser::Chromium => !google,
            _ => true,
        }
    })
}

/// The browsers found on this machine, in `Browser::ALL`'s order.
pub fn installed(platform: Platform, roots: &Roots, registry: &dyn Registry) -> Vec<Browser> {
    let system = |path: &str| roots.root.join(path.trim_start_matches('/'));
    Browser::ALL
        .into_iter()
        .filter(|browser| match platform {
            Platform::Linux => linux_executables(*browser)
                .iter()
                .any(|path| system(path).exists()),
            Platform::MacOs => {
                let bundle = macos_bundle(*browser);
                let mut places = vec![system("/Applications").join(bundle)];
                if let Some(home) = &roots.home {
                    places.push(home.join("Applications").join(bundle));
                }
                places.iter().any(|place: &PathBuf| place.exists())
            }
            Platform::Windows => on_windows(*browser, registry),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::registry::MemoryRegistry;

    #[test]
    fn linux_browsers_are_found_by_their_executables() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            root: dir.path().to_path_buf(),
            ..Roots::default()
        };
        let registry = MemoryRegistry::new();
        assert!(installed(Platform::Linux, &roots, &registry).is_empty());
        for file in ["usr/bin/chromium", "usr/lib/firefox-esr/firefox-esr"] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        assert_eq!(
            installed(Platform::Linux, &roots, &registry),
            [Browser::Chromium, Browser::Firefox]
        );
    }

    #[test]
    fn windows_browsers_are_found_by_their_app_paths() {
        let mut registry = MemoryRegistry::new();
        let app = |hive, exe: &str| {
            RegistryKey::new(
                hive,
                format!("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\App Paths\\{exe}"),
            )
        };
        registry
            .set_default_value(
                &app(Hive::LocalMachine, "chrome.exe"),
                "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
            )
            .unwrap();
        registry
            .set_default_value(
                &app(Hive::CurrentUser, "msedge.exe"),
                "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
            )
            .unwrap();
        let roots = Roots::default();
        assert_eq!(
            installed(Platform::Windows, &roots, &registry),
            [Browser::Chrome, Browser::Edge]
        );
    }
}
