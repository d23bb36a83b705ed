#!/usr/bin/env bash
# The whole test suite.  Tests start the services they need themselves (the reference server over HTTPS on
# 127.0.0.1) and stop them by PID.  pytest's "no tests collected" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# The server tests start a throw-away PostgreSQL cluster: install Debian's package if it went missing since bootstrap.
{ compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && command -v systemd-analyze >/dev/null \
  && command -v cage >/dev/null; } \
  || VENV=$VENV scripts/bootstrap.sh
"$VENV/bin/python" -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "run-tests: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
