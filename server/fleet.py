"""What the operations dashboard reads about the kiosks, and the commands it sends them.

It reads ``kiosk_summaries`` and ``telemetry_events`` (written by the telemetry ingest) and inserts
``kiosk_commands`` rows, which the kiosks pick up on their next telemetry exchange.  Gauges are read as the
kiosk sends them (:mod:`firmware.telemetry`): ``paper`` (ok / low / out / unknown, or a percentage),
``hopper_<yen>`` (coins in each hopper), ``notes_in_box`` (notes in the cash box), ``backlog``; open faults are
``device:state`` codes (``printer:paper_out``) as :mod:`server.telemetry_summary` keeps them.  Only ids, codes,
counts and amounts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import staff as staff_mod
from server.db import utcnow
from server.enrolment import AdminError
from server.models_telemetry import KioskCommand, KioskSummary, KioskWard, TelemetryEvent
from server.telemetry import waiting_command

SILENT_AFTER = timedelta(minutes=5)
COMMANDS = ("out_of_service", "back_in_service", "ack_staff_call")

# How much a condition needs staff: the fleet page sorts by it, the worst kiosk first.
STAFF_CALL, OUT_OF_PAPER, SILENT, OUT_OF_SERVICE, FAULT, LOW, OK = 60, 50, 40, 30, 20, 10, 0


@dataclass
class KioskView:
    kiosk_id: str
    ward: str | None
    last_seen: datetime | None = None
    silent: bool = True
    in_service: bool | None = None
    reason: str | None = None
    vpn_up: bool | None = None
    backlog: int = 0
    faults: list = field(default_factory=list)
    paper: str = "unknown"  # ok | low | out | unknown
    paper_percent: int | None = None
    coins: int | None = None
    notes: int | None = None
    notes_capacity: int | None = None
    staff_call_since: datetime | None = None
    call_acknowledged: bool = False
    pending: list = field(default_factory=list)  # command kinds not done yet
    need: int = OK
    need_code: str = "ok"


def _has(faults: list, state: str) -> bool:
    return any(f == state or f.endswith(":" + state) for f in faults)


def _paper(gauges: dict, faults: list) -> tuple[str, int | None]:
    value = gauges.get("paper")
    if _has(faults, "paper_out") or value == "out":
        return "out", 0 if isinstance(value, (int, float)) else None
    percent = int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if percent is not None:
        return ("out" if percent <= 0 else "low" if percent <= 15 else "ok"), percent
    if _has(faults, "paper_low") or value == "low":
        return "low", None
    return ("ok", None) if value == "ok" else ("unknown", None)


def _count(value) -> int | None:
    if isinstance(value, dict):
        return sum(int(v) for v in value.values() if isinstance(v, (int, float)))
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _view(summary: KioskSummary | None, kiosk_id: str, ward: str | None, now: datetime, silent_after: timedelta,
          pending: dict[str, list[str]]) -> KioskView:
    view = KioskView(kiosk_id, ward, pending=pending.get(kiosk_id, []))
    if summary is not None:
        gauges = summary.gauges or {}
        view.last_seen, view.in_service = summary.last_seen, summary.in_service
        view.reason, view.vpn_up, view.backlog = summary.out_of_service_reason, summary.vpn_up, summary.backlog or 0
        view.faults = [str(f) for f in (summary.open_faults or [])]
        view.paper, view.paper_percent = _paper(gauges, view.faults)
        hoppers = [_count(v) for k, v in gauges.items() if k.startswith("hopper_") and k[7:].isdigit()]
        hoppers = [n for n in hoppers if n is not None]
        view.coins = sum(hoppers) if hoppers else _count(gauges.get("hopper_coins"))
        view.notes = _count(gauges.get("notes_in_box", gauges.get("cash_box_notes")))
        view.notes_capacity = _count(gauges.get("cash_box_capacity"))
        view.backlog = max(view.backlog, _count(gauges.get("backlog")) or 0)
        view.staff_call_since = summary.staff_call_since
    view.silent = view.last_seen is None or now - view.last_seen > silent_after
    view.call_acknowledged = "ack_staff_call" in view.pending
    for code, level, applies in (
            ("staff_call", STAFF_CALL, view.staff_call_since is not None and not view.call_acknowledged),
            ("paper_out", OUT_OF_PAPER, view.paper == "out"),
            ("silent", SILENT, view.silent),
            ("out_of_service", OUT_OF_SERVICE, view.in_service is False),
            ("fault", FAULT, bool(view.faults)),
            ("low", LOW, view.paper == "low" or view.vpn_up is False)):
        if applies:
            view.need, view.need_code = level, code
            break
    return view


def _pending(db: Session, ids: set[str] | None) -> dict[str, list[str]]:
    query = select(KioskCommand.kiosk_id, KioskCommand.kind).where(KioskCommand.done_at.is_(None))
    if ids is not None:
        query = query.where(KioskCommand.kiosk_id.in_(ids))
    out: dict[str, list[str]] = {}
    for kiosk, kind in db.execute(query):
        out.setdefault(kiosk, []).append(kind)
    return out


def fleet(db: Session, staff: staff_mod.Staff, now: datetime | None = None,
          silent_after: timedelta = SILENT_AFTER) -> list[KioskView]:
    """Every kiosk this member of staff may see, the one that needs them most first."""
    now = now or utcnow()
    visible = staff_mod.visible_kiosks(db, staff)
    wards = staff_mod.ward_of(db)
    query = select(KioskSummary)
    if visible is not None:
        query = query.where(KioskSummary.kiosk_id.in_(visible))
    summaries = {s.kiosk_id: s for s in db.scalars(query)}
    ids = set(summaries) | (set(wards) if visible is None else visible)
    pending = _pending(db, visible)
    views = [_view(summaries.get(k), k, wards.get(k), now, silent_after, pending) for k in ids]
    return sorted(views, key=lambda v: (-v.need, -(now - v.staff_call_since).total_seconds()
                                        if v.staff_call_since else 0, v.kiosk_id))


def staff_calls(db: Session, staff: staff_mod.Staff, now: datetime | None = None) -> list[KioskView]:
    """Open staff calls, the oldest first (acknowledged ones, whose kiosk has not yet picked the command up, too)."""
    calls = [v for v in fleet(db, staff, now) if v.staff_call_since is not None]
    return sorted(calls, key=lambda v: (v.staff_call_since, v.kiosk_id))


def timeline(db: Session, kiosk_id: str, limit: int = 200) -> list[TelemetryEvent]:
    """A kiosk's newest events first (by the order the kiosk numbered them)."""
    return list(db.scalars(select(TelemetryEvent).where(TelemetryEvent.kiosk_id == kiosk_id)
                           .order_by(TelemetryEvent.seq.desc()).limit(limit)))


