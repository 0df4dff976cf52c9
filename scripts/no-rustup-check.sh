#!/usr/bin/env bash
# The README's promise for a Debian 12 machine without rustup, checked in CI: with rustup's
# directory off PATH and an empty CARGO_HOME, scripts/setup.sh must find no cargo, install
# Debian's own Rust toolchain (cargo-web, rustc-web, rustfmt-web, rust-web-clippy) and check
# it against the workspace's rust-version; that toolchain then type-checks every binary of the
# workspace, from crates.io into the empty CARGO_HOME (build scripts run, so the C parts such
# as SQLite are compiled), and builds and passes the host's whole test suite (unit, in-process
# card logins, install/uninstall, doctor with pcscd and the virtual card). A check, not a
# build, for the other binaries: it proves the same thing about this compiler in half the time;
# code generation and linking with it are proven by the host's build.
# The rest of `make test` runs on the same workspace with rustup's toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '/\.cargo/bin$' -e '/\.rustup' | paste -sd: -)
export PATH CARGO_HOME="$work/cargo-home" CARGO_TARGET_DIR="$root/target/no-rustup"
unset RUSTUP_HOME RUSTUP_TOOLCHAIN RUSTC CARGO RUSTC_BOOTSTRAP

if command -v cargo >/dev/null 2>&1 && [ "$(command -v cargo)" != /usr/bin/cargo ]; then
  echo "no-rustup: a cargo other than Debian's is still on PATH: $(command -v cargo)" >&2
  exit 1
fi

# Where the distribution has no such toolchain (stand-in apt tools that know no package), and
# where the Rust found is too old, setup stops with one line naming rustup and the minimum.
min_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
stubs="$work/stubs"
mkdir -p "$stubs/none" "$stubs/old" "$stubs/base"
# The "none" case sees only the tools setup.sh uses, so no cargo at all, whatever is installed.
for tool in bash sed grep awk sort head id dpkg-query dirname; do
  ln -s "$(command -v "$tool")" "$stubs/base/$tool"
done
printf '#!/bin/sh\nexit 100\n' >"$stubs/none/apt-cache"
printf '#!/bin/sh\nexit 0\n' >"$stubs/none/apt-get"
cp "$stubs/none/apt-get" "$stubs/old/apt-get"
printf '#!/bin/sh\necho "rustc 1.80.0 (stand-in)"\n' >"$stubs/old/rustc"
printf '#!/bin/sh\necho "cargo 1.80.0 (stand-in)"\n' >"$stubs/old/cargo"
chmod +x "$stubs"/*/*
for situation in none old; do
  search_path="$stubs/$situation:$PATH"
  [ "$situation" = old ] || search_path="$stubs/$situation:$stubs/base"
  if message=$(PATH="$search_path" bash scripts/setup.sh 2>&1 >/dev/null); then
    echo "no-rustup: setup.sh went on with $situation Rust available" >&2
    exit 1
  fi
  case "$message" in
    *rustup*"$min_rust"* | *"$min_rust"*rustup*) echo "no-rustup: ($situation) $message" ;;
    *) echo "no-rustup: setup.sh's message names neither rustup nor $min_rust: $message" >&2; exit 1 ;;
  esac
done

start=$(date +%s)
bash scripts/setup.sh
[ "$(command -v cargo)" = /usr/bin/cargo ] || { echo "no-rustup: setup.sh left no /usr/bin/cargo" >&2; exit 1; }
echo "no-rustup: $(cargo --version), $(rustc --version), CARGO_HOME empty at start"

cargo fmt --all -- --check
cargo check --locked --workspace --bins
cargo test --locked -p cpx-connect
echo "no-rustup: done in $(( $(date +%s) - start )) s"
