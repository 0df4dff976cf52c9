#!/usr/bin/env bash
# Reruns the README's figures: `make bench` (or `bash scripts/bench.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -p cpx-connect --bins --example minimal_host
cargo build --release --locked -p cpx-e2e --bin cpx-bench
# The C baseline: the same frame I/O as cpx-connect's `version`, nothing else.
cc -O2 -o "$target/release/minimal_host_c" tests/e2e/bench/minimal_host.c
bash scripts/start-pcscd.sh >/dev/null
CPX_E2E_HOST_LOG=info CPX_CONNECT_BIN="$target/release/cpx-connect" \
CPX_MINIMAL_HOST="$target/release/examples/minimal_host" \
CPX_MINIMAL_C_HOST="$target/release/minimal_host_c" \
  "$target/release/cpx-bench"
