#!/usr/bin/env bash
# The release folder, as a hospital hosts it and its machines install from it. As root, inside
# /work/tools/isolated.sh (fixed port, apt and dpkg, /etc/chromium policies), with CI=true:
#   CI=true /work/tools/isolated.sh bash tests/release/run.sh
#  1. throw-away keys: a CRX signing key and a GPG key (never the release keys);
#  2. scripts/release.sh builds the folder for https://localhost:PORT/cpx-connect/, its exe and
#     MSI signed with a throw-away code-signing certificate and checked with osslsigncode verify;
#  3. the folder is served over HTTPS (a throw-away certificate) and checked: SHA256SUMS and its
#     signature, each file downloaded equals the built one;
#  4. apt: a deb822 source with signed-by the folder's keyring, apt-get update + install
#     cpx-connect from it; a keyring of another key is refused;
#  5. Chromium force-installs the CRX from the folder's updates.xml by policy (tests/release/chromium.mjs);
#  6. Wine: the folder's MSI refuses a malformed UPDATE_URL or ALLOWED_ORIGINS, installs with
#     them (one product, File.Version from the exe's resource, the release id only, the browser
#     policies in the registry), installs again, then another build of the same version upgrades
#     in place (still one product, the new ProductCode), then removal leaves no product, no policy.
# Build tools and npm packages come from outside (no network in isolated.sh): run
# `(cd tests/browser && npm ci)` and `(cd extension && npm ci)` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

