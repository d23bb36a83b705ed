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
# One pytest-xdist worker per core (KIOSK_TEST_WORKERS=N to choose, 0 for one process), a test file to a worker:
# the tunnel test brings WireGuard interfaces up by name, and wireguard-go's control socket is one per name for the
# whole machine, so that file must not run twice at once.  (--dist loadgroup would need pytest < 9: xdist 3.8 sets
# the group on item._nodeid, which pytest 9 no longer reads.)  See docs/test-stability.md.
WORKERS=${KIOSK_TEST_WORKERS:-$(nproc)}
case $WORKERS in
  ''|*[!0-9]*) echo "run-tests: KIOSK_TEST_WORKERS must be a whole number, got '$WORKERS'" >&2; exit 2 ;;
esac
"$VENV/bin/python" -m pytest -q -n "$WORKERS" --dist loadfile "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "run-tests: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
