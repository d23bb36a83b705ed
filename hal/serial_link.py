"""A serial port for the money drivers: opened with a clear error, used from worker threads, one exchange at a time.

The ID-003 and ccTalk drivers speak request/reply protocols.  :class:`SerialLink` runs each exchange (write a frame,
read until the reply is complete or a deadline passes) in a worker thread with :func:`asyncio.to_thread`, so a slow
or silent device never blocks the event loop; an :class:`asyncio.Lock` keeps exchanges from interleaving on the
wire.  pyserial is imported here and by the drivers only.

On a pty (the tests' emulators) parity and baud rate are accepted but not applied: the Linux pty driver forces 8N
and does not pace bytes (see platform-notes.md §4), so 8E1 is exercised only on a real port.
"""
from __future__ import annotations

import asyncio
import termios
import time
from typing import Callable

import serial

from hal.events import DeviceUnavailable

PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}

ReplyReader = Callable[[bytes], "object | None"]
"""Given every byte read so far, return the parsed reply once it is complete, or None to keep reading."""


class SerialLink:
    """One serial port.  ``device`` names the device in errors; ``parity`` is ``"N"``, ``"E"`` or ``"O"``."""

    def __init__(self, device: str, port: str, baudrate: int = 9600, parity: str = "N", read_slice: float = 0.01):
        self.device = device
        self.port = port
        self.baudrate = baudrate
        self.parity = parity
        self.read_slice = read_slice
        self.lock = asyncio.Lock()
        self._serial: serial.Serial | None = None

    def __repr__(self) -> str:
        return f"SerialLink({self.device!r}, {self.port!r}, {self.baudrate} 8{self.parity}1)"

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    async def open(self) -> None:
        if self._serial is not None:
            return
        try:
            self._serial = await asyncio.to_thread(
                serial.Serial, self.port, self.baudrate, bytesize=serial.EIGHTBITS, parity=PARITIES[self.parity],
                stopbits=serial.STOPBITS_ONE, timeout=self.read_slice, write_timeout=1.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError, termios.error) as e:  # termios: tcsetattr refused
            raise DeviceUnavailable(self.device, f"cannot open serial port {self.port} ({_reason(e)}); "
                                                 "is the device plugged in and the port right?") from None

    async def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            await asyncio.to_thread(port.close)

    async def exchange(self, request: bytes, reader: ReplyReader | None, timeout: float) -> object | None:
        """Send ``request`` and read until ``reader`` returns a reply (returned) or ``timeout`` passes (None).
        The caller holds :attr:`lock`."""
        port = self._serial
        if port is None:
            raise DeviceUnavailable(self.device, f"serial port {self.port} is not open")
        try:
            return await asyncio.to_thread(_exchange, port, request, reader, timeout)
        except (serial.SerialException, OSError) as e:
            raise DeviceUnavailable(self.device, f"serial port {self.port} failed ({_reason(e)})") from None

    async def send(self, request: bytes) -> None:
        """Send ``request`` expecting no reply (the caller holds :attr:`lock`)."""
        await self.exchange(request, None, 0.0)


def _exchange(port: serial.Serial, request: bytes, reader: ReplyReader | None, timeout: float) -> object | None:
    port.reset_input_buffer()  # what came unasked (noise, a late reply) is not this exchange's reply
    if request:
        port.write(request)
        port.flush()
    if reader is None:
        return None
    got = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        chunk = port.read(max(port.in_waiting, 1))
        if chunk:
            got += chunk
            reply = reader(bytes(got))
            if reply is not None:
                return reply
        if time.monotonic() >= deadline:
            return None


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
