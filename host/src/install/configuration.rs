//! Extension ids an administrator admits besides the release ones (a hospital's own build, a
//! second Firefox add-on), read whenever the manifests are written:
//! - Linux: `/etc/cpx-connect/extension-ids.conf`. The Debian package ships that file as a
//!   conffile, so a reinstall or an upgrade keeps the administrator's ids and never brings back an
//!   id that was taken out. Format: one id per line; `#` starts a comment; blank lines are
//!   ignored. A line that is no id is skipped and reported, so that a typo never stops a package
//!   upgrade.
//! - Windows: the registry value `HKLM\SOFTWARE\CPx Connect\ExtensionIds`, which the MSI writes
//!   from its `EXTENSION_IDS=` property: ids separated by commas, semicolons or spaces. A value
//!   with anything that is no id is refused as a whole: the MSI checks it before it installs
//!   anything (`install --check-extension-ids`), so a bad property fails the installation.
//!
//! A Chrome id is 32 letters a to p, a Firefox add-on id is email-like (`name@domain`) or a
//! `{uuid}`: [`classify`] is the one place that tells them apart.

use std::io;
use std::path::Path;

use super::registry::{Hive, Registry, RegistryKey, RegistryValue};
use super::{InstallError, Roots};

/// Where the file is, below the system root.
pub const EXTRA_IDS_FILE: &str = "/etc/cpx-connect/extension-ids.conf";

/// The key, below `HKEY_LOCAL_MACHINE`, of the MSI's settings (64-bit view).
pub const WINDOWS_SETTINGS_KEY: &str = r"SOFTWARE\CPx Connect";
/// The value under [`WINDOWS_SETTINGS_KEY`] holding the MSI's `EXTENSION_IDS`.
pub const WINDOWS_EXTENSION_IDS_VALUE: &str = "ExtensionIds";

/// What the configuration admits, and the lines it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraIds {
    /// Where the ids come from: the file's path, or the registry value's name.
    pub source: String,
    pub chrome: Vec<String>,
    pub firefox: Vec<String>,
    /// `line N: why`, one per skipped line.
    pub skipped: Vec<String>,
}

/// A Chrome extension id: 32 letters from a to p.
pub fn is_chrome_extension_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

/// A Firefox add-on id as AMO accepts them: `{8-4-4-4-12 hex}`, or `local@domain` made of
/// letters, digits, `.`, `_`, `-` (and `+` before the `@`).
pub fn is_firefox_addon_id(id: &str) -> bool {
    if let Some(uuid) = id.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
        let groups: Vec<&str> = uuid.split('-').collect();
        return groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|group| group.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    let Some((local, domain)) = id.split_once('@') else {
        return false;
    };
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    !local.is_empty()
        && !domain.is_empty()
        && id.len() <= 255
        && local.bytes().all(|b| allowed(b) || b == b'+')
        && domain.bytes().all(allowed)
}

/// The browser family an id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Chrome,
    Firefox,
}

/// Which family `id` is an id of; `None` when it is neither.
pub fn classify(id: &str) -> Option<Family> {
    if is_chrome_extension_id(id) {
        Some(Family::Chrome)
    } else if is_firefox_addon_id(id) {
        Some(Family::Firefox)
    } else {
        None
    }
}

impl ExtraIds {
    fn empty(source: impl Into<String>) -> ExtraIds {
        ExtraIds {
            source: source.into(),
            ..ExtraIds::default()
        }
    }

    /// Adds `id` to its family's list (once); `Err` with the reason when it is no id.
    fn admit(&mut self, id: &str) -> Result<(), String> {
        let list = match classify(id) {
            Some(Family::Chrome) => &mut self.chrome,
            Some(Family::Firefox) => &mut self.firefox,
            None => {
                return Err(format!(
                    "{id:?} is neither a Chrome extension id (32 letters a to p) nor a Firefox add-on id (name@domain or {{uuid}})"
                ))
            }
        };
        if !list.iter().any(|known| known == id) {
            list.push(id.to_owned());
        }
        Ok(())
    }
}

/// The ids of the file's text; a line that is no id is skipped and reported.
pub fn parse(file: &Path, text: &str) -> ExtraIds {
    let mut extra = ExtraIds::empty(file.display().to_string());
    for (index, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or_default().trim();
        if id.is_empty() {
            continue;
        }
        if let Err(reason) = extra.admit(id) {
            extra.skipped.push(format!("line {}: {reason}", index + 1));
        }
    }
    extra
}

/// The ids of a list such as the MSI's `EXTENSION_IDS` (commas, semicolons or white space
/// between them); `Err` names the first item that is no id: the list is taken whole or not at all.
pub fn parse_list(source: &str, text: &str) -> Result<ExtraIds, InstallError> {
    let mut extra = ExtraIds::empty(source);
    let items = text.split(|c: char| c == ',' || c == ';' || c.is_whitespace());
    for id in items.filter(|item| !item.is_empty()) {
        extra
            .admit(id)
            .map_err(|reason| InstallError::InvalidExtraIds {
                origin: source.to_owned(),
                reason,
            })?;
    }
    Ok(extra)
}

/// The Windows key holding the MSI's settings.
pub fn windows_settings_key() -> RegistryKey {
    RegistryKey::new(Hive::LocalMachine, WINDOWS_SETTINGS_KEY)
}

