#!/usr/bin/env bash
# The long version of demo/tests/flood.rs: "GET /, then /api/nonce" in a loop from one client,
# then from ten (127.0.0.x), while a legitimate user logs in by card; prints what the flood
# got (challenges, 429s, ERR_NONCE_STORE_FULL) and the sessions and challenges held.
# Loopback only. Usage: demo/scripts/flood.sh [ROUNDS per client, default 3000]
set -euo pipefail
cd "$(dirname "$0")/../.."
CPX_FLOOD_ROUNDS="${1:-3000}" cargo test --locked -p cpx-demo --test flood -- --nocapture 2>&1 |
    grep -E '^flood:|test result'
