//! The browsers' enterprise policies about CPx Connect: what they say (`files.rs`) and the
//! doctor's line about them.

mod files;

pub use files::{find, origin_pattern_problem, policy_sources, Findings};

use super::{Check, Language, Status, Topic};
use crate::install::Browser;

/// One line per browser that has policies; none when it has none.
pub(super) fn check(lang: Language, browser: Browser, findings: &Findings) -> Option<Check> {
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
                .partition(|entry| origin_pattern_problem(entry).is_none());
            let known: Vec<&str> = known.iter().map(|entry| entry.as_str()).collect();
            let mut text = format!("allowedOrigins = {}", known.join(", "));
            if !unknown.is_empty() {
                origins_problem = true;
                let unknown: Vec<String> = unknown
                    .iter()
                    .map(|entry| {
                        let why = origin_pattern_problem(entry).unwrap_or_default();
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
