"""Every way a paid visit can go wrong ends with every yen in exactly one bucket, and nothing unverified printed."""
from __future__ import annotations

import asyncio

import pytest

from firmware.clock import FakeClock


async def pay_300_refused_and_refunded(k) -> str:
    """Pay 300 yen in coins for a visit whose documents are refused; take the card and the refund; out of service."""
    await k.to_payment()
    for _ in range(3):
        await k.do("insert_coin", value=100)
    await k.wait("return_card")
    txn = k.kiosk.visit.txn
    await k.do("lift_card")
    await k.wait("take_items")
    await k.do("take_change")
    await k.wait("out_of_service")
    return txn


def test_cancel_after_inserting_money_refunds_everything(run_kiosk):
    async def visit(k):
        hundreds = k.devices.hopper(100).coins_estimate()
        await k.to_payment()
        await k.do("insert_coin", value=100)
        await k.do("insert_coin", value=100)
        txn = k.kiosk.visit.txn
        await k.do("cancel")
        await k.wait("return_card")
        message = k.kiosk.view.message
        await k.do("lift_card")
        await k.wait("take_items")
        await k.do("take_change")
        await k.wait("idle")
        return message, k.journal.balance(txn), hundreds - k.devices.hopper(100).coins_estimate(), k.devices

    message, balance, coins_paid, devices = run_kiosk(visit)
    assert message == "cancelled_refunded"
    assert balance.credited == 200 and balance.refund_paid == 200 and balance.fee_collected == 0
    assert balance.unaccounted == 0
    assert coins_paid == 2 and devices.printer.pages == []


def test_inactivity_while_paying_aborts_the_whole_visit_with_a_refund(run_kiosk):
    clock = FakeClock()

    async def visit(k):
        await k.to_payment()
        await k.do("insert_coin", value=100)
        txn = k.kiosk.visit.txn
        clock.advance(k.kiosk.settings.timeouts["paying"] - 10)
        await k.do("state")
        assert k.kiosk.view.state.value == "paying" and k.kiosk.view.timeout_warning
        clock.advance(11)
        await k.wait("return_card")
        return k.kiosk.view.message, k.journal.balance(txn), k.audit.ids()

    message, balance, audit = run_kiosk(visit, clock=clock)
    assert message == "timeout_refunded" and "visit.timed_out" in audit
    assert balance.refund_paid == 100 and balance.unaccounted == 0


def test_paper_out_after_payment_refunds_and_takes_the_kiosk_out_of_service(run_kiosk):
    async def visit(k):
        await k.to_payment()
        await k.do("paper_out", after_rows=400)  # runs out in the middle of the first page
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        txn = k.kiosk.visit.txn
        message = k.kiosk.view.message
        await k.do("lift_card")
        await k.wait("take_items")
        await k.do("take_change")
        await k.wait("out_of_service")
        return message, k.journal.balance(txn), k.kiosk.view.out_of_service_reason, k.devices.printer.pages

    message, balance, reason, pages = run_kiosk(visit)
    assert message == "print_failed.paper_out" and reason == "printer_paper_out"
    assert balance.refund_paid == 300 and balance.fee_collected == 0 and balance.unaccounted == 0
    assert all(p.partial for p in pages)


def test_paper_out_with_empty_hoppers_records_the_refund_owed(run_kiosk, kiosk_config):
    empty = {"driver": "sim", "stock": {"500": 0, "100": 0, "50": 0, "10": 0}}
    config = kiosk_config(**{"devices.hoppers": empty})

    async def visit(k):
        await k.to_payment()
        await k.do("paper_out", after_rows=10)
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        return k.kiosk.visit.txn, k.journal.balance(k.kiosk.visit.txn), k.kiosk.view.refund_owed, k.audit.ids()

    txn, balance, shown, audit = run_kiosk(visit, config)
    assert balance.refund_owed == 300 and balance.refund_paid == 0 and balance.unaccounted == 0
    assert shown == 300 and "money.refund_owed" in audit


def test_document_bound_to_another_resident_is_never_printed(run_kiosk, kiosk_config, faulty_server):
    config = kiosk_config(faulty_server.url)

    async def visit(k):
        txn = await pay_300_refused_and_refunded(k)
        return (k.kiosk.view.out_of_service_reason, k.journal.balance(txn), k.devices.printer.pages,
                k.audit.recent, k.devices.signals.beacon())

    reason, balance, pages, audit, beacon = run_kiosk(visit, config)
    assert pages == []
    rejected = [a for a in audit if a["audit"] == "document.rejected"]
    assert rejected and rejected[0]["reason"] == "page_binding_mismatch"
    assert reason == "document_rejected" and beacon
    assert balance.refund_paid == 300 and balance.fee_collected == 0 and balance.unaccounted == 0


def test_server_down_at_sign_in_takes_no_money(run_kiosk, kiosk_config):
    config = kiosk_config("https://127.0.0.1:9")  # nothing listens there

    async def visit(k):
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        await k.do("enter_pin", pin="1234")
        await k.wait("return_card")
        return k.kiosk.view.message, k.journal.totals(), k.audit.ids()

    message, totals, audit = run_kiosk(visit, config)
    assert message == "server_unavailable" and "server.unavailable" in audit
    assert "payment.started" not in audit


