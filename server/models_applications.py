"""The e-applications (電子申請) taken at kiosks: one row per application, the resident's contact phone with it.

The phone number is personal data: it is stored here (the city's database) and nowhere on the kiosk.  The address
is not copied: the row names the resident, whose address the registry holds; the district it fell in and the
collection date are kept because the collection crew plans by them.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base


class Application(Base):
    __tablename__ = "applications"
    application_no: Mapped[str] = mapped_column(String(24), primary_key=True)  # 受付番号, printed on the receipt
    transaction_id: Mapped[str] = mapped_column(String(32), unique=True)  # the kiosk's; one application per id
    service: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # "kiosk" (the seed's statistics also count "pc")
    kiosk_id: Mapped[str] = mapped_column(String(64))
    resident_id: Mapped[str] = mapped_column(String(16))
    district: Mapped[str] = mapped_column(String(40))
    service_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # collection / start / stop date
    answers_json: Mapped[str] = mapped_column(Text)  # the checked answers, the phone among them
    total_fee: Mapped[int] = mapped_column(Integer)
    payment: Mapped[str] = mapped_column(String(16))  # none | cash | stickers
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    slot: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    # "<service>:<district>:<date>:<n>" for an application that takes one of a day's places (粗大ごみ): the unique
    # key lets two intakes racing for the same place never both have it (the loser is asked to send again)


Index("ix_applications_slot", Application.service, Application.district, Application.service_date)
