"""The synthetic resident registry (住民基本台帳 stand-in) of the fictitious city 架空市: seeding and look-ups.

Every person here is made up.  The registry is deterministic: it is seeded at the first start from
:mod:`server.registry_seed` (the same seed gives the same people), and ``kiosk-server devinit`` makes the simulated cards from the same tables, so card files and registry
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

from server.household import members
from server.models import CitizenCard, Household, JpkiCard, Resident
from server.models_registry import (AnnexEntry, DomicileRegistration, FamilyRegister, FamilyRegisterEntry,
                                    ForeignResidentItems, SealRegistration, TaxRecord)
from server.registry_seed import LAST_TAX_YEAR, RegistryData, synthetic_registry, tax_year_values

log = logging.getLogger("server.registry")

JPKI_ISSUER = "CN=JPKI DEVELOPMENT CA (NOT FOR PRODUCTION),O=Kofu Kiosk Project,C=JP"


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


JPKI_CARD_SEEDS = (
    JpkiCardSeed("resident-a", 0x1001, "R0001", "Adult, head of a household of three; PIN 1234"),
    JpkiCardSeed("resident-b", 0x1002, "R0004", "Adult in another household (two persons); PIN 1234"),
    JpkiCardSeed("locked", 0x1003, "R0005", "PIN locked: no tries left", tries_left=0),
    JpkiCardSeed("revoked", 0x1004, "R0006", "Certificate revoked (listed in the development CRL)", revoked=True),
    JpkiCardSeed("expired", 0x1005, "R0007", "Certificate validity period ended", expired=True),
    JpkiCardSeed("child", 0x1006, "R0003", "Child under 15 in household of resident-a: not eligible"),
    JpkiCardSeed("support-measures", 0x1007, "R0008", "Under 支援措置 (DV support measure): counter only; PIN 1234"),
    JpkiCardSeed("foreign", 0x1008, "R0009", "Foreign resident: 住民票 with 国籍・在留資格; no 戸籍, seal or tax record"),
    JpkiCardSeed("moved-out", 0x1009, "R0010", "転出予定 (moving out): counter only, and for their household too"),
    JpkiCardSeed("moved-out-household", 0x100A, "R0011", "Spouse of a 転出予定者: counter only"),
    JpkiCardSeed("deceased", 0x100B, "R0012", "A deceased resident's card that is still valid: refused"),
    JpkiCardSeed("seal-abolished", 0x100C, "R0013", "印鑑登録 abolished (廃印): no 印鑑登録証明書; the rest is fine"),
    JpkiCardSeed("domicile-elsewhere", 0x100D, "R0014",
                 "本籍 in another town without the 利用登録: no 戸籍 certificates; no tax record either"),
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


def seed(db: Session, seed_value: int = 2026, generated_households: int = 12) -> bool:
    """Fill an empty registry.  Returns False if it was already seeded (by this or another process)."""
    if db.scalar(select(Resident.resident_id).limit(1)) is not None:
        return False
    data = synthetic_registry(seed_value, generated_households)
    try:
        _add_registry(db, data)
        for card in JPKI_CARD_SEEDS:
            if card.resident_id:
                db.add(JpkiCard(issuer=JPKI_ISSUER, serial_hex=format(card.serial, "x"),
                                resident_id=card.resident_id))
        for citizen in CITIZEN_CARD_SEEDS:
            salt = secrets.token_bytes(16)
            db.add(CitizenCard(card_id=citizen.card_id, resident_id=citizen.resident_id, password_salt=salt,
                               password_hash=hash_password(citizen.password, salt), failed_attempts=0))
        db.commit()
    except IntegrityError:  # another server process seeded at the same moment (a flush or the commit collides)
        db.rollback()
        return False
    log.info("registry seeded: %d households, %d residents", len(data.households), len(data.residents))
    return True


def _add_registry(db: Session, data: RegistryData) -> None:
    registers = {r.register_id: r for r in data.registers}
    homes = {h.household_id: h for h in data.households}
    for h in data.households:
        db.add(Household(household_id=h.household_id, address=h.address, address_set_on=h.address_set_on,
                         previous_address=h.previous_address))
    for r in data.registers:
        db.add(FamilyRegister(register_id=r.register_id, domicile=r.domicile, head_name=r.head_name,
                              held_here=r.held_here, keeper=r.keeper, made_on=r.made_on, made_reason=r.made_reason))
    db.flush()
    for p in data.residents:
        register = registers.get(p.register_id) if p.register_id else None
        db.add(Resident(resident_id=p.resident_id, household_id=p.household_id, position=p.position,
                        family_name=p.family_name, given_name=p.given_name, birth_date=p.birth_date, sex=p.sex,
                        relationship=p.relationship, became_resident_on=p.became_resident_on,
                        notified_on=p.notified_on, domicile=register.domicile if register else "",
                        domicile_head=register.head_name if register else "", my_number=my_number_for(p.resident_id),
                        support_measures="support_measures" in p.flags, moved_out="moved_out" in p.flags,
                        deceased="deceased" in p.flags))
    db.flush()
    where = {p.resident_id: homes[p.household_id] for p in data.residents}
    for r in data.registers:
        for e in r.entries:
            db.add(FamilyRegisterEntry(register_id=r.register_id, position=e.position, resident_id=e.resident_id,
                                       family_name=e.family_name, given_name=e.given_name, birth_date=e.birth_date,
                                       sex=e.sex, father=e.father, mother=e.mother, relation=e.relation,
                                       birth_place=f"架空県{r.keeper}",
                                       event=e.event, event_on=e.event_on, removed=e.removed))
            home = where.get(e.resident_id) if e.resident_id else None
            if home is not None:  # the 附票: the address before this city, then the address here
                moved_in = max(home.address_set_on, e.birth_date)
                if e.birth_date < home.address_set_on:
                    db.add(AnnexEntry(register_id=r.register_id, position=e.position, seq=1,
                                      address=home.previous_address, set_on=max(e.birth_date, r.made_on)))
                db.add(AnnexEntry(register_id=r.register_id, position=e.position, seq=2, address=home.address,
                                  set_on=moved_in))
    for s in data.seals:
        db.add(SealRegistration(registration_number=s.registration_number, resident_id=s.resident_id,
                                registered_on=s.registered_on, impression=s.impression, abolished_on=s.abolished_on))
    became = {p.resident_id: p.became_resident_on for p in data.residents}
    for t in data.taxes:  # one record per fiscal year the person was registered here on 1 January
        first = became[t.resident_id].year + (0 if became[t.resident_id].timetuple().tm_yday == 1 else 1)
        for year in range(max(first, 2020), LAST_TAX_YEAR + 1):
            db.add(TaxRecord(resident_id=t.resident_id, fiscal_year=year, **tax_year_values(t, year)))
    for f in data.foreigners:
        db.add(ForeignResidentItems(resident_id=f.resident_id, nationality=f.nationality, status=f.status,
                                    period_until=f.period_until, card_number=f.card_number))
    for d in data.domicile_registrations:
        db.add(DomicileRegistration(resident_id=d.resident_id, register_id=d.register_id, applied_on=d.applied_on,
                                    effective_on=d.effective_on))
    db.flush()


def subject_ref(secret: bytes, resident_id: str) -> str:
    """The resident's opaque, stable pseudonym on the wire: HMAC-SHA256(server secret, resident id), 32 hex."""
    return hmac.new(secret, resident_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def household_members(db: Session, resident: Resident) -> list[Resident]:
    return members(db, resident)  # from the request's one read of the household, if it made one


def other_resident(db: Session, resident: Resident) -> Resident:
    """Someone from another household (for the development fault that imitates the 2023 incidents)."""
    other = db.scalars(select(Resident).where(Resident.household_id != resident.household_id)
                       .order_by(Resident.resident_id)).first()
    if other is None:
        raise LookupError("the registry has a single household")
    return other
