#!/usr/bin/env bash
# Checks the Debian package on this machine, end to end (root; pcscd with vpcd; chromium; node):
#   1. build it (build.sh) and `dpkg -i` it;
#   2. `cpx-connect doctor` with the virtual card in vpcd: exit 0 expected;
#   3. one Chromium login that finds the host only through the system-wide manifest
#      (tests/browser/system/system-install.test.mjs);
#   4. the administrator's path: the extension force-installed by policy in Chromium (CRX3 +
#      updates.xml over local HTTPS, then an update) and Firefox ESR (.xpi), then a login on the
#      demo site through this package's host (tests/browser/system/force-install.test.mjs);
#   5. `dpkg -r`, then check that every path the package touched is as it was before.
# Steps that use pcscd/vpcd hold /tmp/cpx-connect-pcscd.lock. A package already installed is
# left alone: the script refuses to run rather than remove it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
lock=/tmp/cpx-connect-pcscd.lock
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'ci-check: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i / dpkg -r)"
if dpkg-query -W -f='${Status}' cpx-connect 2>/dev/null | grep -q ' installed$'; then
    fail "a cpx-connect package is already installed; remove it first (dpkg -r cpx-connect)"
fi

# Everything the package installs, and the folders it may create: after dpkg -r each must be
# back to how it is now.
touched=(
    /usr/bin/cpx-connect
    /etc/opt/chrome/native-messaging-hosts/org.cpxconnect.host.json
    /etc/opt/chrome/native-messaging-hosts
    /etc/opt/chrome
    /etc/chromium/native-messaging-hosts/org.cpxconnect.host.json
    /etc/chromium/native-messaging-hosts
    /etc/opt/edge/native-messaging-hosts/org.cpxconnect.host.json
    /etc/opt/edge/native-messaging-hosts
    /etc/opt/edge
    /usr/lib/mozilla/native-messaging-hosts/org.cpxconnect.host.json
    /usr/lib/mozilla/native-messaging-hosts
    /usr/lib/mozilla
    /usr/share/doc/cpx-connect
)
present() { for path in "${touched[@]}"; do [ -e "$path" ] && echo "$path"; done; true; }
before=$(present)

step "build"
deb=$(bash "$repo/packaging/deb/build.sh" | tail -n 1)
ls -l "$deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb"

step "dpkg -i"
for dependency in pcscd libpcsclite1; do
    dpkg-query -W -f='${Status}' "$dependency" 2>/dev/null | grep -q ' installed$' ||
        apt-get install -y --no-install-recommends "$dependency"
done
dpkg -i "$deb"
trap 'dpkg -r cpx-connect >/dev/null 2>&1 || true' EXIT
test "$(/usr/bin/cpx-connect --version)" = "cpx-connect $(dpkg-query -W -f='${Version}' cpx-connect)"
for manifest in /etc/opt/chrome/native-messaging-hosts /etc/chromium/native-messaging-hosts \
    /etc/opt/edge/native-messaging-hosts /usr/lib/mozilla/native-messaging-hosts; do
    grep -q '"path": "/usr/bin/cpx-connect"' "$manifest/org.cpxconnect.host.json" ||
        fail "$manifest/org.cpxconnect.host.json does not point at /usr/bin/cpx-connect"
done

step "doctor with the virtual card"
cargo build --locked -p cpx-virtual-card -p cpx-demo
virtual_card=$CARGO_TARGET_DIR/debug/cpx-virtual-card
pgrep -x pcscd >/dev/null || pcscd
work=$(mktemp -d)
trap 'dpkg -r cpx-connect >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
(
    flock --timeout 600 9 || fail "could not take $lock"
    mkfifo "$work/card-stdin"
    "$virtual_card" --until-stdin-closes <"$work/card-stdin" 2>"$work/card.log" &
    card=$!
    exec 8>"$work/card-stdin"
    for _ in $(seq 50); do grep -q "card inserted" "$work/card.log" && break; sleep 0.2; done
    grep -q "card inserted" "$work/card.log" || { cat "$work/card.log"; fail "the virtual card did not go in"; }
    # pcscd polls vpcd: give it a few tries to see the card.
    status=1
    for _ in $(seq 20); do
        status=0
        env -u CPX_CONNECT_LOG_DIR -u XDG_CONFIG_HOME HOME="$work/home" LANG=C.UTF-8 LC_ALL= LC_MESSAGES= \
            /usr/bin/cpx-connect doctor >"$work/doctor.txt" || status=$?
        [ "$status" = 0 ] && break
        sleep 0.5
    done
    cat "$work/doctor.txt"
    env -u CPX_CONNECT_LOG_DIR HOME="$work/home" LANG=fr_FR.UTF-8 LC_ALL= LC_MESSAGES= \
        /usr/bin/cpx-connect doctor | tail -n 1 || true
    exec 8>&-
    wait "$card" || true
    [ "$status" = 0 ] || fail "cpx-connect doctor exited with $status with the virtual card inserted"
) 9>"$lock"

step "Chromium login through the system-wide manifest"
node "$repo/extension/build.mjs" >/dev/null
if [ ! -d "$repo/tests/browser/node_modules" ]; then
    (cd "$repo/tests/browser" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
(cd "$repo/tests/browser" &&
    CPX_SYSTEM_INSTALL_TEST=1 CPX_VIRTUAL_CARD="$virtual_card" node --test system/system-install.test.mjs)

step "force-install by policy (Chromium, Firefox ESR), then a login through the package's host"
(cd "$repo/tests/browser" &&
    CPX_SYSTEM_INSTALL_TEST=1 CPX_VIRTUAL_CARD="$virtual_card" CPX_DEMO_BIN="$CARGO_TARGET_DIR/debug/cpx-demo" \
        node --test system/force-install.test.mjs)

step "dpkg -r"
dpkg -r cpx-connect
trap 'rm -rf "$work"' EXIT
dpkg-query -W -f='${Status}' cpx-connect 2>/dev/null | grep -q ' installed$' && fail "still installed"
after=$(present)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "dpkg -r did not leave these paths as they were"
fi
echo "ci-check: package built, installed, checked by doctor and Chromium, removed cleanly"
