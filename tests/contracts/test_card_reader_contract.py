"""Conformance: any CardReader (simulator or real driver) keeps the JPKI card's rules."""
from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings, strategies as st

from hal.card.contract import (
    CardError, CardKind, CardPlaced, CardReader, CardRemoved, CardRemovedError, Pin, PinBlockedError,
    ReaderState, ReaderStateChanged, digest_info_sha256,
)
from hal.events import DeviceUnavailable

from .harness import CardReaderHarness, exercise

RIGHT, WRONG = "1234", "9876"


def test_the_reader_fulfils_the_protocol(card_harness):
    async def body(h: CardReaderHarness):
        assert isinstance(h.reader, CardReader)
    exercise(card_harness, body)


def test_placing_and_lifting_a_card_is_reported(card_harness):
    async def body(h: CardReaderHarness):
        assert h.reader.state() is ReaderState.EMPTY and h.reader.card_kind() is None
        await h.place_my_number_card()
        await h.settle()
        assert h.reader.state() is ReaderState.CARD_PRESENT
        assert h.reader.card_kind() is CardKind.MY_NUMBER
        assert h.sink.of(CardPlaced)[-1].kind is CardKind.MY_NUMBER
        await h.lift_card()
        await h.settle()
        assert h.reader.state() is ReaderState.EMPTY and h.reader.card_kind() is None
        assert len(h.sink.of(CardRemoved)) == 1
    exercise(card_harness, body)


