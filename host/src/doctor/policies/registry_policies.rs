//! Windows keeps browser policies in the registry, under `SOFTWARE\Policies\<vendor>` of the
//! user's hive and of the machine's (the machine's value wins). This module turns that layout into
//! the JSON object a policy file holds, the way each browser reads it, so that the same checks
//! cover Windows, Linux and macOS:
//!
//! - Chromium, Chrome, Edge and Brave (`components/policy/core/common/registry_dict.cc`): a list
//!   is a subkey whose values are named `1`, `2`, ... up to the first gap; a dictionary is a
//!   subkey; a list or dictionary may also be a string holding JSON; a boolean is a DWORD. An
//!   extension's policy sits under `3rdparty\extensions\<id>\policy`, converted with the
//!   extension's schema.
//! - Firefox (`WindowsGPOParser.sys.mjs`, `registryToObject`): a key whose first value is named
//!   `1` is a list of its values; a key whose first subkey is named `1`, a list of objects; a
//!   `REG_MULTI_SZ` is JSON; DWORDs stay numbers (the extension sees `1`, not `true`).

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::install::registry::{Hive, Registry, RegistryKey, RegistryValue};
use crate::install::Browser;

/// Policies the checks read whose Chromium schema type is a list.
const CHROMIUM_LISTS: [&str; 5] = [
    "ExtensionInstallForcelist",
    "NativeMessagingBlocklist",
    "NativeMessagingBlacklist",
    "NativeMessagingAllowlist",
    "NativeMessagingWhitelist",
];

/// Where policies were read from, and what they say (or why they could not be read), shaped as
/// a policy file.
pub type Source = (PathBuf, Result<Map<String, Value>, String>);

/// The policy key of `browser` below a hive.
pub fn policy_path(browser: Browser) -> &'static str {
    match browser {
        Browser::Chrome => "SOFTWARE\\Policies\\Google\\Chrome",
        Browser::Chromium => "SOFTWARE\\Policies\\Chromium",
        Browser::Edge => "SOFTWARE\\Policies\\Microsoft\\Edge",
        Browser::Brave => "SOFTWARE\\Policies\\BraveSoftware\\Brave",
        Browser::Firefox => "SOFTWARE\\Policies\\Mozilla\\Firefox",
    }
}

/// The policies `browser` reads from each hive that has some, the user's first (the machine's,
/// read last, win), each named by its key and shaped as a policy file: Firefox's under
/// `policies`, as in `policies.json`.
pub fn read(registry: &dyn Registry, browser: Browser) -> Vec<Source> {
    let mut sources = Vec::new();
    for hive in [Hive::CurrentUser, Hive::LocalMachine] {
        let key = RegistryKey::new(hive, policy_path(browser));
        let converted = if browser.is_firefox() {
            firefox_object(registry, &key).map(|policies| {
                let mut file = Map::new();
                file.insert("policies".to_owned(), Value::Object(policies));
                file
            })
        } else {
            chromium_policies(registry, &key)
        };
        match converted {
            Ok(policies) if policies.is_empty() || policies.get("policies") == Some(&empty()) => {}
            Ok(policies) => sources.push((PathBuf::from(key.to_string()), Ok(policies))),
            Err(error) => sources.push((PathBuf::from(key.to_string()), Err(error.to_string()))),
        }
    }
    sources
}

fn empty() -> Value {
    Value::Object(Map::new())
}

fn chromium_policies(
    registry: &dyn Registry,
    key: &RegistryKey,
) -> std::io::Result<Map<String, Value>> {
    chromium_key(
        registry,
        key,
        |name, value| match (value, name) {
            (RegistryValue::String(text), "ExtensionSettings") => json_of_kind(&text, true),
            (RegistryValue::String(text), list) if CHROMIUM_LISTS.contains(&list) => {
                json_of_kind(&text, false)
            }
            (RegistryValue::Dword(number), "NativeMessagingUserLevelHosts") => {
                Value::Bool(number != 0)
            }
            (value, _) => plain(value),
        },
        &|child, child_key| {
            Ok(if child.eq_ignore_ascii_case("3rdparty") {
                Value::Object(chromium_third_party(registry, child_key)?)
            } else if CHROMIUM_LISTS.contains(&child) {
                Value::Array(numbered_values(registry, child_key)?)
            } else {
                Value::Object(chromium_dictionary(registry, child_key)?)
            })
        },
    )
}

/// One key of Chromium's policy tree as a JSON object: each value and each subkey converted by
/// its name, as the policy's schema type says.
fn chromium_key(
    registry: &dyn Registry,
    key: &RegistryKey,
    value_of: fn(&str, RegistryValue) -> Value,
    subkey_of: &dyn Fn(&str, &RegistryKey) -> std::io::Result<Value>,
) -> std::io::Result<Map<String, Value>> {
    let mut object = Map::new();
    for (name, value) in registry.values(key)? {
        let converted = value_of(&name, value);
        object.insert(name, converted);
    }
    for child in registry.subkeys(key)? {
        let converted = subkey_of(&child, &key.join(&child))?;
        object.insert(child, converted);
    }
    Ok(object)
}

