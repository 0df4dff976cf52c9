//! What the browsers' enterprise policies say about CPx Connect: force-installed or not (and
//! whether another file's list overrides the one that installs it), the policy of its managed
//! storage as written, and whether they block its native host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::registry_policies;
use crate::install::registry::Registry;
use crate::install::{Browser, ExtensionIds, Platform, Roots};

/// The policies found for one browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Policy files (on Windows, registry keys) read, in the order the browser applies them.
    pub files: Vec<PathBuf>,
    /// Files that exist but could not be read or parsed, with why.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Files seen but not interpreted (macOS managed preferences, often binary plists).
    pub not_inspected: Vec<PathBuf>,
    pub force_installed: bool,
    /// Another file sets the policy that installs extensions, and wins over the file that
    /// force-installed CPx Connect: (the file whose list is lost, the file that wins).
    pub forcelist_overridden: Option<(PathBuf, PathBuf)>,
    /// The policy object under the extension's id (`3rdparty`), as written.
    pub managed: Option<Value>,
    /// The file whose `NativeMessagingBlocklist` blocks our host (no allowlist entry saves it).
    pub host_blocked_by: Option<PathBuf>,
    /// `NativeMessagingUserLevelHosts: false`: per-user manifests are ignored.
    pub user_level_hosts_disabled: bool,
}

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.unreadable.is_empty() && self.not_inspected.is_empty()
    }
}

/// The policy folders and files a browser reads on `platform`, system paths under `roots.root`.
pub fn policy_sources(platform: Platform, browser: Browser, roots: &Roots) -> Vec<PathBuf> {
    let system = |path: &str| roots.root.join(path.trim_start_matches('/'));
    match (platform, browser) {
        (Platform::Linux, Browser::Chrome) => vec![system("/etc/opt/chrome/policies/managed")],
        (Platform::Linux, Browser::Chromium) => vec![system("/etc/chromium/policies/managed")],
        (Platform::Linux, Browser::Edge) => vec![system("/etc/opt/edge/policies/managed")],
        (Platform::Linux, Browser::Brave) => vec![system("/etc/brave/policies/managed")],
        // /etc/firefox/policies wins over the policies.json of the installation's distribution folder.
        (Platform::Linux, Browser::Firefox) => vec![
            system("/etc/firefox/policies/policies.json"),
            system("/usr/lib/firefox-esr/distribution/policies.json"),
            system("/usr/lib/firefox/distribution/policies.json"),
            system("/usr/lib64/firefox/distribution/policies.json"),
            system("/opt/firefox/distribution/policies.json"),
        ],
        // Windows keeps policies in the registry: `registry_policies`.
        (Platform::Windows, _) => Vec::new(),
        (Platform::MacOs, browser) => {
            let bundle = match browser {
                Browser::Chrome => "com.google.Chrome",
                Browser::Chromium => "org.chromium.Chromium",
                Browser::Edge => "com.microsoft.Edge",
                Browser::Brave => "com.brave.Browser",
                Browser::Firefox => "org.mozilla.firefox",
            };
            let mut sources = vec![system(&format!(
                "/Library/Managed Preferences/{bundle}.plist"
            ))];
            if browser.is_firefox() {
                sources.push(system(
                    "/Applications/Firefox.app/Contents/Resources/distribution/policies.json",
                ));
            }
            sources
        }
    }
}

/// Reads every policy source of `browser`.
pub fn find(
    platform: Platform,
    browser: Browser,
    roots: &Roots,
    ids: &ExtensionIds,
    registry: &dyn Registry,
) -> Findings {
    let mut findings = Findings::default();
    // Each source of policies, in the order the browser applies them.
    let mut sources = Vec::new();
    if platform == Platform::Windows {
        sources = registry_policies::read(registry, browser);
    }
    for source in policy_sources(platform, browser, roots) {
        for file in files_of(&source) {
            if file.extension().is_some_and(|e| e == "plist") {
                findings.not_inspected.push(file);
                continue;
            }
            let policies = read_json_object(&file);
            sources.push((file, policies));
        }
    }
    let mut chromium_policies = Map::new();
    let mut firefox_policies = Map::new();
    // Every source that sets a policy, in the order read: Chromium keeps the last one's value.
    let mut set_by: BTreeMap<String, Vec<(PathBuf, Value)>> = BTreeMap::new();
    for (file, policies) in sources {
        let policies = match policies {
            Ok(policies) => policies,
            Err(why) => {
                findings.unreadable.push((file, why));
                continue;
            }
        };
        if browser.is_firefox() {
            // Firefox uses one policies.json, the first found; on Windows, the registry's
            // policies, the user's first and then the machine's over them, policy by policy.
            if findings.files.is_empty() || platform == Platform::Windows {
                if let Some(Value::Object(read)) = policies.get("policies") {
                    firefox_policies.extend(read.clone());
                }
                findings.files.push(file);
            }
            continue;
        }
        // Chromium merges every file of the folder; a policy set twice: the last one here.
        for (name, value) in policies {
            (set_by.entry(name.clone()).or_default()).push((file.clone(), value.clone()));
            chromium_policies.insert(name, value);
        }
        findings.files.push(file);
    }
    if browser.is_firefox() {
        read_firefox(&firefox_policies, &ids.firefox_addon_id, &mut findings);
    } else {
        read_chromium(&chromium_policies, &set_by, ids, &mut findings);
    }
    findings
}

