//! Which files belong to a package. `install --system` and `uninstall --system` leave those alone:
//! a file dpkg (or rpm) installed is the package's to change or remove, and a later upgrade or
//! `dpkg -r` would otherwise undo what we did or find its file gone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where to ask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PackageDatabase {
    /// Nobody owns anything (Windows and macOS, per-user installs).
    #[default]
    None,
    /// This machine's package manager: `dpkg-query -S`, else `rpm -qf`; a manager that is not
    /// installed owns nothing.
    System,
    /// A fixed list of (file, package), for tests.
    Listed(Vec<(PathBuf, String)>),
}

impl PackageDatabase {
    /// The package that installed `file`, if any.
    pub fn owner(&self, file: &Path) -> Option<String> {
        match self {
            PackageDatabase::None => None,
            PackageDatabase::Listed(files) => files
                .iter()
                .find(|(owned, _)| owned == file)
                .map(|(_, package)| package.clone()),
            PackageDatabase::System => dpkg_owner(file).or_else(|| rpm_owner(file)),
        }
    }

    /// Reads `package: /path` lines (dpkg-query -S's own format), for tests.
    pub fn from_listing(text: &str) -> PackageDatabase {
        PackageDatabase::Listed(
            text.lines()
                .filter_map(|line| line.split_once(": "))
                .map(|(package, path)| (PathBuf::from(path.trim()), package.trim().to_owned()))
                .collect(),
        )
    }
}

/// `dpkg-query -S /path` prints `package[, package]: /path` and exits 0 when a package lists the
/// file; `diversion by ...` lines are not ownership.
fn dpkg_owner(file: &Path) -> Option<String> {
    let output = Command::new("dpkg-query")
        .arg("-S")
        .arg(file)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let wanted = file.to_string_lossy();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with("diversion by"))
        .find_map(|line| {
            let (packages, path) = line.split_once(": ")?;
            (path == wanted).then(|| packages.to_owned())
        })
}

fn rpm_owner(file: &Path) -> Option<String> {
    let output = Command::new("rpm")
        .args(["-qf", "--queryformat", "%{NAME}\\n"])
        .arg(file)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_names_each_file_s_package() {
        let database = PackageDatabase::from_listing(
            "cpx-connect: /etc/chromium/native-messaging-hosts/org.cpxconnect.host.json\n\
             chromium-common: /etc/chromium\n",
        );
        assert_eq!(
            database.owner(Path::new(
                "/etc/chromium/native-messaging-hosts/org.cpxconnect.host.json"
            )),
            Some("cpx-connect".to_owned())
        );
        assert_eq!(database.owner(Path::new("/etc/other.json")), None);
        assert_eq!(
            PackageDatabase::None.owner(Path::new("/etc/chromium")),
            None
        );
    }
}
