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
        assert m.enter_with_pin(bytearray(b"8642")) == "ok" and m.active  # (the PIN pad hands over a bytearray)
        await wait_oos(k, "maintenance")
        status = await m.device_status()
        assert status["printer"].startswith("ready")
        with pytest.raises(PermissionError):  # the PIN alone is one factor: no cash
            m.cash_counts()
        assert await m.test_print() == "ready" and len(k.devices.printer.pages) == 1
        await k.do("take_document")  # staff take the test page
        with pytest.raises(PermissionError):
            m.journal_today()
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
    assert ("maintenance.refused", "pin", "second_factor_needed", None) in events


async def staff_card(k):
    await k.devices.card_reader.place_card(make_citizen_card("S0000009", "staff card"))
    await wait_oos(k, "maintenance")
    return k.parts.maintenance


def refused_cash(k, m) -> list[str]:
    """Every cash function, asked for now: the names of those refused."""
    refused = []
    for name, call in (("counts", m.cash_counts), ("today", m.journal_today), ("refunds", m.refunds_owed),
                       ("refill", lambda: m.refill_hopper(100, 50)), ("box", lambda: m.cash_box_emptied("coins"))):
        try:
            call()
        except PermissionError:
            refused.append(name)
    return refused


def test_a_staff_card_alone_opens_maintenance_without_the_cash(run_kiosk, kiosk_config):
    async def visit(k):
        m = await staff_card(k)
        assert m.active and not m.cash_unlocked and m.wants_pin_for_cash
        refused = refused_cash(k, m)
        with pytest.raises(PermissionError):
            await m.reset_acceptor()
        status = await m.device_status()  # the limited mode: status, test print, service, beacon
        assert await m.test_print() == "ready"
        await k.do("take_document")
        m.take_out_of_service()
        m.put_back_in_service()
        kinds = {kind for kind in k.journal.totals()["kinds"]}
        m.leave()
        await k.do("lift_card")
        await k.wait("idle", 5)
        return refused, status, kinds, k.audit.recent

    refused, status, kinds, recent = run_kiosk(visit, config=staff_config(kiosk_config))
    assert refused == ["counts", "today", "refunds", "refill", "box"]
    assert "printer" in status and not {"cash_box_emptied", "acceptor_reset"} & kinds
    refusals = [(r["method"], r["reason"]) for r in recent if r["audit"] == "maintenance.refused"]
    assert refusals == [("card", "second_factor_needed")] * 6  # each refusal audited
    ids = [r["audit"] for r in recent]
    assert "maintenance.cash_viewed" not in ids and "maintenance.cash_unlocked" not in ids
    assert {"maintenance.status_viewed", "maintenance.test_print", "maintenance.service"} <= set(ids)


def test_staff_card_then_staff_pin_opens_the_cash_functions_each_journalled_and_audited(run_kiosk, kiosk_config):
    async def visit(k):
        txn = "ab" * 16  # a refund the counter owes: 500 yen taken, nothing printed, settled
        k.journal.open(txn, kiosk_id="k01")
        k.journal.record_credit(txn, amount=500, device="coins", credit_id="c-900", medium="coin")
        k.journal.settle(txn)
        await k.devices.coins.lose_events(2)  # coin events lost: the acceptor is out of service until a count
        await k.wait("out_of_service", 5)
        m = await staff_card(k)
        assert m.enter_with_pin("1357") == "wrong" and not m.cash_unlocked
        assert m.enter_with_pin(bytearray(b"8642")) == "ok" and m.cash_unlocked
        counts = m.cash_counts()
        owed = m.refunds_owed()
        hundreds = k.devices.hopper(100)
        before = hundreds.coins_estimate()
        hundreds.short_of_coins(hundreds.stock + 50)  # staff put 50 coins in (the world) and record it
        assert m.refill_hopper(100, 50) == before + 50 == hundreds.coins_estimate()
        with pytest.raises(ValueError):
            m.refill_hopper(100, 0)
        expected = m.cash_box_emptied("coins")
        assert m.cash_box_emptied("coins") == 0  # emptied again at once: nothing went in since
        state = await m.reset_acceptor()
        m.leave()
        await k.do("lift_card")
        await k.wait("idle", 5)  # the acceptor is back: the kiosk sells again
        service = [(kind, amount, device, detail) for kind, amount, device, detail in k.journal._db.execute(
            "SELECT kind, amount, device, detail FROM events WHERE transaction_id IS NULL AND (kind IN "
            "('cash_box_emptied', 'acceptor_reset') OR detail LIKE '%refill%') ORDER BY seq")]
        return counts, owed, expected, state, service, before, k.audit.recent

    counts, owed, expected, state, service, before, recent = run_kiosk(visit, config=staff_config(kiosk_config))
    assert 100 in counts["hoppers"] and "kinds" in counts["totals"]
    assert [(o["txn"], o["amount"]) for o in owed] == [("ab" * 16, 500)]
    assert expected == 500 and state == "disabled"
    assert service == [("hopper_stock", before + 50, "hopper-100", '{"coin_value":100,"reason":"refill"}'),
                       ("cash_box_emptied", 500, "coins", '{"count":1}'),
                       ("cash_box_emptied", 0, "coins", '{"count":0}'),
                       ("acceptor_reset", 0, "coins", '{"state":"failure"}')]
    steps = [(r["audit"], {k: v for k, v in r.items() if k not in ("audit", "at")}) for r in recent
             if r["audit"].startswith("maintenance.")]
    assert steps == [
        ("maintenance.entered", {"method": "card"}),
        ("maintenance.refused", {"method": "pin", "reason": "wrong_pin"}),
        ("maintenance.cash_unlocked", {}),
        ("maintenance.cash_viewed", {"what": "counts"}),
        ("maintenance.cash_viewed", {"what": "refunds_owed"}),
        ("maintenance.hopper", {"coin_value": 100, "coins": before + 50, "reason": "refill"}),
        ("maintenance.cash_box_emptied", {"device": "coins", "amount": 500}),
        ("maintenance.cash_box_emptied", {"device": "coins", "amount": 0}),
        ("maintenance.acceptor_reset", {"device": "coins", "state": "disabled"}),
        ("maintenance.left", {"in_service": True}),
    ]
    assert "8642" not in repr(recent) and "1357" not in repr(recent)


