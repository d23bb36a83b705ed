"""The note and coin conformance suites on a real unit: the real drivers on real ports, a technician as the world.

Each harness is registered under the ``hardware`` marker and skips unless its port is given:

- ``KIOSK_HW_NOTES_PORT=/dev/ttyUSB0``: the ID-003 note validator.
- ``KIOSK_HW_COINS_PORT=/dev/ttyUSB1``: the ccTalk bus; ``KIOSK_HW_COINS_ADDRESS`` (default 2) is the coin
  acceptor, ``KIOSK_HW_HOPPER_ADDRESS`` (default 3) and ``KIOSK_HW_HOPPER_VALUE`` (default 100) one hopper.

What the world does in a suite (insert a note, remove the cash box, switch the power off and on), the harness asks
the technician to do on the terminal (``/dev/tty``, so pytest's output capture does not hide it) and waits up to
``KIOSK_HW_TIMEOUT`` seconds (default 60) for the driver to see it.  Steps nobody can do on demand (a jam exactly at
the next stack, an acceptor losing events, a hopper jamming after N coins) skip their test.  See the README,
"Testing on a real unit".
"""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from hal.coins.cctalk import CcTalkCoinAcceptor
from hal.coins.cctalk_hopper import CcTalkHopper
from hal.coins.contract import CoinAcceptorState, CoinCredited, CoinRejected
from hal.notes.contract import NoteEscrowed, NoteNeedsReconciliation, NoteRejected, NoteValidatorState
from hal.notes.id003 import Id003NoteValidator

from .harness import RecordingSink

TIMEOUT = float(os.environ.get("KIOSK_HW_TIMEOUT", "60"))


def _terminal_missing() -> str | None:
    try:
        with open("/dev/tty", "wb", buffering=0):  # a tty cannot seek: text mode "r+" refuses to open it
            return None
    except OSError:
        return "no terminal (/dev/tty) for the technician's prompts"


def ask(instruction: str, answer: bool = False) -> str:
    """Show the technician what to do; with ``answer``, wait for a line typed back."""
    with open("/dev/tty", "w") as out:
        out.write(f"\n>>> {instruction}{' ' if answer else chr(10)}")
    if not answer:
        return ""
    with open("/dev/tty") as typed:
        return typed.readline().strip()


def cannot_script(what: str) -> None:
    pytest.skip(f"needs a step a technician cannot do on demand: {what}")


async def wait_for(what: str, done) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"the device did not show {what} within {TIMEOUT:g} s")
        await asyncio.sleep(0.05)


class _Hardware:
    hardware = True
    env = ""

    @classmethod
    def unavailable(cls) -> str | None:
        if not os.environ.get(cls.env):
            return f"set {cls.env} to the device's serial port to run this suite on a real unit"
        return _terminal_missing()


class IdNoteValidatorHardwareHarness(_Hardware):
    env = "KIOSK_HW_NOTES_PORT"

    def __init__(self):
        self.sink = RecordingSink()
        self.validator = Id003NoteValidator(os.environ[self.env], retry_interval=None)

    async def start(self) -> None:
        await self.validator.start(self.sink)

    async def stop(self) -> None:
        await self.validator.stop()

    async def settle(self) -> None:
        await self.validator.sync(5)

    async def _feed(self, instruction: str) -> None:
        before = len(self.sink.of(NoteEscrowed)) + len(self.sink.of(NoteRejected))
        ask(instruction)
        await wait_for("the note", lambda: len(self.sink.of(NoteEscrowed)) + len(self.sink.of(NoteRejected)) > before)

    async def insert_note(self, value: int) -> None:
        await self._feed(f"Insert a {value} yen note.")

    async def insert_unrecognised_note(self) -> None:
        await self._feed("Insert a blank sheet of paper cut to the size of a 1000 yen note.")

    async def jam_stacker_on_next_stack(self) -> None:
        cannot_script("a stacker jam exactly at the next stack")

    async def jam_acceptor(self) -> None:
        ask("Jam the acceptor (hold a note half-way in the transport).")
        await wait_for("ACCEPTOR JAM", lambda: self.validator.state() is NoteValidatorState.ACCEPTOR_JAM)

    async def remove_cashbox(self) -> None:
        ask("Pull the cash box out.")
        await wait_for("STACKER OPEN", lambda: self.validator.state() is NoteValidatorState.STACKER_OPEN)

    async def fill_stacker_after(self, notes: int) -> None:
        cannot_script(f"a cash box that is full after exactly {notes} more notes")

    async def power_cycle(self) -> None:
        before = len(self.sink.of(NoteNeedsReconciliation))
        ask("Switch the validator's power off, wait 3 seconds, and switch it on again.")
        await wait_for("its power-up", lambda: len(self.sink.of(NoteNeedsReconciliation)) > before)

    async def let_device_retry(self) -> None:
        await self.validator.redeliver_unacknowledged()


