#!/usr/bin/env bash
# Builds cpx-connect.exe for 64-bit Windows and its MSI, on Debian 12:
#   packaging/windows/build.sh            -> target/windows/dist/cpx-connect-<version>-x64.msi
# The exe is cross-built with Debian's Rust compiler (rustc-web) and its standard library's
# sources (rust-web-src), rebuilt for the target with -Z build-std (RUSTC_BOOTSTRAP=1: neither
# Debian nor an offline rustup has a prebuilt Windows standard library), linked by mingw-w64;
# the MSI is made by wixl (msitools) from cpx-connect.wxs. scripts/setup.sh installs them all. Its own target folder
# (target/windows), so it never disturbs the rustup build in target/debug.
#   CPX_MSI_VERSION=0.1.1 packaging/windows/build.sh   an MSI with another version (upgrade tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

for tool in cargo /usr/bin/rustc x86_64-w64-mingw32-gcc wixl node; do
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
# relative to their folder (Chrome and Firefox accept that on Windows).
stage="$out/msi-stage"
rm -rf "$stage"
mkdir -p "$stage" "$out/dist"
cp "$exe" "$stage/cpx-connect.exe"
host_name=$(node -p 'require(process.argv[1]).nativeHostName' "$root/extension/ids.json")
cp "manifests/windows/$host_name.json" "manifests/windows/$host_name.firefox.json" "$stage/"

msi="$out/dist/cpx-connect-$version-x64.msi"
# wixl takes sources relative to the working directory (absolute ones are refused).
wixl -a x64 -D Version="$version" -D StageDir="${stage#"$root"/}" -D HostName="$host_name" \
  -o "$msi" packaging/windows/cpx-connect.wxs
echo "windows build: $exe ($(stat -c %s "$exe") bytes), $msi ($(stat -c %s "$msi") bytes)"
