#!/usr/bin/env bash
# The builds of `make test`'s later steps, run early in the background while the long test runs
# (the end-to-end suite over pcscd, the real browsers) leave the cores mostly idle waiting on
# cards and windows. At the lowest CPU and I/O priority, so those runs keep the machine first.
# Each build is the very command its step runs (the Windows exe and MSI, the Debian package,
# the arm64 cross-builds, the fuzz crates): the step then finds it done, or waits on cargo's
# lock for the rest. Nothing here is checked: a build that fails here fails again in its own
# step, with its message there. Started by scripts/test.sh; the log is target/warm-up.log.
set -uo pipefail
cd "$(dirname "$0")/.."

renice -n 19 -p $$ >/dev/null
ionice -c 3 -p $$ 2>/dev/null || true

build() {
  local started=$SECONDS
  if "$@" >/dev/null 2>&1; then
    echo "warm-up: $* built in $((SECONDS - started)) s"
  else
    echo "warm-up: $* failed after $((SECONDS - started)) s (its step will say why)"
  fi
}

# In the order of the steps that use them.
build bash packaging/windows/build.sh
build bash packaging/deb/build.sh
build bash packaging/deb/arm64-check.sh --build-only
build bash -c 'cp Cargo.lock fuzz/Cargo.lock && cd fuzz && cargo test --no-run'
build bash scripts/fuzz.sh --build-only
echo "warm-up: done"
