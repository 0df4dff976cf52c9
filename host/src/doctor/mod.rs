//! `cpx-connect doctor`: checks, one line each, whether a card login can work on this workstation
//! and what to fix when it cannot. It reads the card only as the `status` and `certificates`
//! commands do: never a PIN, never a VERIFY.

mod browsers;
pub mod card_report;
mod language;
mod logs;
mod manifests;
mod pcsc_service;
pub mod policies;
mod readers;
mod remote_session;
mod sandboxes;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::install::registry::Registry;
use crate::install::{self, Browser, ExtensionIds, Platform, Roots};
use crate::readers::{PcscBackend, ReaderBackend};
use crate::service::HostService;

pub use language::Language;
pub use policies::Findings;
pub use readers::certificate_check;

/// Ordered: `Ok` < `Warn` < `Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The name in `--json`.
    pub fn json_name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours the width the report asks for.
        f.pad(match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        })
    }
}

/// What a line is about, so callers (and tests) can find it whatever the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Host,
    PcscService,
    Readers,
    Card,
    Certificate,
    /// Which browsers are installed.
    Browsers,
    Manifest(Browser),
    /// A browser installed as a snap or a Flatpak (Linux).
    Sandbox(Browser),
    Policy(Browser),
    Logs,
    Verdict,
}

impl Topic {
    /// The name in `--json`, and the browser the line is about.
    pub fn json_name(self) -> (&'static str, Option<Browser>) {
        match self {
            Topic::Host => ("host", None),
            Topic::PcscService => ("pcscService", None),
            Topic::Readers => ("readers", None),
            Topic::Card => ("card", None),
            Topic::Certificate => ("certificate", None),
            Topic::Browsers => ("browsers", None),
            Topic::Manifest(browser) => ("manifest", Some(browser)),
            Topic::Sandbox(browser) => ("sandbox", Some(browser)),
            Topic::Policy(browser) => ("policy", Some(browser)),
            Topic::Logs => ("logs", None),
            Topic::Verdict => ("verdict", None),
        }
    }
}

/// The exit codes, as ADMIN.md states them.
pub mod exit {
    /// Every line is OK: a card login can work and nothing needs attention.
    pub const ALL_OK: u8 = 0;
    /// No FAIL, but at least one WARN: a login can work; something should be looked at.
    pub const WARNINGS: u8 = 1;
    /// At least one FAIL (among them: a login cannot work).
    pub const FAILURES: u8 = 2;
    /// The doctor itself could not run (bad arguments, unsupported platform, damaged binary).
    pub const DOCTOR_ERROR: u8 = 3;
}

/// The version of `--json`'s layout: raised when a field changes meaning or goes away (new
/// fields may appear without it).
pub const JSON_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub topic: Topic,
    pub status: Status,
    pub text: String,
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
    pub login_possible: bool,
    pub language: Language,
}

