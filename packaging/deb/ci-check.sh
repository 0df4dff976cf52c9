#!/usr/bin/env bash
# Checks the Debian package on this machine, end to end (root; pcscd with vpcd; chromium; node):
#   1. build it (build.sh) and `dpkg -i` it: postinst writes the manifests, release ids only,
#      plus the conffile's ids; no package owns them, and `install --system` keeps to them;
#   2. `cpx-connect doctor` with the virtual card in vpcd: exit 0 or 1 (no FAIL) expected;
#   3. one Chromium login that finds the host only through the system-wide manifest
#      (tests/browser/system/system-install.test.mjs), the development build admitted for it
#      with `cpx-connect install --system --dev`, then taken out again;
#   4. the administrator's path: the extension force-installed by policy in Chromium (CRX3 +
#      updates.xml over local HTTPS, then an update) and Firefox ESR (.xpi), then a login on the
#      demo site through this package's host (tests/browser/system/force-install.test.mjs);
#   5. `dpkg -r` (the manifests go, the conffile stays), `dpkg -P`, then check that every path
#      the package touched is as it was before.
# Steps that use pcscd/vpcd hold /tmp/cpx-connect-pcscd.lock. A package already installed is
# left alone: the script refuses to run rather than remove it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
lock=/tmp/cpx-connect-pcscd.lock
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'ci-check: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i / dpkg -r)"
case "$(dpkg-query -W -f='${Status}' cpx-connect 2>/dev/null)" in
    *" installed") fail "a cpx-connect package is already installed; remove it first (dpkg -r cpx-connect)" ;;
    # Removed but not purged: its conffile would be taken for this run's and purged with it.
    *" config-files") fail "an earlier cpx-connect package left its configuration (/etc/cpx-connect); purge it first (dpkg -P cpx-connect)" ;;
esac

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
    /usr/lib64/mozilla/native-messaging-hosts/org.cpxconnect.host.json
    /etc/cpx-connect/extension-ids.conf
    /etc/cpx-connect
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
trap 'dpkg -P cpx-connect >/dev/null 2>&1 || true' EXIT
test "$(/usr/bin/cpx-connect --version)" = "cpx-connect $(dpkg-query -W -f='${Version}' cpx-connect)"
release_ids=$(node -e 'console.log(require(process.argv[1]).allowedChromeExtensionIds.join(" "))' "$repo/extension/ids.json")
development_id=$(node -e 'console.log(require(process.argv[1]).channels.development.chromeExtensionId)' "$repo/extension/ids.json")
chromium_manifests="/etc/opt/chrome/native-messaging-hosts /etc/chromium/native-messaging-hosts /etc/opt/edge/native-messaging-hosts"
for manifest in $chromium_manifests /usr/lib/mozilla/native-messaging-hosts; do
    file=$manifest/org.cpxconnect.host.json
    grep -q '"path": "/usr/bin/cpx-connect"' "$file" || fail "$file does not point at /usr/bin/cpx-connect"
    # Written by postinst, so no package owns it: `install --system` may rewrite it.
    if dpkg-query -S "$file" >/dev/null 2>&1; then fail "$file is owned by a package"; fi
done
for manifest in $chromium_manifests; do
    for id in $release_ids; do
        grep -q "chrome-extension://$id/" "$manifest/org.cpxconnect.host.json" || fail "$manifest does not admit the release id $id"
    done
    if grep -q "$development_id" "$manifest/org.cpxconnect.host.json"; then fail "$manifest admits the development id"; fi
