#!/usr/bin/env bash
# The Windows build, checked under Wine on every commit (scripts/test.sh runs this):
#  1. cross-builds cpx-connect.exe and its MSI (packaging/windows/build.sh), both signed with a
#     throw-away code-signing certificate (tests/lib/code-signing.sh) and checked by osslsigncode
#     verify against its CA (and refused with another CA, or one byte changed); a second MSI one
#     patch version up for the upgrade, unsigned (the build says so); timestamps from a local
#     RFC 3161 server (timestamp-server.mjs), and a build that fails when it cannot reach it; the
#     PKCS#11 route with the key on a SoftHSM2 token;
#  2. in a throw-away WINEPREFIX: the protocol (version; certificates without a smart card
#     service answers ERR_PCSC_UNAVAILABLE), then the end-to-end malformed-input and framing
#     suite (tests/e2e/tests/malformed_input.rs, the very cases the Linux binary passes) against
#     the exe;
#  3. install / reg query / uninstall per user (HKCU, %LOCALAPPDATA%) and system-wide (HKLM, next
#     to the exe), each run twice to prove it idempotent, and what uninstall leaves (nothing);
#  4. doctor: exit 2 (a FAIL line), naming the stopped smart card service (Wine has none);
#  5. the MSI: silent install, upgrade, refused downgrade, removal, each checked with reg query
#     and the file system; EXTENSION_IDS: a malformed list fails with nothing installed, a good
#     one reaches both manifests and survives an upgrade and a repair, none means release ids;
#  6. a whole card login through the exe (tests/e2e/tests/windows_login.rs): certificates, then
#     authenticate with the PIN, the token checked with rsa and cpx-verify; the exe's PC/SC is a
#     test-only winscard.dll (winscard-vpcd.c) whose one reader holds the virtual CPS3 over vpcd's
#     protocol, as pcscd's vpcd driver does on Linux;
#  7. two users at once (tests/e2e/tests/windows_two_users.rs), each a WINEPREFIX of their own
#     with their own %LOCALAPPDATA%, card and test winscard.dll port: both log in, and each
#     host's logs and cache are in its own user's LOCALAPPDATA;
#  8. cargo check of the host for macOS (aarch64-apple-darwin: Apple silicon; the code has no
#     per-architecture branch, so x86_64-apple-darwin would check the same code a second time).
# Wine 8.0 lacks bcryptprimitives.dll's ProcessPrng, which Rust's standard library needs: a
# test-only stand-in built here from bcryptprimitives.c is put in the prefix, never shipped;
# and its winscard.dll is a stub, hence the test DLL for the login.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

checks_name=windows
# shellcheck source=tests/lib/checks.sh
source tests/lib/checks.sh
find_wine
require_tools x86_64-w64-mingw32-gcc wixl node /usr/bin/rustc /usr/bin/cargo-clippy osslsigncode openssl softhsm2-util
# SoftHSM2's PKCS#11 module, and libp11's engine through which osslsigncode loads it.
softhsm_module=/usr/lib/softhsm/libsofthsm2.so
[ -r "$softhsm_module" ] || missing_tool "$softhsm_module (softhsm2)"
openssl engine pkcs11 -t >/dev/null 2>&1 || missing_tool "OpenSSL's pkcs11 engine (libengine-pkcs11-openssl)"

started=$(date +%s)
lap=$started
timing() { local now; now=$(date +%s); echo "windows: $1 took $((now - lap)) s"; lap=$now; }

echo "==> Windows: cross-build and MSI, signed with a throw-away certificate"
signing=$(mktemp -d)
timestamp_server=""
stop_timestamp_server() { [ -z "$timestamp_server" ] || kill "$timestamp_server" 2>/dev/null || true; }
trap 'stop_timestamp_server; rm -rf "$signing"' EXIT
# shellcheck source=tests/lib/code-signing.sh
source tests/lib/code-signing.sh
code_signing_identity "$signing"
# A local RFC 3161 timestamp authority (no network here), so that CPX_SIGN_TIMESTAMP_URL is used.
node tests/windows/timestamp-server.mjs "$signing/tsa.cnf" "$signing/tsa.port" >"$signing/tsa.log" 2>&1 &
timestamp_server=$!
for _ in $(seq 1 100); do [ -s "$signing/tsa.port" ] && break; sleep 0.1; done
timestamp_url="http://127.0.0.1:$(cat "$signing/tsa.port")/"
CPX_SIGN_PKCS12="$signing/signer.p12" CPX_SIGN_PASSWORD_FILE="$signing/signer.pass" \
  CPX_SIGN_TIMESTAMP_URL="$timestamp_url" bash packaging/windows/build.sh 2>&1 | tee "$signing/build.log"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' host/Cargo.toml | head -1)
