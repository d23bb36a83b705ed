"""The PC/SC driver at the wire: the real pcscd with Debian's vpcd, the project's virtual card as a separate process,
and what the card saw (its journal of command headers) checked against the published JPKI sequences.

The conformance suite (tests/contracts) runs the contract's rules over the same world; these tests cover what only
a real driver has: chunked reads, the PIN counter's wire form, the blocked-card variants, cards told apart by
their applications, a card leaving mid-read, pcscd going away and coming back, and exclusive access.
"""
from __future__ import annotations

import asyncio
import logging
import signal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hal.card.contract import (
    CardError, CardKind, CardPlaced, CardRemoved, CardRemovedError, Pin, PinBlockedError, ReaderState,
    ReaderStateChanged, digest_info_sha256,
)
from hal.card.testcards import make_citizen_card, make_test_card, make_unknown_card
from hal.events import DeviceUnavailable
from tests.contracts.pcsc_harness import PcscCardReaderHarness
from tests.support.pcsc import READER, READERS, require_pcsc_world

SELECT_AID, SELECT_EF, READ_BINARY, VERIFY, SIGN = (0x00, 0xA4, 0x04, 0x0C), (0x00, 0xA4, 0x02, 0x0C), 0xB0, 0x20, 0x2A
JPKI_CONTACT_ATR = "3BE000FF8131FE4514"


@pytest.fixture
def world():
    return require_pcsc_world()


def run(body, **reader_options) -> None:
    async def main():
        harness = PcscCardReaderHarness(**reader_options)
        await harness.start()
        try:
            await body(harness)
        finally:
            await harness.stop()
    asyncio.run(main())


def journal(h: PcscCardReaderHarness) -> list[tuple]:
    return [tuple(c) for c in h.card("journal")["commands"]]


def test_the_certificate_is_read_in_chunks_from_its_der_length_and_tries_spend_nothing(world):
    async def body(h: PcscCardReaderHarness):
        card = make_test_card(tries_left=2)
        await h.place_card(card)
        assert await h.reader.read_auth_certificate() == card.certificate
        assert await h.reader.pin_tries_left() == 2
        seen = journal(h)
        assert seen[0][:4] == SELECT_AID  # identified by its application at placement
        reads = [((c[2] << 8) | c[3], c[5]) for c in seen if c[1] == READ_BINARY]
        total = len(card.certificate)
        expected, offset = [(0, 4)], 4
        while offset < total:
            expected.append((offset, min(100, total - offset)))
            offset += 100
        assert reads == expected
        assert seen[-2][:4] == SELECT_EF and seen[-1] == (0x00, VERIFY, 0x00, 0x80, 0, None)  # case 1: no data
        assert h.tries_left_on_card() == 2
    run(body, read_chunk=100)


@pytest.mark.parametrize("blocked_sw", ["63C0", "6983", "6984"])
def test_a_blocked_card_is_never_sent_a_pin_whatever_it_answers(world, blocked_sw, caplog):
    async def body(h: PcscCardReaderHarness):
        await h.place_card(make_test_card(pin="1234", tries_left=0), blocked_sw=blocked_sw)
        assert await h.reader.pin_tries_left() == 0
        with pytest.raises(PinBlockedError) as blocked:
            await h.reader.verify_pin(Pin("9876"))
        assert blocked.value.status_word == int(blocked_sw, 16)
        assert not [c for c in journal(h) if c[1] == VERIFY and c[4] > 0]
        assert h.tries_left_on_card() == 0
    with caplog.at_level(logging.DEBUG):
        run(body)
    assert "9876" not in caplog.text and "39383736" not in caplog.text.replace(" ", "")


