"""ID-003 framing: the published CRC vectors, SYNC hunting, and a fuzz that no damaged input yields a frame."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from hal.notes import id003_emulator as peer
from hal.notes.id003_frames import (
    ACK, INVALID_COMMAND, SET_ENABLE, SET_INHIBIT, STACK_1, STACKING, STATUS_REQUEST, VEND_VALID, Corrupt, Frame,
    build_frame, crc16_kermit, enable_mask, find_frame, find_reply, parse_currency_assign,
)


@pytest.mark.parametrize("command, data, wire", [
    (0x11, b"", "fc 05 11 27 56"),  # status request (device-protocols.md §2.1)
    (0x40, b"", "fc 05 40 2b 15"),  # reset
    (0x50, b"", "fc 05 50 aa 05"),  # ack
    (0x41, b"", "fc 05 41 a2 04"),  # stack-1
    (0xC3, b"\x00", "fc 06 c3 00 04 d6"),  # uninhibit
    (0xC3, b"\x01", "fc 06 c3 01 8d c7"),  # inhibit
])
def test_frames_match_the_published_vectors(command, data, wire):
    assert build_frame(command, data).hex(" ") == wire


def test_the_crc_is_kermit():
    assert crc16_kermit(b"123456789") == 0x2189


def test_noise_before_a_frame_is_skipped_and_a_bad_crc_is_dropped():
    escrow = build_frame(0x13, b"\x63")
    assert find_frame(b"\x00\x05\xfc\x33" + escrow) == Frame(0x13, b"\x63")  # a false SYNC with a long LNG
    damaged = escrow[:-1] + bytes([escrow[-1] ^ 1])
    assert find_frame(damaged) == Corrupt(1)
    assert find_frame(damaged + escrow) == Frame(0x13, b"\x63")
    assert find_frame(escrow[:4]) is None  # not complete yet: read on


@pytest.mark.parametrize("command, line, reply", [
    (STATUS_REQUEST, [(ACK, b""), (STACKING, b"")], Frame(STACKING)),  # a late ACK to STACK-1, then the state
    (STACK_1, [(STACKING, b""), (ACK, b"")], Frame(ACK)),  # a late state, then the ACK
    (SET_INHIBIT, [(ACK, b""), (SET_INHIBIT, b"\x01")], Frame(ACK)),  # a setting may be ACKed (taken as its answer)
    (SET_INHIBIT, [(SET_ENABLE, b"\x00\x00"), (SET_INHIBIT, b"\x01")], Frame(SET_INHIBIT, b"\x01")),
    (0x8A, [(STACKING, b""), (0x8A, b"\x61\x00\x01\x03")], Frame(0x8A, b"\x61\x00\x01\x03")),
    (STACK_1, [(INVALID_COMMAND, b"")], Frame(INVALID_COMMAND)),  # an answer about the request itself
    (STATUS_REQUEST, [(ACK, b"")], None),  # only a late answer so far: read on
    (STATUS_REQUEST, [(0x1C, b"")], Frame(0x1C)),  # a state this driver does not know is still a state
])
def test_a_late_answer_to_an_earlier_command_is_passed_over(command, line, reply):
    """ID-003 frames carry no sequence number: after a timeout, the answer to the command given up on can arrive in
    front of the next command's answer.  Only a frame of the kind the command is answered with counts."""
    assert find_reply(b"".join(build_frame(code, data) for code, data in line), command) == reply


def test_the_currency_table_and_the_enable_mask():
    table = parse_currency_assign(bytes([0x61, 8, 1, 3, 0x62, 8, 2, 3, 0x63, 8, 0, 0, 0x64, 8, 1, 4]))
    assert table == {0x61: 1000, 0x62: 2000, 0x64: 10000}
    with pytest.raises(ValueError):
        parse_currency_assign(b"\x61\x08\x01")
    assert enable_mask({0x61, 0x63}) == bytes([0b11111010, 0xFF])
    assert enable_mask(set()) == b"\xff\xff"


def test_the_emulator_agrees_on_the_crc():
    """The emulator's bitwise CRC is written separately from the driver's table CRC; they must agree."""
    for command, data in ((0x11, b""), (0x13, b"\x61"), (0x8A, bytes(range(16)))):
        assert peer.frame(command, data) == build_frame(command, data)


# -- fuzz -------------------------------------------------------------------------------------------------------


def _on_the_wire(frame: Frame, buffer: bytes) -> bool:
    return build_frame(frame.code, frame.data) in buffer


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_and_never_invent_a_frame(buffer):
    found = find_frame(buffer)
    assert found is None or isinstance(found, Corrupt) or _on_the_wire(found, buffer)


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=40), data=st.binary(max_size=8), cut=st.integers(1, 12))
def test_a_truncated_frame_is_never_taken(noise, data, cut):
    frame = build_frame(VEND_VALID, data)
    found = find_frame(noise + frame[:max(len(frame) - cut, 0)])
    assert not (isinstance(found, Frame) and found.code == VEND_VALID and found.data == data) or \
        _on_the_wire(found, noise)


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=20), position=st.integers(0, 100), flip=st.integers(1, 255))
def test_a_damaged_vend_valid_is_never_a_vend_valid(noise, position, flip):
    """No phantom credit: one corrupted byte anywhere in VEND VALID and no VEND VALID comes out."""
    frame = bytearray(build_frame(VEND_VALID))
    frame[position % len(frame)] ^= flip
    buffer = noise + bytes(frame)
    found = find_frame(buffer)
    if isinstance(found, Frame):
        assert _on_the_wire(found, buffer)
        assert found.code != VEND_VALID or _on_the_wire(found, noise)
