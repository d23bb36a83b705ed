"""Every eligibility rule with its reason code: on a seeded registry, then through the real HTTPS server."""
from __future__ import annotations

import dataclasses
import secrets
import shutil
from datetime import date

import pytest

from certs.catalog import CertificateType as T, IneligibleReason as R
from certs.wire import parse_menu
from server.config_city import Hours
from server.db import open_database
from server.eligibility import (NotInHousehold, chosen_members, ineligibility, latest_fiscal_year,
                                selectable_members)
from server.models import Resident
from server.models_registry import DomicileRegistration, SealRegistration, TaxRecord
from tests.server.registry_db import jst, seeded_registry
from tests.support.server_process import sign_in

ALL = tuple(T)
FAMILY = (T.FAMILY_REGISTER_ALL, T.FAMILY_REGISTER_INDIVIDUAL, T.FAMILY_REGISTER_ANNEX)
WEEKDAY = jst(2026, 11, 26, 10, 0)  # a Thursday


@dataclasses.dataclass(frozen=True)
class City:  # the part of CitySettings eligibility reads
    hours: Hours = Hours()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("eligibility") / "template.db"
    seeded_registry(path, households=0).kw["bind"].dispose()
    return path


@pytest.fixture()
def registry(template, tmp_path):  # a fresh copy for each test: some change the registry
    shutil.copyfile(template, tmp_path / "registry.db")
    sessions = open_database(f"sqlite:///{tmp_path / 'registry.db'}")
    yield sessions
    sessions.kw["bind"].dispose()


def reason(db, rid: str, kind: T, now=WEEKDAY, offered=ALL, city=City()):
    return ineligibility(db, city, offered, db.get(Resident, rid), kind, now)


@pytest.mark.parametrize("rid, kinds, expected", [
    ("R0001", ALL, None),  # resident-a: everything
    ("R0008", ALL, R.SUPPORT_MEASURES),
    ("R0003", ALL, R.UNDER_15),
    ("R0010", ALL, R.MOVED_OUT),  # 転出予定
    ("R0011", ALL, R.MOVED_OUT),  # … and the rest of that household
    ("R0012", ALL, R.DECEASED),
    ("R0013", (T.SEAL_REGISTRATION,), R.SEAL_ABOLISHED),
    ("R0002", (T.SEAL_REGISTRATION,), R.SEAL_NOT_REGISTERED),
    ("R0014", (T.RESIDENT_TAX,), R.NO_TAX_RECORD),
    ("R0014", FAMILY, R.DOMICILE_ELSEWHERE),  # 本籍 in another town, no 利用登録
    ("R0004", FAMILY, None),  # 本籍 in another town, with the 利用登録
    ("R0009", FAMILY, R.NO_FAMILY_REGISTER),  # a foreign resident
    ("R0009", (T.RESIDENCE_RECORD_COPY, T.RESIDENCE_RECORD_ITEMS), None),
    ("R0002", (T.RESIDENT_TAX,), None),  # 非課税 is a record too
])
def test_reason_per_resident_and_certificate(registry, rid, kinds, expected):
    with registry() as db:
        assert {kind: reason(db, rid, kind) for kind in kinds} == {kind: expected for kind in kinds}


def test_not_offered_comes_first(registry):
    with registry() as db:
        assert reason(db, "R0012", T.SEAL_REGISTRATION, offered=(T.RESIDENCE_RECORD_COPY,)) is R.NOT_OFFERED
        assert reason(db, "R0001", T.RESIDENCE_RECORD_COPY, offered=(T.RESIDENCE_RECORD_COPY,)) is None


def test_a_seal_abolished_now_is_refused_now(registry):
    with registry() as db:
        seal = db.get(SealRegistration, "S000101")
        seal.abolished_on = date(2026, 11, 27)
        db.commit()
        assert reason(db, "R0001", T.SEAL_REGISTRATION) is None  # abolished from tomorrow
        seal.abolished_on = date(2026, 11, 26)
        db.commit()
        assert reason(db, "R0001", T.SEAL_REGISTRATION) is R.SEAL_ABOLISHED


def test_domicile_registration_counts_from_its_effective_day(registry):
    with registry() as db:
        db.add(DomicileRegistration(resident_id="R0014", register_id="F0010", applied_on=date(2026, 11, 25),
                                    effective_on=date(2026, 11, 27)))
        db.commit()
        assert reason(db, "R0014", T.FAMILY_REGISTER_ALL) is R.DOMICILE_ELSEWHERE
        assert reason(db, "R0014", T.FAMILY_REGISTER_ALL, now=jst(2026, 11, 27, 10, 0)) is None


def test_under_15_ends_on_the_15th_birthday(registry):
    with registry() as db:  # R0003 was born 2016-05-05
        assert reason(db, "R0003", T.RESIDENCE_RECORD_COPY, now=jst(2031, 5, 4, 10, 0)) is R.UNDER_15
        assert reason(db, "R0003", T.RESIDENCE_RECORD_COPY, now=jst(2031, 5, 5, 10, 0)) is None


def test_tax_certificate_is_for_the_latest_fiscal_year_only(registry):
    assert latest_fiscal_year(date(2026, 5, 31)) == 2025 and latest_fiscal_year(date(2026, 6, 1)) == 2026
    assert latest_fiscal_year(date(2026, 4, 1), switch=(4, 1)) == 2026
    with registry() as db:
        db.delete(db.get(TaxRecord, ("R0001", 2026)))
        db.commit()
        assert reason(db, "R0001", T.RESIDENT_TAX, now=jst(2026, 5, 31, 10, 0)) is None  # 2025 is still latest
        assert reason(db, "R0001", T.RESIDENT_TAX, now=jst(2026, 6, 1, 10, 0)) is R.NO_TAX_RECORD


