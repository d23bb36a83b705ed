"""The catalogue: options, fees and the kiosk discount, copies, hours (12/29–1/3, 戸籍 weekday hours), config errors;
then the same rules through the real HTTPS server on a fixed clock ([dev].now)."""
from __future__ import annotations

from datetime import date

import pytest

from certs.catalog import CATALOG, CertificateType as T, IneligibleReason as R
from certs.wire import Quote, parse_menu
from server.config import ConfigError, load_config
from server.config_city import Hours, parse_hours, span
from server.eligibility import clock_reason
from tests.server.registry_db import jst
from tests.support.server_process import sign_in, start_server

RESIDENCE = CATALOG[T.RESIDENCE_RECORD_COPY]
OFFICE = Hours(family_register=span("08:30-17:15", "k"), holidays=(date(2026, 11, 3),),
               closed_dates=(date(2026, 5, 6),))


def test_my_number_only_where_the_city_allows_it_and_the_resident_code_never():
    with pytest.raises(ValueError, match="my_number is not offered"):
        RESIDENCE.normalise_options({"my_number": True})
    assert RESIDENCE.normalise_options({"my_number": True}, my_number_allowed=True)["my_number"] is True
    assert RESIDENCE.normalise_options({})["my_number"] is False  # off by default
    for allowed in (False, True):
        with pytest.raises(ValueError, match="住民票コード"):
            RESIDENCE.normalise_options({"resident_code": True}, my_number_allowed=allowed)
    with pytest.raises(ValueError, match="no option my_number"):  # only the 住民票の写し may carry it
        CATALOG[T.RESIDENCE_RECORD_ITEMS].normalise_options({"my_number": True}, my_number_allowed=True)


@pytest.mark.parametrize("options, message", [
    ({"scope": "selected"}, "needs members"),
    ({"members": "abcdef12"}, "only for scope=selected"),
    ({"scope": "selected", "members": "Not A Ref"}, "comma-separated list"),
    ({"scope": "selected", "members": True}, "comma-separated list"),
    ({"household_head": "yes"}, "true or false"),
    ({"scope": "all"}, "one of self, household, selected"),
    ({"copies": 2}, "no option copies"),
])
def test_bad_options_are_refused_with_a_clear_message(options, message):
    with pytest.raises(ValueError, match=message):
        RESIDENCE.normalise_options(options)


def test_options_per_certificate():
    assert {k.type: k.option_names for k in CATALOG.values() if k.options} == {
        T.RESIDENCE_RECORD_COPY: ("scope", "members", "household_head", "domicile", "foreign_items", "my_number"),
        T.RESIDENCE_RECORD_ITEMS: ("scope", "members", "household_head", "domicile", "foreign_items")}
    assert [k.type for k in CATALOG.values() if k.family_register] == [T.FAMILY_REGISTER_ALL,
                                                                       T.FAMILY_REGISTER_INDIVIDUAL,
                                                                       T.FAMILY_REGISTER_ANNEX]


@pytest.mark.parametrize("moment, kind, expected", [
    (jst(2026, 12, 28, 10, 0), T.RESIDENCE_RECORD_COPY, None),
    (jst(2026, 12, 29, 6, 30), T.RESIDENCE_RECORD_COPY, R.CLOSED),
    (jst(2026, 12, 31, 12, 0), T.RESIDENT_TAX, R.CLOSED),
    (jst(2027, 1, 3, 22, 59), T.SEAL_REGISTRATION, R.CLOSED),
    (jst(2027, 1, 4, 6, 30), T.RESIDENCE_RECORD_COPY, None),
    (jst(2026, 5, 6, 12, 0), T.RESIDENCE_RECORD_COPY, R.CLOSED),  # a maintenance day
    (jst(2026, 11, 26, 6, 29), T.RESIDENCE_RECORD_COPY, R.OUT_OF_HOURS),
    (jst(2026, 11, 26, 23, 0), T.RESIDENCE_RECORD_COPY, R.OUT_OF_HOURS),
    (jst(2026, 11, 26, 22, 59), T.RESIDENCE_RECORD_COPY, None),
    (jst(2026, 11, 26, 8, 29), T.FAMILY_REGISTER_ALL, R.OUT_OF_HOURS),  # 戸籍: weekday office hours
    (jst(2026, 11, 26, 8, 30), T.FAMILY_REGISTER_ALL, None),
    (jst(2026, 11, 26, 17, 14), T.FAMILY_REGISTER_ANNEX, None),
    (jst(2026, 11, 26, 17, 15), T.FAMILY_REGISTER_INDIVIDUAL, R.OUT_OF_HOURS),
    (jst(2026, 11, 28, 10, 0), T.FAMILY_REGISTER_ALL, R.OUT_OF_HOURS),  # a Saturday
    (jst(2026, 11, 28, 10, 0), T.RESIDENCE_RECORD_COPY, None),
    (jst(2026, 11, 3, 10, 0), T.FAMILY_REGISTER_ALL, R.OUT_OF_HOURS),  # a national holiday
])
def test_hours(moment, kind, expected):
    assert clock_reason(OFFICE, kind, moment) is expected


