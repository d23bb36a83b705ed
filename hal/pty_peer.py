"""The master end of a pty pair served by a thread: where the wire-level device emulators live.

A driver opens :attr:`PtyPeer.port` (the slave end) as it opens ``/dev/ttyUSB0`` on a kiosk.  The slave is kept
open here in raw mode, so the master never sees EIO between the driver's opens and 0x0A is never turned into
0x0D 0x0A.  A pty forces 8N and has no baud rate: parity and line speed cannot be checked through one
(platform-notes.md §4).  Subclasses implement :meth:`on_bytes` (bytes arrived; ``None`` for "the line was quiet
for a moment", used for inter-byte timeouts) and answer with :meth:`write`.

A pty slave that a driver once opened with 8E1 cannot be opened with 8E1 again while this end keeps it open (on
this kernel the second open fails with EINVAL).  A driver that restarts — the kiosk process killed and started
again — is handed a new pair instead: :meth:`fresh_port` moves the emulator, with everything it holds (its cash
box, its counters), onto a new pty pair and returns the new slave's path.  The driver's line settings for real
ports stay as they are.

With ``KIOSK_PTY_TRACE`` set to a directory, every peer appends what crossed its line (and its swaps and close) to
``<dir>/<thread name>-<pid>.log``, one line each with a monotonic time: the emulators' log for a wire test that
failed under load (issue #18).  Off by default; it holds frames only, and the emulators' frames carry no resident
data.
"""
from __future__ import annotations

import os
import select
import threading
import time
import tty


class PtyPeer:
    def __init__(self, name: str):
        self._master, self._slave = self._open_pair()
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._swap: tuple[int, int] | None = None
        self._swapped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._trace = WireTrace(name)
        self._note("open", self.port.encode())

    @staticmethod
    def _open_pair() -> tuple[int, int]:
        master, slave = os.openpty()
        tty.setraw(slave)
        return master, slave

    def start(self):
        self._thread.start()
        return self

    def fresh_port(self, timeout: float = 2.0) -> str:
        """Serve from a new pty pair from now on (the old pair is closed) and return its slave's path; the
        emulator's state is kept.  For a driver that must open the port again after its process died."""
        pair = self._open_pair()
        if not self._thread.is_alive():  # not serving yet (or any more): swap here
            self._close_pair()
            self._master, self._slave = pair
        else:
            self._swapped.clear()
            self._swap = pair
            if not self._swapped.wait(timeout):
                raise RuntimeError("the emulator's thread did not move to the new pty pair")
        self.port = os.ttyname(self._slave)
        self._note("swap", self.port.encode())
        return self.port

    def close(self) -> None:
        self._note("close", b"")
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self._close_pair()
        self._trace.close()

    def _close_pair(self) -> None:
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def on_bytes(self, data: bytes | None) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        self._note("out", data)
        try:
            os.write(self._master, data)
        except OSError as e:
            self._note("out-failed", str(e).encode())  # closed while answering

    def _serve(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            last = self._trace.gap(self.port, last)
            if self._swap is not None:  # swapped in this thread, so no select or read ever sees a closed fd
                pair, self._swap = self._swap, None
                self._close_pair()
                self._master, self._slave = pair
                self._swapped.set()
            ready, _, _ = select.select([self._master], [], [], 0.02)
            if not ready:
                self.on_bytes(None)
                continue
            try:
                data = os.read(self._master, 512)
            except OSError as e:
                self._note("in-failed", str(e).encode())
                continue
            if data:
                self._note("in", data)
                self.on_bytes(data)

    def _note(self, what: str, data: bytes) -> None:
        self._trace.note(self.port, what, data)


class WireTrace:
    """An emulator's log of its line when ``KIOSK_PTY_TRACE`` names a directory (else every call does nothing):
    ``<monotonic time> <port> <what> <bytes in hex | text>``, one line each, flushed at once.  Long frames (a
    printer's raster bands) show their first 48 bytes and their length."""

    def __init__(self, name: str):
        folder = os.environ.get("KIOSK_PTY_TRACE")
        self._file = None
        if folder:
            os.makedirs(folder, exist_ok=True)
            self._file = open(os.path.join(folder, f"{name}-{os.getpid()}.log"), "a", encoding="utf-8")
        self._lock = threading.Lock()

    def note(self, port: str, what: str, data: bytes) -> None:
        if self._file is None:
            return
        if what in ("in", "out"):
            shown = data[:48].hex(" ") + (f" … ({len(data)} bytes)" if len(data) > 48 else "")
        else:
            shown = data.decode(errors="replace")
        with self._lock:
            if not self._file.closed:
                self._file.write(f"{time.monotonic():.4f} {port} {what} {shown}\n")
                self._file.flush()

    def gap(self, port: str, last: float, longest: float = 0.1) -> float:
        """Called at each turn of an emulator's loop (a turn waits at most a few tens of ms): a turn that came more
        than ``longest`` s after the last one is noted — the emulator's thread did not run (the process's GIL, the
        CPU), as opposed to bytes the kernel delivered late (issue #18).  Returns now."""
        now = time.monotonic()
        if self._file is not None and now - last > longest:
            self.note(port, "stalled", f"{now - last:.3f} s since the last turn".encode())
        return now

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
