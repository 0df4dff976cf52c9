#!/usr/bin/env bash
# The relying party's figures (verify/README.md, "Cost of a login"): validation next to its RSA
# floor (Criterion), card logins per second through the demo's HTTP endpoint in memory and with
# Redis (p50/p99, the site's peak RSS), and the challenge store's memory.
# Usage: bash scripts/bench-rp.sh [WORKERS] [SECONDS]   (default 8 workers, 15 s per mode)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
workers="${1:-8}"
seconds="${2:-15}"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { # a port nobody listens on, from an unusual range
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    ss -ltn | grep -q ":$port " || { echo "$port"; return; }
  done
}

echo "==> validation vs its floor (Criterion)"
[ "${SKIP_CRITERION:-}" = 1 ] || cargo bench --locked -p cpx-verify --bench validate 2>&1 | grep -E "start-up|^login|time:"

echo "==> building the demo site and the load tools (release)"
cargo build --release --locked -p cpx-demo --bin cpx-demo --example load --example challenge_memory

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do ss -ltn | grep -q ":$redis_port " && break; sleep 0.1; done

for mode in memory redis; do
  port=$(free_port)
  store=()
  [ "$mode" = redis ] && store=(--store "redis://127.0.0.1:$redis_port/0")
  # Every worker is one client (127.0.0.1): lift the per-client limits for the measurement.
  "$target/release/cpx-demo" serve --seed-demo-user --addr "127.0.0.1:$port" \
    --origin "https://localhost:$port" --db "$work/$mode.sqlite" \
    --trust-anchor demo/tests/fixtures/test-ca.der --crl demo/tests/fixtures/test-ca.crl.der \
    --allow-test-anchors "${store[@]}" 2>"$work/demo-$mode.log" \
    --client-session-burst 100000000 --client-challenge-burst 100000000 &
  demo=$!
  pids+=("$demo")
  for _ in $(seq 1 100); do grep -q "serving" "$work/demo-$mode.log" && break; sleep 0.1; done
  echo "==> card logins over HTTPS, $mode store, $workers workers, $seconds s"
  "$target/release/examples/load" "https://localhost:$port" "$workers" "$seconds"
  echo "    site's peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$demo/status")"
  kill "$demo"
done

echo "==> challenge store memory"
"$target/release/examples/challenge_memory" "redis://127.0.0.1:$redis_port/0"