def test_hours_a_city_may_change():
    assert clock_reason(Hours(year_end_closure=False), T.RESIDENCE_RECORD_COPY, jst(2026, 12, 30, 10, 0)) is None
    assert clock_reason(Hours(), T.FAMILY_REGISTER_ALL, jst(2026, 11, 28, 10, 0)) is None  # no 戸籍 limit set
    all_day = parse_hours({"service": "00:00-24:00"})
    assert clock_reason(all_day, T.RESIDENCE_RECORD_COPY, jst(2026, 11, 26, 23, 59, 59)) is None


def _config(dev_dir, tmp_path, replacements: dict[str, str]):
    text = (dev_dir / "server.toml").read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = dev_dir / f"catalogue-{tmp_path.name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fees_kiosk_discount_and_copies_from_the_configuration(dev_dir, tmp_path):
    config = load_config(_config(dev_dir, tmp_path, {
        "resident_tax = 300": "resident_tax = 50",
        "kiosk_discount = 0": "kiosk_discount = 100\n\n[fees.kiosk]\nfamily_register_all = 350",
        "# [copies]": "[copies]\nresident_tax = 2"}))
    assert config.city.window_fees[T.RESIDENCE_RECORD_COPY] == 300 and config.city.fees[T.RESIDENCE_RECORD_COPY] == 200
    assert config.city.fees[T.FAMILY_REGISTER_ALL] == 350  # explicit kiosk fee wins over the discount
    assert config.city.fees[T.FAMILY_REGISTER_INDIVIDUAL] == 350  # 450 - 100
    assert config.city.fees[T.RESIDENT_TAX] == 0  # never below zero
    assert config.city.max_copies_for(T.RESIDENT_TAX) == 2 and config.city.max_copies_for(T.SEAL_REGISTRATION) == 5


@pytest.mark.parametrize("old, new, key", [
    ("kiosk_discount = 0", "kiosk_discount = -100", "[fees].kiosk_discount"),
    ("kiosk_discount = 0", 'kiosk_discount = "100"', "[fees].kiosk_discount"),
    ("kiosk_discount = 0", "kiosk_discount = 0\npassport = 100", "[fees]: unknown certificate type 'passport'"),
    ("kiosk_discount = 0", "kiosk_discount = 0\n[fees.kiosk]\nseal_registration = 1.5",
     "[fees.kiosk].seal_registration"),
    ("# [copies]", "[copies]\nseal_registration = 0", "[copies].seal_registration"),
    ('service = "00:00-24:00"', 'service = "25:00-26:00"', "[hours].service"),
    ('service = "00:00-24:00"', 'service = "17:00-09:00"', "[hours].service must end after it starts"),
    ('family_register = ""', 'family_register = "office hours"', "[hours].family_register"),
    ("year_end_closure = false", 'year_end_closure = "no"', "[hours].year_end_closure"),
    ("closed_dates = []", 'closed_dates = ["May 6"]', "[hours].closed_dates"),
    ('tax_year_from = "06-01"', 'tax_year_from = "02-30"', "[hours].tax_year_from"),
    ('tax_year_from = "06-01"', 'tax_year_from = "06-01"\nopen_24_7 = true', "[hours].open_24_7"),
    ("my_number_allowed = false", 'my_number_allowed = "yes"', "[city].my_number_allowed"),
    ("seed = 2026", "seed = -1", "[registry].seed"),
    ("generated_households = 12", "generated_households = 100000", "[registry].generated_households"),
    ('enabled = true', 'enabled = true\nnow = "2026-12-30T10:00:00"', "[dev].now must be a date-time with its offset"),
    ('enabled = true', 'enabled = false\nnow = "2026-12-30T10:00:00+09:00"', "[dev].now needs [dev].enabled"),
])
def test_bad_values_name_their_key(dev_dir, tmp_path, old, new, key):
    with pytest.raises(ConfigError) as caught:
        load_config(_config(dev_dir, tmp_path, {old: new}))
    assert key in str(caught.value)


