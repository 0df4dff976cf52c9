//! The templates of `manifests/`: each one parses, and its ids and names agree with
//! `extension/ids.json` and with what `cpx-connect install` and `doctor` write and read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cpx_connect::doctor::policies;
use cpx_connect::install::{self, Browser, ExtensionIds, HostManifest, Platform, Roots, Scope};
use quick_xml::events::Event;
use serde_json::Value;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifests_dir() -> PathBuf {
    repository().join("manifests")
}

fn read(relative: &str) -> String {
    let path = manifests_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `extension/ids.json`, read independently of the binary's embedded copy.
fn ids() -> ExtensionIds {
    let text = std::fs::read_to_string(repository().join("extension/ids.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let ids = ExtensionIds {
        chrome_extension_id: value["chromeExtensionId"].as_str().unwrap().to_owned(),
        firefox_addon_id: value["firefoxAddonId"].as_str().unwrap().to_owned(),
        native_host_name: value["nativeHostName"].as_str().unwrap().to_owned(),
        allowed_chrome_extension_ids: value["allowedChromeExtensionIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect(),
    };
    assert_eq!(
        ids,
        ExtensionIds::embedded().unwrap(),
        "the binary embeds ids.json"
    );
    ids
}

/// The committed policy templates are the self-hosted channel's (manifests/generate.mjs):
/// its Chrome extension id and update URL, from ids.json.
fn self_hosted() -> (String, String) {
    let text = std::fs::read_to_string(repository().join("extension/ids.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let channel = &value["channels"]["selfHosted"];
    let id = channel["chromeExtensionId"].as_str().unwrap().to_owned();
    assert!(
        ids().release_chrome_ids().contains(&id),
        "the host admits the self-hosted id"
    );
    (id, channel["updateUrl"].as_str().unwrap().to_owned())
}

/// The example origins every template carries, in the managed schema's format.
const EXAMPLE_ORIGINS: [&str; 2] = [
    "https://viatrajectoire.sante-ra.fr",
    "https://*.intranet-ght.example.fr",
];

/// What `install` writes for a browser of `family` with the host at `binary`.
fn installed_text(firefox: bool, binary: &str) -> String {
    let roots = Roots {
        root: PathBuf::from("/"),
        home: None,
        ..Roots::default()
    };
    let location = install::locations(Platform::Linux, Scope::System, &roots)
        .unwrap()
        .into_iter()
        .find(|l| l.browsers.contains(&Browser::Firefox) == firefox)
        .unwrap();
    let ids = ids();
    HostManifest::for_location(
        &location,
        Path::new(binary),
        &ids,
        &ids.release_chrome_ids(),
        std::slice::from_ref(&ids.firefox_addon_id),
    )
    .to_file_text()
}

#[test]
fn host_manifest_templates_are_what_install_writes() {
    assert_eq!(
        read("native-host/org.cpxconnect.host.chromium.json"),
        installed_text(false, "/usr/bin/cpx-connect")
    );
    assert_eq!(
        read("native-host/org.cpxconnect.host.firefox.json"),
        installed_text(true, "/usr/bin/cpx-connect")
    );
    // Windows: the path is relative to the manifest, which sits beside cpx-connect.exe.
    assert_eq!(
        read("windows/org.cpxconnect.host.json"),
        installed_text(false, "cpx-connect.exe")
    );
    assert_eq!(
        read("windows/org.cpxconnect.host.firefox.json"),
        installed_text(true, "cpx-connect.exe")
    );
}

/// Puts a policy template where `browser` reads policies under a temp root, and returns what
/// the doctor finds there.
fn doctor_findings(browser: Browser, template: &str, destination: &str) -> policies::Findings {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join(destination);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, read(template)).unwrap();
    let roots = Roots {
        root: root.path().to_path_buf(),
        home: None,
        ..Roots::default()
    };
    let findings = policies::find(
        Platform::Linux,
        browser,
        &roots,
        &ids(),
        &install::registry::MemoryRegistry::new(),
    );
    assert_eq!(
        findings.files,
        vec![target],
        "{template} read as {destination}"
    );
    assert!(findings.unreadable.is_empty(), "{:?}", findings.unreadable);
    findings
}

/// The sites the extension will admit under the policy the doctor found, as it reads them.
fn allowed_sites(findings: &policies::Findings, chromium_family: bool) -> Vec<String> {
    match policies::sites::effective(findings.managed.as_ref(), chromium_family) {
        policies::Sites::Only { entries, dropped } => {
            assert!(dropped.is_empty(), "dropped: {dropped:?}");
            entries
                .into_iter()
                .map(|entry| entry.reading.unwrap())
                .collect()
        }
        other => panic!("the policy does not list sites: {other:?}"),
    }
}

#[test]
fn chromium_family_policy_template_forces_the_extension_and_restricts_origins() {
    let ids = ids();
    let policy = json("policies/chromium/cpx-connect.json");
    let (id, update_url) = self_hosted();
    let id = id.as_str();
    assert_eq!(
        policy["ExtensionInstallForcelist"],
        serde_json::json!([format!("{id};{update_url}")])
    );
    assert_eq!(
        policy["NativeMessagingAllowlist"],
        serde_json::json!([ids.native_host_name])
    );
    assert_eq!(
        policy["3rdparty"]["extensions"][id]["allowedOrigins"],
        serde_json::json!(EXAMPLE_ORIGINS)
    );
    // Next to the list, so that a mistyped list (dropped by Chromium) refuses every site.
    assert_eq!(
        policy["3rdparty"]["extensions"][id]["restrictOrigins"],
        true
    );
    // Where each Chromium-family browser reads it on Linux, the doctor sees the same.
    for (browser, folder) in [
        (Browser::Chrome, "etc/opt/chrome/policies/managed"),
        (Browser::Chromium, "etc/chromium/policies/managed"),
        (Browser::Edge, "etc/opt/edge/policies/managed"),
        (Browser::Brave, "etc/brave/policies/managed"),
    ] {
        let findings = doctor_findings(
            browser,
            "policies/chromium/cpx-connect.json",
            &format!("{folder}/cpx-connect.json"),
        );
        assert!(findings.force_installed, "{browser:?}");
        assert_eq!(
            allowed_sites(&findings, true),
            EXAMPLE_ORIGINS.map(String::from)
        );
        assert_eq!(findings.host_blocked_by, None);
    }
}

#[test]
fn firefox_policy_template_forces_the_add_on_and_restricts_origins() {
    let ids = ids();
    let policy = json("policies/firefox/policies.json");
    let addon = &policy["policies"]["ExtensionSettings"][&ids.firefox_addon_id];
    assert_eq!(addon["installation_mode"], "force_installed");
    assert!(addon["install_url"]
        .as_str()
        .unwrap()
        .starts_with("https://REPLACE-WITH-YOUR-SERVER/"));
    assert_eq!(
        policy["policies"]["3rdparty"]["Extensions"][&ids.firefox_addon_id]["allowedOrigins"],
        serde_json::json!(EXAMPLE_ORIGINS)
    );
    assert_eq!(
        policy["policies"]["3rdparty"]["Extensions"][&ids.firefox_addon_id]["restrictOrigins"],
        true
    );
    let findings = doctor_findings(
        Browser::Firefox,
        "policies/firefox/policies.json",
        "etc/firefox/policies/policies.json",
    );
    assert!(findings.force_installed);
    assert_eq!(
        allowed_sites(&findings, false),
        EXAMPLE_ORIGINS.map(String::from)
    );
}

#[test]
fn the_managed_schema_declares_what_the_policies_set() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repository().join("extension/managed_schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["properties"]["allowedOrigins"]["type"], "array");
    assert_eq!(
        schema["properties"]["allowedOrigins"]["items"]["type"],
        "string"
    );
    assert_eq!(schema["properties"]["restrictOrigins"]["type"], "boolean");
}

#[test]
fn macos_profile_configures_every_browser() {
    let ids = ids();
    let (id, update_url) = self_hosted();
    let profile: plist::Dictionary =
        plist::from_file(manifests_dir().join("macos/cpx-connect.mobileconfig")).unwrap();
    assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
    assert_eq!(profile["PayloadScope"].as_string(), Some("System"));
    let payloads = profile["PayloadContent"].as_array().unwrap();
    let mut uuids = BTreeSet::new();
    uuids.insert(profile["PayloadUUID"].as_string().unwrap().to_owned());
    let mut by_type = std::collections::BTreeMap::new();
    for payload in payloads {
        let payload = payload.as_dictionary().unwrap();
        let uuid = payload["PayloadUUID"].as_string().unwrap();
        assert!(
            uuid.len() == 36 && uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{uuid}"
        );
        assert!(uuids.insert(uuid.to_owned()), "duplicate UUID {uuid}");
        assert_eq!(payload["PayloadVersion"].as_signed_integer(), Some(1));
        let kind = payload["PayloadType"].as_string().unwrap().to_owned();
        assert_eq!(
            payload["PayloadIdentifier"].as_string().unwrap(),
            format!("org.cpxconnect.policies.{kind}")
        );
        by_type.insert(kind, payload.clone());
    }
    let origins: Vec<plist::Value> = EXAMPLE_ORIGINS
        .iter()
        .map(|o| plist::Value::from(*o))
        .collect();
    for domain in [
        "com.google.Chrome",
        "org.chromium.Chromium",
        "com.microsoft.Edge",
        "com.brave.Browser",
    ] {
        let browser = &by_type[domain];
        assert_eq!(
            browser["ExtensionInstallForcelist"].as_array().unwrap(),
            &vec![plist::Value::from(format!("{id};{update_url}"))],
            "{domain}"
        );
        assert_eq!(
            browser["NativeMessagingAllowlist"].as_array().unwrap(),
            &vec![plist::Value::from(ids.native_host_name.as_str())]
        );
        // Chromium browsers on macOS read an extension's managed storage from its own domain.
        let storage = &by_type[&format!("{domain}.extensions.{id}")];
        assert_eq!(
            storage["allowedOrigins"].as_array().unwrap(),
            &origins,
            "{domain}"
        );
    }
    let firefox = &by_type["org.mozilla.firefox"];
    assert_eq!(
        firefox["EnterprisePoliciesEnabled"].as_boolean(),
        Some(true)
    );
    let addon = firefox["ExtensionSettings"].as_dictionary().unwrap()[&ids.firefox_addon_id]
        .as_dictionary()
        .unwrap();
    assert_eq!(
        addon["installation_mode"].as_string(),
        Some("force_installed")
    );
    let storage = firefox["3rdparty"].as_dictionary().unwrap()["Extensions"]
        .as_dictionary()
        .unwrap()[&ids.firefox_addon_id]
        .as_dictionary()
        .unwrap();
    assert_eq!(storage["allowedOrigins"].as_array().unwrap(), &origins);
    assert_eq!(by_type.len(), 9);
}

/// A `.reg` file as (key, [(value name, data)]), checking the syntax regedit accepts.
fn parse_reg(relative: &str) -> Vec<(String, Vec<(String, String)>)> {
    let text = read(relative);
    assert!(text.contains("\r\n"), "{relative}: regedit files use CRLF");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Windows Registry Editor Version 5.00"));
    let mut keys: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in lines.map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(key) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            assert!(key.starts_with("HKEY_LOCAL_MACHINE\\SOFTWARE\\"), "{key}");
            keys.push((key.to_owned(), Vec::new()));
            continue;
        }
        let (name, data) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{relative}: {line}"));
        let unquote = |s: &str| -> String {
            let inner = s
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{line}"));
            // Inside quotes, `\` escapes `\` and `"` only.
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(escaped @ ('\\' | '"')) => out.push(escaped),
                        other => panic!("{relative}: bad escape {other:?} in {line}"),
                    },
                    '"' => panic!("{relative}: unescaped quote in {line}"),
                    c => out.push(c),
                }
            }
            out
        };
        let name = if name == "@" {
            String::new()
        } else {
            unquote(name)
        };
        // Strings unquoted; other types (dword:, hex(7): ...) as written.
        let data = if data.starts_with('"') {
            unquote(data)
        } else {
            data.to_owned()
        };
        keys.last_mut()
            .unwrap_or_else(|| panic!("{line}: value before any key"))
            .1
            .push((name, data));
    }
    keys
}

