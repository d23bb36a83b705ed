"""The ESC/POS commands a kiosk print job is made of, in one place: the ESC/POS driver sends them and the simulator
records them, so :attr:`hal.printer.sim.SimPrinter.raw` is the driver's own dialect (device-protocols.md §4.1).

Only the job is here (initialise, raster bands, cut); the real-time status queries that the driver interleaves on
the wire are :mod:`hal.printer.escpos_status`.
"""
from __future__ import annotations

from typing import Iterator

INIT = b"\x1b@"  # ESC @
RASTER_NORMAL = b"\x1dv0\x00"  # GS v 0, m = 0 (normal size)
MAX_RASTER_ROWS = 4095  # Epson's limit for one GS v 0 image
DEFAULT_BAND_ROWS = 128  # long images overflow printer buffers: never one piece (python-escpos #59, #152)
CUTS = {  # (cut command, kind) -> bytes
    ("gs_v", "full"): b"\x1dV\x41\x00",  # GS V 65 0: feed to the cutting position, full cut
    ("gs_v", "partial"): b"\x1dV\x42\x00",  # GS V 66 0: feed to the cutting position, partial cut
    ("esc_i", "full"): b"\x1bi",  # ESC i: total cut (Custom KPM216H)
    ("esc_i", "partial"): b"\x1bm",  # ESC m: partial cut
}


def raster_band(row_bytes: int, rows: int, data: bytes) -> bytes:
    """One ``GS v 0`` block: ``rows`` rows of ``row_bytes`` bytes (MSB first, 1 = black)."""
    if not 1 <= rows <= MAX_RASTER_ROWS or len(data) != row_bytes * rows:
        raise ValueError(f"a raster band is 1 … {MAX_RASTER_ROWS} rows of {row_bytes} bytes, got {len(data)} bytes "
                         f"for {rows} rows")
    return RASTER_NORMAL + row_bytes.to_bytes(2, "little") + rows.to_bytes(2, "little") + data


def bands(rows: bytes, row_bytes: int, height: int, band_rows: int) -> Iterator[tuple[int, int, bytes]]:
    """The page's bands in order, as (first row, row count, GS v 0 block)."""
    for first in range(0, height, band_rows):
        count = min(band_rows, height - first)
        yield first, count, raster_band(row_bytes, count, rows[first * row_bytes:(first + count) * row_bytes])


def cut(command: str = "gs_v", kind: str = "full") -> bytes:
    try:
        return CUTS[(command, kind)]
    except KeyError:
        raise ValueError(f"cut must be full or partial and cut_command gs_v or esc_i, got {kind!r}/{command!r}") \
            from None
