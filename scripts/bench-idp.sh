#!/usr/bin/env bash
# Reruns cpx-idp's figures (README.md and idp/README.md, Figures): `bash scripts/bench-idp.sh`.
# Needs redis-server (scripts/setup.sh installs it); a private one is started on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked -p cpx-idp --bench idp