#[test]
fn windows_registration_points_each_browser_at_its_manifest() {
    let ids = ids();
    let keys = parse_reg("windows/cpx-connect-host.reg");
    let registered: Vec<(String, String)> = keys
        .into_iter()
        .map(|(key, values)| {
            assert_eq!(values.len(), 1);
            assert_eq!(values[0].0, "", "the default value");
            (key, values[0].1.clone())
        })
        .collect();
    let host = &ids.native_host_name;
    let chromium = format!("C:\\Program Files\\CPx Connect\\{host}.json");
    let firefox = format!("C:\\Program Files\\CPx Connect\\{host}.firefox.json");
    assert_eq!(
        registered,
        vec![
            (
                format!(
                    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Google\\Chrome\\NativeMessagingHosts\\{host}"
                ),
                chromium.clone()
            ),
            (
                format!("HKEY_LOCAL_MACHINE\\SOFTWARE\\Chromium\\NativeMessagingHosts\\{host}"),
                chromium.clone()
            ),
            (
                format!(
                    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\{host}"
                ),
                chromium
            ),
            (
                format!("HKEY_LOCAL_MACHINE\\SOFTWARE\\Mozilla\\NativeMessagingHosts\\{host}"),
                firefox
            ),
        ]
    );
    // The PowerShell script sets the same keys, with the same ids.
    let script = read("windows/install-host.ps1");
    for key in [
        "SOFTWARE\\Google\\Chrome\\NativeMessagingHosts",
        "SOFTWARE\\Chromium\\NativeMessagingHosts",
        "SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts",
        "SOFTWARE\\Mozilla\\NativeMessagingHosts",
    ] {
        assert!(script.contains(&format!("'{key}'")), "{key}");
    }
    // The release id by default, never the development one (its private key is public).
    let release = ids.release_chrome_ids();
    assert!(
        script.contains(&format!("$ExtensionId = '{}'", release[0])),
        "{release:?}"
    );
    assert!(!script.contains(&ids.chrome_extension_id));
    assert!(script.contains(&format!("$HostName = '{host}'")));
    assert!(script.contains(&format!("$FirefoxAddonId = '{}'", ids.firefox_addon_id)));
}

