"""Conformance: any NoteValidator credits a note exactly once, at stacking, and only when it was recorded."""
from __future__ import annotations

import pytest

from hal.events import DeviceError
from hal.notes.contract import (
    YEN_NOTES, NoteCredited, NoteEscrowed, NoteNeedsReconciliation, NoteRejected, NoteReturned, NoteValidator,
    NoteValidatorState,
)

from .harness import NoteValidatorHarness, exercise

ALL = frozenset({1000, 5000, 10000})


async def escrow(h: NoteValidatorHarness, value: int = 1000) -> None:
    await h.validator.enable(ALL)
    await h.insert_note(value)
    await h.settle()
    assert h.validator.state() is NoteValidatorState.ESCROW


def test_the_validator_fulfils_the_protocol(note_harness):
    async def body(h: NoteValidatorHarness):
        assert isinstance(h.validator, NoteValidator)
        assert h.validator.denominations() <= YEN_NOTES and 1000 in h.validator.denominations()
        assert h.validator.state() is NoteValidatorState.DISABLED
    exercise(note_harness, body)


def test_a_disabled_validator_rejects_notes(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.insert_note(1000)
        await h.settle()
        assert len(h.sink.of(NoteRejected)) == 1
        assert not h.sink.of(NoteEscrowed) and not h.sink.of(NoteCredited)
        assert h.validator.state() is NoteValidatorState.DISABLED
    exercise(note_harness, body)


def test_a_note_not_enabled_is_rejected(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.validator.enable(frozenset({5000}))
        await h.insert_note(1000)
        await h.settle()
        assert len(h.sink.of(NoteRejected)) == 1 and not h.sink.of(NoteEscrowed)
        assert h.validator.state() is NoteValidatorState.IDLE
    exercise(note_harness, body)


def test_an_unrecognised_note_is_rejected(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.validator.enable(ALL)
        await h.insert_unrecognised_note()
        await h.settle()
        assert len(h.sink.of(NoteRejected)) == 1 and not h.sink.of(NoteEscrowed)
    exercise(note_harness, body)


def test_escrow_is_not_money(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 5000)
        assert [e.value for e in h.sink.of(NoteEscrowed)] == [5000]
        assert not h.sink.of(NoteCredited)
    exercise(note_harness, body)


def test_stacking_credits_the_note_once(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 1000)
        await h.validator.stack()
        await h.settle()
        await h.let_device_retry()
        assert [e.value for e in h.sink.of(NoteCredited)] == [1000]
        assert h.validator.state() is NoteValidatorState.IDLE
    exercise(note_harness, body)


def test_every_note_gets_its_own_credit_id(note_harness):
    async def body(h: NoteValidatorHarness):
        for value in (1000, 1000, 5000):
            await escrow(h, value)
            await h.validator.stack()
            await h.settle()
        credits = h.sink.of(NoteCredited)
        assert [c.value for c in credits] == [1000, 1000, 5000]
        assert len({c.credit_id for c in credits}) == 3
    exercise(note_harness, body)


def test_a_credit_the_sink_refused_is_reported_again_with_the_same_id(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 10000)
        h.sink.refuse_next(NoteCredited)
        await h.validator.stack()  # the journal failed: no ACK
        await h.settle()
        assert not h.sink.of(NoteCredited) and len(h.sink.refused) == 1
        assert h.validator.state() is not NoteValidatorState.IDLE  # still showing VEND VALID
        await h.let_device_retry()
        await h.settle()
        credits = h.sink.of(NoteCredited)
        assert [c.value for c in credits] == [10000]
        assert credits[0].credit_id == h.sink.refused[0].credit_id
        await h.let_device_retry()  # acknowledged now: nothing more comes
        assert len(h.sink.of(NoteCredited)) == 1
        assert h.validator.state() is NoteValidatorState.IDLE
    exercise(note_harness, body)


def test_returning_the_note_gives_it_back_without_credit(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 5000)
        await h.validator.return_note()
        await h.settle()
        assert [e.value for e in h.sink.of(NoteReturned)] == [5000]
        assert not h.sink.of(NoteCredited)
        assert h.validator.state() is NoteValidatorState.IDLE
    exercise(note_harness, body)


def test_disabling_keeps_the_escrowed_note_until_stacked(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 1000)
        await h.validator.disable()
        assert h.validator.state() is NoteValidatorState.ESCROW
        await h.validator.stack()
        await h.settle()
        assert [e.value for e in h.sink.of(NoteCredited)] == [1000]
        assert h.validator.state() is NoteValidatorState.DISABLED
    exercise(note_harness, body)


def test_stack_or_return_without_a_note_in_escrow_is_refused(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.validator.enable(ALL)
        with pytest.raises(DeviceError):
            await h.validator.stack()
        with pytest.raises(DeviceError):
            await h.validator.return_note()
        assert not h.sink.of(NoteCredited)
    exercise(note_harness, body)


def test_a_note_jammed_in_the_stacker_puts_the_validator_out_of_service_without_credit(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 1000)
        await h.jam_stacker_on_next_stack()
        await h.validator.stack()
        await h.settle()
        assert h.validator.state() is NoteValidatorState.STACKER_JAM and h.validator.state().out_of_service
        assert not h.sink.of(NoteCredited)
        await h.insert_note(1000)  # nothing goes in now
        await h.settle()
        assert not h.sink.of(NoteEscrowed)[1:]
    exercise(note_harness, body)


def test_an_acceptor_jam_puts_the_validator_out_of_service(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.validator.enable(ALL)
        await h.jam_acceptor()
        await h.settle()
        assert h.validator.state() is NoteValidatorState.ACCEPTOR_JAM and h.validator.state().out_of_service
    exercise(note_harness, body)


def test_a_removed_cash_box_puts_the_validator_out_of_service(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.validator.enable(ALL)
        await h.remove_cashbox()
        await h.settle()
        assert h.validator.state() is NoteValidatorState.STACKER_OPEN and h.validator.state().out_of_service
        await h.insert_note(1000)
        await h.settle()
        assert not h.sink.of(NoteEscrowed)
    exercise(note_harness, body)


def test_the_stacker_fills_up_after_its_capacity(note_harness):
    async def body(h: NoteValidatorHarness):
        await h.fill_stacker_after(2)
        for _ in range(2):
            await escrow(h, 1000)
            await h.validator.stack()
            await h.settle()
        assert len(h.sink.of(NoteCredited)) == 2
        assert h.validator.state() is NoteValidatorState.STACKER_FULL and h.validator.state().out_of_service
    exercise(note_harness, body)


def test_a_credit_caught_by_a_power_cut_needs_reconciliation_and_is_never_credited(note_harness):
    async def body(h: NoteValidatorHarness):
        await escrow(h, 10000)
        h.sink.refuse_next(NoteCredited)
        await h.validator.stack()
        await h.settle()
        await h.power_cycle()
        await h.settle()
        await h.let_device_retry()
        assert len(h.sink.of(NoteNeedsReconciliation)) == 1
        assert not h.sink.of(NoteCredited)
    exercise(note_harness, body)
