"""A tiny stand-in for a kiosk release, for the update tests: it reports health the way the kiosk does
(firmware/release_health.py: the health file, then READY=1 on $NOTIFY_SOCKET), or fails the way a bad release
does, as its ``behaviour`` file says: good | crash (exits before READY=1) | hang (never ready) | bad_devices
(ready, but its printer does not answer) | dies_after_ready.  With $KIOSK_UPDATE_HOLD_DIR it answers an update
hold at once, as an idle kiosk with nothing open does (firmware/update_hold.py)."""
import json
import os
import socket
import sys
import time
from pathlib import Path

here = Path(__file__).resolve().parent
version = json.loads((here / "release.json").read_text())["version"]
behaviour = (here / "behaviour").read_text().strip()
print(f"release {version} starting ({behaviour})", flush=True)
if behaviour == "crash":
    print("Traceback (most recent call last):\nRuntimeError: the journal schema is newer than this code",
          file=sys.stderr, flush=True)
    sys.exit(3)
if behaviour == "hang":
    time.sleep(3600)
bad = behaviour == "bad_devices"
health = {"release": version, "pid": os.getpid(), "ready": True, "recovery_done": True,
          "out_of_service_reason": "printer_offline" if bad else None,
          "devices": {"printer": "not_answering" if bad else "ok", "notes": "ok", "coins": "ok"}}
path = Path(os.environ["KIOSK_HEALTH_FILE"])
path.with_name(".h.tmp").write_text(json.dumps(health))
os.replace(path.with_name(".h.tmp"), path)
if bad:
    print("printer: no answer on /dev/kiosk/printer", file=sys.stderr, flush=True)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.sendto(b"READY=1\nSTATUS=in service, idle", os.environ["NOTIFY_SOCKET"])
print(f"release {version} ready", flush=True)
if behaviour == "dies_after_ready":
    time.sleep(0.3)
    print("Segmentation fault", file=sys.stderr, flush=True)
    sys.exit(139)
hold = os.environ.get("KIOSK_UPDATE_HOLD_DIR")  # answer the updater's hold as the idle kiosk does
while True:
    if hold and (Path(hold) / "request.json").exists() and not (Path(hold) / "ready.json").exists():
        (Path(hold) / "ready.json").write_text(json.dumps({"pid": os.getpid(), "open_transactions": 0}))
    time.sleep(0.1)
