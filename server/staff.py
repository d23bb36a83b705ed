"""Staff of the operations dashboard: accounts, the login limit, sessions, wards and the audit.

- An account is a staff id (an employee number, never a name), a role and, for ward staff, a ward.  ``admin``
  (the city's kiosk administrator) sees every kiosk; ``ward`` sees the kiosks placed in its ward
  (``kiosk_wards``).  Passwords are kept only as argon2id hashes (argon2-cffi).
- The login limit: after ``MAX_FAILED`` wrong passwords in a row an account is locked for ``LOCK_FOR``; while
  locked even the right password is refused.  An unknown id costs the same hash as a known one.
- A session is a random token in an HttpOnly cookie; the server keeps its SHA-256, an expiry and the CSRF token.
- Every action is audited in ``dashboard_audit`` (and logged with ids and codes only).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.enrolment import AdminError, check_staff_id
from server.models_dashboard import DashboardAudit, DashboardSession
from server.models_telemetry import KioskWard, StaffAccount

log = logging.getLogger("server.staff")

ROLES = ("ward", "admin")
MAX_FAILED = 5
LOCK_FOR = timedelta(minutes=15)
SESSION_FOR = timedelta(hours=9)  # one working day at the counter
MIN_PASSWORD = 10
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


@dataclass(frozen=True)
class Staff:
    """A signed-in member of staff, as the pages need them."""
    staff_id: str
    role: str
    ward: str | None
    csrf_token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def check_ward(ward: str) -> str:
    if not ward or len(ward) > 32 or not ward.replace("-", "").replace("_", "").isalnum():
        raise AdminError("a ward is 1-32 letters, digits, '-' or '_' (e.g. kawasaki-ku or 川崎区)")
    return ward


def create_account(db: Session, staff_id: str, role: str, password: str, ward: str | None = None,
                   *, replace: bool = False) -> Staff:
    """Add (or with ``replace``, reset) an account; the password is hashed and never stored."""
    check_staff_id(staff_id)
    if role not in ROLES:
        raise AdminError(f"a role is one of {', '.join(ROLES)}")
    if role == "ward":
        check_ward(ward or "")
    elif ward:
        raise AdminError("an administrator sees every ward: give no --ward")
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"a password has at least {MIN_PASSWORD} characters")
    row = db.get(StaffAccount, staff_id)
    if row is not None and not replace:
        raise AdminError(f"staff {staff_id} already has an account (--replace resets it)")
    if row is None:
        row = StaffAccount(staff_id=staff_id, created_at=utcnow())
        db.add(row)
    row.role, row.ward, row.password_hash = role, ward if role == "ward" else None, _hasher.hash(password)
    row.failed_logins, row.locked_until = 0, None
    audit(db, "cli", "account_set", detail=f"staff={staff_id} role={role} ward={ward or '-'}")
    db.commit()
    return Staff(staff_id, role, row.ward)


def assign_ward(db: Session, kiosk_id: str, ward: str) -> None:
    """Place a kiosk in a ward (moving it if it was elsewhere)."""
    check_ward(ward)
    if not kiosk_id.startswith("kiosk-") or len(kiosk_id) > 64:
        raise AdminError("a kiosk id looks like kiosk-…")
    row = db.get(KioskWard, kiosk_id)
    if row is None:
        db.add(KioskWard(kiosk_id=kiosk_id, ward=ward))
    else:
        row.ward = ward
    audit(db, "cli", "kiosk_ward", kiosk_id=kiosk_id, detail=f"ward={ward}")
    db.commit()


@dataclass(frozen=True)
class LoginResult:
    outcome: str  # "ok" | "bad" | "locked"
    staff: Staff | None = None
    locked_until: datetime | None = None


def login(db: Session, staff_id: str, password: str, now: datetime | None = None) -> LoginResult:
    """Check a password under the login limit; audits and commits the outcome."""
    now = now or utcnow()
    row = db.get(StaffAccount, staff_id) if len(staff_id) <= 64 else None
    if row is None:
        _verify(_DUMMY_HASH, password)
        audit(db, staff_id[:64] or "-", "login_failed", detail="unknown_id")
        db.commit()
        return LoginResult("bad")
    if row.locked_until is not None and row.locked_until > now:
        _verify(_DUMMY_HASH, password)
        audit(db, staff_id, "login_locked")
        db.commit()
        return LoginResult("locked", locked_until=row.locked_until)
    if _verify(row.password_hash, password):
        row.failed_logins, row.locked_until = 0, None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        audit(db, staff_id, "login")
        db.commit()
        return LoginResult("ok", Staff(row.staff_id, row.role, row.ward))
    row.failed_logins = (row.failed_logins or 0) + 1
    if row.failed_logins >= MAX_FAILED:
        row.failed_logins, row.locked_until = 0, now + LOCK_FOR
        audit(db, staff_id, "account_locked", detail=f"after={MAX_FAILED}")
        db.commit()
        return LoginResult("locked", locked_until=row.locked_until)
    audit(db, staff_id, "login_failed", detail=f"count={row.failed_logins}")
    db.commit()
    return LoginResult("bad")


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(db: Session, staff: Staff, now: datetime | None = None) -> tuple[str, Staff]:
    """A new session: (the cookie's token, the staff with the session's CSRF token)."""
    now = now or utcnow()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.execute(delete(DashboardSession).where(DashboardSession.expires_at < now))
    db.add(DashboardSession(token_hash=_token_hash(token), staff_id=staff.staff_id, csrf_token=csrf,
                            created_at=now, expires_at=now + SESSION_FOR))
    db.commit()
    return token, Staff(staff.staff_id, staff.role, staff.ward, csrf)


def session_staff(db: Session, token: str | None, now: datetime | None = None) -> Staff | None:
    """The member of staff of a live session, or None (no cookie, unknown, expired, account gone)."""
    if not token or len(token) > 100:
        return None
    row = db.get(DashboardSession, _token_hash(token))
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    account = db.get(StaffAccount, row.staff_id)
    if account is None:
        return None
    return Staff(account.staff_id, account.role, account.ward, row.csrf_token)


def close_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(DashboardSession).where(DashboardSession.token_hash == _token_hash(token)))
        db.commit()


def csrf_ok(staff: Staff, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(staff.csrf_token.encode(), str(submitted).encode())


def audit(db: Session, staff_id: str, action: str, *, kiosk_id: str | None = None, detail: str = "") -> None:
    """Add an audit row in the caller's transaction (the caller commits) and log it."""
    db.add(DashboardAudit(at=utcnow(), staff_id=staff_id, action=action, kiosk_id=kiosk_id, detail=detail[:200]))
    log.info("dashboard %s staff=%s kiosk=%s %s", action, staff_id, kiosk_id or "-", detail)


def visible_kiosks(db: Session, staff: Staff) -> set[str] | None:
    """The kiosk ids this member of staff may see; None means all (an administrator)."""
    if staff.is_admin:
        return None
    return set(db.scalars(select(KioskWard.kiosk_id).where(KioskWard.ward == staff.ward)))


def may_see(db: Session, staff: Staff, kiosk_id: str) -> bool:
    if staff.is_admin:
        return True
    return db.scalar(select(KioskWard.ward).where(KioskWard.kiosk_id == kiosk_id)) == staff.ward


def ward_of(db: Session) -> dict[str, str]:
    return dict(db.execute(select(KioskWard.kiosk_id, KioskWard.ward)).all())
