//! Extension ids an administrator admits besides the release ones (a hospital's own build, a
//! second Firefox add-on), read from `/etc/cpx-connect/extension-ids.conf` whenever the manifests
//! are written on Linux. The Debian package ships that file as a conffile, so a reinstall or an
//! upgrade keeps the administrator's ids and never brings back an id that was taken out. The MSI
//! admits the release ids only: an `EXTENSION_IDS=` property is not there yet.
//!
//! Format: one id per line; `#` starts a comment; blank lines are ignored. A Chrome id is 32
//! letters a to p, a Firefox add-on id is email-like (`name@domain`) or a `{uuid}`. A line that
//! is neither is skipped and reported, so that a typo never stops a package upgrade.

use std::io;
use std::path::{Path, PathBuf};

use super::{InstallError, Roots};

/// Where the file is, below the system root.
pub const EXTRA_IDS_FILE: &str = "/etc/cpx-connect/extension-ids.conf";

/// What the file admits, and the lines it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraIds {
    pub file: PathBuf,
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

/// The ids of the file's text.
pub fn parse(file: &Path, text: &str) -> ExtraIds {
    let mut extra = ExtraIds {
        file: file.to_path_buf(),
        ..ExtraIds::default()
    };
    for (index, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or_default().trim();
        if id.is_empty() {
            continue;
        }
        let list = if is_chrome_extension_id(id) {
            &mut extra.chrome
        } else if is_firefox_addon_id(id) {
            &mut extra.firefox
        } else {
            extra.skipped.push(format!(
                "line {}: {id:?} is neither a Chrome extension id (32 letters a to p) nor a Firefox add-on id (name@domain or {{uuid}})",
                index + 1
            ));
            continue;
        };
        if !list.iter().any(|known| known == id) {
            list.push(id.to_owned());
        }
    }
    extra
}

/// The file under `roots`; no file is no extra id.
pub fn read(roots: &Roots) -> Result<ExtraIds, InstallError> {
    let file = roots.root.join(EXTRA_IDS_FILE.trim_start_matches('/'));
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(parse(&file, &text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(ExtraIds {
            file,
            ..ExtraIds::default()
        }),
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
