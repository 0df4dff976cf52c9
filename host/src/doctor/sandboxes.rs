//! Browsers installed as a snap or a Flatpak on Linux run confined: they cannot start a program
//! of the host system themselves, so native messaging works only where a portal starts it for
//! them. What is known:
//!
//! - Firefox as a snap (Ubuntu's default since 22.04) asks xdg-desktop-portal's WebExtensions
//!   portal, which reads the host manifests in the usual folders and asks the user once to allow
//!   the host (Ubuntu's firefox snap; keepassxc PR #8756, xdg-desktop-portal PR #705).
//! - Firefox as a Flatpak talks to xdg-native-messaging-proxy from Firefox 157 on, when the
//!   distribution ships that service (xdg-desktop-portal issue #655, Mozilla bug 1955255).
//! - Chromium-family browsers use neither: as a snap or a Flatpak they cannot start the host.

use std::path::{Path, PathBuf};

use super::{Check, Language, Status, Topic};
use crate::install::{Browser, Roots};

/// How a browser is confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packaging {
    Snap,
    Flatpak,
}

/// A browser found confined, and whether an unconfined copy is installed beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confined {
    pub browser: Browser,
    pub packaging: Packaging,
    pub unconfined_too: bool,
}

fn snap_name(browser: Browser) -> Option<&'static str> {
    match browser {
        Browser::Chromium => Some("chromium"),
        Browser::Brave => Some("brave"),
        Browser::Firefox => Some("firefox"),
        Browser::Chrome | Browser::Edge => None,
    }
}

fn flatpak_id(browser: Browser) -> &'static str {
    match browser {
        Browser::Chrome => "com.google.Chrome",
        Browser::Chromium => "org.chromium.Chromium",
        Browser::Edge => "com.microsoft.Edge",
        Browser::Brave => "com.brave.Browser",
        Browser::Firefox => "org.mozilla.firefox",
    }
}

/// Executables of unconfined installations (distribution packages, vendors' packages, /opt).
fn unconfined_executables(browser: Browser) -> &'static [&'static str] {
    match browser {
        Browser::Chrome => &["/opt/google/chrome/chrome"],
        Browser::Chromium => &[
            "/usr/lib/chromium/chromium",
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
        ],
        Browser::Edge => &["/opt/microsoft/msedge/msedge"],
        Browser::Brave => &["/opt/brave.com/brave/brave"],
        Browser::Firefox => &[
            "/usr/lib/firefox/firefox",
            "/usr/lib/firefox-esr/firefox-esr",
            "/opt/firefox/firefox",
            "/usr/bin/firefox",
            "/usr/bin/firefox-esr",
        ],
    }
}

/// Ubuntu's `/usr/bin/firefox` and `/usr/bin/chromium-browser` are scripts that start the snap:
/// they are not an unconfined browser.
fn is_snap_launcher(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    bytes.len() < 64 * 1024
        && bytes.starts_with(b"#!")
        && String::from_utf8_lossy(&bytes).contains("/snap/")
}

/// The browsers installed as a snap or a Flatpak (system-wide or for this user).
pub fn confined(roots: &Roots) -> Vec<Confined> {
    let system = |path: &str| roots.root.join(path.trim_start_matches('/'));
    let mut found = Vec::new();
    for browser in Browser::ALL {
        let unconfined_too = unconfined_executables(browser).iter().any(|path| {
            let path = system(path);
            path.exists() && !is_snap_launcher(&path)
        });
        if snap_name(browser).is_some_and(|name| system(&format!("/snap/bin/{name}")).exists()) {
            found.push(Confined {
                browser,
                packaging: Packaging::Snap,
                unconfined_too,
            });
        }
        let id = flatpak_id(browser);
        let mut flatpaks = vec![system(&format!("/var/lib/flatpak/exports/bin/{id}"))];
        if let Some(home) = &roots.home {
            flatpaks.push(home.join(format!(".local/share/flatpak/exports/bin/{id}")));
        }
        if flatpaks.iter().any(|path: &PathBuf| path.exists()) {
            found.push(Confined {
                browser,
                packaging: Packaging::Flatpak,
                unconfined_too,
            });
        }
    }
    found
}