impl Report {
    pub fn checks_about(&self, topic: Topic) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(move |check| check.topic == topic)
    }

    /// The worst status of any line.
    pub fn status(&self) -> Status {
        (self.checks.iter())
            .map(|check| check.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// [`exit::ALL_OK`], [`exit::WARNINGS`] or [`exit::FAILURES`].
    pub fn exit_code(&self) -> u8 {
        match self.status() {
            Status::Ok => exit::ALL_OK,
            Status::Warn => exit::WARNINGS,
            Status::Fail => exit::FAILURES,
        }
    }

    /// The report for `--json` (layout in ADMIN.md, version [`JSON_SCHEMA`]).
    pub fn to_json(&self) -> Value {
        let checks: Vec<Value> = (self.checks.iter())
            .map(|check| {
                let (topic, browser) = check.topic.json_name();
                json!({
                    "topic": topic,
                    "browser": browser.map(Browser::argument),
                    "status": check.status.json_name(),
                    "text": check.text,
                    "fix": check.fix,
                })
            })
            .collect();
        json!({
            "schema": JSON_SCHEMA,
            "version": env!("CARGO_PKG_VERSION"),
            "status": self.status().json_name(),
            "exitCode": self.exit_code(),
            "loginPossible": self.login_possible,
            "language": self.language.pick("en", "fr"),
            "checks": checks,
        })
    }
}

/// What `--json` prints when the doctor cannot run at all.
fn error_json(error: &str) -> Value {
    json!({
        "schema": JSON_SCHEMA,
        "version": env!("CARGO_PKG_VERSION"),
        "status": "error",
        "exitCode": exit::DOCTOR_ERROR,
        "error": error,
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix_label = self.language.pick("fix:", "correctif :");
        for check in &self.checks {
            write!(f, "{:<4}  {}", check.status, check.text)?;
            if let Some(fix) = &check.fix {
                write!(f, " -> {fix_label} {fix}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Everything the checks need besides the card readers.
#[derive(Debug, Clone)]
pub struct Context {
    pub platform: Platform,
    pub roots: Roots,
    /// The binary manifests should point at (canonical path).
    pub binary: PathBuf,
    pub ids: ExtensionIds,
    pub language: Language,
    pub now: OffsetDateTime,
    pub log_directory: Option<PathBuf>,
    /// The browsers to check; `None`: the installed ones (all of them when none is found).
    pub browsers: Option<Vec<Browser>>,
}

/// `cpx-connect doctor [--json]`: prints the report; the exit code is in [`exit`].
pub fn run_from_command_line(root: PathBuf, as_json: bool) -> ExitCode {
    let language = Language::from_env();
    let cannot_run = |error: String| {
        if as_json {
            println!("{}", error_json(&error));
        }
        eprintln!("cpx-connect doctor: {error}");
        ExitCode::from(exit::DOCTOR_ERROR)
    };
    let Some(platform) = Platform::current() else {
        return cannot_run(install::InstallError::UnsupportedPlatform.to_string());
    };
    let prepared = ExtensionIds::embedded().and_then(|ids| Ok((ids, install::own_binary()?)));
    let (ids, binary) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return cannot_run(error.to_string()),
    };
    let context = Context {
        platform,
        roots: Roots::from_env(root),
        binary,
        ids,
        language,
        now: OffsetDateTime::now_utc(),
        log_directory: crate::logging::log_directory(),
        browsers: None,
    };
    let report = run(&context, &mut HostService::new(PcscBackend::new()));
    if as_json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    ExitCode::from(report.exit_code())
}

/// Runs every check.
pub fn run<B: ReaderBackend>(context: &Context, service: &mut HostService<B>) -> Report {
    run_with_registry(context, service, install::system_registry().as_ref())
}

/// [`run`] reading Windows registrations from `registry` (tests use an in-memory one).
pub fn run_with_registry<B: ReaderBackend>(
    context: &Context,
    service: &mut HostService<B>,
    registry: &dyn Registry,
) -> Report {
    let lang = context.language;
    let mut checks = vec![Check {
        topic: Topic::Host,
        status: Status::Ok,
        text: lang.pick(
            format!(
                "cpx-connect {} at {}",
                env!("CARGO_PKG_VERSION"),
                context.binary.display()
            ),
            format!(
                "cpx-connect {} dans {}",
                env!("CARGO_PKG_VERSION"),
                context.binary.display()
            ),
        ),
        fix: None,
    }];
    let status = service.status();
    checks.push(pcsc_service::check(context, status.service_available));
    if context.platform == Platform::Linux {
        // Read from the doctor's own environment: the session's, as the browser passes it on.
        checks.extend(remote_session::check(
            lang,
            |name| std::env::var_os(name),
            Path::exists,
        ));
    }
    let card_ready =
        status.service_available && readers::check(context, service, &status, &mut checks);
    let browsers = match &context.browsers {
        Some(browsers) => browsers.clone(),
        None => {
            let installed = browsers::installed(context.platform, &context.roots, registry);
            checks.push(browsers_check(lang, &installed));
            if installed.is_empty() {
                Browser::ALL.to_vec()
            } else {
                installed
            }
        }
    };
    let confined = if context.platform == Platform::Linux {
        sandboxes::confined(&context.roots)
    } else {
        Vec::new()
    };
    let mut browsers_ready = Vec::new();
    for browser in browsers {
        let findings = policies::find(
            context.platform,
            browser,
            &context.roots,
            &context.ids,
            registry,
        );
        let manifest_ready = manifests::check(context, registry, browser, &findings, &mut checks);
        let confined: Vec<_> = confined.iter().filter(|c| c.browser == browser).collect();
        for installation in &confined {
            checks.push(sandboxes::check(lang, installation, &context.roots));
        }
        // Installed only confined, where nothing starts the host for it: no login there.
        let confined_out = !confined.is_empty()
            && confined.iter().all(|installation| {
                !installation.unconfined_too
                    && !sandboxes::can_start_the_host(installation, &context.roots)
            });
        let policy = policies::check(lang, browser, &findings);
        // A policy that refuses every site stops the login as surely as a missing manifest.
        let sites = policies::sites::effective(findings.managed.as_ref(), !browser.is_firefox());
        if manifest_ready && !sites.refuses_all() && !confined_out {
            browsers_ready.push(browser);
        }
        checks.push(policy);
    }
    checks.push(logs::check(context));
    let login_possible = card_ready && !browsers_ready.is_empty();
    checks.push(verdict(lang, card_ready, &browsers_ready));
    Report {
        checks,
        login_possible,
        language: lang,
    }
}

/// The installed browsers; none found: every one is checked, in case it sits elsewhere.
fn browsers_check(lang: Language, installed: &[Browser]) -> Check {
    if installed.is_empty() {
        return Check {
            topic: Topic::Browsers,
            status: Status::Warn,
            text: lang.pick(
                "Browsers: none found where their installers put them; every one is checked below",
                "Navigateurs : aucun trouvé là où leurs installateurs les mettent ; tous sont vérifiés ci-dessous",
            ).to_owned(),
            fix: Some(lang.pick(
                "install Chrome, Edge, Chromium, Brave or Firefox",
                "installez Chrome, Edge, Chromium, Brave ou Firefox",
            ).to_owned()),
        };
    }
    let names: Vec<&str> = installed.iter().map(|b| b.display_name()).collect();
    Check {
        topic: Topic::Browsers,
        status: Status::Ok,
        text: lang.pick(
            format!("Browsers: {}", names.join(", ")),
            format!("Navigateurs : {}", names.join(", ")),
        ),
        fix: None,
    }
}

fn verdict(lang: Language, card_ready: bool, browsers_ready: &[Browser]) -> Check {
    if card_ready && !browsers_ready.is_empty() {
        let names: Vec<&str> = browsers_ready.iter().map(|b| b.display_name()).collect();
        return Check {
            topic: Topic::Verdict,
            status: Status::Ok,
            text: lang.pick(
                format!("A card login can work in: {}", names.join(", ")),
                format!(
                    "La connexion par carte peut fonctionner dans : {}",
                    names.join(", ")
                ),
            ),
            fix: None,
        };
    }
    Check {
        topic: Topic::Verdict,
        status: Status::Fail,
        text: lang
            .pick(
                "A card login cannot work yet",
                "La connexion par carte ne peut pas encore fonctionner",
            )
            .to_owned(),
        fix: Some(
            lang.pick(
                "correct the FAIL lines above",
                "corrigez les lignes FAIL ci-dessus",
            )
            .to_owned(),
        ),
    }
}
