"""The server's tables (SQLAlchemy 2.x).  Portable SQL only: the same schema runs on SQLite and PostgreSQL.

Every piece of state a second server process would need lives here: the registry, sign-in nonces, sessions,
quotes, issuances (with the exact envelope bytes) and result reports.  Nothing is kept in process memory, so
several server processes behind one address behave like one (the 2024 Takamatsu incident came from a
single-server build deployed on several servers).  Times are naive UTC.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Household(Base):
    __tablename__ = "households"
    household_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(200))
    address_set_on: Mapped[date] = mapped_column(Date)  # 住所を定めた年月日
    previous_address: Mapped[str] = mapped_column(String(200))  # 従前の住所


class Resident(Base):
    __tablename__ = "residents"
    resident_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.household_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the household (head first)
    family_name: Mapped[str] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(40))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(4))  # 男 / 女
    relationship: Mapped[str] = mapped_column(String(20))  # 続柄: 世帯主, 妻, 子, …
    became_resident_on: Mapped[date] = mapped_column(Date)  # 住民となった年月日
    notified_on: Mapped[date] = mapped_column(Date)  # 届出年月日
    domicile: Mapped[str] = mapped_column(String(200))  # 本籍
    domicile_head: Mapped[str] = mapped_column(String(80))  # 筆頭者
    my_number: Mapped[str] = mapped_column(String(12))  # synthetic; printed only where the city allows it
    support_measures: Mapped[bool] = mapped_column(Boolean, default=False)
    moved_out: Mapped[bool] = mapped_column(Boolean, default=False)
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)


class JpkiCard(Base):
    """A JPKI user-authentication certificate (issuer + serial) mapped to a resident."""
    __tablename__ = "jpki_cards"
    issuer: Mapped[str] = mapped_column(String(300), primary_key=True)  # RFC 4514
    serial_hex: Mapped[str] = mapped_column(String(64), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"))


class CitizenCard(Base):
    __tablename__ = "citizen_cards"
    card_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"))
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    password_hash: Mapped[bytes] = mapped_column(LargeBinary(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)


class CitizenCardTry(Base):
    """A password try that holds one of the card's three counted tries while its password is being compared
    (``server.signin``): a racing try that finds the tries taken can tell "being checked" from "locked"."""
    __tablename__ = "citizen_card_tries"
    try_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)


class Nonce(Base):
    __tablename__ = "nonces"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # server.signin purges by it
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SessionRecord(Base):
    __tablename__ = "sessions"
    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"))
    subject_ref: Mapped[str] = mapped_column(String(64))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    signed_out_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class QuoteRecord(Base):
    __tablename__ = "quotes"
    quote_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.session_id"))
    certificate: Mapped[str] = mapped_column(String(40))
    options_json: Mapped[str] = mapped_column(Text)
    copies: Mapped[int] = mapped_column(Integer)
    fee_per_copy: Mapped[int] = mapped_column(Integer)
    total_fee: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    transaction_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # claimed by one issuance


class Issuance(Base):
    __tablename__ = "issuances"
    transaction_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # unique by being the key
    fingerprint: Mapped[str] = mapped_column(String(64))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(32))
    quote_id: Mapped[str] = mapped_column(String(40))
    amount_paid: Mapped[int] = mapped_column(Integer)
    total_fee: Mapped[int] = mapped_column(Integer)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(DateTime)


class ResultReport(Base):
    __tablename__ = "results"
    transaction_id: Mapped[str] = mapped_column(ForeignKey("issuances.transaction_id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(24))
    pages_printed: Mapped[int] = mapped_column(Integer)
    fee_collected: Mapped[int] = mapped_column(Integer)
    refund_owed: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)


# The registry's other tables (戸籍, 附票, 印鑑, 税, foreign residents) live in server.models_registry; importing it
# here registers them on Base, so Base.metadata.create_all makes every table.
from server import models_registry as _registry_tables  # noqa: E402,F401
