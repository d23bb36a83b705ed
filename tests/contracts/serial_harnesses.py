"""Harnesses that run the conformance suites against the real serial drivers, over wire-level emulators on ptys.

The driver opens the pty's slave end by path, exactly as it opens ``/dev/ttyUSB0`` on a kiosk; the emulator on the
master end speaks ID-003 or ccTalk from the published facts.  :meth:`settle` waits until the emulator has no
transition pending and the driver has polled it since, so "the world acted, the driver has seen it" holds as it does
for a simulator.
"""
from __future__ import annotations

from hal.notes.id003 import Id003NoteValidator
from hal.notes.id003_emulator import Id003Emulator

from .harness import RecordingSink


class IdNoteValidatorHarness:
    """The ID-003 driver against :class:`Id003Emulator` (the emulator starts powered up: the driver resets it)."""

    def __init__(self):
        self.sink = RecordingSink()
        self.emulator = Id003Emulator()
        self.validator = Id003NoteValidator(self.emulator.port, poll_interval=0.01, reply_timeout=0.1,
                                            retry_interval=None, init_timeout=2.0)

    async def start(self) -> None:
        self.emulator.start()
        await self.validator.start(self.sink)

    async def stop(self) -> None:
        try:
            await self.validator.stop()
        finally:
            self.emulator.close()

    async def settle(self) -> None:
        for _ in range(200):
            await self.validator.sync(1)
            if self.emulator.steady():
                await self.validator.sync(2)  # later polls follow any ACK on the wire: the emulator has it
                if self.emulator.steady():
                    return
        raise AssertionError("the ID-003 emulator did not settle")

    async def insert_note(self, value: int) -> None:
        self.emulator.insert_note(value)

    async def insert_unrecognised_note(self) -> None:
        self.emulator.insert_note(1000, genuine=False)

    async def jam_stacker_on_next_stack(self) -> None:
        self.emulator.jam_stacker_on_next_stack()

    async def jam_acceptor(self) -> None:
        self.emulator.jam_acceptor()

    async def remove_cashbox(self) -> None:
        self.emulator.remove_cashbox()

    async def fill_stacker_after(self, notes: int) -> None:
        self.emulator.fill_stacker_after(notes)

    async def power_cycle(self) -> None:
        self.emulator.power_cycle()

    async def let_device_retry(self) -> None:
        await self.validator.redeliver_unacknowledged()
