//! `cpx-connect doctor`: checks, one line each, whether a card login can work on this workstation
//! and what to fix when it cannot. It reads the card only as the `status` and `certificates`
//! commands do: never a PIN, never a VERIFY.

pub mod card_report;
mod language;
mod logs;
mod manifests;
mod pcsc_service;
pub mod policies;
mod readers;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use time::OffsetDateTime;

use crate::install::registry::Registry;
use crate::install::{self, Browser, ExtensionIds, Platform, Roots};
use crate::readers::{PcscBackend, ReaderBackend};
use crate::service::HostService;

pub use language::Language;
pub use policies::Findings;
pub use readers::certificate_check;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
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
    Manifest(Browser),
    Policy(Browser),
    Logs,
    Verdict,
}

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
}

/// `cpx-connect doctor`: prints the report, exit code 0 only when a login can work.
pub fn run_from_command_line(root: PathBuf) -> ExitCode {
    let language = Language::from_env();
    let Some(platform) = Platform::current() else {
        eprintln!(
            "cpx-connect doctor: {}",
            install::InstallError::UnsupportedPlatform
        );
        return ExitCode::from(2);
    };
    let prepared = ExtensionIds::embedded().and_then(|ids| Ok((ids, install::own_binary()?)));
    let (ids, binary) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("cpx-connect doctor: {error}");
            return ExitCode::from(2);
        }
    };
    let context = Context {
        platform,
        roots: Roots::from_env(root),
        binary,
        ids,
        language,
        now: OffsetDateTime::now_utc(),
        log_directory: crate::logging::log_directory(),
    };
    let report = run(&context, &mut HostService::new(PcscBackend::new()));
    print!("{report}");
    if report.login_possible {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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
    let card_ready =
        status.service_available && readers::check(context, service, &status, &mut checks);
    let mut browsers_ready = Vec::new();
    for browser in Browser::ALL {
        let findings = policies::find(context.platform, browser, &context.roots, &context.ids);
        if manifests::check(context, registry, browser, &findings, &mut checks) {
            browsers_ready.push(browser);
        }
        if let Some(check) = policies::check(lang, browser, &findings) {
            checks.push(check);
        }
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
