#!/usr/bin/env bash
# Builds the Debian package of the native host:
#   <target>/debian/cpx-connect_<version>_<arch>.deb   (<target>: $CARGO_TARGET_DIR, else target/)
# with /usr/bin/cpx-connect, the conffile /etc/cpx-connect/extension-ids.conf (extra extension
# ids), maintainer scripts that write and remove the system-wide host manifests of Chrome (also
# read by Brave), Chromium, Edge and Firefox, and the policy examples and README in
# /usr/share/doc/cpx-connect/.
# Needs cargo and dpkg-deb. Prints the package's path on its last line.
#
#   packaging/deb/build.sh              # for this machine's architecture
#   packaging/deb/build.sh --arch arm64 # Linux arm64, cross-built (see packaging/deb/arm64.sh)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
native=$(dpkg --print-architecture)
arch=$native
case "${1:-}" in
    "") ;;
    --arch) arch=${2:?"--arch needs an architecture (arm64)"} ;;
    *) echo "usage: $0 [--arch arm64]" >&2; exit 2 ;;
esac

if [ "$arch" = "$native" ]; then
    cargo build --release --locked -p cpx-connect --manifest-path "$repo/Cargo.toml"
    binary=$target/release/cpx-connect
    objdump=objdump
    run=()
elif [ "$arch" = arm64 ]; then
    # shellcheck source=arm64.sh
    . "$repo/packaging/deb/arm64.sh"
    arm64_cargo build --release --locked -p cpx-connect --manifest-path "$repo/Cargo.toml"
    binary=$arm64_target/aarch64-unknown-linux-gnu/release/cpx-connect
    objdump=aarch64-linux-gnu-objdump
    run=(qemu-aarch64 -L /)
else
    echo "deb build: no cross-build for $arch from $native (only arm64)" >&2
    exit 2
fi
# The version the binary says (under qemu-user when cross-built: it also shows that it runs).
version=$("${run[@]}" "$binary" --version | awk '{print $2}')
# The oldest glibc the binary needs, from the symbol versions it links against.
glibc=$("$objdump" -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)

out=$target/debian
stage=$out/cpx-connect_${version}_${arch}
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"

install -D -m 0755 "$binary" "$stage/usr/bin/cpx-connect"

# The host manifests are not shipped: postinst writes them (`cpx-connect install --system`) from
# the release ids and the administrator's extension-ids.conf, prerm removes them. A shipped copy
# would be dpkg's, and every upgrade would bring back whatever ids it listed.
install -D -m 0644 "$repo/packaging/deb/extension-ids.conf" "$stage/etc/cpx-connect/extension-ids.conf"
for script in postinst prerm postrm; do
    install -m 0755 "$repo/packaging/deb/maintainer/$script" "$stage/DEBIAN/$script"
done
printf '/etc/cpx-connect/extension-ids.conf\n' >"$stage/DEBIAN/conffiles"

doc=$stage/usr/share/doc/cpx-connect
install -D -m 0644 "$repo/packaging/deb/README.Debian" "$doc/README.Debian"
install -D -m 0644 "$repo/packaging/deb/copyright" "$doc/copyright"
install -D -m 0644 "$repo/manifests/ADMIN.md" "$doc/ADMIN.md"
install -D -m 0644 "$repo/manifests/README.md" "$doc/manifests.md"
install -D -m 0644 "$repo/manifests/policies/chromium/cpx-connect.json" "$doc/policies/chromium/cpx-connect.json"
install -D -m 0644 "$repo/manifests/policies/firefox/policies.json" "$doc/policies/firefox/policies.json"
install -D -m 0644 "$repo/extension/managed_schema.json" "$doc/policies/managed_schema.json"

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: cpx-connect
Version: $version
Architecture: $arch
Maintainer: CPx Connect <maintainers@cpxconnect.org>
Installed-Size: $installed_size
Depends: libc6 (>= $glibc), libgcc-s1, libpcsclite1, pcscd
Section: utils
Priority: optional
Homepage: https://github.com/cpxconnect/cpx-connect
Description: login to health web services with a French CPx card (native host)
 CPx Connect lets health professionals log in to web sites with their CPS
 card: the site asks the browser extension, the extension asks this native
 messaging host, and the host has the card sign a challenge bound to the
 site's origin.
 .
 This package installs the host and registers it system-wide with Google
 Chrome, Chromium, Microsoft Edge, Brave and Firefox, for the release builds
 of the extension and the ids listed in /etc/cpx-connect/extension-ids.conf;
 the command "cpx-connect doctor" checks a workstation. Policy examples to
 force-install the extension are in /usr/share/doc/cpx-connect/.
CONTROL
(cd "$stage" && find usr etc -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)

dpkg-deb --root-owner-group --build "$stage" "$out/cpx-connect_${version}_${arch}.deb" >/dev/null
rm -rf "$stage"
echo "$out/cpx-connect_${version}_${arch}.deb"
