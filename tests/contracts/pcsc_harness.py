"""The card reader conformance suite against the REAL driver: pyscard → pcscd (Debian's) → vpcd → the project's
virtual card, a separate process that the harness drives through its control socket.

The world acts like a resident and a technician would: a card is placed (the virtual card connects to vpcd) or
lifted (it disconnects), the reader is "unplugged" by stopping pcscd and plugged back by starting it.  The driver
finds all of it out by itself; the harness only waits until it has (``settle``), with a deadline.

Harnesses take turns on vpcd's two slots, so a harness's last card can be lifted without waiting for pcscd to
notice: the next harness uses the other slot.
"""
from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from hal.card.contract import CardPlaced, ReaderState
from hal.card.sim import SimCard
from hal.card.testcards import make_citizen_card, make_test_card, make_unknown_card, write_card_file
from tests.support.pcsc import IN_CI, READERS, PcscUnavailable, pcsc_world

from .harness import RecordingSink

DEADLINE = 5.0


class PcscCardReaderHarness:
    _turns = 0
    @classmethod
    def unavailable(cls) -> str | None:
        if IN_CI:
            return None  # in CI a missing pcscd or vpcd must fail the run, not skip it (the harness raises)
        try:
            pcsc_world()
        except PcscUnavailable as e:
            return str(e)
        return None

    def __init__(self, **reader_options):
        from hal.card.pcsc import PcscCardReader
        try:
            self.world = pcsc_world()
        except PcscUnavailable as e:
            raise RuntimeError(f"the PC/SC conformance harness needs pcscd + vpcd: {e}") from None
        self.sink = RecordingSink()
        self.slot = PcscCardReaderHarness._turns % len(READERS)
        PcscCardReaderHarness._turns += 1
        options = dict(reader=READERS[self.slot], poll_interval=0.1, retry_interval=0.05) | reader_options
        self.reader = PcscCardReader("card_reader", **options)
        self._dir = Path(tempfile.mkdtemp(prefix="kiosk-cards-"))
        self._card_path: Path | None = None
        self._placed = False
        self._expect = ReaderState.EMPTY

    # -- the harness protocol ------------------------------------------------------------------------------------

    def card(self, action: str, **fields) -> dict:
        """A request to the virtual card on this harness's slot."""
        return self.world.card(action, slot=self.slot, **fields)

    async def start(self) -> None:
        self.card("lift")
        self.world.start_pcscd()
        await asyncio.to_thread(self.world.wait_for_no_card, READERS[self.slot])
        await self.reader.start(self.sink)
        await self._until(lambda: self.reader.state() is ReaderState.EMPTY, "the reader to show no card")

    async def stop(self) -> None:
        # The driver first (it resets the card it holds), then the card: vpcd's slot stops seeing cards after
        # pcscd tried to reset one that had already left.  The next harness takes the other slot, so nobody
        # waits for pcscd to notice this card leave.
        try:
            await self.reader.stop()
        finally:
            self.card("lift")
            self._placed = False
            self.world.start_pcscd()  # a test that unplugged the reader and failed leaves it plugged back
            shutil.rmtree(self._dir, ignore_errors=True)

    async def settle(self) -> None:
        await self._until(lambda: self.reader.state() is self._expect, f"the reader to show {self._expect.value}")

    # -- the world -----------------------------------------------------------------------------------------------

    async def place_card(self, card: SimCard, **variant) -> None:
        """Place any card; ``variant`` goes to the virtual card (``blocked_sw``, ``chained``, ``atr``)."""
        self._card_path = write_card_file(card, self._dir, "card")
        await self._place_file(**variant)

    async def _place_file(self, **variant) -> None:
        placed_before = len(self.sink.of(CardPlaced))
        self.card("place", card=str(self._card_path), **variant)
        self._placed = True
        self._expect = ReaderState.CARD_PRESENT
        await self._until(lambda: len(self.sink.of(CardPlaced)) > placed_before
                          and self.reader.state() is ReaderState.CARD_PRESENT, "the card to be reported")

    async def place_my_number_card(self, pin: str = "1234", tries_left: int = 3) -> None:
        await self.place_card(make_test_card(pin=pin, tries_left=tries_left))

    async def place_citizen_card(self, card_id: str) -> None:
        await self.place_card(make_citizen_card(card_id))

    async def place_unknown_card(self) -> None:
        await self.place_card(make_unknown_card())

    async def lift_card(self) -> None:
        self.card("lift")
        self._placed = False
        self._expect = ReaderState.EMPTY

    async def replace_card(self) -> None:
        assert self._card_path is not None, "no card was placed"
        await self.lift_card()
        await self.settle()
        await self._place_file()

    async def lift_during_next_operation(self) -> None:
        self.card("lift_on_next_command")
        self._placed = False
        self._expect = ReaderState.EMPTY

    async def unplug_reader(self) -> None:
        self.world.stop_pcscd()
        self._expect = ReaderState.NO_READER

    async def plug_in_reader(self) -> None:
        self.world.start_pcscd()
        self._expect = ReaderState.CARD_PRESENT if self._placed else ReaderState.EMPTY

    def tries_left_on_card(self) -> int:
        assert self._card_path is not None, "no card was placed"
        state = self.card("state")
        if state["placed"]:
            return state["tries_left"]
        return SimCard.load(self._card_path).tries_left  # the lifted card's counter, as its chip kept it

    # -- inside --------------------------------------------------------------------------------------------------

    async def _until(self, condition, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {DEADLINE} s for {what}; the driver says {self.reader!r}")
            await asyncio.sleep(0.01)
