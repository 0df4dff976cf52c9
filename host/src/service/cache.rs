//! What the host remembers about cards it has read: public data only (certificate, key reference,
//! PIN rules), keyed by the card's ICC serial, in memory and in the user's cache directory, so
//! that a known card does not have its PKCS#15 files and certificate read at every browser start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::card::{CardProfile, IccSerial};

/// Overrides the cache directory (tests, and administrators who want it elsewhere).
pub const DIRECTORY_VARIABLE: &str = "CPX_CONNECT_CACHE_DIR";

/// Bumped when `CardProfile` changes shape: older entries are then ignored and rewritten.
const FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Entry {
    format: u32,
    profile: CardProfile,
}

pub struct ProfileCache {
    memory: HashMap<IccSerial, CardProfile>,
    directory: Option<PathBuf>,
}

impl ProfileCache {
    /// A cache kept in memory only.
    pub fn in_memory() -> Self {
        ProfileCache {
            memory: HashMap::new(),
            directory: None,
        }
    }

    /// A cache that also persists in `directory` (created on first write).
    pub fn persistent(directory: PathBuf) -> Self {
        ProfileCache {
            memory: HashMap::new(),
            directory: Some(directory),
        }
    }

    /// The per-user cache directory of the platform, or `$CPX_CONNECT_CACHE_DIR`.
    pub fn default_directory() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os(DIRECTORY_VARIABLE).filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        crate::user_folders::cache_directory()
    }

    fn file(&self, serial: &IccSerial) -> Option<PathBuf> {
        // The serial is hex: safe as a file name.
        Some(
            self.directory
                .as_ref()?
                .join(format!("{}.json", serial.to_hex())),
        )
    }

    pub fn get(&mut self, serial: &IccSerial) -> Option<CardProfile> {
        if let Some(profile) = self.memory.get(serial) {
            return Some(profile.clone());
        }
        let path = self.file(serial)?;
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<Entry>(&bytes) {
            Ok(entry) if entry.format == FORMAT && entry.profile.icc_serial == *serial => {
                debug!(path = %path.display(), "card profile from cache");
                self.memory.insert(serial.clone(), entry.profile.clone());
                Some(entry.profile)
            }
            _ => {
                warn!(path = %path.display(), "ignoring an unreadable cache entry");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    pub fn put(&mut self, profile: &CardProfile) {
        self.memory
            .insert(profile.icc_serial.clone(), profile.clone());
        let Some(path) = self.file(&profile.icc_serial) else {
            return;
        };
        let entry = Entry {
            format: FORMAT,
            profile: profile.clone(),
        };
        if let Err(error) = write_atomically(&path, &entry) {
            // A cache that cannot be written only costs APDUs; the login goes on.
            warn!(path = %path.display(), %error, "cannot write the card cache");
        }
    }

    /// Drops what is known of a card whose files no longer match what was cached.
    pub fn forget(&mut self, serial: &IccSerial) {
        self.memory.remove(serial);
        if let Some(path) = self.file(serial) {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn write_atomically(path: &Path, entry: &Entry) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    crate::user_folders::create_private(directory)?;
    let bytes = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::cps_pin_policy;
    use crate::card::CardType;

    fn profile(serial: u8) -> CardProfile {
        CardProfile {
            card_type: CardType::Cps3,
            icc_serial: IccSerial(vec![0x80, 0x25, 0, 0, 1, serial]),
            application: crate::card::ApplicationAddress::Aid(vec![0xE8, 0x28]),
            key_reference: 0x82,
            pin: cps_pin_policy(),
            certificate_der: vec![0x30, 0x00],
        }
    }

    fn temporary_directory(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cpx-cache-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A cache in a new folder named after the test, holding profile 1; and that folder.
    fn cache_holding_profile_1(name: &str) -> (PathBuf, ProfileCache) {
        let dir = temporary_directory(name);
        let mut cache = ProfileCache::persistent(dir.clone());
        cache.put(&profile(1));
        (dir, cache)
    }

    /// What a new process finds in the cache folder `dir` for the card of `profile(serial)`.
    fn found_by_a_new_process(dir: &Path, serial: u8) -> Option<CardProfile> {
        ProfileCache::persistent(dir.to_owned()).get(&profile(serial).icc_serial)
    }

    #[test]
    fn survives_a_new_process() {
        let (dir, _) = cache_holding_profile_1("survives");
        assert_eq!(found_by_a_new_process(&dir, 1), Some(profile(1)));
        assert_eq!(found_by_a_new_process(&dir, 2), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn forget_removes_the_file() {
        let (dir, mut cache) = cache_holding_profile_1("forget");
        cache.forget(&profile(1).icc_serial);
        assert_eq!(found_by_a_new_process(&dir, 1), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn corrupt_or_mismatched_entries_are_ignored_and_removed() {
        let (dir, cache) = cache_holding_profile_1("corrupt");
        let path = cache.file(&profile(1).icc_serial).unwrap();
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(found_by_a_new_process(&dir, 1), None);
        assert!(!path.exists());

        // An entry whose content names another card is not trusted.
        let other = serde_json::to_vec(&Entry {
            format: FORMAT,
            profile: profile(2),
        })
        .unwrap();
        std::fs::write(&path, other).unwrap();
        assert_eq!(found_by_a_new_process(&dir, 1), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// On a session host other users must not read who logged in with which card.
    #[cfg(unix)]
    #[test]
    fn the_cache_folder_it_creates_is_the_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache").join("cpx-connect");
        ProfileCache::persistent(dir.clone()).put(&profile(1));
        for folder in [&dir, &root.path().join("cache")] {
            let mode = std::fs::metadata(folder).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", folder.display());
        }
    }

    #[test]
    fn an_unwritable_directory_only_loses_persistence() {
        let mut cache = ProfileCache::persistent(PathBuf::from("/proc/cpx-connect-cannot-write"));
        cache.put(&profile(1));
        assert_eq!(cache.get(&profile(1).icc_serial), Some(profile(1)));
    }
}
