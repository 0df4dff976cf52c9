#!/usr/bin/env bash
# Installs what CPx Connect needs on a Debian/Ubuntu machine for one purpose, and nothing that is
# already there:
#
#   scripts/setup.sh demo   # what `make demo` (and `make build`) needs: Rust, the PC/SC stack with
#                           # the virtual reader, Chromium, Node.js
#   scripts/setup.sh test   # everything `make test` runs (the default): also Firefox ESR, Redis,
#                           # OpenSC and pcsc-tools, Authlib (a Python OpenID Connect client),
#                           # the release tools (apt-ftparchive, GnuPG, curl),
#                           # and for the Windows checks Debian's Rust sources, mingw-w64, Wine,
#                           # wixl, msitools, osslsigncode and SoftHSM2 (well over 100 MB), and for
#                           # the arm64 build its cross linker, qemu-user and arm64 PC/SC library
#
# Rust: rustup's toolchain when there is one; without any cargo, Debian 12's own toolchain
# (cargo-web, rustc-web: a current Rust kept up to date by bookworm-security); elsewhere rustup.
# Everything else comes from the distribution.
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-test}"
case "$purpose" in
  demo | test) ;;
  *) echo "usage: $0 [demo|test]" >&2; exit 2 ;;
esac

# The oldest Rust the workspace builds with (Cargo.toml's rust-version).
min_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

# The demo: build the workspace, run pcscd with the virtual card, open Chromium.
packages=(
  pcscd libpcsclite-dev vsmartcard-vpcd                      # the PC/SC stack and the virtual reader
  pkg-config openssl make procps iproute2 binutils           # build and run tooling
  chromium                                                   # the demo's browser
)
# The tests on top: the other browser, the shared store, OpenSC's view of the virtual card.
test_packages=(
  pcsc-tools opensc                                          # tests/e2e/tests/opensc_agrees.rs, virtual-card tests
  firefox-esr                                                # browser tests
  redis-server                                               # the shared challenge and session store (demo tests)
  python3-authlib python3-requests                           # cpx-idp's Python client library (tests/oidc-clients)
  apt-utils gnupg curl                                       # the release folder (scripts/release.sh, tests/release):
                                                             # apt-ftparchive, signing, downloading from it
)
# The Windows build and its checks under Wine (tests/windows/run.sh), and the macOS type-check:
# Debian 12's Rust compiler with its standard library's sources for -Z build-std, and its clippy
# (any cargo drives them), the mingw-w64 linker, Wine, and wixl for the MSI. Tests only.
# msitools: msibuild and msiinfo, which finish and read the MSI (packaging/windows/build.sh);
# osslsigncode: Authenticode signing of the exe and the MSI, and its verification in the tests;
# softhsm2 and libengine-pkcs11-openssl: a test token for its PKCS#11 route.
windows_packages=(rustc-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 wine64 wixl msitools
  osslsigncode softhsm2 libengine-pkcs11-openssl)
# Linux arm64 from an x86-64 machine (packaging/deb/arm64.sh): the same Rust sources, Debian's
# cross linker, qemu-user to run the tests, and the arm64 PC/SC library (multiarch). Tests only.
arm64_packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libpcsclite-dev:arm64)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=""
apt_update() { [ -n "$apt_updated" ] || $sudo apt-get update -q; apt_updated=1; }
# Whether this release has a package (apt-cache needs a package list: update once if it has none).
available() {
  apt-cache show "$1" >/dev/null 2>&1 || { apt_update >/dev/null && apt-cache show "$1" >/dev/null 2>&1; }
}

if ! command -v cargo >/dev/null 2>&1; then
  if available cargo-web && available rustc-web; then
    echo "setup: no cargo found: using the distribution's Rust toolchain (cargo-web, rustc-web)"
    packages+=(cargo-web rustc-web rustfmt-web rust-web-clippy)
  else
    echo "setup: cargo not found and this system has no recent enough Rust packages: install Rust $min_rust or later with rustup (https://rustup.rs), then run this again" >&2
    exit 1
  fi
fi
if [ "$purpose" = test ]; then
  packages+=("${test_packages[@]}")
  if available rust-web-src; then
    packages+=("${windows_packages[@]}")
    if [ "$(dpkg --print-architecture)" = amd64 ]; then
      packages+=("${arm64_packages[@]}")
      if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        echo "setup: adding arm64 as a foreign architecture (libpcsclite-dev:arm64 for the arm64 build)"
        $sudo dpkg --add-architecture arm64
        apt_updated=""
      fi
    fi
  fi
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

rust=$(rustc --version 2>/dev/null | awk '{print $2}')
if [ -z "$rust" ] || [ "$(printf '%s\n%s\n' "$min_rust" "${rust%%-*}" | sort -V | head -1)" != "$min_rust" ]; then
  echo "setup: Rust ${rust:-(no rustc)} is older than $min_rust, the workspace's minimum: update it with rustup (rustup update stable), or install Rust $min_rust or later with rustup (https://rustup.rs)" >&2
  exit 1
fi
echo "setup: all dependencies for $purpose present (Rust $rust from $(command -v cargo))"