next_version=$(echo "$version" | awk -F. '{print $1 "." $2 "." $3 + 1}')
exe="$root/target/windows/x86_64-pc-windows-gnu/release/cpx-connect.exe"
msi="$root/target/windows/dist/cpx-connect-$version-x64.msi"
msi_next="$root/target/windows/dist/cpx-connect-$next_version-x64.msi"
signed_exe="$signing/cpx-connect.exe"
cp "$root/target/windows/dist/cpx-connect.exe" "$signed_exe"
verifies() { osslsigncode verify -CAfile "$1" -TSA-CAfile "$signing/ca.pem" -in "$2" >"$signing/verify.log" 2>&1; }
timestamped() { verifies "$signing/ca.pem" "$1" && grep -q '^Timestamp Server Signature verification: ok' "$signing/verify.log"; }
expect "the signed exe verifies against the test CA" verifies "$signing/ca.pem" "$signed_exe"
expect "the signed MSI verifies against the test CA" verifies "$signing/ca.pem" "$msi"
expect "CPX_SIGN_TIMESTAMP_URL reaches osslsigncode as -ts" grep -q -- "-ts $timestamp_url" "$signing/build.log"
expect "the exe's signature carries the test TSA's timestamp" timestamped "$signed_exe"
expect "the MSI's signature carries the test TSA's timestamp" timestamped "$msi"
expect "the timestamp server was asked twice (exe, MSI)" test "$(grep -c '^POST / 200' "$signing/tsa.log")" -eq 2
stop_timestamp_server
expect "the signed exe does not verify against another CA" bash -c "! osslsigncode verify -CAfile '$signing/other-ca.pem' -in '$signed_exe' >/dev/null 2>&1"
# One byte of the code changed after signing (past the headers, in .text).
cp "$signed_exe" "$signing/tampered.exe"
printf '\x00' | dd of="$signing/tampered.exe" bs=1 seek=4200 conv=notrunc 2>/dev/null
expect "the tampered copy differs from the signed exe" bash -c "! cmp -s '$signed_exe' '$signing/tampered.exe'"
expect "the signed exe with one byte changed fails verification" bash -c "! osslsigncode verify -CAfile '$signing/ca.pem' -in '$signing/tampered.exe' >/dev/null 2>&1"
expect "the signing command line carries no password" bash -c "! grep -q -F \"\$(cat '$signing/signer.pass')\" '$signing/build.log'"
expect "a signed build does not call itself unsigned" bash -c "! grep -q 'UNSIGNED' '$signing/build.log'"
# The upgrade's MSI, unsigned: a build without signing inputs says so, and verify refuses it.
CPX_MSI_VERSION="$next_version" bash packaging/windows/build.sh >/dev/null 2>"$signing/unsigned.log"
expect "an unsigned build says so" grep -q 'UNSIGNED BUILD' "$signing/unsigned.log"
expect "the unsigned MSI fails verification" bash -c "! osslsigncode verify -CAfile '$signing/ca.pem' -in '$msi_next' >/dev/null 2>&1"
# An unreachable timestamp server fails the build rather than leaving a signature that dies with
# the certificate (the test TSA is stopped: its port refuses).
set +e
CPX_SIGN_PKCS12="$signing/signer.p12" CPX_SIGN_PASSWORD_FILE="$signing/signer.pass" \
  CPX_SIGN_TIMESTAMP_URL="$timestamp_url" bash packaging/windows/build.sh >"$signing/timestamp.log" 2>&1