def test_the_staff_pin_then_the_staff_card_opens_the_cash_too(run_kiosk, kiosk_config):
    async def visit(k):
        m = k.parts.maintenance
        assert m.enter_with_pin("8642") == "ok" and not m.cash_unlocked
        await wait_oos(k, "maintenance")
        await k.devices.card_reader.place_card(make_citizen_card("S0000009", "staff card"))
        for _ in range(100):
            if m.cash_unlocked:
                break
            await asyncio.sleep(0.02)
        counts = m.cash_counts()
        await k.devices.card_reader.lift_card()
        m.leave()
        await k.wait("idle", 5)
        return counts, k.audit.ids()

    counts, ids = run_kiosk(visit, config=staff_config(kiosk_config))
    assert "hoppers" in counts and ids.count("maintenance.entered") == 1 and "maintenance.cash_unlocked" in ids


def test_wrong_staff_pins_after_the_staff_card_lock_the_cash_out(run_kiosk, kiosk_config):
    async def visit(k):
        m = await staff_card(k)
        answers = [m.enter_with_pin("0000"), m.enter_with_pin("0000"), m.enter_with_pin("8642")]
        return answers, m.cash_unlocked, k.audit.recent

    answers, unlocked, recent = run_kiosk(visit, config=staff_config(kiosk_config))
    assert answers == ["wrong", "locked_out", "locked_out"] and not unlocked
    assert [r["reason"] for r in recent if r["audit"] == "maintenance.refused"] == [
        "wrong_pin", "locked_out", "locked_out"]


def test_staff_acknowledge_the_beacon_from_maintenance(run_kiosk, kiosk_config):
    async def visit(k):
        await k.do("door_open")  # a fault: the beacon calls staff, the kiosk is out of service
        await wait_oos(k, "door_open")
        before = k.devices.signals.beacon()
        m = await staff_card(k)  # read on a kiosk out of service; the card alone is enough for the beacon
        was_on = m.acknowledge_beacon()
        return before, was_on, k.devices.signals.beacon(), k.audit.recent

    before, was_on, after, recent = run_kiosk(visit, config=staff_config(kiosk_config))
    assert before and was_on and not after
    assert [r.get("was_on") for r in recent if r["audit"] == "maintenance.beacon_acknowledged"] == [True]


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
        assert (await staff_card(k)).active and m.enter_with_pin("8642") == "ok"  # card and PIN: the cash
        assert m.cash_reconciled() is False  # the hopper's coins are unknown: count them first
        m.count_hopper(100, 7)
        with pytest.raises(ValueError):
            m.refill_hopper(100, 0)
        assert m.refill_hopper(100, 13) == 20 and k.journal.hopper_stock("hopper-100").coins == 20
        hundreds.reconnect()
        assert m.cash_reconciled() is True
        m.leave()
        await k.do("lift_card")
        await k.wait("idle", 5)
        return paid_out, balance, kinds

    paid_out, balance, kinds = run_kiosk(visit, config=staff_config(kiosk_config))
    assert paid_out == 2  # the coins did leave
    assert "change_unpaid" not in kinds and "reconciliation_needed" in kinds  # never booked as unpaid
    assert balance.change_paid == 500 and balance.unaccounted == 0


def test_a_recovery_that_flags_a_count_keeps_the_kiosk_out_of_service_until_staff_release_it(kiosk_config, tmp_path):
    from firmware.config import parse_config
    from firmware.journal import Journal
    from tests.support.kiosk_session import KioskSession

    config = staff_config(kiosk_config)
    txn = "ab" * 16
    path = parse_config(config, source=tmp_path / "kiosk.toml").journal_path
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(path)
    journal.open(txn, kiosk_id="kiosk-dev-01")
    journal.quote(txn, certificate="residence_record_copy", copies=1, fee=300)
    journal.record_note_escrowed(txn, value=1000, device="notes")  # the power died while the note was stacking
    journal.close()

    async def run():
        async with KioskSession(config, tmp_path) as k:
            await wait_oos(k, "reconciliation_needed")
            held = k.devices.signals.beacon(), k.journal.is_open(txn)
            m = k.parts.maintenance
            assert m.enter_with_pin("8642") == "ok"
            m.put_back_in_service()  # staff counted the cash box
            m.leave()
            await k.wait("idle", 5)
            return held

    assert asyncio.run(run()) == (True, False)
