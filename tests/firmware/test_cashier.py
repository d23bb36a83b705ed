"""The cashier on the simulated note validator, coin acceptor and hoppers."""
import asyncio
import multiprocessing
import os
import signal

from firmware.cashier import Cashier
from firmware.journal import Journal
from firmware.recovery import SettlementKind, recover
from hal.coins import CoinAcceptorState, CoinCredited
from hal.coins.sim import SimCoinAcceptor, SimHopper
from hal.notes import NoteValidatorState
from hal.notes.sim import SimNoteValidator

TXN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


class Kiosk:
    """A journal, the simulated money devices and a cashier collecting ``fee`` for transaction TXN."""

    def __init__(self, path, hoppers, fee):
        self.journal = Journal(path)
        self.notes = SimNoteValidator(retry_interval=None)
        self.coins = SimCoinAcceptor(retry_interval=None)
        self.hoppers = {h.name: h for h in hoppers}
        self.cashier = Cashier(self.journal, self.notes, self.coins, hoppers)
        self.fee = fee

    async def start(self, sink=None):
        await self.notes.start(sink or self.cashier.on_event)
        await self.coins.start(sink or self.cashier.on_event)
        self.journal.open(TXN, kiosk_id="kiosk-01")
        self.journal.quote(TXN, certificate="residence_record", copies=1, fee=self.fee)
        self.cashier.begin(TXN, self.fee)
        await self.cashier.start_accepting()
        return self

    def print_all(self, pages=1):
        self.journal.record_documents_received(TXN, pages=pages)
        for page in range(1, pages + 1):
            self.journal.record_page_printed(TXN, page=page)

    def settle_and_check(self):
        settlement = self.journal.settle(TXN)
        assert self.journal.balance(TXN).unaccounted == 0
        return settlement


def full_hoppers():
    return [SimHopper(500, 10), SimHopper(100, 20), SimHopper(50, 10), SimHopper(10, 20)]


def test_money_given_back_during_payment_pays_no_fee(tmp_path):
    """Found by the property test: a note in, 710 yen back, and the kiosk still thought the 300 yen fee was paid."""
    async def visit():
        k = await Kiosk(tmp_path / "j.db", full_hoppers(), fee=300).start()
        await k.notes.insert_note(1000)
        assert k.cashier.remaining() == 0
        await k.cashier.refund(TXN, 710)
        assert (k.cashier.paid(), k.cashier.remaining()) == (1000, 10)

    asyncio.run(visit())


