//! The native messaging host manifest each browser will use: found where that browser looks
//! (on Windows through the registry key naming it), then checked field by field.

use std::path::{Path, PathBuf};

use super::{Check, Context, Findings, Language, Status, Topic};
use crate::install::configuration::{self, ExtraIds};
use crate::install::registry::Registry;
use crate::install::{self, Browser, HostManifest, Location, Platform, Scope};

/// The manifest `browser` will use, checked; true when it starts this binary for our extension.
pub(super) fn check(
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
    let install_fix_without_dev = |scope: Scope| {
        let scope = if scope == Scope::System {
            " --system"
        } else {
            ""
        };
        let command = format!("cpx-connect install{scope}");
        lang.pick(
            format!("run `{command}` (without --dev) on a workstation that is not a developer's"),
            format!("lancez `{command}` (sans --dev) sur un poste qui n'est pas de développement"),
        )
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
            } else if allowed.expected_allowed && allowed.development_admitted {
                let development = context.ids.development_chrome_id();
                (
                    Status::Warn,
                    lang.pick(
                        format!("{name}: {} starts this program for {}, including the development build {development}, whose private key is public: any extension with that id may use the card", file.display(), allowed.list),
                        format!("{name} : {} lance ce programme pour {}, dont la version de développement {development}, dont la clé privée est publique : toute extension portant cet identifiant peut utiliser la carte", file.display(), allowed.list),
                    ),
                    Some(install_fix_without_dev(scope)),
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
    /// The development id, whose key is public, is among them.
    development_admitted: bool,
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
    // The ids the administrator configured count as expected too (Linux).
    let extra = match context.platform {
        Platform::Linux => configuration::read(&context.roots).unwrap_or_default(),
        _ => ExtraIds::default(),
    };
    let origin = |id: &str| format!("chrome-extension://{id}/");
    let (allowed, expected) = if browser.is_firefox() {
        let mut expected = vec![context.ids.firefox_addon_id.clone()];
        expected.extend(extra.firefox);
        (manifest.allowed_extensions.unwrap_or_default(), expected)
    } else {
        // Any channel's id (store, self-hosted, development) is the CPx Connect extension.
        let mut expected: Vec<String> = (context.ids.release_chrome_ids().iter())
            .chain([context.ids.development_chrome_id().to_owned()].iter())
            .chain(extra.chrome.iter())
            .map(|id| origin(id))
            .collect();
        expected.dedup();
        (manifest.allowed_origins.unwrap_or_default(), expected)
    };
    if allowed.is_empty() {
        return Err(ManifestProblem::NobodyAllowed);
    }
    let development = origin(context.ids.development_chrome_id());
    Ok(Allowed {
        list: allowed.join(", "),
        expected_allowed: allowed.iter().any(|entry| expected.contains(entry)),
        development_admitted: !browser.is_firefox() && allowed.contains(&development),
        expected: expected.join(", "),
    })
}
