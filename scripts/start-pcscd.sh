#!/usr/bin/env bash
# Starts pcscd (with Debian's vpcd virtual reader configured) if it is not running, and waits until
# vpcd listens for virtual cards on 127.0.0.1:35963.
set -euo pipefail

if ! pgrep -x pcscd >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -d /run/systemd/system ]; then
    $sudo systemctl start pcscd.socket pcscd.service
  else
    $sudo rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    $sudo pcscd
  fi
fi
for _ in $(seq 1 100); do
  # Look, don't connect: a connection to vpcd is a card insertion.
  if ss -ltn 2>/dev/null | grep -q ':35963 '; then
    echo "pcscd: running, vpcd slot 0 on 127.0.0.1:35963"
    exit 0
  fi
  sleep 0.1
done
echo "pcscd: running but vpcd does not listen on 35963 (is vsmartcard-vpcd installed?)" >&2
exit 1
