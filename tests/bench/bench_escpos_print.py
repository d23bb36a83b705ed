"""Benchmark the ESC/POS driver: one A4 page of Japanese text at 203 dpi (1679 × 2374 dots, 500 KB) to the emulator.

Run: ``.venv/bin/python tests/bench/bench_escpos_print.py [--pages 20] [--band-rows 128]``.  Not a test: it prints
the median and p95 of print_page + cut in milliseconds over a pty (python-escpos Serial) and over loopback TCP
(python-escpos Network), with a status round trip after every band, and the driver's own overhead (no pacing:
``print_rows_per_second`` unset, so the figure is the driver and the wire, not a printer's speed).  ``--noise``
prints random dots instead: most bands then hold a DLE EOT byte pair and wait ``settle_time`` for stray answers.

For scale: a real serial line carries 11.5 KB/s at 115200 baud, so the same page takes about 45 s there; USB and
Ethernet printers are limited by their print speed (a KPM216H-class printer prints A4 in a few seconds).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hal.events import discard  # noqa: E402
from hal.printer.contract import PageRaster  # noqa: E402
from hal.printer.escpos_link import NetworkLink, SerialLink  # noqa: E402
from hal.printer.escpos_printer import EscposPrinter  # noqa: E402
from tests.support.printer_emulator import PrinterEmulator  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(kind: str, pages: int, band_rows: int, noise: bool = False) -> list[float]:
    image = Image.new("1", (1679, 2374), 1)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf", 40)
    for y in range(80, 2300, 56):  # a certificate-like page: 40 lines of Japanese text
        draw.text((80, y), "住民票の写し　東京都千代田区千代田一丁目一番一号　令和八年十一月二十六日", font=font, fill=0)
    bits = ~np.array(image, dtype=bool)
    if noise:  # worst case: random dots hold DLE EOT byte pairs in most bands, and each such band waits
        bits = np.random.default_rng(1).random(bits.shape) < 0.2
    page = PageRaster(1679, 2374, 203, np.packbits(bits, axis=1).tobytes(), "bench p1/1")
    emulator = PrinterEmulator()
    link = SerialLink("printer", emulator.start_pty(), flow_control="none") if kind == "pty" \
        else NetworkLink("printer", *emulator.start_tcp())
    printer = EscposPrinter(link, poll_interval=None, band_rows=band_rows)
    samples = []

    async def run() -> None:
        await printer.start(discard)
        for _ in range(pages):
            emulator.received.clear()
            started = time.perf_counter()
            await printer.print_page(page)
            await printer.cut()
            samples.append((time.perf_counter() - started) * 1000)
            emulator.take_document()
        await printer.stop()
    try:
        asyncio.run(run())
    finally:
        emulator.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--band-rows", type=int, default=128)
    parser.add_argument("--noise", action="store_true", help="random dots instead of text (worst case)")
    args = parser.parse_args()
    for kind in ("pty", "tcp"):
        samples = measure(kind, args.pages, args.band_rows, args.noise)
        print(f"{kind}: A4 page + cut, {args.band_rows}-row bands, {args.pages} pages: "
              f"median {statistics.median(samples):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
