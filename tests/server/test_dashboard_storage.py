"""The dashboard's storage on SQLite and PostgreSQL: staff accounts and the login limit, sessions, what ward
staff may see, commands sent once, the fleet's order (the kiosk that needs staff first), and the audit."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from server import fleet, staff
from server.db import open_database, utcnow
from server.enrolment import AdminError
from server.models_dashboard import DashboardAudit
from server.models_telemetry import KioskCommand, KioskSummary, StaffAccount

_names = itertools.count()
PASSWORD = "long-enough-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database(f"dash_{next(_names)}")
    else:
        url = f"sqlite:///{tmp_path / 'dash.db'}"
    sessions = open_database(url)
    with sessions() as session:
        yield session
    sessions.kw["bind"].dispose()


def _summary(db, kiosk_id: str, **fields) -> None:
    defaults = dict(last_seen=utcnow(), last_seq=1, in_service=True, vpn_up=True, backlog=0, open_faults=[],
                    gauges={"paper": 90})
    db.add(KioskSummary(kiosk_id=kiosk_id, **{**defaults, **fields}))
    db.commit()


def _two_wards(db):
    admin = staff.create_account(db, "admin-01", "admin", PASSWORD)
    ward = staff.create_account(db, "ward-01", "ward", PASSWORD, "kawasaki")
    staff.assign_ward(db, "kiosk-kw-01", "kawasaki")
    staff.assign_ward(db, "kiosk-sa-01", "saiwai")
    _summary(db, "kiosk-kw-01")
    _summary(db, "kiosk-sa-01")
    return admin, ward


def test_a_password_is_kept_only_as_an_argon2id_hash(db):
    staff.create_account(db, "ward-02", "ward", PASSWORD, "nakahara")
    stored = db.get(StaffAccount, "ward-02").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(AdminError):
        staff.create_account(db, "ward-03", "ward", "short", "nakahara")
    with pytest.raises(AdminError):
        staff.create_account(db, "ward-02", "ward", PASSWORD, "nakahara")  # exists: only --replace resets


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(db):
    staff.create_account(db, "ward-01", "ward", PASSWORD, "kawasaki")
    now = utcnow()
    outcomes = [staff.login(db, "ward-01", "wrong-password", now).outcome for _ in range(staff.MAX_FAILED)]
    assert outcomes == ["bad"] * (staff.MAX_FAILED - 1) + ["locked"]
    assert staff.login(db, "ward-01", PASSWORD, now + timedelta(minutes=1)).outcome == "locked"
    assert staff.login(db, "ward-01", PASSWORD, now + staff.LOCK_FOR + timedelta(seconds=1)).outcome == "ok"
    actions = db.scalars(select(DashboardAudit.action).where(DashboardAudit.staff_id == "ward-01")).all()
    assert actions.count("login_failed") == staff.MAX_FAILED - 1
    assert {"account_locked", "login_locked", "login"} <= set(actions)


def test_an_unknown_staff_id_is_refused_and_audited(db):
    assert staff.login(db, "nobody-99", PASSWORD).outcome == "bad"
    assert db.scalar(select(DashboardAudit.detail).where(DashboardAudit.staff_id == "nobody-99")) == "unknown_id"


def test_a_session_lives_until_it_expires_or_is_closed(db):
    made = staff.create_account(db, "admin-01", "admin", PASSWORD)
    token, signed_in = staff.open_session(db, made)
    assert staff.session_staff(db, token) == signed_in and signed_in.csrf_token
    assert staff.session_staff(db, token, utcnow() + staff.SESSION_FOR + timedelta(seconds=1)) is None
    assert staff.session_staff(db, "forged-token") is None
    assert staff.csrf_ok(signed_in, signed_in.csrf_token) and not staff.csrf_ok(signed_in, "") \
        and not staff.csrf_ok(signed_in, "other")
    staff.close_session(db, token)
    assert staff.session_staff(db, token) is None


def test_ward_staff_see_only_their_wards_kiosks_and_administrators_all(db):
    admin, ward = _two_wards(db)
    assert {v.kiosk_id for v in fleet.fleet(db, admin)} == {"kiosk-kw-01", "kiosk-sa-01"}
    assert [v.kiosk_id for v in fleet.fleet(db, ward)] == ["kiosk-kw-01"]
    assert staff.may_see(db, ward, "kiosk-kw-01") and not staff.may_see(db, ward, "kiosk-sa-01")


def test_a_command_waiting_for_its_kiosk_is_not_sent_twice(db):
    admin, ward = _two_wards(db)
    first = fleet.send_command(db, ward, "kiosk-kw-01", "out_of_service")
    again = fleet.send_command(db, admin, "kiosk-kw-01", "out_of_service")
    assert not first.already and again.already and again.command.command_id == first.command.command_id
    row = db.get(KioskCommand, first.command.command_id)
    assert (row.kind, row.created_by, row.done_at) == ("out_of_service", "ward-01", None)
    row.done_at = utcnow()
    db.commit()
    assert not fleet.send_command(db, ward, "kiosk-kw-01", "out_of_service").already  # the first one was done


def test_ward_staff_cannot_command_another_wards_kiosk(db):
    _, ward = _two_wards(db)
    with pytest.raises(AdminError, match="not_your_kiosk"):
        fleet.send_command(db, ward, "kiosk-sa-01", "out_of_service")
    assert db.scalar(select(KioskCommand).where(KioskCommand.kiosk_id == "kiosk-sa-01")) is None
    audited = db.scalars(select(DashboardAudit.action).where(DashboardAudit.kiosk_id == "kiosk-sa-01",
                                                             DashboardAudit.staff_id == "ward-01")).all()
    assert audited == ["refused_kiosk"]


def test_acknowledging_needs_an_open_call_and_marks_it_acknowledged(db):
    admin, _ = _two_wards(db)
    with pytest.raises(AdminError, match="no_open_call"):
        fleet.send_command(db, admin, "kiosk-kw-01", "ack_staff_call")
    db.get(KioskSummary, "kiosk-kw-01").staff_call_since = utcnow() - timedelta(minutes=3)
    db.commit()
    assert fleet.staff_calls(db, admin)[0].call_acknowledged is False
    fleet.send_command(db, admin, "kiosk-kw-01", "ack_staff_call")
    call = fleet.staff_calls(db, admin)[0]
    assert call.kiosk_id == "kiosk-kw-01" and call.call_acknowledged


def test_the_fleet_puts_the_kiosk_that_needs_staff_first(db):
    admin = staff.create_account(db, "admin-01", "admin", PASSWORD)
    now = utcnow()
    _summary(db, "kiosk-a-ok")
    _summary(db, "kiosk-b-paper", open_faults=["printer:paper_out"], gauges={"paper": "out"}, in_service=False,
             out_of_service_reason="paper_out")
    _summary(db, "kiosk-c-silent", last_seen=now - timedelta(minutes=30))
    _summary(db, "kiosk-d-call", staff_call_since=now - timedelta(minutes=2))
    _summary(db, "kiosk-e-low", gauges={"paper": "low", "hopper_100": 12, "hopper_10": 3})
    views = fleet.fleet(db, admin, now)
    assert [(v.kiosk_id, v.need_code) for v in views] == [
        ("kiosk-d-call", "staff_call"), ("kiosk-b-paper", "paper_out"), ("kiosk-c-silent", "silent"),
        ("kiosk-e-low", "low"), ("kiosk-a-ok", "ok")]
    assert views[1].paper == "out" and views[4].paper == "ok" and views[3].paper == "low"
    assert views[3].coins == 15  # the hoppers' coins together (gauges hopper_<yen>)
