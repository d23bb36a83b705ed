"""The tables of the city's view of its kiosks: telemetry events, each kiosk's summary, remote commands, staff.

Registered on the same metadata as :mod:`server.models` (``server.db`` imports this module before creating the
tables).  Portable SQL only; times are naive UTC.  Like the audit catalogue on the kiosk, telemetry holds ids,
codes, amounts and counts, never a name, an address, a PIN, a phone number or a My Number.

- ``telemetry_events``: one row per event a kiosk sent, keyed by (kiosk, sequence); the kiosk id comes from the
  client certificate, never from the body.  ``wall_time`` is the kiosk's clock (the Pi has no real-time clock);
  ``corrected_time`` is the server's best estimate when the kiosk's clock was not yet synchronised.
- ``kiosk_summaries``: what the fleet page shows, one row per kiosk, updated as events arrive.
- ``kiosk_commands``: what staff asked a kiosk to do (out of service, back in service, acknowledge a staff call);
  the kiosk picks a command up on its next telemetry exchange and reports it done.
- ``staff_accounts``: the operations dashboard's users (ward staff see their ward's kiosks; city administrators
  see all); ``kiosk_wards`` places each kiosk in a ward.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base


class TelemetryEvent(Base):
    """One kiosk event, stored once: a resend of the same (kiosk, sequence) is acknowledged and not stored again."""
    __tablename__ = "telemetry_events"
    __table_args__ = (UniqueConstraint("kiosk_id", "seq", name="uq_telemetry_kiosk_seq"),)
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    boot_id: Mapped[str] = mapped_column(String(64))
    monotonic_ms: Mapped[int] = mapped_column(Integer)
    wall_time: Mapped[datetime] = mapped_column(DateTime)
    corrected_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)  # e.g. paper_out, staff_call, out_of_service
    fields: Mapped[dict] = mapped_column(JSON, default=dict)  # ids, codes, amounts, counts only


class KioskSummary(Base):
    """The latest known state of one kiosk, for the fleet page (one row per kiosk)."""
    __tablename__ = "kiosk_summaries"
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    in_service: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    out_of_service_reason: Mapped[str | None] = mapped_column(String(48), nullable=True)
    vpn_up: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    backlog: Mapped[int] = mapped_column(Integer, default=0)  # events the kiosk still holds unsent
    open_faults: Mapped[list] = mapped_column(JSON, default=list)  # fault codes currently open
    gauges: Mapped[dict] = mapped_column(JSON, default=dict)  # paper, hopper coins, cash box notes, uptime, …
    staff_call_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # an open staff call


class KioskCommand(Base):
    """A remote command for one kiosk: created by staff, picked up by the kiosk, then done.  Audited by who and when."""
    __tablename__ = "kiosk_commands"
    command_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # out_of_service | back_in_service | ack_staff_call
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(48), nullable=True)  # the kiosk's word: done, held:<reason>


class KioskWard(Base):
    """Which ward (区) a kiosk stands in: ward staff see only their ward's kiosks."""
    __tablename__ = "kiosk_wards"
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ward: Mapped[str] = mapped_column(String(32), index=True)


class StaffAccount(Base):
    """A dashboard user.  ``role`` is "ward" (sees ``ward``'s kiosks) or "admin" (sees all).  The password is kept
    only as an argon2 hash; failed logins are counted for the login limit."""
    __tablename__ = "staff_accounts"
    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    ward: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