timestamp_code=$?
set -e
expect "an unreachable timestamp server fails the build" test "$timestamp_code" -ne 0
expect "and says which file could not be signed" grep -q 'windows build: signing .*cpx-connect.exe failed' "$signing/timestamp.log"
expect "the failed timestamped build left the signed MSI as it was" verifies "$signing/ca.pem" "$msi"
# The PKCS#11 route: the same signer's key on a SoftHSM2 token, the certificate from a PEM file.
code_signing_token "$signing"
set +e
SOFTHSM2_CONF="$signing/softhsm2.conf" CPX_SIGN_PKCS11_MODULE="$softhsm_module" \
  CPX_SIGN_PKCS11_KEY='pkcs11:token=cpx-test;object=signer;type=private' CPX_SIGN_CERTS="$signing/signer.pem" \
  CPX_SIGN_PASSWORD_FILE="$signing/token.pin" bash packaging/windows/build.sh >"$signing/pkcs11.log" 2>&1
pkcs11_code=$?
set -e
expect "a build signed through PKCS#11 (SoftHSM2) succeeds" test "$pkcs11_code" -eq 0
expect "the build named the module and the key URI" grep -q -- "-pkcs11module $softhsm_module -certs $signing/signer.pem -key pkcs11:token=cpx-test;object=signer;type=private" "$signing/pkcs11.log"
expect "the exe signed through PKCS#11 verifies against the test CA" verifies "$signing/ca.pem" "$root/target/windows/dist/cpx-connect.exe"
expect "the MSI signed through PKCS#11 verifies against the test CA" verifies "$signing/ca.pem" "$msi"
mkdir -p target/windows/shim
x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o target/windows/shim/bcryptprimitives.dll \
  tests/windows/bcryptprimitives.c -lbcrypt
x86_64-w64-mingw32-gcc -O2 -Wall -shared -Wl,--kill-at -o target/windows/shim/winscard.dll \
  tests/windows/winscard-vpcd.c -lws2_32
# The Windows-only code (the registry) is compiled on Windows only: lint it there.
if RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_DIR="$root/target/windows" CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  /usr/bin/cargo-clippy clippy -p cpx-connect -Z build-std=std,panic_abort \
  --target x86_64-pc-windows-gnu --release --locked --quiet -- -D warnings; then
  ok "clippy for x86_64-pc-windows-gnu"
else
  fail "clippy for x86_64-pc-windows-gnu"
fi
timing "the cross-build, both MSIs and the shim, clippy"

echo "==> Windows: a throw-away Wine prefix"
scratch=$(mktemp -d)
export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all WINEARCH=win64
# The shim over Wine's own DLL; no Mono or Gecko download prompts (there is no network).
export WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree=;mshtml="
cleanup() {
  local prefix
  stop_timestamp_server
  for prefix in "$WINEPREFIX" "$scratch"/user-*; do
    WINEPREFIX="$prefix" "$WINESERVER" -k >/dev/null 2>&1 || true
  done
  rm -rf "$scratch" "$signing"
}
trap cleanup EXIT
"$WINE" wineboot -i >/dev/null 2>&1
cp target/windows/shim/bcryptprimitives.dll "$WINEPREFIX/drive_c/windows/system32/"
drive_c="$WINEPREFIX/drive_c"
wine() { "$WINE" "$@"; }
timing "the prefix"

echo "==> Windows: the protocol"
answers=$(node tests/windows/frames.mjs '{"id":"1","command":"version"}' \
  '{"id":"2","command":"status"}' '{"id":"3","command":"certificates"}' '{"id":"4","command":"quit"}' \
  -- "$WINE" "$exe")
echo "$answers"
expect "version answers" grep -q "^{\"id\":\"1\",\"result\":{\"protocol\":1,\"version\":\"$version\"" <<<"$answers"
expect "status says the service is unavailable" grep -q '^{"id":"2","result":{.*"service":"unavailable"' <<<"$answers"
# Depends on the PC/SC error mapping that answers ERR_PCSC_UNAVAILABLE when no context can be had.
expect "certificates without a smart card service: ERR_PCSC_UNAVAILABLE" \
  grep -q '^{"id":"3","error":{"code":"ERR_PCSC_UNAVAILABLE"' <<<"$answers"

echo "==> Windows: malformed input and framing, the Linux suite against the exe"
if CPX_CONNECT_BIN="$root/tests/windows/wine-host.sh" CPX_WINDOWS_EXE="$exe" WINE="$WINE" \
  cargo test --locked -p cpx-e2e --test malformed_input; then
  ok "malformed_input suite"
else
  fail "malformed_input suite"
fi
timing "the protocol checks"

