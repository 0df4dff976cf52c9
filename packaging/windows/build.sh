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
#
# Authenticode: the exe (before it goes into the MSI) and then the MSI are signed with osslsigncode
# when one of these is given (AppLocker and WDAC publisher rules admit signed files only):
#   CPX_SIGN_PKCS12=signer.p12                 the certificate, its chain and its key, or
#   CPX_SIGN_PKCS11_MODULE=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so   a token (HSM, smart card):
#     CPX_SIGN_PKCS11_KEY='pkcs11:token=...;object=...'   the key's URI (or id),
#     CPX_SIGN_PKCS11_CERT='pkcs11:...' or CPX_SIGN_CERTS=chain.pem   the certificate and chain,
#     CPX_SIGN_PKCS11_ENGINE=/usr/lib/.../engines-3/pkcs11.so   optional, libp11's engine;
#   CPX_SIGN_PASSWORD_FILE=file (first line) or CPX_SIGN_PASSWORD: the PKCS#12 password or the
#     token's PIN, handed to osslsigncode on its standard input, never on a command line (ps);
#   CPX_SIGN_TIMESTAMP_URL='http://tsa.example/ ...'   RFC 3161 timestamp servers (-ts), optional
#     but wanted: without a timestamp the signature stops verifying when the certificate expires.
# Without CPX_SIGN_PKCS12 or CPX_SIGN_PKCS11_MODULE the build is unsigned, and says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

for tool in cargo /usr/bin/rustc x86_64-w64-mingw32-gcc x86_64-w64-mingw32-windres wixl msibuild node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "windows build: $tool missing: run scripts/setup.sh (Debian 12)" >&2; exit 1; }
done
refuse() { echo "windows build: $*" >&2; exit 1; }

# The signing inputs, checked before the long build. sign_options holds no secret: it is printed.
sign_options=()
if [ -n "${CPX_SIGN_PKCS12:-}" ] && [ -n "${CPX_SIGN_PKCS11_MODULE:-}" ]; then
  refuse "CPX_SIGN_PKCS12 and CPX_SIGN_PKCS11_MODULE are both set: give one signing certificate"
elif [ -n "${CPX_SIGN_PKCS12:-}" ]; then
  [ -r "$CPX_SIGN_PKCS12" ] || refuse "CPX_SIGN_PKCS12=$CPX_SIGN_PKCS12: not readable"
  sign_options=(-pkcs12 "$CPX_SIGN_PKCS12")
elif [ -n "${CPX_SIGN_PKCS11_MODULE:-}" ]; then
  [ -r "$CPX_SIGN_PKCS11_MODULE" ] || refuse "CPX_SIGN_PKCS11_MODULE=$CPX_SIGN_PKCS11_MODULE: not readable"
  [ -n "${CPX_SIGN_PKCS11_KEY:-}" ] || refuse "CPX_SIGN_PKCS11_MODULE needs CPX_SIGN_PKCS11_KEY (the key's pkcs11: URI)"
  [ -z "${CPX_SIGN_PKCS11_ENGINE:-}" ] || sign_options=(-pkcs11engine "$CPX_SIGN_PKCS11_ENGINE")
  sign_options+=(-pkcs11module "$CPX_SIGN_PKCS11_MODULE")
  if [ -n "${CPX_SIGN_PKCS11_CERT:-}" ]; then
    sign_options+=(-pkcs11cert "$CPX_SIGN_PKCS11_CERT")
  elif [ -n "${CPX_SIGN_CERTS:-}" ]; then
    [ -r "$CPX_SIGN_CERTS" ] || refuse "CPX_SIGN_CERTS=$CPX_SIGN_CERTS: not readable"
    sign_options+=(-certs "$CPX_SIGN_CERTS")
  else
    refuse "CPX_SIGN_PKCS11_MODULE needs CPX_SIGN_PKCS11_CERT (a pkcs11: URI) or CPX_SIGN_CERTS (a PEM file)"
  fi
  sign_options+=(-key "$CPX_SIGN_PKCS11_KEY")
