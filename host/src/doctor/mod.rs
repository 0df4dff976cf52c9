//! `cpx-connect doctor`: checks, one line each, whether a card login can work on this workstation
//! and what to fix when it cannot. It reads the card only as the `status` and `certificates`
//! commands do: never a PIN, never a VERIFY.

pub mod card_report;
mod language;
pub mod policies;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::card::CardType;
use crate::install::registry::Registry;
use crate::install::{self, Browser, ExtensionIds, HostManifest, Location, Platform, Roots, Scope};
use crate::readers::{PcscBackend, ReaderBackend};
use crate::service::{CertificateReport, HostService};

pub use language::Language;
pub use policies::Findings;

/// A certificate expiring sooner than this gets a warning.
const EXPIRY_WARNING: Duration = Duration::days(30);

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
    run_with_registry(context, service, install::registry::system().as_ref())
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
    let card_ready = check_card(context, service, &mut checks);
    let mut browsers_ready = Vec::new();
    for browser in Browser::ALL {
        let findings = policies::find(context.platform, browser, &context.roots, &context.ids);
        if check_manifest(context, registry, browser, &findings, &mut checks) {
            browsers_ready.push(browser);
        }
        if let Some(check) = policy_check(lang, browser, &findings) {
            checks.push(check);
        }
    }
    checks.push(log_check(context));
    let login_possible = card_ready && !browsers_ready.is_empty();
    checks.push(verdict(lang, card_ready, &browsers_ready));
    Report {
        checks,
        login_possible,
        language: lang,
    }
}

/// PC/SC, readers, cards and certificates; true when a recognised card has a usable certificate.
fn check_card<B: ReaderBackend>(
    context: &Context,
    service: &mut HostService<B>,
    checks: &mut Vec<Check>,
) -> bool {
    let lang = context.language;
    let status = service.status();
    if !status.service_available {
        checks.push(Check {
            topic: Topic::PcscService,
            status: Status::Fail,
            text: if context.platform == Platform::Windows {
                lang.pick(
                    "PC/SC service: not reachable (Windows' Smart Card service, SCardSvr, is not running)",
                    "Service PC/SC : injoignable (le service Carte à puce de Windows, SCardSvr, n'est pas démarré)",
                )
            } else {
                lang.pick("PC/SC service: not reachable", "Service PC/SC : injoignable")
            }
            .to_owned(),
            fix: Some(pcsc_fix(context.platform, lang)),
        });
        return false;
    }
    checks.push(Check {
        topic: Topic::PcscService,
        status: Status::Ok,
        text: lang
            .pick("PC/SC service: running", "Service PC/SC : actif")
            .to_owned(),
        fix: None,
    });
    if status.readers.is_empty() {
        checks.push(Check {
            topic: Topic::Readers,
            status: Status::Fail,
            text: lang
                .pick("Card readers: none connected", "Lecteurs de cartes : aucun branché")
                .to_owned(),
            fix: Some(lang.pick(
                "connect the card reader; if it is connected, check that its driver is installed (Linux: apt install libccid)",
                "branchez le lecteur ; s'il l'est, vérifiez que son pilote est installé (Linux : apt install libccid)",
            ).to_owned()),
        });
        return false;
    }
    let names: Vec<&str> = status.readers.iter().map(|r| r.name.as_str()).collect();
    checks.push(Check {
        topic: Topic::Readers,
        status: Status::Ok,
        text: lang.pick(
            format!("Card readers: {}", names.join(", ")),
            format!("Lecteurs de cartes : {}", names.join(", ")),
        ),
        fix: None,
    });
    let mut recognised = 0;
    for reader in &status.readers {
        let Some(card) = &reader.card else {
            continue;
        };
        let known = card.card_type.can_log_in();
        recognised += usize::from(known);
        if card.card_type == CardType::Cps3Contactless {
            checks.push(contactless_card_check(lang, &reader.name));
            continue;
        }
        let atr = crate::hex::encode(&card.atr);
        checks.push(Check {
            topic: Topic::Card,
            status: if known { Status::Ok } else { Status::Warn },
            text: if known {
                lang.pick(
                    format!(
                        "Card in {}: {}",
                        reader.name,
                        card.card_type.protocol_name()
                    ),
                    format!(
                        "Carte dans {} : {}",
                        reader.name,
                        card.card_type.protocol_name()
                    ),
                )
            } else {
                lang.pick(
                    format!(
                        "Card in {}: not a CPx card with a login key (ATR {atr})",
                        reader.name
                    ),
                    format!(
                        "Carte dans {} : pas une carte CPx avec clé d'authentification (ATR {atr})",
                        reader.name
                    ),
                )
            },
            fix: (!known).then(|| {
                lang.pick(
                    "insert a CPS card (contact chip, CPS3 or CPS4)",
                    "insérez une carte CPS (puce à contact, CPS3 ou CPS4)",
                )
                .to_owned()
            }),
        });
    }
    if recognised == 0 {
        // No card at all, or only cards this host cannot log in with.
        let none_inserted = status.readers.iter().all(|r| r.card.is_none());
        checks.push(Check {
            topic: Topic::Card,
            status: Status::Fail,
            text: if none_inserted {
                lang.pick("Card: none inserted", "Carte : aucune insérée")
            } else {
                lang.pick(
                    "Card: no CPx card inserted",
                    "Carte : aucune carte CPx insérée",
                )
            }
            .to_owned(),
            fix: Some(
                lang.pick(
                    "insert your CPS card in the reader",
                    "insérez votre carte CPS dans le lecteur",
                )
                .to_owned(),
            ),
        });
        return false;
    }
    match service.certificates() {
        Ok(certificates) => {
            let mut usable = false;
            for certificate in &certificates {
                let check = certificate_check(lang, context.now, certificate);
                usable |= check.status != Status::Fail;
                checks.push(check);
            }
            usable
        }
        Err(error) => {
            checks.push(Check {
                topic: Topic::Certificate,
                status: Status::Fail,
                text: lang.pick(
                    format!("Certificate: cannot be read ({error})"),
                    format!("Certificat : illisible ({error})"),
                ),
                fix: Some(lang.pick(
                    "remove the card and insert it again; if it persists, the card may be faulty",
                    "retirez la carte puis réinsérez-la ; si cela persiste, la carte est peut-être défectueuse",
                ).to_owned()),
            });
            false
        }
    }
}