done
# Debian's Firefox reads /usr/lib/mozilla only: nothing is written where it never looks.
[ ! -e /usr/lib64/mozilla/native-messaging-hosts/org.cpxconnect.host.json ] || fail "a manifest was written under /usr/lib64"
# An extra id from the conffile reaches the manifests on the next `install --system`.
extra_id=abcdefghijklmnopabcdefghijklmnop
cp /etc/cpx-connect/extension-ids.conf "$CARGO_TARGET_DIR/extension-ids.conf.orig"
printf '%s\n' "$extra_id" >>/etc/cpx-connect/extension-ids.conf
/usr/bin/cpx-connect install --system
grep -q "$extra_id" /etc/chromium/native-messaging-hosts/org.cpxconnect.host.json || fail "the conffile's id is not admitted"
cp "$CARGO_TARGET_DIR/extension-ids.conf.orig" /etc/cpx-connect/extension-ids.conf
/usr/bin/cpx-connect install --system
if grep -q "$extra_id" /etc/chromium/native-messaging-hosts/org.cpxconnect.host.json; then fail "the conffile's id stayed after its removal"; fi
# A file a package owns is never deleted by uninstall --system.
dpkg-query -S /usr/bin/cpx-connect >/dev/null || fail "dpkg does not list /usr/bin/cpx-connect"

step "doctor with the virtual card"
cargo build --locked -p cpx-virtual-card -p cpx-demo
virtual_card=$CARGO_TARGET_DIR/debug/cpx-virtual-card
pgrep -x pcscd >/dev/null || pcscd
work=$(mktemp -d)
trap 'dpkg -P cpx-connect >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
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
        # 0: every line OK, 1: WARN lines only (e.g. no policy on this test machine), 2: a FAIL.
        [ "$status" -le 1 ] && break
        sleep 0.5
    done
    cat "$work/doctor.txt"
    env -u CPX_CONNECT_LOG_DIR HOME="$work/home" LANG=fr_FR.UTF-8 LC_ALL= LC_MESSAGES= \
        /usr/bin/cpx-connect doctor | tail -n 1 || true
    # --json while the card is still in (closing its stdin below takes it out).
    env -u CPX_CONNECT_LOG_DIR HOME="$work/home" /usr/bin/cpx-connect doctor --json >"$work/doctor.json" || true
    exec 8>&-
    wait "$card" || true
    [ "$status" -le 1 ] || fail "cpx-connect doctor exited with $status with the virtual card inserted"
    grep -q '^FAIL' "$work/doctor.txt" && fail "cpx-connect doctor has a FAIL line with the virtual card inserted"
    node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (r.schema !== 1 || !r.loginPossible) process.exit(1)' "$work/doctor.json" ||
        fail "cpx-connect doctor --json does not say a login is possible"
) 9>"$lock"

step "Chromium login through the system-wide manifest"
# The test loads the unpacked development build: admit its id explicitly, for this step only.
/usr/bin/cpx-connect install --system --dev --browser chromium
node "$repo/extension/build.mjs" >/dev/null
if [ ! -d "$repo/tests/browser/node_modules" ]; then
    (cd "$repo/tests/browser" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
(cd "$repo/tests/browser" &&
    CPX_SYSTEM_INSTALL_TEST=1 CPX_VIRTUAL_CARD="$virtual_card" node --test system/system-install.test.mjs)

/usr/bin/cpx-connect install --system
if grep -q "$development_id" /etc/chromium/native-messaging-hosts/org.cpxconnect.host.json; then
    fail "install --system without --dev kept the development id"
fi

step "force-install by policy (Chromium, Firefox ESR), then a login through the package's host"
(cd "$repo/tests/browser" &&
    CPX_SYSTEM_INSTALL_TEST=1 CPX_VIRTUAL_CARD="$virtual_card" CPX_DEMO_BIN="$CARGO_TARGET_DIR/debug/cpx-demo" \
        node --test system/force-install.test.mjs)

step "dpkg -r, then dpkg -P"
dpkg -r cpx-connect
dpkg-query -W -f='${Status}' cpx-connect 2>/dev/null | grep -q ' installed$' && fail "still installed"
for manifest in $chromium_manifests /usr/lib/mozilla/native-messaging-hosts; do
    [ ! -e "$manifest/org.cpxconnect.host.json" ] || fail "prerm left $manifest/org.cpxconnect.host.json"
done
[ -e /etc/cpx-connect/extension-ids.conf ] || fail "dpkg -r removed the conffile (only purge should)"
dpkg -P cpx-connect
trap 'rm -rf "$work"' EXIT
after=$(present)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "dpkg -r and dpkg -P did not leave these paths as they were"
fi
echo "ci-check: package built, installed, checked by doctor and Chromium, removed cleanly"
