#!/usr/bin/env bash
# Linux arm64 on this x86-64 machine (issue 20.4):
#   1. the host's unit tests and its in-process protocol tests, cross-built for arm64 and run
#      under qemu-user (doctor.rs and install.rs start the host binary as a child process, which
#      needs binfmt_misc; they run natively in the workspace tests);
#   2. the arm64 .deb (build.sh --arch arm64): its architecture, an aarch64 binary that runs,
#      the same files as the native package, a glibc no newer than Debian 12's;
#   3. the packaged arm64 binary, under qemu-user, answers the end-to-end tests over this
#      machine's pcscd with the virtual card (tests/e2e/tests/host_over_pcscd.rs, through
#      CPX_CONNECT_BIN): the arm64 libpcsclite speaks to the native pcscd, as on an arm64 desk.
# Needs what scripts/setup.sh test installs (on Debian 12; a missing tool is a skip, a failure
# with CI=true), and pcscd with vpcd running (scripts/start-pcscd.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=arm64.sh
. packaging/deb/arm64.sh
checks_name=arm64-check
# shellcheck source=../../tests/lib/checks.sh
. tests/lib/checks.sh
step() { printf '\n== arm64: %s\n' "$*"; }
die() { printf 'arm64-check: %s\n' "$*" >&2; exit 1; }

for tool in /usr/bin/rustc aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null || missing_tool "$tool"
done
[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/libpcsclite.pc ] || missing_tool "libpcsclite-dev:arm64"

# The host's unit and in-process protocol tests, without debug information: under qemu nobody
# attaches a debugger, and the cross-built test binaries (the standard library included) then
# compile and link in a good part less time.
host_tests() {
    CARGO_PROFILE_DEV_DEBUG=0 arm64_cargo test --locked -p cpx-connect --lib \
        --test virtual_card_in_process --test cps4_in_process --test apdu_trace_log \
        --test card_report --test manifest_templates --test error_codes --test doctor_windows "$@"
}

# --build-only: the cross-builds alone (the tests' binaries and the .deb), which `make test`
# starts early in the background (scripts/warm-up-builds.sh) so that this check finds them done.
if [ "${1:-}" = --build-only ]; then
    host_tests --no-run
    bash packaging/deb/build.sh --arch arm64 >/dev/null
    exit 0
fi

step "the host's unit and in-process protocol tests under qemu-user"
host_tests

step "the .deb"
deb=$(bash packaging/deb/build.sh --arch arm64 | tail -n 1)
[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || die "$deb: Architecture is not arm64"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
binary=$unpacked/usr/bin/cpx-connect
# ELF e_machine (offset 18, little-endian): 0xB7 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' ')" = b700 ] || die "$binary is not an aarch64 program"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' host/Cargo.toml | head -n 1)
[ "$(qemu-aarch64 -L / "$binary" --version)" = "cpx-connect $version" ] \
    || die "the packaged binary does not say version $version under qemu"
# The package's main files (build.sh stages every architecture the same way).
expected="etc/cpx-connect/extension-ids.conf usr/bin/cpx-connect usr/share/doc/cpx-connect/ADMIN.md"
contents=$(dpkg-deb -c "$deb")
for path in $expected; do
    grep -q " \./$path\$" <<<"$contents" || die "$deb lacks $path"
done
glibc=$(dpkg-deb -f "$deb" Depends | sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p')
[ -n "$glibc" ] || die "$deb: no libc6 version in Depends"
[ "$(printf '%s\n2.36\n' "$glibc" | sort -V | tail -n 1)" = 2.36 ] \
    || die "the binary needs glibc $glibc, newer than Debian 12's 2.36"
echo "ok: $(basename "$deb"): arm64, aarch64 binary $version, needs glibc >= $glibc"

step "the packaged binary over pcscd, under qemu-user"
wrapper=$unpacked/cpx-connect-arm64
# The wrapper counts its starts: the suite must have run the arm64 binary, not a native one.
printf '#!/bin/sh\necho started >> %s/starts\nexec qemu-aarch64 -L / %s "$@"\n' "$unpacked" "$binary" > "$wrapper"
chmod +x "$wrapper"
CPX_CONNECT_BIN=$wrapper cargo test --locked -p cpx-e2e --test host_over_pcscd
starts=$(wc -l < "$unpacked/starts" 2>/dev/null || echo 0)
[ "$starts" -gt 0 ] || die "the end-to-end suite never started the arm64 binary"
echo "ok: the end-to-end suite started the packaged arm64 binary $starts times"