/// A policy folder's `*.json` files in name order, or the file itself.
fn files_of(source: &Path) -> Vec<PathBuf> {
    if source.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(source)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    } else if source.exists() {
        vec![source.to_path_buf()]
    } else {
        Vec::new()
    }
}

fn read_json_object(file: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(file).map_err(|error| error.to_string())?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn installs(settings: Option<&Value>) -> bool {
    settings
        .and_then(|s| s.get("installation_mode"))
        .and_then(Value::as_str)
        .is_some_and(|mode| mode == "force_installed" || mode == "normal_installed")
}

fn read_chromium(
    policies: &Map<String, Value>,
    set_by: &BTreeMap<String, Vec<(PathBuf, Value)>>,
    ids: &ExtensionIds,
    findings: &mut Findings,
) {
    // Any channel's id (store, self-hosted, development) is the CPx Connect extension.
    let mut admitted = ids.release_chrome_ids();
    admitted.push(ids.development_chrome_id().to_owned());
    let installs_ours = |name: &str, value: Option<&Value>| match name {
        "ExtensionInstallForcelist" => {
            let forcelist = strings(value);
            admitted.iter().any(|id| {
                (forcelist.iter()).any(|entry| entry.split(';').next() == Some(id.as_str()))
            })
        }
        _ => admitted
            .iter()
            .any(|id| installs(value.and_then(|settings| settings.get(id)))),
    };
    findings.force_installed = ["ExtensionInstallForcelist", "ExtensionSettings"]
        .iter()
        .any(|name| installs_ours(name, policies.get(*name)));
    // A file whose list installed CPx Connect, lost to a later file's list that does not.
    for name in ["ExtensionInstallForcelist", "ExtensionSettings"] {
        let files = set_by.get(name).map(Vec::as_slice).unwrap_or_default();
        if let Some((winner, winning)) = files.last() {
            let lost = files[..files.len() - 1]
                .iter()
                .find(|(_, value)| installs_ours(name, Some(value)));
            if let (Some((loser, _)), false) = (lost, installs_ours(name, Some(winning))) {
                findings.forcelist_overridden = Some((loser.clone(), winner.clone()));
            }
        }
    }
    findings.managed = admitted.iter().find_map(|id| {
        policies
            .get("3rdparty")
            .and_then(|p| p.get("extensions"))
            .and_then(|e| e.get(id))
            .cloned()
    });
    // The older names of the same policies are still honoured.
    let list = |name: &str, old: &str| {
        let (value, key) = match policies.get(name) {
            Some(value) => (Some(value), name),
            None => (policies.get(old), old),
        };
        let file = set_by
            .get(key)
            .and_then(|files| files.last())
            .map(|(file, _)| file.clone());
        (strings(value), file)
    };
    let (blocklist, block_file) = list("NativeMessagingBlocklist", "NativeMessagingBlacklist");
    let (allowlist, _) = list("NativeMessagingAllowlist", "NativeMessagingWhitelist");
    let host = ids.native_host_name.as_str();
    let blocked = blocklist.iter().any(|entry| entry == "*" || entry == host);
    if blocked && !allowlist.iter().any(|entry| entry == host) {
        findings.host_blocked_by = block_file;
    }
    findings.user_level_hosts_disabled =
        policies.get("NativeMessagingUserLevelHosts") == Some(&Value::Bool(false));
}

/// `policies`: the object under `policies` in policies.json.
fn read_firefox(policies: &Map<String, Value>, addon_id: &str, findings: &mut Findings) {
    findings.force_installed = installs(
        policies
            .get("ExtensionSettings")
            .and_then(|s| s.get(addon_id)),
    );
    findings.managed = policies
        .get("3rdparty")
        .and_then(|p| p.get("Extensions"))
        .and_then(|e| e.get(addon_id))
        .cloned();
}
