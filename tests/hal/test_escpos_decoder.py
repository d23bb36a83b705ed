"""The project's ESC/POS decoder: hand-built streams, python-escpos's own output as an outside witness, and fuzz."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.support.escpos_decoder import EscposDecodeError, NeedMore, decode, next_command


def raster(rows: np.ndarray) -> bytes:
    packed = np.packbits(rows, axis=1)
    height, width = packed.shape
    return b"\x1dv0\x00" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + packed.tobytes()


def test_blocks_join_into_a_sheet_until_a_cut_and_queries_are_listed():
    rng = np.random.default_rng(3)
    a, b, c = (rng.random((r, 24)) < 0.5 for r in (5, 7, 4))
    stream = b"\x1b@" + raster(a) + b"\x10\x04\x14" + raster(b) + b"\x1dVA\x00" + raster(c) + b"\x1bm" + b"\x10\x04\x04"
    decoded = decode(stream)
    assert [s.cut for s in decoded.sheets] == ["full", "partial"]
    assert np.array_equal(decoded.sheets[0].bits, np.vstack([a, b])) and decoded.sheets[0].blocks == 2
    assert np.array_equal(decoded.sheets[1].bits, c)
    assert decoded.queries() == [20, 4]


@pytest.mark.parametrize("stream, message", [
    (b"\x1b@ABC", "byte 0x41 at offset 2 is not a command"),
    (b"\x1b@\xe4\xbd\x8f", "byte 0xe4 at offset 2"),  # UTF-8 text
    (b"\x1bt\x01", "unknown command ESC 0x74"),
    (b"\x1dv0\x01\x01\x00\x01\x00\xff", "scale mode 1"),
    (b"\x1dv0\x00\x00\x00\x01\x00", "is empty"),
    (b"\x1dv0\x00\x02\x00\x02\x00\xff", "ends inside a command"),
    (b"\x10\x04\x05", "DLE EOT 5"),
    (b"\x1dV\x07", "GS V with unknown mode 7"),
    (raster(np.ones((1, 8), bool)) + raster(np.ones((1, 16), bool)), "2 bytes wide"),
])
def test_anything_unknown_or_cut_short_is_an_explicit_error(stream, message):
    with pytest.raises(EscposDecodeError, match=message):
        decode(stream)


def test_next_command_asks_for_more_inside_a_command():
    stream = raster(np.ones((3, 16), bool))
    for cut in range(1, len(stream)):
        with pytest.raises(NeedMore):
            next_command(stream[:cut], 0)
    assert next_command(stream, 0).rows == 3


def test_python_escpos_own_raster_output_decodes_to_the_same_image():
    """An outside witness: python-escpos's bitImageRaster (GS v 0) of an image decodes back to that image."""
    from escpos.printer import Dummy
    rng = np.random.default_rng(5)
    bits = rng.random((300, 200)) < 0.4
    image = Image.fromarray(~bits).convert("1")  # white = True in mode "1"
    printer = Dummy()
    with contextlib.redirect_stdout(io.StringIO()):  # python-escpos prints a profile warning per fragment
        printer.image(image, impl="bitImageRaster", fragment_height=128)
        printer.cut(feed=False)
    (sheet,) = decode(printer.output).sheets
    assert sheet.cut == "partial" or sheet.cut == "full"
    assert np.array_equal(sheet.bits[:, :200], bits) and not sheet.bits[:, 200:].any()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_random_bytes_decode_or_raise_the_decoders_error(stream):
    try:
        decoded = decode(stream)
    except EscposDecodeError:
        return
    assert sum(c.length for c in decoded.commands) == len(stream)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30), st.lists(st.integers(1, 300), min_size=1, max_size=5), st.integers(0, 2**32 - 1))
def test_fuzz_any_run_of_raster_blocks_round_trips(width, heights, seed):
    rng = np.random.default_rng(seed)
    blocks = [rng.random((rows, width * 8)) < 0.5 for rows in heights]
    (sheet,) = decode(b"\x1b@" + b"".join(raster(b) for b in blocks) + b"\x1dV\x01").sheets
    assert sheet.cut == "partial" and np.array_equal(sheet.bits, np.vstack(blocks))
