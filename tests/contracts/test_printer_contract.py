"""Conformance: a printer states its capabilities, prints the exact dots, returns from a page only once it is on
paper, stops with the rows printed when paper runs out mid-page (or on the last rows, with the page already sent),
fails a cut the cutter could not make, reports paper, cover and faults truthfully, and reports the sheet in the
outlet until it is taken."""
from __future__ import annotations

import numpy as np
import pytest

from hal.printer.contract import (
    DocumentPresented, DocumentTaken, PageRaster, Printer, PrinterCapabilities, PrinterFault, PrinterState,
    capabilities_of,
)

from .printer_harnesses import PrinterHarness
from .harness import exercise


def make_page(height=600, width=1679, seed=7, label="doc-0001 p1/1") -> tuple[PageRaster, np.ndarray]:
    rng = np.random.default_rng(seed)
    bits = rng.random((height, width)) < 0.25
    return PageRaster(width, height, 203, np.packbits(bits, axis=1).tobytes(), label), bits


def same_dots(sheet: np.ndarray, bits: np.ndarray) -> bool:
    height, width = bits.shape
    return sheet.shape[0] >= height and not sheet[-height:, width:].any() and \
        np.array_equal(sheet[-height:, :width], bits)


def test_the_printer_fulfils_the_protocol_and_starts_ready(printer_harness):
    async def body(h: PrinterHarness):
        assert isinstance(h.printer, Printer)
        status = await h.printer.status()
        assert status.state is PrinterState.READY and not status.paper_low and not status.document_waiting
    exercise(printer_harness, body)


def test_the_printer_states_its_capabilities(printer_harness):
    async def body(h: PrinterHarness):
        stated = h.printer.capabilities()
        assert isinstance(stated, PrinterCapabilities) and stated == h.capabilities
        assert capabilities_of(h.printer) == stated
    exercise(printer_harness, body)


def test_capabilities_of_a_printer_that_does_not_state_them_is_the_safe_default():
    class Mute:
        pass
    assert capabilities_of(Mute()) == PrinterCapabilities(outlet_sensor=False, confirms_page_end=False)


def test_a_page_prints_dot_for_dot_and_waits_in_the_outlet(printer_harness):
    async def body(h: PrinterHarness):
        page, bits = make_page()
        await h.printer.print_page(page)
        assert h.rows_on_paper() == page.height  # returned once on paper, not once sent
        await h.printer.cut()
        (sheet,) = h.printed_sheets()
        assert sheet.shape[0] == page.height and same_dots(sheet, bits)
        assert len(h.sink.of(DocumentPresented)) == 1
        assert (await h.printer.status()).document_waiting == capabilities_of(h.printer).outlet_sensor
    exercise(printer_harness, body)


def test_paper_ending_on_the_last_rows_of_a_page_is_a_fault(printer_harness):
    """The printer may hold the whole page when the paper ends on its last rows: still not printed."""
    async def body(h: PrinterHarness):
        page, _ = make_page(height=600)
        await h.paper_out_after(590)
        with pytest.raises(PrinterFault) as fault:
            await h.printer.print_page(page)
        assert fault.value.status.state is PrinterState.PAPER_OUT and fault.value.rows_printed <= 590
        assert h.sink.of(DocumentPresented) == []
    exercise(printer_harness, body)


def test_a_cut_the_cutter_fails_is_a_fault_and_presents_nothing(printer_harness):
    async def body(h: PrinterHarness):
        page, bits = make_page(height=200)
        await h.fail_next_cut()
        await h.printer.print_page(page)
        with pytest.raises(PrinterFault) as fault:
            await h.printer.cut()
        assert fault.value.status.state is PrinterState.JAMMED
        assert h.sink.of(DocumentPresented) == [] and not (await h.printer.status()).document_waiting
        with pytest.raises(PrinterFault):  # nothing prints until staff clear the cutter
            await h.printer.print_page(page)
        await h.open_cover()
        await h.close_cover()
        await h.settle()
        assert (await h.printer.status()).state is PrinterState.READY
        await h.printer.print_page(page)
        await h.printer.cut()
        assert len(h.sink.of(DocumentPresented)) == 1 and same_dots(h.printed_sheets()[-1], bits)
    exercise(printer_harness, body)


def test_two_pages_become_two_sheets(printer_harness):
    async def body(h: PrinterHarness):
        pages = [make_page(height=300, seed=s, label=f"doc p{s}/2") for s in (1, 2)]
        for page, _ in pages:
            await h.printer.print_page(page)
            await h.printer.cut()
        sheets = h.printed_sheets()
        assert len(sheets) == 2 and all(same_dots(s, b) for s, (_, b) in zip(sheets, pages))
    exercise(printer_harness, body)


def test_paper_out_mid_page_stops_with_the_rows_printed(printer_harness):
    async def body(h: PrinterHarness):
        page, bits = make_page(height=600)
        await h.paper_out_after(250)
        with pytest.raises(PrinterFault) as fault:
            await h.printer.print_page(page)
        assert fault.value.status.state is PrinterState.PAPER_OUT
        assert 250 - h.row_granularity <= fault.value.rows_printed <= 250 + h.rows_in_flight
        assert (await h.printer.status()).state is PrinterState.PAPER_OUT
        with pytest.raises(PrinterFault) as again:  # nothing prints on an empty roll
            await h.printer.print_page(page)
        assert again.value.rows_printed == 0
        await h.refill_paper()
        await h.settle()
        await h.printer.print_page(page)
        await h.printer.cut()
        assert same_dots(h.printed_sheets()[-1], bits)
    exercise(printer_harness, body)


def test_paper_near_end_is_reported_and_still_prints(printer_harness):
    async def body(h: PrinterHarness):
        await h.paper_near_end()
        status = await h.printer.status()
        assert status.state is PrinterState.READY and status.paper_low
        page, bits = make_page(height=200)
        await h.printer.print_page(page)
        await h.printer.cut()
        assert same_dots(h.printed_sheets()[-1], bits)
    exercise(printer_harness, body)


def test_an_open_cover_stops_printing_and_cutting(printer_harness):
    async def body(h: PrinterHarness):
        await h.open_cover()
        assert (await h.printer.status()).state is PrinterState.COVER_OPEN
        page, _ = make_page(height=100)
        with pytest.raises(PrinterFault) as fault:
            await h.printer.print_page(page)
        assert fault.value.status.state is PrinterState.COVER_OPEN and fault.value.rows_printed == 0
        with pytest.raises(PrinterFault):
            await h.printer.cut()
        await h.close_cover()
        assert (await h.printer.status()).state is PrinterState.READY
        assert h.printed_sheets() == []
    exercise(printer_harness, body)


def test_a_fault_beyond_recovery_is_offline(printer_harness):
    async def body(h: PrinterHarness):
        await h.fail_beyond_recovery()
        status = await h.printer.status()
        assert status.state is PrinterState.OFFLINE and not status.can_print
    exercise(printer_harness, body)


def test_the_document_waits_until_taken_and_taken_is_reported_once(printer_harness):
    async def body(h: PrinterHarness):
        if not capabilities_of(h.printer).outlet_sensor:
            pytest.skip("this printer has no outlet sensor (status = realtime)")
        page, _ = make_page(height=100)
        await h.printer.print_page(page)
        await h.printer.cut()
        await h.settle()
        assert (await h.printer.status()).document_waiting
        assert h.sink.of(DocumentTaken) == []  # nobody took it yet
        await h.take_document()
        await h.settle()
        assert not (await h.printer.status()).document_waiting
        await h.settle()
        assert len(h.sink.of(DocumentTaken)) == 1
    exercise(printer_harness, body)
