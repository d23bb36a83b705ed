"""Harnesses that run the conformance suites against the real serial drivers, over wire-level emulators on ptys.

The driver opens the pty's slave end by path, exactly as it opens ``/dev/ttyUSB0`` on a kiosk; the emulator on the
master end speaks ID-003 or ccTalk from the published facts.  :meth:`settle` waits until the emulator has no
transition pending and the driver has polled it since, so "the world acted, the driver has seen it" holds as it does
for a simulator.
"""
from __future__ import annotations

from hal.coins.cctalk import CcTalkCoinAcceptor
from hal.coins.cctalk_hopper import CcTalkHopper
from hal.notes.id003 import Id003NoteValidator
from tests.support.emulators import CcTalkBusEmulator, CoinAcceptorEmulator, HopperEmulator, Id003Emulator

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


class CcTalkCoinAcceptorHarness:
    """The ccTalk coin acceptor driver against :class:`CoinAcceptorEmulator` on an emulated bus."""

    def __init__(self):
        self.sink = RecordingSink()
        self.emulator = CoinAcceptorEmulator(address=2)
        self.bus = CcTalkBusEmulator(self.emulator)
        self.acceptor = CcTalkCoinAcceptor(self.bus.port, address=2, poll_interval=0.01, reply_timeout=0.1,
                                           retry_interval=None)

    async def start(self) -> None:
        self.bus.start()
        await self.acceptor.start(self.sink)

    async def stop(self) -> None:
        try:
            await self.acceptor.stop()
        finally:
            self.bus.close()

    async def settle(self) -> None:
        await self.acceptor.sync(2)  # a poll that began after the world acted has been handled

    def _world(self, action, *args) -> None:
        with self.bus.lock:
            action(*args)

    async def insert_coin(self, value: int) -> None:
        self._world(self.emulator.insert_coin, value)

    async def insert_unrecognised_coin(self) -> None:
        self._world(self.emulator.insert_coin, 100, False)

    async def jam(self) -> None:
        self._world(self.emulator.jam)

    async def lose_events(self, count: int) -> None:
        with self.bus.lock:  # five more than the buffer holds arrive between two polls: rejected slugs
            for _ in range(count + 5):
                self.emulator.add_event(0, 1)

    async def let_device_retry(self) -> None:
        await self.acceptor.redeliver_unacknowledged()


class CcTalkHopperHarness:
    """ccTalk hopper drivers against :class:`HopperEmulator` s at addresses 3, 4, … on one emulated bus."""

    def __init__(self):
        self.sink = RecordingSink()
        self.bus = CcTalkBusEmulator()
        self._hoppers: list[CcTalkHopper] = []

    async def start(self) -> None:
        self.bus.start()

    async def stop(self) -> None:
        try:
            for hopper in self._hoppers:
                await hopper.stop()
        finally:
            self.bus.close()

    async def settle(self) -> None:
        pass  # a dispense returns only when the hopper's status says it is done

    async def hopper(self, coin_value: int, stock: int, low_level: int = 10) -> CcTalkHopper:
        address = 3 + len(self._hoppers)
        self.bus.add(HopperEmulator(address, stock=stock, low_level=low_level))
        hopper = CcTalkHopper(self.bus.port, address, coin_value, stock=stock, poll_interval=0.005,
                              reply_timeout=0.1, seconds_per_coin=0.05, payout_grace=0.3, answer_within=0.3)
        await hopper.start(self.sink)
        self._hoppers.append(hopper)
        return hopper

    def emulator(self, hopper: CcTalkHopper) -> HopperEmulator:
        return self.bus.devices[hopper.address]

    def short_of_coins(self, hopper: CcTalkHopper, actual: int) -> None:
        with self.bus.lock:
            self.emulator(hopper).stock = actual

    def jam_after(self, hopper: CcTalkHopper, coins: int) -> None:
        with self.bus.lock:
            self.emulator(hopper).jam_after = coins

    def lose_contact_during_next_payout(self, hopper: CcTalkHopper) -> None:
        with self.bus.lock:
            self.emulator(hopper).silent_after_dispense = True

    def coins_in_tray(self, hopper: CcTalkHopper) -> int:
        return self.emulator(hopper).tray
