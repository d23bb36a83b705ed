"""A kiosk-process restart: the hoppers' coins and the acceptor's event counter come back from the journal, since
no device remembers them for the kiosk."""
import asyncio

from firmware.cashier import Cashier
from firmware.journal import Journal
from hal.coins.cctalk import CcTalkCoinAcceptor
from hal.coins.sim import SimCoinAcceptor, SimHopper
from hal.notes.sim import SimNoteValidator
from tests.support.emulators import CcTalkBusEmulator, CoinAcceptorEmulator

TXN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def cashier(path, hoppers, coins=None):
    journal = Journal(path)
    return Cashier(journal, SimNoteValidator(retry_interval=None), coins or SimCoinAcceptor(retry_interval=None),
                   hoppers)


async def a_visit_with_change(c: Cashier, note=1000, fee=100):
    await c.notes.start(c.on_event)
    await c.coins.start(c.on_event)
    c.journal.open(TXN, kiosk_id="kiosk-01")
    c.journal.quote(TXN, certificate="residence_record", copies=1, fee=fee)
    c.begin(TXN, fee)
    await c.start_accepting()
    await c.notes.insert_note(note)
    await c.stop_accepting()
    c.journal.record_documents_received(TXN, pages=1)
    c.journal.record_page_printed(TXN, page=1)
    outcome = await c.pay_change(TXN)
    c.journal.settle(TXN)
    return outcome


def test_the_hoppers_coins_come_back_from_the_journal_not_from_the_configured_stock(tmp_path):
    first = cashier(tmp_path / "j.db", [SimHopper(500, 10), SimHopper(100, 10)])
    first.restore_from_journal()  # first start ever: the configured stock is the first count
    asyncio.run(a_visit_with_change(first))  # 900 change: 1×500 + 4×100
    first.journal.close()

    hundreds = SimHopper(100, 10)  # the configuration still says 10; 6 are really inside
    hundreds.short_of_coins(6)
    again = cashier(tmp_path / "j.db", [SimHopper(500, 10), hundreds])
    again.restore_from_journal()
    assert again.stock() == {500: 9, 100: 6}


def test_after_a_restart_the_kiosk_takes_no_note_whose_change_it_paid_out_already(tmp_path):
    first = cashier(tmp_path / "j.db", [SimHopper(100, 10)])
    first.restore_from_journal()
    assert (asyncio.run(a_visit_with_change(first))).paid == 900  # 9 of the 10 coins left
    first.journal.close()

    hundreds = SimHopper(100, 10)
    hundreds.short_of_coins(1)
    again = cashier(tmp_path / "j.db", [hundreds])
    again.restore_from_journal()
    notes, _ = again.acceptable_denominations(300)
    assert 1000 not in notes  # 700 change: one coin inside, and the kiosk knows it


def test_a_refill_is_journalled_and_survives_a_restart(tmp_path):
    first = cashier(tmp_path / "j.db", [SimHopper(100, 10)])
    first.restore_from_journal()
    first.record_hopper_count(first.hoppers[0], 40, reason="refill")
    first.journal.close()
    again = cashier(tmp_path / "j.db", [SimHopper(100, 10)])
    again.restore_from_journal()
    assert again.stock() == {100: 40}


def test_a_payout_of_unknown_outcome_keeps_the_kiosk_out_of_service_across_a_restart(tmp_path):
    hundreds = SimHopper(100, 10)
    first = cashier(tmp_path / "j.db", [hundreds])
    first.restore_from_journal()
    hundreds.lose_contact_during_next_payout()
    assert asyncio.run(a_visit_with_change(first, fee=600)).unknown == 400
    flagged = first.journal.totals()["kinds"]["reconciliation_needed"]
    assert flagged["amount"] == 400 and flagged["count"] == 2  # the hopper's line and the settlement's: yen once
    first.journal.close()

    again = cashier(tmp_path / "j.db", [SimHopper(100, 10)])
    again.restore_from_journal()
    assert again.hoppers[0].coins_estimate() is None and again.unknown_state  # until staff count it
    again.record_hopper_count(again.hoppers[0], 6)
    assert again.stock() == {100: 6}


def test_coins_the_acceptor_counted_but_the_journal_never_saw_are_reconciled_at_start(tmp_path):
    emulator = CoinAcceptorEmulator(2, counter=30)
    bus = CcTalkBusEmulator(emulator).start()

    def acceptor():
        return CcTalkCoinAcceptor(bus.port, poll_interval=0.01, reply_timeout=0.1)

    async def before_the_crash(c: Cashier):
        c.restore_from_journal()
        await c.coins.start(c.on_event)
        c.journal.open(TXN, kiosk_id="kiosk-01")
        c.journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
        c.begin(TXN, 300)
        await c.start_accepting()
        with bus.lock:
            emulator.insert_coin(100)
        for _ in range(100):
            await c.coins.poller.sync(1)
            if c.paid() == 100:
                break
        await c.coins.poller.stop()  # the process dies: nobody polls, the acceptor stays enabled
        with bus.lock:
            emulator.insert_coin(500)  # counted by the acceptor, never journalled
        await c.coins.bus.release()

    async def after_the_restart(c: Cashier):
        c.journal.recover()
        c.restore_from_journal()
        await c.coins.start(c.on_event)
        try:
            return c.coins.state(), c.acceptable_denominations(300)
        finally:
            await c.coins.stop()

    try:
        first = cashier(tmp_path / "j.db", [SimHopper(100, 10)], acceptor())
        asyncio.run(before_the_crash(first))
        assert first.journal.acceptor_counter("coins") == 31
        first.journal.close()
        again = cashier(tmp_path / "j.db", [SimHopper(100, 10)], acceptor())
        state, (notes, coins) = asyncio.run(after_the_restart(again))
    finally:
        bus.close()
    totals = again.journal.totals()["kinds"]
    assert totals["credit"]["amount"] == 100  # the 500 is not credited to anyone
    reconciliations = again.journal._db.execute(
        "SELECT amount, json_extract(detail, '$.reason') FROM events WHERE kind = 'reconciliation_needed'").fetchall()
    assert (500, "coin_events_unjournalled") in reconciliations
    assert state.out_of_service and not coins  # out of service until staff count the box
    assert again.journal.acceptor_counter("coins") == 32