def test_cards_are_told_apart_by_their_applications_not_their_atr(world):
    async def body(h: PcscCardReaderHarness):
        await h.place_card(make_unknown_card(), atr=JPKI_CONTACT_ATR)  # a transit card wearing the JPKI ATR
        assert h.reader.card_kind() is CardKind.UNKNOWN
        await h.lift_card()
        await h.settle()
        await h.place_card(make_test_card(), atr="3B8880010000000000000000" + "09")  # contactless, made-up ATR
        assert h.reader.card_kind() is CardKind.MY_NUMBER
        await h.lift_card()
        await h.settle()
        await h.place_card(make_citizen_card("C0000042"))
        with pytest.raises(CardError) as no_jpki:
            await h.reader.read_auth_certificate()
        assert no_jpki.value.status_word == 0x6A82 and not isinstance(no_jpki.value, CardRemovedError)
        assert await h.reader.citizen_card_id() == "C0000042"
    run(body)


def test_a_card_lifted_in_the_middle_of_the_certificate_is_one_removal_and_the_next_card_works(world):
    async def body(h: PcscCardReaderHarness):
        card = make_test_card()
        await h.place_card(card)
        h.card("lift_on_next_command", after=3)  # SELECT AP, SELECT EF, READ 4 bytes, then gone
        h._expect, h._placed = ReaderState.EMPTY, False
        with pytest.raises(CardRemovedError):
            await h.reader.read_auth_certificate()
        await h.settle()
        await asyncio.sleep(0.5)  # pcscd's next presence polls must not report it again
        assert len(h.sink.of(CardRemoved)) == 1 and h.reader.state() is ReaderState.EMPTY
        await h.place_card(card)
        assert await h.reader.read_auth_certificate() == card.certificate
    run(body)


def test_the_supervisor_outlives_pcscd_stopped_and_killed(world):
    async def body(h: PcscCardReaderHarness):
        card = make_test_card()
        await h.place_card(card)
        for stop in ("SIGTERM", "SIGKILL"):
            placed = len(h.sink.of(CardPlaced))
            if stop == "SIGTERM":
                await h.unplug_reader()
            else:
                h.world.pcscd.send_signal(signal.SIGKILL)
                h.world.pcscd.wait()
                h._expect = ReaderState.NO_READER
            await h.settle()
            assert h.sink.of(ReaderStateChanged)[-1].state is ReaderState.NO_READER
            with pytest.raises(DeviceUnavailable, match="card_reader: no card reader"):
                await h.reader.read_auth_certificate()
            await h.plug_in_reader()
            await h.settle()
            assert len(h.sink.of(CardPlaced)) == placed + 1  # the card still lying there is found again
            assert await h.reader.read_auth_certificate() == card.certificate
    run(body)


