use super::*;

/// Every code the extension and the host can hand the page: extension/src/shared/errors.js
/// lists both (its host list is checked against the host's `ErrorCode`, and so against
/// host/PROTOCOL.md, by host/tests/error_codes.rs), so it is the one list read here.
fn extension_and_host_codes() -> Vec<&'static str> {
    let errors_js = include_str!("../../../extension/src/shared/errors.js");
    let mut codes: Vec<&str> = errors_js
        .split('"')
        .filter(|word| {
            word.starts_with("ERR_")
                && word.len() > 4
                && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[test]
fn every_code_of_the_extension_and_the_host_has_a_sentence_in_french_and_english() {
    let codes = extension_and_host_codes();
    // The list was found whole: the host's first and last codes and the extension's own.
    for expected in ["ERR_INVALID_REQUEST", "ERR_INTERNAL", "ERR_USER_CANCELLED"] {
        assert!(codes.contains(&expected), "{expected} not read: {codes:?}");
    }
    assert!(codes.len() > 25, "{codes:?}");
    for code in codes {
        let message = browser_message(code);
        assert_ne!(message, &BROWSER_FALLBACK, "{code} has no sentence");
        for language in [Language::French, Language::English] {
            assert!(
                !message.text(language).trim().is_empty(),
                "{code}: no {language:?} sentence"
            );
        }
    }
}

#[test]
fn every_sentence_exists_in_both_languages_and_is_translated() {
    let tables = [BROWSER_MESSAGES, SERVER_MESSAGES, PAGE_TEXTS];
    let fallbacks = [BROWSER_FALLBACK, SERVER_FALLBACK];
    for message in tables
        .iter()
        .flat_map(|table| table.iter())
        .chain(&fallbacks)
    {
        assert!(!message.fr.trim().is_empty(), "{}: no French", message.code);
        assert!(
            !message.en.trim().is_empty(),
            "{}: no English",
            message.code
        );
        // A sentence pasted into both fields is not a translation.
        assert_ne!(
            message.fr, message.en,
            "{}: English is the French",
            message.code
        );
    }
}

#[test]
fn an_unknown_code_gets_the_fallback() {
    assert_eq!(browser_message("ERR_SOMETHING_NEW"), &BROWSER_FALLBACK);
    assert_eq!(server_message("ERR_SOMETHING_NEW"), &SERVER_FALLBACK);
    assert_eq!(
        server_message("err_certificate_revoked").code,
        "ERR_CERTIFICATE_REVOKED"
    );
}

#[test]
fn codes_are_unique() {
    for table in [BROWSER_MESSAGES, SERVER_MESSAGES, PAGE_TEXTS] {
        let mut codes: Vec<&str> = table.iter().map(|message| message.code).collect();
        codes.sort_unstable();
        let count = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), count);
    }
}

#[test]
fn the_page_table_carries_every_code_and_step_text_in_the_language_asked() {
    for language in [Language::French, Language::English] {
        let table = page_table(language);
        assert_eq!(table.len(), BROWSER_MESSAGES.len() + PAGE_TEXTS.len() + 1);
        assert_eq!(
            table.get("ERR_NO_CARD").and_then(|v| v.as_str()),
            Some(browser_message("ERR_NO_CARD").text(language))
        );
        assert_eq!(
            table.get("fallback").and_then(|v| v.as_str()),
            Some(BROWSER_FALLBACK.text(language))
        );
    }
    let english = page_table(Language::English);
    assert_eq!(
        english.get("preparing").and_then(|v| v.as_str()),
        Some("Preparing the login…")
    );
}
