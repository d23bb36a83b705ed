"""The simulated printer: real page images, a real ESC/POS byte stream, and the hardware's failure modes."""
import asyncio

import numpy as np
import pytest
from PIL import Image

from hal.printer.contract import (
    DocumentPresented, DocumentTaken, PageRaster, Printer, PrinterCapabilities, PrinterFault, PrinterState,
    PrinterStatusChanged,
)
from hal.printer.sim import SimPrinter
from tests.support.escpos_decoder import decode


def make_raster(width=203, height=600, label="doc-0001 p1/1", seed=1, dpi=203):
    rng = np.random.default_rng(seed)
    bits = rng.random((height, width)) < 0.3
    return PageRaster(width, height, dpi, np.packbits(bits, axis=1).tobytes(), label), bits


def black_pixels(image: Image.Image) -> np.ndarray:
    """True where the image is black (mode "1": False is black)."""
    return ~np.array(image.convert("1"), dtype=bool)


def decode_escpos(stream: bytes) -> list[np.ndarray]:
    """The sheets of the byte stream, read by the project's independent decoder (strict: nothing but commands).
    A run of bands that no cut ended (a page stopped by a fault) counts as a sheet too."""
    assert stream[:2] == b"\x1b@"
    return [sheet.bits for sheet in decode(stream).sheets]


class Recorder:
    def __init__(self):
        self.events = []

    async def __call__(self, event):
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def run(coro):
    return asyncio.run(coro)


def test_is_a_printer():
    assert isinstance(SimPrinter(), Printer)


def test_printed_page_is_a_png_with_the_exact_dots(tmp_path):
    raster, bits = make_raster(width=203, height=600)  # width not a multiple of 8

    async def scenario():
        printer = SimPrinter(out_dir=tmp_path)
        await printer.start(Recorder())
        await printer.print_page(raster)
        return printer

    printer = run(scenario())
    (page,) = printer.pages
    assert page.label == "doc-0001 p1/1" and not page.partial
    assert page.path.parent == tmp_path and page.path.name == "0001-doc-0001_p1_1.png"
    with Image.open(page.path) as png:
        assert png.mode == "1" and png.size == (203, 600)
        assert np.array_equal(black_pixels(png), bits)


def test_byte_stream_frames_pages_in_bands_of_band_rows_and_cuts():
    first, bits1 = make_raster(width=1680, height=700, seed=2)
    second, bits2 = make_raster(width=1680, height=256, seed=3, label="doc-0001 p2/2")

    async def scenario():
        printer = SimPrinter()
        await printer.start(Recorder())
        await printer.print_page(first)
        await printer.cut()
        await printer.print_page(second)
        await printer.cut()
        return printer

    printer = run(scenario())
    assert printer.raw.count(b"\x1dv0\x00") == 6 + 2  # 128-row bands by default
    assert printer.raw[2:10] == b"\x1dv0\x00" + bytes([210, 0, 128, 0])  # 210 bytes a row, 128 rows
    sheets = decode_escpos(printer.raw)
    assert len(sheets) == 2 and printer.cuts == 2
    assert np.array_equal(sheets[0][:, :1680], bits1) and np.array_equal(sheets[1][:, :1680], bits2)
    assert all(p.path is None for p in printer.pages)


def test_cut_presents_the_document_and_taking_it_clears_the_outlet():
    raster, _ = make_raster()
    events = Recorder()

    async def scenario():
        printer = SimPrinter()
        await printer.start(events)
        await printer.print_page(raster)
        await printer.cut()
        waiting = await printer.status()
        await printer.take_document()
        await printer.take_document()  # nothing left: no second event
        return waiting, await printer.status()

    waiting, after = run(scenario())
    assert waiting.document_waiting and waiting.can_print
    assert not after.document_waiting
    assert len(events.of(DocumentPresented)) == 1 and len(events.of(DocumentTaken)) == 1
    kinds = [type(e) for e in events.events]
    assert kinds.index(DocumentPresented) < kinds.index(DocumentTaken)


