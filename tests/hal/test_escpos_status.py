"""The project's reading of ESC/POS status replies: known bytes, then fuzzing (no crash, no phantom "paper taken")."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hal.printer.contract import DocumentTaken, PrinterState
from hal.printer.escpos_printer import EscposPrinter
from hal.printer.escpos_status import (
    StatusReplyError, parse_full_status, parse_realtime, parse_status, query, queries_for,
)

OK = {1: b"\x12", 2: b"\x12", 3: b"\x12", 4: b"\x12"}


def realtime(**bits) -> dict[int, bytes]:
    replies = dict(OK)
    for n, value in bits.items():
        replies[int(n[1:])] = bytes([0x12 | value])
    return replies


def test_the_queries_are_dle_eot_n():
    assert query(4) == b"\x10\x04\x04" and query(20) == b"\x10\x04\x14"
    assert queries_for("realtime") == ((1, 1), (2, 1), (3, 1), (4, 1))
    assert queries_for("custom-full") == ((20, 6),)
    with pytest.raises(ValueError):
        query(5)


@pytest.mark.parametrize("replies, state, paper_low", [
    (OK, PrinterState.READY, False),
    (realtime(n4=0x0C), PrinterState.READY, True),  # near end: bits 2-3
    (realtime(n4=0x60, n2=0x20, n1=0x08), PrinterState.PAPER_OUT, False),  # paper end: bits 5-6, offline
    (realtime(n2=0x04, n1=0x08), PrinterState.COVER_OPEN, False),
    (realtime(n2=0x40, n3=0x08, n1=0x08), PrinterState.JAMMED, False),  # autocutter error
    (realtime(n2=0x40, n3=0x20, n1=0x08), PrinterState.OFFLINE, False),  # unrecoverable
    (realtime(n1=0x08), PrinterState.OFFLINE, False),  # offline for no reason given
])
def test_realtime_replies_read_as_the_epson_reference_says(replies, state, paper_low):
    status = parse_status("realtime", replies)
    assert status.state is state and status.paper_low is paper_low and status.document_waiting is False


@pytest.mark.parametrize("reply", [b"", b"\x12\x12", b"\x92", b"\x13", b"\x02", b"\x10"])
def test_a_realtime_reply_that_breaks_the_fixed_bits_is_refused(reply):
    with pytest.raises(StatusReplyError):
        parse_realtime({**OK, 4: reply})


@pytest.mark.parametrize("reply, state, low, waiting", [
    (b"\x10\x0f\x00\x00\x00\x00", PrinterState.READY, False, False),
    (b"\x10\x0f\x20\x00\x00\x00", PrinterState.READY, False, True),  # bit 5: ticket in the output
    (b"\x10\x0f\x04\x00\x00\x00", PrinterState.READY, True, False),
    (b"\x10\x0f\x01\x00\x00\x00", PrinterState.PAPER_OUT, False, False),
    (b"\x10\x0f\x45\x00\x00\x00", PrinterState.PAPER_OUT, False, False),  # virtual paper end too
    (b"\x10\x0f\x00\x02\x00\x00", PrinterState.COVER_OPEN, False, False),
    (b"\x10\x0f\x00\x01\x00\x00", PrinterState.COVER_OPEN, False, False),  # head up
    (b"\x10\x0f\x00\x00\x04\x00", PrinterState.JAMMED, False, False),
    (b"\x10\x0f\x20\x02\x00\x08", PrinterState.OFFLINE, False, True),
])
def test_the_kpm216h_full_status_reads_paper_outlet_cover_and_errors(reply, state, low, waiting):
    status = parse_status("custom-full", {20: reply})
    assert (status.state, status.paper_low, status.document_waiting) == (state, low, waiting)


@pytest.mark.parametrize("reply", [b"", b"\x10\x0f\x20\x00\x00", b"\x10\x0f\x00\x00\x00\x00\x00",
                                   b"\x0f\x10\x00\x00\x00\x00", b"\x10\x0e\x00\x00\x00\x00", b"\x12" * 6])
def test_a_full_status_that_is_not_exactly_10_0f_and_four_bytes_is_refused(reply):
    with pytest.raises(StatusReplyError):
        parse_full_status(reply)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.binary(max_size=3), min_size=0, max_size=4))
def test_fuzz_realtime_replies_never_crash_and_garbage_is_never_a_status(replies):
    try:
        status = parse_status("realtime", replies)
    except StatusReplyError:
        return
    assert set(replies) == {1, 2, 3, 4}
    assert all(len(r) == 1 and r[0] & 0x93 == 0x12 for r in replies.values())
    assert status.document_waiting is False


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=12), st.binary(min_size=4, max_size=4).map(lambda b: b"\x10\x0f" + b)))
def test_fuzz_full_status_never_crashes_and_only_a_whole_frame_reads(reply):
    try:
        status = parse_status("custom-full", {20: reply})
    except StatusReplyError:
        assert len(reply) != 6 or reply[:2] != b"\x10\x0f"
        return
    assert len(reply) == 6 and reply[:2] == b"\x10\x0f"
    assert status.document_waiting == bool(reply[2] & 0x20)


class ScriptedLink:
    """A stand-in wire for one unit test of the driver's belief: each query gets the next scripted reply."""

    where = "test link"

    def __init__(self, replies: list[bytes]):
        self.replies = list(replies)

    def open(self): pass

    def close(self): pass

    def discard_input(self): pass

    def write(self, data: bytes): pass

    def read(self, count: int, timeout: float) -> bytes:
        return self.replies.pop(0) if self.replies else b""


WAITING = b"\x10\x0f\x20\x00\x00\x00"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=6))
def test_fuzz_no_phantom_paper_taken_from_garbage_replies(noise):
    """A sheet lies in the outlet; whatever noise comes back, DocumentTaken comes only from a whole, valid frame
    whose outlet bit is clear."""
    def valid_and_empty(reply: bytes) -> bool:
        return len(reply) == 6 and reply[:2] == b"\x10\x0f" and not reply[2] & 0x20

    events = []

    async def sink(event):
        events.append(event)

    async def main():
        printer = EscposPrinter(ScriptedLink([WAITING, *noise]), poll_interval=None, max_bad_replies=2)
        await printer.start(sink)
        for _ in noise:
            await printer.status()
    asyncio.run(main())
    taken = [e for e in events if isinstance(e, DocumentTaken)]
    assert len(taken) <= sum(valid_and_empty(r) for r in noise)  # each one needs a real "outlet empty" frame
    if not any(valid_and_empty(r) for r in noise):
        assert taken == []


def test_a_full_status_reading_says_when_the_printer_is_still_printing():
    from hal.printer.escpos_status import parse_reading, reports_busy
    idle = parse_reading("custom-full", {20: bytes([0x10, 0x0F, 0, 0, 0, 0])})
    spooling = parse_reading("custom-full", {20: bytes([0x10, 0x0F, 0, 0x04, 0, 0])})
    motor = parse_reading("custom-full", {20: bytes([0x10, 0x0F, 0, 0x08, 0, 0])})
    assert idle.busy is False and spooling.busy is True and motor.busy is True
    assert spooling.status.can_print  # still printing is not a fault
    plain = parse_reading("realtime", {n: b"\x12" for n in (1, 2, 3, 4)})
    assert plain.busy is None and reports_busy("custom-full") and not reports_busy("realtime")
