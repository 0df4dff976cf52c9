//! Which sites may ask for a card login, as the extension will decide from the managed policy the
//! browser hands it. The rules are the extension's (`extension/src/background/origin.js`,
//! `policyFrom` and `parseOriginPattern`); what differs per browser is what reaches it:
//!
//! - Chromium, Chrome, Edge and Brave check an extension's policy against its
//!   `managed_schema.json` and drop, without a word to the extension, every key the schema does
//!   not name (keys are case-sensitive) and every value of the wrong type (Chromium's
//!   `components/policy/core/common/schema_map.cc`, `SchemaMap::FilterBundle`). A mistyped
//!   `allowedOrigins` therefore looks like no list at all: every https site, unless
//!   `restrictOrigins: true` made it.
//! - Firefox passes the policy through as written; the extension refuses every site when
//!   anything in it is wrong.

use serde_json::{Map, Value};

/// The managed keys of `extension/managed_schema.json`.
pub const MANAGED_KEYS: [&str; 2] = ["allowedOrigins", "restrictOrigins"];

/// One `allowedOrigins` entry: the origin it matches as the browser will read it, or why the
/// extension refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// As written in the policy (JSON text when not a string).
    pub written: String,
    pub reading: Result<String, String>,
}

/// What the extension makes of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sites {
    /// No key reaches the extension: every https site may ask.
    NoPolicy,
    /// Keys were written but the browser dropped them all (`dropped` says which and why): every
    /// https site may ask, against the administrator's intent.
    DroppedOpen { dropped: Vec<String> },
    /// Only these sites (an empty list: none).
    Only {
        entries: Vec<Entry>,
        dropped: Vec<String>,
    },
    /// Every site is refused, for `reason`.
    NoneAllowed {
        reason: String,
        entries: Vec<Entry>,
        dropped: Vec<String>,
    },
}