/// `3rdparty\extensions\<id>\policy\...` as a policy file's `3rdparty.extensions.<id>`.
fn chromium_third_party(
    registry: &dyn Registry,
    key: &RegistryKey,
) -> std::io::Result<Map<String, Value>> {
    let mut extensions = Map::new();
    for kind in registry.subkeys(key)? {
        if !kind.eq_ignore_ascii_case("extensions") {
            continue;
        }
        for id in registry.subkeys(&key.join(&kind))? {
            let id_key = key.join(&kind).join(&id);
            for policy in registry.subkeys(&id_key)? {
                if policy.eq_ignore_ascii_case("policy") {
                    let managed = extension_policy(registry, &id_key.join(&policy))?;
                    extensions.insert(id.clone(), Value::Object(managed));
                }
            }
        }
    }
    let mut third_party = Map::new();
    third_party.insert("extensions".to_owned(), Value::Object(extensions));
    Ok(third_party)
}

/// CPx Connect's own policy, converted with its schema (`extension/managed_schema.json`) as
/// Chromium does: `allowedOrigins` a list, `restrictOrigins` a boolean. Other names keep their
/// registry form, for the checks to report.
fn extension_policy(
    registry: &dyn Registry,
    key: &RegistryKey,
) -> std::io::Result<Map<String, Value>> {
    chromium_key(
        registry,
        key,
        |name, value| match (value, name) {
            (RegistryValue::String(text), "allowedOrigins") => json_of_kind(&text, false),
            (RegistryValue::Dword(number), "restrictOrigins") => Value::Bool(number != 0),
            (value, _) => plain(value),
        },
        &|child, child_key| {
            Ok(if child == "allowedOrigins" {
                Value::Array(numbered_values(registry, child_key)?)
            } else {
                Value::Object(chromium_dictionary(registry, child_key)?)
            })
        },
    )
}

/// A dictionary policy written as subkeys (such as `ExtensionSettings\<id>`).
fn chromium_dictionary(
    registry: &dyn Registry,
    key: &RegistryKey,
) -> std::io::Result<Map<String, Value>> {
    chromium_key(registry, key, |_, value| plain(value), &|_, child_key| {
        Ok(Value::Object(chromium_dictionary(registry, child_key)?))
    })
}

/// The values named `1`, `2`, ... of a list key, up to the first missing number: Chromium reads
/// no further.
fn numbered_values(registry: &dyn Registry, key: &RegistryKey) -> std::io::Result<Vec<Value>> {
    let values = registry.values(key)?;
    let mut list = Vec::new();
    for number in 1.. {
        let name = number.to_string();
        let Some((_, value)) = values.iter().find(|(n, _)| *n == name) else {
            break;
        };
        list.push(plain(value.clone()));
    }
    Ok(list)
}

/// A string that holds a JSON list (or, with `object`, dictionary) becomes that value; anything
/// else stays a string, which the schema check then drops.
fn json_of_kind(text: &str, object: bool) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) if object => value,
        Ok(value @ Value::Array(_)) if !object => value,
        _ => Value::String(text.to_owned()),
    }
}

/// A value with no schema to say otherwise: DWORDs as numbers, strings as strings.
fn plain(value: RegistryValue) -> Value {
    match value {
        RegistryValue::String(text) => Value::String(text),
        RegistryValue::Dword(number) => Value::from(number),
        RegistryValue::MultiString(items) => {
            Value::Array(items.into_iter().map(Value::String).collect())
        }
        RegistryValue::Other => Value::Null,
    }
}

/// Firefox's reading of a key: a list when its first value (or first subkey) is named `1`.
fn firefox_object(
    registry: &dyn Registry,
    key: &RegistryKey,
) -> std::io::Result<Map<String, Value>> {
    let mut object = Map::new();
    for (name, value) in registry.values(key)? {
        if let Some(value) = firefox_value(value) {
            object.insert(name, value);
        }
    }
    for child in registry.subkeys(key)? {
        let value = firefox_child(registry, &key.join(&child))?;
        object.insert(child, value);
    }
    Ok(object)
}

fn firefox_child(registry: &dyn Registry, key: &RegistryKey) -> std::io::Result<Value> {
    let values = registry.values(key)?;
    if values.first().is_some_and(|(name, _)| name == "1") {
        return Ok(Value::Array(
            values
                .into_iter()
                .filter_map(|(_, value)| firefox_value(value))
                .collect(),
        ));
    }
    let children = registry.subkeys(key)?;
    if values.is_empty() && children.first().is_some_and(|name| name == "1") {
        let mut list = Vec::new();
        for child in children {
            list.push(Value::Object(firefox_object(registry, &key.join(&child))?));
        }
        return Ok(Value::Array(list));
    }
    Ok(Value::Object(firefox_object(registry, key)?))
}

