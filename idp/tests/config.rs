//! A bad configuration stops the start with one line that names the entry.

mod common;

use std::process::Command;

use common::*;
use cpx_idp::ProviderConfig;

/// The configuration's error for `text` (files from `write_files`).
fn refusal(text: &str) -> Result<String, Error> {
    let dir = tempfile::tempdir()?;
    write_files(dir.path())?;
    match ProviderConfig::parse(text, dir.path()) {
        Ok(_) => Err("accepted".into()),
        Err(error) => Ok(error.to_string()),
    }
}

#[test]
fn the_test_configuration_is_accepted() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_files(dir.path())?;
    let config = ProviderConfig::parse(&config_text("RS256", ""), dir.path())?;
    assert_eq!(config.clients.len(), 3);
    Ok(())
}

#[test]
fn each_mistake_is_one_line_naming_its_entry() -> TestResult {
    let good = config_text("RS256", "");
    let cases = [
        (
            good.replace(REDIRECT, "http://site.test/callback"),
            "clients[0] (site)",
        ),
        (
            good.replace(REDIRECT, "https://site.test/cb#frag"),
            "clients[0] (site)",
        ),
        (
            good.replace("\"openid\", \"profile\", \"scope_all\"", "\"profile\""),
            "clients[0] (site)",
        ),
        (
            good.replace("client_id = \"pairwise-site\"", "client_id = \"site\""),
            "clients[2] (site)",
        ),
        (
            good.replace(
                "jwks_file = \"client-jwks.json\"",
                "jwks_file = \"missing.json\"",
            ),
            "clients[1] (jwt-site)",
        ),
        // Keys from a URL: over TLS (or on this machine), and one way only.
        (
            good.replace(
                "jwks_file = \"client-jwks.json\"",
                "jwks_uri = \"http://keys.site.test/jwks\"",
            ),
            "clients[1] (jwt-site)",
        ),
        (
            good.replace(
                "jwks_file = \"client-jwks.json\"",
                "jwks_file = \"client-jwks.json\"\njwks_uri = \"https://keys.site.test/jwks\"",
            ),
            "clients[1] (jwt-site)",
        ),
        (
            good.replace(
                "issuer = \"https://idp.test\"",
                "issuer = \"https://idp.test/\"",
            ),
            "issuer",
        ),
        (
            good.replace(
                "issuer = \"https://idp.test\"",
                "issuer = \"http://idp.test\"",
            ),
            "issuer",
        ),
        (
            good.replace("active = false", "active = true"),
            "signing_keys",
        ),
        (
            good.replace(
                "subject_secret = \"a-secret-of-more-than-32-characters-for-pairwise\"",
                "",
            ),
            "subject_secret",
        ),
        (good.replace("root.der", "nothing.der"), "trust.anchors[0]"),
        (good.replace("[trust]", "[trust]\nunknown = 1"), "line "),
        (
            format!("{good}\n[store]\nurl = \"http://127.0.0.1:6379\"\n"),
            "store.url",
        ),
        (
            format!("{good}\n[store]\nurl = \"rediss://r.test\"\nca_file = \"none.pem\"\n"),
            "store.ca_file",
        ),
    ];
    for (text, entry) in cases {
        let error = refusal(&text)?;
        assert!(error.starts_with(entry), "{entry}: {error}");
        assert!(!error.contains('\n'), "{error}");
    }
    Ok(())
}

#[test]
fn loopback_http_redirect_uris_are_allowed() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_files(dir.path())?;
    let text = config_text("RS256", "").replace(REDIRECT, "http://127.0.0.1:8080/cb");
    assert!(ProviderConfig::parse(&text, dir.path()).is_ok());
    Ok(())
}

/// The binary: exit status 2 and one line on stderr, before anything is bound.
#[test]
fn serve_with_a_bad_configuration_stops_with_one_line() -> TestResult {
    let stderr = serve_refused_in_one_line(
        env!("CARGO_BIN_EXE_cpx-idp"),
        &config_text("RS256", "").replace(REDIRECT, "http://site.test/cb"),
    )?;
    assert!(stderr.contains("clients[0] (site)"), "{stderr}");
    Ok(())
}

/// Demo mode makes a missing key; the normal mode refuses to start without it.
#[test]
fn only_demo_mode_makes_a_missing_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_files(dir.path())?;
    std::fs::remove_file(dir.path().join("es.pem"))?;
    // Test anchors refused: the start stops at the trust check, after the keys, before any
    // address is bound.
    let text =
        config_text("RS256", "").replace("allow_test_anchors = true", "allow_test_anchors = false");
    let path = dir.path().join("idp.toml");
    std::fs::write(&path, &text)?;
    let serve = |demo: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cpx-idp"));
        command.arg("serve");
        if demo {
            command.arg("--demo");
        }
        command.arg("--config").arg(&path).output()
    };
    let normal = serve(false)?;
    assert_eq!(normal.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&normal.stderr).contains("signing_keys (es-1)"));
    assert!(!dir.path().join("es.pem").exists());
    let demo = serve(true)?;
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert_eq!(demo.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("made signing key es-1"), "{stderr}");
    assert!(stderr.contains("trust"), "{stderr}");
    let made = std::fs::read_to_string(dir.path().join("es.pem"))?;
    assert!(made.starts_with("-----BEGIN PRIVATE KEY-----"));
    Ok(())
}

/// The try-out configuration the README shows is a valid one.
#[test]
fn the_demo_configuration_is_accepted() -> TestResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo.toml");
    let config = ProviderConfig::load(&path)?;
    assert_eq!(config.issuer, "https://localhost:8444");
    assert!(config.client("demo-site").is_some());
    Ok(())
}
