"""The serial link's DSR/DTR flow control (a unit test of one class: a pty has no modem lines, so the serial
device is a stand-in here; the wire tests run the same link on a real pty)."""
from __future__ import annotations

import gc
import socket
import threading
import time
import warnings

import pytest

from hal.events import DeviceUnavailable
from hal.printer.escpos_link import LinkError, NetworkLink, SerialLink


class FakeSerialDevice:
    def __init__(self, dsr):
        self._dsr = dsr
        self.chunks: list[tuple[float, int]] = []

    @property
    def dsr(self):
        if isinstance(self._dsr, Exception):
            raise self._dsr
        return self._dsr


class FakeEscposSerial:
    def __init__(self, device):
        self.device = device

    def _raw(self, data: bytes) -> None:
        self.device.chunks.append((time.monotonic(), len(data)))


def link_with(dsr, write_timeout=1.0) -> tuple[SerialLink, FakeSerialDevice]:
    link = SerialLink("printer", "/dev/ttyS9", flow_control="dsrdtr", write_timeout=write_timeout)
    device = FakeSerialDevice(dsr)
    link.printer = FakeEscposSerial(device)
    return link, device


def test_writes_wait_while_the_printer_holds_dsr_low():
    link, device = link_with(False)
    raised = []

    def raise_dsr():
        raised.append(time.monotonic())
        device._dsr = True
    threading.Timer(0.15, raise_dsr).start()
    link.write(b"\x00" * 10000)
    assert [n for _, n in device.chunks] == [4096, 4096, 1808]
    # nothing went out before DSR rose (measured from the moment it rose, not from a clock read beside the timer's
    # start: under load the test's own thread can lose the CPU between the two — wire loop iteration 42, issue #18)
    assert device.chunks[0][0] >= raised[0]


def test_dsr_held_low_past_the_write_timeout_is_a_link_error():
    link, device = link_with(False, write_timeout=0.1)
    with pytest.raises(LinkError, match="held DSR low for 0.1 s"):
        link.write(b"\x00" * 10)
    assert device.chunks == []


def test_a_port_without_modem_lines_writes_without_waiting():
    link, device = link_with(OSError(25, "Inappropriate ioctl for device"))
    link.write(b"\x00" * 5000)
    assert [n for _, n in device.chunks] == [4096, 904]


@pytest.mark.parametrize("spec, where", [("serial:/dev/ttyUSB0", "serial /dev/ttyUSB0"),
                                         ("serial:/dev/ttyS1@38400", "serial /dev/ttyS1"),
                                         ("network:192.0.2.40", "network 192.0.2.40:9100"),
                                         ("network:192.0.2.40:9101", "network 192.0.2.40:9101"),
                                         ("usb:0dd4:0205", "usb 0dd4:0205")])
def test_the_technicians_printer_address_names_the_link(spec, where):
    from tests.contracts.printer_hardware_harness import link_from
    assert link_from(spec).where == where
    with pytest.raises(ValueError, match="KIOSK_HW_PRINTER must be"):
        link_from(spec.replace(":", "|", 1))


def test_a_missing_network_printer_is_unavailable_and_leaves_no_socket_open():
    with socket.socket() as probe:  # a port nothing listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link = NetworkLink("printer", "127.0.0.1", port, connect_timeout=1.0)
    with warnings.catch_warnings():  # what earlier tests in this process left for the collector is theirs, not ours
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DeviceUnavailable, match=f"no printer at network 127.0.0.1:{port}"):
            link.open()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert link.printer is None