def test_paper_out_now_refuses_the_page_until_refilled():
    raster, _ = make_raster()
    events = Recorder()

    async def scenario():
        printer = SimPrinter()
        await printer.start(events)
        await printer.paper_out()
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(raster)
        refused = len(printer.pages)
        await printer.refill_paper()
        await printer.print_page(raster)
        return fault.value, refused, printer

    fault, refused, printer = run(scenario())
    assert fault.status.state is PrinterState.PAPER_OUT and fault.rows_printed == 0 and refused == 0
    assert len(printer.pages) == 1
    states = [e.status.state for e in events.of(PrinterStatusChanged)]
    assert states == [PrinterState.PAPER_OUT, PrinterState.READY]


def test_paper_out_in_the_middle_of_a_page_keeps_the_partial_page(tmp_path):
    raster, bits = make_raster(width=400, height=600)
    events = Recorder()

    async def scenario():
        printer = SimPrinter(out_dir=tmp_path)
        await printer.start(events)
        await printer.paper_out(after_rows=250)
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(raster)
        return fault.value, printer, await printer.status()

    fault, printer, status = run(scenario())
    assert fault.status.state is PrinterState.PAPER_OUT and fault.rows_printed == 250
    assert status.state is PrinterState.PAPER_OUT and not status.can_print
    (page,) = printer.pages
    assert page.partial and page.path.name.endswith("-partial.png")
    with Image.open(page.path) as png:
        assert np.array_equal(black_pixels(png), bits[:250])
    assert np.array_equal(decode_escpos(printer.raw)[0][:, :400], bits[:250])
    assert events.of(PrinterStatusChanged)[-1].status.state is PrinterState.PAPER_OUT


def test_paper_out_counts_rows_across_pages():
    raster, _ = make_raster(height=300)

    async def scenario():
        printer = SimPrinter()
        await printer.start(Recorder())
        await printer.paper_out(after_rows=400)
        await printer.print_page(raster)  # 300 rows: fits
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(raster)
        return fault.value, printer

    fault, printer = run(scenario())
    assert fault.rows_printed == 100
    assert [p.partial for p in printer.pages] == [False, True]


@pytest.mark.parametrize("fail, recover, state", [
    ("open_cover", "close_cover", PrinterState.COVER_OPEN),
    ("go_offline", "come_online", PrinterState.OFFLINE),
])
def test_cover_and_offline_stop_printing_and_cutting(fail, recover, state):
    raster, _ = make_raster()

    async def scenario():
        printer = SimPrinter()
        await printer.start(Recorder())
        await getattr(printer, fail)()
        status = await printer.status()
        with pytest.raises(PrinterFault):
            await printer.print_page(raster)
        with pytest.raises(PrinterFault):
            await printer.cut()
        await getattr(printer, recover)()
        await printer.print_page(raster)
        return status, printer

    status, printer = run(scenario())
    assert status.state is state and len(printer.pages) == 1 and printer.cuts == 0


def test_a_jam_mid_page_is_cleared_by_opening_and_closing_the_cover():
    raster, _ = make_raster(height=300)

    async def scenario():
        printer = SimPrinter()
        await printer.start(Recorder())
        await printer.jam(after_rows=10)
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(raster)
        jammed = await printer.status()
        await printer.open_cover()
        during = await printer.status()
        await printer.close_cover()
        return fault.value, jammed, during, await printer.status()

    fault, jammed, during, after = run(scenario())
    assert fault.status.state is PrinterState.JAMMED and fault.rows_printed == 10
    assert jammed.state is PrinterState.JAMMED and during.state is PrinterState.COVER_OPEN
    assert after.state is PrinterState.READY


def test_paper_low_still_prints():
    raster, _ = make_raster()

    async def scenario():
        printer = SimPrinter()
        await printer.start(Recorder())
        await printer.paper_low()
        status = await printer.status()
        await printer.print_page(raster)
        return status, printer

    status, printer = run(scenario())
    assert status.paper_low and status.can_print and len(printer.pages) == 1


