"""A stand-in for ``systemctl restart kiosk.service`` (Type=notify) in the update tests: stop the running app
(by the PID it recorded), start ``<base>/current``'s start command in its own session with a notification
socket, and return only when it sent READY=1 (exit 0), or fail when it exits first or the bound runs out
(exit 1) — what systemctl does for a notify unit.  The app outlives this command, as a unit outlives systemctl.

    python restart_app.py BASE RUN_DIR [TIMEOUT_S]
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

base, run = Path(sys.argv[1]), Path(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
run.mkdir(parents=True, exist_ok=True)
pid_file = run / "app.pid"
if pid_file.exists():
    old = int(pid_file.read_text())
    try:
        os.killpg(old, signal.SIGTERM)
        for _ in range(100):
            os.killpg(old, 0)
            time.sleep(0.05)
        os.killpg(old, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink()
current = base / "current"
start = json.loads((current / "release.json").read_text())["start"]
sock_path = run / "notify.sock"
sock_path.unlink(missing_ok=True)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(str(sock_path))
sock.settimeout(0.1)
env = dict(os.environ, NOTIFY_SOCKET=str(sock_path), KIOSK_HEALTH_FILE=str(run / "health.json"))
if (run / "app-answers-hold").exists():  # (the visit test has the real headless kiosk answer instead)
    env["KIOSK_UPDATE_HOLD_DIR"] = str(run / "hold")
with open(run / "app.log", "ab") as log:
    log.write(f"-- start {os.readlink(current)}\n".encode())
    log.flush()
    app = subprocess.Popen(start, cwd=current.resolve(), env=env, stdout=log, stderr=log, start_new_session=True)
pid_file.write_text(str(app.pid))
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        if b"READY=1" in sock.recv(4096):
            sys.exit(0)
    except socket.timeout:
        pass
    if app.poll() is not None:
        print(f"the kiosk exited with status {app.returncode} before READY=1", file=sys.stderr)
        sys.exit(1)
os.killpg(app.pid, signal.SIGKILL)  # as systemd does when TimeoutStartSec= runs out
print(f"timeout: no READY=1 within {timeout:g} s", file=sys.stderr)
sys.exit(1)
