"""A serial port for the money drivers: opened with a clear error, used from worker threads, one exchange at a time.

The ID-003 and ccTalk drivers speak request/reply protocols.  :class:`SerialLink` runs each exchange (write a frame,
read until the reply is complete or a deadline passes) in a worker thread of the event loop's executor, so a slow
or silent device never blocks the event loop; an :class:`asyncio.Lock` keeps exchanges from interleaving on the
wire.  pyserial is imported here and by the drivers only.

One worker on the port at a time.  A thread cannot be cancelled: an exchange whose task is cancelled (a poll at
stop, a refresh the cashier cancels) tells its worker to stop and waits until it has left the port before the
cancellation goes on and the lock is released.  Otherwise the next exchange's worker reads beside it and, the pty
set up with VMIN=0, one of the two finds "readable" and reads nothing, which pyserial calls a disconnected device;
and :meth:`SerialLink.close` would close the fd under a worker still polling it (issue #18).

A read that finds nothing is "no reply yet"; only a hang-up (POLLHUP or EIO: the pty's other end closed, the USB
adapter unplugged) is a lost device.

On a pty (the tests' emulators) parity and baud rate are accepted but not applied: the Linux pty driver forces 8N
and does not pace bytes (see platform-notes.md §4), so 8E1 is exercised only on a real port.
"""
from __future__ import annotations

import asyncio
import errno
import os
import select
import termios
import threading
import time
from typing import Callable

import serial

from hal.events import DeviceUnavailable

PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}

_HANG_UP = "the line hung up: device unplugged or its other end closed"
_HUNG_UP = select.POLLHUP | select.POLLERR | select.POLLNVAL

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
        self._worker: tuple[asyncio.Future, threading.Event] | None = None  # the exchange on the port now

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
        if port is None:
            return
        try:
            if self._worker is not None:  # never close the fd under a worker still using it
                await _until_done(*self._worker)
        finally:
            await asyncio.to_thread(port.close)

    async def exchange(self, request: bytes, reader: ReplyReader | None, timeout: float) -> object | None:
        """Send ``request`` and read until ``reader`` returns a reply (returned) or ``timeout`` passes (None).
        The caller holds :attr:`lock`."""
        port = self._serial
        if port is None:
            raise DeviceUnavailable(self.device, f"serial port {self.port} is not open")
        stop = threading.Event()
        # a plain executor future, not a task: the event loop's shutdown cancels tasks, and must not think this
        # worker gone while its thread still reads
        work = asyncio.get_running_loop().run_in_executor(None, _exchange, port, request, reader, timeout,
                                                          self.read_slice, stop)
        self._worker = (work, stop)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await _until_done(work, stop)  # the worker leaves the port before the caller's lock is released
            raise
        except (serial.SerialException, OSError) as e:
            raise DeviceUnavailable(self.device, f"serial port {self.port} failed ({_reason(e)})") from None
        finally:
            if self._worker is not None and self._worker[0] is work:
                self._worker = None

    async def send(self, request: bytes) -> None:
        """Send ``request`` expecting no reply (the caller holds :attr:`lock`)."""
        await self.exchange(request, None, 0.0)


async def _until_done(work: asyncio.Future, stop: threading.Event) -> None:
    """Tell a worker to stop and wait until it has (within one read slice).  A cancellation that comes meanwhile is
    raised once the worker is done, not before."""
    stop.set()
    cancelled = False
    while not work.done():
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            cancelled = cancelled or not work.done()
        except BaseException:
            break
    if not work.cancelled():
        work.exception()  # retrieved: whoever stopped the worker does not want its outcome
    if cancelled:
        raise asyncio.CancelledError


def _exchange(port: serial.Serial, request: bytes, reader: ReplyReader | None, timeout: float, read_slice: float,
              stop: threading.Event) -> object | None:
    if stop.is_set():  # cancelled before a thread was free to start it: nothing goes on the wire
        return None
    try:
        port.reset_input_buffer()  # what came unasked (noise, a late reply) is not this exchange's reply
    except termios.error as e:  # not an OSError: a hung-up tty refuses the flush with EIO
        raise serial.SerialException(_HANG_UP if e.args[0] == errno.EIO else f"flush failed: {e}") from None
    if request:
        port.write(request)
        port.flush()
    if reader is None:
        return None
    got = bytearray()
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        chunk = _read_some(port.fileno(), read_slice)
        if chunk:
            got += chunk
            reply = reader(bytes(got))
            if reply is not None:
                return reply
        if time.monotonic() >= deadline:
            return None
    return None


def _read_some(fd: int, wait: float) -> bytes:
    """What the line holds now, waiting up to ``wait`` s for something; b"" when nothing came.  Raises
    :class:`serial.SerialException` when the line hung up."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    events = poller.poll(wait * 1000)
    if not events:
        return b""
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return b""
    except OSError as e:
        if e.errno == errno.EIO:
            raise serial.SerialException(_HANG_UP) from None
        raise
    if data:
        return data
    if events[0][1] & _HUNG_UP:
        raise serial.SerialException(_HANG_UP)
    return b""  # readable a moment ago, empty now (someone else read or flushed it): no reply yet


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