def test_exact_payment_pays_no_change(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", full_hoppers(), fee=300).start()
        for _ in range(3):
            await k.coins.insert_coin(100)
        assert (k.cashier.paid(), k.cashier.remaining()) == (300, 0)
        await asyncio.sleep(0)  # the acceptance refresh runs after the sink returned
        assert k.coins.state() is CoinAcceptorState.DISABLED  # nothing more is due: nothing more is taken
        k.print_all()
        outcome = await k.cashier.pay_change(TXN)
        assert (outcome.paid, outcome.owed) == (0, 0)
        settlement = k.settle_and_check()
        assert (settlement.kind, settlement.fee_earned, settlement.refund_owed) == (SettlementKind.COMPLETED, 300, 0)
        assert "change_intent" not in [kind for kind, _ in k.journal.events(TXN)]
        assert sum(h.paid_out for h in k.hoppers.values()) == 0
    asyncio.run(visit())


def test_overpayment_is_paid_back_as_change(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", full_hoppers(), fee=450).start()
        await k.notes.insert_note(1000)  # escrow → stack → VEND VALID, through the cashier
        assert k.cashier.paid() == 1000 and k.notes.stacked == 1
        await k.cashier.stop_accepting()
        k.print_all(pages=2)
        outcome = await k.cashier.pay_change(TXN)
        assert (outcome.paid, outcome.owed) == (550, 0)
        assert k.hoppers["hopper-500"].paid_out == 1 and k.hoppers["hopper-50"].paid_out == 1
        settlement = k.settle_and_check()
        assert (settlement.fee_earned, settlement.change_paid, settlement.refund_owed) == (450, 550, 0)
    asyncio.run(visit())


def test_only_notes_whose_change_can_be_paid_are_acceptable(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", [SimHopper(100, 3), SimHopper(10, 5)], fee=300).start()
        # 1000 would need 700 change; 350 is all the hoppers hold. 500 coins need 200: 2×100 will do.
        assert k.cashier.acceptable_denominations() == (frozenset(), frozenset({10, 50, 100, 500}))
        assert k.cashier.acceptable_denominations(due=900) == (frozenset({1000}), frozenset({10, 50, 100, 500}))
        assert k.notes.state() is NoteValidatorState.DISABLED
        k.hoppers["hopper-100"].disconnect()  # an offline hopper pays nothing: 500 (200 change) is out too
        assert k.cashier.acceptable_denominations() == (frozenset(), frozenset({10, 50, 100}))
    asyncio.run(visit())


def test_a_note_whose_change_became_impossible_is_returned_at_escrow(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", [SimHopper(500, 1), SimHopper(100, 5)], fee=300).start()
        assert 1000 in k.cashier.acceptable_denominations()[0]  # 700 = 500 + 2×100
        k.hoppers["hopper-500"].jam_after(0)
        await k.hoppers["hopper-500"].dispense(1)  # the hopper jams: it no longer counts
        await k.notes.insert_note(1000)
        assert k.cashier.paid() == 0 and k.notes.stacked == 0
        kinds = [kind for kind, _ in k.journal.events(TXN)]
        assert kinds[-2:] == ["note_escrowed", "note_returned"]
        assert k.cashier.remaining() == 300
    asyncio.run(visit())


def test_a_short_hopper_leaves_a_refund_owed_and_the_yen_add_up(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", [SimHopper(500, 1), SimHopper(100, 10)], fee=100).start()
        k.hoppers["hopper-100"].short_of_coins(2)  # the kiosk believes 10, only 2 are inside
        await k.notes.insert_note(1000)
        k.print_all()
        outcome = await k.cashier.pay_change(TXN)  # 900 = 500 + 4×100, of which 2×100 never come
        assert (outcome.paid, outcome.owed) == (700, 200)
        assert k.hoppers["hopper-100"].paid_out == 2  # and it was not asked again
        settlement = k.settle_and_check()
        assert (settlement.fee_earned, settlement.change_paid, settlement.refund_owed) == (100, 700, 200)
        assert settlement.fee_earned + settlement.change_paid + settlement.refund_owed == 1000
    asyncio.run(visit())


def test_a_hopper_that_cannot_say_what_it_paid_is_reconciled_never_booked_unpaid(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", [SimHopper(500, 1), SimHopper(100, 10)], fee=100).start()
        k.hoppers["hopper-100"].lose_contact_during_next_payout()
        await k.notes.insert_note(1000)
        k.print_all()
        outcome = await k.cashier.pay_change(TXN)  # 900 = 500 + 4×100; the 100s leave, the hopper goes silent
        assert k.hoppers["hopper-100"].paid_out == 4 and k.hoppers["hopper-500"].paid_out == 1
        assert (outcome.paid, outcome.owed, outcome.unknown) == (500, 0, 400)
        kinds = [kind for kind, _ in k.journal.events(TXN)]
        assert "change_unpaid" not in kinds and "refund_owed" not in kinds  # not booked as unpaid
        assert ("reconciliation_needed", 0) in k.journal.events(TXN)  # flagged at once; the yen on the settlement line
        assert k.cashier.unknown_state  # readiness: "cash_device" until staff count
        assert k.journal.balance(TXN).pending_payout == 400  # and nothing pays it again
        assert k.journal.payable(TXN, "change") == 0
        settlement = k.settle_and_check()
        assert settlement.reconciliation_needed and settlement.unconfirmed == 400
        assert (settlement.fee_earned, settlement.change_paid) == (100, 500)
    asyncio.run(visit())


def test_a_credit_reported_twice_counts_once(tmp_path):
    async def visit():
        k = Kiosk(tmp_path / "j.db", full_hoppers(), fee=300)
        lost_acks = []

        async def sink_that_loses_the_first_ack(event):
            await k.cashier.on_event(event)
            if isinstance(event, CoinCredited) and not lost_acks:
                lost_acks.append(event.credit_id)
                raise ConnectionError("ACK lost on the wire")

        await k.start(sink_that_loses_the_first_ack)
        await k.coins.insert_coin(100)  # journalled, but the acceptor never heard the ACK
        assert k.coins.unacknowledged_credits()
        assert await k.coins.redeliver_unacknowledged()  # reported again with the same credit id
        assert k.cashier.paid() == 100
        again = CoinCredited("coins", 100, lost_acks[0])
        assert await k.cashier.on_credit(again) is False
        assert k.cashier.paid() == 100
    asyncio.run(visit())


def test_cancel_refunds_everything_credited(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", full_hoppers(), fee=1500).start()
        await k.notes.insert_note(1000)
        await k.coins.insert_coin(100)
        await k.coins.insert_coin(10)
        k.journal.note(TXN, "cancelled")
        outcome = await k.cashier.refund_all(TXN)
        assert (outcome.paid, outcome.owed) == (1110, 0)
        assert k.notes.state() is NoteValidatorState.DISABLED and k.coins.state() is CoinAcceptorState.DISABLED
        settlement = k.settle_and_check()
        assert (settlement.kind, settlement.refund_paid, settlement.fee_earned) == (SettlementKind.REFUNDED, 1110, 0)
    asyncio.run(visit())


def test_a_coin_after_the_visit_closed_is_kept_for_reconciliation(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", full_hoppers(), fee=300).start()
        k.settle_and_check()
        assert await k.cashier.on_credit(CoinCredited("coins", 100, "late-1")) is True
        assert await k.cashier.on_credit(CoinCredited("coins", 100, "late-1")) is False
        assert k.journal.balance(TXN).credited == 0
        assert k.journal.totals()["kinds"]["reconciliation_needed"] == {"count": 1, "amount": 100}
    asyncio.run(visit())


def _pay_change_and_lose_power(path):
    async def visit():
        class DyingHopper(SimHopper):
            async def dispense(self, count):
                os.kill(os.getpid(), signal.SIGKILL)  # the power dies while the hopper runs

        k = await Kiosk(path, [SimHopper(500, 1), DyingHopper(100, 10)], fee=300).start()
        await k.notes.insert_note(1000)
        k.print_all()
        await k.cashier.pay_change(TXN)
    asyncio.run(visit())


def test_power_lost_between_change_intent_and_result_is_owed_and_flagged(tmp_path):
    child = multiprocessing.get_context("fork").Process(target=_pay_change_and_lose_power,
                                                        args=(tmp_path / "j.db",))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    journal = Journal(tmp_path / "j.db")
    (settlement,) = recover(journal)
    assert settlement.kind is SettlementKind.COMPLETED
    assert (settlement.change_paid, settlement.unconfirmed, settlement.refund_owed) == (500, 200, 200)
    assert settlement.reconciliation_needed
    assert journal.balance(TXN).unaccounted == 0


def test_a_credit_repeated_after_its_visit_closed_is_not_a_stray_coin(tmp_path):
    async def visit():
        k = await Kiosk(tmp_path / "j.db", full_hoppers(), fee=300).start()
        credit = CoinCredited("coins", 100, "c-1")
        assert await k.cashier.on_credit(credit) is True
        await k.cashier.refund_all(TXN)
        k.settle_and_check()
        assert await k.cashier.on_credit(credit) is False  # the lost-ACK report comes back after closing
        assert "reconciliation_needed" not in k.journal.totals()["kinds"]
    asyncio.run(visit())
