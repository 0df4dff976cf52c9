//! Writing the native messaging host manifests: their content per browser family, and the write
//! itself (atomic, world-readable, untouched when identical), with the registry keys naming them
//! on Windows.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::registry::Registry;
use super::{
    check_addon_id, check_extension_id, io_error, locations, registry_error, registry_value,
    ExtensionIds, InstallError, Location, Outcome, Request, Scope, Step,
};

/// The manifest a browser reads, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostManifest {
    pub name: String,
    pub description: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_extensions: Option<Vec<String>>,
}

pub const MANIFEST_DESCRIPTION: &str =
    "CPx Connect: login to health web services with a CPx card (CPS)";

impl HostManifest {
    /// The manifest for the browsers of one location: Firefox names add-ons, the Chromium family
    /// names extension origins; a location is read by one family only.
    pub fn for_location(
        location: &Location,
        binary: &Path,
        ids: &ExtensionIds,
        chrome_extension_ids: &[String],
        firefox_addon_ids: &[String],
    ) -> HostManifest {
        let firefox = location.browsers.iter().any(|b| b.is_firefox());
        HostManifest {
            name: ids.native_host_name.clone(),
            description: MANIFEST_DESCRIPTION.to_owned(),
            path: binary.to_string_lossy().into_owned(),
            kind: "stdio".to_owned(),
            allowed_origins: (!firefox).then(|| {
                chrome_extension_ids
                    .iter()
                    .map(|id| format!("chrome-extension://{id}/"))
                    .collect()
            }),
            allowed_extensions: firefox.then(|| firefox_addon_ids.to_vec()),
        }
    }

    /// Pretty JSON with a final newline, the exact bytes written to disk.
    pub fn to_file_text(&self) -> String {
        // A struct of strings always serialises.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Writes the manifest into every location of the selected browsers (and, on Windows, the
/// registry keys naming it). Rewriting an identical manifest touches nothing and says so.
pub fn install(request: &Request) -> Result<Vec<Step>, InstallError> {
    install_with(request, super::system_registry().as_mut())
}

/// [`install`] with the given registry (tests use an in-memory one).
pub fn install_with(
    request: &Request,
    registry: &mut dyn Registry,
) -> Result<Vec<Step>, InstallError> {
    for id in &request.chrome_extension_ids {
        check_extension_id(id)?;
    }
    for id in &request.firefox_addon_ids {
        check_addon_id(id)?;
    }
    let selected = request.selected();
    let mut steps = Vec::new();
    for location in locations(request.platform, request.scope, &request.roots)? {
        if !location.browsers.iter().any(|b| selected.contains(b)) {
            continue;
        }
        let manifest = HostManifest::for_location(
            &location,
            &request.binary,
            &request.ids,
            &request.chrome_extension_ids,
            &request.firefox_addon_ids,
        );
        let file = location.manifest_file(&request.ids.native_host_name);
        if let Some(package) = request.packages.owner(&file) {
            steps.push(Step {
                file,
                registry: None,
                browsers: location.browsers.clone(),
                outcome: Outcome::OwnedByPackage(package),
            });
            continue;
        }
        // The file first: a key never names a manifest that is not there yet.
        let mut outcome = write_if_changed(&file, &manifest.to_file_text(), request.scope)?;
        let key = location
            .registry_key(&request.ids.native_host_name)
            .filter(|_| request.registry_keys);
        if let Some(key) = &key {
            let value = registry_value(&file);
            let existing =
                registry
                    .default_value(key)
                    .map_err(registry_error("read", key, request.scope))?;
            if existing.as_deref() != Some(value.as_str()) {
                registry
                    .set_default_value(key, &value)
                    .map_err(registry_error("write", key, request.scope))?;
                outcome = if existing.is_some() {
                    Outcome::Updated
                } else {
                    Outcome::Created
                };
            }
        }
        steps.push(Step {
            file,
            registry: key.map(|key| key.to_string()),
            browsers: location.browsers.clone(),
            outcome,
        });
    }
    Ok(steps)
}

fn write_if_changed(file: &Path, text: &str, scope: Scope) -> Result<Outcome, InstallError> {
    let existing = match std::fs::read(file) {
        Ok(bytes) => Some(bytes),
        // A file in the way of the folder is reported when the folder is created.
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            None
        }
        Err(error) => return Err(io_error("read", file, scope)(error)),
    };
    if existing.as_deref() == Some(text.as_bytes()) {
        return Ok(Outcome::Unchanged);
    }
    let directory = file.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(directory).map_err(io_error("create the folder", directory, scope))?;
    // Write beside, then rename: a browser starting meanwhile sees the old or the new manifest.
    let partial = file.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(io_error("write", &partial, scope))?;
    make_world_readable(&partial).map_err(io_error("set permissions on", &partial, scope))?;
    if let Err(error) = std::fs::rename(&partial, file) {
        let _ = std::fs::remove_file(&partial);
        return Err(io_error("write", file, scope)(error));
    }
    Ok(if existing.is_some() {
        Outcome::Updated
    } else {
        Outcome::Created
    })
}

/// Browsers run as the user: a system-wide manifest must be readable by everyone whatever the
/// administrator's umask.
#[cfg(unix)]
fn make_world_readable(file: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn make_world_readable(_file: &Path) -> io::Result<()> {
    Ok(())
}
