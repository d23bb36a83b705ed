"""The master end of a pty pair served by a thread: where the wire-level device emulators live.

A driver opens :attr:`PtyPeer.port` (the slave end) as it opens ``/dev/ttyUSB0`` on a kiosk.  The slave is kept
open here in raw mode, so the master never sees EIO between the driver's opens and 0x0A is never turned into
0x0D 0x0A.  A pty forces 8N and has no baud rate: parity and line speed cannot be checked through one
(platform-notes.md §4).  Subclasses implement :meth:`on_bytes` (bytes arrived; ``None`` for "the line was quiet
for a moment", used for inter-byte timeouts) and answer with :meth:`write`.
"""
from __future__ import annotations

import os
import select
import threading
import tty


class PtyPeer:
    def __init__(self, name: str):
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def on_bytes(self, data: bytes | None) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except OSError:
            pass  # closed while answering

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.02)
            if not ready:
                self.on_bytes(None)
                continue
            try:
                data = os.read(self._master, 512)
            except OSError:
                continue
            if data:
                self.on_bytes(data)
