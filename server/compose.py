"""What each certificate shows, composed from the registry into the renderers' content (server.render.content).

One function per certificate type; :func:`compose` picks it.  They read the registry as it is now (a seal
abolished a minute ago is abolished) and decide which persons and which fields appear:

- 住民票の写し / 記載事項証明書: the chosen persons of the requester's household (本人, 世帯全員 or selected;
  消除者 never); 世帯主・続柄 and 本籍・筆頭者 only if chosen (本籍 for Japanese nationals only); a foreign
  resident's 国籍・在留資格 items if chosen; the 個人番号 only if chosen and the city allows it; never the
  住民票コード.
- 印鑑登録証明書: the requester's own live registration.
- 戸籍全部事項 / 個人事項証明書, 戸籍の附票の写し: the requester's 戸籍 (every person, or the requester alone).
- 市県民税 課税・非課税証明書: the requester's record of the latest fiscal year.

Eligibility (server.eligibility) is checked before any of these is called; a missing record here is a
:class:`LookupError`, never a half-filled certificate.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.catalog import CertificateType
from server.eligibility import latest_fiscal_year, live_seal, register_entry, selectable_members
from server.household import foreign_items as foreign_items_of
from server.models import Household, Resident
from server.models_registry import AnnexEntry, FamilyRegister, FamilyRegisterEntry, TaxRecord
from server.render import content as c
from server.render.dates import wareki

T = CertificateType


def _name(person) -> str:
    return f"{person.family_name} {person.given_name}"


def _home(db: Session, resident: Resident) -> Household:
    return db.get(Household, resident.household_id)


def person_entry(db: Session, member: Resident, *, my_number: bool, foreign_items: bool) -> c.PersonEntry:
    foreign = foreign_items_of(db, member)
    shown = foreign if foreign is not None and foreign_items else None
    return c.PersonEntry(
        name=_name(member), birth_date=member.birth_date, sex=member.sex, relationship=member.relationship,
        became_resident_on=member.became_resident_on, notified_on=member.notified_on,
        domicile=member.domicile if foreign is None else "", domicile_head=member.domicile_head if foreign is None
        else "", my_number=member.my_number if my_number else None,
        nationality=shown.nationality if shown else None, residence_status=shown.status if shown else None,
        residence_period=f"{wareki(shown.period_until)}まで" if shown else None,
        residence_card_number=shown.card_number if shown else None,
        section_30_45="中長期在住者" if shown else None)


def _household_parts(db: Session, resident: Resident, members: list[Resident], options: dict,
                     my_number_allowed: bool) -> dict:
    household = selectable_members(db, resident)
    head = next((m for m in household if m.relationship == "世帯主"), household[0] if household else resident)
    show_my_number = bool(options.get("my_number")) and my_number_allowed
    persons = tuple(person_entry(db, m, my_number=show_my_number, foreign_items=bool(options.get("foreign_items")))
                    for m in members)
    return {"address": _home(db, resident).address, "address_set_on": _home(db, resident).address_set_on,
            "head_name": _name(head), "persons": persons, "household_scope": options.get("scope") == "household",
            "show_head": bool(options.get("household_head")), "show_domicile": bool(options.get("domicile"))}


def residence_record(db: Session, resident: Resident, members: list[Resident], options: dict,
                     my_number_allowed: bool) -> c.ResidenceRecord:
    parts = _household_parts(db, resident, members, options, my_number_allowed)
    return c.ResidenceRecord(previous_address=_home(db, resident).previous_address, **parts)


def residence_items(db: Session, resident: Resident, members: list[Resident], options: dict) -> c.ResidenceRecordItems:
    return c.ResidenceRecordItems(**_household_parts(db, resident, members, options, my_number_allowed=False))


def seal_registration(db: Session, resident: Resident) -> c.SealRegistration:
    seal = live_seal(db, resident)
    if seal is None or seal.abolished_on is not None:
        raise LookupError("no live seal registration")
    return c.SealRegistration(registration_number=seal.registration_number, name=_name(resident),
                              birth_date=resident.birth_date, sex=resident.sex, address=_home(db, resident).address,
                              impression=c.SealImpression(seal.impression))


def _events(entry: FamilyRegisterEntry, spouse: str) -> tuple[c.RegisterEvent, ...]:
    """身分事項: 出生, then the latest event (婚姻, 分籍, 死亡 …)."""
    if entry.event == "出生":
        items = (("出生日", entry.birth_date), ("出生地", entry.birth_place), ("届出日", entry.event_on),
                 ("届出人", "父"))
    elif entry.event == "婚姻":
        items = (("婚姻日", entry.event_on), ("配偶者氏名", spouse))
    elif entry.event == "死亡":
        items = (("死亡日", entry.event_on), ("死亡地", entry.birth_place))
    else:
        items = ((f"{entry.event}日", entry.event_on),)
    birth = c.RegisterEvent("出生", (("出生日", entry.birth_date), ("出生地", entry.birth_place)))
    return (birth,) + (() if entry.event == "出生" else (c.RegisterEvent(entry.event, items),))


def _register(db: Session, resident: Resident) -> tuple[FamilyRegister, list[FamilyRegisterEntry], int]:
    """The resident's register, its entries in order, and the resident's index among them."""
    entry = register_entry(db, resident)
    if entry is None:
        raise LookupError("no family register")
    register = db.get(FamilyRegister, entry.register_id)
    entries = list(db.scalars(select(FamilyRegisterEntry).where(FamilyRegisterEntry.register_id == entry.register_id)
                              .order_by(FamilyRegisterEntry.position)))
    return register, entries, [e.position for e in entries].index(entry.position)


def family_register(db: Session, resident: Resident) -> tuple[c.FamilyRegister, int]:
    """The resident's 戸籍 in the renderers' shape, and the resident's index among its members."""
    register, entries, index = _register(db, resident)
    married = register.made_reason == "婚姻"
    couple = {e.position: f"{e.family_name} {e.given_name}" for e in entries if e.position <= 2}
    members = tuple(c.RegisterMember(
        name=e.given_name, birth_date=e.birth_date, father=e.father, mother=e.mother, relationship=e.relation,
        events=_events(e, couple.get(3 - e.position, "")), sex=e.sex,
        spouse_role=("夫" if e.sex == "男" else "妻") if married and e.position <= 2 and e.event != "出生" else "",
        removed=e.removed) for e in entries)
    events = (c.RegisterEvent("編製", (("編製日", register.made_on),)),)
    return c.FamilyRegister(register.domicile, register.head_name, events, members), index


