"""The real A4 kiosk printer, spoken to in ESC/POS over a serial line, USB or the network.

The page goes out as ``GS v 0`` raster bands of ``band_rows`` rows (a long image overflows printer buffers, so
it is never sent in one piece) and between two bands the driver

1. asks the printer for its real-time status and waits for the answer — the answer also proves the printer has
   received everything sent before it, and says at once when the paper ran out in the middle of the page;
2. keeps the bytes the printer may still hold under ``max_bytes_in_flight``: when ``print_rows_per_second`` is
   set, the driver counts the rows the printer has had time to print and waits before a band that would overfill
   it (serial lines add RTS/CTS or DSR/DTR flow control, see :mod:`hal.printer.escpos_link`).

Some printers act on a ``DLE EOT`` even inside image data (device-protocols.md §4.2).  A band whose bytes hold one
is therefore followed by a drain — the output is sent and any stray answers dropped, waiting ``settle_time`` for
quiet — before the driver's own query, so a stray answer is never read as the answer to that query.

Text is never sent as text: Japanese would go out in the wrong encoding (python-escpos picks GB2312).  The kiosk
renders every character into the raster, and this driver has no text method at all.

A page is printed when the printer has worked it off, not when it has received the last band: after the last band
the driver waits until a ``custom-full`` printer's status says it is idle again (user-status bits "spooling" and
"paper drag motor on" clear, within ``page_timeout``), or, on a ``realtime`` printer that has no such bit, for the
time its buffer needs at ``print_rows_per_second`` — and then asks once more, so paper that ends on the last rows
raises :class:`PrinterFault` like paper that ends on the first (:meth:`capabilities` says which of the two this
printer does).  A cut is done when a printer with an outlet sensor reports the sheet there (within
``present_timeout``; a sheet that never arrives is JAMMED), or, without a sensor, by the status ``cut_time`` after
it; a cutter error is a :class:`PrinterFault` either way, and no :class:`DocumentPresented` follows.

After a cut the sheet waits in the outlet.  A printer with an outlet sensor (``status = "custom-full"``: the
Custom KPM216H's ``DLE EOT 20``) reports it, and a poll every ``poll_interval`` seconds turns the sensor's change
into :class:`DocumentTaken`.  Only a valid status reply can change what the driver believes: a garbled or missing
reply is logged and the query sent again, and after ``max_bad_replies`` of them in a row the printer counts as
OFFLINE (keeping what the outlet sensor last said: silence never means "the sheet was taken").
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from hal.events import DeviceUnavailable, EventSink, discard
from hal.printer import escpos_commands as commands, escpos_status
from hal.printer.contract import (
    DocumentPresented, DocumentTaken, PageRaster, PrinterCapabilities, PrinterFault, PrinterState, PrinterStatus,
    PrinterStatusChanged,
)
from hal.printer.escpos_link import LinkError, PrinterLink
from hal.printer.escpos_status import StatusReplyError

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
MAX_RASTER_ROWS = commands.MAX_RASTER_ROWS


class EscposPrinter:
    """The :class:`hal.printer.contract.Printer` contract over a :class:`~hal.printer.escpos_link.PrinterLink`."""

    def __init__(self, link: PrinterLink, name: str = "printer", *, status_mode: str = "custom-full",
                 dpi: int = 203, width_dots: int = 1728, band_rows: int = commands.DEFAULT_BAND_ROWS,
                 max_bytes_in_flight: int = 65536,
                 print_rows_per_second: float | None = None, reply_timeout: float = 1.0,
                 poll_interval: float | None = 0.5, max_bad_replies: int = 3, cut: str = "full",
                 cut_command: str = "gs_v", present_timeout: float = 5.0, settle_time: float = 0.05,
                 page_timeout: float = 30.0, cut_time: float = 0.5, confirm_interval: float = 0.02,
                 clock: Callable[[], float] = time.monotonic):
        escpos_status.queries_for(status_mode)  # refuses an unknown mode
        if not 1 <= band_rows <= MAX_RASTER_ROWS:
            raise ValueError(f"band_rows must be 1 … {MAX_RASTER_ROWS}, got {band_rows}")
        band_bytes = 8 + band_rows * ((width_dots + 7) // 8)
        if max_bytes_in_flight < band_bytes:
            raise ValueError(f"max_bytes_in_flight ({max_bytes_in_flight}) must hold one band of {band_rows} rows "
                             f"at {width_dots} dots ({band_bytes} bytes)")
        cut_bytes = commands.cut(cut_command, cut)  # refuses an unknown cut
        self.link, self.name, self.status_mode = link, name, status_mode
        self.dpi, self.width_dots, self.band_rows = dpi, width_dots, band_rows
        self.max_bytes_in_flight, self.print_rows_per_second = max_bytes_in_flight, print_rows_per_second
        self.reply_timeout, self.poll_interval, self.max_bad_replies = reply_timeout, poll_interval, max_bad_replies
        self.present_timeout, self.settle_time = present_timeout, settle_time
        self.page_timeout, self.cut_time, self.confirm_interval = page_timeout, cut_time, confirm_interval
        self.has_outlet_sensor = status_mode == "custom-full"
        self._cut = cut_bytes
        self._clock = clock
        self._sink: EventSink = discard
        self._lock = asyncio.Lock()
        self._known: PrinterStatus | None = None  # the last status read from a valid reply
        self._poller: asyncio.Task | None = None
        self._in_flight = 0.0  # bytes the printer may still hold (when its print speed is known)
        self._in_flight_at = 0.0
        self._row_bytes = 1

    def __repr__(self) -> str:
        return f"EscposPrinter({self.name!r}, {self.link.where}, status={self.status_mode})"

    # -- the contract ---------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        await asyncio.to_thread(self.link.open)
        try:
            async with self._lock:
                await self._send(commands.INIT)
                status = None
                for _ in range(self.max_bad_replies):  # a noisy line gets more than one chance
                    status = await self._read_status()
                    if status is not None:
                        break
        except LinkError as e:
            await asyncio.to_thread(self.link.close)
            raise DeviceUnavailable(self.name, f"printer at {self.link.where} failed: {e}") from None
        if status is None:
            await asyncio.to_thread(self.link.close)
            raise DeviceUnavailable(self.name, f"the printer at {self.link.where} does not answer status queries")
        self._sink = sink
        self._known = status
        if self.poll_interval is not None and self.has_outlet_sensor:
            self._poller = asyncio.create_task(self._poll(), name=f"{self.name} status poll")

    async def stop(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        self._sink = discard
        async with self._lock:
            await asyncio.to_thread(self.link.close)

    async def status(self) -> PrinterStatus:
        async with self._lock:
            return await self._status_now()

    def capabilities(self) -> PrinterCapabilities:
        return PrinterCapabilities(outlet_sensor=self.has_outlet_sensor,
                                   confirms_page_end=escpos_status.reports_busy(self.status_mode))

    async def print_page(self, page: PageRaster) -> None:
        page.check_fits(self.name, self.width_dots, self.dpi)
        async with self._lock:
            status = await self._status_now()
            if not status.can_print:
                raise PrinterFault(self.name, status, rows_printed=0)
            rows_done = 0
            for first, count, block in commands.bands(page.rows, page.row_bytes, page.height, self.band_rows):
                await self._pace(len(block), page.row_bytes)
                try:
                    await self._send(block)
                    if DLE_EOT in block[8:]:
                        # Some printers answer a DLE EOT even inside image data (device-protocols.md §4.2): let
                        # those answers arrive and drop them, so they are not taken for the answer to our query.
                        await asyncio.to_thread(self.link.drain, self.settle_time)
                except LinkError as e:
                    log.warning("%s: %s after %d rows of %s", self.name, e, rows_done, page.label)
                    await self._changed(self._offline())
                    raise PrinterFault(self.name, self._offline(), rows_printed=rows_done) from None
                status = await self._status_now()
                # The answer proves the printer had the band by now; count its printing from here at the earliest
                # (conservative: the printer cannot have started on bytes it had not yet received).
                self._in_flight_at = self._clock()
                if not status.can_print:
                    log.warning("%s stopped after %d of %d rows of %s: %s", self.name, rows_done, page.height,
                                page.label, status.describe())
                    raise PrinterFault(self.name, status, rows_printed=rows_done)
                rows_done += count
            # Every band is in the printer, not yet on paper: the page is printed when the printer has worked it off.
            held = self._rows_held(page.row_bytes)
            status = await self._worked_off(self.page_timeout, f"page {page.label!r}")
            if not status.can_print:
                log.warning("%s stopped with up to %d rows of %s still to print: %s", self.name, held, page.label,
                            status.describe())
                raise PrinterFault(self.name, status, rows_printed=max(0, page.height - held))

    async def cut(self) -> None:
        async with self._lock:
            status = await self._status_now()
            if not status.can_print:
                raise PrinterFault(self.name, status, rows_printed=0)
            try:
                await self._send(self._cut)
            except LinkError:
                await self._changed(self._offline())
                raise PrinterFault(self.name, self._offline()) from None
            if self.has_outlet_sensor:
                status = await self._presented()
            else:
                # No sensor to watch: the cut's outcome is the status once the printer has had the time to cut.
                status = await self._worked_off(self.page_timeout, "the cut", extra=self.cut_time)
            if not status.can_print:
                log.warning("%s: the cut failed: %s", self.name, status.describe())
                raise PrinterFault(self.name, status, rows_printed=0)
        await self._sink(DocumentPresented(self.name))

    # -- inside -----------------------------------------------------------------------------------------------

    async def _worked_off(self, timeout: float, what: str, extra: float = 0.0) -> PrinterStatus:
        """Wait until the printer has worked off everything sent, and return its status then (or the first status
        that cannot print).  A printer whose status says so (``custom-full``: spooling, paper drag motor) is asked
        until it is idle; any other is given the time its buffer needs at ``print_rows_per_second`` (nothing when
        the speed is not known) plus ``extra`` seconds, and then asked."""
        if not escpos_status.reports_busy(self.status_mode):
            await asyncio.sleep(self._drain_time() + extra)
            self._in_flight = 0.0
            return await self._status_now()
        deadline = self._clock() + timeout
        while True:
            reading = await self._reading_now()
            if not reading.status.can_print or reading.busy is False:
                if reading.busy is False:
                    self._in_flight = 0.0
                return reading.status
            if self._clock() >= deadline:
                log.warning("%s: still printing %s after %g s", self.name, what, timeout)
                return PrinterStatus(PrinterState.OFFLINE, paper_low=reading.status.paper_low,
                                     document_waiting=reading.status.document_waiting)
            await asyncio.sleep(self.confirm_interval)

    async def _presented(self) -> PrinterStatus:
        """After a cut, on a printer with an outlet sensor: wait until the cut is done and the sheet lies in the
        outlet.  A sheet that does not arrive within ``present_timeout`` is stuck on its way (JAMMED)."""
        deadline = self._clock() + self.present_timeout
        while True:
            reading = await self._reading_now()
            status = reading.status
            if not status.can_print or (status.document_waiting and reading.busy is not True):
                return status
            if self._clock() >= deadline:
                log.warning("%s: no sheet in the outlet %g s after the cut", self.name, self.present_timeout)
                return PrinterStatus(PrinterState.JAMMED, paper_low=status.paper_low)
            await asyncio.sleep(self.confirm_interval)

    def _drain_time(self) -> float:
        """Seconds until the printer has printed what it may still hold (0 when its speed is not known)."""
        if not self.print_rows_per_second or self._in_flight <= 0:
            return 0.0
        rows_in_flight = self._in_flight / max(1, self._row_bytes)
        return max(0.0, rows_in_flight / self.print_rows_per_second - (self._clock() - self._in_flight_at))

    def _rows_held(self, row_bytes: int) -> int:
        """At most how many rows the printer may still hold unprinted: from its speed when known, otherwise as
        many as ``max_bytes_in_flight`` allows."""
        if self.print_rows_per_second:
            return -(-int(self._drain_time() * self.print_rows_per_second))
        return self.max_bytes_in_flight // row_bytes

    async def _send(self, data: bytes) -> None:
        await asyncio.to_thread(self.link.write, data)

    async def _pace(self, block_bytes: int, row_bytes: int) -> None:
        """Wait until the printer has room for ``block_bytes`` more (only when its print speed is known)."""
        self._row_bytes = row_bytes
        if not self.print_rows_per_second:
            return
        drain = self.print_rows_per_second * row_bytes  # bytes a second leave the printer's buffer
        now = self._clock()
        self._in_flight = max(0.0, self._in_flight - (now - self._in_flight_at) * drain)
        self._in_flight_at = now
        excess = self._in_flight + block_bytes - self.max_bytes_in_flight
        if excess > 0:
            await asyncio.sleep(excess / drain)
            now = self._clock()
            self._in_flight = max(0.0, self._in_flight - (now - self._in_flight_at) * drain)
            self._in_flight_at = now
        self._in_flight += block_bytes

    async def _read_status(self) -> PrinterStatus | None:
        reading = await self._read()
        return None if reading is None else reading.status

    async def _read(self) -> escpos_status.Reading | None:
        """One reading from a valid reply, or None (no answer, or an answer that is not a status)."""
        def exchange() -> dict[int, bytes]:
            self.link.discard_input()
            replies = {}
            for n, length in escpos_status.queries_for(self.status_mode):
                self.link.write(escpos_status.query(n))
                replies[n] = self.link.read(length, self.reply_timeout)
            return replies
        replies = await asyncio.to_thread(exchange)
        try:
            return escpos_status.parse_reading(self.status_mode, replies)
        except StatusReplyError as e:
            log.warning("%s at %s: %s", self.name, self.link.where, e)
            return None

    async def _status_now(self) -> PrinterStatus:
        return (await self._reading_now()).status

    async def _reading_now(self) -> escpos_status.Reading:
        """Ask the printer, asking again at once if the reply is missing or garbled; after ``max_bad_replies``
        such replies in a row the printer is OFFLINE.  A connection that broke is opened again once."""
        reading = None
        for _ in range(self.max_bad_replies):
            try:
                reading = await self._read()
            except LinkError as e:
                log.warning("%s: %s", self.name, e)
                if not await self._reopen():
                    break
                continue
            if reading is not None:
                break
        if reading is None:
            reading = escpos_status.Reading(self._offline(), busy=None)
        await self._changed(reading.status)
        return reading

    async def _reopen(self) -> bool:
        await asyncio.to_thread(self.link.close)
        try:
            await asyncio.to_thread(self.link.open)
        except DeviceUnavailable as e:
            log.warning("%s", e)
            return False
        return True

    def _offline(self) -> PrinterStatus:
        """OFFLINE, keeping what the outlet sensor last said (silence is not "the sheet was taken")."""
        waiting = self._known.document_waiting if self._known is not None else False
        return PrinterStatus(PrinterState.OFFLINE, document_waiting=waiting)

    async def _changed(self, status: PrinterStatus) -> None:
        before, self._known = self._known, status
        if before is None or before == status:
            return
        await self._sink(PrinterStatusChanged(self.name, status))
        if before.document_waiting and not status.document_waiting and status.state is not PrinterState.OFFLINE:
            await self._sink(DocumentTaken(self.name))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                async with self._lock:
                    await self._status_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: status poll failed", self.name)
