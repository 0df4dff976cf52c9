//! The administrators' command line: `install`, `uninstall`, `doctor`. Browsers start the host
//! with arguments of their own, so only a first argument that is one of ours leads here.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::doctor;
use crate::install::{
    self, configuration, Browser, ExtensionIds, InstallError, PackageDatabase, Platform, Roots,
    Scope,
};

/// First arguments that mean "the command line", never sent by a browser (Chrome sends
/// `chrome-extension://ID/`, Firefox the manifest path).
const CLI_FIRST_ARGUMENTS: [&str; 8] = [
    "install",
    "uninstall",
    "doctor",
    "help",
    "--help",
    "-h",
    "--version",
    "-V",
];

/// Whether the process was started from the command line rather than by a browser.
pub fn is_command_line(first_argument: Option<&OsString>) -> bool {
    first_argument
        .and_then(|argument| argument.to_str())
        .is_some_and(|argument| CLI_FIRST_ARGUMENTS.contains(&argument))
}

#[derive(Debug, Parser)]
#[command(
    name = "cpx-connect",
    version,
    about = "CPx Connect native messaging host: login to health web services with a CPx card",
    long_about = "CPx Connect native messaging host: login to health web services with a CPx card.\n\n\
        Browsers start this program themselves; administrators use the subcommands below to \
        register it with the browsers and to check a workstation."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register the host with the browsers: manifests (and on Windows the registry keys naming
    /// them), per user or --system.
    Install(InstallArguments),
    /// Remove what `install` wrote (manifests, and on Windows its registry keys).
    Uninstall(UninstallArguments),
    /// Check that a card login can work on this workstation, and explain what to fix.
    Doctor(DoctorArguments),
}

#[derive(Debug, Args)]
struct Target {
    /// For every account on this machine (needs administrator rights) instead of the current user.
    #[arg(long)]
    system: bool,
    /// Only this browser (repeatable); default: all of them.
    #[arg(long = "browser", value_enum, value_name = "BROWSER")]
    browsers: Vec<Browser>,
    /// Prefix of every system path (tests).
    #[arg(long, hide = true, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InstallArguments {
    #[command(flatten)]
    target: Target,
    /// Chrome extension id allowed to start the host (your own build's) instead of the CPx
    /// Connect release ids. Extra ids for a fleet go in /etc/cpx-connect/extension-ids.conf
    /// (Linux) or the MSI's EXTENSION_IDS property (Windows).
    #[arg(long, value_name = "ID")]
    extension_id: Option<String>,
    /// Also admit the development build's id (the unpacked extension), whose private key is
    /// public: for development machines only.
    #[arg(long)]
    dev: bool,
    /// Files owned by packages, as `package: /path` lines (tests).
    #[arg(long, hide = true, value_name = "FILE")]
    package_files: Option<PathBuf>,
    /// Only the manifests, not the registry keys naming them (the MSI's custom action: the MSI
    /// owns the keys).
    #[arg(long, hide = true)]
    manifests_only: bool,
    /// Only check a list of extra ids (the MSI's EXTENSION_IDS, before it installs anything):
    /// exit 1 with the reason when an item is no id.
    #[arg(long, hide = true, value_name = "LIST", conflicts_with_all = ["extension_id", "dev", "manifests_only"])]
    check_extension_ids: Option<String>,
}

#[derive(Debug, Args)]
struct UninstallArguments {
    #[command(flatten)]
    target: Target,
    /// Files owned by packages, as `package: /path` lines (tests).
    #[arg(long, hide = true, value_name = "FILE")]
    package_files: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DoctorArguments {
    /// Prefix of every system path (tests).
    #[arg(long, hide = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Instead of the checks, write what each inserted card says about itself (public data
    /// only, no PIN: ATR, PKCS#15 files, certificates, PIN tries, APDU trace) to FILE, `-` for
    /// standard output, to attach to a bug report.
    #[arg(long, value_name = "FILE")]
    card_report: Option<PathBuf>,
    /// Print the report as one JSON object (layout in ADMIN.md) instead of lines.
    #[arg(long, conflicts_with = "card_report")]
    json: bool,
}

/// Parses the command line and runs the subcommand; clap prints help, version and usage errors.
pub fn run(arguments: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(&arguments) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // doctor's own codes: 2 means a FAIL line there, so a usage error is "could not run".
            let doctor = arguments_name_doctor(&arguments);
            return match (error.use_stderr(), doctor) {
                (false, _) => ExitCode::SUCCESS,
                (true, true) => ExitCode::from(doctor::exit::DOCTOR_ERROR),
                (true, false) => ExitCode::from(2),
            };
        }
    };
    match cli.command {
        Command::Install(InstallArguments {
            check_extension_ids: Some(list),
            ..
        }) => check_extension_ids(&list),
        Command::Install(arguments) => {
            let admitted = Admitted {
                extension_id: arguments.extension_id,
                dev: arguments.dev,
                configuration: true,
            };
            report_steps(
                request(arguments.target, admitted, arguments.package_files).and_then(|mut r| {
                    r.registry_keys = !arguments.manifests_only;
                    install::install(&r)
                }),
            )
        }
        Command::Uninstall(arguments) => {
            let admitted = Admitted {
                extension_id: None,
                dev: false,
                configuration: false,
            };
            report_steps(
                request(arguments.target, admitted, arguments.package_files)
                    .and_then(|r| install::uninstall(&r)),
            )
        }
        Command::Doctor(DoctorArguments {
            card_report: Some(file),
            ..
        }) => doctor::card_report::run_from_command_line(&file),
        Command::Doctor(arguments) => {
            doctor::run_from_command_line(root_or_slash(arguments.root), arguments.json)
        }
    }
}

