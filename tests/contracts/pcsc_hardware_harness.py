"""The card reader conformance suite on a real unit: the PC/SC driver, the system's pcscd, a real reader, and a
technician with test cards as the world.  Registered under the ``hardware`` marker; it skips unless
``KIOSK_HW_CARD_READER`` names the reader (a name, part of one, or an index).

- ``KIOSK_HW_CARD_PIN``: the 4-digit PIN of the technician's JPKI **test** card, with all 3 tries left.  Without it
  every test that needs a My Number card skips.
- ``KIOSK_HW_CITIZEN_ID``: the number of a citizen card of the project's application (see ``hal/card/jpki.py``);
  the suite's citizen test runs only if it asks for that number.

A real card's counter is real: the harness never lets a wrong PIN reach the card.  The PIN a test gives its card
stands for the test card's PIN (the harness presents that one instead); a test that would present any other PIN
(the counter tests) skips at that point, before the card sees it; so does a test that needs a card with fewer
tries than the test card has.  The card's counter is read through the driver (an empty VERIFY, which the wire
tests show spends nothing): on a real unit there is no other window into the chip.
"""
from __future__ import annotations

import hmac
import os

import pytest

from hal.card.contract import CardKind, CardPlaced, Pin, PinResult, ReaderState
from hal.card.pcsc import PcscCardReader

from .hardware_harnesses import _terminal_missing, ask, cannot_script, wait_for
from .harness import RecordingSink

ENV_READER, ENV_PIN, ENV_CITIZEN = "KIOSK_HW_CARD_READER", "KIOSK_HW_CARD_PIN", "KIOSK_HW_CITIZEN_ID"


class _NoWrongPins(PcscCardReader):
    """The real driver, except that the suite's right PIN becomes the test card's PIN and any other PIN skips the
    test instead of reaching the card."""

    def __init__(self, reader: str | int, test_pin: str | None):
        super().__init__("card_reader", reader)
        self._test_pin = test_pin
        self.suite_pin: str | None = None

    async def verify_pin(self, pin: Pin) -> PinResult:
        if self._test_pin is None or self.suite_pin is None or \
                not hmac.compare_digest(pin.ascii_bytes(), self.suite_pin.encode("ascii")):
            pytest.skip("this test presents a wrong PIN; on a real card that spends a real try")
        real = Pin(self._test_pin)
        try:
            return await super().verify_pin(real)
        finally:
            real.wipe()


def _reader_spec() -> str | int:
    value = os.environ[ENV_READER]
    return int(value) if value.isdigit() else value


class PcscHardwareHarness:
    hardware = True

    @classmethod
    def unavailable(cls) -> str | None:
        if not os.environ.get(ENV_READER):
            return f"set {ENV_READER} to the card reader's name (or an index) to run this suite on a real unit"
        if os.environ.get("PCSCLITE_CSOCK_NAME"):
            return ("this process talks to the tests' private pcscd; run the hardware suite on its own "
                    "(pytest -m hardware)")
        return _terminal_missing()

    def __init__(self):
        self.sink = RecordingSink()
        self.pin = os.environ.get(ENV_PIN) or None
        self.reader = _NoWrongPins(_reader_spec(), self.pin)
        self._expect = ReaderState.EMPTY
        self._placed = False
        self._last_tries: int | None = None

    async def start(self) -> None:
        await self.reader.start(self.sink)
        if self.reader.state() is not ReaderState.EMPTY:
            ask("Take any card off the reader.")
        await wait_for("an empty reader", lambda: self.reader.state() is ReaderState.EMPTY)

    async def stop(self) -> None:
        await self.reader.stop()
        if self._placed:
            ask("Take the card off the reader.")

    async def settle(self) -> None:
        await wait_for(f"the reader {self._expect.value}", lambda: self.reader.state() is self._expect)

    async def _place(self, instruction: str, kind: CardKind) -> None:
        before = len(self.sink.of(CardPlaced))
        ask(instruction)
        await wait_for("the card", lambda: len(self.sink.of(CardPlaced)) > before)
        self._placed, self._expect = True, ReaderState.CARD_PRESENT
        if self.reader.card_kind() is not kind:
            pytest.fail(f"asked for a {kind.value} card, the reader found a {self.reader.card_kind()}")

    async def place_my_number_card(self, pin: str = "1234", tries_left: int = 3) -> None:
        if self.pin is None:
            pytest.skip(f"set {ENV_PIN} to the test card's PIN to run the My Number card tests")
        self.reader.suite_pin = pin
        await self._place("Place the JPKI test card on the reader.", CardKind.MY_NUMBER)
        actual = self._last_tries = await self.reader.pin_tries_left()
        if actual != tries_left:
            pytest.skip(f"the test needs a card with {tries_left} tries left; the test card has {actual}")

    async def place_citizen_card(self, card_id: str) -> None:
        if os.environ.get(ENV_CITIZEN) != card_id:
            pytest.skip(f"the test needs citizen card {card_id}; set {ENV_CITIZEN} if you hold one")
        await self._place(f"Place the citizen card {card_id} on the reader.", CardKind.CITIZEN)

    async def place_unknown_card(self) -> None:
        await self._place("Place a card that is neither a My Number card nor a citizen card (a transit card).",
                          CardKind.UNKNOWN)

    async def lift_card(self) -> None:
        ask("Take the card off the reader.")
        self._placed, self._expect = False, ReaderState.EMPTY

    async def replace_card(self) -> None:
        before = len(self.sink.of(CardPlaced))
        ask("Take the card off the reader and put the same card back.")
        await wait_for("the card again", lambda: len(self.sink.of(CardPlaced)) > before)

    async def lift_during_next_operation(self) -> None:
        cannot_script("a card lifted exactly during the next command")

    async def unplug_reader(self) -> None:
        ask("Unplug the card reader's USB cable (leave the card on it).")
        self._expect = ReaderState.NO_READER

    async def plug_in_reader(self) -> None:
        ask("Plug the card reader back in.")
        self._expect = ReaderState.CARD_PRESENT if self._placed else ReaderState.EMPTY

    def tries_left_on_card(self) -> int:
        """An empty VERIFY sent on the driver's own exclusive session (a blocking call of a few milliseconds: the
        suite asks synchronously, and no other program may open the card while the driver holds it)."""
        session = self.reader._session
        if session is not None and session.apps is not None:
            self._last_tries = session.apps.pin_tries_left()
        if self._last_tries is None:
            pytest.fail("the suite asked for the card's counter before a card was read")
        return self._last_tries  # no session (reader unplugged): an unpowered chip keeps its count