# ------------------------------------------------------------------ the same rules over HTTPS on a fixed clock


@pytest.fixture(scope="module")
def saturday_server(dev_dir, tmp_path_factory):
    """A city with office hours for 戸籍, the year-end closure, a kiosk discount, 個人番号 allowed, and the clock
    fixed on Saturday 2026-11-28 10:00 JST."""
    config = _config(dev_dir, tmp_path_factory.mktemp("saturday"), {
        'database_url = "sqlite:///server.db"': 'database_url = "sqlite:///catalogue-saturday.db"',
        "my_number_allowed = false": "my_number_allowed = true",
        "kiosk_discount = 0": "kiosk_discount = 100",
        'family_register = ""': 'family_register = "08:30-17:15"',
        "year_end_closure = false": "year_end_closure = true",
        "# [copies]": "[copies]\nresidence_record_copy = 2",
        "enabled = true": 'enabled = true\nnow = "2026-11-28T10:00:00+09:00"'})
    for stale in dev_dir.glob("catalogue-saturday.db*"):
        stale.unlink()
    process = start_server(dev_dir, config=config)
    yield process
    process.stop()


def test_saturday_menu_fees_copies_and_my_number_over_https(saturday_server, dev_dir):
    with saturday_server.client() as http:
        headers = {"Authorization": f"Bearer {sign_in(http, dev_dir, 'resident-a')['session_token']}"}
        reply = http.get("/v1/menu", headers=headers).json()
        offers = {o.certificate: o for o in parse_menu(reply)}
        assert {k for k, o in offers.items() if not o.available} == {T.FAMILY_REGISTER_ALL,
                                                                    T.FAMILY_REGISTER_INDIVIDUAL,
                                                                    T.FAMILY_REGISTER_ANNEX}
        assert {o.reason for o in offers.values() if not o.available} == {R.OUT_OF_HOURS}
        residence = next(o for o in reply["offers"] if o["certificate"] == "residence_record_copy")
        assert (residence["fee"], residence["window_fee"], residence["max_copies"]) == (200, 300, 2)
        assert "my_number" in residence["options"]
        details = {d["name"]: d for d in residence["option_details"]}
        assert list(details) == residence["options"]
        assert details["scope"]["choices"] == ["self", "household", "selected"] and details["members"]["free_text"]
        assert details["my_number"] == {"name": "my_number", "label_ja": "個人番号", "default": False, "choices": None,
                                        "free_text": False}
        refused = http.post("/v1/quotes", headers=headers, json={"certificate": "family_register_all", "copies": 1})
        assert refused.status_code == 403 and refused.json()["error"]["detail"] == {"reason": "out_of_hours"}
        too_many = http.post("/v1/quotes", headers=headers, json={"certificate": "residence_record_copy", "copies": 3})
        assert too_many.status_code == 400 and too_many.json()["error"]["detail"] == {"max_copies": 2}
        quote = http.post("/v1/quotes", headers=headers, json={"certificate": "residence_record_copy", "copies": 2,
                                                               "options": {"my_number": True}})
        assert quote.status_code == 200
        assert Quote.parse(quote.json()).total_fee == 400


def test_year_end_closure_over_https(dev_dir, tmp_path):
    config = _config(dev_dir, tmp_path, {
        'database_url = "sqlite:///server.db"': f'database_url = "sqlite:///catalogue-{tmp_path.name}.db"',
        "year_end_closure = false": "year_end_closure = true",
        "enabled = true": 'enabled = true\nnow = "2026-12-30T03:00:00+00:00"'})  # 12:00 JST on 12/30
    process = start_server(dev_dir, config=config)
    try:
        with process.client() as http:
            headers = {"Authorization": f"Bearer {sign_in(http, dev_dir, 'resident-a')['session_token']}"}
            offers = parse_menu(http.get("/v1/menu", headers=headers).json())
            assert {(o.available, o.reason) for o in offers} == {(False, R.CLOSED)}
            refused = http.post("/v1/quotes", headers=headers,
                                json={"certificate": "residence_record_copy", "copies": 1})
            assert refused.status_code == 403 and refused.json()["error"]["detail"] == {"reason": "closed"}
    finally:
        process.stop()
