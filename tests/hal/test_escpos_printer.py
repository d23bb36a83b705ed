"""The ESC/POS driver at the wire: pages in Japanese come out dot for dot, a status check between bands, pacing
that keeps the printer's buffer from overflowing, the plain DLE EOT 1-4 printer, noise, and missing printers."""
from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from hal.events import DeviceUnavailable
from hal.factory import DeviceConfigError, build_device
from hal.printer.contract import (
    DocumentPresented, DocumentTaken, PageRaster, PrinterCapabilities, PrinterFault, PrinterState,
)
from hal.printer.escpos_link import NetworkLink, SerialLink, UsbLink
from hal.printer.escpos_printer import EscposPrinter
from tests.contracts.harness import RecordingSink
from tests.support.escpos_decoder import assert_sheet_is_page, decode
from tests.support.emulators import PrinterEmulator
from tests.support.printer_emulator import PrinterScript

FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
TEXT = "住民票の写し　証明書自動交付機"


def japanese_page(width=1679, height=2374) -> PageRaster:
    """An A4 page at 203 dpi with Japanese text drawn into it, as the kiosk always does."""
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 64)
    for line in range(0, height - 100, 160):
        draw.text((60, 40 + line), TEXT, font=font, fill=0)
    draw.rectangle((20, 20, width - 21, height - 21), outline=0, width=3)
    bits = ~np.array(image, dtype=bool)
    return PageRaster(width, height, 203, np.packbits(bits, axis=1).tobytes(), "doc-0001 p1/1")


def small_page(width=384, height=800, seed=2) -> PageRaster:
    bits = np.random.default_rng(seed).random((height, width)) < 0.3
    return PageRaster(width, height, 203, np.packbits(bits, axis=1).tobytes(), "doc p1/1")


def striped_page(width=384, height=800) -> PageRaster:
    """A page whose bytes never hold a DLE EOT (so no band waits for stray answers: pure pacing)."""
    return PageRaster(width, height, 203, bytes([0xAA, 0x55]) * (width // 16 * height), "doc p1/1")


def run(emulator: PrinterEmulator, link, body, **options):
    async def main():
        printer = EscposPrinter(link, poll_interval=None, reply_timeout=0.2, **options)
        sink = RecordingSink()
        await printer.start(sink)
        try:
            await body(printer, sink)
        finally:
            await printer.stop()
    try:
        asyncio.run(main())
    finally:
        emulator.stop()
    assert emulator.errors == []


def test_a_japanese_a4_page_over_serial_decodes_dot_for_dot_with_no_text_bytes():
    emulator = PrinterEmulator()
    page = japanese_page()
    assert np.unpackbits(np.frombuffer(page.rows, np.uint8)).sum() > 100_000  # the text really is in the image

    async def body(printer, sink):
        await printer.print_page(page)
        await printer.cut()
    run(emulator, SerialLink("printer", emulator.start_pty(), flow_control="none"), body, band_rows=128)
    decoded = decode(bytes(emulator.received))  # strict: any text byte would be an error
    (sheet,) = decoded.sheets
    assert sheet.cut == "full" and sheet.blocks == -(-page.height // 128)
    assert_sheet_is_page(sheet, page)
    assert {c.name for c in decoded.commands} == {"init", "raster", "status", "cut"}
    for encoding in ("utf-8", "shift_jis", "euc_jp", "gb2312"):
        assert TEXT[:3].encode(encoding) not in bytes(emulator.received)


def test_every_band_is_followed_by_a_status_check():
    emulator = PrinterEmulator()

    async def body(printer, sink):
        await printer.print_page(small_page(height=300))
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, band_rows=64)
    names = [c.name for c in decode(bytes(emulator.received)).commands]
    bands = [i for i, n in enumerate(names) if n == "raster"]
    assert len(bands) == 5 and all(names[i + 1] == "status" for i in bands)


def test_pacing_keeps_a_slow_printers_buffer_from_overflowing():
    script = PrinterScript(buffer_bytes=8192, print_rows_per_second=2000)
    emulator = PrinterEmulator(script)
    started = time.monotonic()

    async def body(printer, sink):
        await printer.print_page(striped_page(height=800))  # 38 KB: 0.4 s of printing
    run(emulator, SerialLink("printer", emulator.start_pty(), flow_control="none"), body, width_dots=384,
        band_rows=64, max_bytes_in_flight=8192, print_rows_per_second=2000)
    assert not emulator.overflowed and emulator.rows_printed == 800
    assert time.monotonic() - started >= 0.25  # it waited for the printer


def test_the_emulator_does_catch_an_unpaced_driver_overflowing_it():
    emulator = PrinterEmulator(PrinterScript(buffer_bytes=8192, print_rows_per_second=500))

    async def body(printer, sink):
        await printer.print_page(striped_page(height=800))
    run(emulator, SerialLink("printer", emulator.start_pty(), flow_control="none"), body, width_dots=384,
        band_rows=64, max_bytes_in_flight=8192)
    assert emulator.overflowed


def test_a_plain_escpos_printer_answers_dle_eot_1_to_4_and_has_no_outlet_sensor():
    emulator = PrinterEmulator(PrinterScript(model="realtime", near_end_after_bands=2, paper_out_after_rows=500))

    async def body(printer, sink):
        page = small_page(height=300)
        await printer.print_page(page)  # bands 1-5; near end after band 2
        status = await printer.status()
        assert status.state is PrinterState.READY and status.paper_low
        await printer.cut()
        assert not (await printer.status()).document_waiting
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(page)  # the paper ends 200 rows in
        assert fault.value.status.state is PrinterState.PAPER_OUT and fault.value.rows_printed == 192
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, status_mode="realtime", width_dots=384,
        band_rows=64)
    assert set(emulator.queries) == {1, 2, 3, 4}


def test_noise_on_the_line_is_asked_again_and_never_reads_as_taken():
    emulator = PrinterEmulator()

    async def body(printer, sink):
        await printer.print_page(small_page(height=64))
        await printer.cut()
        emulator.garble_next_replies(2)
        status = await printer.status()  # two garbled answers, then a good one
        assert status.document_waiting and status.state is PrinterState.READY
        emulator.garble_next_replies(3)
        status = await printer.status()  # three in a row: offline, but the sheet is still believed there
        assert status.state is PrinterState.OFFLINE and status.document_waiting
        assert sink.of(DocumentTaken) == []
        emulator.take_document()
        assert not (await printer.status()).document_waiting
        assert len(sink.of(DocumentTaken)) == 1
    run(emulator, SerialLink("printer", emulator.start_pty(), flow_control="none"), body)


def test_a_printer_that_falls_silent_mid_page_is_offline_with_the_rows_confirmed():
    emulator = PrinterEmulator()

    async def body(printer, sink):
        await printer.print_page(small_page(height=128))
        emulator.silent = True
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(small_page(height=128))
        assert fault.value.status.state is PrinterState.OFFLINE and fault.value.rows_printed == 0
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, width_dots=384, band_rows=64,
        max_bad_replies=2)


