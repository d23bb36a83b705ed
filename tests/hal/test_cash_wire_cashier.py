"""The kiosk's cashier on the real serial drivers: a note and coins in over ID-003 and ccTalk, change out of ccTalk
hoppers on the same bus, every yen in the SQLite journal — the devices at the wire, nothing simulated in-process (the
emulators run in their own process)."""
from __future__ import annotations

import asyncio

from firmware.cashier import Cashier
from firmware.journal import Journal
from hal.coins.cctalk import CcTalkCoinAcceptor
from hal.coins.cctalk_hopper import CcTalkHopper
from hal.notes.id003 import Id003NoteValidator
from tests.support.emulators import CcTalkBusEmulator, CoinAcceptorEmulator, HopperEmulator, Id003Emulator

TXN = "c0ffee00c0ffee00c0ffee00c0ffee00"


def test_a_note_and_a_coin_in_and_change_out_with_a_short_hopper_add_up_in_the_journal(tmp_path):
    validator_peer = Id003Emulator()
    acceptor_peer = CoinAcceptorEmulator(2)
    hopper_500, hopper_100 = HopperEmulator(3, stock=10), HopperEmulator(4, stock=1)  # the 100 yen one is short
    bus = CcTalkBusEmulator(acceptor_peer, hopper_500, hopper_100)
    journal = Journal(tmp_path / "journal.db")
    notes = Id003NoteValidator(validator_peer.port, poll_interval=0.01, reply_timeout=0.1, init_timeout=2.0)
    coins = CcTalkCoinAcceptor(bus.port, 2, poll_interval=0.01, reply_timeout=0.1)
    hoppers = [CcTalkHopper(bus.port, 3, 500, stock=10, poll_interval=0.005),
               CcTalkHopper(bus.port, 4, 100, stock=10, poll_interval=0.005)]
    cashier = Cashier(journal, notes, coins, hoppers)
    credited_at_ack = []

    async def visit():
        for device in (notes, coins, *hoppers):
            await device.start(cashier.on_event)
        try:
            journal.open(TXN, kiosk_id="kiosk-01")
            journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
            cashier.begin(TXN, 300)
            await cashier.start_accepting()
            assert 1000 in notes.denominations() and acceptor_peer.master_enabled
            with bus.lock:
                acceptor_peer.insert_coin(100)
            for _ in range(100):
                await coins.sync(1)
                if cashier.paid() == 100:
                    break
            validator_peer.insert_note(1000)  # escrow → the cashier stacks it inside the sink → VEND VALID → ACK
            for _ in range(300):
                await notes.sync(1)
                if validator_peer.host_acks:
                    credited_at_ack.append(journal.balance(TXN).credited)
                    break
            await cashier.stop_accepting()
            journal.record_documents_received(TXN, pages=1)
            journal.record_page_printed(TXN, page=1)
            outcome = await cashier.pay_change(TXN)  # 800: one 500, three 100 of which the hopper has one
            return outcome, journal.settle(TXN), journal.balance(TXN)
        finally:
            for device in (notes, coins, *hoppers):
                await device.stop()
    try:
        bus.start()
        validator_peer.start()
        outcome, settlement, balance = asyncio.run(visit())
    finally:
        bus.close()
        validator_peer.close()
        journal.close()
    assert credited_at_ack == [1100]  # the journal held the credit when the validator got its ACK
    assert validator_peer.stacked == 1 and validator_peer.host_acks == 1
    assert (outcome.paid, outcome.owed) == (600, 200)
    assert (hopper_500.tray, hopper_100.tray) == (1, 1)
    assert balance.credited == 1100 and balance.unaccounted == 0
    assert (settlement.fee_earned, settlement.change_paid, settlement.refund_owed) == (300, 600, 200)
