"""What each certificate shows: one content dataclass per certificate, filled by the registry, drawn by a renderer.

These are plain, frozen values with no database or PDF in them.  The registry's composition functions build them
from the database; ``server.render.documents.render_certificate`` turns any of them into a signed A4 PDF.  Dates
are ``datetime.date`` (the renderer prints them in the Japanese calendar); amounts are whole yen.  Nothing here
is ever logged: the reprs of the person-bearing classes hide their values.

Fields with defaults are optional: a registry that does not (yet) hold them leaves the default and the
certificate prints without them (or, where the layout needs something, with a neutral placeholder).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from certs.catalog import CertificateType


def _private(cls):
    """Hide every value from repr(): these objects carry names, addresses and birth dates."""
    cls.__repr__ = lambda self: f"<{type(self).__name__} (personal data hidden)>"
    return cls


# ------------------------------------------------------------------ who issues, and which document this is


@dataclass(frozen=True)
class Issuer:
    """The issuing city: its name, its mayor, the issue date and the document's issue number (発行番号)."""
    city: str
    mayor: str
    issued_on: date
    issue_number: str


@dataclass(frozen=True)
class DocumentIdentity:
    """The opaque ids one rendered document is bound to (no personal data): they go into the binding line on
    every page and into each page's signed QR payload."""
    transaction_id: str  # 32 hex digits
    subject_ref: str  # the resident's pseudonym (32 hex digits from the registry)
    document_id: str  # "doc-" + 32 hex digits
    certificate: CertificateType


# ------------------------------------------------------------------ 住民票の写し / 住民票記載事項証明書


@_private
@dataclass(frozen=True)
class PersonEntry:
    """One person on a 住民票 (住民基本台帳法 第7条).  Foreign residents' fields are None for Japanese nationals."""
    name: str
    birth_date: date
    sex: str
    relationship: str  # 続柄 (printed only if 世帯主・続柄 was chosen)
    became_resident_on: date  # 住民となった年月日
    notified_on: date  # 届出年月日
    domicile: str  # 本籍 (printed only if 本籍・筆頭者 was chosen)
    domicile_head: str  # 筆頭者
    my_number: str | None  # None unless chosen and the city allows it; the 住民票コード is never printed
    former_surname: str | None = None  # 旧氏, if registered
    alias: str | None = None  # 通称 (foreign residents)
    nationality: str | None = None  # 国籍・地域: set for foreign residents only
    residence_status: str | None = None  # 在留資格
    residence_period: str | None = None  # 在留期間 and its 満了の日, as printed
    residence_card_number: str | None = None  # 在留カード等の番号
    section_30_45: str | None = None  # 法第30条の45に規定する区分


@_private
@dataclass(frozen=True)
class ResidenceRecord:
    """What one 住民票の写し shows: one household's address and the persons chosen."""
    address: str
    address_set_on: date  # 住所を定めた年月日
    previous_address: str  # 従前の住所
    head_name: str  # 世帯主
    persons: tuple[PersonEntry, ...]
    household_scope: bool  # 世帯全員 (True) or the chosen persons
    show_head: bool  # 世帯主・続柄
    show_domicile: bool  # 本籍・筆頭者


@_private
@dataclass(frozen=True)
class ResidenceRecordItems:
    """住民票記載事項証明書: the chosen items of the chosen persons' records, certified as recorded.

    ``purpose`` is the 使用目的 some cities print (empty: not printed)."""
    address: str
    address_set_on: date
    head_name: str
    persons: tuple[PersonEntry, ...]
    household_scope: bool
    show_head: bool
    show_domicile: bool
    purpose: str = ""


# ------------------------------------------------------------------ 印鑑登録証明書


@dataclass(frozen=True)
class SealImpression:
    """The registered seal (印影).  The reference server has no scanned impressions, so it draws a synthetic
    one from ``text`` (usually the family name) in the given shape; a registry with real scans passes ``png``."""
    text: str
    shape: str = "round"  # "round" | "oval" | "square"
    size_mm: float = 15.0  # registered seals are 8–25 mm
    png: bytes | None = None


@_private
@dataclass(frozen=True)
class SealRegistration:
    """What one 印鑑登録証明書 shows."""
    registration_number: str  # 印鑑登録番号
    name: str
    birth_date: date
    sex: str
    address: str
    impression: SealImpression
    alias: str | None = None  # 通称 (foreign residents), printed under the name
    show_sex: bool = True  # some cities omit 性別


# ------------------------------------------------------------------ 戸籍 (computerised 全部事項証明 layout)


