#!/usr/bin/env bash
# Reruns the README's figures: `make bench` (or `bash scripts/bench.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -p cpx-connect --bins --example minimal_host
cargo build --release --locked -p cpx-e2e --bin cpx-bench
bash scripts/start-pcscd.sh >/dev/null
CPX_E2E_HOST_LOG=info CPX_CONNECT_BIN="$target/release/cpx-connect" \
CPX_MINIMAL_HOST="$target/release/examples/minimal_host" \
  "$target/release/cpx-bench"
