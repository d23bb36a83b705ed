"""The registry's tables beyond the resident record (server.models): family registers (戸籍) and their annex
(附票), the 利用登録 a resident needs when 本籍地 ≠ 住所地, seal registrations (印鑑登録), resident-tax records
(市県民税) and a foreign resident's items.  Portable SQL only, like server.models; times are naive UTC.

These stand in for the city's 戸籍, 印鑑 and 税 systems that feed a real 証明発行サーバ.  The registry is read
live at every menu, quote and issuance: a seal abolished a minute ago is abolished (the 2020–23 廃印 incidents).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base


class FamilyRegister(Base):
    """One 戸籍: its 本籍 and 筆頭者.  ``held_here`` is False for a register kept by another municipality (the
    kiosk reaches it through the 利用登録; the reference server keeps a copy to render)."""
    __tablename__ = "family_registers"
    register_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    domicile: Mapped[str] = mapped_column(String(200))  # 本籍
    head_name: Mapped[str] = mapped_column(String(80))  # 筆頭者氏名
    held_here: Mapped[bool] = mapped_column(Boolean)
    keeper: Mapped[str] = mapped_column(String(40))  # the municipality that keeps it (本籍地)
    made_on: Mapped[date] = mapped_column(Date)  # 編製日
    made_reason: Mapped[str] = mapped_column(String(40))  # 編製事由, e.g. 婚姻


class FamilyRegisterEntry(Base):
    """One person in a 戸籍 (a 身分事項 summary).  ``resident_id`` is None for a person not living in the city."""
    __tablename__ = "family_register_entries"
    register_id: Mapped[str] = mapped_column(ForeignKey("family_registers.register_id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.resident_id"), nullable=True, index=True)
    family_name: Mapped[str] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(40))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(4))
    father: Mapped[str] = mapped_column(String(80))
    mother: Mapped[str] = mapped_column(String(80))
    relation: Mapped[str] = mapped_column(String(20))  # 続柄 in the register: 夫, 妻, 長男, 長女 …
    birth_place: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(40))  # the latest 身分事項: 婚姻, 出生, 死亡 …
    event_on: Mapped[date] = mapped_column(Date)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)  # 除籍 (died, married out): still shown, marked


class AnnexEntry(Base):
    """One line of a 戸籍の附票: where a person of the register lived, from when."""
    __tablename__ = "family_register_annex"
    register_id: Mapped[str] = mapped_column(ForeignKey("family_registers.register_id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # the person's position in the register
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(200))
    set_on: Mapped[date] = mapped_column(Date)


class DomicileRegistration(Base):
    """戸籍証明書交付の利用登録 (本籍地 ≠ 住所地): usable from ``effective_on`` (1–3 business days later)."""
    __tablename__ = "domicile_registrations"
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"), primary_key=True)
    register_id: Mapped[str] = mapped_column(ForeignKey("family_registers.register_id"))
    applied_on: Mapped[date] = mapped_column(Date)
    effective_on: Mapped[date] = mapped_column(Date)


class SealRegistration(Base):
    """印鑑登録.  ``abolished_on`` set: 廃止 (廃印) — never certified again."""
    __tablename__ = "seal_registrations"
    registration_number: Mapped[str] = mapped_column(String(16), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"), index=True)
    registered_on: Mapped[date] = mapped_column(Date)
    impression: Mapped[str] = mapped_column(String(8))  # the characters engraved (the renderer draws them)
    abolished_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class TaxRecord(Base):
    """One fiscal year's 市県民税 assessment (年度 N taxes the income of year N-1).  Amounts in yen."""
    __tablename__ = "tax_records"
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    income_kind: Mapped[str] = mapped_column(String(20))  # 給与, 年金, 営業 …
    income: Mapped[int] = mapped_column(Integer)  # 収入金額
    total_income: Mapped[int] = mapped_column(Integer)  # 総所得金額
    deductions: Mapped[int] = mapped_column(Integer)  # 所得控除合計
    dependants: Mapped[int] = mapped_column(Integer)  # 扶養人数
    taxable: Mapped[bool] = mapped_column(Boolean)  # False: 非課税
    municipal_tax: Mapped[int] = mapped_column(Integer)  # 市民税 (均等割 + 所得割)
    prefectural_tax: Mapped[int] = mapped_column(Integer)  # 県民税 (均等割 + 所得割)


class ForeignResidentItems(Base):
    """A foreign resident's 住民票 items (国籍・地域, 在留資格, 在留期間, 在留カード等の番号)."""
    __tablename__ = "foreign_resident_items"
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.resident_id"), primary_key=True)
    nationality: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(40))  # 在留資格
    period_until: Mapped[date] = mapped_column(Date)  # 在留期間の満了の日
    card_number: Mapped[str] = mapped_column(String(12))  # synthetic 在留カード番号
