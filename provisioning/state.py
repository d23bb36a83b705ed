"""The provisioning state file: which steps are done, when, and their few non-secret results.  A re-run skips
what is done; ``--redo STEP`` forgets one step (and those after it).  Written atomically at each step's end, so
a kill leaves the state of the last finished step."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from provisioning.files import atomic_write

STEPS = ("preflight", "enrol", "vpn", "config", "install", "self-test", "report")


class State:
    def __init__(self, path: Path, data: dict | None = None):
        self.path = path
        self.data = data if data is not None else {"version": 1, "steps": {}}

    @classmethod
    def load(cls, path: Path) -> "State":
        try:
            return cls(path, json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return cls(path)

    @property
    def kiosk_id(self) -> str | None:
        return self.data.get("kiosk_id")

    @kiosk_id.setter
    def kiosk_id(self, value: str) -> None:
        self.data["kiosk_id"] = value
        self.save()

    def done(self, step: str) -> bool:
        return step in self.data["steps"]

    def result(self, step: str) -> dict:
        return self.data["steps"].get(step, {})

    def mark(self, step: str, **result) -> None:
        result["done_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.data["steps"][step] = result
        self.save()

    def forget(self, step: str) -> None:
        """Forget ``step`` and every step after it (they were built on it)."""
        for later in STEPS[STEPS.index(step):]:
            self.data["steps"].pop(later, None)
        self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")
