"""The operations dashboard's own tables: staff sessions and the audit of what staff did there.

Registered on the same metadata as :mod:`server.models` (``server.db`` imports this module).  The account table
itself (``staff_accounts``) and the ward of each kiosk (``kiosk_wards``) are in :mod:`server.models_telemetry`.
Only ids, codes and amounts: never a resident's name, a password, or a session token in clear (its SHA-256).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base


class DashboardSession(Base):
    """A signed-in member of staff.  The browser holds the token (an HttpOnly cookie); the server keeps its hash,
    and the session's CSRF token, which every POST form must echo."""
    __tablename__ = "dashboard_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class DashboardAudit(Base):
    """One thing a member of staff did, or tried, on the dashboard: sign-ins (good, bad, locked), sign-outs,
    commands to kiosks, refunds paid or refused, refusals (another ward's kiosk, a missing CSRF token).
    ``detail`` holds codes, ids and amounts only."""
    __tablename__ = "dashboard_audit"
    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    staff_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    kiosk_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(String(200), default="")
