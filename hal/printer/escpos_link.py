"""The wire to an ESC/POS printer: python-escpos's Serial, Usb and Network connections, with exact reads.

python-escpos opens the connection and writes (``_raw``); its own ``_read`` returns "up to 16 bytes, whatever
came", which cannot tell one status reply from the next.  A :class:`PrinterLink` adds what the driver needs on top:
read exactly *n* bytes by a deadline, throw away stale input before a query, and write in chunks that respect the
serial line's flow control.

Flow control on a serial line (``flow_control``):

* ``"rtscts"``: the kernel holds the data while the printer drops CTS (``CRTSCTS``).
* ``"dsrdtr"``: Linux has no kernel DSR/DTR flow control, so before every chunk the link waits until the printer
  raises DSR (up to ``write_timeout``).  A port without modem lines (a pty) cannot report DSR: the link notes it
  once in the log and writes without waiting.
* ``"xonxoff"``: the printer's XOFF/XON bytes pause the kernel's sending.
* ``"none"``: nothing; the driver's pacing alone protects the printer's buffer.

Every blocking call here runs in a worker thread (the driver calls them through ``asyncio.to_thread``).
"""
from __future__ import annotations

import logging
import socket
import time
from typing import Protocol

from hal.events import DeviceUnavailable

log = logging.getLogger(__name__)

FLOW_CONTROLS = ("rtscts", "dsrdtr", "xonxoff", "none")


class LinkError(OSError):
    """The connection failed while in use (unplugged, closed by the printer, a write that never drained)."""


class PrinterLink(Protocol):
    where: str  # "serial /dev/ttyUSB0", "network 192.0.2.5:9100", "usb 0dd4:0205": named in every error

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def read(self, count: int, timeout: float) -> bytes:
        """Up to ``count`` bytes; fewer only if the deadline passed."""

    def discard_input(self) -> None: ...

    def drain(self, quiet: float) -> None:
        """Wait until everything written has left, then throw away input until none arrives for ``quiet`` s."""


class _EscposLink:
    """What the three connections share: a python-escpos printer object that owns the device."""

    where = "printer"
    chunk = 4096

    def __init__(self, name: str):
        self.name = name
        self.printer = None

    def _make(self):
        raise NotImplementedError

    def open(self) -> None:
        from escpos.exceptions import DeviceNotFoundError
        try:
            printer = self._make()
            printer.open(raise_not_found=True)
        except DeviceNotFoundError as e:
            raise DeviceUnavailable(self.name, f"no printer at {self.where} ({_first_line(e)})") from None
        except (OSError, ValueError, AssertionError) as e:  # pyserial/pyusb errors not wrapped by python-escpos
            raise DeviceUnavailable(self.name, f"no printer at {self.where} ({_first_line(e)})") from None
        if not printer.device:
            raise DeviceUnavailable(self.name, f"no printer at {self.where}")
        self.printer = printer
        self._opened()

    def _opened(self) -> None:
        pass

    def close(self) -> None:
        printer, self.printer = self.printer, None
        if printer is not None:
            try:
                printer.close()
            except Exception:  # closing a device that vanished must not hide why it vanished
                log.debug("closing %s failed", self.where, exc_info=True)

    def _device(self):
        if self.printer is None or not self.printer.device:
            raise LinkError(f"{self.where} is not open")
        return self.printer.device

    def write(self, data: bytes) -> None:
        for start in range(0, len(data), self.chunk):
            self._before_chunk()
            try:
                self.printer._raw(data[start:start + self.chunk])
            except LinkError:
                raise
            except Exception as e:
                raise LinkError(f"writing to {self.where} failed: {_first_line(e)}") from None

    def _before_chunk(self) -> None:
        pass

    def _flush_output(self) -> None:
        pass

    def drain(self, quiet: float) -> None:
        self._flush_output()
        while self.read(256, quiet):
            pass


