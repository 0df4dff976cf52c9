#!/usr/bin/env bash
# scripts/setup.sh installs what its purpose needs and no more: `demo` must not pull the Windows
# toolchain (Wine, mingw-w64, wixl, msitools, osslsigncode, SoftHSM2, Debian's Rust sources), the release tools (apt-utils,
# gnupg, curl) or the test-only packages, `test` must
# install everything. Runs setup.sh against stand-in apt tools that see nothing installed and
# record what would be installed; nothing is installed. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/stubs"
printf '#!/bin/sh\nexit 1\n' >"$work/stubs/dpkg-query"            # nothing is installed
printf '#!/bin/sh\nexit 0\n' >"$work/stubs/apt-cache"             # every package exists
printf '#!/bin/sh\necho "$@" >>"%s/apt-get.log"\n' "$work" >"$work/stubs/apt-get"
printf '#!/bin/sh\nexec "$@"\n' >"$work/stubs/sudo"
# An x86-64 machine with no foreign architecture yet; what setup.sh asks dpkg to change is logged.
cat >"$work/stubs/dpkg" <<STUB
#!/bin/sh
case "\$1" in
  --print-architecture) echo amd64 ;;
  --print-foreign-architectures) ;;
  *) echo "\$@" >>"$work/dpkg.log" ;;
esac
STUB
chmod +x "$work/stubs"/*

# What `setup.sh PURPOSE` would install, one package a line.
installs() {
  rm -f "$work/apt-get.log"
  PATH="$work/stubs:$PATH" bash scripts/setup.sh "$1" >/dev/null
  grep '^install ' "$work/apt-get.log" | tr ' ' '\n' | grep -v -e '^install$' -e '^-' || true
}

fail() { echo "setup-check: $*" >&2; exit 1; }
demo=$(installs demo)
test=$(installs test)
for package in pcscd vsmartcard-vpcd libpcsclite-dev chromium; do
  grep -qx "$package" <<<"$demo" || fail "setup.sh demo does not install $package"
done
for package in wine64 wixl msitools osslsigncode softhsm2 libengine-pkcs11-openssl gcc-mingw-w64-x86-64 rust-web-src \
  firefox-esr redis-server python3-authlib python3-requests opensc apt-utils gnupg curl gcc-aarch64-linux-gnu qemu-user libpcsclite-dev:arm64; do
  grep -qx "$package" <<<"$demo" && fail "setup.sh demo installs $package, which only the tests need"
  grep -qx "$package" <<<"$test" || fail "setup.sh test does not install $package"
done
[ "$(installs "")" = "$test" ] || fail "setup.sh without a purpose does not install what test does"
grep -qx -- '--add-architecture arm64' "$work/dpkg.log" || fail "setup.sh test does not add the arm64 architecture"
if PATH="$work/stubs:$PATH" bash scripts/setup.sh demos >/dev/null 2>&1; then
  fail "setup.sh accepted an unknown purpose"
fi
echo "setup-check: demo installs $(wc -l <<<"$demo") packages, test $(wc -l <<<"$test")"
