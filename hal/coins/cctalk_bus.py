"""One ccTalk bus (one serial port, 9600 8N1) shared by the coin acceptor and the hoppers on it.

ccTalk is a multi-drop, single-wire bus: every device hangs on the same line at its own address, and the host reads
back each byte it sends.  :class:`CcTalkBus` is shared per port (:meth:`CcTalkBus.for_port`), opened by the first
device that starts and closed by the last that stops; one request at a time goes on the wire.

:meth:`request` retries a request whose echo or reply was garbled or missing: use it for reads and settings, which
are safe to repeat.  :meth:`request_once` sends once and returns None on silence: the hopper's dispense uses it and
reconciles from the hopper's status before any second send.
"""
from __future__ import annotations

import asyncio
import logging

from hal.coins import cctalk_frames as c
from hal.events import DeviceError, DeviceUnavailable
from hal.serial_link import SerialLink

log = logging.getLogger(__name__)


class CcTalkRefused(DeviceError):
    """The device answered NAK: it understood the request and will not do it."""


class CcTalkBus:
    _buses: dict[str, "CcTalkBus"] = {}

    def __init__(self, port: str, reply_timeout: float = 0.2, attempts: int = 3):
        self.port = port
        self.reply_timeout = reply_timeout
        self.attempts = attempts
        self.link = SerialLink("ccTalk bus", port, 9600, "N")
        self._users = 0

    @classmethod
    def for_port(cls, port: str, reply_timeout: float = 0.2, attempts: int = 3) -> "CcTalkBus":
        bus = cls._buses.get(port)
        if bus is None:
            bus = cls._buses[port] = cls(port, reply_timeout, attempts)
        return bus

    async def acquire(self, device: str) -> None:
        self._buses.setdefault(self.port, self)
        if not self.link.is_open:
            try:
                await self.link.open()
            except DeviceUnavailable as e:
                raise DeviceUnavailable(device, str(e).partition(": ")[2]) from None
        self._users += 1

    async def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            self._buses.pop(self.port, None)
            await self.link.close()

    async def request(self, device: str, address: int, header: int, data: bytes = b"",
                      attempts: int | None = None) -> bytes:
        """Send a request and return the reply's data; garbled or missing replies are asked again."""
        for attempt in range(attempts or self.attempts):
            reply = await self.request_once(device, address, header, data)
            if reply is not None:
                return reply
            await asyncio.sleep(0.01 * (attempt + 1))  # let a garbled transfer die away before speaking again
        raise DeviceUnavailable(device, f"no answer at ccTalk address {address} on {self.port} "
                                        f"(header {header}, {attempts or self.attempts} tries)")

    async def request_once(self, device: str, address: int, header: int, data: bytes = b"") -> bytes | None:
        """Send once.  The reply's data, or None if the echo or the reply was garbled or missing.
        Raises :class:`CcTalkRefused` on NAK."""
        frame = c.build_frame(address, header, data)
        for _ in range(3):
            async with self.link.lock:
                try:
                    reply = await self.link.exchange(frame, lambda got: c.split_echo(got, frame, address),
                                                     self.reply_timeout)
                except DeviceUnavailable as e:
                    raise DeviceUnavailable(device, str(e).partition(": ")[2]) from None
            if not isinstance(reply, c.Frame):
                log.debug("%s: header %d to %d: %s", device, header, address, getattr(reply, "why", "no reply"))
                return None
            if reply.header == c.NAK:
                raise CcTalkRefused(device, f"refused header {header} (NAK)")
            if reply.header != c.BUSY:
                return reply.data
            await asyncio.sleep(0.05)
        return None
