#!/usr/bin/env bash
# Fuzzes the native host: builds every cargo-fuzz target of fuzz/ and runs each for N seconds
# (default 60), starting from seeds made from real data (DESIGN.md's requests, the virtual card's
# files and recorded sessions). Fails if any target crashes, hangs (10 s per input) or runs out
# of memory; the input that did it is kept in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [seconds-per-target]
#   scripts/fuzz.sh --build-only    (what `make test` starts early, in the background)
#
# cargo-fuzz needs nightly compiler flags (-Z sanitizer options, -C passes=sancov-module); the
# machine has only the stable toolchain, so the fuzz builds run with RUSTC_BOOTSTRAP=1.
# The targets are built without a sanitizer: the host is `forbid(unsafe_code)` Rust, so what
# fuzzing looks for is panics, overflows (debug assertions are on), hangs and runaway memory,
# and without AddressSanitizer each target runs about twice as many inputs.
set -euo pipefail

build_only=""
[ "${1:-}" != --build-only ] || build_only=1
seconds="${1:-60}"
if [ -z "$build_only" ] && { ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; }; then
  echo "usage: $0 [seconds-per-target | --build-only]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

build_flags=(--sanitizer none --debug-assertions)

# The fuzz workspace starts from the main lockfile, so the host is fuzzed with the very
# dependency versions it ships with; cargo adds libFuzzer and drops what the fuzz crate lacks.
cp Cargo.lock fuzz/Cargo.lock

echo "==> seeds"
# Made by the fuzz crate's own example, which drives the virtual card; a stable build.
(cd fuzz && cargo run --quiet --example write_seeds -- corpus)

echo "==> building the fuzz targets"
RUSTC_BOOTSTRAP=1 cargo fuzz build "${build_flags[@]}"
[ -z "$build_only" ] || exit 0

failed=()
for target in $(cargo fuzz list); do
  echo "==> fuzzing $target for ${seconds} s"
  # -timeout: seconds one input may take before it counts as a hang.
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "${build_flags[@]}" "$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]}" >&2
  echo "inputs are in fuzz/artifacts/<target>/; replay one with:" >&2
  echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} <target> fuzz/artifacts/<target>/<file>" >&2
  exit 1
fi
echo "fuzzing: every target ran ${seconds} s without a failure"