def test_the_card_is_held_exclusively_and_a_card_held_by_another_program_is_a_fault(world):
    from smartcard import scard

    from hal.card.pcsc import PcscCardReader

    async def body(h: PcscCardReaderHarness):
        hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert hr == scard.SCARD_S_SUCCESS
        try:
            await h.place_my_number_card()
            hr, _, _ = scard.SCardConnect(context, READERS[h.slot], scard.SCARD_SHARE_SHARED,
                                          scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            assert hr == scard.SCARD_E_SHARING_VIOLATION
            await h.lift_card()
            await h.settle()
            # another program holds the next card when the kiosk starts: the kiosk must not talk over it
            await h.reader.stop()
            h.card("place", card=str(h._card_path))
            handle = None
            for _ in range(200):
                hr, handle, _ = scard.SCardConnect(context, READERS[h.slot], scard.SCARD_SHARE_EXCLUSIVE,
                                                   scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
                if hr == scard.SCARD_S_SUCCESS:
                    break
                await asyncio.sleep(0.01)
            assert hr == scard.SCARD_S_SUCCESS
            h.reader = PcscCardReader("card_reader", reader=READERS[h.slot], poll_interval=0.1, retry_interval=0.05)
            await h.reader.start(h.sink)
            h._placed, h._expect = True, ReaderState.FAULT
            await h.settle()
            with pytest.raises(CardError, match="cannot talk to the card"):
                await h.reader.pin_tries_left()
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            h._expect = ReaderState.CARD_PRESENT
            await h.settle()
            assert await h.reader.pin_tries_left() == 3
        finally:
            scard.SCardReleaseContext(context)
    run(body)


def test_a_card_that_answers_through_get_response_still_signs(world):
    async def body(h: PcscCardReaderHarness):
        card = make_test_card(pin="1234")
        await h.place_card(card, chained=True)
        certificate = await h.reader.read_auth_certificate()
        assert certificate == card.certificate
        assert (await h.reader.verify_pin(Pin("1234"))).accepted
        signature = await h.reader.sign(digest_info_sha256(b"challenge"))
        x509.load_der_x509_certificate(certificate).public_key().verify(
            signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())
        assert any(c[1] == 0xC0 for c in journal(h)) and any(c[1] == SIGN and c[0] == 0x80 for c in journal(h))
    run(body)


def test_start_names_the_device_and_the_reader_when_they_are_missing(world):
    from hal.card.pcsc import PcscCardReader

    async def body():
        with pytest.raises(DeviceUnavailable) as missing:
            await PcscCardReader("card_reader", reader="PaSoRi RC-S300").start(None)
        assert str(missing.value).startswith("card_reader: reader 'PaSoRi RC-S300' is not attached")
        assert "Virtual PCD 00 00" in str(missing.value)
        world.stop_pcscd()
        try:
            with pytest.raises(DeviceUnavailable, match=r"card_reader: the PC/SC service \(pcscd\) is not running"
                                                        r".*'Virtual PCD 00 00'"):
                await PcscCardReader("card_reader", reader=READER).start(None)
        finally:
            world.start_pcscd()
    asyncio.run(body())


def test_the_factory_builds_the_pcsc_driver_from_configuration_and_explains_mistakes():
    from hal.card.pcsc import PcscCardReader
    from hal.factory import DeviceConfigError, build_device

    by_name = build_device("card_reader", {"driver": "pcsc", "reader": "RC-S300", "read_chunk": 128})
    assert isinstance(by_name, PcscCardReader) and by_name.reader_spec == "RC-S300" and by_name.read_chunk == 128
    assert build_device("card_reader", {"driver": "pcsc", "reader": 1}).reader_spec == 1
    assert build_device("card_reader", {"driver": "pcsc"}).reader_spec is None  # the first reader pcscd lists
    for table, message in [({"reader": -1}, "reader must be"), ({"reader": ""}, "reader must be"),
                           ({"reader": True}, "reader must be"), ({"read_chunk": 300}, "read_chunk must be 1..256"),
                           ({"reader_name": "x"}, "unknown key reader_name")]:
        with pytest.raises(DeviceConfigError, match=message):
            build_device("card_reader", {"driver": "pcsc", **table})


def test_the_demo_command_line_puts_a_card_on_the_reader_until_it_is_stopped(world, tmp_path):
    import os
    import subprocess
    import sys

    from hal.card.contract import CardRemoved as Removed
    from hal.card.testcards import write_card_file
    from tests.support.pcsc import REPO

    card = write_card_file(make_citizen_card("C0000007"), tmp_path, "citizen")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    refused = subprocess.run([sys.executable, "-m", "hal.card.vcard", "--card", str(bad), "--port", "1"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "is not a card" in refused.stderr

    async def body(h: PcscCardReaderHarness):
        demo = subprocess.Popen([sys.executable, "-m", "hal.card.vcard", "--card", str(card),
                                 "--port", str(world.port + h.slot)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            await h._until(lambda: h.reader.card_kind() is CardKind.CITIZEN, "the demo card")
            assert await h.reader.citizen_card_id() == "C0000007"
        finally:
            demo.terminate()
            assert demo.wait(timeout=10) == 0
        await h._until(lambda: h.sink.of(Removed), "the demo card to be lifted when the program stops")
    run(body)
