#!/usr/bin/env bash
# The whole CPx Connect experience on one machine: pcscd with a virtual CPS3 card in vpcd, the
# demo relying party on https://localhost:8443, the native host registered for a throw-away
# Chromium profile, and Chromium with the extension loaded. Ctrl-C stops everything.
#
# Without a display (no DISPLAY/WAYLAND_DISPLAY) it prints the address and the steps instead of
# opening the browser, and keeps the card and the site running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="${CPX_DEMO_DIR:-$root/target/demo}"
mkdir -p "$state"

echo "==> building"
cargo build --locked -p cpx-connect -p cpx-demo -p cpx-virtual-card --bins
node extension/build.mjs >/dev/null
bash scripts/start-pcscd.sh

# The tests share pcscd's virtual slots through this lock: take it so a test never finds the
# demo's card in its slot (and the demo never steals a test's).
exec 9>/tmp/cpx-connect-pcscd.lock
if ! flock -n 9; then
  echo "==> tests are using the virtual readers; waiting for them"
  flock 9
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "==> inserting the virtual CPS3 card (Marie DUPONT, Médecin, code porteur 1234) into vpcd"
target/debug/cpx-virtual-card --port 35963 --holder dupont --pin 1234 2>"$state/virtual-card.log" &
pids+=($!)

echo "==> starting the demo site"
target/debug/cpx-demo serve --seed-demo-user --addr 127.0.0.1:8443 --origin https://localhost:8443 \
  --db "$state/demo.sqlite" --trust-anchor tests/virtual-card/fixtures/test-ca.der \
  --crl tests/virtual-card/fixtures/test-ca.crl.der --allow-test-anchors \
  2>"$state/demo-site.log" &
pids+=($!)
for _ in $(seq 1 100); do
  ss -ltn | grep -q ':8443 ' && break
  sleep 0.1
done

echo "==> registering the host for a throw-away Chromium profile"
profile="$state/chromium-profile"
extension_id=$(node -p 'require("./extension/ids.json").chromeExtensionId')
mkdir -p "$profile/NativeMessagingHosts"
cat >"$profile/NativeMessagingHosts/org.cpxconnect.host.json" <<JSON
{
  "name": "org.cpxconnect.host",
  "description": "CPx Connect (demo build)",
  "path": "$root/target/debug/cpx-connect",
  "type": "stdio",
  "allowed_origins": ["chrome-extension://$extension_id/"]
}
JSON

cat <<TEXT

CPx Connect demo is running.
  site:        https://localhost:8443  (self-signed certificate)
  account:     marie.dupont / demo1234
  card:        virtual CPS3 in "Virtual PCD 00 00", code porteur 1234
  host logs:   ~/.local/state/cpx-connect/
  demo files:  $state

Steps: click « S'identifier par carte CPS », type 1234 in the CPx Connect window; the first
time, link the card to marie.dupont / demo1234; log out and log in again with the card alone.
TEXT

chromium=/usr/lib/chromium/chromium
[ -x "$chromium" ] || chromium=$(command -v chromium || true)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -n "$chromium" ]; then
  echo "==> opening Chromium (close it to stop the demo)"
  "$chromium" --user-data-dir="$profile" --no-first-run --ignore-certificate-errors \
    --disable-extensions-except="$root/extension/dist/chromium" \
    --load-extension="$root/extension/dist/chromium" https://localhost:8443 || true
else
  echo
  echo "No display here: open Chromium yourself with"
  echo "  chromium --user-data-dir=$profile --ignore-certificate-errors \\"
  echo "    --load-extension=$root/extension/dist/chromium https://localhost:8443"
  echo "Press Ctrl-C to stop the card and the site."
  wait
fi
