"""The PC/SC driver's reader supervisor alone, over a fake PC/SC layer (a unit test of one class): a USB reader that
vanishes while pcscd keeps running, and comes back under a new name, which the vpcd world cannot show (vpcd's
readers live as long as pcscd).  The card behind the fake reader is the virtual card's chip."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from smartcard import scard as real

import hal.card.pcsc as pcsc
from hal.card.contract import CardKind, CardPlaced, ReaderState, ReaderStateChanged
from hal.card.testcards import make_test_card
from hal.card.vcard.card import VirtualCard
from hal.events import DeviceUnavailable

OK = real.SCARD_S_SUCCESS


class FakePcsc:
    """Just enough of ``smartcard.scard`` for the supervisor: readers that come and go, one card."""

    def __init__(self, reader: str):
        self.readers = [reader]
        self.chip: VirtualCard | None = None
        self.count = 0
        self.changed = threading.Condition()

    def __getattr__(self, name):  # the constants
        return getattr(real, name)

    def world(self, readers=None, chip="keep") -> None:
        with self.changed:
            if readers is not None:
                self.readers = readers
            if chip != "keep":
                self.chip, self.count = chip, self.count + 1
            self.changed.notify_all()

    def _state(self, reader: str) -> int:
        return (self.count << 16) | (real.SCARD_STATE_PRESENT if self.chip else real.SCARD_STATE_EMPTY)

    def SCardEstablishContext(self, scope):
        return OK, 1

    def SCardReleaseContext(self, context):
        return OK

    def SCardCancel(self, context):
        self.world()
        return OK

    def SCardGetErrorMessage(self, hr):
        return "fake"

    def SCardListReaders(self, context, groups):
        return (OK, list(self.readers)) if self.readers else (real.SCARD_E_NO_READERS_AVAILABLE, [])

    def SCardGetStatusChange(self, context, timeout_ms, states):
        reader, known = states[0]
        deadline = time.monotonic() + timeout_ms / 1000
        with self.changed:
            while True:
                if reader not in self.readers:
                    return real.SCARD_E_UNKNOWN_READER, [(reader, real.SCARD_STATE_UNKNOWN, [])]
                state = self._state(reader)
                if state != known & ~real.SCARD_STATE_CHANGED:
                    return OK, [(reader, state | real.SCARD_STATE_CHANGED, [])]
                left = deadline - time.monotonic()
                if left <= 0:
                    return real.SCARD_E_TIMEOUT, states
                self.changed.wait(left)

    def SCardConnect(self, context, reader, share, protocols):
        if reader not in self.readers:
            return real.SCARD_E_UNKNOWN_READER, 0, 0
        if self.chip is None:
            return real.SCARD_E_NO_SMARTCARD, 0, 0
        self.chip.power_on()
        return OK, 7, real.SCARD_PROTOCOL_T1

    def SCardTransmit(self, handle, protocol, command):
        if self.chip is None:
            return real.SCARD_W_REMOVED_CARD, []
        if not self.readers:
            return real.SCARD_E_READER_UNAVAILABLE, []
        return OK, list(self.chip.process(bytes(command)))

    def SCardStatus(self, handle):
        return (OK, "", 0x34, 2, []) if self.chip else (real.SCARD_W_REMOVED_CARD, "", 0, 0, [])

    def SCardDisconnect(self, handle, disposition):
        return OK


@pytest.fixture
def fake(monkeypatch):
    fake = FakePcsc("SONY FeliCa RC-S300/P 00 00")
    monkeypatch.setattr(pcsc, "scard", fake)
    return fake


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"waited for {what}"
        await asyncio.sleep(0.01)


def test_a_usb_reader_pulled_and_plugged_back_under_a_new_name_is_found_again(fake):
    async def main():
        events = []

        async def sink(event):
            events.append(event)
        reader = pcsc.PcscCardReader("card_reader", reader="RC-S300", poll_interval=0.05, retry_interval=0.02)
        fake.world(chip=VirtualCard(make_test_card()))
        await reader.start(sink)
        await until(lambda: reader.card_kind() is CardKind.MY_NUMBER, "the card")
        fake.world(readers=[])  # the USB cable is pulled; pcscd keeps running
        await until(lambda: reader.state() is ReaderState.NO_READER, "no reader")
        with pytest.raises(DeviceUnavailable, match="no card reader"):
            await reader.pin_tries_left()
        fake.world(readers=["SONY FeliCa RC-S300/P 01 00"])  # pcscd numbers the reader anew
        await until(lambda: reader.state() is ReaderState.CARD_PRESENT, "the reader and its card again")
        assert await reader.pin_tries_left() == 3
        await reader.stop()
        states = [e.state for e in events if isinstance(e, ReaderStateChanged)]
        assert ReaderState.NO_READER in states and states[-1] is ReaderState.CARD_PRESENT
        assert [e.kind for e in events if isinstance(e, CardPlaced)] == [CardKind.MY_NUMBER] * 2
    asyncio.run(main())


def test_a_card_lifted_between_two_commands_is_removed_once(fake):
    async def main():
        events = []

        async def sink(event):
            events.append(event)
        reader = pcsc.PcscCardReader("card_reader", poll_interval=0.05, retry_interval=0.02)
        fake.world(chip=VirtualCard(make_test_card()))
        await reader.start(sink)
        await until(lambda: reader.state() is ReaderState.CARD_PRESENT, "the card")
        fake.world(chip=None)
        with pytest.raises(pcsc.CardRemovedError):
            await reader.read_auth_certificate()
        await asyncio.sleep(0.2)
        await reader.stop()
        assert sum(type(e).__name__ == "CardRemoved" for e in events) == 1 and reader.state() is ReaderState.EMPTY
    asyncio.run(main())
