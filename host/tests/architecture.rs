//! The dependency rules of ARCHITECTURE.md, checked on the source text, so that an arrow up
//! between the host's layers or a second PC/SC importer fails here rather than in review:
//!
//! - only `host/src/readers/` names the `pcsc` crate;
//! - the layers use only the ones below them: `protocol` -> `service` -> `readers` -> `card`
//!   (`token` beside them, used by `protocol` and `service`); the administrators' commands
//!   (`cli`, `doctor`, `install`) sit on top and may use any of them;
//! - neither the relying-party crates nor the end-to-end tests link the host.
//!
//! Unit tests (`#[cfg(test)] mod tests` at the end of a file) may reach across: they are cut off
//! before checking.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A source file as the non-test code sees it: the text before its unit-test module.
fn non_test_source(path: &Path) -> String {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    match text.find("#[cfg(test)]\nmod tests") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// The host's top-level module a file belongs to: `card` for host/src/card/apdu.rs, `token` for
/// host/src/token.rs.
fn module_of(path: &Path) -> String {
    let relative = path
        .strip_prefix(repo().join("host/src"))
        .unwrap_or_else(|_| panic!("{} is outside host/src", path.display()));
    let first = relative.components().next().map(|c| c.as_os_str());
    let first = first.and_then(|name| name.to_str()).unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a source names through `crate::` paths, including `crate::{a, b::c}`.
fn crate_modules_named(source: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (index, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        named.push(first_segment(&group[index..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            named.push(first_segment(rest));
        }
    }
    named
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn only_the_readers_module_imports_pcsc() {
    let mut importers = Vec::new();
    for path in rust_files(&repo().join("host/src")) {
        let source = non_test_source(&path);
        let names_pcsc = source.contains("pcsc::")
            && source
                .match_indices("pcsc::")
                .any(|(at, _)| at == 0 || !source.as_bytes()[at - 1].is_ascii_alphanumeric());
        if names_pcsc && module_of(&path) != "readers" {
            importers.push(path.display().to_string());
        }
    }
    assert!(
        importers.is_empty(),
        "PC/SC outside host/src/readers: {importers:?}"
    );
}

#[test]
fn the_layers_use_only_the_layers_below() {
    // What each layer must not name; the top (cli, doctor, install, lib.rs) is not listed.
    let above = |layer: &str| -> &[&str] {
        match layer {
            "card" => &[
                "readers", "service", "protocol", "token", "cli", "doctor", "install",
            ],
            "readers" => &["service", "protocol", "token", "cli", "doctor", "install"],
            "token" => &["readers", "service", "protocol", "cli", "doctor", "install"],
            "service" => &["protocol", "cli", "doctor", "install"],
            "protocol" => &["cli", "doctor", "install"],
            _ => &[],
        }
    };
    let mut arrows_up = Vec::new();
    for path in rust_files(&repo().join("host/src")) {
        let layer = module_of(&path);
        for named in crate_modules_named(&non_test_source(&path)) {
            if above(&layer).contains(&named.as_str()) {
                arrows_up.push(format!("{} ({layer}) names crate::{named}", path.display()));
            }
        }
    }
    assert!(arrows_up.is_empty(), "{arrows_up:#?}");
}

#[test]
fn the_check_reads_grouped_and_plain_paths() {
    assert_eq!(
        crate_modules_named("use crate::service::HostError; x(crate::{token, readers::{A, B}})"),
        ["service", "token", "readers"]
    );
}

#[test]
fn relying_parties_and_end_to_end_tests_do_not_link_the_host() {
    for manifest in [
        "verify/Cargo.toml",
        "demo/Cargo.toml",
        "idp/Cargo.toml",
        "web/Cargo.toml",
        "tests/e2e/Cargo.toml",
    ] {
        let path = repo().join(manifest);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let links_host = text.lines().any(|line| {
            let line = line.trim_start();
            !line.starts_with('#')
                && (line.starts_with("cpx-connect")
                    || line.contains("\"../host\"")
                    || line.contains("../../host\""))
        });
        assert!(!links_host, "{manifest} depends on the host crate");
    }
}
