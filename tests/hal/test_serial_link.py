"""The money drivers' serial port on a real pty: one worker on the port at a time, and a line that hung up told
from a read that found nothing (issue #18)."""
from __future__ import annotations

import asyncio
import os
import select
import threading
import time
import tty

import pytest

from hal.events import DeviceUnavailable
from hal.serial_link import SerialLink


class Pty:
    """A pty pair; the test plays the device on the master end."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)

    def read_request(self, timeout: float = 2.0) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, 64) if ready else b""

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def test_a_cancelled_exchange_has_left_the_port_when_the_next_one_starts():
    """A poll or a refresh cancelled mid-exchange (the cashier's stop does it) must not leave its worker reading the
    port beside the next exchange: two readers on one tty made one of them see "readable" and read nothing, which
    pyserial reports as a disconnected device (the validator "went away" in the middle of a cashier test)."""
    line = Pty()
    link = SerialLink("test", line.port, read_slice=0.01)
    cancelled = threading.Event()
    read_after_cancel: list[bytes] = []

    def never_complete(got: bytes):
        if cancelled.is_set():
            read_after_cancel.append(got)
        return None

    async def main():
        await link.open()
        try:
            for round_ in range(5):
                cancelled.clear()
                first = asyncio.create_task(link.exchange(b"A", never_complete, timeout=5.0))
                assert await asyncio.to_thread(line.read_request) == b"A"
                first.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await first
                cancelled.set()
                os.write(line.master, b"late")  # a late answer to the cancelled request
                second = asyncio.create_task(link.exchange(b"B", lambda got: got if got.endswith(b"ok") else None,
                                                           timeout=2.0))
                assert await asyncio.to_thread(line.read_request) == b"B"
                os.write(line.master, b"ok")
                assert await second in (b"ok", b"lateok"), round_
        finally:
            await link.close()
    try:
        asyncio.run(main())
    finally:
        line.close()
    assert read_after_cancel == []  # nothing read on the port's behalf of a cancelled exchange


def test_a_hung_up_line_is_a_lost_device_but_a_quiet_one_is_not():
    line = Pty()
    link = SerialLink("test", line.port, read_slice=0.01)

    async def main():
        await link.open()
        try:
            assert await link.exchange(b"?", lambda got: got or None, timeout=0.1) is None  # quiet: no answer yet
            assert line.read_request() == b"?"
            for fd in (line.master, line.slave):  # the device's end goes away: a pty hang-up, like a USB unplug
                os.close(fd)
            started = time.monotonic()
            with pytest.raises(DeviceUnavailable, match="test: serial port .* hung up"):
                await link.exchange(b"", lambda got: got or None, timeout=2.0)
            assert time.monotonic() - started < 1.0  # told at once, not after the reply timeout
        finally:
            await link.close()
    asyncio.run(main())


def test_a_read_that_finds_nothing_is_not_a_lost_device():
    """Another reader on the same tty (here a second open of the port) takes bytes the link's poll saw: the link's
    read then returns nothing.  That is "no reply yet", not a disconnected device."""
    line = Pty()
    link = SerialLink("test", line.port, read_slice=0.01)
    other = os.open(line.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    stop = threading.Event()

    def steal():
        while not stop.is_set():
            if select.select([other], [], [], 0.01)[0]:
                try:
                    os.read(other, 1)
                except BlockingIOError:
                    pass

    def chatter():
        for _ in range(3000):
            os.write(line.master, b"x")
            time.sleep(0.0002)

    async def main():
        await link.open()
        try:
            talker = threading.Thread(target=chatter)
            talker.start()
            try:
                while talker.is_alive():
                    await link.exchange(b"", lambda got: None, timeout=0.05)
            finally:
                talker.join()
        finally:
            await link.close()
    thief = threading.Thread(target=steal)
    thief.start()
    try:
        asyncio.run(main())
    finally:
        stop.set()
        thief.join()
        os.close(other)
        line.close()