def test_a_partial_cut_with_esc_m_reaches_the_printer():
    emulator = PrinterEmulator()

    async def body(printer, sink):
        await printer.print_page(small_page(height=64))
        await printer.cut()
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, width_dots=384, cut="partial",
        cut_command="esc_i")
    assert [s.cut for s in decode(bytes(emulator.received)).sheets] == ["partial"]


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("link, where", [
    (SerialLink("printer", "/dev/ttyNOPRINTER0"), "serial /dev/ttyNOPRINTER0"),
    (NetworkLink("printer", "127.0.0.1", unused_port(), connect_timeout=1), "network 127.0.0.1:"),
    (UsbLink("printer", 0x0DD4, 0x0205), "usb 0dd4:0205"),
])
def test_a_missing_printer_at_start_names_the_device_and_where(link, where):
    with pytest.raises(DeviceUnavailable) as error:
        asyncio.run(EscposPrinter(link).start(RecordingSink()))
    assert str(error.value).startswith("printer: ") and where in str(error.value)


def test_a_printer_that_never_answers_at_start_is_unavailable():
    emulator = PrinterEmulator()
    emulator.silent = True
    path = emulator.start_pty()
    try:
        with pytest.raises(DeviceUnavailable, match=f"printer at serial {path} does not answer status queries"):
            asyncio.run(EscposPrinter(SerialLink("printer", path, flow_control="none"), reply_timeout=0.1,
                                      max_bad_replies=1).start(RecordingSink()))
    finally:
        emulator.stop()


def test_the_factory_builds_each_connection_from_configuration():
    serial = build_device("printer", {"driver": "escpos", "connection": "serial", "device": "/dev/ttyUSB0",
                                      "baudrate": 38400, "flow_control": "dsrdtr", "status": "realtime"})
    assert isinstance(serial, EscposPrinter) and serial.link.where == "serial /dev/ttyUSB0"
    assert serial.status_mode == "realtime" and not serial.has_outlet_sensor
    network = build_device("printer", {"driver": "escpos", "connection": "network", "host": "192.0.2.40",
                                       "page_timeout": 12, "present_timeout": 3.5, "cut_time": 0.8})
    assert network.link.where == "network 192.0.2.40:9100" and network.has_outlet_sensor
    assert (network.page_timeout, network.present_timeout, network.cut_time) == (12, 3.5, 0.8)
    usb = build_device("printer", {"driver": "escpos", "connection": "usb", "vendor_id": "0x0dd4",
                                   "product_id": 517})
    assert usb.link.where == "usb 0dd4:0205"


