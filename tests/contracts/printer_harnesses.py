"""Printer harnesses: the simulator, and the real ESC/POS driver over a pty and over loopback TCP.

The ESC/POS harnesses put :class:`tests.support.printer_emulator.PrinterEmulator` at the far end of the wire and
read what came out of the printer by decoding the bytes it received (:mod:`tests.support.escpos_decoder`): the
driver is judged by its byte stream, not by what it says it did.
"""
from __future__ import annotations

import asyncio
from typing import Protocol

import numpy as np

from hal.printer.contract import Printer, PrinterCapabilities
from hal.printer.escpos_link import NetworkLink, SerialLink
from hal.printer.escpos_printer import EscposPrinter
from hal.printer.sim import SimPrinter
from tests.support.escpos_decoder import decode
from tests.support.emulators import PrinterEmulator
from tests.support.printer_emulator import PrinterScript

from .harness import Harness, RecordingSink


class PrinterHarness(Harness, Protocol):
    printer: Printer
    row_granularity: int  # a paper-out is reported to within this many rows
    rows_in_flight: int  # rows the printer may hold unprinted (a fault may be reported this many rows late)
    capabilities: PrinterCapabilities  # what the printer must say it can do

    def rows_on_paper(self) -> int:
        """Rows the print head has put on paper so far (all pages)."""

    def printed_sheets(self) -> list[np.ndarray]:
        """Every sheet that was printed and cut, as rows × dots booleans (True = black)."""

    async def paper_out_after(self, rows: int) -> None: ...

    async def paper_near_end(self) -> None: ...

    async def refill_paper(self) -> None: ...

    async def open_cover(self) -> None: ...

    async def close_cover(self) -> None: ...

    async def fail_beyond_recovery(self) -> None: ...

    async def take_document(self) -> None: ...

    async def fail_next_cut(self) -> None:
        """The cutter fails at the next cut (until the cover is opened and closed)."""


class SimPrinterHarness:
    row_granularity = 1
    rows_in_flight = 0
    capabilities = PrinterCapabilities(outlet_sensor=True, confirms_page_end=True)

    def __init__(self):
        self.sink = RecordingSink()
        self.printer = SimPrinter("printer", width_dots=1728)

    async def start(self) -> None:
        await self.printer.start(self.sink)

    async def stop(self) -> None:
        await self.printer.stop()

    async def settle(self) -> None:
        pass

    def printed_sheets(self) -> list[np.ndarray]:
        return [~np.array(p.image.convert("1"), dtype=bool) for p in self.printer.pages if not p.partial]

    def rows_on_paper(self) -> int:
        return sum(p.image.height for p in self.printer.pages)

    async def fail_next_cut(self) -> None:
        await self.printer.fail_cut()

    async def paper_out_after(self, rows: int) -> None:
        await self.printer.paper_out(after_rows=rows)

    async def paper_near_end(self) -> None:
        await self.printer.paper_low()

    async def refill_paper(self) -> None:
        await self.printer.refill_paper()

    async def open_cover(self) -> None:
        await self.printer.open_cover()

    async def close_cover(self) -> None:
        await self.printer.close_cover()

    async def fail_beyond_recovery(self) -> None:
        await self.printer.go_offline()

    async def take_document(self) -> None:
        await self.printer.take_document()


class _EscposHarness:
    """The emulator prints at ``SPEED`` rows a second, so bytes are in flight; the driver knows the speed and keeps
    at most two bands in the printer."""

    row_granularity = 64
    rows_in_flight = 2 * 64
    model = "custom-full"
    capabilities = PrinterCapabilities(outlet_sensor=True, confirms_page_end=True)
    SPEED = 3000.0

    def __init__(self):
        self.sink = RecordingSink()
        self.emulator = PrinterEmulator(PrinterScript(model=self.model, print_rows_per_second=self.SPEED))
        band_bytes = 8 + self.row_granularity * 1728 // 8
        self.printer = EscposPrinter(self._link(), "printer", status_mode=self.model, width_dots=1728,
                                     band_rows=self.row_granularity, poll_interval=0.02, reply_timeout=0.5,
                                     print_rows_per_second=self.SPEED, max_bytes_in_flight=2 * band_bytes,
                                     cut_time=0.1)

    def _link(self):
        raise NotImplementedError

    async def start(self) -> None:
        await self.printer.start(self.sink)

    async def stop(self) -> None:
        try:
            await self.printer.stop()
        finally:
            self.emulator.stop()
        assert not self.emulator.errors, f"the printer could not read: {self.emulator.errors[:3]}"

    async def settle(self) -> None:
        await asyncio.sleep(0.12)  # a few status polls

    def printed_sheets(self) -> list[np.ndarray]:
        sheets = decode(bytes(self.emulator.received)).sheets
        return [s.bits for s in sheets if s.cut is not None and s.blocks]

    async def paper_out_after(self, rows: int) -> None:
        self.emulator.script.paper_out_after_rows = self.emulator.rows_printed + rows

    async def paper_near_end(self) -> None:
        self.emulator.near_end = True

    async def refill_paper(self) -> None:
        self.emulator.refill_paper()

    async def open_cover(self) -> None:
        self.emulator.open_cover()

    async def fail_beyond_recovery(self) -> None:
        self.emulator.unrecoverable_error = True

    async def take_document(self) -> None:
        self.emulator.take_document()

    def rows_on_paper(self) -> int:
        return self.emulator.rows_printed

    async def fail_next_cut(self) -> None:
        self.emulator.script.cut_fails = True

    async def close_cover(self) -> None:
        self.emulator.script.cut_fails = False  # staff clear the cutter with the cover open
        self.emulator.close_cover()


class EscposPtyHarness(_EscposHarness):
    """The driver on a serial line: python-escpos's Serial on the slave side of a pty."""

    def _link(self):
        return SerialLink("printer", self.emulator.start_pty(), baudrate=115200, flow_control="none")


class EscposTcpHarness(_EscposHarness):
    """The driver on the network: python-escpos's Network to 127.0.0.1 on an ephemeral port."""

    def _link(self):
        host, port = self.emulator.start_tcp()
        return NetworkLink("printer", host, port)


class EscposRealtimeTcpHarness(EscposTcpHarness):
    """A plain ESC/POS printer (``DLE EOT 1``-``4``): no outlet sensor, no "still printing" bit; the driver waits
    the time the page takes at the configured speed."""

    model = "realtime"
    capabilities = PrinterCapabilities(outlet_sensor=False, confirms_page_end=False)