#[test]
fn windows_policies_match_the_json_policies() {
    let ids = ids();
    let (id, update_url) = self_hosted();
    let keys = parse_reg("windows/cpx-connect-policies.reg");
    let value = |key: &str| -> Vec<(String, String)> {
        keys.iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("missing {key}"))
            .1
            .clone()
    };
    let origins: Vec<(String, String)> = EXAMPLE_ORIGINS
        .iter()
        .enumerate()
        .map(|(i, o)| ((i + 1).to_string(), o.to_string()))
        .collect();
    let text = std::fs::read_to_string(repository().join("extension/ids.json")).unwrap();
    let ids_json: Value = serde_json::from_str(&text).unwrap();
    let firefox_install_url = ids_json["channels"]["selfHosted"]["firefoxInstallUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    for vendor in ["Google\\Chrome", "Microsoft\\Edge"] {
        let base = format!("HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\{vendor}");
        assert_eq!(
            value(&format!("{base}\\ExtensionSettings\\{id}")),
            pairs(&[
                ("installation_mode", "force_installed"),
                ("update_url", &update_url)
            ])
        );
        assert_eq!(
            value(&format!("{base}\\3rdparty\\extensions\\{id}\\policy")),
            pairs(&[("restrictOrigins", "dword:00000001")])
        );
        assert_eq!(
            value(&format!(
                "{base}\\3rdparty\\extensions\\{id}\\policy\\allowedOrigins"
            )),
            origins
        );
    }
    let firefox = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox";
    assert_eq!(
        value(&format!(
            "{firefox}\\ExtensionSettings\\{}",
            ids.firefox_addon_id
        )),
        pairs(&[
            ("installation_mode", "force_installed"),
            ("install_url", &firefox_install_url)
        ])
    );
    // REG_MULTI_SZ "true", UTF-16LE with its two terminators: Firefox parses it as JSON.
    assert_eq!(
        value(&format!(
            "{firefox}\\3rdparty\\Extensions\\{}",
            ids.firefox_addon_id
        )),
        pairs(&[(
            "restrictOrigins",
            "hex(7):74,00,72,00,75,00,65,00,00,00,00,00"
        )])
    );
    assert_eq!(
        value(&format!(
            "{firefox}\\3rdparty\\Extensions\\{}\\allowedOrigins",
            ids.firefox_addon_id
        )),
        origins
    );
}

