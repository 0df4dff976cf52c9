//! The user's own folders, where the host keeps its logs and its card cache. On a session host
//! (Remote Desktop Services, Citrix, xrdp) several users run the host at the same time: each
//! writes only under its own profile, never to a machine-wide place, and on Unix the host's
//! folders are readable by their user alone, since the cache holds the holder's certificate
//! (name, idNat) and the log the sites they logged in to.

use std::io;
use std::path::{Path, PathBuf};

/// The host's log folder in the user's state directory.
#[cfg(target_os = "macos")]
pub fn log_directory() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join("Library/Logs/cpx-connect"))
}

/// The host's card cache folder in the user's cache directory.
#[cfg(target_os = "macos")]
pub fn cache_directory() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join("Library/Caches/cpx-connect"))
}

/// The host's log folder in the user's local (not roaming) application data: logs stay on the
/// machine where they were written.
#[cfg(windows)]
pub fn log_directory() -> Option<PathBuf> {
    let local = std::env::var_os("LOCALAPPDATA")?;
    Some(PathBuf::from(local).join("cpx-connect").join("logs"))
}

/// The host's card cache folder in the user's local application data.
#[cfg(windows)]
pub fn cache_directory() -> Option<PathBuf> {
    let local = std::env::var_os("LOCALAPPDATA")?;
    Some(PathBuf::from(local).join("cpx-connect").join("cache"))
}

/// `$XDG_STATE_HOME/cpx-connect`, by default `~/.local/state/cpx-connect`.
#[cfg(not(any(target_os = "macos", windows)))]
pub fn log_directory() -> Option<PathBuf> {
    Some(xdg_directory("XDG_STATE_HOME", ".local/state")?.join("cpx-connect"))
}

/// `$XDG_CACHE_HOME/cpx-connect`, by default `~/.cache/cpx-connect`.
#[cfg(not(any(target_os = "macos", windows)))]
pub fn cache_directory() -> Option<PathBuf> {
    Some(xdg_directory("XDG_CACHE_HOME", ".cache")?.join("cpx-connect"))
}

/// An XDG base directory: the variable if set and absolute (the XDG Base Directory
/// specification says to ignore a relative one: it would resolve against whatever folder the
/// browser started the host in, which is not the user's), else its default under HOME.
#[cfg(not(any(target_os = "macos", windows)))]
fn xdg_directory(variable: &str, default_under_home: &str) -> Option<PathBuf> {
    xdg_directory_from(|name| std::env::var_os(name), variable, default_under_home)
}

#[cfg(not(any(target_os = "macos", windows)))]
fn xdg_directory_from(
    environment: impl Fn(&str) -> Option<std::ffi::OsString>,
    variable: &str,
    default_under_home: &str,
) -> Option<PathBuf> {
    environment(variable)
        .map(PathBuf::from)
        .filter(|directory| directory.is_absolute())
        .or_else(|| environment("HOME").map(|home| PathBuf::from(home).join(default_under_home)))
}

/// Creates `directory` and any missing parent. What this creates is private to the user on Unix
/// (0700); Windows folders under LOCALAPPDATA inherit the profile's per-user access list. A
/// folder that already exists keeps its permissions: it may be one an administrator chose.
pub fn create_private(directory: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(directory)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_folders_are_the_users_alone() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("state").join("cpx-connect");
        create_private(&folder).unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&root.path().join("state")), 0o700);
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn xdg_folders_are_used_only_when_absolute() {
        let environment = |state: &'static str| {
            move |name: &str| match name {
                "HOME" => Some("/home/dupont".into()),
                "XDG_STATE_HOME" if !state.is_empty() => Some(state.into()),
                _ => None,
            }
        };
        let state =
            |value| xdg_directory_from(environment(value), "XDG_STATE_HOME", ".local/state");
        assert_eq!(
            state("/srv/state/dupont"),
            Some(PathBuf::from("/srv/state/dupont"))
        );
        assert_eq!(state(""), Some(PathBuf::from("/home/dupont/.local/state")));
        // Relative: it would land in the folder the browser started the host in.
        assert_eq!(
            state("state"),
            Some(PathBuf::from("/home/dupont/.local/state"))
        );
    }

    #[test]
    fn an_existing_folder_keeps_its_permissions() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        create_private(root.path()).unwrap();
        assert_eq!(mode(root.path()), 0o750);
    }
}
