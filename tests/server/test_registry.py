"""The synthetic registry: deterministic from its seed, fictitious, and holding every case the kiosk must handle."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from server.db import open_database
from server.models import CitizenCard, Household, JpkiCard, Resident
from server.models_registry import (AnnexEntry, DomicileRegistration, FamilyRegister, FamilyRegisterEntry,
                                    ForeignResidentItems, SealRegistration, TaxRecord)
from server.registry import CITIZEN_CARD_SEEDS, JPKI_CARD_SEEDS, seed
from server.registry_seed import synthetic_registry
from tests.server.registry_db import seeded_registry

TABLES = (Household, Resident, FamilyRegister, FamilyRegisterEntry, AnnexEntry, DomicileRegistration,
          SealRegistration, TaxRecord, ForeignResidentItems, JpkiCard)  # not CitizenCard: its salts are random


def dump(sessions) -> dict:
    """Every row of every registry table, in primary-key order (sorted here: collations differ by database)."""
    with sessions() as db:
        return {t.__tablename__: sorted((tuple(getattr(row, c.key) for c in t.__table__.columns)
                                         for row in db.scalars(select(t))),
                                        key=lambda r, n=len(t.__table__.primary_key.columns): r[:n])
                for t in TABLES}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return seeded_registry(tmp_path_factory.mktemp("registry") / "registry.db")


def test_same_seed_same_registry_other_seed_other_households(tmp_path, registry):
    assert synthetic_registry(7, 20) == synthetic_registry(7, 20)
    assert synthetic_registry(7, 20).households != synthetic_registry(8, 20).households
    assert dump(seeded_registry(tmp_path / "again.db")) == dump(registry)  # the database too, row for row
    other = dump(seeded_registry(tmp_path / "other.db", seed_value=99))
    assert other["residents"][:14] == dump(registry)["residents"][:14]  # the hand-made core stays
    assert other["residents"][14:] != dump(registry)["residents"][14:]


def test_seeding_an_existing_registry_changes_nothing(registry):
    before = dump(registry)
    with registry() as db:
        assert seed(db) is False
    assert dump(registry) == before


def test_everyone_is_fictitious():
    data = synthetic_registry(2026, 200)
    assert all(h.address.startswith("架空県架空市") for h in data.households)
    assert all(r.domicile.startswith("架空県") for r in data.registers)
    assert {r.family_name for r in data.residents} <= {"試験", "見本", "仮名", "例示", "架空", "模擬", "仮設", "想定",
                                                      "標本", "雛形", "試作", "仮置", "EXAMPLE"}
    assert len({r.resident_id for r in data.residents}) == len(data.residents)


def test_the_cases_the_kiosk_must_handle_are_there(registry):
    today = date(2026, 11, 26)
    with registry() as db:
        residents = {r.resident_id: r for r in db.scalars(select(Resident))}
        sizes = [len([r for r in residents.values() if r.household_id == h]) for h in db.scalars(
            select(Household.household_id))]
        assert max(sizes) >= 3 and sizes.count(1) >= 1  # households of several members, and single ones
        registers = list(db.scalars(select(FamilyRegister)))
        assert {r.held_here for r in registers} == {True, False}  # 本籍 here and elsewhere
        elsewhere = {e.resident_id for e in db.scalars(select(FamilyRegisterEntry)) if e.resident_id and not
                     db.get(FamilyRegister, e.register_id).held_here}
        registered = {d.resident_id for d in db.scalars(select(DomicileRegistration))}
        assert elsewhere & registered and elsewhere - registered  # with and without the 利用登録
        seals = list(db.scalars(select(SealRegistration)))
        assert any(s.abolished_on for s in seals) and any(not s.abolished_on for s in seals)
        assert set(residents) - {s.resident_id for s in seals}  # someone without a seal
        year = {t.resident_id: t for t in db.scalars(select(TaxRecord).where(TaxRecord.fiscal_year == 2026))}
        assert {t.taxable for t in year.values()} == {True, False} and set(residents) - set(year)
        assert residents["R0009"].domicile == "" and db.get(ForeignResidentItems, "R0009") is not None
        assert today.year - residents["R0003"].birth_date.year < 15
        flags = {f: [r for r in residents.values() if getattr(r, f)] for f in ("moved_out", "support_measures",
                                                                               "deceased")}
        assert all(flags.values())
        for card in JPKI_CARD_SEEDS:  # every card belongs to someone in the registry
            assert card.resident_id is None or card.resident_id in residents
        assert all(db.get(CitizenCard, c.card_id).resident_id == c.resident_id for c in CITIZEN_CARD_SEEDS)


def test_resident_domicile_agrees_with_their_family_register(registry):
    with registry() as db:
        for entry in db.scalars(select(FamilyRegisterEntry).where(FamilyRegisterEntry.resident_id.is_not(None))):
            register, person = db.get(FamilyRegister, entry.register_id), db.get(Resident, entry.resident_id)
            assert (person.domicile, person.domicile_head) == (register.domicile, register.head_name)
            annex = list(db.scalars(select(AnnexEntry).where(AnnexEntry.register_id == entry.register_id,
                                                             AnnexEntry.position == entry.position)))
            assert annex[-1].address == db.get(Household, person.household_id).address  # 附票 ends where they live


def test_postgresql_holds_the_same_registry_as_sqlite(postgres, registry):
    sessions = open_database(postgres.create_database("registry_seed"))
    try:
        with sessions() as db:
            assert seed(db)
        assert dump(sessions) == dump(registry)
    finally:
        sessions.kw["bind"].dispose()
