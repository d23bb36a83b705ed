"""The ID-003 driver at the wire, against the emulator on a pty: the money rules and the faults of a real line."""
from __future__ import annotations

import asyncio
import os

import pytest

from hal.events import DeviceError, DeviceUnavailable
from hal.factory import DeviceConfigError, build_device
from hal.notes.contract import (
    NoteCredited, NoteEscrowed, NoteNeedsReconciliation, NoteRejected, NoteValidatorState as S,
    NoteValidatorStateChanged,
)
from hal.notes.id003 import Id003NoteValidator
from hal.notes.id003_emulator import (
    ACK, POWER_UP_ACCEPTOR, POWER_UP_STACKER, STACKING, VEND_VALID,
)
from hal.notes.id003_frames import STACK_1
from tests.support.emulators import Id003Emulator

ALL = frozenset({1000, 2000, 5000, 10000})


class Events(list):
    """A sink that keeps events; ``on_credit`` runs inside the sink for every NoteCredited."""

    on_credit = None

    async def __call__(self, event):
        if isinstance(event, NoteCredited) and self.on_credit is not None:
            await self.on_credit(event)
        self.append(event)

    def of(self, kind):
        return [e for e in self if isinstance(e, kind)]


def run(body, emulator: Id003Emulator | None = None, start: bool = True, **options):
    emulator = emulator or Id003Emulator()
    validator = Id003NoteValidator(emulator.port, poll_interval=0.01, reply_timeout=0.1, init_timeout=2.0,
                                   **options)
    events = Events()

    async def main():
        emulator.start()
        try:
            if start:
                await validator.start(events)
            await body(validator, emulator, events)
        finally:
            await validator.stop()
    try:
        asyncio.run(main())
    finally:
        emulator.close()


async def settle(validator, emulator):
    for _ in range(300):
        await validator.sync(1)
        if emulator.steady():
            await validator.sync(2)
            if emulator.steady():
                return
    raise AssertionError("the emulator did not settle")


async def pay(validator, emulator, value):
    await validator.enable(ALL)
    emulator.insert_note(value)
    await settle(validator, emulator)
    assert validator.state() is S.ESCROW
    await validator.stack()
    await settle(validator, emulator)


def test_the_credit_is_journalled_before_the_ack_reaches_the_validator():
    seen = []

    async def body(validator, emulator, events):
        async def journal(credit):
            seen.append(emulator.host_acks)
            await asyncio.sleep(0.1)  # a slow fsync: the driver keeps polling VEND VALID but sends no ACK
            seen.append(emulator.host_acks)
        events.on_credit = journal
        await pay(validator, emulator, 5000)
        assert seen == [0, 0]
        assert emulator.host_acks == 1 and emulator.stacked == 1
        assert [(c.value) for c in events.of(NoteCredited)] == [5000]
    run(body)


def test_a_lost_ack_shows_vend_valid_again_and_the_note_is_credited_once():
    async def body(validator, emulator, events):
        emulator.lose_next_acks(2)
        await pay(validator, emulator, 1000)
        for _ in range(50):  # VEND VALID stays steady while ACKs are lost: poll on
            if emulator.host_acks:
                break
            await validator.sync(1)
        await settle(validator, emulator)
        assert emulator.received.count(ACK) == 3  # the ACK was sent again for each repeated VEND VALID
        assert [c.value for c in events.of(NoteCredited)] == [1000]
        assert emulator.stacked == 1 and validator.state() is S.IDLE
    run(body)


def test_a_late_ack_read_by_the_next_poll_is_not_taken_for_the_validators_state():
    """The ACK to STACK comes after the reply timeout, in front of the answer to the next poll (the wire loop of
    issue #18 caught an emulator 0.12 s late).  An ACK answers no poll: taken for a state, it made the note
    stacking look like a validator at rest, a cancel settled the visit before the credit, and the note became a
    stray credit."""
    async def body(validator, emulator, events):
        await validator.enable(ALL)
        emulator.insert_note(1000)
        await settle(validator, emulator)
        assert validator.state() is S.ESCROW
        emulator.answer_late_to(STACK_1)
        await validator.stack()
        at_rest_while_stacking = []
        for _ in range(300):  # a bounded wait: a driver that never credits fails below instead of hanging here
            if emulator.status() not in (STACKING, VEND_VALID) and events.of(NoteCredited):
                break
            if validator.state() not in (S.ESCROW, S.STACKING) and not events.of(NoteCredited):
                at_rest_while_stacking.append(validator.state())
            await validator.sync(1)
        await settle(validator, emulator)
        states = [e.state for e in events.of(NoteValidatorStateChanged)]
        assert states[states.index(S.ESCROW):] == [S.ESCROW, S.STACKING, S.IDLE]
        assert at_rest_while_stacking == []
        assert [c.value for c in events.of(NoteCredited)] == [1000] and emulator.stacked == 1
    run(body)


def test_noise_crc_errors_and_lost_replies_lose_nothing_and_invent_nothing():
    async def body(validator, emulator, events):
        await validator.enable(ALL)
        emulator.noise_before_next_reply(b"\x00\xfc\x07\x15\xff")  # a false SYNC among the noise
        emulator.corrupt_next_replies(2)
        emulator.insert_note(10000)
        await settle(validator, emulator)
        emulator.drop_next_replies(1)
        emulator.corrupt_next_replies(1)
        await validator.stack()  # its ACK is lost, then a bad CRC: the driver asks again
        emulator.noise_before_next_reply(bytes(range(0xF0, 0x100)))
        await settle(validator, emulator)
        assert [c.value for c in events.of(NoteCredited)] == [10000]
        assert [e.value for e in events.of(NoteEscrowed)] == [10000]
        assert emulator.stacked == 1
    run(body)


