"""Telemetry ingest (``POST /v1/telemetry``): store each kiosk event once, in sequence, and hand out remote commands.

The contract (docs/kiosk-server-protocol.md, "Telemetry"):

- The kiosk is the one its verified client certificate names; a ``kiosk_id`` in the body is ignored.
- Idempotent by (kiosk, seq): an event at or below the kiosk's stored high-water mark is a replay — acknowledged,
  not stored again.  A replay whose (boot id, monotonic time, kind) differ from what is stored is not a replay but
  a kiosk that lost its outbox and counts from 1 again: 409 ``sequence_conflict``, nothing stored, ``acked_seq``
  in the detail so the kiosk can number its events after it.
- Contiguous only: events are stored from ``last_seq + 1`` without a hole.  A batch that skips a number gets the
  run before the hole stored and 409 ``sequence_gap`` with ``acked_seq`` and ``expected_seq``; the kiosk sends
  again from there.  (Storing out of order would make "everything up to N arrived" unprovable, and the kiosk
  always sends oldest first, so a gap is a kiosk's bug or a lost outbox, never the network.)
- The reply acknowledges the highest sequence stored and carries the kiosk's remote commands not yet done (again
  until the kiosk reports one done with a ``command_done`` event: a lost reply loses no command).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import iso, utcnow
from server.errors import ApiError
from server.models_telemetry import KioskCommand, KioskSummary, TelemetryEvent
from server.schemas_telemetry import MAX_EVENTS, TelemetryBatch, TelemetryEventIn
from server.telemetry_summary import apply_event, apply_gauges

audit = logging.getLogger("server.audit")
COMMAND_KINDS = ("out_of_service", "back_in_service", "ack_staff_call")
MAX_COMMANDS = 20


def audit_line(event: str, **fields: object) -> None:
    """One JSON line on the ``server.audit`` logger (ids and codes only)."""
    audit.info(json.dumps({"audit": event, "at": iso(utcnow()), **fields}, sort_keys=True))


def _wall(text: str, index: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "bad_request", "some fields are missing or malformed",
                       {"fields": [f"events.{index}.wall_time"]}) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _corrected(batch: TelemetryBatch, event: TelemetryEventIn, received: datetime) -> datetime | None:
    """The server's estimate of when it happened: the kiosk's monotonic clock, read against our own receipt time
    (same boot only; the Pi has no real-time clock, its wall time may be 1970 until NTP answers)."""
    if event.boot_id != batch.boot_id or event.monotonic_ms > batch.sent_monotonic_ms:
        return None
    return received - timedelta(milliseconds=batch.sent_monotonic_ms - event.monotonic_ms)


def ingest(db: Session, kiosk: str, batch: TelemetryBatch) -> dict:
    """Store the batch (retried once if a twin request of the same kiosk raced it); returns the reply."""
    if len(batch.events) > MAX_EVENTS:
        raise ApiError(413, "batch_too_large", f"a batch holds at most {MAX_EVENTS} events",
                       {"max_events": MAX_EVENTS})
    seqs = [e.seq for e in batch.events]
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        raise ApiError(422, "bad_request", "events must be in strictly increasing seq order", {"fields": ["events"]})
    walls = [_wall(e.wall_time, i) for i, e in enumerate(batch.events)]
    if batch.kiosk_id is not None and batch.kiosk_id != kiosk:
        audit_line("telemetry.body_kiosk_ignored", kiosk=kiosk)
    try:
        return _ingest(db, kiosk, batch, walls)
    except IntegrityError:
        db.rollback()
        return _ingest(db, kiosk, batch, walls)


def _ingest(db: Session, kiosk: str, batch: TelemetryBatch, walls: list[datetime]) -> dict:
    now = utcnow()
    summary = db.get(KioskSummary, kiosk)
    if summary is None:
        summary = KioskSummary(kiosk_id=kiosk, last_seq=0, backlog=0, open_faults=[], gauges={})
        db.add(summary)
    last = summary.last_seq or 0
    old = [e for e in batch.events if e.seq <= last]
    replayed = _check_replays(db, kiosk, old, last)
    expected = last + 1
    rows: list[dict] = []
    gap = False
    for event, wall in zip(batch.events, walls):
        if event.seq <= last:
            continue
        if event.seq != expected:
            gap = True
            break
        corrected = _corrected(batch, event, now)
        rows.append({"kiosk_id": kiosk, "seq": event.seq, "boot_id": event.boot_id, "monotonic_ms": event.monotonic_ms,
                     "wall_time": wall, "corrected_time": corrected, "received_at": now, "kind": event.kind,
                     "fields": dict(event.fields)})
        apply_event(summary, event.kind, event.fields, corrected or wall)
        if event.kind == "command_done":
            _command_done(db, kiosk, event.fields, now)
        expected += 1
    if rows:  # one multi-row INSERT (the unique (kiosk, seq) key still refuses a racing twin)
        db.execute(insert(TelemetryEvent), rows)
    stored = len(rows)
    summary.last_seq = expected - 1
    summary.last_seen = now
    summary.backlog = batch.backlog
    if batch.gauges is not None:
        apply_gauges(summary, batch.gauges.sampled_at, batch.gauges.values)
    commands = [] if gap else _deliver_commands(db, kiosk, now)
    db.commit()
    if gap:
        raise ApiError(409, "sequence_gap", "events are stored only in sequence without a hole; send again from "
                       "expected_seq", {"acked_seq": expected - 1, "expected_seq": expected})
    return {"acked_seq": expected - 1, "stored": stored, "replayed": replayed, "commands": commands,
            "server_time": iso(now)}


def _check_replays(db: Session, kiosk: str, old: list[TelemetryEventIn], last: int) -> int:
    if not old:
        return 0
    stored = {row.seq: row for row in db.scalars(select(TelemetryEvent).where(
        TelemetryEvent.kiosk_id == kiosk, TelemetryEvent.seq.in_([e.seq for e in old])))}
    for event in old:
        row = stored.get(event.seq)  # (None: deleted by retention; acknowledged all the same)
        if row is not None and (row.boot_id, row.monotonic_ms, row.kind) != (event.boot_id, event.monotonic_ms,
                                                                              event.kind):
            db.rollback()
            audit_line("telemetry.sequence_conflict", kiosk=kiosk, seq=event.seq)
            raise ApiError(409, "sequence_conflict", "this sequence number holds another event: the kiosk's outbox "
                           "was reset; number new events after acked_seq", {"acked_seq": last})
    return len(old)


def _deliver_commands(db: Session, kiosk: str, now: datetime) -> list[dict]:
    pending = db.scalars(select(KioskCommand).where(KioskCommand.kiosk_id == kiosk, KioskCommand.done_at.is_(None))
                         .order_by(KioskCommand.command_id).limit(MAX_COMMANDS)).all()
    for command in pending:
        if command.picked_up_at is None:
            command.picked_up_at = now
            audit_line("kiosk_command.picked_up", kiosk=kiosk, command_id=command.command_id, kind=command.kind)
    return [{"command_id": c.command_id, "kind": c.kind} for c in pending]


def _command_done(db: Session, kiosk: str, fields: dict, now: datetime) -> None:
    command_id = fields.get("command_id")
    command = db.get(KioskCommand, command_id) if isinstance(command_id, int) else None
    if command is None or command.kiosk_id != kiosk or command.done_at is not None:
        return
    command.done_at = now
    command.outcome = str(fields.get("outcome") or "done")[:48]
    if command.picked_up_at is None:
        command.picked_up_at = now
    audit_line("kiosk_command.done", kiosk=kiosk, command_id=command.command_id, kind=command.kind,
               outcome=command.outcome)


def waiting_command(db: Session, kiosk: str, kind: str) -> KioskCommand | None:
    """The same command already waiting for this kiosk (not done yet), if any."""
    return db.scalar(select(KioskCommand).where(KioskCommand.kiosk_id == kiosk, KioskCommand.kind == kind,
                                                KioskCommand.done_at.is_(None)).limit(1))


def create_command(db: Session, kiosk: str, kind: str, staff: str) -> tuple[KioskCommand, bool]:
    """A remote command for a kiosk from the server's command line (``kiosk-server kiosk-command``); the dashboard
    goes through :func:`server.fleet.send_command`, which adds the ward check.  Both add a command once: while the
    same one waits for the kiosk, that one is returned (``already`` True) and nothing is added."""
    if kind not in COMMAND_KINDS:
        raise ValueError(f"unknown command {kind!r} (known: {', '.join(COMMAND_KINDS)})")
    waiting = waiting_command(db, kiosk, kind)
    if waiting is not None:
        return waiting, True
    command = KioskCommand(kiosk_id=kiosk, kind=kind, created_at=utcnow(), created_by=staff)
    db.add(command)
    db.commit()
    audit_line("kiosk_command.created", kiosk=kiosk, command_id=command.command_id, kind=kind, staff=staff)
    return command, False


def prune(db: Session, days: int, now: datetime | None = None) -> int:
    """Delete events received more than ``days`` days ago; summaries and commands stay.  Returns rows deleted."""
    if days < 1:
        raise ValueError("retention is at least one day")
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = db.execute(delete(TelemetryEvent).where(TelemetryEvent.received_at < cutoff))
    db.commit()
    audit_line("telemetry.pruned", days=days, deleted=result.rowcount or 0)
    return result.rowcount or 0
