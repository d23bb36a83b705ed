"""What a conformance suite needs from a device under test: the harness protocol.

Each contract suite runs against every registered harness for its device kind (see ``conftest.py``).  A harness
owns one device and a way to make the world act on it: place a card, feed a note, jam the stacker.  The simulator
harnesses (``sim_harnesses.py``) do it by calling the simulator; a real-driver harness does it through an emulator
(a virtual card served to pcscd, an ID-003 or ccTalk emulator on a pty pair) and lets the real driver find out.

Events go to a :class:`RecordingSink` that the test can make refuse events, like a journal that failed to write.
A harness class may define ``unavailable() -> str | None`` (a classmethod): a reason to skip, e.g. no pcscd.

Suites are plain pytest functions that run one coroutine with :func:`exercise`::

    def test_something(card_harness):
        async def body(h: CardReaderHarness):
            await h.place_my_number_card(pin="1234")
            assert await h.reader.pin_tries_left() == 3
        exercise(card_harness, body)
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from hal.card.contract import CardReader
from hal.coins.contract import CoinAcceptor, Hopper
from hal.events import DeviceEvent
from hal.notes.contract import NoteValidator
from hal.signals.contract import Indicators
from hal.voice.contract import Voice


class SinkRefused(Exception):
    """What a :class:`RecordingSink` raises for an event it was told to refuse."""


class RecordingSink:
    """An event sink that keeps what it took, and can refuse the next events of a type (a failed journal write)."""

    def __init__(self):
        self.events: list[DeviceEvent] = []
        self.refused: list[DeviceEvent] = []
        self._refuse: dict[type, int] = {}

    def refuse_next(self, event_type: type, times: int = 1) -> None:
        self._refuse[event_type] = self._refuse.get(event_type, 0) + times

    async def __call__(self, event: DeviceEvent) -> None:
        for event_type, left in self._refuse.items():
            if left and isinstance(event, event_type):
                self._refuse[event_type] = left - 1
                self.refused.append(event)
                raise SinkRefused(f"refused {type(event).__name__}")
        self.events.append(event)

    def of(self, event_type: type) -> list:
        return [e for e in self.events if isinstance(e, event_type)]

    def clear(self) -> None:
        self.events.clear()
        self.refused.clear()


class Harness(Protocol):
    sink: RecordingSink

    async def start(self) -> None:
        """Start the device with :attr:`sink`."""

    async def stop(self) -> None: ...

    async def settle(self) -> None:
        """Give the device the time it needs to report what the world just did (a real driver polls)."""


class CardReaderHarness(Harness, Protocol):
    reader: CardReader

    async def place_my_number_card(self, pin: str = "1234", tries_left: int = 3) -> None:
        """Put a My Number card with this auth PIN and counter on the reader."""

    async def place_citizen_card(self, card_id: str) -> None: ...

    async def place_unknown_card(self) -> None:
        """A card that is neither (a transit card)."""

    async def lift_card(self) -> None: ...

    async def replace_card(self) -> None:
        """Lift the card and put the same card back (a new card session, the same chip)."""

    async def lift_during_next_operation(self) -> None:
        """The next card command loses its card half-way."""

    async def unplug_reader(self) -> None: ...

    async def plug_in_reader(self) -> None: ...

    def tries_left_on_card(self) -> int:
        """The card's own PIN counter, read from the world side (never through the reader)."""


class NoteValidatorHarness(Harness, Protocol):
    validator: NoteValidator

    async def insert_note(self, value: int) -> None: ...

    async def insert_unrecognised_note(self) -> None: ...

    async def jam_stacker_on_next_stack(self) -> None: ...

    async def jam_acceptor(self) -> None: ...

    async def remove_cashbox(self) -> None: ...

    async def fill_stacker_after(self, notes: int) -> None: ...

    async def power_cycle(self) -> None:
        """Power fails and comes back (a credit not yet acknowledged is caught in the stacker)."""

    async def let_device_retry(self) -> None:
        """Let the device report an unacknowledged credit again (the next status poll)."""


class CoinAcceptorHarness(Harness, Protocol):
    acceptor: CoinAcceptor

    async def insert_coin(self, value: int) -> None: ...

    async def insert_unrecognised_coin(self) -> None: ...

    async def jam(self) -> None: ...

    async def lose_events(self, count: int) -> None:
        """The acceptor's event buffer overflowed by ``count`` events before the host read it."""

    async def let_device_retry(self) -> None: ...


class HopperHarness(Harness, Protocol):
    async def hopper(self, coin_value: int, stock: int, low_level: int = 10) -> Hopper:
        """A started hopper of ``coin_value`` yen holding ``stock`` coins, LOW below ``low_level``."""

    def short_of_coins(self, hopper: Hopper, actual: int) -> None:
        """Only ``actual`` coins are really inside, whatever the hopper was told."""

    def jam_after(self, hopper: Hopper, coins: int) -> None: ...

    def lose_contact_during_next_payout(self, hopper: Hopper) -> None:
        """The hopper takes the next dispense, pays, and never answers again."""

    def coins_in_tray(self, hopper: Hopper) -> int:
        """Coins that reached the change tray (counted by the world, not reported by the hopper)."""


class SignalsHarness(Harness, Protocol):
    indicators: Indicators

    def observed(self, what: Any) -> list:
        """The values a light (a GuideLight), ``"buzzer"`` or ``"beacon"`` was seen to take, in order."""

    async def open_door(self) -> None: ...

    async def close_door(self) -> None: ...

    async def press_staff_call(self) -> None: ...

    async def wait(self, seconds: float) -> None:
        """Let time pass (a fake clock may jump)."""


class VoiceHarness(Harness, Protocol):
    voice: Voice

    def make_missing(self, message_id: str, language: str) -> None: ...

    def played(self) -> list[tuple[str, str]]:
        """The (message_id, language) prompts the world heard, in order."""


H = TypeVar("H", bound=Harness)


def exercise(make_harness: Callable[[], H], body: Callable[[H], Awaitable[None]]) -> None:
    """Make a harness, start it, run ``body`` with it on a fresh event loop, and stop it whatever happens."""
    async def main() -> None:
        harness = make_harness()
        try:
            await harness.start()
        except BaseException:  # an emulator started before the driver failed is stopped too (its thread, its pty)
            with contextlib.suppress(Exception):
                await harness.stop()
            raise
        try:
            await body(harness)
        finally:
            await harness.stop()
    asyncio.run(main())