@dataclass(frozen=True)
class RegisterEvent:
    """One entry of 戸籍事項 or 身分事項: a kind (編製, 転籍, 出生, 婚姻, …) and its labelled items in order,
    e.g. ("出生", (("出生日", date(1980, 4, 1)), ("出生地", "架空県架空市"), ("届出日", …), ("届出人", "父"))).
    A value that is a date prints in the Japanese calendar."""
    kind: str
    items: tuple[tuple[str, str | date], ...]


@_private
@dataclass(frozen=True)
class RegisterMember:
    """One 戸籍に記録されている者."""
    name: str  # 【名】 (the register's 氏 is the head's)
    birth_date: date
    father: str
    mother: str
    relationship: str  # 【続柄】 長男, 長女, …
    events: tuple[RegisterEvent, ...]  # 身分事項
    sex: str = ""
    spouse_role: str = ""  # 【配偶者区分】 夫 / 妻 ("" if none)
    removed: bool = False  # 除籍 (shown with the 除籍 mark)


@_private
@dataclass(frozen=True)
class FamilyRegister:
    """One 戸籍: 本籍, 氏名 (筆頭者), 戸籍事項, and the persons recorded in it, 筆頭者 first."""
    domicile: str  # 本籍
    head_name: str  # 氏名 (the 筆頭者's full name)
    register_events: tuple[RegisterEvent, ...]  # 戸籍事項 (編製, 転籍, 改製, …)
    members: tuple[RegisterMember, ...]


@dataclass(frozen=True)
class FamilyRegisterAll:
    """戸籍全部事項証明書: every person in the register."""
    register: FamilyRegister


@dataclass(frozen=True)
class FamilyRegisterIndividual:
    """戸籍個人事項証明書: the persons chosen (usually one), in the same layout."""
    register: FamilyRegister
    member_indexes: tuple[int, ...]  # positions in ``register.members``


# ------------------------------------------------------------------ 戸籍の附票の写し


@dataclass(frozen=True)
class AddressEntry:
    address: str
    set_on: date  # 住所を定めた年月日


@_private
@dataclass(frozen=True)
class AnnexPerson:
    """One person on a 戸籍の附票 with the history of their addresses, oldest first."""
    name: str
    birth_date: date
    sex: str
    addresses: tuple[AddressEntry, ...]
    removed: bool = False


@_private
@dataclass(frozen=True)
class FamilyRegisterAnnex:
    """戸籍の附票の写し: 本籍, 筆頭者, and each person's 住所の履歴."""
    domicile: str
    head_name: str
    persons: tuple[AnnexPerson, ...]


# ------------------------------------------------------------------ 市県民税 課税・非課税証明書


@dataclass(frozen=True)
class Amount:
    label: str
    yen: int


@_private
@dataclass(frozen=True)
class ResidentTaxRecord:
    """The latest fiscal year's 市県民税: income of the previous calendar year, deductions and tax, or 非課税.

    ``fiscal_year`` is the 年度 (e.g. 2026 for 令和8年度, taxing income of 2025).  When ``taxable`` is False the
    certificate reads 非課税 and the tax rows are not printed."""
    fiscal_year: int
    address: str  # 住所 as of 1 January of the fiscal year
    name: str
    birth_date: date
    taxable: bool
    incomes: tuple[Amount, ...]  # 給与収入, 給与所得, …, 合計所得金額 last
    deductions: tuple[Amount, ...]  # 社会保険料控除, 基礎控除, …, 所得控除合計 last
    city_tax: tuple[Amount, ...] = ()  # 市民税 均等割, 所得割
    prefectural_tax: tuple[Amount, ...] = ()  # 県民税 均等割, 所得割
    dependents: tuple[Amount, ...] = field(default_factory=tuple)  # counts, not yen: 扶養親族数 etc. (label, n)

    @property
    def total_tax(self) -> int:
        return sum(a.yen for a in self.city_tax) + sum(a.yen for a in self.prefectural_tax)


CONTENT_TYPES: dict[type, CertificateType] = {
    ResidenceRecord: CertificateType.RESIDENCE_RECORD_COPY,
    ResidenceRecordItems: CertificateType.RESIDENCE_RECORD_ITEMS,
    SealRegistration: CertificateType.SEAL_REGISTRATION,
    FamilyRegisterAll: CertificateType.FAMILY_REGISTER_ALL,
    FamilyRegisterIndividual: CertificateType.FAMILY_REGISTER_INDIVIDUAL,
    FamilyRegisterAnnex: CertificateType.FAMILY_REGISTER_ANNEX,
    ResidentTaxRecord: CertificateType.RESIDENT_TAX,
}