/// The .reg imported into a registry, then read by the doctor as each browser reads it: the
/// extension force-installed and exactly the example sites allowed, in Chrome, Edge and Firefox
/// (whose `restrictOrigins` must arrive as a boolean, not as the number a DWORD would give).
#[test]
fn the_doctor_reads_the_windows_policies_as_the_browsers_will() {
    let mut registry = install::registry::MemoryRegistry::new();
    for (key, values) in parse_reg("windows/cpx-connect-policies.reg") {
        let path = key.strip_prefix("HKEY_LOCAL_MACHINE\\").unwrap();
        let key = install::registry::RegistryKey::new(install::registry::Hive::LocalMachine, path);
        registry.create_key(&key);
        for (name, data) in values {
            registry.set_value(&key, &name, registry_value(&data));
        }
    }
    let empty = tempfile::tempdir().unwrap();
    let roots = Roots {
        root: empty.path().to_path_buf(),
        home: None,
        ..Roots::default()
    };
    for browser in [Browser::Chrome, Browser::Edge, Browser::Firefox] {
        let findings = policies::find(Platform::Windows, browser, &roots, &ids(), &registry);
        assert!(findings.force_installed, "{browser:?}: {findings:?}");
        assert!(findings.unreadable.is_empty(), "{findings:?}");
        assert_eq!(
            allowed_sites(&findings, !browser.is_firefox()),
            EXAMPLE_ORIGINS.map(String::from),
            "{browser:?}"
        );
    }
}