def test_household_selection(registry):
    def ref(resident_id: str) -> str:
        return "ref" + resident_id.lower().rjust(8, "0")

    with registry() as db:
        taro, hanako, ichiro = (db.get(Resident, r) for r in ("R0001", "R0002", "R0003"))
        assert chosen_members(db, taro, {"scope": "self"}, ref) == [taro]
        assert chosen_members(db, taro, {"scope": "household"}, ref) == [taro, hanako, ichiro]
        assert chosen_members(db, taro, {"scope": "selected", "members": f"{ref('R0003')},{ref('R0002')}"},
                              ref) == [hanako, ichiro]  # in household order
        for members in (ref("R0004"), f"{ref('R0002')},{ref('R0002')}", "", "nonsense1"):
            with pytest.raises(NotInHousehold):
                chosen_members(db, taro, {"scope": "selected", "members": members}, ref)
        db.get(Resident, "R0003").deceased = True
        assert selectable_members(db, taro) == [taro, hanako]  # 消除者 are never shown


# ------------------------------------------------------------------ through the real server


def menu_of(http, dev_dir, card: str) -> tuple[dict, dict]:
    headers = {"Authorization": f"Bearer {sign_in(http, dev_dir, card)['session_token']}"}
    reply = http.get("/v1/menu", headers=headers)
    assert reply.status_code == 200
    return {o.certificate: o for o in parse_menu(reply.json())}, headers | {"_menu": reply.json()}


@pytest.mark.parametrize("card, expected", [
    ("support-measures", {k: R.SUPPORT_MEASURES for k in ALL}),
    ("moved-out-household", {k: R.MOVED_OUT for k in ALL}),
    ("deceased", {k: R.DECEASED for k in ALL}),
    ("seal-abolished", {T.SEAL_REGISTRATION: R.SEAL_ABOLISHED}),
    ("domicile-elsewhere", {**{k: R.DOMICILE_ELSEWHERE for k in FAMILY}, T.RESIDENT_TAX: R.NO_TAX_RECORD,
                            T.SEAL_REGISTRATION: R.SEAL_NOT_REGISTERED}),
    ("foreign", {**{k: R.NO_FAMILY_REGISTER for k in FAMILY}, T.RESIDENT_TAX: R.NO_TAX_RECORD,
                 T.SEAL_REGISTRATION: R.SEAL_NOT_REGISTERED}),
])
def test_menu_shows_each_reason_and_quotes_are_refused_with_it(http, dev_dir, card, expected):
    offers, headers = menu_of(http, dev_dir, card)
    household = headers.pop("_menu")["household"]
    assert {k: offers[k].reason for k in ALL} == {k: expected.get(k) for k in ALL}
    assert bool(household) == (T.RESIDENCE_RECORD_COPY not in expected)  # no names for a refused resident
    for kind, why in expected.items():
        refused = http.post("/v1/quotes", headers=headers, json={"certificate": kind.value, "copies": 1})
        assert refused.status_code == 403
        assert refused.json()["error"] == {"code": "not_eligible", "message": refused.json()["error"]["message"],
                                           "detail": {"reason": why.value}}


def test_selected_household_members_over_the_wire(http, dev_dir):
    _, headers = menu_of(http, dev_dir, "resident-a")
    household = headers.pop("_menu")["household"]
    assert [m["relationship"] for m in household] == ["世帯主", "妻", "子"]
    refs = [m["member_ref"] for m in household]

    def quote(members: str):
        return http.post("/v1/quotes", headers=headers, json={
            "certificate": "residence_record_copy", "copies": 1,
            "options": {"scope": "selected", "members": members}})

    assert quote(",".join(refs[1:])).status_code == 200
    _, other_headers = menu_of(http, dev_dir, "resident-b")
    stranger = other_headers.pop("_menu")["household"][0]["member_ref"]
    refused = quote(f"{refs[0]},{stranger}")
    assert refused.status_code == 403 and refused.json()["error"]["detail"] == {"reason": "not_in_household"}
    assert quote(secrets.token_hex(16)).json()["error"]["detail"] == {"reason": "not_in_household"}


def test_issuance_checks_again_a_seal_abolished_after_the_quote(http, dev_dir):
    headers = {"Authorization": f"Bearer {sign_in(http, dev_dir, 'resident-b')['session_token']}"}
    reply = http.post("/v1/quotes", headers=headers, json={"certificate": "seal_registration", "copies": 1})
    assert reply.status_code == 200
    registry = open_database(f"sqlite:///{dev_dir / 'server.db'}")  # the running server's own database
    try:
        with registry() as db:
            db.get(SealRegistration, "S000104").abolished_on = date(2000, 1, 1)
            db.commit()
        issued = http.post("/v1/issuances", headers=headers, json={
            "transaction_id": secrets.token_hex(16), "quote_id": reply.json()["quote_id"], "amount_paid": 300})
        assert issued.status_code == 403 and issued.json()["error"]["detail"] == {"reason": "seal_abolished"}
    finally:
        with registry() as db:
            db.get(SealRegistration, "S000104").abolished_on = None
            db.commit()
        registry.kw["bind"].dispose()
