//! The router used in-process, without a socket: what an integrator's own tests would do.

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use cpx_demo::{router_from_config, AppError, DemoConfig};
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn test_ca() -> std::io::Result<Vec<u8>> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("fixtures")
            .join("test-ca.der"),
    )
}

/// The site on the test CA, its database in `workdir`.
fn test_config(workdir: &Path) -> Result<DemoConfig, Box<dyn std::error::Error>> {
    let mut config = DemoConfig::new(
        "https://localhost:8443",
        workdir.join("demo.sqlite"),
        vec![test_ca()?],
    )?;
    config.allow_test_anchors = true;
    config.no_crl_for_der = vec![test_ca()?];
    Ok(config)
}

#[tokio::test]
async fn login_page_in_process_starts_a_session() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let router = router_from_config(test_config(workdir.path())?)?;
    let response = router
        .oneshot(Request::get("/").body(Body::empty())?)
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(cookie.starts_with("__Host-cpx_demo_session="), "{cookie}");
    assert!(workdir.path().join("demo.sqlite").is_file());
    Ok(())
}

#[test]
fn unusable_configuration_is_an_error_not_a_panic() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let in_missing_folder = workdir.path().join("no-such-folder").join("demo.sqlite");
    let config = DemoConfig::new(
        "https://localhost:8443",
        in_missing_folder,
        vec![test_ca()?],
    )?;
    assert!(matches!(
        router_from_config(config),
        Err(AppError::Store(_))
    ));

    let config = DemoConfig::new(
        "https://localhost:8443",
        workdir.path().join("demo.sqlite"),
        vec![b"\x30\x03\x02\x01\x01".to_vec()],
    )?;
    assert!(matches!(
        router_from_config(config),
        Err(AppError::Trust(_))
    ));
    Ok(())
}

/// The CSRF check comes before every other check of a form: a forged form gets the refusal
/// page (403), not the redirect that a missing pending card or a signed-out session would
/// give, and nothing is written to the session.
#[tokio::test]
async fn a_forged_form_is_refused_before_any_other_check() -> TestResult {
    let workdir = tempfile::tempdir()?;
    let router = router_from_config(test_config(workdir.path())?)?;
    let login = router
        .clone()
        .oneshot(Request::get("/").body(Body::empty())?)
        .await?;
    let cookie = login
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .ok_or("the login page set no cookie")?
        .to_owned();
    // Signed out, no card pending: past the CSRF check these would be 303s to `/`.
    for path in [
        "/lier",
        "/compte/dissocier",
        "/lier/annuler",
        "/deconnexion",
    ] {
        let response = router
            .clone()
            .oneshot(
                Request::post(path)
                    .header(header::COOKIE, &cookie)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("csrf=forged&password=x&username=x"))?,
            )
            .await?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            response.headers().get(header::SET_COOKIE).is_none(),
            "{path}"
        );
    }
    Ok(())
}