# reg query of a key's default value: the value, or nothing when the key is absent.
registered() {
  wine reg query "$1" /ve 2>/dev/null | tr -d '\r' | sed -n 's/^ *(Default) *REG_SZ *//p'
}
browsers_keys=(
  'Software\Google\Chrome\NativeMessagingHosts\org.cpxconnect.host'
  'Software\Chromium\NativeMessagingHosts\org.cpxconnect.host'
  'Software\Microsoft\Edge\NativeMessagingHosts\org.cpxconnect.host'
  'Software\Mozilla\NativeMessagingHosts\org.cpxconnect.host'
)
# A snapshot of the browsers' keys in a hive's Software tree (Windows Installer keeps its own
# bookkeeping elsewhere in it), to compare before install and after uninstall.
software_tree() {
  wine reg query "$1\\Software" /s 2>/dev/null | tr -d '\r' |
    grep -i -E '^HKEY_[A-Z_]+\\Software\\(Google|Chromium|Mozilla|Microsoft\\Edge)(\\|$)' | sort || true
}

install_round() { # install_round HIVE FOLDER [--system]
  local hive=$1 folder=$2; shift 2
  local before; before=$(software_tree "$hive")
  local first second
  first=$(wine "$exe" install "$@")
  echo "$first"
  expect "install $* writes four keys" test "$(grep -c '^written ' <<<"$first")" -eq 4
  second=$(wine "$exe" install "$@")
  expect "install $* shows in the browsers' $hive keys" test "$(software_tree "$hive")" != "$before"
  expect "install $* again changes nothing" test "$(grep -c '^unchanged ' <<<"$second")" -eq 4
  for key in "${browsers_keys[@]}"; do
    local value file
    value=$(registered "$hive\\$key")
    case "$key" in *Mozilla*) file=org.cpxconnect.host.firefox.json ;; *) file=org.cpxconnect.host.json ;; esac
    expect "$hive\\$key names $folder\\$file" test "$value" = "$folder\\$file"
    local unix; unix=$(wine winepath -u "$value" 2>/dev/null | tr -d '\r')
    expect "$value exists and points at the exe" grep -q '"path": ".*cpx-connect.exe"' "$unix"
  done
  wine "$exe" uninstall "$@" | tee "$scratch/uninstall.txt"
  for key in "${browsers_keys[@]}"; do
    expect "uninstall $* deletes $hive\\$key" test -z "$(registered "$hive\\$key")"
  done
  expect "uninstall $* leaves the browsers' $hive keys as they were" test "$(software_tree "$hive")" = "$before"
}

echo "==> Windows: install, reg query, uninstall per user"
local_app_data=$(wine cmd /c echo %LOCALAPPDATA% | tr -d '\r')
install_round HKCU "$local_app_data\\cpx-connect"
local_unix=$(wine winepath -u "$local_app_data" | tr -d '\r')
expect "per-user uninstall removes the manifests" \
  test ! -e "$local_unix/cpx-connect/org.cpxconnect.host.json" -a ! -e "$local_unix/cpx-connect/org.cpxconnect.host.firefox.json"

echo "==> Windows: install, reg query, uninstall system-wide"
exe_folder=$(wine winepath -w "$(dirname "$exe")" | tr -d '\r')
install_round HKLM "$exe_folder" --system
expect "system-wide uninstall removes the manifests next to the exe" \
  test ! -e "$(dirname "$exe")/org.cpxconnect.host.json" -a ! -e "$(dirname "$exe")/org.cpxconnect.host.firefox.json"
timing "install and uninstall"

echo "==> Windows: doctor"
set +e
doctor=$(wine "$exe" doctor)
doctor_code=$?
set -e
echo "$doctor"
expect "doctor exits 2 (a FAIL: no login possible)" test "$doctor_code" -eq 2
expect "doctor names the stopped smart card service" \
  grep -q '^FAIL  PC/SC service: not reachable (Windows. Smart Card service, SCardSvr, is not running) -> fix: .*sc start SCardSvr' <<<"$doctor"
expect "doctor says where the logs go" grep -q "^OK    Logs: .*AppData.Local.cpx-connect.logs" <<<"$doctor"
timing "doctor"