class CcTalkCoinAcceptorHardwareHarness(_Hardware):
    env = "KIOSK_HW_COINS_PORT"

    def __init__(self):
        self.sink = RecordingSink()
        self.acceptor = CcTalkCoinAcceptor(os.environ[self.env], int(os.environ.get("KIOSK_HW_COINS_ADDRESS", "2")),
                                           retry_interval=None)

    async def start(self) -> None:
        await self.acceptor.start(self.sink)

    async def stop(self) -> None:
        await self.acceptor.stop()

    async def settle(self) -> None:
        await self.acceptor.sync(5)

    def _coins_seen(self) -> int:
        return len([e for e in self.sink.events + self.sink.refused if isinstance(e, (CoinCredited, CoinRejected))])

    async def _drop(self, instruction: str) -> None:
        before = self._coins_seen()
        ask(instruction)
        await wait_for("the coin", lambda: self._coins_seen() > before)

    async def insert_coin(self, value: int) -> None:
        await self._drop(f"Drop one {value} yen coin into the acceptor.")

    async def insert_unrecognised_coin(self) -> None:
        await self._drop("Drop a foreign coin or a washer into the acceptor.")

    async def jam(self) -> None:
        ask("Block the coin path (hold a coin on the credit sensor) until told otherwise.")
        await wait_for("a jam", lambda: self.acceptor.state() is CoinAcceptorState.JAMMED)
        ask("Release the coin path.")

    async def lose_events(self, count: int) -> None:
        cannot_script(f"{count} coin events lost between two polls")

    async def let_device_retry(self) -> None:
        await self.acceptor.redeliver_unacknowledged()


class CcTalkHopperHardwareHarness(_Hardware):
    env = "KIOSK_HW_COINS_PORT"

    def __init__(self):
        self.sink = RecordingSink()
        self.value = int(os.environ.get("KIOSK_HW_HOPPER_VALUE", "100"))
        self.address = int(os.environ.get("KIOSK_HW_HOPPER_ADDRESS", "3"))
        self._hoppers: list[CcTalkHopper] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for hopper in self._hoppers:
            await hopper.stop()

    async def settle(self) -> None:
        pass

    async def hopper(self, coin_value: int, stock: int, low_level: int = 10) -> CcTalkHopper:
        if coin_value != self.value:
            pytest.skip(f"the hopper under test pays {self.value} yen coins, this test needs {coin_value}")
        ask(f"Load the hopper with exactly {stock} coins of {coin_value} yen (its low-level sensor should sit at "
            f"{low_level} coins), empty the change tray, then press Enter.", answer=True)
        hopper = CcTalkHopper(os.environ[self.env], self.address, coin_value, stock=stock)
        await hopper.start(self.sink)
        self._hoppers.append(hopper)
        return hopper

    def short_of_coins(self, hopper: CcTalkHopper, actual: int) -> None:
        ask(f"Take coins out of the hopper until exactly {actual} remain, then press Enter.", answer=True)

    def jam_after(self, hopper: CcTalkHopper, coins: int) -> None:
        cannot_script(f"a hopper jamming after exactly {coins} coins")

    def lose_contact_during_next_payout(self, hopper: CcTalkHopper) -> None:
        cannot_script("a hopper that goes silent for good in the middle of a payout")

    def coins_in_tray(self, hopper: CcTalkHopper) -> int:
        return int(ask("How many coins are in the change tray? (count, leave them there) ", answer=True) or "0")
