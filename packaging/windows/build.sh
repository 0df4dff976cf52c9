#!/usr/bin/env bash
# Builds cpx-connect.exe for 64-bit Windows and its MSI, on Debian 12:
#   packaging/windows/build.sh            -> target/windows/dist/cpx-connect-<version>-x64.msi
# The exe is cross-built with Debian's Rust compiler (rustc-web) and its standard library's
# sources (rust-web-src), rebuilt for the target with -Z build-std (RUSTC_BOOTSTRAP=1: neither
# Debian nor an offline rustup has a prebuilt Windows standard library), linked by mingw-w64;
# the MSI is made by wixl (msitools) from cpx-connect.wxs. scripts/setup.sh installs them all. Its own target folder
# (target/windows), so it never disturbs the rustup build in target/debug.
#   CPX_MSI_VERSION=0.1.1 packaging/windows/build.sh   an MSI with another version (upgrade tests)
# The exe carries a version resource (host/build.rs, windres), copied into the MSI's File.Version.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

for tool in cargo /usr/bin/rustc x86_64-w64-mingw32-gcc x86_64-w64-mingw32-windres wixl msibuild node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "windows build: $tool missing: run scripts/setup.sh (Debian 12)" >&2; exit 1; }
done
[ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] || { echo "windows build: rust-web-src missing: run scripts/setup.sh" >&2; exit 1; }

out="$root/target/windows"
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' host/Cargo.toml | head -1)
version="${CPX_MSI_VERSION:-$crate_version}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "windows build: version $version is not X.Y.Z" >&2; exit 1; }

# Whichever cargo is on PATH (rustup's, or Debian's), compiling with Debian's rustc, which finds
# its standard library's sources under its own sysroot (/usr/lib/rustlib/src).
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$out" \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  cargo build -p cpx-connect -Z build-std=std,panic_abort \
  --target x86_64-pc-windows-gnu --release --locked
exe="$out/x86_64-pc-windows-gnu/release/cpx-connect.exe"

# The manifests the MSI puts next to the exe: the Windows templates of manifests/windows/, whose
# ids host/tests/manifest_templates.rs checks against extension/ids.json and whose path is
# relative to their folder (Chrome and Firefox accept that on Windows), less the development id.
stage="$out/msi-stage"
rm -rf "$stage"
mkdir -p "$stage" "$out/dist"
cp "$exe" "$stage/cpx-connect.exe"
ids="$root/extension/ids.json"
host_name=$(node -p 'require(process.argv[1]).nativeHostName' "$ids")
chrome_id=$(node -p 'require(process.argv[1]).channels.selfHosted.chromeExtensionId' "$ids")
firefox_id=$(node -p 'require(process.argv[1]).firefoxAddonId' "$ids")
# The MSI admits the release channels' ids only: the development id's key is public, so whoever
# may load an unpacked extension could otherwise talk to the host of every managed machine.
node -e '
  const [source, target, idsFile] = process.argv.slice(1);
  const fs = require("fs");
  const development = JSON.parse(fs.readFileSync(idsFile, "utf8")).channels.development.chromeExtensionId;
  const manifest = JSON.parse(fs.readFileSync(source, "utf8"));
  manifest.allowed_origins = manifest.allowed_origins.filter((origin) => origin !== `chrome-extension://${development}/`);
  if (manifest.allowed_origins.length === 0) throw new Error(`${source}: no release id left`);
  fs.writeFileSync(target, JSON.stringify(manifest, null, 2) + "\n");
' "manifests/windows/$host_name.json" "$stage/$host_name.json" "$ids"
cp "manifests/windows/$host_name.firefox.json" "$stage/"

msi="$out/dist/cpx-connect-$version-x64.msi"
# wixl takes sources relative to the working directory (absolute ones are refused).
wixl -a x64 -D Version="$version" -D StageDir="${stage#"$root"/}" -D HostName="$host_name" \
  -D ChromeId="$chrome_id" -D FirefoxId="$firefox_id" \
  -o "$msi" packaging/windows/cpx-connect.wxs
# wixl leaves File.Version empty; Windows Installer's file rules and SCCM read it, so it is
# taken from the exe's own version resource (host/build.rs), which must therefore be there.
file_version=$(node packaging/windows/pe-version.mjs "$exe") ||
  { echo "windows build: $exe has no version resource (host/build.rs)" >&2; exit 1; }
msibuild "$msi" -q "UPDATE \`File\` SET \`Version\` = '$file_version' WHERE \`File\` = 'CpxConnectExe'"
# What wixl cannot say in the source: the policy components are installed only when their
# property is set. Windows Installer decides a component's condition once, at installation; Wine
# evaluates it again on removal (dlls/msi/action.c: a disabled component is never removed), so
# the condition is also true on a full removal, which then takes the policies away on both.
for component in ChromeForceInstall EdgeForceInstall FirefoxForceInstall; do
  msibuild "$msi" -q "UPDATE \`Component\` SET \`Condition\` = 'UPDATE_URL OR REMOVE~=\"ALL\"' WHERE \`Component\` = '$component'"
done
for component in ChromeAllowedOrigins EdgeAllowedOrigins FirefoxAllowedOrigins; do
  msibuild "$msi" -q "UPDATE \`Component\` SET \`Condition\` = 'ALLOWED_ORIGINS OR REMOVE~=\"ALL\"' WHERE \`Component\` = '$component'"
done
echo "windows build: $exe ($(stat -c %s "$exe") bytes), $msi ($(stat -c %s "$msi") bytes)"
