"""The updater's outcomes as telemetry events, so the city sees a rollback without driving out (issue #13).

``kiosk-update`` runs as root in its own unit and cannot write the kiosk's outbox; it appends every outcome to
``<base>/update-history.jsonl`` (firmware/update_slots.py), readable by the kiosk.  The kiosk reads the lines it
has not reported yet at each telemetry look and writes one event per outcome; how far it has read is kept in the
outbox's ``meta`` (a restart misses nothing; a cut between an event and the offset may report one outcome twice).
Fields are codes only: versions, check names, reason codes — never the log tail or the sentence, which stay in the
history file on the kiosk.

    committed    -> update_committed     version, previous, out_of_service_ms
    rolled_back  -> update_rolled_back   version, running, check
    refused      -> update_refused       reason, running
    deferred     -> update_deferred      version, reason
    warning      -> update_expiry_ahead  role, expires   (one per role whose signature runs out soon)
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Callable

log = logging.getLogger("firmware.telemetry")

OFFSET_KEY = "update_history_offset"
_CODE = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")


def _code(value: object) -> str | None:
    return value if isinstance(value, str) and _CODE.match(value) else None


def events_of(entry: dict) -> list[tuple[str, dict]]:
    """The telemetry events one history entry becomes (none for an outcome the city need not see)."""
    outcome = entry.get("outcome")
    if outcome == "committed":
        seconds = entry.get("out_of_service_s")
        ms = int(round(seconds * 1000)) if isinstance(seconds, (int, float)) else None
        return [("update_committed", {"version": _code(entry.get("version")), "previous": _code(entry.get("previous")),
                                      "out_of_service_ms": ms})]
    if outcome == "rolled_back":
        return [("update_rolled_back", {"version": _code(entry.get("version")), "running": _code(entry.get("running")),
                                        "check": _code(entry.get("check"))})]
    if outcome == "refused":
        return [("update_refused", {"reason": _code(entry.get("reason")), "running": _code(entry.get("running"))})]
    if outcome == "deferred":
        return [("update_deferred", {"version": _code(entry.get("version")), "reason": _code(entry.get("reason"))})]
    if outcome == "warning":
        events = []
        for warning in entry.get("warnings") or []:
            role, _, expires = str(warning).partition("_expires_soon:")
            events.append(("update_expiry_ahead", {"role": _code(role), "expires": _code(expires)}))
        return events
    return []


class UpdateReports:
    def __init__(self, history: Path, outbox, record: Callable[..., object]):
        self.history, self.outbox, self.record = Path(history), outbox, record

    def look(self) -> int:
        """Report the outcomes written since the last look; returns how many events were written."""
        try:
            size = self.history.stat().st_size
        except OSError:
            return 0
        offset = int(self.outbox.get(OFFSET_KEY) or 0)
        if size < offset:  # the file was replaced (a new image): start again from its beginning
            offset = 0
        if size == offset:
            return 0
        with open(self.history, "rb") as f:
            f.seek(offset)
            chunk = f.read(size - offset)
        written = 0
        end = chunk.rfind(b"\n") + 1  # a line still being written is read at the next look
        for line in chunk[:end].splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                log.warning("update history: an unreadable line was skipped")
                continue
            for kind, fields in events_of(entry if isinstance(entry, dict) else {}):
                self.record(kind, **fields)
                written += 1
        self.outbox.put(OFFSET_KEY, str(offset + end))
        return written
