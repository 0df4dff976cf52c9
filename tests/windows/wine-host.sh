#!/usr/bin/env bash
# The Windows host under Wine, started the way the end-to-end tests start `cpx-connect`: they run
# $CPX_CONNECT_BIN, which tests/windows/run.sh points here. Arguments, stdin, stdout and the exit
# code pass through unchanged.
exec "${WINE:?}" "${CPX_WINDOWS_EXE:?}" "$@"
