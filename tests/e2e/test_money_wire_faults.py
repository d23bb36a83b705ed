"""Whole visits with the real ID-003 driver over a pty to the validator emulator, when the validator misbehaves at
the end of a payment: a note still stacking when the resident cancels, a validator that stops answering.  Every
yen ends in a bucket of this visit, the controller keeps running, and no acceptor is left taking money."""
from __future__ import annotations

import asyncio
import time

import pytest

from hal.notes.id003_emulator import STACKING
from hal.notes.id003_frames import STACK_1
from tests.support.emulators import Id003Emulator


@pytest.fixture
def validator(kiosk_config):
    emulator = Id003Emulator(transient_polls=8)  # each step of a note shows for 8 polls: ~0.4 s at 50 ms
    emulator.start()
    config = kiosk_config(**{"devices.notes": {"driver": "id003", "port": emulator.port, "poll_interval": 0.05,
                                              "reply_timeout": 0.1, "init_timeout": 2.0}})
    yield config, emulator
    emulator.close()


async def _until(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("ack", ["on time", "late"])
def test_a_note_still_stacking_at_a_cancel_is_credited_to_the_visit_and_refunded(run_kiosk, validator, ack):
    """``late``: the validator's ACK to STACK-1 comes after the driver's reply timeout, in front of the answer to
    the next poll (the wire loop of issue #18 caught this: the driver took that ACK for the validator's state, the
    cancel found the validator "at rest" and settled, and the note became a stray credit)."""
    config, emulator = validator

    async def visit(k):
        await k.to_payment("residence_record_copy", copies=2)  # 600 yen: a 1000 yen note is acceptable
        txn = k.kiosk.visit.txn
        if ack == "late":
            emulator.answer_late_to(STACK_1)
        emulator.insert_note(1000)
        await _until(lambda: emulator.status() == STACKING)
        await k.do("cancel")
        await k.wait("return_card")
        await _until(lambda: emulator.steady() and emulator.host_acks == 1)
        await k.kiosk.idle()
        return txn, k.journal.balance(txn), k.journal.totals(), k.kiosk.view.message

    txn, balance, totals, message = run_kiosk(visit, config=config)
    assert emulator.stacked == 1  # the note is in the cash box...
    assert balance.credited == 1000  # ...credited to the visit that was cancelled, not filed as a stray credit
    assert balance.refund_paid + balance.refund_owed == 1000 and balance.unaccounted == 0
    assert totals["kinds"].get("reconciliation_needed", {"count": 0})["count"] == 0
    assert message == "cancelled_refunded"


def test_a_validator_that_goes_silent_at_a_cancel_leaves_the_controller_alive_and_no_acceptor_enabled(
        run_kiosk, validator):
    config, emulator = validator

    async def visit(k):
        await k.to_payment()
        txn = k.kiosk.visit.txn
        await k.do("insert_coin", value=100)
        emulator.drop_next_replies(10**9)  # the validator stops answering
        beat = k.kiosk.heartbeat
        await k.do("cancel")
        await k.wait("return_card", 10)
        await k.do("lift_card")
        await k.wait("take_items")
        await k.do("take_change")
        await k.wait("out_of_service", 10)
        coins_state = k.devices.coins.state()
        await k.do("insert_coin", value=100)  # a coin after the visit: the acceptor must refuse it
        await asyncio.sleep(0.3)
        assert k.kiosk.heartbeat > beat  # the loop still turns
        return txn, k.journal.balance(txn), k.journal.totals(), k.journal.events(txn), coins_state, k.kiosk.view

    txn, balance, totals, events, coins_state, view = run_kiosk(visit, config=config)
    assert balance.credited == 100 and balance.refund_paid == 100 and balance.unaccounted == 0
    assert coins_state.value == "disabled"
    # One reconciliation: the silent validator's final state, on this visit's transaction; no stray coin.
    assert totals["kinds"]["reconciliation_needed"]["count"] == 1
    assert ("reconciliation_needed", 0) in events
    assert view.state.value == "out_of_service" and view.out_of_service_reason == "cash_device"


def test_a_coin_acceptor_that_does_not_start_at_boot_leaves_the_kiosk_up_out_of_service_until_it_answers(
        kiosk_config, tmp_path):
    import asyncio

    from tests.support.emulators import CcTalkBusEmulator, CoinAcceptorEmulator
    from tests.support.kiosk_session import KioskSession

    # the bus's port exists but nobody answers yet (the acceptor is still powering up when the kiosk boots).  (A
    # ccTalk line is 8N1, which a pty can be reopened with; an 8E1 ID-003 line cannot be on this kernel.)
    bus = CcTalkBusEmulator(CoinAcceptorEmulator(2))
    config = kiosk_config(**{"devices.coins": {"driver": "cctalk", "port": bus.port, "poll_interval": 0.05}})

    async def run():
        async with KioskSession(config, tmp_path) as k:
            for _ in range(200):
                if k.kiosk.view.state.value == "out_of_service":
                    break
                await asyncio.sleep(0.05)
            down = k.kiosk.view.state.value, k.kiosk.view.out_of_service_reason, k.kiosk.alive()
            bus.start()  # it answers now: the next readiness check starts it
            await k.wait("idle", 30)
            return down, k.audit.ids()

    try:
        down, audit = asyncio.run(run())
    finally:
        bus.close()
    assert down == ("out_of_service", "cash_device", True) and "device.fault" in audit
