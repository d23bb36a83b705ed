"""The synthetic resident registry (住民基本台帳 stand-in) of the fictitious city 架空市, and who may get what.

Every person here is made up.  The registry is deterministic: it is seeded at the first start from the tables
below, and ``kiosk-server devinit`` makes the simulated cards from the same tables, so card files and registry
always agree.  JPKI certificates are mapped by (issuer, serial number), as a real 証明発行サーバ does: a JPKI
user-authentication certificate carries no name.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.catalog import CertificateType, IneligibleReason
from server.models import CitizenCard, Household, JpkiCard, Resident

log = logging.getLogger("server.registry")

JPKI_ISSUER = "CN=JPKI DEVELOPMENT CA (NOT FOR PRODUCTION),O=Kofu Kiosk Project,C=JP"
CITY_ADDRESS = "架空県架空市"


@dataclass(frozen=True)
class JpkiCardSeed:
    stem: str  # the card file's name
    serial: int
    resident_id: str | None  # None: a valid certificate that maps to nobody
    label: str
    tries_left: int = 3
    revoked: bool = False
    expired: bool = False


@dataclass(frozen=True)
class CitizenCardSeed:
    stem: str
    card_id: str
    resident_id: str
    password: str  # synthetic; only its salted hash is stored in the database
    label: str


HOUSEHOLDS = (
    # household_id, address, 住所を定めた年月日, 従前の住所
    ("H0001", f"{CITY_ADDRESS}中央町一丁目2番3号", date(2012, 4, 1), "架空県見本町本町4番5号"),
    ("H0002", f"{CITY_ADDRESS}北町三丁目10番1号 見本ハイツ201号室", date(2018, 10, 15), "架空県例示市南町1番2号"),
    ("H0003", f"{CITY_ADDRESS}南町2番8号", date(2005, 6, 1), "架空県架空市東町7番7号"),
    ("H0004", f"{CITY_ADDRESS}東町5番12号", date(2020, 1, 20), "架空県仮想村字山田100番地"),
    ("H0005", f"{CITY_ADDRESS}西町1番1号", date(2015, 3, 3), "架空県見本町本町9番9号"),
)

_DOMICILE_A = "架空県架空市中央町一丁目2番地"
RESIDENTS = (
    # id, household, position, family, given, birth, sex, 続柄, 住民となった日, 届出日, 本籍, 筆頭者, flags
    ("R0001", "H0001", 1, "試験", "太郎", date(1980, 4, 1), "男", "世帯主", date(2012, 4, 1), date(2012, 4, 3),
     _DOMICILE_A, "試験 太郎", ()),
    ("R0002", "H0001", 2, "試験", "花子", date(1982, 9, 15), "女", "妻", date(2012, 4, 1), date(2012, 4, 3),
     _DOMICILE_A, "試験 太郎", ()),
    ("R0003", "H0001", 3, "試験", "一郎", date(2016, 5, 5), "男", "子", date(2016, 5, 5), date(2016, 5, 10),
     _DOMICILE_A, "試験 太郎", ()),
    ("R0004", "H0002", 1, "見本", "次郎", date(1975, 11, 20), "男", "世帯主", date(2018, 10, 15),
     date(2018, 10, 16), "架空県例示市南町1番地", "見本 次郎", ()),
    ("R0005", "H0002", 2, "見本", "良子", date(1977, 2, 28), "女", "妻", date(2018, 10, 15), date(2018, 10, 16),
     "架空県例示市南町1番地", "見本 次郎", ()),
    ("R0006", "H0003", 1, "仮名", "三郎", date(1960, 7, 7), "男", "世帯主", date(2005, 6, 1), date(2005, 6, 2),
     "架空県架空市南町2番地", "仮名 三郎", ()),
    ("R0007", "H0004", 1, "例示", "四郎", date(1990, 12, 31), "男", "世帯主", date(2020, 1, 20), date(2020, 1, 21),
     "架空県仮想村字山田100番地", "例示 四郎", ()),
    ("R0008", "H0005", 1, "見本", "五月", date(1985, 5, 1), "女", "世帯主", date(2015, 3, 3), date(2015, 3, 4),
     "架空県見本町本町9番地", "見本 五月", ("support_measures",)),
)

JPKI_CARD_SEEDS = (
    JpkiCardSeed("resident-a", 0x1001, "R0001", "Adult, head of a household of three; PIN 1234"),
    JpkiCardSeed("resident-b", 0x1002, "R0004", "Adult in another household (two persons); PIN 1234"),
    JpkiCardSeed("locked", 0x1003, "R0005", "PIN locked: no tries left", tries_left=0),
    JpkiCardSeed("revoked", 0x1004, "R0006", "Certificate revoked (listed in the development CRL)", revoked=True),
    JpkiCardSeed("expired", 0x1005, "R0007", "Certificate validity period ended", expired=True),
    JpkiCardSeed("child", 0x1006, "R0003", "Child under 15 in household of resident-a: not eligible"),
)
CITIZEN_CARD_SEEDS = (
    CitizenCardSeed("citizen-a", "C0000001", "R0002", "2580",
                    "Citizen card of resident-a's spouse (same household); password held by the server"),
)


def my_number_for(resident_id: str) -> str:
    """A synthetic 12-digit number with a valid check digit (so it looks right) — never a real one."""
    body = "9" + hashlib.sha256(resident_id.encode()).hexdigest()[:20]
    digits = "".join(str(int(c, 16) % 10) for c in body)[:11]
    total = sum(int(d) * (n + 1 if n <= 6 else n - 5) for n, d in enumerate(reversed(digits), start=1))
    check = 0 if total % 11 <= 1 else 11 - total % 11
    return digits + str(check)


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 100_000)


def seed(db: Session) -> bool:
    """Fill an empty registry.  Returns False if it was already seeded (by this or another process)."""
    if db.scalar(select(Resident.resident_id).limit(1)) is not None:
        return False
    for hid, address, set_on, previous in HOUSEHOLDS:
        db.add(Household(household_id=hid, address=address, address_set_on=set_on, previous_address=previous))
    db.flush()
    for (rid, hid, pos, family, given, birth, sex, rel, became, notified, domicile, head, flags) in RESIDENTS:
        db.add(Resident(resident_id=rid, household_id=hid, position=pos, family_name=family, given_name=given,
                        birth_date=birth, sex=sex, relationship=rel, became_resident_on=became, notified_on=notified,
                        domicile=domicile, domicile_head=head, my_number=my_number_for(rid),
                        support_measures="support_measures" in flags, moved_out="moved_out" in flags,
                        deceased="deceased" in flags))
    db.flush()
    for card in JPKI_CARD_SEEDS:
        if card.resident_id:
            db.add(JpkiCard(issuer=JPKI_ISSUER, serial_hex=format(card.serial, "x"), resident_id=card.resident_id))
    for citizen in CITIZEN_CARD_SEEDS:
        salt = secrets.token_bytes(16)
        db.add(CitizenCard(card_id=citizen.card_id, resident_id=citizen.resident_id, password_salt=salt,
                           password_hash=hash_password(citizen.password, salt), failed_attempts=0))
    try:
        db.commit()
    except IntegrityError:  # another server process seeded at the same moment
        db.rollback()
        return False
    log.info("registry seeded: %d households, %d residents", len(HOUSEHOLDS), len(RESIDENTS))
    return True


def subject_ref(secret: bytes, resident_id: str) -> str:
    """The resident's opaque, stable pseudonym on the wire: HMAC-SHA256(server secret, resident id), 32 hex."""
    return hmac.new(secret, resident_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def household_members(db: Session, resident: Resident) -> list[Resident]:
    return list(db.scalars(select(Resident).where(Resident.household_id == resident.household_id)
                           .order_by(Resident.position)))


def ineligibility(db: Session, resident: Resident, certificate: CertificateType, offered: tuple[CertificateType, ...],
                  today: date) -> IneligibleReason | None:
    """Why this resident cannot get this certificate at a kiosk, or None if they can."""
    if certificate not in offered:
        return IneligibleReason.NOT_OFFERED
    if resident.deceased:
        return IneligibleReason.DECEASED
    if age_on(resident.birth_date, today) < 15:
        return IneligibleReason.UNDER_15
    members = household_members(db, resident)
    if any(m.support_measures for m in members):
        return IneligibleReason.SUPPORT_MEASURES
    if any(m.moved_out for m in members):
        return IneligibleReason.MOVED_OUT
    return None


def other_resident(db: Session, resident: Resident) -> Resident:
    """Someone from another household (for the development fault that imitates the 2023 incidents)."""
    other = db.scalars(select(Resident).where(Resident.household_id != resident.household_id)
                       .order_by(Resident.resident_id)).first()
    if other is None:
        raise LookupError("the registry has a single household")
    return other