def test_a_refused_credit_is_offered_again_after_the_retry_interval_with_the_same_id():
    async def body(validator, emulator, events):
        refusals = []

        async def failing_journal(credit):
            if not refusals:
                refusals.append(credit)
                raise OSError("disk full")
        events.on_credit = failing_journal
        await pay(validator, emulator, 2000)
        await asyncio.sleep(0.1)
        await settle(validator, emulator)
        credits = events.of(NoteCredited)
        assert [c.value for c in credits] == [2000] and credits[0].credit_id == refusals[0].credit_id
        assert emulator.host_acks == 1
    run(body, retry_interval=0.05)


@pytest.mark.parametrize("power_up, words", [(POWER_UP_STACKER, "in the stacker"),
                                             (POWER_UP_ACCEPTOR, "in the acceptor")])
def test_a_power_up_with_a_bill_inside_is_reported_for_reconciliation_never_credited(power_up, words):
    async def body(validator, emulator, events):
        await settle(validator, emulator)
        [reconcile] = events.of(NoteNeedsReconciliation)
        assert words in reconcile.detail
        assert not events.of(NoteCredited) and validator.state() is S.DISABLED
    run(body, Id003Emulator(power_up=power_up))


def test_vend_valid_found_at_start_is_reconciled_and_acked_not_credited():
    async def body(validator, emulator, events):
        await settle(validator, emulator)
        assert len(events.of(NoteNeedsReconciliation)) == 1 and not events.of(NoteCredited)
        assert emulator.host_acks == 1
    run(body, Id003Emulator(power_up=VEND_VALID))


def test_a_power_cut_mid_session_is_recovered_and_the_validator_accepts_again():
    async def body(validator, emulator, events):
        await validator.enable(ALL)
        emulator.power_cycle(bill_in_stacker=True)
        await settle(validator, emulator)
        assert len(events.of(NoteNeedsReconciliation)) == 1
        assert validator.state() is S.IDLE  # reset, and the kiosk's enable restored
        await pay(validator, emulator, 1000)
        assert [c.value for c in events.of(NoteCredited)] == [1000]
    run(body)


@pytest.mark.parametrize("fault, state", [("fail", S.FAILURE), ("cheat", S.FAILURE),
                                          ("remove_cashbox", S.STACKER_OPEN), ("jam_acceptor", S.ACCEPTOR_JAM)])
def test_faults_put_the_validator_out_of_service(fault, state):
    async def body(validator, emulator, events):
        await validator.enable(ALL)
        getattr(emulator, fault)()
        await settle(validator, emulator)
        assert validator.state() is state and state.out_of_service
        emulator.clear_faults()
        await settle(validator, emulator)
        assert validator.state() is S.IDLE
    run(body)


def test_a_silent_validator_goes_offline_and_comes_back():
    async def body(validator, emulator, events):
        emulator.drop_next_replies(12)
        for _ in range(40):
            if validator.state() is S.OFFLINE:
                break
            await asyncio.sleep(0.05)
        assert validator.state() is S.OFFLINE
        await settle(validator, emulator)
        assert validator.state() is S.DISABLED
    run(body, offline_after=2)


def test_a_foreign_currency_table_refuses_to_start():
    async def body(validator, emulator, events):
        with pytest.raises(DeviceError, match=r"not yen notes: \[1, 5, 10, 20\]"):
            await validator.start(events)
    run(body, Id003Emulator(table={0x61: 1, 0x63: 5, 0x64: 10, 0x65: 20}), start=False)


def test_a_table_without_a_configured_note_refuses_to_start():
    async def body(validator, emulator, events):
        with pytest.raises(DeviceError, match=r"missing: \[2000\]"):
            await validator.start(events)
    run(body, Id003Emulator(table={0x61: 1000, 0x63: 5000, 0x64: 10000}), start=False)


def test_a_missing_port_or_a_silent_line_names_the_port(tmp_path):
    async def body():
        missing = Id003NoteValidator(str(tmp_path / "ttyUSB9"))
        with pytest.raises(DeviceUnavailable, match="notes: cannot open serial port .*ttyUSB9"):
            await missing.start(Events())
        master, slave = os.openpty()  # a port with nothing on the other end
        try:
            silent = Id003NoteValidator(os.ttyname(slave), reply_timeout=0.05)
            with pytest.raises(DeviceUnavailable, match=f"no answer from the ID-003 validator on {os.ttyname(slave)}"):
                await silent.start(Events())
        finally:
            os.close(master)
            os.close(slave)
    asyncio.run(body())


def test_the_factory_builds_it_from_config():
    validator = build_device("notes", {"driver": "id003", "port": "/dev/ttyUSB0", "denominations": [1000, 5000]})
    assert isinstance(validator, Id003NoteValidator) and validator.denominations() == {1000, 5000}
    with pytest.raises(DeviceConfigError, match="devices.notes: port must be the validator's serial port"):
        build_device("notes", {"driver": "id003"})


def test_a_note_inserted_while_inhibited_is_rejected():
    async def body(validator, emulator, events):
        emulator.insert_note(1000)
        await settle(validator, emulator)
        assert [e.reason for e in events.of(NoteRejected)] == ["inhibited"]
        assert not events.of(NoteEscrowed)
    run(body)