def commands_of(db: Session, kiosk_id: str, limit: int = 20) -> list[KioskCommand]:
    return list(db.scalars(select(KioskCommand).where(KioskCommand.kiosk_id == kiosk_id)
                           .order_by(KioskCommand.command_id.desc()).limit(limit)))


@dataclass(frozen=True)
class Sent:
    command: KioskCommand
    already: bool  # an identical command was still waiting: nothing new was sent


def send_command(db: Session, staff: staff_mod.Staff, kiosk_id: str, kind: str) -> Sent:
    """Ask a kiosk to do something (once: while the same command waits for the kiosk, another is not added).
    AdminError if the kind is unknown or the kiosk is not this member of staff's to command."""
    if kind not in COMMANDS:
        raise AdminError(f"unknown command {kind}")
    if not staff_mod.may_see(db, staff, kiosk_id):
        staff_mod.audit(db, staff.staff_id, "refused_kiosk", kiosk_id=kiosk_id, detail=f"command={kind}")
        db.commit()
        raise AdminError("not_your_kiosk")
    if kind == "ack_staff_call":
        summary = db.get(KioskSummary, kiosk_id)
        if summary is None or summary.staff_call_since is None:
            raise AdminError("no_open_call")
    waiting = waiting_command(db, kiosk_id, kind)
    if waiting is not None:
        return Sent(waiting, True)
    command = KioskCommand(kiosk_id=kiosk_id, kind=kind, created_at=utcnow(), created_by=staff.staff_id)
    db.add(command)
    staff_mod.audit(db, staff.staff_id, f"command_{kind}", kiosk_id=kiosk_id)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise
    return Sent(command, False)


def known_kiosk(db: Session, kiosk_id: str) -> bool:
    return (db.get(KioskSummary, kiosk_id) is not None or db.get(KioskWard, kiosk_id) is not None
            or db.scalar(select(TelemetryEvent.event_id).where(TelemetryEvent.kiosk_id == kiosk_id).limit(1))
            is not None)