fi
if ((${#sign_options[@]})); then
  command -v osslsigncode >/dev/null 2>&1 || refuse "osslsigncode missing: run scripts/setup.sh test (Debian 12)"
  [ -z "${CPX_SIGN_PASSWORD_FILE:-}" ] || [ -r "$CPX_SIGN_PASSWORD_FILE" ] ||
    refuse "CPX_SIGN_PASSWORD_FILE=$CPX_SIGN_PASSWORD_FILE: not readable"
  # SHA-256; the name and address UAC and the file's properties show.
  sign_options+=(-h sha256 -n "CPx Connect" -i "https://github.com/cpxconnect/cpx-connect")
  for timestamp_url in ${CPX_SIGN_TIMESTAMP_URL:-}; do
    [[ "$timestamp_url" =~ ^https?:// ]] || refuse "CPX_SIGN_TIMESTAMP_URL: $timestamp_url is not an http(s):// address"
    sign_options+=(-ts "$timestamp_url")
  done
elif [ -n "${CPX_SIGN_TIMESTAMP_URL:-}${CPX_SIGN_PASSWORD_FILE:-}${CPX_SIGN_PKCS11_KEY:-}" ]; then
  refuse "signing settings without a certificate: set CPX_SIGN_PKCS12 or CPX_SIGN_PKCS11_MODULE"
fi
# sign_file IN OUT: OUT is IN with an Authenticode signature; the password reaches osslsigncode on
# its standard input (-readpass /dev/stdin: osslsigncode 2.5 of Debian 12 as well as 2.9).
sign_file() {
  echo "windows build: osslsigncode sign ${sign_options[*]} -readpass /dev/stdin -in $1 -out $2"
  local password=""
  if [ -n "${CPX_SIGN_PASSWORD_FILE:-}" ]; then
    IFS= read -r password <"$CPX_SIGN_PASSWORD_FILE" || [ -n "$password" ] || true
  elif [ -n "${CPX_SIGN_PASSWORD:-}" ]; then
    password=$CPX_SIGN_PASSWORD
  fi
  rm -f "$2"
  printf '%s' "$password" | osslsigncode sign "${sign_options[@]}" -readpass /dev/stdin -in "$1" -out "$2" >/dev/null ||
    refuse "signing $1 failed (osslsigncode's message above)"
}
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
if ((${#sign_options[@]})); then
  sign_file "$exe" "$stage/cpx-connect.exe"
else
  cp "$exe" "$stage/cpx-connect.exe"
fi
# The exe as it is in the MSI, for the release folder.
cp "$stage/cpx-connect.exe" "$out/dist/cpx-connect.exe"
ids="$root/extension/ids.json"
host_name=$(node -p 'require(process.argv[1]).nativeHostName' "$ids")
chrome_id=$(node -p 'require(process.argv[1]).channels.selfHosted.chromeExtensionId' "$ids")
firefox_id=$(node -p 'require(process.argv[1]).firefoxAddonId' "$ids")
# The MSI admits the release channels' ids (and those of its EXTENSION_IDS property, written in
# by its custom action) and never the development id: its key is public, so whoever may load an
# unpacked extension could otherwise talk to the host of every managed machine.
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
# EXTENSION_IDS (cpx-connect.wxs): its registry value only when set; the installed value taken
# back right after AppSearch (wixl sequences that custom action late, and flags it as deferred's
# no-impersonation); and the check, an exe from the Binary table run before anything changes
# (type 2), which wixl cannot express: a failure there stops the installation (error 1722).
msibuild "$msi" -q "UPDATE \`Component\` SET \`Condition\` = 'EXTENSION_IDS OR REMOVE~=\"ALL\"' WHERE \`Component\` = 'ExtensionIdsSetting'"
msibuild "$msi" -q "UPDATE \`CustomAction\` SET \`Type\` = 51 WHERE \`Action\` = 'KeepInstalledExtensionIds'"
msibuild "$msi" -q "UPDATE \`InstallExecuteSequence\` SET \`Sequence\` = 51 WHERE \`Action\` = 'KeepInstalledExtensionIds'"
msibuild "$msi" -q "INSERT INTO \`CustomAction\` (\`Action\`, \`Type\`, \`Source\`, \`Target\`) VALUES ('CheckExtensionIds', 2, 'HostForChecks', 'install --check-extension-ids \"[EXTENSION_IDS]\"')"
msibuild "$msi" -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Condition\`, \`Sequence\`) VALUES ('CheckExtensionIds', 'EXTENSION_IDS AND NOT REMOVE~=\"ALL\"', 1001)"
# The properties an administrator gives reach the elevated installation even from the UI.
msibuild "$msi" -q "UPDATE \`Property\` SET \`Value\` = 'WIX_UPGRADE_DETECTED;WIX_DOWNGRADE_DETECTED;EXTENSION_IDS;UPDATE_URL;ALLOWED_ORIGINS' WHERE \`Property\` = 'SecureCustomProperties'"
# Signed last: any change to the MSI's tables after this would break the signature.
if ((${#sign_options[@]})); then
  sign_file "$msi" "$msi.signed"
  mv "$msi.signed" "$msi"
  echo "windows build: signed $out/dist/cpx-connect.exe and $msi"
else
  cat >&2 <<'WARNING'
windows build: ************************************************************************
windows build: UNSIGNED BUILD: no CPX_SIGN_PKCS12 or CPX_SIGN_PKCS11_MODULE was given.
windows build: AppLocker and WDAC publisher rules will not admit this exe or MSI, and
windows build: SmartScreen and UAC show an unknown publisher. Fine for tests, not for a fleet.
windows build: ************************************************************************
WARNING
fi
echo "windows build: $out/dist/cpx-connect.exe ($(stat -c %s "$out/dist/cpx-connect.exe") bytes), $msi ($(stat -c %s "$msi") bytes)"