def test_the_auth_certificate_is_read_without_a_pin_and_holds_an_rsa_2048_key(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card()
        cert = x509.load_der_x509_certificate(await h.reader.read_auth_certificate())
        key = cert.public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
        assert h.tries_left_on_card() == 3
    exercise(card_harness, body)


def test_asking_for_the_tries_left_never_spends_one(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(tries_left=2)
        for _ in range(5):
            assert await h.reader.pin_tries_left() == 2
        assert h.tries_left_on_card() == 2
    exercise(card_harness, body)


def test_wrong_pins_count_down_and_the_third_blocks_the_card(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        results = [await h.reader.verify_pin(Pin(WRONG)) for _ in range(3)]
        assert [(r.accepted, r.tries_left) for r in results] == [(False, 2), (False, 1), (False, 0)]
        assert results[-1].blocked and not results[0].blocked
        with pytest.raises(PinBlockedError):
            await h.reader.verify_pin(Pin(RIGHT))  # even the right PIN: a blocked card stays blocked
        assert await h.reader.pin_tries_left() == 0
        assert h.tries_left_on_card() == 0
    exercise(card_harness, body)


def test_a_blocked_card_refuses_a_pin_without_counting(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(tries_left=0)
        with pytest.raises(PinBlockedError):
            await h.reader.verify_pin(Pin(WRONG))
        assert h.tries_left_on_card() == 0
    exercise(card_harness, body)


def test_the_right_pin_restores_all_three_tries(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT, tries_left=3)
        assert (await h.reader.verify_pin(Pin(WRONG))).tries_left == 2
        result = await h.reader.verify_pin(Pin(RIGHT))
        assert result.accepted and result.tries_left == 3 and not result.blocked
        assert await h.reader.pin_tries_left() == 3
    exercise(card_harness, body)


def test_the_card_remembers_its_counter_when_it_is_placed_again(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        await h.reader.verify_pin(Pin(WRONG))
        await h.replace_card()
        assert await h.reader.pin_tries_left() == 2
    exercise(card_harness, body)


def test_a_signature_verifies_with_the_certificate_key(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        cert = x509.load_der_x509_certificate(await h.reader.read_auth_certificate())
        assert (await h.reader.verify_pin(Pin(RIGHT))).accepted
        challenge = b"server challenge 0001"
        signature = await h.reader.sign(digest_info_sha256(challenge))
        assert len(signature) == 256
        cert.public_key().verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    exercise(card_harness, body)


def test_signing_needs_a_pin_verified_in_this_card_session(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        with pytest.raises(CardError):
            await h.reader.sign(digest_info_sha256(b"x"))
        await h.reader.verify_pin(Pin(RIGHT))
        await h.reader.verify_pin(Pin(WRONG))  # a wrong PIN after a right one withdraws the permission
        with pytest.raises(CardError):
            await h.reader.sign(digest_info_sha256(b"x"))
        await h.reader.verify_pin(Pin(RIGHT))
        await h.replace_card()  # lifting the card ends the session
        with pytest.raises(CardError):
            await h.reader.sign(digest_info_sha256(b"x"))
    exercise(card_harness, body)


@pytest.mark.parametrize("data", [
    bytes.fromhex("3021300906052b0e03021a05000414") + bytes(20),  # a SHA-1 DigestInfo
    bytes(32),  # a bare hash, no DigestInfo
    digest_info_sha256(b"x") + b"\x00",  # one byte too long
], ids=["sha1", "bare-hash", "too-long"])
def test_the_card_signs_only_a_sha256_digest_info(card_harness, data):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        await h.reader.verify_pin(Pin(RIGHT))
        with pytest.raises(CardError):
            await h.reader.sign(data)
    exercise(card_harness, body)


def test_a_card_lifted_during_a_signature_is_reported_and_raises(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        await h.reader.verify_pin(Pin(RIGHT))
        await h.lift_during_next_operation()
        with pytest.raises(CardRemovedError):
            await h.reader.sign(digest_info_sha256(b"x"))
        await h.settle()
        assert h.reader.state() is ReaderState.EMPTY
        assert len(h.sink.of(CardRemoved)) == 1
    exercise(card_harness, body)


def test_an_unplugged_reader_is_unavailable_until_plugged_in(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT)
        await h.unplug_reader()
        await h.settle()
        assert h.reader.state() is ReaderState.NO_READER
        assert h.sink.of(ReaderStateChanged)[-1].state is ReaderState.NO_READER
        for operation in (h.reader.pin_tries_left(), h.reader.read_auth_certificate(),
                          h.reader.verify_pin(Pin(RIGHT))):
            with pytest.raises(DeviceUnavailable):
                await operation
        assert h.tries_left_on_card() == 3
        await h.plug_in_reader()
        await h.settle()
        assert h.reader.state() is ReaderState.CARD_PRESENT
        assert await h.reader.pin_tries_left() == 3
    exercise(card_harness, body)


def test_a_citizen_card_gives_its_id_and_has_no_jpki(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_citizen_card("C0000042")
        await h.settle()
        assert h.reader.card_kind() is CardKind.CITIZEN
        assert await h.reader.citizen_card_id() == "C0000042"
        with pytest.raises(CardError):
            await h.reader.read_auth_certificate()
        with pytest.raises(CardError):
            await h.reader.verify_pin(Pin(RIGHT))
    exercise(card_harness, body)


def test_an_unknown_card_is_neither(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_unknown_card()
        await h.settle()
        assert h.reader.card_kind() is CardKind.UNKNOWN
        with pytest.raises(CardError):
            await h.reader.citizen_card_id()
        with pytest.raises(CardError):
            await h.reader.pin_tries_left()
    exercise(card_harness, body)


def test_card_commands_without_a_card_raise_card_errors(card_harness):
    async def body(h: CardReaderHarness):
        with pytest.raises(CardError):
            await h.reader.pin_tries_left()
        with pytest.raises(CardError):
            await h.reader.sign(digest_info_sha256(b"x"))
    exercise(card_harness, body)


def test_the_pin_shows_nowhere(card_harness):
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT, tries_left=1)
        await h.reader.verify_pin(Pin(WRONG))
        with pytest.raises(PinBlockedError) as blocked:
            await h.reader.verify_pin(Pin(WRONG))
        seen = [repr(h.reader), str(blocked.value), repr(blocked.value)] + [repr(e) for e in h.sink.events]
        assert not any(WRONG in text for text in seen)
    exercise(card_harness, body)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts=st.lists(st.booleans(), max_size=6), start=st.integers(min_value=0, max_value=3))
def test_the_pin_counter_follows_the_jpki_rules(card_harness, attempts, start):
    """Any sequence of right (True) and wrong (False) PINs: the card answers as the JPKI model says."""
    async def body(h: CardReaderHarness):
        await h.place_my_number_card(pin=RIGHT, tries_left=start)
        tries = start
        for right in attempts:
            if tries == 0:
                with pytest.raises(PinBlockedError):
                    await h.reader.verify_pin(Pin(RIGHT if right else WRONG))
                continue
            tries = 3 if right else tries - 1
            result = await h.reader.verify_pin(Pin(RIGHT if right else WRONG))
            assert (result.accepted, result.tries_left) == (right, tries)
        assert await h.reader.pin_tries_left() == tries == h.tries_left_on_card()
    exercise(card_harness, body)