class SerialLink(_EscposLink):
    def __init__(self, name: str, port: str, baudrate: int = 115200, flow_control: str = "rtscts",
                 write_timeout: float = 10.0):
        super().__init__(name)
        if flow_control not in FLOW_CONTROLS:
            raise ValueError(f"flow_control must be one of {', '.join(FLOW_CONTROLS)}, got {flow_control!r}")
        self.port, self.baudrate, self.flow_control, self.write_timeout = port, baudrate, flow_control, write_timeout
        self.where = f"serial {port}"
        self._dsr_readable = True

    def _make(self):
        from escpos.printer import Serial
        return Serial(devfile=self.port, baudrate=self.baudrate, timeout=1, xonxoff=self.flow_control == "xonxoff",
                      dsrdtr=self.flow_control == "dsrdtr")

    def _opened(self) -> None:
        device = self._device()
        device.write_timeout = self.write_timeout
        if self.flow_control == "rtscts":
            device.rtscts = True  # python-escpos 3.1 passes only dsrdtr/xonxoff to pyserial
        device.reset_input_buffer()

    def _before_chunk(self) -> None:
        if self.flow_control != "dsrdtr" or not self._dsr_readable:
            return
        device = self._device()
        deadline = time.monotonic() + self.write_timeout
        while True:
            try:
                ready = device.dsr
            except OSError:
                self._dsr_readable = False
                log.info("%s cannot report DSR (no modem lines): writing without DSR/DTR flow control", self.where)
                return
            if ready:
                return
            if time.monotonic() > deadline:
                raise LinkError(f"{self.where}: the printer held DSR low for {self.write_timeout:g} s")
            time.sleep(0.005)

    def read(self, count: int, timeout: float) -> bytes:
        device = self._device()
        device.timeout = timeout
        try:
            return bytes(device.read(count))
        except Exception as e:
            raise LinkError(f"reading from {self.where} failed: {_first_line(e)}") from None

    def _flush_output(self) -> None:
        try:
            self._device().flush()  # tcdrain: returns when the last byte has been sent
        except Exception as e:
            raise LinkError(f"{self.where}: {_first_line(e)}") from None

    def discard_input(self) -> None:
        try:
            self._device().reset_input_buffer()
        except Exception as e:
            raise LinkError(f"{self.where}: {_first_line(e)}") from None


class NetworkLink(_EscposLink):
    def __init__(self, name: str, host: str, port: int = 9100, connect_timeout: float = 5.0):
        super().__init__(name)
        self.host, self.port, self.connect_timeout = host, port, connect_timeout
        self.where = f"network {host}:{port}"

    def _make(self):
        from escpos.exceptions import DeviceNotFoundError
        from escpos.printer import Network

        class ClosingNetwork(Network):
            """python-escpos's Network drops the socket of a failed connect without closing it (a file descriptor
            left to the garbage collector each time a missing printer is retried); this one closes it."""

            def open(self, raise_not_found: bool = True) -> None:
                if self._device:
                    self.close()
                try:
                    self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)
                except OSError as e:  # create_connection has closed the socket it tried
                    self.device = None
                    if raise_not_found:
                        raise DeviceNotFoundError(f"Could not open socket for {self.host}:\n{e}") from None

        return ClosingNetwork(host=self.host, port=self.port, timeout=self.connect_timeout)

    def _opened(self) -> None:
        self._device().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a status query must not wait

    def read(self, count: int, timeout: float) -> bytes:
        sock = self._device()
        deadline = time.monotonic() + timeout
        data = bytearray()
        try:
            while len(data) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    chunk = sock.recv(count - len(data))
                except socket.timeout:
                    break
                if not chunk:
                    raise LinkError(f"{self.where} closed the connection")
                data += chunk
        finally:
            sock.settimeout(self.connect_timeout)
        return bytes(data)

    def discard_input(self) -> None:
        sock = self._device()
        sock.setblocking(False)
        try:
            while True:
                try:
                    if not sock.recv(4096):
                        raise LinkError(f"{self.where} closed the connection")
                except (BlockingIOError, InterruptedError):
                    return
        finally:
            sock.settimeout(self.connect_timeout)


class UsbLink(_EscposLink):
    def __init__(self, name: str, vendor_id: int, product_id: int, in_ep: int = 0x82, out_ep: int = 0x01,
                 write_timeout: float = 10.0):
        super().__init__(name)
        self.vendor_id, self.product_id, self.in_ep, self.out_ep = vendor_id, product_id, in_ep, out_ep
        self.write_timeout = write_timeout
        self.where = f"usb {vendor_id:04x}:{product_id:04x}"

    def _make(self):
        from escpos.printer import Usb
        if not Usb.is_usable():
            raise DeviceUnavailable(self.name, f"{self.where}: the usb connection needs pyusb, which is not installed")
        return Usb(idVendor=self.vendor_id, idProduct=self.product_id, timeout=int(self.write_timeout * 1000),
                   in_ep=self.in_ep, out_ep=self.out_ep)

    _pending = b""  # bytes of the last USB packet beyond what the caller asked for

    def read(self, count: int, timeout: float) -> bytes:
        import usb.core
        device = self._device()
        deadline = time.monotonic() + timeout
        data = bytearray(self._pending)
        while len(data) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                data += bytes(device.read(self.in_ep, 64, max(1, int(left * 1000))))
            except usb.core.USBTimeoutError:
                break
            except usb.core.USBError as e:
                raise LinkError(f"reading from {self.where} failed: {e}") from None
        self._pending = bytes(data[count:])
        return bytes(data[:count])

    def discard_input(self) -> None:
        self._pending = b""
        while self.read(64, 0.01):
            pass
        self._pending = b""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
