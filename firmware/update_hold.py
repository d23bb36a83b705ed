"""The kiosk's side of "never during a visit": the updater asks, the kiosk answers when it is safe.

The updater writes ``<hold_dir>/request.json`` (``/run/kiosk-update``, tmpfiles ``root:kiosk 0770``).  At its next readiness tick in which it is idle or out of service
(never inside a visit) the kiosk, if every device is well, goes out of service with the reason ``updating`` —
residents see "not available" and no new visit starts — and, once its journal holds no open transaction (so no
money in escrow and none owed to a resident still at the kiosk), writes ``<hold_dir>/ready.json``.  Only then does
the updater switch.  When the request is gone the kiosk is back in service at its next tick.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

UPDATING = "updating"


class UpdateHold:
    def __init__(self, hold_dir: Path):
        self.hold_dir = Path(hold_dir)

    @property
    def request_file(self) -> Path:
        return self.hold_dir / "request.json"

    @property
    def ready_file(self) -> Path:
        return self.hold_dir / "ready.json"

    def reason(self, journal) -> str | None:
        """``updating`` while an update is requested (acknowledged once nothing is open); else None."""
        if not self.request_file.exists() or not _updater_alive(self.request_file):
            if self.ready_file.exists():
                self.ready_file.unlink(missing_ok=True)
            return None
        open_transactions = journal.open_transactions()
        if not open_transactions and not self.ready_file.exists():
            tmp = self.hold_dir / ".ready.json.tmp"
            tmp.write_text(json.dumps({"pid": os.getpid(), "at": time.time(), "open_transactions": 0}))
            os.replace(tmp, self.ready_file)
        return UPDATING


def _updater_alive(request: Path) -> bool:
    """A request whose updater has died (killed before it switched) holds nothing: the kiosk sells again."""
    try:
        pid = int(json.loads(request.read_text(encoding="utf-8"))["pid"])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return True  # unreadable or not ours to signal: treat as held (the safe side)
    return True
