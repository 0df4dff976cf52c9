#!/usr/bin/env bash
# Builds one folder a hospital can put on its web server as it is, and install everything from:
#
#   scripts/release.sh --out DIR --base-url https://intranet.example.fr/cpx-connect/ \
#       --crx-key self-hosted-key.pem --gpg-key 'FINGERPRINT' [--amo-xpi signed.xpi]
#
#   DIR/updates.xml, DIR/cpx-connect-<v>.crx   the extension for Chrome, Chromium and Edge: a CRX3
#                                              signed with the self-hosted channel's key, and the
#                                              update manifest the ExtensionInstallForcelist names
#   DIR/cpx-connect.xpi                        Firefox's add-on, when --amo-xpi gives the copy AMO
#                                              signed (Firefox release refuses unsigned ones)
#   DIR/unsigned/cpx-connect-<v>-firefox.xpi   what to upload to AMO for that signature
#   DIR/apt/                                   a signed APT repository (apt-ftparchive): dists/stable,
#                                              pool/, and cpx-connect-archive-keyring.gpg for signed-by
#   DIR/windows/cpx-connect-<v>-x64.msi        the MSI, and the bare exe beside it: both
#                                              Authenticode-signed when packaging/windows/build.sh's
#                                              CPX_SIGN_* settings are given (ADMIN.md, section 6)
#   DIR/SHA256SUMS, DIR/SHA256SUMS.asc         every file's SHA-256, signed with the same GPG key
#
# The signing keys are inputs and never stored here: the CRX key is the one whose public half is
# extension/self-hosted-key.pub.pem (its id is in the forcelist of every machine: losing it means
# a new id), the GPG key is the hospital's or the project's archive key (GNUPGHOME is honoured).
# tests/release/run.sh makes throw-away keys, builds a folder, serves it and installs from it.
# Needs what `scripts/setup.sh test` installs (cargo, node, dpkg-deb, apt-ftparchive, gpg, the
# Windows cross-build of packaging/windows/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
out="" base_url="" crx_key="" gpg_key="" amo_xpi=""
while (($#)); do
  case "$1" in
    --out) out=${2:-}; shift 2 ;;
    --base-url) base_url=${2:-}; shift 2 ;;
    --crx-key) crx_key=${2:-}; shift 2 ;;
    --gpg-key) gpg_key=${2:-}; shift 2 ;;
    --amo-xpi) amo_xpi=${2:-}; shift 2 ;;
    *) usage ;;
  esac
done
[ -n "$out" ] && [ -n "$base_url" ] && [ -n "$crx_key" ] && [ -n "$gpg_key" ] || usage
fail() { echo "release: $*" >&2; exit 1; }
[[ "$base_url" == https://*/ ]] || fail "--base-url must be https:// and end with / (the folder's URL): $base_url"
[ -r "$crx_key" ] || fail "--crx-key $crx_key: not readable"
[ -z "$amo_xpi" ] || [ -r "$amo_xpi" ] || fail "--amo-xpi $amo_xpi: not readable"
for tool in cargo node dpkg-deb apt-ftparchive gpg sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool missing: run scripts/setup.sh test"
done
[ -d extension/node_modules/fflate ] || fail "the extension's packages are missing: (cd extension && npm ci)"
# Sign something first: a missing key or a passphrase prompt fails here, not after the builds.
echo probe | gpg --batch --local-user "$gpg_key" --detach-sign >/dev/null ||
  fail "GPG key $gpg_key cannot sign (gpg --list-secret-keys; GNUPGHOME=${GNUPGHOME:-~/.gnupg})"
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  fail "$out exists and is not empty: give a new folder"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' host/Cargo.toml | head -1)

echo "==> extension: CRX3 + updates.xml, xpi"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
node extension/package.mjs --crx-key "$crx_key" --update-url "${base_url}updates.xml" --out "$scratch/extension" >/dev/null
cp "$scratch/extension/updates.xml" "$scratch"/extension/cpx-connect-*.crx "$out/"
mkdir -p "$out/unsigned"
cp "$scratch"/extension/cpx-connect-*-firefox.xpi "$out/unsigned/"
[ -z "$amo_xpi" ] || cp "$amo_xpi" "$out/cpx-connect.xpi"

echo "==> Debian package, in a signed APT repository"
deb=$(bash packaging/deb/build.sh | tail -n 1)
apt_dir="$out/apt"
pool="$apt_dir/pool/main/c/cpx-connect"
mkdir -p "$pool"
cp "$deb" "$pool/"
arch=$(dpkg-deb --field "$deb" Architecture)
index="$apt_dir/dists/stable/main/binary-$arch"
mkdir -p "$index"
# apt-ftparchive names files relative to the folder it runs in: the repository's root.
(cd "$apt_dir" && apt-ftparchive packages pool >"dists/stable/main/binary-$arch/Packages")
gzip -9 -n -k "$index/Packages"
(cd "$apt_dir" && apt-ftparchive \
  -o APT::FTPArchive::Release::Origin="CPx Connect" -o APT::FTPArchive::Release::Label="CPx Connect" \
  -o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=stable \
  -o APT::FTPArchive::Release::Architectures="$arch" -o APT::FTPArchive::Release::Components=main \
  release dists/stable >"$scratch/Release")
mv "$scratch/Release" "$apt_dir/dists/stable/Release"
gpg --batch --yes --local-user "$gpg_key" --clearsign -o "$apt_dir/dists/stable/InRelease" "$apt_dir/dists/stable/Release"
gpg --batch --yes --local-user "$gpg_key" --armor --detach-sign -o "$apt_dir/dists/stable/Release.gpg" "$apt_dir/dists/stable/Release"
# The binary keyring apt's signed-by wants, with the public key only.
gpg --batch --export "$gpg_key" >"$apt_dir/cpx-connect-archive-keyring.gpg"

echo "==> Windows: exe and MSI"
bash packaging/windows/build.sh
mkdir -p "$out/windows"
cp "target/windows/dist/cpx-connect-$version-x64.msi" "$out/windows/"
# The exe as the MSI holds it: signed when the build was.
cp target/windows/dist/cpx-connect.exe "$out/windows/"

echo "==> SHA256SUMS"
(cd "$out" && find . -type f ! -name 'SHA256SUMS*' -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum >SHA256SUMS)
gpg --batch --yes --local-user "$gpg_key" --armor --detach-sign -o "$out/SHA256SUMS.asc" "$out/SHA256SUMS"

echo "release: $out ($(find "$out" -type f | wc -l) files) for $base_url"
(cd "$out" && find . -type f -printf '  %P (%s bytes)\n' | LC_ALL=C sort)
