//! The command line: bad arguments give one clear line and a failure exit code, never a panic.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn demo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cpx-demo"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails clearly: exit code 1 (not a panic's 101) and a `cpx-demo: error:` line saying `expected`.
fn assert_clear_failure(output: &Output, expected: &str) {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cpx-demo: error:"), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn serve_args(workdir: &Path, addr: &str, trust_anchor: &Path) -> Vec<String> {
    vec![
        "serve".into(),
        "--addr".into(),
        addr.into(),
        "--db".into(),
        workdir.join("demo.sqlite").display().to_string(),
        "--trust-anchor".into(),
        trust_anchor.display().to_string(),
    ]
}

/// `cpx-demo serve` with `serve_args`, to its end: a start that must fail.
fn serve(workdir: &Path, addr: &str, trust_anchor: &Path) -> std::io::Result<Output> {
    demo()
        .args(serve_args(workdir, addr, trust_anchor))
        .output()
}

#[test]
fn missing_trust_anchor_file_is_reported() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let missing = workdir.path().join("no-such-ca.der");
    let output = serve(workdir.path(), "127.0.0.1:0", &missing)?;
    assert_clear_failure(&output, "cannot read");
    assert!(stderr_of(&output).contains("no-such-ca.der"));
    Ok(())
}

#[test]
fn pem_trust_anchor_is_reported_as_not_der() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let pem = workdir.path().join("ca.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )?;
    let output = serve(workdir.path(), "127.0.0.1:0", &pem)?;
    assert_clear_failure(&output, "is not a DER-encoded certificate");
    Ok(())
}

#[test]
fn der_that_is_not_a_certificate_is_refused() -> TestResult {
    let workdir = tempfile::tempdir()?;
    // A well-formed DER SEQUENCE, but a CRL, given where a CA certificate is expected.
    let output = serve(workdir.path(), "127.0.0.1:0", &fixture("test-ca.crl.der"))?;
    assert_clear_failure(&output, "trust configuration refused");
    Ok(())
}

#[test]
fn port_in_use_is_reported() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?.to_string();
    let output = serve(workdir.path(), &addr, &fixture("test-ca.der"))?;
    assert_clear_failure(&output, "already in use");
    Ok(())
}

#[test]
fn origin_must_be_https_without_path() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let mut args = serve_args(workdir.path(), "127.0.0.1:0", &fixture("test-ca.der"));
    args.extend(["--origin".into(), "http://localhost:8443/login".into()]);
    let output = demo().args(args).output()?;
    assert_clear_failure(&output, "invalid origin");
    Ok(())
}

#[test]
fn add_user_creates_an_account_and_refuses_a_duplicate() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let db = workdir.path().join("demo.sqlite");
    let add = |password: &str| {
        demo()
            .args(["add-user", "jean.martin", "--password", password])
            .args(["--name", "Jean Martin", "--db"])
            .arg(&db)
            .output()
    };
    let created = add("motdepasse")?;
    assert!(created.status.success(), "{}", stderr_of(&created));

    let store = cpx_demo::AccountStore::open(&db)?;
    let account = store.check_password("jean.martin", "motdepasse")?;
    assert_eq!(
        account.map(|account| account.display_name).as_deref(),
        Some("Jean Martin")
    );

    let duplicate = add("autre")?;
    assert_clear_failure(&duplicate, "already taken");
    Ok(())
}

#[test]
fn bad_openid_connect_options_are_reported() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let secret = workdir.path().join("secret");
    std::fs::write(&secret, "s3cret")?;
    let not_pem = workdir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate")?;
    let missing = workdir.path().join("no-such-secret");
    let anchor = fixture("test-ca.der");
    let run = |issuer: &str, secret_file: &Path, ca: Option<&Path>| {
        let mut command = demo();
        command
            .args(serve_args(workdir.path(), "127.0.0.1:0", &anchor))
            .args(["--allow-test-anchors", "--oidc-issuer", issuer, "--crl"])
            .arg(fixture("test-ca.crl.der"))
            .args(["--oidc-client-id", "cpx-demo", "--oidc-client-secret-file"])
            .arg(secret_file);
        if let Some(ca) = ca {
            command.arg("--oidc-provider-ca").arg(ca);
        }
        command.output()
    };
    let output = run("https://idp.example", &missing, None)?;
    assert_clear_failure(&output, "cannot read");
    assert!(stderr_of(&output).contains("no-such-secret"));
    assert_clear_failure(&run("not a url", &secret, None)?, "issuer");
    assert_clear_failure(
        &run("https://idp.example", &secret, Some(&not_pem))?,
        "provider CA",
    );
    // An issuer without its client: refused by the argument parser (exit code 2).
    let alone = demo()
        .args(serve_args(workdir.path(), "127.0.0.1:0", &anchor))
        .args(["--oidc-issuer", "https://idp.example"])
        .output()?;
    assert_eq!(alone.status.code(), Some(2), "{}", stderr_of(&alone));
    Ok(())
}
