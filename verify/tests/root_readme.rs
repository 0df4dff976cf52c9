//! The repository README's page snippet ("Integrating a site") uses the page library as it is:
//! its server snippet is compiled as a doctest (`RootReadmeDoctests` in src/lib.rs); a JS
//! snippet is not, so this checks it against `extension/page/cpx-connect.js` and its README.

const ROOT_README: &str = include_str!("../../README.md");
const PAGE_LIBRARY: &str = include_str!("../../extension/page/cpx-connect.js");
const PAGE_LIBRARY_README: &str = include_str!("../../extension/page/README.md");

fn integration_js_snippet() -> &'static str {
    let section = ROOT_README
        .split("## Integrating a site")
        .nth(1)
        .expect("the README has \"Integrating a site\"");
    let after_fence = section.split("```js\n").nth(1).expect("a js snippet");
    after_fence.split("\n```").next().unwrap_or_default()
}

#[test]
fn the_snippet_imports_what_the_page_library_exports_from_where_it_says() {
    let snippet = integration_js_snippet();
    let import = snippet
        .lines()
        .find(|line| line.starts_with("import {"))
        .expect("an import line");
    assert!(
        import.ends_with(r#"from "/static/cpx-connect.js";"#),
        "{import}"
    );
    // The path the library's own header tells a site to serve it at.
    assert!(PAGE_LIBRARY.contains(r#"from "/static/cpx-connect.js""#));
    let names = import
        .trim_start_matches("import {")
        .split('}')
        .next()
        .unwrap_or_default();
    for name in names
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        assert!(
            PAGE_LIBRARY.contains(&format!("export function {name}(")),
            "cpx-connect.js exports no function {name}"
        );
    }
}

#[test]
fn the_snippet_calls_authenticate_with_the_library_signature() {
    let snippet = integration_js_snippet();
    assert!(snippet.contains("await authenticate(nonce, { lang: \"fr\" })"));
    assert!(PAGE_LIBRARY.contains(
        "export function authenticate(challengeNonce, { lang, timeout = DEFAULT_AUTHENTICATE_TIMEOUT_MS } = {})"
    ));
    // The library rejects with errors carrying `.code`, which the snippet shows.
    assert!(snippet.contains("error.code"));
    assert!(PAGE_LIBRARY.contains("this.code = code;"));
    // The nonce request carries the header the server checks.
    assert!(snippet.contains(r#"headers: { "X-Requested-With": "cpx-connect" }"#));
}

#[test]
fn the_extension_codes_the_snippet_names_are_documented() {
    let snippet = integration_js_snippet();
    let mut named = 0;
    for word in snippet.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
        let from_extension = [
            "ERR_NO_CARD",
            "ERR_PIN_BLOCKED",
            "ERR_USER_CANCELLED",
            "ERR_USER_ACTIVATION_REQUIRED",
        ];
        if from_extension.contains(&word) {
            named += 1;
            assert!(
                PAGE_LIBRARY_README.contains(word),
                "{word} is not a page library code"
            );
        }
    }
    assert!(named >= 4, "the snippet names the extension's codes");
}