def test_refuses_a_raster_wider_than_the_printable_width_or_at_another_resolution():
    wide, _ = make_raster(width=1681)
    coarse, _ = make_raster(dpi=300)

    async def scenario():
        printer = SimPrinter()
        await printer.start(Recorder())
        with pytest.raises(ValueError, match="1681 dots wide.*1680"):
            await printer.print_page(wide)
        with pytest.raises(ValueError, match="300 dpi"):
            await printer.print_page(coarse)
        return printer

    printer = run(scenario())
    assert printer.pages == [] and b"\x1dv0" not in printer.raw


def test_clear_forgets_kept_pages_but_not_the_files(tmp_path):
    raster, bits = make_raster()

    async def scenario():
        printer = SimPrinter(out_dir=tmp_path)
        await printer.start(Recorder())
        await printer.print_page(raster)
        printer.clear()
        await printer.print_page(raster)
        return printer

    printer = run(scenario())
    assert len(printer.pages) == 1 and printer.pages[0].path.name.startswith("0002-")
    assert len(list(tmp_path.glob("*.png"))) == 2
    (sheet,) = decode_escpos(printer.raw)
    assert np.array_equal(sheet[:, :raster.width], bits)


def test_the_byte_stream_is_the_escpos_drivers_own_dialect():
    """SimPrinter.raw is what the ESC/POS driver sends for the same job, less its real-time status queries."""
    from hal.printer.escpos_link import NetworkLink
    from hal.printer.escpos_printer import EscposPrinter
    from tests.support.emulators import PrinterEmulator
    raster, _ = make_raster(width=1680, height=700, seed=4)

    async def job(printer):
        await printer.start(Recorder())
        await printer.print_page(raster)
        await printer.cut()
        await printer.stop()

    sim = SimPrinter()
    run(job(sim))
    emulator = PrinterEmulator()
    try:
        run(job(EscposPrinter(NetworkLink("printer", *emulator.start_tcp()), poll_interval=None, width_dots=1680)))
    finally:
        emulator.stop()

    def job_commands(stream):
        return [(c.name, c.arg, c.width_bytes, c.rows, c.data) for c in decode(stream).commands if c.name != "status"]
    assert job_commands(sim.raw) == job_commands(bytes(emulator.received))


def test_a_failed_cut_is_a_jam_that_presents_nothing_until_the_cover_is_cycled():
    raster, _ = make_raster()
    events = Recorder()

    async def scenario():
        printer = SimPrinter()
        await printer.start(events)
        await printer.print_page(raster)
        await printer.fail_cut()
        with pytest.raises(PrinterFault) as fault:
            await printer.cut()
        jammed = await printer.status()
        await printer.open_cover()
        await printer.close_cover()
        await printer.print_page(raster)
        await printer.cut()
        return fault.value, jammed, printer

    fault, jammed, printer = run(scenario())
    assert fault.status.state is PrinterState.JAMMED and jammed.state is PrinterState.JAMMED
    assert not jammed.document_waiting and printer.cuts == 1 and len(events.of(DocumentPresented)) == 1


def test_without_an_outlet_sensor_nothing_is_reported_in_the_outlet():
    raster, _ = make_raster()
    events = Recorder()

    async def scenario():
        printer = SimPrinter(outlet_sensor=False)
        await printer.start(events)
        await printer.print_page(raster)
        await printer.cut()
        await printer.take_document()
        return printer, await printer.status()

    printer, status = run(scenario())
    assert printer.capabilities() == PrinterCapabilities(outlet_sensor=False, confirms_page_end=True)
    assert SimPrinter().capabilities().outlet_sensor
    assert not status.document_waiting and printer.cuts == 1
    assert len(events.of(DocumentPresented)) == 1 and events.of(DocumentTaken) == []