@pytest.mark.parametrize("table, message", [
    ({"connection": "parallel"}, "connection must be one of serial, usb, network"),
    ({"connection": "serial"}, "device is needed"),
    ({"connection": "network", "host": "h", "device": "/dev/x"}, "unknown key device"),
    ({"connection": "usb", "vendor_id": "dd4", "product_id": 1}, "vendor_id must be a USB id"),
    ({"connection": "network", "host": "h", "band_rows": 4096}, "band_rows must be 1 … 4095"),
    ({"connection": "network", "host": "h", "max_bytes_in_flight": 1000}, "must hold one band"),
    ({"connection": "serial", "device": "/dev/x", "flow_control": "maybe"}, "flow_control must be one of"),
    ({"connection": "network", "host": "h", "status": "psychic"}, "status must be one of"),
])
def test_configuration_mistakes_are_clear(table, message):
    with pytest.raises(DeviceConfigError) as error:
        build_device("printer", {"driver": "escpos", **table})
    assert str(error.value).startswith("devices.printer: ") and message in str(error.value)


def test_answers_to_dle_eot_hidden_in_image_data_are_not_taken_for_the_status():
    """Some printers act on DLE EOT even inside GS v 0 data; their answers must not be read as ours."""
    emulator = PrinterEmulator(PrinterScript(model="realtime", answers_inside_images=True))
    rows = bytearray(small_page(height=128).rows)
    for at in range(100, len(rows) - 3, 997):  # n = 4: the paper sensor byte, 0x12 | 0x0C when near end
        rows[at:at + 3] = b"\x10\x04\x04"
    page = PageRaster(384, 128, 203, bytes(rows), "doc p1/1")

    async def body(printer, sink):
        emulator.near_end = True  # DLE EOT 4 answers 0x1E; read as DLE EOT 2 or 3 it would mean errors
        await printer.print_page(page)
        status = await printer.status()
        assert status.state is PrinterState.READY and status.paper_low
    run(emulator, SerialLink("printer", emulator.start_pty(), flow_control="none"), body, status_mode="realtime",
        width_dots=384, band_rows=64)
    assert emulator.answered_inside_images > 3


# -- printed means printed: bytes in flight, the end of the page, the cut ----------------------------------------

def test_a_page_returns_only_once_its_last_band_is_printed():
    emulator = PrinterEmulator(PrinterScript(print_rows_per_second=1000))  # 800 rows: 0.8 s of printing

    async def body(printer, sink):
        await printer.print_page(striped_page(height=800))
        assert emulator.rows_printed == 800 and not emulator.busy
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, width_dots=384, band_rows=64)


@pytest.mark.parametrize("mode", ["custom-full", "realtime"])
def test_paper_ending_after_the_last_band_was_received_is_a_fault(mode):
    """The printer had every byte of the page and was still printing when the paper ended."""
    emulator = PrinterEmulator(PrinterScript(model=mode, print_rows_per_second=1000, paper_out_after_rows=780))

    async def body(printer, sink):
        with pytest.raises(PrinterFault) as fault:
            await printer.print_page(striped_page(height=800))
        assert fault.value.status.state is PrinterState.PAPER_OUT
        assert fault.value.rows_printed <= 780
        assert emulator.rows_printed == 780
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, status_mode=mode, width_dots=384,
        band_rows=64, print_rows_per_second=1000, max_bytes_in_flight=8192)


@pytest.mark.parametrize("mode", ["custom-full", "realtime"])
def test_a_cut_the_cutter_fails_is_a_fault_and_presents_nothing(mode):
    emulator = PrinterEmulator(PrinterScript(model=mode, print_rows_per_second=2000, cut_fails=True))

    async def body(printer, sink):
        await printer.print_page(striped_page(height=200))
        with pytest.raises(PrinterFault) as fault:
            await printer.cut()
        assert fault.value.status.state is PrinterState.JAMMED
        assert sink.of(DocumentPresented) == [] and not emulator.document_waiting
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, status_mode=mode, width_dots=384,
        band_rows=64, print_rows_per_second=2000)


def test_a_cut_returns_once_the_sheet_lies_in_the_outlet():
    emulator = PrinterEmulator(PrinterScript(print_rows_per_second=2000))

    async def body(printer, sink):
        await printer.print_page(striped_page(height=200))
        await printer.cut()
        assert emulator.document_waiting and len(sink.of(DocumentPresented)) == 1
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, width_dots=384, band_rows=64)


def test_a_sheet_that_never_reaches_the_outlet_sensor_is_a_fault():
    emulator = PrinterEmulator(PrinterScript(sheet_reaches_outlet=False))  # cut, but stuck on its way out

    async def body(printer, sink):
        await printer.print_page(striped_page(height=64))
        with pytest.raises(PrinterFault) as fault:
            await printer.cut()
        assert fault.value.status.state is PrinterState.JAMMED and sink.of(DocumentPresented) == []
    run(emulator, NetworkLink("printer", *emulator.start_tcp()), body, width_dots=384, present_timeout=0.3)


@pytest.mark.parametrize("mode, outlet, confirms", [("custom-full", True, True), ("realtime", False, False)])
def test_the_driver_states_its_capabilities(mode, outlet, confirms):
    printer = EscposPrinter(NetworkLink("printer", "192.0.2.40"), status_mode=mode)
    assert printer.capabilities() == PrinterCapabilities(outlet_sensor=outlet, confirms_page_end=confirms)
