//! The Windows registry itself, through Microsoft's `windows-registry` crate. Everything else
//! about registering on Windows is in `registry.rs`, `manifests.rs` and `removal.rs`, tested on
//! every platform.

use std::io;

use windows_registry::{Key, Type, Value, CURRENT_USER, LOCAL_MACHINE};

use super::registry::{Hive, Registry, RegistryKey, RegistryValue};

/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`: the key or value does not exist.
const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

pub struct SystemRegistry;

fn hive(key: &RegistryKey) -> &'static Key {
    match key.hive {
        Hive::CurrentUser => CURRENT_USER,
        Hive::LocalMachine => LOCAL_MACHINE,
    }
}

/// An `HRESULT` from a Win32 error back to that error, so that `io::ErrorKind` (NotFound,
/// PermissionDenied) means what it says.
fn io_error(error: windows_registry::Result<()>, key: &RegistryKey) -> io::Error {
    let Err(error) = error else {
        return io::Error::other(format!("{key}: unknown error"));
    };
    let code = error.code().0 as u32;
    if code & 0xFFFF_0000 == 0x8007_0000 {
        io::Error::from_raw_os_error((code & 0xFFFF) as i32)
    } else {
        io::Error::other(format!("{key}: {error}"))
    }
}

fn check<T>(result: windows_registry::Result<T>, key: &RegistryKey) -> io::Result<T> {
    result.map_err(|error| io_error(Err(error), key))
}

/// Opens `key` for reading; `None` when it does not exist.
fn open(key: &RegistryKey) -> io::Result<Option<Key>> {
    match hive(key).open(&key.path) {
        Ok(opened) => Ok(Some(opened)),
        Err(error) if error.code().0 == NOT_FOUND => Ok(None),
        Err(error) => Err(io_error(Err(error), key)),
    }
}

impl Registry for SystemRegistry {
    fn default_value(&self, key: &RegistryKey) -> io::Result<Option<String>> {
        let Some(opened) = open(key)? else {
            return Ok(None);
        };
        match opened.get_string("") {
            Ok(value) => Ok(Some(value)),
            // The key exists without a default value (or with one that is not a string).
            Err(error) if error.code().0 == NOT_FOUND => Ok(None),
            Err(error) => Err(io_error(Err(error), key)),
        }
    }

    fn set_default_value(&mut self, key: &RegistryKey, value: &str) -> io::Result<()> {
        let created = check(hive(key).create(&key.path), key)?;
        check(created.set_string("", value), key)
    }

    fn delete_key(&mut self, key: &RegistryKey) -> io::Result<()> {
        let (parent, name) = match key.path.rsplit_once('\\') {
            Some((parent, name)) => (Some(parent), name),
            None => (None, key.path.as_str()),
        };
        let parent_key = match parent {
            Some(path) => match hive(key).options().read().write().open(path) {
                Ok(opened) => opened,
                Err(error) if error.code().0 == NOT_FOUND => return Ok(()),
                Err(error) => return Err(io_error(Err(error), key)),
            },
            None => {
                return Err(io::Error::other(format!(
                    "{key}: refusing to delete a hive's first level"
                )))
            }
        };
        match parent_key.remove_tree(name) {
            Ok(()) => Ok(()),
            Err(error) if error.code().0 == NOT_FOUND => Ok(()),
            Err(error) => Err(io_error(Err(error), key)),
        }
    }

    fn is_empty_key(&self, key: &RegistryKey) -> io::Result<bool> {
        let Some(opened) = open(key)? else {
            return Ok(false);
        };
        let no_subkeys = check(opened.keys(), key)?.next().is_none();
        let no_values = check(opened.values(), key)?.next().is_none();
        Ok(no_subkeys && no_values)
    }

    fn subkeys(&self, key: &RegistryKey) -> io::Result<Vec<String>> {
        let Some(opened) = open(key)? else {
            return Ok(Vec::new());
        };
        Ok(check(opened.keys(), key)?.collect())
    }

    fn values(&self, key: &RegistryKey) -> io::Result<Vec<(String, RegistryValue)>> {
        let Some(opened) = open(key)? else {
            return Ok(Vec::new());
        };
        Ok((check(opened.values(), key)?)
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, value)| (name, registry_value(value)))
            .collect())
    }
}

fn registry_value(value: Value) -> RegistryValue {
    match value.ty() {
        Type::String | Type::ExpandString => String::try_from(value)
            .map(RegistryValue::String)
            .unwrap_or(RegistryValue::Other),
        Type::U32 => u32::try_from(value)
            .map(RegistryValue::Dword)
            .unwrap_or(RegistryValue::Other),
        Type::MultiString => Vec::<String>::try_from(value)
            .map(RegistryValue::MultiString)
            .unwrap_or(RegistryValue::Other),
        _ => RegistryValue::Other,
    }
}
