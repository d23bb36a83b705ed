"""``driver = "escpos"``: build the ESC/POS printer from its configuration table.

::

    [devices.printer]
    driver = "escpos"
    connection = "serial"          # "serial" | "usb" | "network"
    device = "/dev/ttyUSB0"        # serial: the port, baudrate (115200), flow_control ("rtscts")
    # host = "192.0.2.40"          # network: host and port (9100)
    # vendor_id = "0x0dd4"         # usb: vendor_id, product_id, in_ep (0x82), out_ep (0x01)
    # product_id = "0x0205"
    status = "custom-full"         # "custom-full" (KPM216H DLE EOT 20, outlet sensor) | "realtime" (DLE EOT 1-4)
    dpi = 203
    width_dots = 1728
    band_rows = 128                # rows per GS v 0 band
    max_bytes_in_flight = 65536    # never more unprinted bytes than this in the printer
    print_rows_per_second = 800    # the printer's speed, for pacing (leave out to rely on flow control)
    cut = "full"                   # "full" | "partial"; cut_command = "gs_v" | "esc_i"
    settle_time = 0.05             # after a band holding a DLE EOT: wait for stray answers this long
    page_timeout = 30.0            # custom-full: the printer must finish a page (spooling, motor off) within this
    present_timeout = 5.0          # custom-full: after a cut, the sheet must reach the outlet sensor within this
    cut_time = 0.5                 # realtime (no sensor): the cut's outcome is the status this long after it

``print_page`` returns once the page is on paper, and ``cut`` once the sheet is cut and presented; a printer that
stops on the way (paper end after the last band arrived, a cutter error) raises ``PrinterFault``.  A ``realtime``
printer has no status bit for "still printing": give it ``print_rows_per_second`` so the driver waits the time the
page needs before it asks (without it, the page counts as printed once received).

This module only reads configuration; the driver is :mod:`hal.printer.escpos_printer`, the wire
:mod:`hal.printer.escpos_link`.
"""
from __future__ import annotations

from typing import Any

from hal.factory import Options, register_driver
from hal.printer.escpos_link import FLOW_CONTROLS, NetworkLink, SerialLink, UsbLink
from hal.printer.escpos_printer import EscposPrinter
from hal.printer.escpos_status import STATUS_MODES

CONNECTIONS = ("serial", "usb", "network")


def _choice(o: Options, key: str, choices: tuple[str, ...], default: str | None) -> str:
    value = o.raw(key, default)
    if value not in choices:
        raise o.fail(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _text(o: Options, key: str) -> str:
    value = o.raw(key)
    if not isinstance(value, str) or not value:
        raise o.fail(f"{key} is needed for this connection (a non-empty string), got {value!r}")
    return value


def _usb_id(o: Options, key: str, default: int | None = None) -> int:
    value = o.raw(key, default)
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise o.fail(f"{key} must be a USB id like \"0x0dd4\", got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise o.fail(f"{key} must be a USB id from 0x0000 to 0xffff, got {value!r}")
    return value


def build_link(o: Options, name: str = "printer"):
    connection = _choice(o, "connection", CONNECTIONS, None)
    if connection == "serial":
        return SerialLink(name, _text(o, "device"), baudrate=o.whole("baudrate", 115200, minimum=1200),
                          flow_control=_choice(o, "flow_control", FLOW_CONTROLS, "rtscts"),
                          write_timeout=o.number("write_timeout", 10.0, minimum=0.1))
    if connection == "network":
        port = o.whole("port", 9100, minimum=1)
        if port > 65535:
            raise o.fail(f"port must be 1 … 65535, got {port}")
        return NetworkLink(name, _text(o, "host"), port, connect_timeout=o.number("connect_timeout", 5.0, 0.1))
    return UsbLink(name, _usb_id(o, "vendor_id"), _usb_id(o, "product_id"), in_ep=_usb_id(o, "in_ep", 0x82),
                   out_ep=_usb_id(o, "out_ep", 0x01), write_timeout=o.number("write_timeout", 10.0, minimum=0.1))


@register_driver("printer", "escpos")
def build_escpos_printer(o: Options) -> EscposPrinter:
    link = build_link(o)
    kwargs: dict[str, Any] = dict(
        status_mode=_choice(o, "status", STATUS_MODES, "custom-full"),
        dpi=o.whole("dpi", 203, minimum=1), width_dots=o.whole("width_dots", 1728, minimum=8),
        band_rows=o.whole("band_rows", 128, minimum=1),
        max_bytes_in_flight=o.whole("max_bytes_in_flight", 65536, minimum=64),
        print_rows_per_second=o.optional_number("print_rows_per_second", None, minimum=1.0),
        reply_timeout=o.number("reply_timeout", 1.0, minimum=0.01),
        settle_time=o.number("settle_time", 0.05),
        poll_interval=o.optional_number("poll_interval", 0.5, minimum=0.01),
        cut=_choice(o, "cut", ("full", "partial"), "full"),
        cut_command=_choice(o, "cut_command", ("gs_v", "esc_i"), "gs_v"),
        page_timeout=o.number("page_timeout", 30.0, minimum=0.1),
        present_timeout=o.number("present_timeout", 5.0, minimum=0.1),
        cut_time=o.number("cut_time", 0.5),
    )
    try:
        return EscposPrinter(link, **kwargs)
    except ValueError as e:
        raise o.fail(str(e)) from None
