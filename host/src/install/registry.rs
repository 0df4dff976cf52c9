//! Windows finds native messaging hosts through registry keys, one per browser, whose default
//! value is the absolute path of the manifest (Chrome's and Edge's native messaging guides, MDN's
//! "Native manifests"). This module holds what is the same everywhere: the keys, the [`Registry`]
//! operations install, uninstall and doctor need, and an in-memory registry so that the logic is
//! tested on every platform. The real registry is behind `windows.rs`, compiled on Windows only
//! and chosen by `install::system_registry`: nothing here names it.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

/// The two hives browsers read, per user first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hive {
    /// `HKEY_CURRENT_USER`: per user.
    CurrentUser,
    /// `HKEY_LOCAL_MACHINE`: every account (`--system`, needs administrator rights).
    LocalMachine,
}

impl Hive {
    pub fn short_name(self) -> &'static str {
        match self {
            Hive::CurrentUser => "HKCU",
            Hive::LocalMachine => "HKLM",
        }
    }
}

/// A key: a hive and a path below it, `\`-separated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryKey {
    pub hive: Hive,
    pub path: String,
}

impl RegistryKey {
    pub fn new(hive: Hive, path: impl Into<String>) -> RegistryKey {
        RegistryKey {
            hive,
            path: path.into(),
        }
    }

    /// The subkey `name`.
    pub fn join(&self, name: &str) -> RegistryKey {
        RegistryKey::new(self.hive, format!("{}\\{name}", self.path))
    }

    /// The parent key, `None` at a hive's first level.
    pub fn parent(&self) -> Option<RegistryKey> {
        let (parent, _) = self.path.rsplit_once('\\')?;
        Some(RegistryKey::new(self.hive, parent))
    }
}

impl fmt::Display for RegistryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\\{}", self.hive.short_name(), self.path)
    }
}

/// What install, uninstall and doctor do with the registry. Key names compare without regard to
/// case, as Windows does.
pub trait Registry {
    /// The default value of `key` as a string; `None` when the key does not exist.
    fn default_value(&self, key: &RegistryKey) -> io::Result<Option<String>>;
    /// Creates `key` and its missing parents, and sets its default value (one atomic write).
    fn set_default_value(&mut self, key: &RegistryKey, value: &str) -> io::Result<()>;
    /// Deletes `key`, which has no subkeys; a missing key is not an error.
    fn delete_key(&mut self, key: &RegistryKey) -> io::Result<()>;
    /// Whether `key` exists with neither subkeys nor values.
    fn is_empty_key(&self, key: &RegistryKey) -> io::Result<bool>;
}

/// Deletes `key`, then its parents while they are empty, never `base` nor anything above it.
pub fn delete_key_and_empty_parents(
    registry: &mut dyn Registry,
    key: &RegistryKey,
    base: &RegistryKey,
) -> io::Result<()> {
    registry.delete_key(key)?;
    let mut current = key.parent();
    while let Some(parent) = current {
        let below_base = parent.hive == base.hive
            && parent.path.len() > base.path.len()
            && parent
                .path
                .to_lowercase()
                .starts_with(&format!("{}\\", base.path.to_lowercase()));
        // A parent that holds anything else (another host, the browser's own settings) stays.
        if !below_base || !registry.is_empty_key(&parent)? {
            return Ok(());
        }
        registry.delete_key(&parent)?;
        current = parent.parent();
    }
    Ok(())
}

/// A registry in memory: keys (lowercased path) with their default value, if any. Also what
/// non-Windows builds see when asked for the system's registry: nothing registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryRegistry {
    keys: BTreeMap<(Hive, String), Option<String>>,
}

impl MemoryRegistry {
    pub fn new() -> MemoryRegistry {
        MemoryRegistry::default()
    }

    fn id(key: &RegistryKey) -> (Hive, String) {
        (key.hive, key.path.to_lowercase())
    }

    /// Every key, as `HKCU\path` (lowercase), with its default value.
    pub fn dump(&self) -> Vec<(String, Option<String>)> {
        self.keys
            .iter()
            .map(|((hive, path), value)| (format!("{}\\{path}", hive.short_name()), value.clone()))
            .collect()
    }

    /// Creates a key (and its parents) without a default value, as another program would.
    pub fn create_key(&mut self, key: &RegistryKey) {
        let mut current = Some(key.clone());
        while let Some(k) = current {
            self.keys.entry(MemoryRegistry::id(&k)).or_insert(None);
            current = k.parent();
        }
    }
}

impl Registry for MemoryRegistry {
    fn default_value(&self, key: &RegistryKey) -> io::Result<Option<String>> {
        Ok(self.keys.get(&MemoryRegistry::id(key)).cloned().flatten())
    }

    fn set_default_value(&mut self, key: &RegistryKey, value: &str) -> io::Result<()> {
        self.create_key(key);
        self.keys
            .insert(MemoryRegistry::id(key), Some(value.to_owned()));
        Ok(())
    }

    fn delete_key(&mut self, key: &RegistryKey) -> io::Result<()> {
        let (hive, path) = MemoryRegistry::id(key);
        let prefix = format!("{path}\\");
        if self
            .keys
            .keys()
            .any(|(h, p)| *h == hive && p.starts_with(&prefix))
        {
            return Err(io::Error::other(format!("{key} has subkeys")));
        }
        self.keys.remove(&(hive, path));
        Ok(())
    }

    fn is_empty_key(&self, key: &RegistryKey) -> io::Result<bool> {
        let (hive, path) = MemoryRegistry::id(key);
        let prefix = format!("{path}\\");
        let has_subkeys = self
            .keys
            .keys()
            .any(|(h, p)| *h == hive && p.starts_with(&prefix));
        Ok(matches!(self.keys.get(&(hive, path)), Some(None)) && !has_subkeys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parents_go_up_to_the_base_and_no_further() {
        let mut registry = MemoryRegistry::new();
        let base = RegistryKey::new(Hive::CurrentUser, "Software");
        let ours = base.join("Google\\Chrome\\NativeMessagingHosts\\org.cpxconnect.host");
        registry.create_key(&base.join("Other"));
        registry.set_default_value(&ours, "C:\\m.json").unwrap();
        assert_eq!(
            registry.default_value(&ours).unwrap().as_deref(),
            Some("C:\\m.json")
        );
        delete_key_and_empty_parents(&mut registry, &ours, &base).unwrap();
        assert_eq!(
            registry.dump(),
            vec![
                ("HKCU\\software".to_owned(), None),
                ("HKCU\\software\\other".to_owned(), None)
            ]
        );
    }

    #[test]
    fn a_parent_holding_another_host_stays() {
        let mut registry = MemoryRegistry::new();
        let base = RegistryKey::new(Hive::LocalMachine, "SOFTWARE");
        let hosts = base.join("Mozilla\\NativeMessagingHosts");
        registry
            .set_default_value(&hosts.join("other.host"), "x")
            .unwrap();
        registry
            .set_default_value(&hosts.join("org.cpxconnect.host"), "y")
            .unwrap();
        // Case differs, as the same key written by another tool may.
        let ours = RegistryKey::new(
            Hive::LocalMachine,
            "software\\mozilla\\nativemessaginghosts\\ORG.CPXCONNECT.HOST",
        );
        delete_key_and_empty_parents(&mut registry, &ours, &base).unwrap();
        assert_eq!(registry.default_value(&ours).unwrap(), None);
        assert_eq!(
            registry
                .default_value(&hosts.join("other.host"))
                .unwrap()
                .as_deref(),
            Some("x")
        );
    }
}