impl Sites {
    /// The policy refuses every site.
    pub fn refuses_all(&self) -> bool {
        match self {
            Sites::NoneAllowed { .. } => true,
            Sites::Only { entries, .. } => entries.is_empty(),
            _ => false,
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `value` fits the schema of the managed key `key`.
fn fits_schema(key: &str, value: &Value) -> bool {
    match key {
        "allowedOrigins" => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        "restrictOrigins" => value.is_boolean(),
        _ => false,
    }
}

/// What reaches the extension of `managed` (the policy object under our id), in a browser that
/// checks it against the schema (`chromium_family`) or not.
pub fn effective(managed: Option<&Value>, chromium_family: bool) -> Sites {
    let Some(managed) = managed else {
        return Sites::NoPolicy;
    };
    let Some(object) = managed.as_object() else {
        return Sites::NoneAllowed {
            reason: format!(
                "the extension's policy is {}, not an object",
                json_kind(managed)
            ),
            entries: Vec::new(),
            dropped: Vec::new(),
        };
    };
    let mut seen = Map::new();
    let mut dropped = Vec::new();
    for (key, value) in object {
        if chromium_family && !fits_schema(key, value) {
            dropped.push(if MANAGED_KEYS.contains(&key.as_str()) {
                format!(
                    "{key} ({} instead of the type the schema gives)",
                    json_kind(value)
                )
            } else {
                unknown_key(key)
            });
            continue;
        }
        seen.insert(key.clone(), value.clone());
    }
    if seen.is_empty() {
        return if dropped.is_empty() {
            Sites::NoPolicy
        } else {
            Sites::DroppedOpen { dropped }
        };
    }
    from_keys(&seen, dropped)
}

fn unknown_key(key: &str) -> String {
    match MANAGED_KEYS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(key))
    {
        Some(meant) => format!("{key} (unknown key: did you mean {meant}?)"),
        None => format!("{key} (unknown key)"),
    }
}

/// The extension's `policyFrom` on the keys that reached it.
fn from_keys(settings: &Map<String, Value>, dropped: Vec<String>) -> Sites {
    let refuse = |reason: String, entries: Vec<Entry>, dropped: Vec<String>| Sites::NoneAllowed {
        reason,
        entries,
        dropped,
    };
    let unknown: Vec<String> = (settings.keys())
        .filter(|key| !MANAGED_KEYS.contains(&key.as_str()))
        .map(|key| unknown_key(key))
        .collect();
    if !unknown.is_empty() {
        return refuse(
            format!("the policy has {}", unknown.join(", ")),
            Vec::new(),
            dropped,
        );
    }
    let restrict = settings.get("restrictOrigins");
    if let Some(value) = restrict.filter(|value| !value.is_boolean()) {
        return refuse(
            format!("restrictOrigins is {}, not true or false", json_kind(value)),
            Vec::new(),
            dropped,
        );
    }
    let restricted = restrict == Some(&Value::Bool(true));
    let Some(list) = settings.get("allowedOrigins") else {
        if restricted {
            let why = if dropped.is_empty() {
                "restrictOrigins is true but there is no allowedOrigins"
            } else {
                "restrictOrigins is true but the browser dropped allowedOrigins"
            };
            return refuse(why.to_owned(), Vec::new(), dropped);
        }
        // restrictOrigins: false alone.
        return Sites::NoPolicy;
    };
    let Some(items) = list.as_array() else {
        return refuse(
            format!("allowedOrigins is {}, not a list", json_kind(list)),
            Vec::new(),
            dropped,
        );
    };
    let entries: Vec<Entry> = items.iter().map(entry).collect();
    let invalid = entries.iter().filter(|e| e.reading.is_err()).count();
    if invalid > 0 {
        let what = if invalid == 1 {
            "an invalid entry".to_owned()
        } else {
            format!("{invalid} invalid entries")
        };
        return refuse(format!("allowedOrigins has {what}"), entries, dropped);
    }
    if entries.is_empty() && restricted {
        return refuse(
            "restrictOrigins is true but allowedOrigins is empty".to_owned(),
            entries,
            dropped,
        );
    }
    Sites::Only { entries, dropped }
}

fn entry(item: &Value) -> Entry {
    match item {
        Value::String(text) => Entry {
            written: text.clone(),
            reading: read_origin_pattern(text),
        },
        other => Entry {
            written: other.to_string(),
            reading: Err("not a text".to_owned()),
        },
    }
}

/// One entry, as the extension's `parseOriginPattern` reads it: `https://host[:port]` or
/// `https://*.domain[:port]` (a trailing `/` tolerated), returned as the origin it matches after
/// the URL parser's normalisation (lower case, punycode, no default port); refused when the
/// parser would read another host or port than the one written.
pub fn read_origin_pattern(written: &str) -> Result<String, String> {
    let form =
        "expected https://host[:port] or https://*.domain, with no user, path, query or fragment";
    let text = written.trim();
    if text.contains(['\\', '%']) {
        return Err(
            "a \\ or % has no place in an origin (the browser would read another host)".to_owned(),
        );
    }
    let Some(rest) = text
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .and_then(|_| text.get(8..))
    else {
        return Err(form.to_owned());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (wildcard, authority) = match rest.strip_prefix("*.") {
        Some(authority) => (true, authority),
        None => (false, rest),
    };
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
    {
        return Err(form.to_owned());
    }
    if authority.contains('*') {
        return Err("a wildcard is allowed only as the first label: https://*.domain".to_owned());
    }
    if wildcard && authority.starts_with('[') {
        return Err("a wildcard needs a domain name".to_owned());
    }
    let url = url::Url::parse(&format!("https://{authority}/"))
        .map_err(|_| "not a valid host name".to_owned())?;
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|port| port.to_string()).unwrap_or_default();
    let host_and_port = if port.is_empty() {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    let (written_host, written_port) = split_authority(authority).ok_or_else(|| form.to_owned())?;
    if !same_host(written_host, host) || !same_port(written_port, &port) {
        let read = if wildcard {
            format!("https://*.{host_and_port}")
        } else {
            url.origin().ascii_serialization()
        };
        return Err(format!("the browser reads it as {read}, not as written"));
    }
    if wildcard {
        if !host.contains('.') {
            return Err("a wildcard needs a domain with at least two labels".to_owned());
        }
        return Ok(format!("https://*.{host_and_port}"));
    }
    Ok(url.origin().ascii_serialization())
}

fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let after = &authority[close + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Some((&authority[..=close], Some(port))),
            None if after.is_empty() => Some((&authority[..=close], None)),
            None => None,
        };
    }
    Some(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// The parser kept the written host: the same labels, each equal in lower case, or, for a label
/// with non-ASCII letters, its punycode form.
fn same_host(written: &str, parsed: &str) -> bool {
    if written.starts_with('[') {
        return written.to_ascii_lowercase() == parsed
            || written[1..written.len() - 1]
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    let mine: Vec<&str> = written.split('.').collect();
    let theirs: Vec<&str> = parsed.split('.').collect();
    mine.len() == theirs.len()
        && mine.iter().zip(&theirs).all(|(label, read)| {
            if label.chars().all(|c| c.is_ascii_graphic()) {
                label.to_ascii_lowercase() == *read
            } else {
                read.starts_with("xn--")
            }
        })
}

fn same_port(written: Option<&str>, parsed: &str) -> bool {
    match written {
        None => parsed.is_empty(),
        Some(port) => port == parsed || (port == "443" && parsed.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The same forms as extension/test/origin.test.mjs, with the origin each one matches.
    #[test]
    fn entries_are_read_as_the_browser_reads_them() {
        for (entry, origin) in [
            ("https://portail.example.fr", "https://portail.example.fr"),
            ("https://localhost:8443", "https://localhost:8443"),
            ("https://*.sante.example", "https://*.sante.example"),
            ("https://*.x.fr:443", "https://*.x.fr"),
            ("https://portail.y.fr:443/", "https://portail.y.fr"),
            ("HTTPS://Portail.Y.FR", "https://portail.y.fr"),
            ("https://*.santé.fr", "https://*.xn--sant-epa.fr"),
            ("https://[::1]:8443", "https://[::1]:8443"),
        ] {
            assert_eq!(read_origin_pattern(entry).as_deref(), Ok(origin), "{entry}");
        }
        for (entry, why) in [
            ("https://evil.com\\.good.fr", "a \\ or %"),
            ("https://evil.com%2egood.fr", "a \\ or %"),
            ("https://user@good.fr", "expected https://"),
            ("https://good.fr/login", "expected https://"),
            ("https://good.fr?x", "expected https://"),
            ("https://good.fr#x", "expected https://"),
            ("[*.]x.fr", "expected https://"),
            ("http://x.fr", "expected https://"),
            ("https://*.x.fr/*", "expected https://"),
            ("https://a.*.x.fr", "a wildcard is allowed only"),
            ("https://*.fr", "at least two labels"),
            (
                "https://0x7f.1",
                "the browser reads it as https://127.0.0.1",
            ),
            (
                "https://good.fr:0443",
                "the browser reads it as https://good.fr",
            ),
            (
                "https://good。fr",
                "the browser reads it as https://good.fr",
            ),
            ("7", "expected https://"),
        ] {
            let problem = read_origin_pattern(entry).unwrap_err();
            assert!(problem.contains(why), "{entry}: {problem}");
        }
    }

    fn only(sites: &Sites) -> Vec<String> {
        match sites {
            Sites::Only { entries, .. } => {
                entries.iter().map(|e| e.reading.clone().unwrap()).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    fn refusal(sites: &Sites) -> &str {
        match sites {
            Sites::NoneAllowed { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_valid_list_allows_those_sites_in_every_browser() {
        let policy =
            json!({"allowedOrigins": ["https://a.fr", "https://*.b.fr"], "restrictOrigins": true});
        for chromium in [true, false] {
            let sites = effective(Some(&policy), chromium);
            assert_eq!(only(&sites), ["https://a.fr", "https://*.b.fr"]);
            assert!(!sites.refuses_all());
        }
        assert_eq!(effective(None, true), Sites::NoPolicy);
        assert_eq!(effective(Some(&json!({})), false), Sites::NoPolicy);
        assert_eq!(
            effective(Some(&json!({"restrictOrigins": false})), false),
            Sites::NoPolicy
        );
        assert!(effective(Some(&json!({"allowedOrigins": []})), true).refuses_all());
    }

    #[test]
    fn a_mistyped_list_is_dropped_by_chromium_and_refused_by_firefox() {
        for mistyped in [
            json!({"allowedOrigins": "https://a.fr"}),
            json!({"allowedOrigins": null}),
            json!({"allowedOrigins": ["https://a.fr", 7]}),
            json!({"AllowedOrigins": ["https://a.fr"]}),
        ] {
            // Chromium: the extension sees nothing, so every https site.
            match effective(Some(&mistyped), true) {
                Sites::DroppedOpen { dropped } => assert_eq!(dropped.len(), 1, "{mistyped}"),
                other => panic!("{mistyped}: {other:?}"),
            }
            // Firefox: the extension sees the mistake and refuses every site.
            assert!(
                effective(Some(&mistyped), false).refuses_all(),
                "{mistyped}"
            );
            // restrictOrigins: true keeps Chromium closed.
            let mut restricted = mistyped.clone();
            restricted["restrictOrigins"] = json!(true);
            let sites = effective(Some(&restricted), true);
            assert!(
                refusal(&sites).contains("the browser dropped allowedOrigins"),
                "{restricted}: {sites:?}"
            );
        }
        let miscased = effective(Some(&json!({"AllowedOrigins": []})), false);
        assert!(refusal(&miscased).contains("did you mean allowedOrigins?"));
    }

    #[test]
    fn restrict_without_a_valid_non_empty_list_refuses_every_site() {
        for policy in [
            json!({"restrictOrigins": true}),
            json!({"restrictOrigins": true, "allowedOrigins": []}),
            json!({"restrictOrigins": "yes", "allowedOrigins": ["https://a.fr"]}),
        ] {
            assert!(effective(Some(&policy), false).refuses_all(), "{policy}");
        }
        // Chromium drops the mistyped restrictOrigins; the valid list stands.
        let sites = effective(
            Some(&json!({"restrictOrigins": "yes", "allowedOrigins": ["https://a.fr"]})),
            true,
        );
        assert_eq!(only(&sites), ["https://a.fr"]);
    }

    #[test]
    fn one_invalid_entry_refuses_every_site_in_every_browser() {
        let policy = json!({"allowedOrigins": ["https://a.fr", "https://evil.com\\.good.fr"]});
        for chromium in [true, false] {
            let sites = effective(Some(&policy), chromium);
            assert_eq!(refusal(&sites), "allowedOrigins has an invalid entry");
        }
    }
}
