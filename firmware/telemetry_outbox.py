"""The kiosk's telemetry outbox: events written to SQLite before anything tries to send them.

``telemetry.sqlite`` in the kiosk's state folder (beside the journal, not in it: telemetry never competes with
money for the journal's lock).  WAL with ``synchronous=FULL``: an event is on disk when :meth:`add` returns.

- ``events``: one row per event, ``seq`` from SQLite's AUTOINCREMENT (never reused, even after the acknowledged
  rows are deleted): one sequence per kiosk, gap-free, in the order things happened.  Each row carries the boot
  id, the monotonic time and the wall time (the Pi has no real-time clock; the server corrects what it can).
  Rows go only when the server has acknowledged them — there is no cap on events.
- ``gauges``: periodic samples (paper, coins, notes, uptime, temperature, journal size).  Capped at
  ``max_gauges`` rows, oldest dropped first: gauges may be coalesced, events never.
- ``meta``: small durable facts (the remote service hold survives a restart), ``applied_commands``: remote
  commands already carried out (a command delivered twice is carried out once).

Fields hold ids, codes, amounts and counts only, checked like the audit catalogue's (no personal data).
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:/-]{0,64}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, boot_id TEXT NOT NULL, monotonic_ms INTEGER NOT NULL,
    wall_time TEXT NOT NULL, kind TEXT NOT NULL, fields TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gauges (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sampled_at TEXT NOT NULL, gauge_values TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied_commands (command_id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
    outcome TEXT NOT NULL, applied_at TEXT NOT NULL);
"""


def boot_id() -> str:
    """The kernel's id of this boot (a fresh one per process where /proc does not have it)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return _PROCESS_BOOT


_PROCESS_BOOT = str(uuid.uuid4())


def check_fields(kind: str, fields: dict) -> dict:
    """The audit rule: a short kind, and values that are numbers, flags, None or short codes."""
    if not _KIND.match(kind):
        raise ValueError(f"telemetry kind {kind!r} is not a short code")
    for name, value in fields.items():
        if not (isinstance(name, str) and _KIND.match(name)):
            raise ValueError(f"telemetry field name {name!r} is not a short code")
        if not (isinstance(value, (bool, int)) or value is None or (isinstance(value, str) and _SAFE_TEXT.match(value))):
            raise ValueError(f"telemetry field {kind}.{name} must be a number, a flag or a short code")
    return fields


@dataclass(frozen=True)
class OutboxEvent:
    seq: int
    boot_id: str
    monotonic_ms: int
    wall_time: str
    kind: str
    fields: dict

    def wire(self) -> dict:
        return {"seq": self.seq, "boot_id": self.boot_id, "monotonic_ms": self.monotonic_ms,
                "wall_time": self.wall_time, "kind": self.kind, "fields": self.fields}


class TelemetryOutbox:
    def __init__(self, path: str | Path, *, max_gauges: int = 120):
        self.path = Path(path)
        self.max_gauges = max_gauges
        self.boot_id = boot_id()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def monotonic_ms() -> int:
        return int(time.monotonic() * 1000) % (2**31)

    # ---- events ---------------------------------------------------------------------------------------------

    def add(self, kind: str, **fields: object) -> int:
        """Write one event; returns its sequence number.  On disk when this returns."""
        check_fields(kind, fields)
        wall = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        cursor = self._db.execute(
            "INSERT INTO events (boot_id, monotonic_ms, wall_time, kind, fields) VALUES (?, ?, ?, ?, ?)",
            (self.boot_id, self.monotonic_ms(), wall, kind, json.dumps(fields, sort_keys=True)))
        return int(cursor.lastrowid)

    def pending(self, limit: int) -> list[OutboxEvent]:
        rows = self._db.execute("SELECT seq, boot_id, monotonic_ms, wall_time, kind, fields FROM events "
                                "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [OutboxEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def backlog(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def acknowledge(self, acked_seq: int) -> int:
        """The server stored everything up to ``acked_seq``: those rows go.  Returns how many went."""
        return self._db.execute("DELETE FROM events WHERE seq <= ?", (acked_seq,)).rowcount

    def last_seq(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    def renumber_after(self, acked_seq: int) -> int:
        """The server holds events up to ``acked_seq`` that this outbox does not know (it was reset, or restored
        from an older copy): number the pending events from ``acked_seq + 1`` on, in their order, and continue
        from there.  Returns the offset applied (0: nothing to do)."""
        first = self._db.execute("SELECT min(seq) FROM events").fetchone()[0]
        if first is None:
            if self.last_seq() < acked_seq:
                self._set_sequence(acked_seq)
            return 0
        offset = acked_seq + 1 - int(first)
        if offset == 0:
            return 0
        with self._transaction():
            high = 1 << 40  # two steps, so no row ever collides with another's old number
            self._db.execute("UPDATE events SET seq = seq + ?", (high,))
            self._db.execute("UPDATE events SET seq = seq - ? + ?", (high, offset))
            top = self._db.execute("SELECT max(seq) FROM events").fetchone()[0]
            self._db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (top,))
        return offset

    def _set_sequence(self, value: int) -> None:
        with self._transaction():
            if self._db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (value,)).rowcount == 0:
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (value,))

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, *_):
                db.execute("COMMIT" if kind is None else "ROLLBACK")
        return _Tx()

    # ---- gauges ---------------------------------------------------------------------------------------------

    def add_gauges(self, values: dict) -> None:
        """One sample; beyond ``max_gauges`` samples the oldest go (gauges are coalesced, events are not)."""
        wall = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction():
            self._db.execute("INSERT INTO gauges (sampled_at, gauge_values) VALUES (?, ?)",
                             (wall, json.dumps(values, sort_keys=True)))
            self._db.execute("DELETE FROM gauges WHERE id <= (SELECT max(id) FROM gauges) - ?", (self.max_gauges,))

    def latest_gauges(self) -> tuple[int, str, dict] | None:
        row = self._db.execute("SELECT id, sampled_at, gauge_values FROM gauges ORDER BY id DESC LIMIT 1").fetchone()
        return (row[0], row[1], json.loads(row[2])) if row else None

    def gauges_sent(self, up_to_id: int) -> None:
        """The server has the latest sample: older samples coalesce into it."""
        self._db.execute("DELETE FROM gauges WHERE id <= ?", (up_to_id,))

    def gauge_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM gauges").fetchone()[0])

    # ---- durable facts --------------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str | None) -> None:
        if value is None:
            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                             "value = excluded.value", (key, value))

    def applied(self, command_id: int) -> str | None:
        row = self._db.execute("SELECT outcome FROM applied_commands WHERE command_id = ?", (command_id,)).fetchone()
        return row[0] if row else None

    def command_done(self, command_id: int, kind: str, outcome: str) -> int:
        """Record a remote command as carried out and queue its ``command_done`` event, in one write (so it is
        reported exactly once).  Returns the event's sequence number."""
        fields = check_fields("command_done", {"command_id": command_id, "command": kind, "outcome": outcome})
        now = datetime.now(timezone.utc)
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO applied_commands (command_id, kind, outcome, applied_at) "
                             "VALUES (?, ?, ?, ?)", (command_id, kind, outcome, now.isoformat(timespec="seconds")))
            cursor = self._db.execute(
                "INSERT INTO events (boot_id, monotonic_ms, wall_time, kind, fields) VALUES (?, ?, ?, ?, ?)",
                (self.boot_id, self.monotonic_ms(), now.isoformat(timespec="milliseconds"), "command_done",
                 json.dumps(fields, sort_keys=True)))
        return int(cursor.lastrowid)