echo "==> Windows: the MSI"
program_files="$drive_c/Program Files/CPx Connect"
products() { # DisplayVersion of every installed product named CPx Connect
  wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' |
    awk '/^HKEY/ {ours = 0} /DisplayName +REG_SZ +CPx Connect$/ {ours = 1} /DisplayVersion/ && ours {print $NF}' |
    sort | tr '\n' ' '
}
hklm_before=$(software_tree HKLM)
msi_keys_point_into_program_files() {
  local key
  for key in "${browsers_keys[@]}"; do
    case "$(registered "HKLM\\$key")" in
      'C:\Program Files\CPx Connect\org.cpxconnect.host.json' | 'C:\Program Files\CPx Connect\org.cpxconnect.host.firefox.json') ;;
      *) return 1 ;;
    esac
  done
}
wine msiexec /i "$(wine winepath -w "$msi" | tr -d '\r')" /qn
expect "MSI $version: one product, version $version" test "$(products)" = "$version "
expect "MSI $version: exe and manifests in Program Files" \
  test -f "$program_files/cpx-connect.exe" -a -f "$program_files/org.cpxconnect.host.json" -a -f "$program_files/org.cpxconnect.host.firefox.json"
expect "MSI $version: the four HKLM keys name its manifests" msi_keys_point_into_program_files
expect "MSI $version: the exe it installed is the signed one" verifies "$signing/ca.pem" "$program_files/cpx-connect.exe"
set +e
msi_doctor=$(wine "C:\\Program Files\\CPx Connect\\cpx-connect.exe" doctor)
set -e
expect "doctor of the installed exe accepts the MSI's manifests" \
  test "$(grep -c '^OK    .*Program Files.CPx Connect.org.cpxconnect.host.*starts this program' <<<"$msi_doctor")" -eq 5
wine msiexec /i "$(wine winepath -w "$msi_next" | tr -d '\r')" /qn
expect "MSI $next_version upgrades: one product, version $next_version" test "$(products)" = "$next_version "
expect "MSI $next_version: files and keys still there" msi_keys_point_into_program_files
set +e
wine msiexec /i "$(wine winepath -w "$msi" | tr -d '\r')" /qn
downgrade=$?
set -e
expect "MSI $version refuses to downgrade $next_version" test "$downgrade" -ne 0 -a "$(products)" = "$next_version "
wine msiexec /x "$(wine winepath -w "$msi_next" | tr -d '\r')" /qn
expect "MSI removal: no product left" test -z "$(products)"
expect "MSI removal: no folder left in Program Files" test ! -e "$program_files"
expect "MSI removal: the browsers' HKLM keys as before" test "$(software_tree HKLM)" = "$hklm_before"
timing "the MSI"

echo "==> Windows: the MSI's EXTENSION_IDS"
extra_chrome=abcdefghijklmnopabcdefghijklmnop
extra_firefox=hospital@chu.example.fr
release_chrome=$(node -p 'require("./extension/ids.json").channels.selfHosted.chromeExtensionId')
release_firefox=$(node -p 'require("./extension/ids.json").firefoxAddonId')
development_chrome=$(node -p 'require("./extension/ids.json").channels.development.chromeExtensionId')
# admitted FILE FIELD: the manifest's list (allowed_origins or allowed_extensions), one a line.
admitted() { node -e 'for (const item of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]] || []) console.log(item)' "$1" "$2"; }
chrome_admits() { admitted "$program_files/org.cpxconnect.host.json" allowed_origins | grep -qx "chrome-extension://$1/"; }
firefox_admits() { admitted "$program_files/org.cpxconnect.host.firefox.json" allowed_extensions | grep -qx "$1"; }
settings_value() { wine reg query 'HKLM\Software\CPx Connect' /v ExtensionIds /reg:64 2>/dev/null | tr -d '\r' | sed -n 's/^ *ExtensionIds *REG_SZ *//p'; }
settings_key_absent() { ! wine reg query 'HKLM\Software\CPx Connect' /reg:64 >/dev/null 2>&1; }
msi_windows=$(wine winepath -w "$msi" | tr -d '\r')
msi_next_windows=$(wine winepath -w "$msi_next" | tr -d '\r')
set +e
wine msiexec /i "$msi_windows" /qn "EXTENSION_IDS=$extra_chrome,not-an-id"
malformed=$?
set -e
expect "EXTENSION_IDS with a malformed id fails the installation (exit $malformed)" test "$malformed" -ne 0
expect "after the refused EXTENSION_IDS: no product, no folder, no settings key" \
  test -z "$(products)" -a ! -e "$program_files" -a "$(software_tree HKLM)" = "$hklm_before"