/// Whether xdg-native-messaging-proxy, which a Flatpak Firefox needs, is installed.
fn native_messaging_proxy_installed(roots: &Roots) -> bool {
    [
        "/usr/libexec/xdg-native-messaging-proxy",
        "/usr/lib/xdg-native-messaging-proxy",
        "/usr/lib/systemd/user/xdg-native-messaging-proxy.service",
    ]
    .iter()
    .any(|path| roots.root.join(path.trim_start_matches('/')).exists())
}

/// Whether a login can work in this confined browser.
pub fn can_start_the_host(confined: &Confined, roots: &Roots) -> bool {
    match (confined.browser, confined.packaging) {
        (Browser::Firefox, Packaging::Snap) => true,
        (Browser::Firefox, Packaging::Flatpak) => native_messaging_proxy_installed(roots),
        _ => false,
    }
}

/// The doctor's line about a confined browser.
pub fn check(lang: Language, confined: &Confined, roots: &Roots) -> Check {
    let name = confined.browser.display_name();
    let (kind_en, kind_fr) = match confined.packaging {
        Packaging::Snap => ("a snap", "un snap"),
        Packaging::Flatpak => ("a Flatpak", "un Flatpak"),
    };
    let topic = Topic::Sandbox(confined.browser);
    let (status, text, fix) = match (confined.browser, confined.packaging) {
        (Browser::Firefox, Packaging::Snap) => (
            Status::Ok,
            lang.pick(
                format!("{name} is {kind_en}: it starts CPx Connect through the WebExtensions portal, and asks once to allow it"),
                format!("{name} est {kind_fr} : il lance CPx Connect par le portail WebExtensions, et demande une fois de l'autoriser"),
            ),
            None,
        ),
        (Browser::Firefox, Packaging::Flatpak) if can_start_the_host(confined, roots) => (
            Status::Warn,
            lang.pick(
                format!("{name} is {kind_en}: it reaches CPx Connect through xdg-native-messaging-proxy from Firefox 157 on"),
                format!("{name} est {kind_fr} : il atteint CPx Connect par xdg-native-messaging-proxy à partir de Firefox 157"),
            ),
            Some(lang.pick(
                "keep the Flatpak up to date and the service on: systemctl --user enable --now xdg-native-messaging-proxy.service",
                "gardez le Flatpak à jour et le service actif : systemctl --user enable --now xdg-native-messaging-proxy.service",
            ).to_owned()),
        ),
        (Browser::Firefox, Packaging::Flatpak) => (
            Status::Fail,
            lang.pick(
                format!("{name} is {kind_en} and xdg-native-messaging-proxy is not installed: it cannot start CPx Connect"),
                format!("{name} est {kind_fr} et xdg-native-messaging-proxy n'est pas installé : il ne peut pas lancer CPx Connect"),
            ),
            Some(lang.pick(
                "install xdg-native-messaging-proxy and run systemctl --user enable --now xdg-native-messaging-proxy.service, or install Firefox from your distribution's packages",
                "installez xdg-native-messaging-proxy et lancez systemctl --user enable --now xdg-native-messaging-proxy.service, ou installez Firefox depuis les paquets de votre distribution",
            ).to_owned()),
        ),
        _ => (
            if confined.unconfined_too { Status::Warn } else { Status::Fail },
            lang.pick(
                format!("{name} is {kind_en}: a confined {name} cannot start CPx Connect (it has no native messaging portal)"),
                format!("{name} est {kind_fr} : confiné, {name} ne peut pas lancer CPx Connect (il n'a pas de portail de messagerie native)"),
            ),
            Some(if confined.unconfined_too {
                lang.pick(
                    format!("use the {name} installed from a package (.deb or the vendor's), not {kind_en}"),
                    format!("utilisez le {name} installé par un paquet (.deb ou celui de l'éditeur), pas {kind_fr}"),
                )
            } else {
                lang.pick(
                    format!("install {name} from a package (.deb or the vendor's) instead of {kind_en}, or use Firefox"),
                    format!("installez {name} par un paquet (.deb ou celui de l'éditeur) au lieu d'{kind_fr}, ou utilisez Firefox"),
                )
            }),
        ),
    };
    Check {
        topic,
        status,
        text,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        for (file, content) in files {
            let path = dir.path().join(file.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let roots = Roots {
            root: dir.path().to_path_buf(),
            home: Some(dir.path().join("home")),
            ..Roots::default()
        };
        (dir, roots)
    }

    /// The snap `/snap/bin/{snap}` and the script Ubuntu puts at `launcher` to start it.
    fn snap_behind_its_launcher(snap: &str, launcher: &str) -> (tempfile::TempDir, Roots) {
        let snap = format!("/snap/bin/{snap}");
        let script = format!("#!/bin/sh\nexec {snap} \"$@\"\n");
        tree(&[(&snap, ""), (launcher, &script)])
    }

    #[test]
    fn ubuntu_s_firefox_snap_behind_its_launcher_script_can_start_the_host() {
        let (_dir, roots) = snap_behind_its_launcher("firefox", "/usr/bin/firefox");
        let found = confined(&roots);
        assert_eq!(
            found,
            [Confined {
                browser: Browser::Firefox,
                packaging: Packaging::Snap,
                unconfined_too: false,
            }]
        );
        assert!(can_start_the_host(&found[0], &roots));
        let line = check(Language::English, &found[0], &roots);
        assert_eq!(line.status, Status::Ok);
        assert!(line.text.contains("WebExtensions portal"), "{}", line.text);
    }

    #[test]
    fn a_chromium_snap_cannot_and_a_deb_beside_it_is_the_way_out() {
        let (_dir, roots) = snap_behind_its_launcher("chromium", "/usr/bin/chromium-browser");
        let found = confined(&roots);
        assert_eq!(found.len(), 1);
        assert!(!can_start_the_host(&found[0], &roots));
        let line = check(Language::English, &found[0], &roots);
        assert_eq!(line.status, Status::Fail);
        let fix = line.fix.unwrap();
        assert!(fix.starts_with("install Chromium from a package"), "{fix}");

        let (_dir, roots) = tree(&[
            ("/snap/bin/chromium", ""),
            ("/usr/lib/chromium/chromium", "\x7fELF"),
        ]);
        let found = confined(&roots);
        assert!(found[0].unconfined_too);
        let line = check(Language::French, &found[0], &roots);
        assert_eq!(line.status, Status::Warn);
        let fix = line.fix.unwrap();
        assert!(fix.starts_with("utilisez le Chromium installé"), "{fix}");
    }

    #[test]
    fn a_firefox_flatpak_needs_the_native_messaging_proxy() {
        let (_dir, roots) = tree(&[(
            "/home/.local/share/flatpak/exports/bin/org.mozilla.firefox",
            "",
        )]);
        let found = confined(&roots);
        assert_eq!(found[0].packaging, Packaging::Flatpak);
        assert!(!can_start_the_host(&found[0], &roots));
        assert_eq!(
            check(Language::English, &found[0], &roots).status,
            Status::Fail
        );

        let (_dir, roots) = tree(&[
            ("/var/lib/flatpak/exports/bin/org.mozilla.firefox", ""),
            ("/usr/libexec/xdg-native-messaging-proxy", ""),
        ]);
        let found = confined(&roots);
        assert!(can_start_the_host(&found[0], &roots));
        assert_eq!(
            check(Language::English, &found[0], &roots).status,
            Status::Warn
        );
    }

    #[test]
    fn chrome_and_edge_flatpaks_cannot_start_the_host_and_packages_are_not_confined() {
        let (_dir, roots) = tree(&[
            ("/var/lib/flatpak/exports/bin/com.google.Chrome", ""),
            ("/var/lib/flatpak/exports/bin/com.microsoft.Edge", ""),
            ("/opt/microsoft/msedge/msedge", ""),
        ]);
        let found = confined(&roots);
        assert_eq!(
            found.iter().map(|c| c.browser).collect::<Vec<_>>(),
            [Browser::Chrome, Browser::Edge]
        );
        assert!(found.iter().all(|c| !can_start_the_host(c, &roots)));
        assert_eq!(
            check(Language::English, &found[0], &roots).status,
            Status::Fail
        );
        assert_eq!(
            check(Language::English, &found[1], &roots).status,
            Status::Warn
        );

        let (_dir, roots) = tree(&[("/usr/lib/firefox-esr/firefox-esr", "")]);
        assert!(confined(&roots).is_empty());
    }
}
