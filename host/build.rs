//! Windows only: a VERSIONINFO resource in cpx-connect.exe, so Explorer's Details tab and the
//! MSI's File table (File.Version, which Windows Installer compares on upgrade and SCCM reads)
//! show the crate's version. Every other target builds nothing here (Linux, macOS `cargo check`).
//!
//! The GNU target (the release cross-build, packaging/windows/build.sh) compiles the resource
//! with windres from mingw-w64 and links the object into the binaries.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=WINDRES");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    if env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("gnu") {
        println!("cargo:warning=cpx-connect.exe gets no version resource with this toolchain (only windows-gnu's windres is wired)");
        return;
    }
    if let Err(message) = embed_version_resource() {
        // A release without version information would upgrade wrongly: stop the build.
        panic!("version resource: {message}");
    }
}

fn embed_version_resource() -> Result<(), String> {
    let version = env::var("CARGO_PKG_VERSION").map_err(|e| format!("CARGO_PKG_VERSION: {e}"))?;
    let numbers = numeric_version(&version)?;
    let description = env::var("CARGO_PKG_DESCRIPTION").unwrap_or_default();
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);

    let rc = out_dir.join("version.rc");
    fs::write(&rc, resource_script(&version, numbers, &description))
        .map_err(|e| format!("writing {}: {e}", rc.display()))?;
    let object = out_dir.join("version-resource.o");
    let windres = windres();
    let status = Command::new(&windres)
        .arg("--input")
        .arg(&rc)
        .arg("--output")
        .arg(&object)
        .arg("--output-format=coff")
        .status()
        .map_err(|e| format!("{windres} could not run ({e}): install mingw-w64 (scripts/setup.sh test) or set WINDRES"))?;
    if !status.success() {
        return Err(format!("{windres} failed on {}", rc.display()));
    }
    // The object goes to the linker directly: an archive member nothing refers to would be dropped.
    println!("cargo:rustc-link-arg-bins={}", object.display());
    Ok(())
}

/// The target's windres: $WINDRES, else the mingw-w64 cross tool named after the target.
fn windres() -> String {
    if let Ok(tool) = env::var("WINDRES") {
        return tool;
    }
    match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86") => "i686-w64-mingw32-windres".to_owned(),
        Ok("aarch64") => "aarch64-w64-mingw32-windres".to_owned(),
        _ => "x86_64-w64-mingw32-windres".to_owned(),
    }
}

/// "1.2.3" (a pre-release or build suffix dropped) as the four 16-bit numbers Windows stores.
fn numeric_version(version: &str) -> Result<[u16; 4], String> {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let mut numbers = [0u16; 4];
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(format!("{version}: expected 1 to 4 numbers"));
    }
    for (slot, part) in numbers.iter_mut().zip(parts) {
        *slot = part
            .parse()
            .map_err(|_| format!("{version}: {part} is not a number below 65536"))?;
    }
    Ok(numbers)
}

fn resource_script(version: &str, numbers: [u16; 4], description: &str) -> String {
    let [a, b, c, d] = numbers;
    let quoted = |text: &str| text.replace('"', "\"\"");
    let mut rc = String::new();
    // 0x0409 / 1200: US English, Unicode, the block Explorer and Windows Installer read.
    let _ = write!(
        rc,
        "1 VERSIONINFO\n\
         FILEVERSION {a},{b},{c},{d}\n\
         PRODUCTVERSION {a},{b},{c},{d}\n\
         FILEOS 0x40004\n\
         FILETYPE 0x1\n\
         BEGIN\n\
         \x20 BLOCK \"StringFileInfo\"\n\
         \x20 BEGIN\n\
         \x20   BLOCK \"040904B0\"\n\
         \x20   BEGIN\n\
         \x20     VALUE \"CompanyName\", \"CPx Connect\"\n\
         \x20     VALUE \"FileDescription\", \"{description}\"\n\
         \x20     VALUE \"FileVersion\", \"{version}\"\n\
         \x20     VALUE \"InternalName\", \"cpx-connect\"\n\
         \x20     VALUE \"OriginalFilename\", \"cpx-connect.exe\"\n\
         \x20     VALUE \"ProductName\", \"CPx Connect\"\n\
         \x20     VALUE \"ProductVersion\", \"{version}\"\n\
         \x20   END\n\
         \x20 END\n\
         \x20 BLOCK \"VarFileInfo\"\n\
         \x20 BEGIN\n\
         \x20   VALUE \"Translation\", 0x0409, 1200\n\
         \x20 END\n\
         END\n",
        description = quoted(description),
        version = quoted(version),
    );
    rc
}
