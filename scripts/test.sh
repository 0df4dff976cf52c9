#!/usr/bin/env bash
# Every test of CPx Connect: formatting and lints, the Rust workspace (unit, in-process and
# end-to-end over pcscd + vpcd), cpx-idp with third-party OpenID Connect clients, the Windows
# build under Wine and the macOS type-check, the no-rustup toolchain, the extension in real
# Chromium and Firefox, the Debian package (and its arm64 build under qemu-user), the release
# folder, and a short fuzz run. Prints one summary line at the end. Run through `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log=$(mktemp)

# The time each step took, printed at the end (also after a failure): CI's budget is watched
# step by step.
step_name="" step_started=$SECONDS timings=()
end_step() {
  [ -z "$step_name" ] || timings+=("$(printf '%6d s  %s' $((SECONDS - step_started)) "$step_name")")
  step_name=""
}
step() {
  end_step
  step_name="$*" step_started=$SECONDS
  printf '\n==> %s\n' "$*"
}
timings_printed=""
print_timings() {
  [ -z "$timings_printed" ] || return 0
  timings_printed=1
  end_step
  printf '\ntime per step:\n'
  printf '%s\n' "${timings[@]}"
  printf '%6d s  in all\n' "$SECONDS"
  [ ! -s target/warm-up.log ] || { printf '\nbuilds started early:\n'; cat target/warm-up.log; }
}
warm_up=""
stop_warm_up() { [ -z "$warm_up" ] || kill -- "-$warm_up" 2>/dev/null || true; }
trap 'stop_warm_up; print_timings; rm -f "$log"' EXIT

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "pcscd"
bash scripts/start-pcscd.sh

step "Rust workspace tests"
cargo build --workspace --bins --locked
cargo test --workspace --locked --no-run
# From here the long runs (this suite over pcscd, the real browsers) leave the cores mostly
# idle: the later steps' builds run meanwhile at the lowest priority (scripts/warm-up-builds.sh,
# its own process group, stopped if this script ends first).
setsid bash scripts/warm-up-builds.sh >target/warm-up.log 2>&1 &
warm_up=$!
cargo test --workspace --locked 2>&1 | tee -a "$log"

step "cpx-idp served over HTTPS, logged in at by Node's openid-client and Python's Authlib (card through the host)"
(cd tests/oidc-clients && npm ci --no-audit --no-fund && CPX_CONNECT_HOST="$root/target/debug/cpx-connect" npm test) 2>&1 | tee -a "$log"

step "setup.sh installs what each purpose needs (stand-in apt, nothing installed)"
bash scripts/setup-check.sh

step "extension build and unit tests"
(cd extension && npm ci --no-audit --no-fund)   # fflate (package archives) and web-ext (linter)
node extension/build.mjs
node --test extension/test/ 2>&1 | tee -a "$log"

step "store readiness: web-ext lint (no error, no warning), store packages, generated templates"
(cd extension && npx web-ext lint --source-dir dist/firefox --warnings-as-errors)
node extension/package.mjs >/dev/null   # into extension/dist/packages/
node manifests/generate.mjs --check

step "real-browser tests (Chromium, Firefox ESR)"
(cd tests/browser && npm ci --no-audit --no-fund && CPX_CONNECT_HOST="$root/target/debug/cpx-connect" npm test) 2>&1 | tee -a "$log"

step "the login page script (demo site, cpx-idp) in real Chromium"
node --test demo/tests/browser/ 2>&1 | tee -a "$log"
node --test idp/tests/browser/ 2>&1 | tee -a "$log"

step "Windows: cross-built exe and MSI under Wine; macOS type-check"
bash tests/windows/run.sh 2>&1 | tee -a "$log"

step "Debian's own Rust toolchain, without rustup: setup, build, host tests"
bash scripts/no-rustup-check.sh 2>&1 | tee -a "$log"

step "Debian package: build, install, doctor, browser login, remove"
bash packaging/deb/ci-check.sh 2>&1 | tee -a "$log"

step "Linux arm64: host tests under qemu-user, the arm64 .deb, its binary over pcscd"
bash packaging/deb/arm64-check.sh 2>&1 | tee -a "$log"

step "release folder: built with throw-away keys, served, installed from (apt, Chromium, MSI under Wine)"
bash tests/release/run.sh 2>&1 | tee -a "$log"

step "fuzz harnesses: seeds and kept regressions replayed"
cp Cargo.lock fuzz/Cargo.lock   # the fuzz workspace starts from the main workspace's versions
(cd fuzz && cargo test) 2>&1 | tee -a "$log"

# A smoke run: every target builds and runs from its seeds. Finding new bugs takes long runs
# (scripts/fuzz.sh 3600, fuzz/README.md), which do not belong in CI's time.
step "fuzzing (${CPX_FUZZ_SECONDS:-10} s per target)"
bash scripts/fuzz.sh "${CPX_FUZZ_SECONDS:-10}" 2>&1 | tee -a "$log"

# One closing line for the whole run, summed from cargo's and node's own summaries.
passed=$(
  { grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'
    grep -oE '^# pass [0-9]+' "$log" | grep -oE '[0-9]+'; } | awk '{s+=$1} END {print s+0}'
)
failed=$(
  { grep -oE '[0-9]+ failed' "$log" | grep -oE '[0-9]+'
    grep -oE '^# fail [0-9]+' "$log" | grep -oE '[0-9]+'; } | awk '{s+=$1} END {print s+0}'
)
print_timings
printf '\n'
echo "cpx-connect: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
