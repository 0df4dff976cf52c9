//! What `uninstall` removes: the manifests of the selected browsers, except a file another
//! browser still reads, the Windows keys naming them, and the folders and keys left empty.

use std::path::{Path, PathBuf};

use super::registry::{self, Registry};
use super::{
    every_location, io_error, registry_error, registry_value, Browser, InstallError, Location,
    Outcome, Request, Scope, Step,
};

/// Removes the manifest from the locations of the selected browsers, except where a browser
/// left installed reads the same file, then the folders that removal left empty.
pub fn uninstall(request: &Request) -> Result<Vec<Step>, InstallError> {
    uninstall_with(request, super::system_registry().as_mut())
}

/// [`uninstall`] with the given registry (tests use an in-memory one).
pub fn uninstall_with(
    request: &Request,
    registry: &mut dyn Registry,
) -> Result<Vec<Step>, InstallError> {
    let selected = request.selected();
    let host_name = &request.ids.native_host_name;
    let all = every_location(request.platform, request.scope, &request.roots)?;
    let mut steps = Vec::new();
    for location in &all {
        if !location.browsers.iter().any(|b| selected.contains(b)) {
            continue;
        }
        let file = location.manifest_file(host_name);
        let others: Vec<Browser> = location
            .browsers
            .iter()
            .copied()
            .filter(|b| !selected.contains(b))
            .collect();
        if let Some(key) = location.registry_key(host_name) {
            let outcome = unregister(registry, location, &key, others, request.scope)?;
            steps.push(Step {
                file,
                registry: Some(key.to_string()),
                browsers: location.browsers.clone(),
                outcome,
            });
            continue;
        }
        let outcome = if !file.exists() {
            Outcome::NotPresent
        } else if !others.is_empty() {
            Outcome::KeptFor(others)
        } else if let Some(package) = request.packages.owner(&file) {
            Outcome::OwnedByPackage(package)
        } else {
            remove_manifest(request, location, &file)?;
            Outcome::Removed
        };
        steps.push(Step {
            file,
            registry: None,
            browsers: location.browsers.clone(),
            outcome,
        });
    }
    remove_unnamed_manifests(request, registry, &all, &selected, &mut steps)?;
    Ok(steps)
}

/// Windows: deletes the host's key of one location (and the parents that leaves empty).
fn unregister(
    registry: &mut dyn Registry,
    location: &Location,
    key: &registry::RegistryKey,
    others: Vec<Browser>,
    scope: Scope,
) -> Result<Outcome, InstallError> {
    let present = registry
        .default_value(key)
        .map_err(registry_error("read", key, scope))?
        .is_some();
    if !present {
        return Ok(Outcome::NotPresent);
    }
    if !others.is_empty() {
        return Ok(Outcome::KeptFor(others));
    }
    let base = location.registry_base().unwrap_or_else(|| key.clone());
    registry::delete_key_and_empty_parents(registry, key, &base)
        .map_err(registry_error("delete", key, scope))?;
    Ok(Outcome::Removed)
}

/// Windows: several keys name one manifest file. Once none of this scope's keys names it any
/// more, the file goes, then the folders that leaves empty.
fn remove_unnamed_manifests(
    request: &Request,
    registry: &dyn Registry,
    all: &[Location],
    selected: &[Browser],
    steps: &mut Vec<Step>,
) -> Result<(), InstallError> {
    let host_name = &request.ids.native_host_name;
    let mut named = Vec::new();
    for location in all {
        if let Some(key) = location.registry_key(host_name) {
            if let Some(value) =
                registry
                    .default_value(&key)
                    .map_err(registry_error("read", &key, request.scope))?
            {
                named.push(value.to_lowercase());
            }
        }
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for location in all {
        let file = location.manifest_file(host_name);
        if location.registry.is_none()
            || !location.browsers.iter().any(|b| selected.contains(b))
            || seen.contains(&file)
        {
            continue;
        }
        seen.push(file.clone());
        if named.contains(&registry_value(&file).to_lowercase()) || !file.exists() {
            continue;
        }
        remove_manifest(request, location, &file)?;
        let browsers = all
            .iter()
            .filter(|other| other.manifest_file(host_name) == file)
            .flat_map(|other| other.browsers.iter().copied())
            .collect();
        steps.push(Step {
            file,
            registry: None,
            browsers,
            outcome: Outcome::Removed,
        });
    }
    Ok(())
}

/// Removes the manifest folder and its parents while they are empty, stopping below `base`.
/// Deletes a manifest, then the folders it leaves empty.
fn remove_manifest(
    request: &Request,
    location: &Location,
    file: &Path,
) -> Result<(), InstallError> {
    std::fs::remove_file(file).map_err(io_error("remove", file, request.scope))?;
    remove_empty_folders(location);
    Ok(())
}

fn remove_empty_folders(location: &Location) {
    let mut folder = location.directory.as_path();
    while folder.starts_with(&location.base) && folder != location.base {
        // Fails (and stops) on the first folder that still holds something.
        if std::fs::remove_dir(folder).is_err() {
            return;
        }
        match folder.parent() {
            Some(parent) => folder = parent,
            None => return,
        }
    }
}
