# Sourced by the shell test scripts (tests/windows/run.sh, tests/release/run.sh): the counters and
# the ok / fail / expect helpers, a missing tool's verdict, the tools and Wine both need, and the
# closing summary. The script sets checks_name (its prefix in messages) before sourcing this.
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
# require_tools TOOL...: each a command on PATH (or an executable path), else missing_tool.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing_tool "$tool"
  done
}
# find_wine: sets WINE (wine64, on PATH or Debian's /usr/lib/wine) and WINESERVER beside it, which
# both scripts run Windows programs with; missing_tool when there is no wine64.
find_wine() {
  WINE=$(command -v wine64 || true)
  [ -n "$WINE" ] || WINE=/usr/lib/wine/wine64
  [ -x "$WINE" ] || missing_tool wine64
  WINESERVER=$(dirname "$WINE")/wineserver
  [ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver || echo wineserver)
}
# checks_summary: the counts; fails when any check failed.
checks_summary() {
  echo "$checks_name: $passed passed, $failures failed"
  [ "$failures" -eq 0 ]
}
