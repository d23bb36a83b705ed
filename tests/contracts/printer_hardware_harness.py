"""The printer conformance suite on a real unit: the ESC/POS driver on the real printer, a technician as the world.

Registered under the ``hardware`` marker; skips unless ``KIOSK_HW_PRINTER`` names the printer:

- ``serial:/dev/ttyUSB0`` (optionally ``@115200`` for the baud rate),
- ``network:192.0.2.40`` (optionally ``:9100``),
- ``usb:0dd4:0205`` (vendor and product id, hex).

``KIOSK_HW_PRINTER_STATUS`` is ``custom-full`` (default: a KPM216H with its outlet sensor) or ``realtime`` (a plain
ESC/POS printer: the outlet test then skips).  What the world does (open the cover, take the sheet, load paper)
is asked of the technician on the terminal; steps nobody can do on demand (paper ending exactly 250 rows into a
page, an unrecoverable fault) skip their test.  What a sheet holds is checked twice: the bytes the driver sent are
decoded and compared dot for dot, and the technician looks at the paper.
"""
from __future__ import annotations

import asyncio
import os
import time

import numpy as np

from hal.printer.contract import PrinterCapabilities, PrinterState
from hal.printer.escpos_link import NetworkLink, SerialLink, UsbLink
from hal.printer.escpos_printer import EscposPrinter
from tests.support.escpos_decoder import decode

from .harness import RecordingSink
from .hardware_harnesses import TIMEOUT, ask, cannot_script, _terminal_missing

ENV = "KIOSK_HW_PRINTER"


def link_from(spec: str):
    kind, _, rest = spec.partition(":")
    if kind == "serial" and rest:
        port, _, baud = rest.partition("@")
        return SerialLink("printer", port, baudrate=int(baud or 115200))
    if kind == "network" and rest:
        host, _, port = rest.partition(":")
        return NetworkLink("printer", host, int(port or 9100))
    if kind == "usb" and rest.count(":") == 1:
        vendor, product = (int(x, 16) for x in rest.split(":"))
        return UsbLink("printer", vendor, product)
    raise ValueError(f"{ENV} must be serial:/dev/ttyUSB0[@baud], network:host[:port] or usb:vid:pid, got {spec!r}")


class RecordingLink:
    """The real link, keeping a copy of every byte written (for the decoder)."""

    def __init__(self, link):
        self.link, self.where, self.sent = link, link.where, bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data
        self.link.write(data)

    def __getattr__(self, name):
        return getattr(self.link, name)


class EscposHardwareHarness:
    hardware = True
    row_granularity = 128
    rows_in_flight = 65536 // 216  # the driver's default max_bytes_in_flight at A4 width

    @classmethod
    def unavailable(cls) -> str | None:
        if not os.environ.get(ENV):
            return f"set {ENV} (e.g. serial:/dev/ttyUSB0) to run the printer suite on a real unit"
        return _terminal_missing()

    def __init__(self):
        self.sink = RecordingSink()
        self.status_mode = os.environ.get("KIOSK_HW_PRINTER_STATUS", "custom-full")
        self.link = RecordingLink(link_from(os.environ[ENV]))
        self.printer = EscposPrinter(self.link, "printer", status_mode=self.status_mode,
                                     band_rows=self.row_granularity, poll_interval=0.2)
        sensor = self.status_mode == "custom-full"
        self.capabilities = PrinterCapabilities(outlet_sensor=sensor, confirms_page_end=sensor)

    async def start(self) -> None:
        await self.printer.start(self.sink)

    async def stop(self) -> None:
        await self.printer.stop()

    async def settle(self) -> None:
        await asyncio.sleep(0.5)

    async def _until(self, what: str, done) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not done(await self.printer.status()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the printer did not show {what} within {TIMEOUT:g} s")
            await asyncio.sleep(0.2)

    def printed_sheets(self) -> list[np.ndarray]:
        sheets = [s.bits for s in decode(bytes(self.link.sent)).sheets if s.cut is not None and s.blocks]
        if sheets:
            answer = ask(f"{len(sheets)} sheet(s) printed so far: is the last one a clean, complete grey noise "
                         "pattern with no streaks or garbage? [y/n]", answer=True)
            assert answer.lower().startswith("y"), "the technician saw a bad printout"
        return sheets

    async def paper_out_after(self, rows: int) -> None:
        cannot_script(f"paper ending exactly {rows} rows into the next page")

    async def paper_near_end(self) -> None:
        cannot_script("the near-end sensor tripping on demand")

    async def refill_paper(self) -> None:
        ask("load paper into the printer")
        await self._until("paper loaded", lambda s: s.state is PrinterState.READY)

    async def open_cover(self) -> None:
        ask("open the printer cover")
        await self._until("the cover open", lambda s: s.state is PrinterState.COVER_OPEN)

    async def close_cover(self) -> None:
        ask("close the printer cover")
        await self._until("the cover closed", lambda s: s.state is not PrinterState.COVER_OPEN)

    async def fail_beyond_recovery(self) -> None:
        cannot_script("an unrecoverable printer fault")

    def rows_on_paper(self) -> int:
        answer = ask("has the printer stopped printing (the page is out, nothing still moving)? [y/n]", answer=True)
        assert answer.lower().startswith("y"), "the driver returned before the page was printed"
        return sum(b.rows for b in decode(bytes(self.link.sent)).raster_blocks())

    async def fail_next_cut(self) -> None:
        cannot_script("a cutter failure on demand")

    async def take_document(self) -> None:
        if self.status_mode != "custom-full":
            cannot_script("an outlet sensor (this printer has none)")
        ask("take the sheet from the outlet")
        await self._until("the outlet empty", lambda s: not s.document_waiting)
