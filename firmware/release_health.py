"""What the running kiosk says about itself for the update gate (firmware/update_gate.py): which release runs,
its process, that start-up recovery is done, and whether its devices answer.  Written as one small JSON file
(``$KIOSK_HEALTH_FILE``, ``/run/kiosk/health.json`` under kiosk.service) when the kiosk tells systemd it is ready
and whenever its service state changes.  Codes and states only, nothing about a resident."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from firmware.update_gate import DEVICE_REASONS

HEALTH_FILE_ENV = "KIOSK_HEALTH_FILE"


def running_release() -> str:
    """The release this process runs from: ``release.json`` beside its virtual environment
    (``/opt/kiosk/releases/<version>/venv``), else ``development``."""
    manifest = Path(sys.prefix).resolve().parent / "release.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "development"


def write_health(path: Path, out_of_service_reason: str | None) -> None:
    reason = out_of_service_reason or ""
    report = {"release": running_release(), "pid": os.getpid(), "ready": True, "recovery_done": True,
              "out_of_service_reason": out_of_service_reason,
              "devices": {"all": "not_answering" if reason.startswith(DEVICE_REASONS) else "ok"}}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report), encoding="utf-8")
    os.replace(tmp, path)


def health_file() -> Path | None:
    value = os.environ.get(HEALTH_FILE_ENV)
    return Path(value) if value else None
