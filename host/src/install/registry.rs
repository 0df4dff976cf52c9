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

/// A named value, as the browsers' policy readers tell the types apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryValue {
    /// `REG_SZ` or `REG_EXPAND_SZ`.
    String(String),
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_MULTI_SZ`, one string per item.
    MultiString(Vec<String>),
    /// Any other type (`REG_BINARY`, `REG_QWORD`...): no policy the doctor reads uses one.
    Other,
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
    /// The names of `key`'s subkeys, as written; none when the key does not exist.
    fn subkeys(&self, key: &RegistryKey) -> io::Result<Vec<String>>;
    /// `key`'s named values (not the default one); none when the key does not exist.
    fn values(&self, key: &RegistryKey) -> io::Result<Vec<(String, RegistryValue)>>;
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

/// A registry in memory: keys (by lowercased path) with the path as written, their default
/// value and their named values. Also what non-Windows builds see when asked for the system's
/// registry: nothing registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryRegistry {
    keys: BTreeMap<(Hive, String), MemoryKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct MemoryKey {
    written: String,
    default: Option<String>,
    values: Vec<(String, RegistryValue)>,
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
            .map(|((hive, path), key)| {
                (
                    format!("{}\\{path}", hive.short_name()),
                    key.default.clone(),
                )
            })
            .collect()
    }

    /// Creates a key (and its parents) without a default value, as another program would.
    pub fn create_key(&mut self, key: &RegistryKey) {
        let mut current = Some(key.clone());
        while let Some(k) = current {
            (self.keys.entry(MemoryRegistry::id(&k))).or_insert_with(|| MemoryKey {
                written: k.path.clone(),
                ..MemoryKey::default()
            });
            current = k.parent();
        }
    }

    /// Sets the named value `name` of `key` (created if need be), as a policy tool would.
    pub fn set_value(&mut self, key: &RegistryKey, name: &str, value: RegistryValue) {
        self.create_key(key);
        if let Some(entry) = self.keys.get_mut(&MemoryRegistry::id(key)) {
            entry
                .values
                .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
            entry.values.push((name.to_owned(), value));
        }
    }

    fn has_subkeys(&self, hive: Hive, path: &str) -> bool {
        let prefix = format!("{path}\\");
        self.keys
            .keys()
            .any(|(h, p)| *h == hive && p.starts_with(&prefix))
    }
}

impl Registry for MemoryRegistry {
    fn default_value(&self, key: &RegistryKey) -> io::Result<Option<String>> {
        Ok((self.keys.get(&MemoryRegistry::id(key))).and_then(|key| key.default.clone()))
    }

    fn set_default_value(&mut self, key: &RegistryKey, value: &str) -> io::Result<()> {
        self.create_key(key);
        if let Some(entry) = self.keys.get_mut(&MemoryRegistry::id(key)) {
            entry.default = Some(value.to_owned());
        }
        Ok(())
    }

    fn delete_key(&mut self, key: &RegistryKey) -> io::Result<()> {
        let (hive, path) = MemoryRegistry::id(key);
        if self.has_subkeys(hive, &path) {
            return Err(io::Error::other(format!("{key} has subkeys")));
        }
        self.keys.remove(&(hive, path));
        Ok(())
    }

    fn is_empty_key(&self, key: &RegistryKey) -> io::Result<bool> {
        let (hive, path) = MemoryRegistry::id(key);
        let empty = (self.keys.get(&(hive, path.clone())))
            .is_some_and(|key| key.default.is_none() && key.values.is_empty());
        Ok(empty && !self.has_subkeys(hive, &path))
    }

    fn subkeys(&self, key: &RegistryKey) -> io::Result<Vec<String>> {
        let (hive, path) = MemoryRegistry::id(key);
        let prefix = format!("{path}\\");
        Ok((self.keys.iter())
            .filter(|((h, p), _)| {
                *h == hive
                    && p.strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('\\'))
            })
            .filter_map(|(_, child)| child.written.rsplit('\\').next().map(str::to_owned))
            .collect())
    }

    fn values(&self, key: &RegistryKey) -> io::Result<Vec<(String, RegistryValue)>> {
        Ok((self.keys.get(&MemoryRegistry::id(key)))
            .map(|key| key.values.clone())
            .unwrap_or_default())
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