def test_server_down_after_payment_refunds_everything(run_kiosk, kiosk_config, dev_world):
    from tests.support.server_process import start_server, write_config_variant

    own = start_server(dev_world, config=write_config_variant(dev_world, "short-lived"))
    config = kiosk_config(own.url)

    async def visit(k):
        await k.to_payment()
        own.stop()  # the VPN or the server goes away while the resident pays
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card", timeout=30)
        txn = k.kiosk.visit.txn
        await asyncio.sleep(0.2)  # the outbox's first try
        return k.kiosk.view.message, k.journal.balance(txn), k.devices.printer.pages, k.journal.result(txn)

    try:
        message, balance, pages, result = run_kiosk(visit, config)
    finally:
        own.stop()
    assert message == "server_unavailable_refunded" and pages == []
    assert balance.refund_paid == 300 and balance.unaccounted == 0
    # the refund's result is kept for the server, not dropped: it is sent again once the server answers
    assert (result.outcome, result.refund_owed, result.delivery) == ("refunded", 0, None)
    assert result.attempts >= 1 and result.last_error == "server_unavailable"


def test_service_door_opened_while_paying_refunds_ends_the_visit_and_stops_selling(run_kiosk):
    async def visit(k):
        await k.to_payment()
        await k.do("insert_coin", value=100)
        txn = k.kiosk.visit.txn
        await k.do("door_open")
        await k.wait("out_of_service")
        return (k.journal.balance(txn), k.journal.is_open(txn), k.kiosk.view.out_of_service_reason,
                k.kiosk.visit.session, k.audit.ids(), k.devices.signals.beacon())

    balance, still_open, reason, session, audit, beacon = run_kiosk(visit)
    assert balance.refund_paid == 100 and balance.unaccounted == 0 and not still_open
    assert reason == "door_open" and beacon and session is None  # the visit's data is dropped
    assert "door.opened" in audit and "visit.ended" in audit


def test_a_note_jam_while_paying_stops_the_payment_at_once_refunds_the_coins_and_stops_selling(run_kiosk):
    clock = FakeClock()

    async def visit(k):
        await k.to_payment()
        await k.do("insert_coin", value=100)
        txn = k.kiosk.visit.txn
        await k.do("jam_note", where="stacker")
        await k.wait("return_card")  # at once: the fake clock has not moved, no payment timeout was needed
        message, coins_enabled = k.kiosk.view.message, k.devices.coins.state().value
        await k.do("lift_card")
        await k.wait("take_items")
        await k.do("take_change")
        await k.wait("out_of_service")
        return (message, coins_enabled, k.journal.balance(txn), k.journal.is_open(txn),
                k.kiosk.view.out_of_service_reason, k.devices.signals.beacon(), k.audit.ids())

    message, coins, balance, still_open, reason, beacon, audit = run_kiosk(visit, clock=clock)
    assert message == "cash_device_refunded" and coins == "disabled"
    assert balance.credited == 100 and balance.refund_paid == 100 and balance.unaccounted == 0 and not still_open
    assert reason == "cash_device" and beacon and "device.fault" in audit


def test_a_server_gone_between_the_quote_and_confirm_takes_no_money(run_kiosk, kiosk_config, dev_world):
    from tests.support.server_process import start_server, write_config_variant

    own = start_server(dev_world, config=write_config_variant(dev_world, "gone-at-confirm"))
    config = kiosk_config(own.url)

    async def visit(k):
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        await k.do("enter_pin", pin="1234")
        await k.wait("menu")
        await k.do("choose", certificate="residence_record_copy")
        await k.wait("options")
        await k.do("options", copies=1)
        await k.wait("confirm")
        own.stop()  # the resident reads the fee; meanwhile the link goes down
        await k.do("confirm")
        await k.wait("return_card")
        return k.kiosk.view.message, k.journal.totals(), k.devices.coins.state().value, k.audit.ids()

    try:
        message, totals, coins, audit = run_kiosk(visit, config)
    finally:
        own.stop()
    assert message == "server_unavailable" and coins == "disabled"
    assert totals["open_transactions"] == 0 and "credit" not in totals["kinds"] and "opened" not in totals["kinds"]
    assert "payment.started" not in audit and "server.unavailable" in audit


@pytest.mark.parametrize("fault, reason", [("extra_copy", "purchase_mismatch"), ("other_kiosk", "wrong_kiosk")])
def test_documents_that_are_not_what_was_paid_for_are_never_printed(run_kiosk, kiosk_config, dev_world, fault,
                                                                    reason):
    from tests.support.server_process import start_server, write_config_variant

    own = start_server(dev_world, config=write_config_variant(dev_world, f"fault-{fault}", fault=fault))
    config = kiosk_config(own.url)

    async def visit(k):
        txn = await pay_300_refused_and_refunded(k)
        return k.journal.balance(txn), k.devices.printer.pages, k.audit.recent, k.kiosk.view.out_of_service_reason

    try:
        balance, pages, audit, oos = run_kiosk(visit, config)
    finally:
        own.stop()
    assert pages == []
    assert [a["reason"] for a in audit if a["audit"] == "document.rejected"] == [reason]
    assert oos == "document_rejected" and balance.refund_paid == 300 and balance.fee_collected == 0