/// `REG_MULTI_SZ` is JSON to Firefox (its lines joined); one that does not parse is left out.
fn firefox_value(value: RegistryValue) -> Option<Value> {
    match value {
        RegistryValue::MultiString(lines) => serde_json::from_str(&lines.join("\n")).ok(),
        other => Some(plain(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::registry::MemoryRegistry;
    use serde_json::json;

    const ID: &str = "blhfinhacdbecccdlegcimacmlhfbpal";

    fn machine(path: &str) -> RegistryKey {
        RegistryKey::new(Hive::LocalMachine, path)
    }

    fn text(value: &str) -> RegistryValue {
        RegistryValue::String(value.to_owned())
    }

    #[test]
    fn chromium_lists_stop_at_the_first_gap_and_extension_policies_follow_the_schema() {
        let mut registry = MemoryRegistry::new();
        let chrome = machine(policy_path(Browser::Chrome));
        let forcelist = chrome.join("ExtensionInstallForcelist");
        registry.set_value(&forcelist, "1", text("a;https://x/u.xml"));
        registry.set_value(&forcelist, "3", text("c;https://x/u.xml"));
        registry.set_value(
            &chrome,
            "NativeMessagingUserLevelHosts",
            RegistryValue::Dword(0),
        );
        let settings = chrome.join("ExtensionSettings").join(ID);
        registry.set_value(&settings, "installation_mode", text("force_installed"));
        let policy = chrome.join(&format!("3rdparty\\extensions\\{ID}\\policy"));
        registry.set_value(&policy, "restrictOrigins", RegistryValue::Dword(1));
        registry.set_value(
            &policy.join("allowedOrigins"),
            "1",
            text("https://dpi.example.fr"),
        );

        let sources = read(&registry, Browser::Chrome);
        assert_eq!(sources.len(), 1);
        assert_eq!(
            sources[0].0,
            PathBuf::from("HKLM\\SOFTWARE\\Policies\\Google\\Chrome")
        );
        assert_eq!(
            Value::Object(sources[0].1.clone().unwrap()),
            json!({
                "NativeMessagingUserLevelHosts": false,
                "ExtensionInstallForcelist": ["a;https://x/u.xml"],
                "ExtensionSettings": {ID: {"installation_mode": "force_installed"}},
                "3rdparty": {"extensions": {ID: {
                    "restrictOrigins": true,
                    "allowedOrigins": ["https://dpi.example.fr"],
                }}},
            })
        );
    }

    #[test]
    fn chromium_reads_json_strings_for_lists_and_dictionaries_and_keeps_a_plain_string() {
        let mut registry = MemoryRegistry::new();
        let edge = machine(policy_path(Browser::Edge));
        registry.set_value(
            &edge,
            "ExtensionSettings",
            text(&format!(
                r#"{{"{ID}": {{"installation_mode": "force_installed"}}}}"#
            )),
        );
        let policy = edge.join(&format!("3rdparty\\extensions\\{ID}\\policy"));
        registry.set_value(&policy, "allowedOrigins", text("https://dpi.example.fr"));
        let sources = read(&registry, Browser::Edge);
        let policies = sources[0].1.clone().unwrap();
        assert_eq!(
            policies["ExtensionSettings"][ID]["installation_mode"],
            "force_installed"
        );
        // A bare string is not a list: Chromium's schema check will drop it.
        assert_eq!(
            policies["3rdparty"]["extensions"][ID]["allowedOrigins"],
            "https://dpi.example.fr"
        );
    }

    #[test]
    fn firefox_reads_numbered_values_as_a_list_multi_strings_as_json_and_dwords_as_numbers() {
        let mut registry = MemoryRegistry::new();
        let firefox = machine(policy_path(Browser::Firefox));
        let ours = firefox.join("3rdparty\\Extensions\\cpx-connect@cpxconnect.org");
        registry.set_value(
            &ours.join("allowedOrigins"),
            "1",
            text("https://dpi.example.fr"),
        );
        registry.set_value(
            &ours,
            "restrictOrigins",
            RegistryValue::MultiString(vec!["true".to_owned()]),
        );
        registry.set_value(&ours, "other", RegistryValue::Dword(1));
        registry.set_value(
            &ours,
            "broken",
            RegistryValue::MultiString(vec!["{".to_owned()]),
        );
        let user = RegistryKey::new(Hive::CurrentUser, policy_path(Browser::Firefox));
        registry.set_value(&user, "DisableAppUpdate", RegistryValue::Dword(1));

        let sources = read(&registry, Browser::Firefox);
        assert_eq!(
            sources
                .iter()
                .map(|(key, _)| key.clone())
                .collect::<Vec<_>>(),
            vec![
                PathBuf::from("HKCU\\SOFTWARE\\Policies\\Mozilla\\Firefox"),
                PathBuf::from("HKLM\\SOFTWARE\\Policies\\Mozilla\\Firefox"),
            ]
        );
        assert_eq!(
            Value::Object(sources[1].1.clone().unwrap()),
            json!({"policies": {"3rdparty": {"Extensions": {"cpx-connect@cpxconnect.org": {
                "restrictOrigins": true,
                "other": 1,
                "allowedOrigins": ["https://dpi.example.fr"],
            }}}}})
        );
    }

    #[test]
    fn no_policy_key_means_no_source() {
        let registry = MemoryRegistry::new();
        for browser in Browser::ALL {
            assert!(read(&registry, browser).is_empty(), "{browser:?}");
        }
    }
}