/// A .reg value's data as regedit stores it: `"text"` (already unquoted), `dword:`, `hex(7):`.
fn registry_value(data: &str) -> install::registry::RegistryValue {
    use install::registry::RegistryValue;
    if let Some(hex) = data.strip_prefix("dword:") {
        return RegistryValue::Dword(u32::from_str_radix(hex, 16).unwrap());
    }
    if let Some(bytes) = data.strip_prefix("hex(7):") {
        let bytes: Vec<u8> = (bytes.split(','))
            .map(|byte| u8::from_str_radix(byte, 16).unwrap())
            .collect();
        let units: Vec<u16> = (bytes.chunks(2))
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        let text = String::from_utf16(&units).unwrap();
        return RegistryValue::MultiString(
            (text.split('\0'))
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    RegistryValue::String(data.to_owned())
}

/// A .reg merges with the machine's policies only if it writes no numbered entry of a list the
/// machine may already have (ExtensionInstallForcelist "1" would replace the hospital's first
/// extension): numbered values are allowed only under this extension's own keys.
#[test]
fn windows_policies_overwrite_no_shared_list_entry() {
    let ids = ids();
    let (id, _) = self_hosted();
    for (key, values) in parse_reg("windows/cpx-connect-policies.reg") {
        let ours = key.contains(&format!("\\3rdparty\\extensions\\{id}\\"))
            || key.contains(&format!(
                "\\3rdparty\\Extensions\\{}\\",
                ids.firefox_addon_id
            ));
        for (name, _) in values {
            assert!(
                ours || !name.chars().all(|c| c.is_ascii_digit()),
                "{key}: numbered entry {name} of a list shared with other extensions"
            );
        }
        assert!(
            !key.ends_with("\\ExtensionInstallForcelist")
                && !key.ends_with("\\NativeMessagingAllowlist"),
            "{key}"
        );
    }
}

/// Well-formed XML: every start tag closed, nothing after the root. Returns the attribute values
/// and text of the document, for the cross-checks below.
fn xml_words(relative: &str) -> Vec<String> {
    let text = read(relative);
    let mut reader = quick_xml::Reader::from_str(&text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut words = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("{relative}: {e}"))
        {
            Event::Start(start) => {
                depth += 1;
                for attribute in start.attributes() {
                    let attribute = attribute.unwrap();
                    words.push(attribute.value.to_string());
                }
            }
            Event::Empty(start) => {
                for attribute in start.attributes() {
                    let attribute = attribute.unwrap();
                    words.push(attribute.value.to_string());
                }
            }
            Event::End(_) => depth -= 1,
            Event::Text(text) => words.push(text.into_inner().into_owned()),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "{relative}: unclosed elements");
    words
}

#[test]
fn admx_and_adml_are_well_formed_and_agree() {
    let (id, _) = self_hosted();
    let admx = xml_words("windows/admx/CPxConnect.admx");
    let keys: Vec<&String> = admx
        .iter()
        .filter(|w| w.starts_with("Software\\Policies\\"))
        .collect();
    let ids = ids();
    let firefox = &ids.firefox_addon_id;
    // Force-install and allowedOrigins for Chrome, Edge and Firefox, under this extension's keys.
    for wanted in [
        format!("Software\\Policies\\Google\\Chrome\\ExtensionSettings\\{id}"),
        format!("Software\\Policies\\Microsoft\\Edge\\ExtensionSettings\\{id}"),
        format!("Software\\Policies\\Mozilla\\Firefox\\ExtensionSettings\\{firefox}"),
        format!("Software\\Policies\\Google\\Chrome\\3rdparty\\extensions\\{id}\\policy\\allowedOrigins"),
        format!("Software\\Policies\\Microsoft\\Edge\\3rdparty\\extensions\\{id}\\policy\\allowedOrigins"),
        format!("Software\\Policies\\Mozilla\\Firefox\\3rdparty\\Extensions\\{firefox}\\allowedOrigins"),
    ] {
        assert!(keys.iter().any(|key| **key == wanted), "ADMX lacks {wanted}");
    }
    for key in keys {
        assert!(
            key.contains(&format!("\\3rdparty\\extensions\\{id}\\policy"))
                || key.contains(&format!("\\3rdparty\\Extensions\\{firefox}"))
                || key.ends_with(&format!("\\ExtensionSettings\\{id}"))
                || key.ends_with(&format!("\\ExtensionSettings\\{firefox}")),
            "{key}"
        );
    }
    let referenced: BTreeSet<String> = admx
        .iter()
        .filter_map(|w| {
            w.strip_prefix("$(string.")
                .and_then(|w| w.strip_suffix(')'))
        })
        .map(str::to_owned)
        .collect();
    assert!(referenced.len() >= 4);
    for language in ["en-US", "fr-FR"] {
        let relative = format!("windows/admx/{language}/CPxConnect.adml");
        xml_words(&relative);
        let adml = read(&relative);
        for id in &referenced {
            assert!(
                adml.contains(&format!("<string id=\"{id}\">")),
                "{relative} lacks {id}"
            );
        }
        assert!(adml.contains("<presentation id=\"AllowedOrigins\">"));
        assert!(adml.contains("<listBox refId=\"AllowedOriginsList\">"));
    }
}

#[test]
fn the_readme_describes_every_template() {
    let readme = read("README.md");
    let mut files = Vec::new();
    fn walk(dir: &Path, base: &Path, files: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, files);
            } else {
                files.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    walk(&manifests_dir(), &manifests_dir(), &mut files);
    for file in files {
        if file == "README.md" {
            continue;
        }
        assert!(
            readme.contains(&format!("`{file}`")),
            "manifests/README.md does not describe {file}"
        );
    }
}
