"""The note and coin simulators' own promises beyond the contract: automatic redelivery, power-up, buffer overflow."""
from __future__ import annotations

import asyncio

import pytest

from hal.coins.contract import CoinCredited, CoinEventsLost, HopperState
from hal.coins.sim import EVENT_BUFFER, SimCoinAcceptor, SimHopper
from hal.notes.contract import NoteCredited, NoteNeedsReconciliation, NoteReturned, NoteValidatorState
from hal.notes.sim import SimNoteValidator


class FlakySink:
    """Refuses the first ``failures`` events of ``kind``, then records."""

    def __init__(self, kind: type, failures: int):
        self.kind, self.failures, self.events, self.attempts = kind, failures, [], 0

    async def __call__(self, event):
        if isinstance(event, self.kind):
            self.attempts += 1
            if self.failures:
                self.failures -= 1
                raise OSError("journal write failed")
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def test_the_validator_retries_an_unacknowledged_credit_by_itself():
    async def main():
        sink = FlakySink(NoteCredited, failures=2)
        notes = SimNoteValidator(retry_interval=0.01)
        await notes.start(sink)
        await notes.enable(frozenset({1000}))
        await notes.insert_note(1000)
        await notes.stack()
        for _ in range(100):
            if sink.of(NoteCredited):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await notes.stop()
        assert sink.attempts == 3 and len(sink.of(NoteCredited)) == 1
        assert notes.stacked == 1 and notes.state() is NoteValidatorState.IDLE
    asyncio.run(main())


def test_power_up_with_a_note_in_the_stacker_is_reported_without_credit():
    async def main():
        sink = FlakySink(NoteCredited, failures=0)
        notes = SimNoteValidator(note_in_stacker_at_power_up=True)
        await notes.start(sink)
        assert len(sink.of(NoteNeedsReconciliation)) == 1 and not sink.of(NoteCredited)
    asyncio.run(main())


def test_a_power_cut_with_a_note_in_escrow_returns_it_and_comes_back_inhibited():
    async def main():
        sink = FlakySink(NoteCredited, failures=0)
        notes = SimNoteValidator()
        await notes.start(sink)
        await notes.enable(frozenset({5000}))
        await notes.insert_note(5000)
        await notes.power_cycle()
        assert [e.value for e in sink.of(NoteReturned)] == [5000]
        assert notes.state() is NoteValidatorState.DISABLED and not sink.of(NoteNeedsReconciliation)
    asyncio.run(main())


def test_staff_can_clear_a_jam_and_replace_the_cash_box():
    async def main():
        notes = SimNoteValidator(retry_interval=None)
        await notes.start(FlakySink(NoteCredited, 0))
        await notes.enable(frozenset({1000}))
        await notes.jam_stacker()
        await notes.clear_jam()
        assert notes.state() is NoteValidatorState.IDLE
        await notes.fill_stacker_after(0)
        assert notes.state() is NoteValidatorState.STACKER_FULL
        await notes.replace_cashbox()
        assert notes.state() is NoteValidatorState.IDLE
    asyncio.run(main())


def test_the_validator_refuses_to_enable_notes_it_does_not_know():
    async def main():
        notes = SimNoteValidator(denominations=frozenset({1000}))
        with pytest.raises(ValueError, match="10000"):
            await notes.enable(frozenset({10000}))
    asyncio.run(main())


def test_more_unread_coin_events_than_the_buffer_holds_are_lost():
    async def main():
        sink = FlakySink(CoinCredited, failures=100)
        coins = SimCoinAcceptor(retry_interval=None)
        await coins.start(sink)
        await coins.enable(frozenset({100}))
        for _ in range(EVENT_BUFFER + 1):
            await coins.insert_coin(100)
        assert [e.count for e in sink.of(CoinEventsLost)] == [1]
        assert coins.state().out_of_service
        await coins.insert_coin(100)  # out of service now: returned, not buffered
        assert len(coins.unacknowledged_credits()) == EVENT_BUFFER
        sink.failures = 0
        assert await coins.redeliver_unacknowledged()
        assert len(sink.of(CoinCredited)) == EVENT_BUFFER
    asyncio.run(main())


def test_a_hopper_refuses_a_negative_count_and_believes_what_it_paid():
    async def main():
        hopper = SimHopper(500, stock=10, low_level=3)
        with pytest.raises(ValueError):
            await hopper.dispense(-1)
        hopper.short_of_coins(4)
        assert hopper.coins_estimate() == 10  # the kiosk does not know yet
        result = await hopper.dispense(6)
        assert (result.paid, result.unpaid) == (4, 2)
        assert hopper.coins_estimate() == 0 and hopper.state() is HopperState.EMPTY
        hopper.refill(20)
        assert hopper.state() is HopperState.READY and hopper.coins_estimate() == 20
    asyncio.run(main())
