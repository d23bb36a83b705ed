"""The printer contract.

The kiosk hands the printer finished 1-bit rasters (text is always rendered into the image; the printer is never
asked to draw Japanese text itself).  A page either prints whole or :meth:`Printer.print_page` raises
:class:`PrinterFault` with the status that stopped it — paper can run out in the middle of a page, or after the
printer received the last byte of it and was still printing: ``print_page`` returns only once the printer has
finished the page (or, a printer that cannot say so, once it has had the time to; see
:class:`PrinterCapabilities`).  :meth:`Printer.cut` likewise returns once the sheet is cut and presented, and a
cut that fails raises :class:`PrinterFault`: a page still hanging in the printer was not delivered.

After :meth:`Printer.cut` the sheets wait in the outlet until the resident takes them: ``document_waiting`` and
the :class:`DocumentTaken` event come from the outlet sensor — on a printer that has one
(:attr:`PrinterCapabilities.outlet_sensor`).  Without one, ``document_waiting`` is always False and nobody will
ever say the sheet was taken.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hal.events import DeviceError, DeviceEvent, EventSink


class PrinterState(enum.Enum):
    """The printer's main condition.  Exactly one holds at a time; see :class:`PrinterStatus` for the flags
    that can accompany it (paper low, a document waiting in the outlet)."""

    READY = "ready"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    JAMMED = "jammed"
    OFFLINE = "offline"  # does not answer, or reports a fault it cannot recover from


@dataclass(frozen=True)
class PrinterStatus:
    state: PrinterState
    paper_low: bool = False  # near end: still prints
    document_waiting: bool = False  # a printed sheet lies in the outlet

    @property
    def can_print(self) -> bool:
        return self.state is PrinterState.READY

    def describe(self) -> str:
        flags = [f for f, on in (("paper low", self.paper_low), ("document waiting", self.document_waiting)) if on]
        return self.state.value + (f" ({', '.join(flags)})" if flags else "")


@dataclass(frozen=True)
class PageRaster:
    """One page as the printer prints it: ``height`` rows of ``width`` dots, packed 8 dots a byte, most
    significant bit first, 1 = black.  ``label`` identifies the page in logs (ids only, never content)."""

    width: int
    height: int
    dpi: int
    rows: bytes
    label: str = ""

    @property
    def row_bytes(self) -> int:
        return (self.width + 7) // 8

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0 or self.dpi <= 0:
            raise ValueError("a page raster needs a positive size and resolution")
        if len(self.rows) != self.row_bytes * self.height:
            raise ValueError(f"page raster has {len(self.rows)} bytes, expected {self.row_bytes * self.height}")

    def check_fits(self, printer: str, width_dots: int, dpi: int) -> None:
        """Refuse, before anything is sent, a page wider than the printer or rendered for another resolution."""
        if self.width > width_dots:
            raise ValueError(f"{printer}: page {self.label!r} is {self.width} dots wide, "
                             f"the printable width is {width_dots}")
        if self.dpi != dpi:
            raise ValueError(f"{printer}: page {self.label!r} is rendered at {self.dpi} dpi, "
                             f"this printer prints at {dpi}")


@dataclass(frozen=True)
class PrinterCapabilities:
    """What a printer can tell about the paper, stated by the printer so the kiosk need not guess from its model.

    ``outlet_sensor``: the printer sees a sheet in the outlet (``document_waiting``, :class:`DocumentTaken`).
    ``confirms_page_end``: the printer's status says when it has finished printing what it was sent, so
    ``print_page`` returns on the printer's word; without it the driver waits the time the page should take.
    """

    outlet_sensor: bool
    confirms_page_end: bool


SAFE_CAPABILITIES = PrinterCapabilities(outlet_sensor=False, confirms_page_end=False)


def capabilities_of(printer: object) -> PrinterCapabilities:
    """A printer's capabilities; one that does not state them is assumed to have no outlet sensor and not to
    confirm the end of a page (the kiosk then never waits for a sensor that is not there)."""
    stated = getattr(printer, "capabilities", None)
    if callable(stated):
        try:
            capabilities = stated()
        except Exception:
            return SAFE_CAPABILITIES
        if isinstance(capabilities, PrinterCapabilities):
            return capabilities
    return SAFE_CAPABILITIES


class PrinterFault(DeviceError):
    """Printing stopped; ``status`` says why.

    ``rows_printed`` tells how far the page got, as far as the printer confirmed it.  The simulator's count is
    exact.  The ESC/POS driver counts the rows of the bands the printer acknowledged before it reported the fault:
    the paper holds up to one band more, or fewer when the printer still held some of them in its buffer (at most
    ``max_bytes_in_flight``); when the fault shows only after the last band, it counts the rows the printer cannot
    still have held.  0 when the page did not start, or when the fault came at the cut.
    """

    def __init__(self, device: str, status: PrinterStatus, rows_printed: int = 0):
        super().__init__(device, f"printing stopped: {status.describe()}")
        self.status = status
        self.rows_printed = rows_printed


@dataclass(frozen=True)
class PrinterStatusChanged(DeviceEvent):
    status: PrinterStatus


@dataclass(frozen=True)
class DocumentPresented(DeviceEvent):
    """The cut sheets lie in the outlet."""


@dataclass(frozen=True)
class DocumentTaken(DeviceEvent):
    """The outlet sensor saw the sheets taken."""


@runtime_checkable
class Printer(Protocol):
    name: str
    dpi: int
    width_dots: int  # printable width

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def status(self) -> PrinterStatus:
        """Ask the printer (a real-time status query, not a cached value)."""

    async def print_page(self, page: PageRaster) -> None:
        """Print one page.  Raises :class:`PrinterFault` if it cannot finish it."""

    async def cut(self) -> None:
        """Cut and present what was printed in the outlet.  Raises :class:`PrinterFault` if it cannot."""

    def capabilities(self) -> PrinterCapabilities:
        """What this printer can tell (fixed for the printer's life: its model and configuration)."""