/// `install --check-extension-ids LIST`: what the MSI runs before installing anything, so that a
/// malformed EXTENSION_IDS fails the installation with the reason instead of a broken manifest.
fn check_extension_ids(list: &str) -> ExitCode {
    match configuration::parse_list("EXTENSION_IDS", list) {
        Ok(extra) => {
            println!(
                "EXTENSION_IDS: {} Chrome extension id(s), {} Firefox add-on id(s)",
                extra.chrome.len(),
                extra.firefox.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cpx-connect: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the subcommand is `doctor`.
fn arguments_name_doctor(arguments: &[OsString]) -> bool {
    arguments.get(1).and_then(|a| a.to_str()) == Some("doctor")
}

fn root_or_slash(root: Option<PathBuf>) -> PathBuf {
    root.unwrap_or_else(|| PathBuf::from("/"))
}

/// Which extension ids the manifests admit besides the release ones.
struct Admitted {
    extension_id: Option<String>,
    dev: bool,
    /// Read /etc/cpx-connect/extension-ids.conf (Linux).
    configuration: bool,
}

fn request(
    target: Target,
    admitted: Admitted,
    package_files: Option<PathBuf>,
) -> Result<install::Request, InstallError> {
    let platform = Platform::current().ok_or(InstallError::UnsupportedPlatform)?;
    let ids = ExtensionIds::embedded()?;
    let scope = if target.system {
        Scope::System
    } else {
        Scope::User
    };
    let roots = Roots::from_env(root_or_slash(target.root));
    let mut chrome = admitted
        .extension_id
        .map_or_else(|| ids.release_chrome_ids(), |id| vec![id]);
    if admitted.dev {
        chrome.push(ids.development_chrome_id().to_owned());
    }
    let mut firefox = vec![ids.firefox_addon_id.clone()];
    if admitted.configuration {
        let extra = match platform {
            Platform::Linux => configuration::read(&roots)?,
            // What the MSI's EXTENSION_IDS wrote; refused whole when malformed.
            Platform::Windows => configuration::read_registry(install::system_registry().as_ref())?,
            Platform::MacOs => configuration::ExtraIds::default(),
        };
        for skipped in &extra.skipped {
            eprintln!("cpx-connect: {}: {skipped}: skipped", extra.source);
        }
        chrome.extend(extra.chrome);
        firefox.extend(extra.firefox);
    }
    let packages = match package_files {
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|source| InstallError::Io {
                action: "read",
                path: file,
                scope,
                source,
            })?;
            PackageDatabase::from_listing(&text)
        }
        // Package managers own system files on Linux only.
        None if scope == Scope::System && platform == Platform::Linux => PackageDatabase::System,
        None => PackageDatabase::None,
    };
    Ok(install::Request {
        platform,
        scope,
        roots,
        browsers: target.browsers,
        binary: install::own_binary()?,
        chrome_extension_ids: without_repeats(chrome),
        firefox_addon_ids: without_repeats(firefox),
        ids,
        packages,
        registry_keys: true,
    })
}

/// The list in its order, each id once.
fn without_repeats(ids: Vec<String>) -> Vec<String> {
    let mut once: Vec<String> = Vec::new();
    for id in ids {
        if !once.contains(&id) {
            once.push(id);
        }
    }
    once
}

fn report_steps(result: Result<Vec<install::Step>, InstallError>) -> ExitCode {
    match result {
        Ok(steps) => {
            let mut refused = false;
            for step in steps {
                refused |= matches!(step.outcome, install::Outcome::OwnedByPackage(_));
                println!("{step}");
            }
            if refused {
                eprintln!("cpx-connect: files that a package installed were left as they are: remove or reconfigure that package instead");
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("cpx-connect: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_launches_are_not_command_lines() {
        for argument in [
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
            "/home/u/.mozilla/native-messaging-hosts/org.cpxconnect.host.json",
            "--parent-window=12",
            "cpx-connect@cpxconnect.org",
            "Install",
        ] {
            assert!(
                !is_command_line(Some(&OsString::from(argument))),
                "{argument}"
            );
        }
        assert!(!is_command_line(None));
        for argument in ["install", "uninstall", "doctor", "--help", "--version"] {
            assert!(
                is_command_line(Some(&OsString::from(argument))),
                "{argument}"
            );
        }
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "cpx-connect",
            "install",
            "--system",
            "--browser",
            "edge",
            "--browser",
            "firefox",
        ])
        .unwrap();
        let Command::Install(arguments) = cli.command else {
            panic!("install expected");
        };
        assert!(arguments.target.system);
        assert_eq!(
            arguments.target.browsers,
            vec![Browser::Edge, Browser::Firefox]
        );
    }
}