/// A CPS3 seen through a contactless interface: the vendor allows no signature there.
fn contactless_card_check(lang: Language, reader: &str) -> Check {
    Check {
        topic: Topic::Card,
        status: Status::Warn,
        text: lang.pick(
            format!("Card in {reader}: a CPS card read contactless, which cannot be used to log in"),
            format!("Carte dans {reader} : carte CPS lue sans contact, inutilisable pour s'identifier"),
        ),
        fix: Some(
            lang.pick(
                "insert the card in the reader's contact slot, chip first (not on the contactless pad)",
                "insérez la carte dans la fente à contact du lecteur, puce en premier (pas sur la zone sans contact)",
            )
            .to_owned(),
        ),
    }
}

fn pcsc_fix(platform: Platform, lang: Language) -> String {
    match platform {
        Platform::Linux => lang.pick(
            "install and start pcscd: sudo apt install pcscd && sudo systemctl enable --now pcscd.socket",
            "installez et démarrez pcscd : sudo apt install pcscd && sudo systemctl enable --now pcscd.socket",
        ),
        Platform::MacOs => lang.pick(
            "macOS's smart card service starts with a reader: reconnect the reader, then restart the Mac if needed",
            "le service carte à puce de macOS démarre avec le lecteur : rebranchez-le, puis redémarrez le Mac si besoin",
        ),
        // Since Windows 8 the Smart Card service (SCardSvr) runs only while a reader is connected.
        Platform::Windows => lang.pick(
            "connect the card reader (Windows starts its Smart Card service, SCardSvr, when a reader appears); if it stays stopped, in an administrator prompt: sc config SCardSvr start= demand && sc start SCardSvr",
            "branchez le lecteur (Windows démarre le service Carte à puce, SCardSvr, à l'arrivée d'un lecteur) ; s'il reste arrêté, dans une invite administrateur : sc config SCardSvr start= demand && sc start SCardSvr",
        ),
    }
    .to_owned()
}

