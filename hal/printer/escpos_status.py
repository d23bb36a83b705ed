"""ESC/POS real-time status: the queries, and the project's own reading of the replies.

Two ways of asking, chosen by the printer model (``status = "realtime"`` or ``"custom-full"`` in the config):

``realtime`` — the Epson-class ``DLE EOT n`` queries, n = 1 … 4 (``10 04 n``).  Every reply is one byte of the
form ``0xx1xx10`` (bits 0, 1, 4, 7 fixed); a byte that does not fit is not a status reply and is refused.

* n=1 printer status: bit 3 offline.
* n=2 offline cause: bit 2 cover open, bit 3 paper being fed by the feed button, bit 5 printing stopped by paper
  end, bit 6 an error occurred.
* n=3 error cause (Epson reference): bit 2 recoverable (mechanical) error, bit 3 autocutter error, bit 5
  unrecoverable error, bit 6 automatically recoverable error.
* n=4 roll paper sensor: bits 2–3 near end, bits 5–6 paper end.

A plain ESC/POS printer has no outlet sensor, so ``document_waiting`` is always False in this mode, and none of
these bits says "still printing": :attr:`Reading.busy` is None (unknown).

``custom-full`` — the Custom KPM216H / KPM210 FULL STATUS, ``DLE EOT 20`` (``10 04 14``): six bytes
``10 0F <paper> <user> <recoverable> <unrecoverable>``.

* paper byte: bit 0 paper not present, bit 2 near paper end, **bit 5 ticket present in the output** (the sheet
  waits in the outlet), bit 6 virtual paper end.
* user byte (from the KPM300 table; check the KPM216H manual): bit 0 head up, bit 1 cover open, bit 2 spooling,
  bit 3 paper drag motor on — while either of the last two is set the printer is still working off what it was
  sent (:attr:`Reading.busy`).
* recoverable byte: any bit set is a recoverable error (a jam, the cutter) — reported as JAMMED.
* unrecoverable byte: any bit set is a fault the printer cannot recover from — reported as OFFLINE.

Sources: docs/device-protocols.md §4.2 and §4.3.  A reply that is short, long, or breaks a fixed bit raises
:class:`StatusReplyError`: garbage never becomes a status, so noise on the line can never report "paper taken".
"""
from __future__ import annotations

from dataclasses import dataclass

from hal.printer.contract import PrinterState, PrinterStatus

DLE_EOT = b"\x10\x04"
REALTIME_QUERIES = (1, 2, 3, 4)
FULL_STATUS_QUERY = 20
FULL_STATUS_HEADER = b"\x10\x0f"
FULL_STATUS_LENGTH = 6

REALTIME_FIXED_MASK = 0b1001_0011  # bits 7, 4, 1, 0
REALTIME_FIXED_VALUE = 0b0001_0010  # 0xx1xx10


class StatusReplyError(ValueError):
    """Bytes that are not a valid status reply (noise, a stray byte, a reply to something else)."""


def query(n: int) -> bytes:
    """The bytes of ``DLE EOT n``."""
    if n not in REALTIME_QUERIES and n != FULL_STATUS_QUERY:
        raise ValueError(f"no status query DLE EOT {n}")
    return DLE_EOT + bytes([n])


def _bit(byte: int, n: int) -> bool:
    return bool(byte >> n & 1)


@dataclass(frozen=True)
class RealtimeStatus:
    """The four ``DLE EOT n`` replies, read."""

    offline: bool
    cover_open: bool
    feed_button: bool
    stopped_by_paper_end: bool
    error: bool
    recoverable_error: bool
    autocutter_error: bool
    unrecoverable_error: bool
    auto_recoverable_error: bool
    paper_near_end: bool
    paper_end: bool

    def printer_status(self) -> PrinterStatus:
        if self.unrecoverable_error or self.auto_recoverable_error:
            state = PrinterState.OFFLINE
        elif self.cover_open:
            state = PrinterState.COVER_OPEN
        elif self.recoverable_error or self.autocutter_error:
            state = PrinterState.JAMMED
        elif self.paper_end or self.stopped_by_paper_end:
            state = PrinterState.PAPER_OUT
        elif self.offline or self.error:
            state = PrinterState.OFFLINE
        else:
            state = PrinterState.READY
        return PrinterStatus(state, paper_low=self.paper_near_end and not self.paper_end, document_waiting=False)


def realtime_byte(n: int, reply: bytes) -> int:
    """The one status byte of a ``DLE EOT n`` reply, checked against the fixed bits ``0xx1xx10``."""
    if len(reply) != 1:
        raise StatusReplyError(f"DLE EOT {n}: expected 1 byte, got {len(reply)}")
    byte = reply[0]
    if byte & REALTIME_FIXED_MASK != REALTIME_FIXED_VALUE:
        raise StatusReplyError(f"DLE EOT {n}: {byte:#04x} is not a status byte (fixed bits 0xx1xx10)")
    return byte


