//! The protocol's error codes have one source, `ErrorCode` (host/src/protocol/wire.rs). Every
//! other place that lists them is checked against it here, so that a code added, renamed or
//! dropped on one side and not the other fails this test:
//!
//! | copy | why it is a copy | check |
//! |---|---|---|
//! | host/PROTOCOL.md, "Error codes" | the contract relying parties read (the end-to-end tests read their list from it) | the same codes, same order |
//! | README.md, "Protocol in brief" | the summary | the same codes, same order |
//! | extension/src/shared/errors.js, `HOST_ERROR_CODES` | plain JS, no build step to derive it | the same codes, same order |
//! | web/src/messages.rs, `BROWSER_MESSAGES` | the sentence per code (French and English) the demo and cpx-idp show (it has codes of its own too) | every host code has an entry |
//!
//! The extension's own codes (`ExtensionErrorCode`, `ERR_USER_CANCELLED`...) are not the host's:
//! extension/test/locales.test.mjs checks those. The fuzz harnesses use `ErrorCode::ALL` itself.

use std::path::Path;

use cpx_connect::protocol::wire::ErrorCode;

fn host_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|code| code.as_str()).collect()
}

fn read(path_from_repo: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path_from_repo);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The text from the first `start` to the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str, file: &str) -> &'a str {
    let Some(from) = text.find(start) else {
        panic!("{file}: no {start:?}: the check below must be told where the list went");
    };
    let rest = &text[from + start.len()..];
    let Some(to) = rest.find(end) else {
        panic!("{file}: no {end:?} after {start:?}");
    };
    &rest[..to]
}

/// Every `ERR_...` word of `text`, in order (one that ends in `_` is a prefix, not a code).
fn codes_in(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|word| word.starts_with("ERR_") && word.len() > 4 && !word.ends_with('_'))
        .collect()
}

#[test]
fn the_host_codes_are_distinct_and_well_formed() {
    let codes = host_codes();
    let mut distinct = codes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        codes.len(),
        "a code listed twice: {codes:?}"
    );
    for code in codes {
        assert_eq!(codes_in(code), [code], "{code} is not ERR_ and capitals");
    }
}

#[test]
fn protocol_md_documents_exactly_the_host_codes() {
    let file = "host/PROTOCOL.md";
    let text = read(file);
    let table: Vec<&str> = between(&text, "## Error codes\n", "\n## ", file)
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|cell| cell.split('`').next())
        .collect();
    assert_eq!(table, host_codes(), "{file}'s table of error codes");
}

/// Asserts that the `ERR_` codes of `file` between `start` and `end` are the host's, in order.
fn assert_copy_is_exact(file: &str, start: &str, end: &str) {
    let text = read(file);
    let copy = codes_in(between(&text, start, end, file));
    assert_eq!(copy, host_codes(), "{file}, after {start:?}");
}

#[test]
fn the_readme_lists_exactly_the_host_codes() {
    assert_copy_is_exact("README.md", "## Protocol in brief", "The whole contract");
}

#[test]
fn the_extension_lists_exactly_the_host_codes() {
    assert_copy_is_exact(
        "extension/src/shared/errors.js",
        "export const HOST_ERROR_CODES",
        "]);",
    );
}

#[test]
fn the_login_pages_have_a_message_for_every_host_code() {
    let file = "web/src/messages.rs";
    let text = read(file);
    let table = between(&text, "pub const BROWSER_MESSAGES", "\n];", file);
    let listed = codes_in(table);
    let missing: Vec<&str> = host_codes()
        .into_iter()
        .filter(|code| !listed.contains(code))
        .collect();
    assert!(
        missing.is_empty(),
        "{file}, BROWSER_MESSAGES lacks {missing:?}"
    );
}
