#!/usr/bin/env bash
# Installs what CPx Connect needs on a Debian/Ubuntu machine, and nothing that is already there.
# Rust (cargo) must be installed (rustup); everything else comes from the distribution.
set -euo pipefail

packages=(
  pcscd libpcsclite-dev vsmartcard-vpcd pcsc-tools opensc   # the PC/SC stack and the virtual reader
  pkg-config openssl make procps iproute2 binutils                   # build and test tooling
  chromium firefox-esr                                       # browsers for the demo and browser tests
  redis-server                                               # the shared challenge and session store (demo tests)
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found: install Rust with rustup first" >&2; exit 1; }
echo "setup: all dependencies present"
