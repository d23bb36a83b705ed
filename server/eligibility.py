"""Who may get which certificate at a kiosk, now — with the reason code the kiosk shows ("窓口へ: …").

The rules (domain-facts §2.1–2.3), checked in this order so that the most lasting reason is the one shown:

1. the city does not offer it at kiosks → ``not_offered``
2. the person: deceased; under 15; their household has a 支援措置 applicant; their household has a 転出者 or
   転出予定者 → ``deceased``, ``under_15``, ``support_measures``, ``moved_out``
3. the certificate: 印鑑登録証明書 needs a live registration (``seal_not_registered``, ``seal_abolished``);
   the tax certificate needs a record for the latest fiscal year (``no_tax_record``); 戸籍 certificates need
   a 戸籍 (``no_family_register``) and, if it is kept by another town, an effective 利用登録
   (``domicile_elsewhere``)
4. the clock: closed days (12/29–1/3, maintenance) → ``closed``; outside the service hours, or a 戸籍
   certificate outside weekday office hours → ``out_of_hours``

Everything is read from the database at the moment of asking: menu, quote and issuance each check again.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.catalog import CATALOG, CertificateType, IneligibleReason
from server.config import CitySettings
from server.config_city import Hours
from server.models import Resident
from server.models_registry import (DomicileRegistration, FamilyRegister, FamilyRegisterEntry, SealRegistration,
                                    TaxRecord)
from server.registry import age_on, household_members

R = IneligibleReason
SEAL = CertificateType.SEAL_REGISTRATION
TAX = CertificateType.RESIDENT_TAX


def latest_fiscal_year(today: date, switch: tuple[int, int] = (6, 1)) -> int:
    """The latest 市県民税 year that can be certified: this year's from the switch day (June), else last year's."""
    return today.year if (today.month, today.day) >= switch else today.year - 1


def clock_reason(hours: Hours, kind: CertificateType, now: datetime) -> IneligibleReason | None:
    """``now`` is local (JST) time.  None: the kiosk may issue this certificate at this moment."""
    day = now.date()
    if hours.year_end_closure and ((day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)):
        return R.CLOSED
    if day in hours.closed_dates:
        return R.CLOSED
    if not hours.service.contains(now.time()):
        return R.OUT_OF_HOURS
    if CATALOG[kind].family_register and hours.family_register is not None:
        if day.weekday() >= 5 or day in hours.holidays or not hours.family_register.contains(now.time()):
            return R.OUT_OF_HOURS
    return None


def person_reason(db: Session, resident: Resident, today: date) -> IneligibleReason | None:
    if resident.deceased:
        return R.DECEASED
    if age_on(resident.birth_date, today) < 15:
        return R.UNDER_15
    members = household_members(db, resident)
    if any(m.support_measures for m in members):
        return R.SUPPORT_MEASURES
    if any(m.moved_out for m in members):
        return R.MOVED_OUT
    return None


def register_entry(db: Session, resident: Resident) -> FamilyRegisterEntry | None:
    return db.scalars(select(FamilyRegisterEntry).where(FamilyRegisterEntry.resident_id == resident.resident_id)
                      .order_by(FamilyRegisterEntry.register_id)).first()


def live_seal(db: Session, resident: Resident) -> SealRegistration | None:
    """The resident's latest seal registration (abolished or not), or None."""
    return db.scalars(select(SealRegistration).where(SealRegistration.resident_id == resident.resident_id)
                      .order_by(SealRegistration.registered_on.desc(),
                                SealRegistration.registration_number.desc())).first()


def certificate_reason(db: Session, city: CitySettings, resident: Resident, kind: CertificateType,
                       today: date) -> IneligibleReason | None:
    if kind is SEAL:
        seal = live_seal(db, resident)
        if seal is None:
            return R.SEAL_NOT_REGISTERED
        if seal.abolished_on is not None and seal.abolished_on <= today:
            return R.SEAL_ABOLISHED
    elif kind is TAX:
        year = latest_fiscal_year(today, city.hours.tax_year_from)
        if db.get(TaxRecord, (resident.resident_id, year)) is None:
            return R.NO_TAX_RECORD
    elif CATALOG[kind].family_register:
        entry = register_entry(db, resident)
        if entry is None:
            return R.NO_FAMILY_REGISTER
        register = db.get(FamilyRegister, entry.register_id)
        if not register.held_here:
            registration = db.get(DomicileRegistration, resident.resident_id)
            if registration is None or registration.register_id != register.register_id \
                    or registration.effective_on > today:
                return R.DOMICILE_ELSEWHERE
    return None


def ineligibility(db: Session, city: CitySettings, offered: tuple[CertificateType, ...], resident: Resident,
                  kind: CertificateType, now: datetime) -> IneligibleReason | None:
    """Why this resident cannot get this certificate at a kiosk at ``now`` (local time), or None if they can."""
    if kind not in offered:
        return R.NOT_OFFERED
    today = now.date()
    return (person_reason(db, resident, today) or certificate_reason(db, city, resident, kind, today)
            or clock_reason(city.hours, kind, now))


def selectable_members(db: Session, resident: Resident) -> list[Resident]:
    """Who a 住民票 may show: the living members of the resident's household, head first (消除者 never)."""
    return [m for m in household_members(db, resident) if not m.deceased]


def chosen_members(db: Session, resident: Resident, options: dict, ref_of) -> list[Resident]:
    """The persons a 住民票 shows for these options; ``ref_of(resident_id)`` gives a member's wire reference.
    A chosen reference that is not a living member of the household is ``not_in_household``."""
    members = selectable_members(db, resident)
    scope = options.get("scope", "self")
    if scope == "household":
        return members
    if scope != "selected":
        return [resident]
    by_ref = {ref_of(m.resident_id): m for m in members}
    refs = [r for r in str(options.get("members", "")).split(",") if r]
    if not refs or any(r not in by_ref for r in refs) or len(set(refs)) != len(refs):
        raise NotInHousehold()
    wanted = set(refs)
    return [m for m in members if ref_of(m.resident_id) in wanted]


class NotInHousehold(Exception):
    """A chosen member is not in the requester's household (reason ``not_in_household``)."""

    reason = R.NOT_IN_HOUSEHOLD
