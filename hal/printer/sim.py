"""A simulated A4 kiosk printer that writes real page images and fails the way the hardware fails.

Every page it prints becomes a 1-bit PNG (black on white, the exact dots of the raster) in ``out_dir`` if one is
given, and always a Pillow image in :attr:`SimPrinter.pages`: that is the simulated paper.  It also keeps, in
:attr:`SimPrinter.raw`, the job the ESC/POS driver would have sent (the same commands, from
:mod:`hal.printer.escpos_commands`): ``ESC @``, every page as ``GS v 0`` bands of ``band_rows`` rows, and the cut
command for every cut.  What it leaves out is the driver's real-time status queries between the bands: those are a
conversation with the printer, not part of the job.

The failure controls are what a test or the dev panel drives::

    printer = SimPrinter(out_dir=tmp_path)
    await printer.start(sink)
    await printer.paper_out(after_rows=300)   # paper ends 300 rows into the next page
    await printer.print_page(raster)          # raises PrinterFault(PAPER_OUT, rows_printed=300)
    await printer.refill_paper()

``await printer.fail_cut()`` makes the cutter fail at the next cut (a recoverable error, reported as JAMMED, the
sheet left uncut and nothing presented) until the cover is opened and closed.  ``outlet_sensor=False`` simulates a
printer without one: ``document_waiting`` stays False and :class:`DocumentTaken` never comes.  The simulator prints
as it is called, so a page that returned is on paper (``confirms_page_end``).

Conditions are kept as separate flags (paper out, cover open, jammed, offline) and the reported state is the most
serious one that holds: offline, then cover open, then jammed, then paper out.  Closing the cover clears a jam
(that is how staff clear one).  A fault armed with ``after_rows`` counts printed rows across pages, so a count
larger than the next page runs out on a later one.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hal.events import EventSink, discard
from hal.printer import escpos_commands as commands
from hal.printer.contract import (
    DocumentPresented, DocumentTaken, PageRaster, PrinterCapabilities, PrinterFault, PrinterState, PrinterStatus,
    PrinterStatusChanged,
)



@dataclass(frozen=True)
class PrintedPage:
    """One sheet that left the simulated print head.  ``partial`` pages stopped part way (``image`` holds the rows
    that printed).  ``path`` is the PNG file, or None when the printer has no ``out_dir``."""

    label: str
    image: Image.Image
    path: Path | None
    partial: bool = False


class SimPrinter:
    """The :class:`hal.printer.contract.Printer` contract, in memory and on disk."""

    def __init__(self, name: str = "printer", out_dir: str | Path | None = None, dpi: int = 203,
                 width_dots: int = 1680, latency_per_page: float = 0.0,
                 band_rows: int = commands.DEFAULT_BAND_ROWS, cut: str = "full", cut_command: str = "gs_v",
                 outlet_sensor: bool = True):
        self.name = name
        self.dpi = dpi
        self.width_dots = width_dots
        self.latency_per_page = latency_per_page
        if not 1 <= band_rows <= commands.MAX_RASTER_ROWS:
            raise ValueError(f"band_rows must be 1 … {commands.MAX_RASTER_ROWS}, got {band_rows}")
        self.band_rows = band_rows
        self.outlet_sensor = outlet_sensor
        self._cut_bytes = commands.cut(cut_command, cut)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.pages: list[PrintedPage] = []
        self.cuts = 0
        self._raw = bytearray()
        self._sink: EventSink = discard
        self._paper_out = False
        self._cover_open = False
        self._jammed = False
        self._offline = False
        self._paper_low = False
        self._document_waiting = False
        self._cut_fails = False
        self._armed: tuple[str, int] | None = None  # ("paper_out" | "jam", rows still to print before it happens)
        self._counter = 0

    # -- the contract ---------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._raw += commands.INIT
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        self._sink = discard

    async def status(self) -> PrinterStatus:
        return self._status()

    async def print_page(self, page: PageRaster) -> None:
        page.check_fits(self.name, self.width_dots, self.dpi)
        if not self._status().can_print:
            raise PrinterFault(self.name, self._status(), rows_printed=0)
        if self.latency_per_page > 0:
            await asyncio.sleep(self.latency_per_page)
        rows = page.height
        fault = None
        if self._armed is not None:
            kind, rows_left = self._armed
            if rows_left < page.height:
                rows, fault = rows_left, kind
                self._armed = None
            else:
                self._armed = (kind, rows_left - page.height)
        if rows > 0:
            self._keep(page, rows, partial=fault is not None)
        if fault is not None:
            if fault == "jam":
                self._jammed = True
            else:
                self._paper_out = True
            await self._status_changed()
            raise PrinterFault(self.name, self._status(), rows_printed=rows)

    async def cut(self) -> None:
        if not self._status().can_print:
            raise PrinterFault(self.name, self._status(), rows_printed=0)
        self._raw += self._cut_bytes
        if self._cut_fails:
            self._cut_fails = False
            self._jammed = True  # the cutter error: recoverable, cleared by opening and closing the cover
            await self._status_changed()
            raise PrinterFault(self.name, self._status(), rows_printed=0)
        self.cuts += 1
        if self.outlet_sensor:
            self._document_waiting = True
            await self._status_changed()
        await self._sink(DocumentPresented(self.name))

    def capabilities(self) -> PrinterCapabilities:
        return PrinterCapabilities(outlet_sensor=self.outlet_sensor, confirms_page_end=True)

    # -- what the test or the dev panel does to the printer --------------------------------------------------------

    @property
    def raw(self) -> bytes:
        """The job as the ESC/POS driver sends it (its commands, bands and cut), without the status queries."""
        return bytes(self._raw)

    def clear(self) -> None:
        """Forget the pages and bytes kept so far (a long demo run would otherwise keep every sheet in memory).
        PNG files already written stay where they are."""
        self.pages.clear()
        self._raw = bytearray(commands.INIT)

    async def paper_out(self, after_rows: int | None = None) -> None:
        """The paper ends now, or after ``after_rows`` more printed rows (in the middle of the next page)."""
        await self._fault("paper_out", after_rows)

    async def jam(self, after_rows: int | None = None) -> None:
        """The paper jams now, or after ``after_rows`` more printed rows."""
        await self._fault("jam", after_rows)

    async def fail_cut(self) -> None:
        """The cutter fails at the next cut."""
        self._cut_fails = True

    async def paper_low(self) -> None:
        """The near-end sensor trips: the printer still prints."""
        await self._set(_paper_low=True)

    async def refill_paper(self) -> None:
        self._armed = None if self._armed and self._armed[0] == "paper_out" else self._armed
        await self._set(_paper_out=False, _paper_low=False)

    async def open_cover(self) -> None:
        await self._set(_cover_open=True)

    async def close_cover(self) -> None:
        """Close the cover; a jam is cleared by opening and closing it."""
        clear_jam = self._cover_open
        await self._set(_cover_open=False, _jammed=self._jammed and not clear_jam)

    async def go_offline(self) -> None:
        await self._set(_offline=True)

    async def come_online(self) -> None:
        await self._set(_offline=False)

    async def take_document(self) -> None:
        """The resident takes the sheets from the outlet (nothing happens if the outlet is empty)."""
        if not self._document_waiting:
            return
        self._document_waiting = False
        await self._status_changed()
        await self._sink(DocumentTaken(self.name))

    # -- inside -----------------------------------------------------------------------------------------------------

    def _status(self) -> PrinterStatus:
        if self._offline:
            state = PrinterState.OFFLINE
        elif self._cover_open:
            state = PrinterState.COVER_OPEN
        elif self._jammed:
            state = PrinterState.JAMMED
        elif self._paper_out:
            state = PrinterState.PAPER_OUT
        else:
            state = PrinterState.READY
        return PrinterStatus(state, paper_low=self._paper_low, document_waiting=self._document_waiting)

    async def _fault(self, kind: str, after_rows: int | None) -> None:
        if after_rows is not None:
            if after_rows < 0:
                raise ValueError("after_rows must not be negative")
            self._armed = (kind, after_rows)
        elif kind == "jam":
            await self._set(_jammed=True)
        else:
            await self._set(_paper_out=True)

    async def _set(self, **flags: bool) -> None:
        before = self._status()
        for attribute, value in flags.items():
            setattr(self, attribute, value)
        if self._status() != before:
            await self._status_changed()

    async def _status_changed(self) -> None:
        await self._sink(PrinterStatusChanged(self.name, self._status()))

    def _keep(self, page: PageRaster, rows: int, partial: bool) -> None:
        data = page.rows[: rows * page.row_bytes]
        for _, _, band in commands.bands(data, page.row_bytes, rows, self.band_rows):
            self._raw += band
        # Mode "1" counts a set bit as white; "1;I" reads our 1 = black bits as they are.
        image = Image.frombytes("1", (page.width, rows), data, "raw", "1;I")
        self._counter += 1
        path = None
        if self.out_dir is not None:
            stem = re.sub(r"[^A-Za-z0-9._-]+", "_", page.label).strip("._") or "page"
            path = self.out_dir / f"{self._counter:04d}-{stem}{'-partial' if partial else ''}.png"
            image.save(path, format="PNG")
        self.pages.append(PrintedPage(page.label, image, path, partial))
