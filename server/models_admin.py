"""The tables of the city's administration side: device enrolment, staff card unlocks, the ledger, the log, refunds.

Registered on the same metadata as :mod:`server.models` (``server.db`` imports this module before creating the
tables).  Portable SQL only; times are naive UTC.  None of these tables holds a name, an address, a password or
a My Number: kiosks, cards and staff appear by id, residents at most by their keyed ``subject_ref``.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base


class EnrolmentToken(Base):
    """A one-time enrolment token, stored only as its SHA-256; bound to one kiosk id; expires; used once."""
    __tablename__ = "enrolment_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # the kiosk was revoked


class KioskRecord(Base):
    """A kiosk the city knows.  ``revoked_at`` refuses every certificate of it that enrolment did not issue
    after the revocation (devinit's or a hand-made one included)."""
    __tablename__ = "kiosks"
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class KioskCertificate(Base):
    """A device certificate issued by enrolment (serial in lower-case hex)."""
    __tablename__ = "kiosk_certificates"
    serial_hex: Mapped[str] = mapped_column(String(40), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CardUnlock(Base):
    """Audit of a staff unlock of a citizen card: who, when, which card, how many wrong tries it had."""
    __tablename__ = "card_unlocks"
    unlock_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(String(16), index=True)
    staff_id: Mapped[str] = mapped_column(String(64))
    unlocked_at: Mapped[datetime] = mapped_column(DateTime)
    failed_attempts_before: Mapped[int] = mapped_column(Integer)


class LedgerEntry(Base):
    """One settled transaction in a kiosk's ledger: what the kiosk kept and what it owes back, on which day."""
    __tablename__ = "ledger_entries"
    transaction_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)  # the day in Japan (JST)
    outcome: Mapped[str] = mapped_column(String(24))
    certificate: Mapped[str] = mapped_column(String(40))
    documents: Mapped[int] = mapped_column(Integer)
    total_fee: Mapped[int] = mapped_column(Integer)
    fee_earned: Mapped[int] = mapped_column(Integer)
    refunded: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class IssuanceLogEntry(Base):
    """One document in the append-only, hash-chained issuance log.  The primary key on ``sequence`` is what
    serialises appends across server processes: two appenders that read the same head cannot both commit."""
    __tablename__ = "issuance_log"
    __table_args__ = (UniqueConstraint("transaction_id", "document_id", name="uq_issuance_log_document"),)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(32))  # ISO-8601 UTC, exactly as hashed
    kiosk_id: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str] = mapped_column(String(64))
    certificate: Mapped[str] = mapped_column(String(40))
    pages: Mapped[int] = mapped_column(Integer)
    document_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(24))
    subject_ref: Mapped[str] = mapped_column(String(64))  # the keyed pseudonym, never a name
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class KioskCertificateCopy(Base):
    """A kiosk device certificate the server has seen whole (DER), so that what the kiosk signed with its device
    key (a refund slip) can be checked later: written at enrolment, and from the connection of every result
    report that owes a refund (devinit's and hand-made certificates included).  Keyed by the DER's SHA-256."""
    __tablename__ = "kiosk_certificate_copies"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    serial_hex: Mapped[str] = mapped_column(String(40))
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16))  # "enrolment" | "connection"


class RefundPayment(Base):
    """A refund the counter paid out (``kiosk-server refund-paid``): once per transaction (the key), with who paid
    it and when.  ``basis`` is "books" (the kiosk's result report owed it) or "slip" (a verified slip whose refund
    had not reached the server's books)."""
    __tablename__ = "refund_payments"
    transaction_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), index=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(DateTime)
    paid_by: Mapped[str] = mapped_column(String(64))
    basis: Mapped[str] = mapped_column(String(8))


class KioskTunnel(Base):
    """A kiosk's WireGuard peer: its public key and the tunnel address the server gave it (kept across a
    re-enrolment, so the kiosk's address does not change)."""
    __tablename__ = "kiosk_tunnels"
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(44), unique=True)
    address: Mapped[str] = mapped_column(String(45), unique=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime)


class KioskReadiness(Base):
    """The last readiness report kiosk-provision sent (the table as text: ids, checks, no personal data)."""
    __tablename__ = "kiosk_readiness"
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ready: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[str] = mapped_column(String(20000))
    received_at: Mapped[datetime] = mapped_column(DateTime)