expect "after the refused EXTENSION_IDS: no settings key" settings_key_absent
expect "the check the MSI runs names the bad id" \
  bash -c '"$1" "$2" install --check-extension-ids "$3,not-an-id" 2>&1 | grep -q "EXTENSION_IDS: .not-an-id. is neither a Chrome extension id"' _ "$WINE" "$exe" "$extra_chrome"
wine msiexec /i "$msi_windows" /qn "EXTENSION_IDS=$extra_chrome,$extra_firefox"
expect "MSI with EXTENSION_IDS: one product" test "$(products)" = "$version "
expect "EXTENSION_IDS is kept in HKLM\\SOFTWARE\\CPx Connect" test "$(settings_value)" = "$extra_chrome,$extra_firefox"
extra_ids_admitted() { # extra_ids_admitted WHEN
  expect "$1: the Chromium manifest admits the extra id" chrome_admits "$extra_chrome"
  expect "$1: and the release id" chrome_admits "$release_chrome"
  expect "$1: but not the development id" bash -c "! grep -q '$development_chrome' '$program_files/org.cpxconnect.host.json'"
  expect "$1: the Firefox manifest admits the extra add-on" firefox_admits "$extra_firefox"
  expect "$1: and the release add-on" firefox_admits "$release_firefox"
  expect "$1: the four HKLM keys still name the manifests" msi_keys_point_into_program_files
  expect "$1: nothing else in the program's folder" \
    test "$(ls "$program_files" | sort | tr '\n' ' ')" = "cpx-connect.exe org.cpxconnect.host.firefox.json org.cpxconnect.host.json "
}
extra_ids_admitted "MSI with EXTENSION_IDS"
set +e
msi_doctor=$(wine "C:\\Program Files\\CPx Connect\\cpx-connect.exe" doctor)
set -e
expect "doctor of the installed exe accepts the rewritten manifests" \
  test "$(grep -c '^OK    .*Program Files.CPx Connect.org.cpxconnect.host.*starts this program' <<<"$msi_doctor")" -eq 5
wine msiexec /i "$msi_next_windows" /qn
expect "upgrade to $next_version without the property: EXTENSION_IDS still kept" test "$(settings_value)" = "$extra_chrome,$extra_firefox"
extra_ids_admitted "after the upgrade without the property"
# A repair: what msiexec /fa does on Windows (Wine's msiexec /f answers 1 for any package).
wine msiexec /i "$msi_next_windows" /qn REINSTALL=ALL REINSTALLMODE=vamus
extra_ids_admitted "after a repair (REINSTALL=ALL REINSTALLMODE=vamus)"
wine msiexec /x "$msi_next_windows" /qn
expect "removal: no product, no folder" test -z "$(products)" -a ! -e "$program_files"
expect "removal: no settings key left" settings_key_absent
wine msiexec /i "$msi_next_windows" /qn
expect "MSI without EXTENSION_IDS: no settings value" test -z "$(settings_value)"
expect "MSI without EXTENSION_IDS: the release id only" \
  test "$(admitted "$program_files/org.cpxconnect.host.json" allowed_origins)" = "chrome-extension://$release_chrome/"
expect "MSI without EXTENSION_IDS: the release add-on only" \
  test "$(admitted "$program_files/org.cpxconnect.host.firefox.json" allowed_extensions)" = "$release_firefox"
wine msiexec /x "$msi_next_windows" /qn
expect "removal: the browsers' HKLM keys as before" test "$(software_tree HKLM)" = "$hklm_before"
timing "EXTENSION_IDS"

echo "==> Windows: a card login through the exe, the virtual card behind a test winscard.dll"
# Last, as from here on the prefix's PC/SC is the test DLL's reader rather than Wine's stub.
cp target/windows/shim/winscard.dll "$WINEPREFIX/drive_c/windows/system32/"
if WINEDLLOVERRIDES="$WINEDLLOVERRIDES;winscard=n" CPX_VPCD_PORT=$((40000 + RANDOM % 10000)) \
  CPX_CONNECT_BIN="$root/tests/windows/wine-host.sh" CPX_WINDOWS_EXE="$exe" WINE="$WINE" \
  cargo test --locked -p cpx-e2e --test windows_login -- --ignored; then
  ok "card login through the Windows exe"
