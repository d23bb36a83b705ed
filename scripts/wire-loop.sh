#!/usr/bin/env bash
# The wire tests in a loop (issue #18): every test that drives a real serial or ESC/POS driver over a pty emulator
# (the drivers' own tests, the device contracts, the cashier restart, and the e2e visits and faults over the wire),
# N times in a row, optionally beside BUSY processes that keep the CPUs busy.  Each iteration's line goes to
# var/wire-loop/runs.txt; a failing iteration keeps its whole pytest output and the emulators' trace
# (KIOSK_PTY_TRACE: every frame each emulator saw and sent, with monotonic times) in var/wire-loop/fail-<i>/, and a
# green one that printed warnings keeps its output in warn-<i>/.  Every line counts the emulators' loop turns that
# came more than 0.1 s late ("stalls"), each listed in var/wire-loop/stalls.txt.
#
#   scripts/wire-loop.sh [N=50] [BUSY=0]        e.g. scripts/wire-loop.sh 50 2
#
# One iteration is about 60 s on an idle 2-core machine, about 110 s beside two busy processes and a `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
BUSY=${2:-0}
VENV=${VENV:-.venv}
OUT=var/wire-loop
WIRE_TESTS=(
  tests/contracts
  tests/hal/test_cash_wire_cashier.py tests/hal/test_cctalk_devices.py tests/hal/test_cctalk_frames.py
  tests/hal/test_escpos_link.py tests/hal/test_escpos_printer.py tests/hal/test_id003_driver.py
  tests/hal/test_id003_frames.py tests/hal/test_printer_sim.py tests/hal/test_pty_handover.py
  tests/hal/test_serial_link.py tests/hal/test_emulator_host.py
  tests/firmware/test_cashier_restart.py
  tests/e2e/test_money_wire_faults.py tests/e2e/test_paid_visit.py tests/e2e/test_print_delivery.py
  tests/e2e/test_real_output_devices.py
)
mkdir -p "$OUT"
busy=()
for _ in $(seq "$BUSY"); do sh -c 'while :; do :; done' & busy+=($!); done
trap '[ ${#busy[@]} -eq 0 ] || kill "${busy[@]}" 2>/dev/null' EXIT
failed=0
for i in $(seq "$N"); do
  trace=$(mktemp -d)
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s)
  out=$(KIOSK_PTY_TRACE=$trace "$VENV/bin/python" -m pytest -q -p no:cacheprovider -rfE "${WIRE_TESTS[@]}" 2>&1)
  rc=$?
  stalls=$(cat "$trace"/*.log 2>/dev/null | grep -c " stalled ")  # emulator loop turns that came >0.1 s late
  for log in "$trace"/*.log; do  # "<iteration> <emulator>-<pid>.log <time> <port> stalled <seconds> …"
    [ -e "$log" ] && grep " stalled " "$log" | sed "s|^|$i $(basename "$log") |" >> "$OUT/stalls.txt"
  done
  line="$i rc=$rc load=$load $(( $(date +%s) - start ))s stalls=$stalls $(tail -n 1 <<<"$out")"
  echo "$line" | tee -a "$OUT/runs.txt"
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    mkdir -p "$OUT/fail-$i" && echo "$out" > "$OUT/fail-$i/pytest.txt" && cp -r "$trace"/. "$OUT/fail-$i/"
  fi
  if [ "$rc" -eq 0 ] && grep -q "warning" <<<"$(tail -n 1 <<<"$out")"; then  # green, but something complained
    mkdir -p "$OUT/warn-$i" && echo "$out" > "$OUT/warn-$i/pytest.txt"
  fi
  rm -rf "$trace"
done
echo "wire-loop: $N iterations, $failed failed (beside $BUSY busy processes)"
[ "$failed" -eq 0 ]
