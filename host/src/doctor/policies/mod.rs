//! The browsers' enterprise policies about CPx Connect: what they say (`files.rs`, from policy
//! files or, on Windows, from the registry through `registry_policies.rs`), which sites the
//! extension will then let ask for a card login (`sites.rs`), and the doctor's line.

mod files;
pub mod registry_policies;
pub mod sites;

pub use files::{find, policy_sources, Findings};
pub use sites::{read_origin_pattern, Sites};

use super::{Check, Language, Status};
use crate::doctor::Topic;
use crate::install::Browser;

/// One line per installed browser: its policies, what they do, the worst problem's fix.
pub(super) fn check(lang: Language, browser: Browser, findings: &Findings) -> Check {
    let name = browser.display_name();
    let policy_fix = lang.pick(
        "deploy the policy of ADMIN.md: force-install, allowedOrigins with your sites, and restrictOrigins: true",
        "déployez la stratégie d'ADMIN.md : installation d'office, allowedOrigins avec vos sites, et restrictOrigins: true",
    );
    if findings.is_empty() {
        return Check {
            topic: Topic::Policy(browser),
            status: Status::Warn,
            text: lang.pick(
                format!("{name} policies: none: CPx Connect is not force-installed, and every https site may ask for a card login"),
                format!("Stratégies {name} : aucune : CPx Connect n'est pas installée d'office, et tout site https peut demander une connexion par carte"),
            ),
            fix: Some(policy_fix.to_owned()),
        };
    }
    // The worst problem gives the line its status and its fix.
    let mut worst = (Status::Ok, None);
    let mut parts = Vec::new();
    let files: Vec<String> = (findings.files.iter())
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
    if let Some((lost, winner)) = &findings.forcelist_overridden {
        parts.push(lang.pick(
            format!(
                "the list of {} that installs CPx Connect is overridden by the one of {}",
                lost.display(),
                winner.display()
            ),
            format!(
                "la liste de {} qui installe CPx Connect est remplacée par celle de {}",
                lost.display(),
                winner.display()
            ),
        ));
        raise(
            Status::Warn,
            lang.pick(
                format!("merge the extension lists into one file, or add CPx Connect to {}", winner.display()),
                format!("réunissez les listes d'extensions dans un seul fichier, ou ajoutez CPx Connect à {}", winner.display()),
            ),
            &mut worst,
        );
    }
    let (sites_part, sites_status, sites_fix) = sites_text(lang, browser, findings);
    parts.push(sites_part);
    if let Some(why) = sites_fix {
        raise(sites_status, why, &mut worst);
    }
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
    if let Some((file, why)) = findings.unreadable.first() {
        parts.push(lang.pick(
            format!("{} unreadable: {why}", file.display()),
            format!("{} illisible : {why}", file.display()),
        ));
        raise(
            Status::Warn,
            lang.pick(
                "correct the JSON of that policy file (the browser ignores it as it is)",
                "corrigez le JSON de ce fichier de stratégie (le navigateur l'ignore tel quel)",
            )
            .to_owned(),
            &mut worst,
        );
    }
    let (status, fix) = worst;
    Check {
        topic: Topic::Policy(browser),
        status,
        text: lang.pick(
            format!("{name} policies: {}", parts.join("; ")),
            format!("Stratégies {name} : {}", parts.join(" ; ")),
        ),
        fix,
    }
}

/// Keeps the worse of the line's problem so far and this one.
fn raise(to: Status, fix: String, worst: &mut (Status, Option<String>)) {
    if to > worst.0 {
        *worst = (to, Some(fix));
    }
}

/// Which sites may ask, in words, with the status and fix it deserves.
fn sites_text(
    lang: Language,
    browser: Browser,
    findings: &Findings,
) -> (String, Status, Option<String>) {
    let name = browser.display_name();
    let list_fix = lang.pick(
        "write allowedOrigins as a list of texts https://host[:port] or https://*.domain, and set restrictOrigins: true so that a mistake refuses every site rather than none",
        "écrivez allowedOrigins comme une liste de textes https://hôte[:port] ou https://*.domaine, et mettez restrictOrigins: true pour qu'une erreur refuse tous les sites plutôt qu'aucun",
    ).to_owned();
    let entries_text = |entries: &[sites::Entry]| -> String {
        entries
            .iter()
            .map(|entry| match &entry.reading {
                Ok(origin) if *origin == entry.written => origin.clone(),
                Ok(origin) => format!("{} (= {origin})", entry.written),
                Err(why) => lang.pick(
                    format!("{} (refused: {why})", entry.written),
                    format!("{} (refusée : {why})", entry.written),
                ),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match sites::effective(findings.managed.as_ref(), !browser.is_firefox()) {
        Sites::NoPolicy => (
            lang.pick(
                "no allowedOrigins: every https site may ask for a card login",
                "pas d'allowedOrigins : tout site https peut demander une connexion par carte",
            )
            .to_owned(),
            Status::Warn,
            Some(list_fix),
        ),
        Sites::DroppedOpen { dropped } => (
            lang.pick(
                format!("{name} drops {} (it checks the extension's policy against its schema), so the extension sees no list and EVERY https site may ask for a card login", dropped.join(", ")),
                format!("{name} écarte {} (il vérifie la stratégie de l'extension selon son schéma), donc l'extension ne voit aucune liste et TOUT site https peut demander une connexion par carte", dropped.join(", ")),
            ),
            Status::Fail,
            Some(list_fix),
        ),
        Sites::Only { entries, dropped } if entries.is_empty() => {
            let _ = dropped;
            (
                lang.pick(
                    "allowedOrigins is an empty list: NO site may ask for a card login",
                    "allowedOrigins est une liste vide : AUCUN site ne peut demander de connexion par carte",
                )
                .to_owned(),
                Status::Fail,
                Some(list_fix),
            )
        }
        Sites::Only { entries, dropped } => {
            let mut text = lang.pick(
                format!("only these sites may ask for a card login: {}", entries_text(&entries)),
                format!("seuls ces sites peuvent demander une connexion par carte : {}", entries_text(&entries)),
            );
            if dropped.is_empty() {
                return (text, Status::Ok, None);
            }
            text.push_str(&lang.pick(
                format!(" ({name} drops {})", dropped.join(", ")),
                format!(" ({name} écarte {})", dropped.join(", ")),
            ));
            (text, Status::Warn, Some(list_fix))
        }
        Sites::NoneAllowed {
            reason,
            entries,
            dropped,
        } => {
            let mut text = lang.pick(
                format!("NO site may ask for a card login: {reason}"),
                format!("AUCUN site ne peut demander de connexion par carte : {reason}"),
            );
            if !entries.is_empty() {
                text.push_str(&format!(" ({})", entries_text(&entries)));
            }
            if !dropped.is_empty() {
                text.push_str(&lang.pick(
                    format!(" ({name} drops {})", dropped.join(", ")),
                    format!(" ({name} écarte {})", dropped.join(", ")),
                ));
            }
            (text, Status::Fail, Some(list_fix))
        }
    }
}