else
  fail "card login through the Windows exe"
fi

# The doctor with that reader and card, the host registered per user: a login can work.
serve_card_once() { # keeps trying until the card was inserted once (the DLL listens late)
  local attempt
  for attempt in $(seq 1 300); do
    # grep -c reads to the end: the card's APDU log never meets a closed pipe.
    if [ "$("$root/target/debug/cpx-virtual-card" --port "$1" 2>&1 | grep -c 'card inserted on')" -gt 0 ]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
card_port=$((40000 + RANDOM % 10000))
wine "$exe" install --browser chromium >/dev/null
serve_card_once "$card_port" &
card_server=$!
set +e
doctor=$(WINEDLLOVERRIDES="$WINEDLLOVERRIDES;winscard=n" CPX_VPCD_PORT="$card_port" wine "$exe" doctor)
doctor_code=$?
set -e
wait "$card_server" || true
echo "$doctor"
# No browser and no policy in the prefix: WARN lines, so exit 1 (ADMIN.md, section 3), never a FAIL.
expect "doctor with the card exits 1 (WARN only: no browser, no policy)" test "$doctor_code" -eq 1
expect "doctor with the card has no FAIL line" bash -c "! grep -q '^FAIL' <<<\"\$1\"" _ "$doctor"
expect "doctor names the reader and the card" grep -q '^OK    Card in CPx Virtual Reader 0: CPS3' <<<"$doctor"
expect "doctor reads the certificate" grep -q '^OK    Certificate of MARIE DUPONT (810001234567), CPS3 card' <<<"$doctor"
expect "doctor: a login can work in Chromium" grep -q '^OK    A card login can work in: Chromium$' <<<"$doctor"
wine "$exe" uninstall >/dev/null
timing "the login"

echo "==> Windows: two users at once, each with their own LOCALAPPDATA"
# Wine takes LOCALAPPDATA from the prefix's user profile (named after USER when the prefix is
# made), not from the environment: each user is a prefix of their own, as each Windows user is a
# profile of their own (tests/e2e/tests/windows_two_users.rs).
user_prefixes=("$scratch/user-dupont" "$scratch/user-martin")
boots=()
for prefix in "${user_prefixes[@]}"; do
  USER=${prefix##*user-} WINEPREFIX="$prefix" "$WINE" wineboot -i >/dev/null 2>&1 &
  boots+=($!)
done
wait "${boots[@]}"
for prefix in "${user_prefixes[@]}"; do
  cp target/windows/shim/bcryptprimitives.dll target/windows/shim/winscard.dll "$prefix/drive_c/windows/system32/"
done
if WINEDLLOVERRIDES="$WINEDLLOVERRIDES;winscard=n" CPX_WINE_USER_PREFIXES="${user_prefixes[0]}:${user_prefixes[1]}" \
  CPX_CONNECT_BIN="$root/tests/windows/wine-host.sh" CPX_WINDOWS_EXE="$exe" WINE="$WINE" \
  cargo test --locked -p cpx-e2e --test windows_two_users -- --ignored; then
  ok "two users log in at once, each in their own LOCALAPPDATA"
else
  fail "two users log in at once, each in their own LOCALAPPDATA"
fi
for prefix in "${user_prefixes[@]}"; do WINEPREFIX="$prefix" "$WINESERVER" -k >/dev/null 2>&1 || true; done
timing "two users"

echo "==> macOS: cargo check"
# One target: what differs on macOS is the operating system (cfg(target_os), its paths and
# manifest places), not the processor; the standard library is rebuilt per target, so a second
# one would double the step for no new code checked. That holds while the host has no
# per-processor code: checked here, so the day it gets some, this says to add the target.
if grep -rn 'target_arch' host/src; then
  fail "host/src has cfg(target_arch): check x86_64-apple-darwin too"
fi
if RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$root/target/macos" \
  cargo check -p cpx-connect -Z build-std=std,panic_abort \
  --target aarch64-apple-darwin --locked --quiet; then
  ok "cargo check --target aarch64-apple-darwin"
else
  fail "cargo check --target aarch64-apple-darwin"
fi
timing "the macOS checks"

echo "windows: done in $(( $(date +%s) - started )) s"
checks_summary