/// Expiry and PIN state of one card's authentication certificate.
pub fn certificate_check(
    lang: Language,
    now: OffsetDateTime,
    certificate: &CertificateReport,
) -> Check {
    let holder = &certificate.holder;
    let who = [holder.given_name.as_deref(), holder.surname.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let id_nat = holder.id_nat.as_deref().unwrap_or("?");
    let card = certificate.card_type.protocol_name();
    let date = certificate
        .not_after
        .get(..10)
        .unwrap_or(&certificate.not_after);
    let pin = &certificate.pin;
    let tries = match pin.max_retries {
        Some(max) => format!("{}/{max}", pin.retries_left),
        None => pin.retries_left.to_string(),
    };
    let summary = lang.pick(
        format!("Certificate of {who} ({id_nat}), {card} card, valid until {date}, PIN tries left {tries}"),
        format!("Certificat de {who} ({id_nat}), carte {card}, valide jusqu'au {date}, essais de code restants {tries}"),
    );
    let (status, fix) = match OffsetDateTime::parse(&certificate.not_after, &Rfc3339) {
        Err(_) => (
            Status::Warn,
            Some(lang.pick("the expiry date could not be read; check the card with its issuer", "la date d'expiration est illisible ; faites vérifier la carte").to_owned()),
        ),
        Ok(not_after) if not_after <= now => (
            Status::Fail,
            Some(lang.pick(
                "the certificate has expired: order a new CPS card (ANS, esante.gouv.fr)",
                "le certificat a expiré : commandez une nouvelle carte CPS (ANS, esante.gouv.fr)",
            ).to_owned()),
        ),
        Ok(_) if pin.retries_left == 0 => (
            Status::Fail,
            Some(lang.pick(
                "the PIN is blocked: unblock it with the card's PUK code (ANS tools) or order a new card",
                "le code porteur est bloqué : débloquez-le avec le code de déblocage (outils de l'ANS) ou commandez une nouvelle carte",
            ).to_owned()),
        ),
        Ok(not_after) if not_after - now < EXPIRY_WARNING => (
            Status::Warn,
            Some(lang.pick(
                "the certificate expires within 30 days: order the card's renewal",
                "le certificat expire dans moins de 30 jours : commandez le renouvellement de la carte",
            ).to_owned()),
        ),
        Ok(_) => (Status::Ok, None),
    };
    Check {
        topic: Topic::Certificate,
        status,
        text: summary,
        fix,
    }
}

/// The manifest `browser` will use, checked; true when it starts this binary for our extension.
fn check_manifest(
    context: &Context,
    registry: &dyn Registry,
    browser: Browser,
    findings: &Findings,
    checks: &mut Vec<Check>,
) -> bool {
    let lang = context.language;
    let name = browser.display_name();
    let host_name = &context.ids.native_host_name;
    let install_fix = |scope: Scope| {
        let scope = if scope == Scope::System {
            " --system"
        } else {
            ""
        };
        let command = format!(
            "cpx-connect install --browser {}{scope}",
            browser.argument()
        );
        lang.pick(format!("run `{command}`"), format!("lancez `{command}`"))
    };
    let mut locations = install::read_order(context.platform, browser, &context.roots);
    if findings.user_level_hosts_disabled {
        locations.retain(|location| location.scope == Scope::System);
    }
    let Some((file, scope)) = locations.iter().find_map(|location| {
        Some((
            registered_manifest(registry, location, host_name)?,
            location.scope,
        ))
    }) else {
        let looked = locations
            .iter()
            .map(|l| match l.registry_key(host_name) {
                Some(key) => key.to_string(),
                None => l.manifest_file(host_name).display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        checks.push(Check {
            topic: Topic::Manifest(browser),
            status: Status::Warn,
            text: lang.pick(
                format!("{name}: host not registered (no manifest in {looked})"),
                format!("{name} : hôte non déclaré (aucun manifeste dans {looked})"),
            ),
            fix: Some(install_fix(if findings.user_level_hosts_disabled {
                Scope::System
            } else {
                Scope::User
            })),
        });
        return false;
    };
    let file = file.as_path();
    let (status, text, fix) = match assess_manifest(context, browser, file) {
        Ok(allowed) => {
            if let Some(policy_file) = &findings.host_blocked_by {
                (
                    Status::Fail,
                    lang.pick(
                        format!("{name}: {} is blocked by the NativeMessagingBlocklist policy of {}", host_name, policy_file.display()),
                        format!("{name} : {} est bloqué par la stratégie NativeMessagingBlocklist de {}", host_name, policy_file.display()),
                    ),
                    Some(lang.pick(
                        format!("add {host_name} to the NativeMessagingAllowlist policy"),
                        format!("ajoutez {host_name} à la stratégie NativeMessagingAllowlist"),
                    )),
                )
            } else if allowed.expected_allowed {
                (
                    Status::Ok,
                    lang.pick(
                        format!(
                            "{name}: {} starts this program for {}",
                            file.display(),
                            allowed.list
                        ),
                        format!(
                            "{name} : {} lance ce programme pour {}",
                            file.display(),
                            allowed.list
                        ),
                    ),
                    None,
                )
            } else {
                (
                    Status::Warn,
                    lang.pick(
                        format!("{name}: {} starts this program but only for {} (not the CPx Connect extension {})", file.display(), allowed.list, allowed.expected),
                        format!("{name} : {} lance ce programme mais seulement pour {} (pas l'extension CPx Connect {})", file.display(), allowed.list, allowed.expected),
                    ),
                    Some(lang.pick(
                        "if that is not your own build of the extension, run `cpx-connect install` without --extension-id".to_owned(),
                        "si ce n'est pas votre propre version de l'extension, lancez `cpx-connect install` sans --extension-id".to_owned(),
                    )),
                )
            }
        }
        Err(problem) => (
            Status::Fail,
            format!(
                "{name}{} {}: {}",
                lang.pick(":", " :"),
                file.display(),
                problem.describe(lang)
            ),
            Some(install_fix(scope)),
        ),
    };
    checks.push(Check {
        topic: Topic::Manifest(browser),
        status,
        text,
        fix,
    });
    status != Status::Fail
}

/// The manifest a browser finds at `location`: the file itself where browsers look in folders,
/// the file the host's key names on Windows (even a missing one: the browser stops there too).
fn registered_manifest(
    registry: &dyn Registry,
    location: &Location,
    host_name: &str,
) -> Option<PathBuf> {
    match location.registry_key(host_name) {
        Some(key) => registry
            .default_value(&key)
            .ok()
            .flatten()
            .map(PathBuf::from),
        None => {
            let file = location.manifest_file(host_name);
            file.exists().then_some(file)
        }
    }
}

/// Who a correct manifest lets in.
struct Allowed {
    list: String,
    expected: String,
    expected_allowed: bool,
}

enum ManifestProblem {
    Unreadable(String),
    WrongName(String),
    WrongType(String),
    MissingBinary(String),
    OtherBinary { theirs: String, ours: String },
    NobodyAllowed,
}

impl ManifestProblem {
    fn describe(&self, lang: Language) -> String {
        match self {
            ManifestProblem::Unreadable(why) => {
                lang.pick(format!("unreadable ({why})"), format!("illisible ({why})"))
            }
            ManifestProblem::WrongName(name) => lang.pick(
                format!("names the host {name:?}"),
                format!("nomme l'hôte {name:?}"),
            ),
            ManifestProblem::WrongType(kind) => lang.pick(
                format!("has type {kind:?} instead of \"stdio\""),
                format!("a le type {kind:?} au lieu de \"stdio\""),
            ),
            ManifestProblem::MissingBinary(path) => lang.pick(
                format!("points at {path}, which does not exist"),
                format!("désigne {path}, qui n'existe pas"),
            ),
            ManifestProblem::OtherBinary { theirs, ours } => lang.pick(
                format!("points at {theirs}, not at this program ({ours})"),
                format!("désigne {theirs}, pas ce programme ({ours})"),
            ),
            ManifestProblem::NobodyAllowed => lang
                .pick("allows no extension", "n'autorise aucune extension")
                .to_owned(),
        }
    }
}

fn assess_manifest(
    context: &Context,
    browser: Browser,
    file: &Path,
) -> Result<Allowed, ManifestProblem> {
    let text =
        std::fs::read_to_string(file).map_err(|e| ManifestProblem::Unreadable(e.to_string()))?;
    let manifest: HostManifest =
        serde_json::from_str(&text).map_err(|e| ManifestProblem::Unreadable(e.to_string()))?;
    if manifest.name != context.ids.native_host_name {
        return Err(ManifestProblem::WrongName(manifest.name));
    }
    if manifest.kind != "stdio" {
        return Err(ManifestProblem::WrongType(manifest.kind));
    }
    // On Windows, Chrome and Firefox take a relative path from the manifest's own folder (the
    // MSI's manifests say just `cpx-connect.exe`); elsewhere it must be absolute.
    let theirs = match file.parent() {
        Some(folder) if context.platform == Platform::Windows => folder.join(&manifest.path),
        _ => PathBuf::from(&manifest.path),
    };
    match install::canonical(&theirs) {
        Err(_) => return Err(ManifestProblem::MissingBinary(manifest.path)),
        Ok(canonical) if canonical != context.binary => {
            return Err(ManifestProblem::OtherBinary {
                theirs: manifest.path,
                ours: context.binary.display().to_string(),
            })
        }
        Ok(_) => {}
    }
    let (allowed, expected) = if browser.is_firefox() {
        (
            manifest.allowed_extensions.unwrap_or_default(),
            vec![context.ids.firefox_addon_id.clone()],
        )
    } else {
        // Any channel's id (store, self-hosted, development) is the CPx Connect extension.
        (
            manifest.allowed_origins.unwrap_or_default(),
            (context.ids.admitted_chrome_ids().iter())
                .map(|id| format!("chrome-extension://{id}/"))
                .collect(),
        )
    };
    if allowed.is_empty() {
        return Err(ManifestProblem::NobodyAllowed);
    }
    Ok(Allowed {
        list: allowed.join(", "),
        expected_allowed: allowed.iter().any(|entry| expected.contains(entry)),
        expected: expected.join(", "),
    })
}

/// One line per browser that has policies; none when it has none.
fn policy_check(lang: Language, browser: Browser, findings: &Findings) -> Option<Check> {
    if findings.is_empty() {
        return None;
    }
    let name = browser.display_name();
    let mut parts = Vec::new();
    let files: Vec<String> = findings
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    if !files.is_empty() {
        parts.push(lang.pick(
            format!("read {}", files.join(", ")),
            format!("lues : {}", files.join(", ")),
        ));
    }
    parts.push(if findings.force_installed {
        lang.pick(
            "the extension is force-installed",
            "l'extension est installée d'office",
        )
        .to_owned()
    } else {
        lang.pick(
            "the extension is not force-installed",
            "l'extension n'est pas installée d'office",
        )
        .to_owned()
    });
    // What the extension makes of allowedOrigins (extension/README.md, "Security decisions" 3, 8).
    let mut origins_problem = false;
    parts.push(match (&findings.allowed_origins, findings.allowed_origins_malformed) {
        (_, Some(kind)) => {
            origins_problem = true;
            lang.pick(
                format!("allowedOrigins is a {kind}, not a list: every site is refused"),
                format!("allowedOrigins est de type {kind}, pas une liste : tous les sites sont refusés"),
            )
        }
        (Some(origins), None) if origins.is_empty() => {
            origins_problem = true;
            lang.pick(
                "allowedOrigins empty (every site refused)",
                "allowedOrigins vide (tous les sites refusés)",
            )
            .to_owned()
        }
        (Some(origins), None) => {
            let (known, unknown): (Vec<&String>, Vec<&String>) = origins
                .iter()
                .partition(|entry| policies::origin_pattern_problem(entry).is_none());
            let known: Vec<&str> = known.iter().map(|entry| entry.as_str()).collect();
            let mut text = format!("allowedOrigins = {}", known.join(", "));
            if !unknown.is_empty() {
                origins_problem = true;
                let unknown: Vec<String> = unknown
                    .iter()
                    .map(|entry| {
                        let why = policies::origin_pattern_problem(entry).unwrap_or_default();
                        format!("{entry} ({why})")
                    })
                    .collect();
                text.push_str(&lang.pick(
                    format!("; ignored, of unknown form: {}", unknown.join(", ")),
                    format!(" ; ignorées, de forme inconnue : {}", unknown.join(", ")),
                ));
            }
            text
        }
        (None, None) => lang
            .pick(
                "no allowedOrigins (every https site)",
                "pas d'allowedOrigins (tous les sites https)",
            )
            .to_owned(),
    });
    if findings.user_level_hosts_disabled {
        parts.push(
            lang.pick(
                "per-user hosts ignored (NativeMessagingUserLevelHosts)",
                "hôtes par utilisateur ignorés (NativeMessagingUserLevelHosts)",
            )
            .to_owned(),
        );
    }
    for file in &findings.not_inspected {
        parts.push(lang.pick(
            format!("{} present (check it with `profiles show`)", file.display()),
            format!(
                "{} présent (vérifiez-le avec `profiles show`)",
                file.display()
            ),
        ));
    }
    let mut status = Status::Ok;
    let mut fix = None;
    if origins_problem {
        status = Status::Warn;
        fix = Some(
            lang.pick(
                "write allowedOrigins as a list of https://host[:port] or https://*.domain",
                "écrivez allowedOrigins comme une liste de https://hôte[:port] ou https://*.domaine",
            )
            .to_owned(),
        );
    }
    if let Some((file, why)) = findings.unreadable.first() {
        status = Status::Warn;
        parts.push(lang.pick(
            format!("{} unreadable: {why}", file.display()),
            format!("{} illisible : {why}", file.display()),
        ));
        fix = Some(
            lang.pick(
                "correct the JSON of that policy file (the browser ignores it as it is)",
                "corrigez le JSON de ce fichier de stratégie (le navigateur l'ignore tel quel)",
            )
            .to_owned(),
        );
    }
    Some(Check {
        topic: Topic::Policy(browser),
        status,
        text: lang.pick(
            format!("{name} policies: {}", parts.join("; ")),
            format!("Stratégies {name} : {}", parts.join(" ; ")),
        ),
        fix,
    })
}

fn log_check(context: &Context) -> Check {
    let lang = context.language;
    match &context.log_directory {
        Some(directory) => Check {
            topic: Topic::Logs,
            status: Status::Ok,
            text: lang.pick(
                format!("Logs: {} (one file per day, cpx-connect.YYYY-MM-DD.log; level: {}=debug)", directory.display(), crate::logging::LEVEL_VARIABLE),
                format!("Journaux : {} (un fichier par jour, cpx-connect.AAAA-MM-JJ.log ; niveau : {}=debug)", directory.display(), crate::logging::LEVEL_VARIABLE),
            ),
            fix: None,
        },
        None => Check {
            topic: Topic::Logs,
            status: Status::Warn,
            text: if context.platform == Platform::Windows {
                lang.pick("Logs: no log folder (LOCALAPPDATA is not set)", "Journaux : aucun dossier (LOCALAPPDATA n'est pas défini)")
            } else {
                lang.pick("Logs: no log folder (HOME is not set)", "Journaux : aucun dossier (HOME n'est pas défini)")
            }.to_owned(),
            fix: Some(format!("{}=/path/to/logs", crate::logging::DIRECTORY_VARIABLE)),
        },
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
