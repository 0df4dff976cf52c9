# Cross-building for Linux arm64 (aarch64-unknown-linux-gnu), sourced by packaging/deb/build.sh
# and packaging/deb/arm64-check.sh. The same route as the Windows build: Debian's rustc with its
# standard library's sources (rust-web-src), rebuilt for the target with -Z build-std
# (RUSTC_BOOTSTRAP=1), so no prebuilt arm64 standard library is needed; Debian's cross linker
# (gcc-aarch64-linux-gnu) and the arm64 PC/SC library (libpcsclite-dev:arm64, multiarch), found
# by pkg-config through the arm64 .pc files. Programs run under qemu-user (`qemu-aarch64 -L /`:
# the arm64 loader and libraries are the multiarch ones in /lib and /usr/lib/aarch64-linux-gnu).
# scripts/setup.sh test installs all of it.

arm64_target=${CARGO_TARGET_DIR:-$repo/target}/arm64

arm64_cargo() {
    local tool
    for tool in /usr/bin/rustc aarch64-linux-gnu-gcc qemu-aarch64; do
        command -v "$tool" >/dev/null || { echo "arm64: $tool is missing: run scripts/setup.sh test" >&2; return 1; }
    done
    [ -f /usr/lib/aarch64-linux-gnu/pkgconfig/libpcsclite.pc ] \
        || { echo "arm64: libpcsclite-dev:arm64 is missing: run scripts/setup.sh test" >&2; return 1; }
    local command=$1
    shift
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$arm64_target" \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /" \
        PKG_CONFIG_ALLOW_CROSS=1 \
        PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
        cargo "$command" -Z build-std=std,panic_abort --target aarch64-unknown-linux-gnu "$@"
}
