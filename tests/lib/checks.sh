# Sourced by the shell test scripts (tests/windows/run.sh, tests/release/run.sh): the counters and
# the ok / fail / expect helpers, a missing tool's verdict, and the closing summary. The script
# sets checks_name (its prefix in messages) before sourcing this.
: "${checks_name:?set checks_name before sourcing tests/lib/checks.sh}"
failures=0
passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }
expect() { # expect DESCRIPTION COMMAND...: the command must succeed
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# missing_tool WHAT: with CI=true a failure (nothing is skipped in CI), otherwise a skip.
missing_tool() {
  if [ "${CI:-}" = true ]; then
    echo "$checks_name: $1 missing (scripts/setup.sh test installs it on Debian 12)" >&2
    exit 1
  fi
  echo "$checks_name: SKIPPED: $1 missing (scripts/setup.sh test installs it on Debian 12)"
  exit 0
}
# checks_summary: the counts; fails when any check failed.
checks_summary() {
  echo "$checks_name: $passed passed, $failures failed"
  [ "$failures" -eq 0 ]
}
