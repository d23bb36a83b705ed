#!/usr/bin/env bash
# `make run`: the reference server on https://127.0.0.1:8443 and the kiosk with simulated devices.
# The development keys, certificates and test cards are made once in .dev/ (kiosk-server devinit).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
[ -d .dev ] || "$BIN/kiosk-server" devinit --dir .dev
mkdir -p var/kiosk
"$BIN/kiosk-server" serve --config .dev/server.toml --port 8443 > var/server.log 2>&1 &
SERVER_PID=$!
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
trap stop_server EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" var/server.log 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat var/server.log; echo "run-dev: the server did not start" >&2; exit 1; }
  sleep 0.1
done
echo "run-dev: reference server up (log: var/server.log)"
status=0
if [ "${1:-}" = "--scenario" ]; then
  "$BIN/kiosk" --config kiosk.dev.toml --headless --scenario "$2" || status=$?
else
  if "$BIN/python" -c "import kivy" 2>/dev/null && [ -f screens/app.py ]; then
    "$BIN/kiosk" --config kiosk.dev.toml || status=$?
  else
    echo "run-dev: the kiosk runs headless. In another terminal try:"
    echo "  $BIN/kiosk-sim place-card resident-a ; $BIN/kiosk-sim enter_pin pin=1234 ; $BIN/kiosk-sim state"
    "$BIN/kiosk" --config kiosk.dev.toml --headless || status=$?
  fi
fi
exit "$status"