/// The ids of the registry value the MSI writes from `EXTENSION_IDS`; no value is no extra id.
pub fn read_registry(registry: &dyn Registry) -> Result<ExtraIds, InstallError> {
    let key = windows_settings_key();
    let source = format!("{key}\\{WINDOWS_EXTENSION_IDS_VALUE}");
    let values =
        registry
            .values(&key)
            .map_err(super::registry_error("read", &key, super::Scope::System))?;
    let value = values
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(WINDOWS_EXTENSION_IDS_VALUE));
    match value {
        None => Ok(ExtraIds::empty(source)),
        Some((_, RegistryValue::String(text))) => parse_list(&source, &text),
        Some((_, RegistryValue::MultiString(items))) => parse_list(&source, &items.join(",")),
        Some(_) => Err(InstallError::InvalidExtraIds {
            origin: source,
            reason: "not a string value (REG_SZ)".to_owned(),
        }),
    }
}

/// The file under `roots`; no file is no extra id.
pub fn read(roots: &Roots) -> Result<ExtraIds, InstallError> {
    let file = roots.root.join(EXTRA_IDS_FILE.trim_start_matches('/'));
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(parse(&file, &text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Ok(ExtraIds::empty(file.display().to_string()))
        }
        Err(source) => Err(InstallError::Io {
            action: "read",
            path: file,
            scope: super::Scope::System,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::MemoryRegistry;
    use super::*;

    #[test]
    fn one_id_per_line_with_comments_and_both_families() {
        let text = "# our own build\n\
                    abcdefghijklmnopabcdefghijklmnop\n\
                    \n\
                    hospital@chu.example.fr   # second add-on\n\
                    {0b5a4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b}\n\
                    abcdefghijklmnopabcdefghijklmnop\n\
                    ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP\n\
                    chrome-extension://abcdefghijklmnopabcdefghijklmnop/\n";
        let extra = parse(Path::new("x.conf"), text);
        assert_eq!(extra.chrome, ["abcdefghijklmnopabcdefghijklmnop"]);
        assert_eq!(
            extra.firefox,
            [
                "hospital@chu.example.fr",
                "{0b5a4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b}"
            ]
        );
        assert_eq!(extra.skipped.len(), 2);
        assert!(
            extra.skipped[0].starts_with("line 7: "),
            "{:?}",
            extra.skipped
        );
        assert!(
            extra.skipped[1].starts_with("line 8: "),
            "{:?}",
            extra.skipped
        );
    }

    #[test]
    fn the_msi_list_takes_both_families_with_any_separator() {
        let extra = parse_list(
            "EXTENSION_IDS",
            " abcdefghijklmnopabcdefghijklmnop,hospital@chu.example.fr; {0b5a4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b}  abcdefghijklmnopabcdefghijklmnop,,",
        )
        .unwrap();
        assert_eq!(extra.chrome, ["abcdefghijklmnopabcdefghijklmnop"]);
        assert_eq!(
            extra.firefox,
            [
                "hospital@chu.example.fr",
                "{0b5a4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b}"
            ]
        );
        assert!(extra.skipped.is_empty());
        assert_eq!(parse_list("EXTENSION_IDS", "").unwrap().chrome.len(), 0);
    }

    #[test]
    fn the_msi_list_is_refused_whole_naming_the_bad_item() {
        for (list, bad) in [
            (
                "abcdefghijklmnopabcdefghijklmnop,ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP",
                "\"ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP\"",
            ),
            (
                "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
                "\"chrome-extension://",
            ),
            ("hospital@chu.example.fr,not-an-id", "\"not-an-id\""),
            (
                "[\"abcdefghijklmnopabcdefghijklmnop\"]",
                "\"[\\\"abcdefghijklmnopabcdefghijklmnop\\\"]\"",
            ),
        ] {
            let error = parse_list("EXTENSION_IDS", list).unwrap_err().to_string();
            assert!(error.starts_with("EXTENSION_IDS: "), "{error}");
            assert!(error.contains(bad), "{list}: {error}");
            assert!(error.contains("neither a Chrome extension id"), "{error}");
        }
    }

    #[test]
    fn the_registry_value_the_msi_writes_is_read_and_checked() {
        let key = windows_settings_key();
        let mut registry = MemoryRegistry::new();
        let none = read_registry(&registry).unwrap();
        assert!(none.chrome.is_empty() && none.firefox.is_empty());
        assert_eq!(none.source, r"HKLM\SOFTWARE\CPx Connect\ExtensionIds");

        registry.set_value(
            &key,
            "ExtensionIds",
            RegistryValue::String(
                "abcdefghijklmnopabcdefghijklmnop,hospital@chu.example.fr".to_owned(),
            ),
        );
        let extra = read_registry(&registry).unwrap();
        assert_eq!(extra.chrome, ["abcdefghijklmnopabcdefghijklmnop"]);
        assert_eq!(extra.firefox, ["hospital@chu.example.fr"]);

        registry.set_value(
            &key,
            "ExtensionIds",
            RegistryValue::String("abcdefghijklmnopabcdefghijklmnop,typo".to_owned()),
        );
        let error = read_registry(&registry).unwrap_err().to_string();
        assert!(
            error.starts_with(r#"HKLM\SOFTWARE\CPx Connect\ExtensionIds: "typo""#),
            "{error}"
        );

        registry.set_value(&key, "ExtensionIds", RegistryValue::Dword(1));
        assert!(read_registry(&registry).is_err());
    }

    #[test]
    fn firefox_ids_email_like_or_braced_uuid() {
        for id in [
            "cpx-connect@cpxconnect.org",
            "a.b_c+d@x",
            "{00000000-0000-0000-0000-000000000000}",
        ] {
            assert!(is_firefox_addon_id(id), "{id}");
        }
        for id in [
            "",
            "cpx-connect",
            "@",
            "a@",
            "a b@x",
            "a@x/y",
            "{0000-0000}",
            "{00000000-0000-0000-0000-00000000000g}",
        ] {
            assert!(!is_firefox_addon_id(id), "{id}");
        }
    }
}