def parse_realtime(replies: dict[int, bytes]) -> RealtimeStatus:
    """Read the replies to ``DLE EOT 1`` … ``4`` (a dict n → reply bytes; all four are needed)."""
    missing = [n for n in REALTIME_QUERIES if n not in replies]
    if missing:
        raise StatusReplyError(f"no reply to DLE EOT {', '.join(map(str, missing))}")
    b1, b2, b3, b4 = (realtime_byte(n, replies[n]) for n in REALTIME_QUERIES)
    return RealtimeStatus(
        offline=_bit(b1, 3),
        cover_open=_bit(b2, 2), feed_button=_bit(b2, 3), stopped_by_paper_end=_bit(b2, 5), error=_bit(b2, 6),
        recoverable_error=_bit(b3, 2), autocutter_error=_bit(b3, 3), unrecoverable_error=_bit(b3, 5),
        auto_recoverable_error=_bit(b3, 6),
        paper_near_end=_bit(b4, 2) or _bit(b4, 3), paper_end=_bit(b4, 5) or _bit(b4, 6),
    )


@dataclass(frozen=True)
class FullStatus:
    """A Custom FULL STATUS reply (``DLE EOT 20``), read."""

    paper_absent: bool
    near_end: bool
    ticket_in_output: bool
    virtual_paper_end: bool
    head_up: bool
    cover_open: bool
    spooling: bool
    motor_on: bool
    recoverable: int  # the raw recoverable-error byte (0 = none)
    unrecoverable: int  # the raw unrecoverable-error byte (0 = none)

    def printer_status(self) -> PrinterStatus:
        if self.unrecoverable:
            state = PrinterState.OFFLINE
        elif self.cover_open or self.head_up:
            state = PrinterState.COVER_OPEN
        elif self.recoverable:
            state = PrinterState.JAMMED
        elif self.paper_absent or self.virtual_paper_end:
            state = PrinterState.PAPER_OUT
        else:
            state = PrinterState.READY
        out = self.paper_absent or self.virtual_paper_end
        return PrinterStatus(state, paper_low=self.near_end and not out, document_waiting=self.ticket_in_output)


def parse_full_status(reply: bytes) -> FullStatus:
    """Read a ``DLE EOT 20`` reply: exactly ``10 0F`` and four status bytes."""
    if len(reply) != FULL_STATUS_LENGTH:
        raise StatusReplyError(f"DLE EOT 20: expected {FULL_STATUS_LENGTH} bytes, got {len(reply)}")
    if reply[:2] != FULL_STATUS_HEADER:
        raise StatusReplyError(f"DLE EOT 20: reply starts {reply[:2].hex(' ')}, not 10 0f")
    paper, user, recoverable, unrecoverable = reply[2:]
    return FullStatus(
        paper_absent=_bit(paper, 0), near_end=_bit(paper, 2), ticket_in_output=_bit(paper, 5),
        virtual_paper_end=_bit(paper, 6), head_up=_bit(user, 0), cover_open=_bit(user, 1),
        spooling=_bit(user, 2), motor_on=_bit(user, 3), recoverable=recoverable, unrecoverable=unrecoverable,
    )


STATUS_MODES = ("realtime", "custom-full")


def queries_for(mode: str) -> tuple[tuple[int, int], ...]:
    """The queries a status reading sends, as (n, reply length) pairs."""
    if mode == "realtime":
        return tuple((n, 1) for n in REALTIME_QUERIES)
    if mode == "custom-full":
        return ((FULL_STATUS_QUERY, FULL_STATUS_LENGTH),)
    raise ValueError(f"status mode must be one of {', '.join(STATUS_MODES)}, got {mode!r}")


@dataclass(frozen=True)
class Reading:
    """One status reading: the contract's status, and whether the printer is still working off what it was sent
    (None: this status mode cannot tell)."""

    status: PrinterStatus
    busy: bool | None


def reports_busy(mode: str) -> bool:
    """Whether a reading in this mode says when the printer has finished what it was sent."""
    queries_for(mode)
    return mode == "custom-full"


def parse_reading(mode: str, replies: dict[int, bytes]) -> Reading:
    """A reading from the replies to :func:`queries_for` ``(mode)``; raises :class:`StatusReplyError`."""
    if mode == "realtime":
        return Reading(parse_realtime(replies).printer_status(), busy=None)
    if mode == "custom-full":
        if FULL_STATUS_QUERY not in replies:
            raise StatusReplyError("no reply to DLE EOT 20")
        full = parse_full_status(replies[FULL_STATUS_QUERY])
        return Reading(full.printer_status(), busy=full.spooling or full.motor_on)
    raise ValueError(f"status mode must be one of {', '.join(STATUS_MODES)}, got {mode!r}")


def parse_status(mode: str, replies: dict[int, bytes]) -> PrinterStatus:
    """The printer's status from the replies to :func:`queries_for` ``(mode)``; raises :class:`StatusReplyError`."""
    return parse_reading(mode, replies).status
