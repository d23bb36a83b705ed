"""An ESC/POS decoder written from the command reference, independent of the driver: bytes back to sheets.

It reads exactly the commands a kiosk printer job may hold and refuses anything else with
:class:`EscposDecodeError` (the offset and the byte), so a stray text byte or a truncated image can never pass
unnoticed:

=====================  ===========================================================================
``1B 40``              ESC @  initialise
``1D 76 30 m xL xH yL yH d…``  GS v 0  raster bit image, m = 0/48 (normal size only); x bytes a row, y rows,
                       MSB first, 1 = black
``1D 56 m``            GS V  cut, m = 0/48 full, 1/49 partial
``1D 56 m n``          GS V  feed to the cutting position (+ n dots) and cut, m = 65 full, 66 partial
``1B 69`` / ``1B 6D``  ESC i total cut / ESC m partial cut (Custom, legacy Epson)
``10 04 n``            DLE EOT  real-time status query, n = 1 … 4 or 20 (Custom FULL STATUS)
=====================  ===========================================================================

Raster blocks stack into the current sheet; a cut ends the sheet.  Rows of every block of a sheet must have the
same width.  :func:`next_command` reads one command at a time (the printer emulator feeds it a growing buffer).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class EscposDecodeError(ValueError):
    """The stream holds something that is not a command this decoder knows, or a command cut short."""


class NeedMore(Exception):
    """The buffer ends inside a command (only raised by :func:`next_command`)."""


@dataclass(frozen=True)
class Command:
    name: str  # "init", "raster", "cut", "status"
    offset: int
    length: int
    arg: int = 0  # status: n; cut: 0 full / 1 partial
    width_bytes: int = 0  # raster
    rows: int = 0  # raster
    data: bytes = b""  # raster bits


@dataclass
class Sheet:
    bits: np.ndarray  # rows × (width_bytes × 8) booleans, True = black
    cut: str | None  # "full", "partial", or None if the stream ended without a cut
    blocks: int


@dataclass
class Decoded:
    sheets: list[Sheet] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def queries(self) -> list[int]:
        return [c.arg for c in self.commands if c.name == "status"]

    def raster_blocks(self) -> list[Command]:
        return [c for c in self.commands if c.name == "raster"]


STATUS_QUERIES = frozenset({1, 2, 3, 4, 20})


def next_command(buf: bytes, pos: int) -> Command:
    """The command starting at ``buf[pos]``.  Raises :class:`NeedMore` if the buffer ends inside it and
    :class:`EscposDecodeError` for anything unknown."""
    def need(n: int) -> None:
        if len(buf) - pos < n:
            raise NeedMore()
    need(1)
    first = buf[pos]
    if first == 0x1B:
        need(2)
        second = buf[pos + 1]
        if second == 0x40:
            return Command("init", pos, 2)
        if second in (0x69, 0x6D):
            return Command("cut", pos, 2, arg=0 if second == 0x69 else 1)
        raise EscposDecodeError(f"unknown command ESC {second:#04x} at offset {pos}")
    if first == 0x10:
        need(3)
        if buf[pos + 1] != 0x04:
            raise EscposDecodeError(f"unknown real-time command DLE {buf[pos + 1]:#04x} at offset {pos}")
        n = buf[pos + 2]
        if n not in STATUS_QUERIES:
            raise EscposDecodeError(f"DLE EOT {n} at offset {pos} is not a status query this printer knows")
        return Command("status", pos, 3, arg=n)
    if first == 0x1D:
        need(2)
        second = buf[pos + 1]
        if second == 0x56:
            need(3)
            m = buf[pos + 2]
            if m in (0, 48, 1, 49):
                return Command("cut", pos, 3, arg=0 if m in (0, 48) else 1)
            if m in (65, 66):
                need(4)
                return Command("cut", pos, 4, arg=0 if m == 65 else 1)
            raise EscposDecodeError(f"GS V with unknown mode {m} at offset {pos}")
        if second == 0x76:
            need(8)
            if buf[pos + 2] != 0x30:
                raise EscposDecodeError(f"GS v {buf[pos + 2]:#04x} at offset {pos} is not GS v 0")
            m = buf[pos + 3]
            if m not in (0, 48):
                raise EscposDecodeError(f"GS v 0 with scale mode {m} at offset {pos} (only normal size is decoded)")
            width = buf[pos + 4] | buf[pos + 5] << 8
            rows = buf[pos + 6] | buf[pos + 7] << 8
            if width == 0 or rows == 0:
                raise EscposDecodeError(f"GS v 0 of {width} bytes × {rows} rows at offset {pos} is empty")
            size = width * rows
            need(8 + size)
            return Command("raster", pos, 8 + size, width_bytes=width, rows=rows,
                           data=bytes(buf[pos + 8:pos + 8 + size]))
        raise EscposDecodeError(f"unknown command GS {second:#04x} at offset {pos}")
    raise EscposDecodeError(f"byte {first:#04x} at offset {pos} is not a command (text is never sent)")


def decode(stream: bytes) -> Decoded:
    """Every command of a complete job, and the sheets it prints."""
    out = Decoded()
    blocks: list[Command] = []
    pos = 0

    def end_sheet(cut: str | None) -> None:
        if blocks:
            rows = [np.unpackbits(np.frombuffer(b.data, dtype=np.uint8).reshape(b.rows, b.width_bytes), axis=1)
                    for b in blocks]
            out.sheets.append(Sheet(np.vstack(rows).astype(bool), cut, len(blocks)))
        elif cut is not None:
            out.sheets.append(Sheet(np.zeros((0, 0), dtype=bool), cut, 0))
        blocks.clear()

    while pos < len(stream):
        try:
            command = next_command(stream, pos)
        except NeedMore:
            raise EscposDecodeError(f"the stream ends inside a command at offset {pos}") from None
        out.commands.append(command)
        if command.name == "raster":
            if blocks and blocks[0].width_bytes != command.width_bytes:
                raise EscposDecodeError(f"raster at offset {pos} is {command.width_bytes} bytes wide, the sheet "
                                        f"so far {blocks[0].width_bytes}")
            blocks.append(command)
        elif command.name == "cut":
            end_sheet("full" if command.arg == 0 else "partial")
        pos += command.length
    end_sheet(None)
    return out


def page_bits(rows: bytes, width: int, height: int) -> np.ndarray:
    """A packed 1-bit page (MSB first, 1 = black) as a height × width boolean array."""
    row_bytes = (width + 7) // 8
    packed = np.frombuffer(rows, dtype=np.uint8).reshape(height, row_bytes)
    return np.unpackbits(packed, axis=1)[:, :width].astype(bool)


def assert_sheet_is_page(sheet: Sheet, page) -> None:
    """The sheet holds exactly the page's dots (and only blank padding right of the page width)."""
    expected = page_bits(page.rows, page.width, page.height)
    assert sheet.bits.shape[0] == page.height, f"sheet has {sheet.bits.shape[0]} rows, page {page.height}"
    assert not sheet.bits[:, page.width:].any(), "dots printed right of the page"
    differing = int((sheet.bits[:, :page.width] != expected).sum())
    assert differing == 0, f"{differing} dots differ from the page"
