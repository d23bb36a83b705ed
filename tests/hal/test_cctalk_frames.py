"""ccTalk framing and the event-counter rules, with hypothesis fuzz: no crash, no invented frame, no phantom credit."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings, strategies as st

from hal.coins import cctalk_emulator as peer
from hal.coins.cctalk import CcTalkCoinAcceptor
from hal.coins.cctalk_frames import (
    Frame, Garbled, build_frame, counter_before, find_reply, new_events, parse_buffered_credit, parse_coin_id,
    split_echo,
)
from hal.coins.contract import CoinCredited, CoinEventsLost


@pytest.mark.parametrize("destination, header, wire", [
    (2, 254, "02 00 01 fe ff"), (3, 254, "03 00 01 fe fe"), (2, 229, "02 00 01 e5 18"),  # device-protocols.md §3.1
])
def test_frames_match_the_published_vectors(destination, header, wire):
    assert build_frame(destination, header).hex(" ") == wire


def test_a_checksum_of_a_round_sum_is_zero_not_256():
    frame = build_frame(1, 0, bytes([255, 255, 254]), source=1)  # 1+3+1+0+764 = 769 → 769 % 256 = 1 → 255
    assert sum(frame) % 256 == 0 and all(b < 256 for b in frame)
    assert build_frame(0, 0, b"", source=0) == bytes(5)


def test_the_echo_is_checked_and_noise_before_the_reply_is_skipped():
    sent = build_frame(2, 229)
    reply = peer._frame(1, 2, 0, bytes(11))
    assert split_echo(sent + b"\x01\x07" + reply, sent, 2) == Frame(1, 2, 0, bytes(11))
    assert isinstance(split_echo(b"\x03" + sent[1:] + reply, sent, 2), Garbled)  # a collision
    assert split_echo(sent[:3], sent, 2) is None  # still echoing
    assert isinstance(find_reply(reply[:-1] + b"\x00", 2), Garbled)
    assert find_reply(reply, 3) is None or isinstance(find_reply(reply, 3), Garbled)  # not from that device


def test_event_counter_rules():
    assert new_events(102, 104) == 2 and new_events(255, 1) == 1 and new_events(0, 3) == 3
    assert new_events(250, 4) == 9 and counter_before(1, 1) == 255 and counter_before(4, 5) == 254
    with pytest.raises(ValueError):
        new_events(5, 0)


def test_coin_ids():
    assert parse_coin_id(b"JP500A") == ("JP", 500.0) and parse_coin_id(b"......") is None
    assert parse_coin_id(b"EU1K0A") == ("EU", 1000.0)
    with pytest.raises(ValueError):
        parse_coin_id(b"JPX00A")


# -- fuzz -------------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(2, 255))
def test_random_bytes_never_crash_and_never_invent_a_reply(buffer, source):
    found = find_reply(buffer, source)
    if isinstance(found, Frame):
        assert build_frame(found.destination, found.header, found.data, source=found.source) in buffer
        assert found.source == source and found.destination == 1


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=11, max_size=11), cut=st.integers(1, 15), flip=st.integers(1, 255),
       position=st.integers(0, 15))
def test_a_truncated_or_damaged_credit_reply_is_never_taken(data, cut, flip, position):
    reply = bytearray(peer._frame(1, 2, 0, data))
    assert find_reply(bytes(reply[:len(reply) - cut]), 2) is None
    reply[position % len(reply)] ^= flip
    found = find_reply(bytes(reply), 2)
    assert not (isinstance(found, Frame) and found.data == data)


class _Acceptor(CcTalkCoinAcceptor):
    """The acceptor's buffer logic alone (unit test of one class): no bus, inhibits not sent."""

    async def _apply_inhibits(self) -> None:
        pass


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.lists(st.tuples(st.integers(0, 20), st.integers(0, 255)),
                                                         min_size=5, max_size=5)), max_size=12))
def test_no_phantom_credit_from_any_sequence_of_buffers(buffers):
    """Whatever the acceptor reports, every credit is a coin event of a known position that the counter says is
    new, and never more credits than new events."""
    async def body():
        acceptor = _Acceptor("/dev/null", poll_interval=0.01)
        acceptor.positions = {1: 10, 2: 50, 3: 100, 4: 500}
        events = []

        async def sink(event):
            events.append(event)
        acceptor._sink = sink
        last = 0
        for counter, pairs in buffers:
            before = len([e for e in events if isinstance(e, CoinCredited)])
            seen = len(events)
            data = bytes([counter]) + bytes(x for pair in pairs for x in pair)
            await acceptor._on_buffer(parse_buffered_credit(data))
            credits = [e for e in events if isinstance(e, CoinCredited)][before:]
            if counter == last:
                assert not credits
            elif counter == 0:
                assert not credits and CoinEventsLost(acceptor.name, 0) in events[seen:]  # a reset: unknown
            else:
                new = min(new_events(last, counter), 5)
                coins = [pairs[age][0] for age in range(new - 1, -1, -1) if pairs[age][0]]
                assert len(credits) <= new
                assert [c.value for c in credits] == [acceptor.positions[a] for a in coins if a in acceptor.positions]
            last = counter
        ids = [e.credit_id for e in events if isinstance(e, CoinCredited)]
        assert len(ids) == len(set(ids))
    asyncio.run(body())