checks_name=release
# shellcheck source=tests/lib/checks.sh
source tests/lib/checks.sh
find_wine
require_tools apt-ftparchive gpg curl openssl osslsigncode wixl msiinfo msibuild chromium node
[ -d tests/browser/node_modules/playwright-core ] || missing_tool "playwright-core (cd tests/browser && npm ci)"
[ "$(id -u)" = 0 ] || { echo "release: run as root inside /work/tools/isolated.sh (apt-get install)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' cpx-connect 2>/dev/null | grep -q ' installed$'; then
  echo "release: a cpx-connect package is already installed; remove it first (dpkg -r cpx-connect)" >&2
  exit 1
fi

started=$(date +%s)

work=$(mktemp -d)
# apt downloads as its unprivileged user _apt, which must reach the lists and archives below.
chmod 0755 "$work"
server=""
installed=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  # Outside isolated.sh (scripts/test.sh on a CI machine) the package is really installed:
  # purged, not only removed, or its conffile (/etc/cpx-connect) stays behind for the next run.
  [ -z "$installed" ] || dpkg -P cpx-connect >/dev/null 2>&1 || true
  "$WINESERVER" -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> release: throw-away keys"
export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg_key() { # gpg_key NAME: a new signing key without passphrase; prints its fingerprint
  gpg --batch --quiet --passphrase '' --quick-gen-key "$1 <release-test@cpxconnect.invalid>" rsa3072 sign 1d
  gpg --batch --with-colons --list-secret-keys "$1" | awk -F: '/^fpr/ {print $10; exit}'
}
fingerprint=$(gpg_key "CPx Connect release test")
other_fingerprint=$(gpg_key "Someone else")
crx_key="$work/keys/crx-key.pem"
mkdir -m 0700 "$work/keys"
crx_id=$(node extension/package.mjs keygen "$crx_key" | sed -n 's/^chrome extension id: //p')

echo "==> release: scripts/release.sh"
port=$((20000 + RANDOM % 10000))
base="https://localhost:$port/cpx-connect/"
site="$work/site"
folder="$site/cpx-connect"
# Authenticode with a throw-away code-signing certificate (tests/lib/code-signing.sh).
# shellcheck source=tests/lib/code-signing.sh
source tests/lib/code-signing.sh
code_signing_identity "$work/code-signing"
CPX_SIGN_PKCS12="$work/code-signing/signer.p12" CPX_SIGN_PASSWORD_FILE="$work/code-signing/signer.pass" \
  bash scripts/release.sh --out "$folder" --base-url "$base" --crx-key "$crx_key" --gpg-key "$fingerprint"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' host/Cargo.toml | head -1)
extension_version=$(node -p 'require("./extension/manifest.template.json").version')
arch=$(dpkg --print-architecture)
for file in updates.xml "cpx-connect-$extension_version.crx" "unsigned/cpx-connect-$extension_version-firefox.xpi" \
  "apt/pool/main/c/cpx-connect/cpx-connect_${version}_$arch.deb" apt/dists/stable/InRelease \
  apt/dists/stable/Release.gpg "apt/dists/stable/main/binary-$arch/Packages" apt/cpx-connect-archive-keyring.gpg \
  "windows/cpx-connect-$version-x64.msi" windows/cpx-connect.exe SHA256SUMS SHA256SUMS.asc; do
  expect "the folder has $file" test -s "$folder/$file"
done
for file in "windows/cpx-connect-$version-x64.msi" windows/cpx-connect.exe; do
  expect "the folder's $file is signed by the test certificate (osslsigncode verify)" \
    bash -c "osslsigncode verify -CAfile '$work/code-signing/ca.pem' -in '$folder/$file' >/dev/null 2>&1"
done
expect "updates.xml names the CRX key's id ($crx_id) and the folder's CRX" \
  grep -q "appid='$crx_id'.*" "$folder/updates.xml"
expect "updates.xml's codebase is in the folder" grep -q "codebase='${base}cpx-connect-$extension_version.crx'" "$folder/updates.xml"
expect "SHA256SUMS lists every other file" \
  test "$(wc -l <"$folder/SHA256SUMS")" -eq "$(find "$folder" -type f ! -name 'SHA256SUMS*' | wc -l)"
expect "SHA256SUMS matches the files" bash -c "cd '$folder' && sha256sum --quiet -c SHA256SUMS"
expect "SHA256SUMS.asc is the release key's signature" \
  bash -c "gpg --batch --status-fd 1 --verify '$folder/SHA256SUMS.asc' '$folder/SHA256SUMS' 2>/dev/null | grep -q 'VALIDSIG $fingerprint'"

echo "==> release: served over HTTPS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -keyout "$work/server-key.pem" -out "$work/server-cert.pem" 2>/dev/null
node tests/release/serve.mjs "$site" "$port" "$work/server-cert.pem" "$work/server-key.pem" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q '^serving' "$work/server.log" && break; sleep 0.1; done
fetch() { curl --fail --silent --show-error --cacert "$work/server-cert.pem" "$@"; }
fetch -o "$work/SHA256SUMS" "${base}SHA256SUMS"
expect "the served SHA256SUMS is the folder's" cmp -s "$work/SHA256SUMS" "$folder/SHA256SUMS"
mkdir "$work/download"
# Everything SHA256SUMS lists, downloaded and checked as an administrator would.
(cd "$work/download" && sed 's/^[0-9a-f]*  //' ../SHA256SUMS | while read -r name; do
  mkdir -p "$(dirname "$name")" && fetch -o "$name" "$base$name"
done)
expect "every file downloaded matches SHA256SUMS" bash -c "cd '$work/download' && sha256sum --quiet -c ../SHA256SUMS"

echo "==> release: apt from the folder, signed-by its keyring"
# Private lists and cache (isolated.sh copies /etc, /usr and /var/lib/dpkg, not /var/lib/apt),
# and only this source: the machine's own ones are unreachable without a network.
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/apt/sources"
apt_options=(-o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache::Archives=$work/apt/archives"
  -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/apt/sources"
  -o "Acquire::https::CaInfo=$work/server-cert.pem")
# The keyring where ADMIN.md puts it would be /etc/apt/keyrings; here it stays in the scratch folder.
keyring="$work/cpx-connect.gpg"
fetch -o "$keyring" "${base}apt/cpx-connect-archive-keyring.gpg"
source_file() { # source_file KEYRING: the deb822 source ADMIN.md gives
  printf 'Types: deb\nURIs: %s\nSuites: stable\nComponents: main\nSigned-By: %s\n' "${base}apt/" "$1" \
    >"$work/apt/sources/cpx-connect.sources"
}
gpg --batch --export "$other_fingerprint" >"$work/other-keyring.gpg"
source_file "$work/other-keyring.gpg"
set +e
wrong_key=$(apt-get "${apt_options[@]}" update 2>&1)
set -e
expect "apt refuses the repository with another key in signed-by" grep -q 'NO_PUBKEY\|not signed\|is not signed' <<<"$wrong_key"
rm -rf "$work/apt/lists" && mkdir -p "$work/apt/lists/partial"
source_file "$keyring"
update=$(apt-get "${apt_options[@]}" update 2>&1) || true
echo "$update"
if grep -q -E '^(W|E|Err):' <<<"$update"; then
  fail "apt-get update reads the signed repository without a warning"
else
  ok "apt-get update reads the signed repository without a warning"
fi
expect "apt sees cpx-connect $version in the folder" \
  bash -c "apt-cache ${apt_options[*]} policy cpx-connect | grep -q 'Candidate: $version'"
installed=1
if DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" install -y -q --no-install-recommends cpx-connect; then
  ok "apt-get install cpx-connect from the folder"
else
  fail "apt-get install cpx-connect from the folder"
fi
expect "the installed package is $version" test "$(dpkg-query -W -f='${Version}' cpx-connect 2>/dev/null)" = "$version"
expect "/usr/bin/cpx-connect runs" bash -c "/usr/bin/cpx-connect --version | grep -q '$version'"
expect "apt downloaded the .deb from the folder" grep -q "GET /cpx-connect/apt/pool/main/c/cpx-connect/cpx-connect_${version}_$arch.deb 200" "$work/server.log"

echo "==> release: Chromium force-installs the CRX from updates.xml"
if node tests/release/chromium.mjs "${base}updates.xml" "$crx_id" "$extension_version"; then
  ok "Chromium installs $crx_id $extension_version by policy from the folder"
else
  fail "Chromium installs $crx_id $extension_version by policy from the folder"
fi
expect "Chromium fetched updates.xml and the CRX from the folder" \
  bash -c "grep -q 'GET /cpx-connect/updates.xml' '$work/server.log' && grep -q 'GET /cpx-connect/cpx-connect-$extension_version.crx 200' '$work/server.log'"

echo "==> release: the MSI under Wine"
msi="$work/download/windows/cpx-connect-$version-x64.msi"
exe_version=$(node packaging/windows/pe-version.mjs "$work/download/windows/cpx-connect.exe")
expect "the exe's version resource says $version.0" test "$exe_version" = "$version.0"
file_version=$(msiinfo export "$msi" File | awk -F'\t' '$1 == "CpxConnectExe" {print $5}')
expect "the MSI's File.Version of cpx-connect.exe is the exe's ($exe_version)" test "$file_version" = "$exe_version"
product_code() { msiinfo export "$1" Property | awk -F'\t' '$1 == "ProductCode" {print $2}' | tr -d '\r'; }
upgrade_code() { msiinfo export "$1" Property | awk -F'\t' '$1 == "UpgradeCode" {print $2}' | tr -d '\r'; }
# Another build of the same version: a new ProductCode, the same UpgradeCode.
rebuilt="$work/rebuilt.msi"
bash packaging/windows/build.sh >/dev/null
cp "target/windows/dist/cpx-connect-$version-x64.msi" "$rebuilt"
expect "a rebuild of $version has a new ProductCode" test "$(product_code "$rebuilt")" != "$(product_code "$msi")"
expect "and the same UpgradeCode ({90C991A3-4794-43C0-82BF-8D0AFB724118}, ADMIN.md)" \
  test "$(upgrade_code "$rebuilt")" = "$(upgrade_code "$msi")" -a "$(upgrade_code "$msi")" = "{90C991A3-4794-43C0-82BF-8D0AFB724118}"

export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64 WINEDLLOVERRIDES="mscoree=;mshtml="
"$WINE" wineboot -i >/dev/null 2>&1
wine() { "$WINE" "$@"; }
# ProductCode (the Uninstall key's name) of every installed product named CPx Connect.
products() {
  wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' |
    awk '/^HKEY/ {key = $0; sub(/.*\\/, "", key)} /DisplayName +REG_SZ +CPx Connect$/ {print key}' | sort | tr '\n' ' '
}
windows_path() { wine winepath -w "$1" | tr -d '\r'; }
program_files="$WINEPREFIX/drive_c/Program Files/CPx Connect"
chrome_id=$(node -p 'require("./extension/ids.json").channels.selfHosted.chromeExtensionId')
firefox_id=$(node -p 'require("./extension/ids.json").firefoxAddonId')
development_id=$(node -p 'require("./extension/ids.json").channels.development.chromeExtensionId')
origins='["https://dpi.example.fr","https://*.ght.example.fr"]'
# Wine's msiexec drops every double quote of a command-line property value (dlls/msi/action.c,
# remove_quotes), where Windows reads "" inside a quoted value as one " (ADMIN.md's example): a
# JSON list cannot reach the MSI through Wine's command line. So the list goes into the MSI's
# Property table, as an administrator's transform or Orca edit would put it; the command line
# still carries UPDATE_URL, and the refusals below come from the command line.
with_origins() { # with_origins MSI OUT: a copy of MSI whose ALLOWED_ORIGINS is the list
  cp "$1" "$2"
  msibuild "$2" -q "INSERT INTO \`Property\` (\`Property\`, \`Value\`) VALUES ('ALLOWED_ORIGINS', '$origins')"
}
with_origins "$msi" "$work/with-origins.msi"
with_origins "$rebuilt" "$work/rebuilt-with-origins.msi"
# One value of the 64-bit registry view, as reg query prints it (type and data).
reg_value() { wine reg query "$1" /v "$2" /reg:64 2>/dev/null | tr -d '\r' | sed -n "s/^ *$2 *//p"; }
policies_root='HKLM\Software\Policies'
starts_with() { [[ "$1" == "$2"* ]]; }

set +e
wine msiexec /i "$(windows_path "$msi")" /qn UPDATE_URL=https://intranet.example.fr/cpx-connect/updates.xml
refused=$?
set -e
expect "UPDATE_URL that is not the folder's address is refused (exit $refused), nothing installed" \
  test "$refused" -ne 0 -a -z "$(products)"
for not_a_list in 'https://dpi.example.fr' '[https://dpi.example.fr]' "$origins"; do
  set +e
  wine msiexec /i "$(windows_path "$msi")" /qn "ALLOWED_ORIGINS=$not_a_list"
  refused=$?
  set -e
  # The last one is the JSON list as Wine passes it on (its quotes dropped or mangled): refused too.
  expect "ALLOWED_ORIGINS $not_a_list, not a JSON list once on the command line, is refused (exit $refused), nothing installed" \
    test "$refused" -ne 0 -a -z "$(products)"
done

# As an administrator would: the folder's address on the command line, the sites (above).
wine msiexec /i "$(windows_path "$work/with-origins.msi")" /qn "UPDATE_URL=$base"
expect "MSI from the folder: one product, its ProductCode" test "$(products)" = "$(product_code "$msi") "
expect "MSI from the folder: the exe in Program Files" test -f "$program_files/cpx-connect.exe"
expect "the MSI's Chromium manifest admits the self-hosted id" grep -q "chrome-extension://$chrome_id/" "$program_files/org.cpxconnect.host.json"
expect "the MSI's Chromium manifest does not admit the development id" bash -c "! grep -q '$development_id' '$program_files/org.cpxconnect.host.json'"
for browser in 'Google\Chrome' 'Microsoft\Edge'; do
  key="$policies_root\\$browser\\ExtensionSettings\\$chrome_id"
  expect "UPDATE_URL: $browser force-installs $chrome_id" test "$(reg_value "$key" installation_mode)" = "REG_SZ    force_installed"
  expect "UPDATE_URL: $browser's update_url is the folder's updates.xml" test "$(reg_value "$key" update_url)" = "REG_SZ    ${base}updates.xml"
  key="$policies_root\\$browser\\3rdparty\\extensions\\$chrome_id\\policy"
  expect "ALLOWED_ORIGINS: $browser's allowedOrigins is the JSON list" test "$(reg_value "$key" allowedOrigins)" = "REG_SZ    $origins"
  expect "ALLOWED_ORIGINS: $browser's restrictOrigins is 1" test "$(reg_value "$key" restrictOrigins)" = "REG_DWORD    0x1"
done
key="$policies_root\\Mozilla\\Firefox\\ExtensionSettings\\$firefox_id"
expect "UPDATE_URL: Firefox force-installs $firefox_id" test "$(reg_value "$key" installation_mode)" = "REG_SZ    force_installed"
expect "UPDATE_URL: Firefox's install_url is the folder's xpi" test "$(reg_value "$key" install_url)" = "REG_SZ    ${base}cpx-connect.xpi"
key="$policies_root\\Mozilla\\Firefox\\3rdparty\\Extensions\\$firefox_id"
# REG_MULTI_SZ: Firefox parses such values as JSON.
expect "ALLOWED_ORIGINS: Firefox's allowedOrigins is a REG_MULTI_SZ with the list" \
  starts_with "$(reg_value "$key" allowedOrigins)" "REG_MULTI_SZ    $origins"
expect "ALLOWED_ORIGINS: Firefox's restrictOrigins is a REG_MULTI_SZ true" \
  starts_with "$(reg_value "$key" restrictOrigins)" "REG_MULTI_SZ    true"
wine msiexec /i "$(windows_path "$work/with-origins.msi")" /qn "UPDATE_URL=$base" || true
expect "the same MSI again: still one product" test "$(products)" = "$(product_code "$msi") "
wine msiexec /i "$(windows_path "$work/rebuilt-with-origins.msi")" /qn "UPDATE_URL=$base"
expect "another build of $version upgrades in place: one product, the rebuild's ProductCode" \
  test "$(products)" = "$(product_code "$rebuilt") "
expect "the exe still in Program Files" test -f "$WINEPREFIX/drive_c/Program Files/CPx Connect/cpx-connect.exe"
expect "after the upgrade: Chrome's allowedOrigins is still the list" \
  test "$(reg_value "$policies_root\\Google\\Chrome\\3rdparty\\extensions\\$chrome_id\\policy" allowedOrigins)" = "REG_SZ    $origins"
expect "after the upgrade: Firefox's allowedOrigins is the list alone" \
  test "$(reg_value "$policies_root\\Mozilla\\Firefox\\3rdparty\\Extensions\\$firefox_id" allowedOrigins)" = "REG_MULTI_SZ    $origins"
wine msiexec /x "$(windows_path "$rebuilt")" /qn
expect "MSI removal: no product left" test -z "$(products)"
expect "MSI removal: no policy left" test -z "$(wine reg query "$policies_root" /s /reg:64 2>/dev/null | tr -d '\r' | grep -i -e "$chrome_id" -e "$firefox_id")"

echo "release: done in $(($(date +%s) - started)) s"
checks_summary
