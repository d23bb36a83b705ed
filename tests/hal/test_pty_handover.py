"""A restarted note driver and the emulator that outlived its process: a fresh pty pair per start, the emulator's
cash box kept; and a note past the point of return stays in the box when the restarted driver resets."""
from __future__ import annotations

import asyncio
import termios

import pytest
import serial

from hal.events import DeviceUnavailable
from hal.notes.contract import NoteCredited, NoteNeedsReconciliation, NoteValidatorState as S
from hal.notes.id003 import Id003NoteValidator
from hal.notes.id003_emulator import VEND_VALID
from hal.serial_link import SerialLink
from tests.support.emulators import Id003Emulator


def _open_8e1(port: str) -> serial.Serial:
    return serial.Serial(port, 9600, parity=serial.PARITY_EVEN, timeout=0.01, exclusive=True)


def test_the_slave_of_a_pty_cannot_be_opened_8e1_twice_but_a_fresh_pair_can():
    emulator = Id003Emulator().start()
    try:
        first = emulator.port
        _open_8e1(first).close()
        with pytest.raises(termios.error):  # the kernel's EINVAL (the trap the rig works around)
            _open_8e1(first).close()
        with pytest.raises(DeviceUnavailable, match="cannot open serial port"):  # the driver says so plainly
            asyncio.run(SerialLink("notes", first, 9600, "E").open())
        fresh = emulator.fresh_port()
        assert fresh != first
        _open_8e1(fresh).close()
    finally:
        emulator.close()


class Sink(list):
    async def __call__(self, event):
        self.append(event)


async def _driver(emulator: Id003Emulator, sink, refuse_credit: bool = False):
    async def take(event):
        if refuse_credit and isinstance(event, NoteCredited):
            raise RuntimeError("the process dies before the journal commits")
        await sink(event)
    validator = Id003NoteValidator(emulator.port, poll_interval=0.01, reply_timeout=0.1, init_timeout=2.0,
                                   retry_interval=None)
    await validator.start(take)
    return validator


def test_a_restarted_driver_on_a_fresh_pair_finds_the_unacknowledged_note_in_the_box():
    emulator = Id003Emulator().start()

    async def main():
        first = await _driver(emulator, Sink(), refuse_credit=True)  # VEND VALID is never ACKed
        await first.enable(frozenset({1000}))
        emulator.insert_note(1000)
        stacked = False
        for _ in range(300):
            await first.sync(1)
            if not stacked and first.state() is S.ESCROW:
                await first.stack()
                stacked = True
            if emulator.status() == VEND_VALID and emulator.steady():
                break
        assert emulator.status() == VEND_VALID and emulator.host_acks == 0
        await first.poller.stop()  # the process dies: no more polls, its port closed with it
        await first.link.close()
        emulator.fresh_port()
        events = Sink()
        second = await _driver(emulator, events)
        await second.stop()
        return events

    try:
        events = asyncio.run(main())
    finally:
        emulator.close()
    assert emulator.stacked == 1 and emulator.stacked_yen == 1000  # the reset did not bring the note back out
    assert any(isinstance(e, NoteNeedsReconciliation) for e in events)
    assert not any(isinstance(e, NoteCredited) for e in events)
