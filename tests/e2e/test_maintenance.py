"""Maintenance mode (staff PIN or staff card, audited, holds the kiosk out of service), and the small firmware
pieces the touchscreen needs: the reminder level in the view, the language reset after a visit, a simulated
server outage for the dev panel."""
from __future__ import annotations

import asyncio

import pytest

from firmware.config import ConfigError
from firmware.maintenance import hash_staff_pin, parse_maintenance
from hal.card.testcards import make_citizen_card

STAFF_PIN = hash_staff_pin("8642", rounds=1000)


def staff_config(kiosk_config):
    return kiosk_config(maintenance={"staff_pin": STAFF_PIN, "staff_cards": ["S0000009"], "max_tries": 2,
                                     "lockout_s": 60})


async def wait_oos(k, reason):
    for _ in range(200):
        if k.kiosk.view.state.value == "out_of_service" and k.kiosk.out_of_service_reason == reason:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not out of service for {reason}: {k.kiosk.view}")


def test_staff_pin_opens_maintenance_which_holds_the_kiosk_and_is_audited(run_kiosk, kiosk_config):
    async def visit(k):
        m = k.parts.maintenance
        assert m.enter_with_pin("1111") == "wrong"
        assert m.enter_with_pin("8642") == "ok" and m.active
        await wait_oos(k, "maintenance")
        status = await m.device_status()
        assert status["printer"].startswith("ready") and "hoppers" in m.cash_counts()
        assert await m.test_print() == "ready" and len(k.devices.printer.pages) == 1
        await k.do("take_document")  # staff take the test page
        assert "transactions" in m.journal_today()
        m.take_out_of_service()
        m.leave()
        await wait_oos(k, "staff_hold")
        await k.do("place_card", card="resident-a")  # no visit while staff keep it out of service
        await asyncio.sleep(0.2)
        assert k.state.value == "out_of_service"
        await k.do("lift_card")
        assert m.enter_with_pin("8642") == "ok"
        m.put_back_in_service()
        m.leave()
        await k.wait("idle", 5)
        return k.audit.recent

    recent = run_kiosk(visit, config=staff_config(kiosk_config))
    events = [(r["audit"], r.get("method"), r.get("reason"), r.get("in_service")) for r in recent
              if r["audit"].startswith("maintenance")]
    assert events[:2] == [("maintenance.refused", "pin", "wrong_pin", None), ("maintenance.entered", "pin", None, None)]
    assert ("maintenance.test_print", None, None, None) in [(e[0], None, None, None) for e in events]
    assert ("maintenance.left", None, None, False) in events and ("maintenance.left", None, None, True) in events
    assert "8642" not in repr(recent)


def test_wrong_staff_pins_lock_entry_out(run_kiosk, kiosk_config):
    async def visit(k):
        m = k.parts.maintenance
        return [m.enter_with_pin("0000"), m.enter_with_pin("0000"), m.enter_with_pin("8642")]

    assert run_kiosk(visit, config=staff_config(kiosk_config)) == ["wrong", "locked_out", "locked_out"]


def test_a_staff_card_opens_maintenance_instead_of_a_visit(run_kiosk, kiosk_config):
    async def visit(k):
        await k.devices.card_reader.place_card(make_citizen_card("S0000009", "staff card"))
        await wait_oos(k, "maintenance")
        return k.parts.maintenance.active, k.audit.ids()

    active, ids = run_kiosk(visit, config=staff_config(kiosk_config))
    assert active and "maintenance.entered" in ids and "signin.succeeded" not in ids


def test_maintenance_settings_are_checked():
    with pytest.raises(ConfigError, match="never the PIN itself"):
        parse_maintenance({"staff_pin": "1234"})
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_maintenance({"pin": "x"})
    assert parse_maintenance({}).staff_pin is None


def test_the_next_resident_starts_in_the_kiosk_language_and_reminders_show_in_the_view(run_kiosk):
    async def visit(k):
        await k.do("language", language="en")
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        await k.do("cancel")
        await k.wait("return_card")
        assert k.kiosk.view.language == "en" and k.kiosk.view.reminder_level == 0
        said = list(k.devices.voice.said)
        await k.do("lift_card")
        await k.wait("idle")
        return said, k.kiosk.view.language

    said, language = run_kiosk(visit)
    assert ("prompt.idle", "en") in said  # choosing a language says the prompt again in it
    assert language == "ja"


def test_a_simulated_server_outage_refuses_sign_in_without_a_network_fault(run_kiosk):
    async def visit(k):
        await k.do("server_down")
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        await k.do("enter_pin", pin="1234")
        await k.wait("return_card")
        message = k.kiosk.view.message
        await k.do("server_up")
        return message

    assert run_kiosk(visit) == "server_unavailable"


def test_a_hopper_that_cannot_say_what_it_paid_keeps_the_kiosk_out_of_service_until_staff_count(run_kiosk,
                                                                                               kiosk_config):
    async def visit(k):
        m = k.parts.maintenance
        hundreds = k.devices.hopper(100)
        await k.to_payment()
        hundreds.lose_contact_during_next_payout()  # 700 change = 500 + 2×100: the 100s leave, then silence
        await k.do("insert_note", value=1000)
        await k.wait("return_card")
        txn = k.kiosk.visit.txn
        await k.do("lift_card")
        await k.wait("take_items")
        await k.do("take_document")
        await k.do("take_change")
        await wait_oos(k, "cash_device")
        paid_out, balance = hundreds.paid_out, k.journal.balance(txn)
        kinds = [kind for kind, _ in k.journal.events(txn)]
        assert m.enter_with_pin("8642") == "ok"
        assert m.cash_reconciled() is False  # the hopper's coins are unknown: count them first
        m.count_hopper(100, 7)
        with pytest.raises(ValueError):
            m.refill_hopper(100, 0)
        assert m.refill_hopper(100, 13) == 20 and k.journal.hopper_stock("hopper-100").coins == 20
        hundreds.reconnect()
        assert m.cash_reconciled() is True
        m.leave()
        await k.wait("idle", 5)
        return paid_out, balance, kinds

    paid_out, balance, kinds = run_kiosk(visit, config=staff_config(kiosk_config))
    assert paid_out == 2  # the coins did leave
    assert "change_unpaid" not in kinds and "reconciliation_needed" in kinds  # never booked as unpaid
    assert balance.change_paid == 500 and balance.unaccounted == 0