def family_register_annex(db: Session, resident: Resident) -> c.FamilyRegisterAnnex:
    register, entries, _ = _register(db, resident)
    persons = []
    for e in entries:
        lines = db.scalars(select(AnnexEntry).where(AnnexEntry.register_id == register.register_id,
                                                    AnnexEntry.position == e.position).order_by(AnnexEntry.seq))
        persons.append(c.AnnexPerson(f"{e.family_name} {e.given_name}", e.birth_date, e.sex,
                                     tuple(c.AddressEntry(a.address, a.set_on) for a in lines), e.removed))
    return c.FamilyRegisterAnnex(register.domicile, register.head_name, tuple(persons))


def resident_tax(db: Session, resident: Resident, today: date, tax_year_from: tuple[int, int]) -> c.ResidentTaxRecord:
    year = latest_fiscal_year(today, tax_year_from)
    record = db.get(TaxRecord, (resident.resident_id, year))
    if record is None:
        raise LookupError("no tax record for the latest fiscal year")
    home = _home(db, resident)
    address = home.address if home.address_set_on <= date(year, 1, 1) else home.previous_address
    basic, dependants = 430_000, 380_000 * record.dependants
    kind = record.income_kind
    incomes = (c.Amount(f"{kind}収入", record.income), c.Amount(f"{kind}所得", record.total_income),
               c.Amount("合計所得金額", record.total_income))
    deductions = (c.Amount("社会保険料控除", record.deductions - basic - dependants), c.Amount("基礎控除", basic),
                  c.Amount("扶養控除", dependants), c.Amount("所得控除合計", record.deductions))
    city_tax = prefectural = ()
    if record.taxable:
        city_tax = (c.Amount("均等割", 3_500), c.Amount("所得割", record.municipal_tax - 3_500))
        prefectural = (c.Amount("均等割", 1_500), c.Amount("所得割", record.prefectural_tax - 1_500))
    return c.ResidentTaxRecord(fiscal_year=year, address=address, name=_name(resident),
                               birth_date=resident.birth_date, taxable=record.taxable, incomes=incomes,
                               deductions=deductions, city_tax=city_tax, prefectural_tax=prefectural,
                               dependents=(c.Amount("扶養親族数", record.dependants),))


def compose(db: Session, kind: CertificateType, resident: Resident, members: list[Resident], options: dict, *,
            my_number_allowed: bool, today: date, tax_year_from: tuple[int, int] = (6, 1)) -> object:
    """The content of one certificate of ``kind`` for ``resident`` (``members``: the persons a 住民票 shows)."""
    if kind is T.RESIDENCE_RECORD_COPY:
        return residence_record(db, resident, members, options, my_number_allowed)
    if kind is T.RESIDENCE_RECORD_ITEMS:
        return residence_items(db, resident, members, options)
    if kind is T.SEAL_REGISTRATION:
        return seal_registration(db, resident)
    if kind is T.FAMILY_REGISTER_ALL:
        return c.FamilyRegisterAll(family_register(db, resident)[0])
    if kind is T.FAMILY_REGISTER_INDIVIDUAL:
        register, index = family_register(db, resident)
        return c.FamilyRegisterIndividual(register, (index,))
    if kind is T.FAMILY_REGISTER_ANNEX:
        return family_register_annex(db, resident)
    if kind is T.RESIDENT_TAX:
        return resident_tax(db, resident, today, tax_year_from)
    raise ValueError(f"no composition for {kind.value}")
