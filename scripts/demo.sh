#!/usr/bin/env bash
# The whole CPx Connect experience on one machine: pcscd with a virtual CPS3 card in vpcd, the
# demo relying party on https://localhost:8443, the OpenID Connect provider cpx-idp on
# https://localhost:8444 (the demo's second button), the native host registered for a
# throw-away Chromium profile, and Chromium with the extension loaded. Ctrl-C stops everything.
#
# Without a display (no DISPLAY/WAYLAND_DISPLAY) it prints the address and the steps instead of
# opening the browser, and keeps the card and the site running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="${CPX_DEMO_DIR:-$root/target/demo}"
mkdir -p "$state"

echo "==> building"
cargo build --locked -p cpx-connect -p cpx-demo -p cpx-idp -p cpx-virtual-card --bins
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

wait_for_port() {
  for _ in $(seq 1 100); do
    ss -ltn | grep -q ":$1 " && return 0
    sleep 0.1
  done
  echo "==> nothing listens on port $1; see $2" >&2
  return 1
}

echo "==> starting the OpenID Connect provider cpx-idp (https://localhost:8444)"
# Its own TLS certificate from a throw-away CA (the demo site's back channel trusts that CA),
# its signing key made at the first start (--demo), the virtual card's test CA, one client.
idp="$state/idp"
bash scripts/idp-demo-tls.sh "$idp"
client_secret="cpx-demo-client-secret-for-make-demo-only"
printf %s "$client_secret" >"$idp/demo-client-secret"
cat >"$idp/idp.toml" <<TOML
# Written by scripts/demo.sh at each start: the provider of \`make demo\`. Never in production.
issuer = "https://localhost:8444"
listen = "127.0.0.1:8444"
page_library = "$root/extension/page/cpx-connect.js"

[tls]
certificate = "idp.pem"
key = "idp.key"

[[signing_keys]]
kid = "demo-rs256-1"
file = "demo-keys/rs256.pem"
algorithm = "RS256"
active = true

[trust]
anchors = ["$root/tests/virtual-card/fixtures/test-ca.der"]
crls = ["$root/tests/virtual-card/fixtures/test-ca.crl.der"]
allow_test_anchors = true

[[clients]]
client_id = "cpx-demo"
name = "Site de démonstration CPx Connect"
secret_sha256 = "$(printf %s "$client_secret" | sha256sum | cut -d' ' -f1)"
redirect_uris = ["https://localhost:8443/oidc/retour"]
post_logout_redirect_uris = ["https://localhost:8443/"]
scopes = ["openid", "profile"]
TOML
target/debug/cpx-idp serve --demo --config "$idp/idp.toml" 2>"$state/idp.log" &
pids+=($!)
wait_for_port 8444 "$state/idp.log"

echo "==> starting the demo site (https://localhost:8443)"
target/debug/cpx-demo serve --seed-demo-user --addr 127.0.0.1:8443 --origin https://localhost:8443 \
  --db "$state/demo.sqlite" --trust-anchor tests/virtual-card/fixtures/test-ca.der \
  --crl tests/virtual-card/fixtures/test-ca.crl.der --allow-test-anchors \
  --oidc-issuer https://localhost:8444 --oidc-client-id cpx-demo \
  --oidc-client-secret-file "$idp/demo-client-secret" --oidc-provider-ca "$idp/ca.pem" \
  2>"$state/demo-site.log" &
pids+=($!)
wait_for_port 8443 "$state/demo-site.log"

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
  provider:    https://localhost:8444  (cpx-idp, OpenID Connect; certificate of a throw-away CA)
  account:     marie.dupont / demo1234
  card:        virtual CPS3 in "Virtual PCD 00 00", code porteur 1234
  host logs:   ~/.local/state/cpx-connect/
  demo files:  $state

Steps: click « S'identifier par carte CPS », type 1234 in the CPx Connect window; the first
time, link the card to marie.dupont / demo1234; log out and log in again with the card alone.
Or click « Se connecter avec CPx Connect (OpenID Connect) »: the provider's page asks for the
card (« S'identifier par carte CPS », code 1234), then brings you back to the site; logging
out of the site ends the provider's session too.
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
  echo "Press Ctrl-C to stop the card, the provider and the site."
  wait
fi
