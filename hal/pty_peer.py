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
import queue
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
    ``<monotonic time> <port> <what> <bytes in hex | text>``, one line each.  Long frames (a printer's raster bands)
    show their first 48 bytes and their length.

    The emulator's thread only stamps and queues a line; a writer thread of the trace's own puts it in the file.  A
    write to a file can wait for the disk — on ext4, behind a journal commit that a test suite's fsyncs force (the
    likely cause of an emulator stalled 0.56 s in issue #18's wire loop, while its trace was written inline) — and
    the emulator must answer its driver meanwhile, as a device would."""

    def __init__(self, name: str):
        folder = os.environ.get("KIOSK_PTY_TRACE")
        self._lines: queue.SimpleQueue | None = None
        self._writer: threading.Thread | None = None
        if folder:
            os.makedirs(folder, exist_ok=True)
            self._lines = queue.SimpleQueue()
            path = os.path.join(folder, f"{name}-{os.getpid()}.log")
            self._writer = threading.Thread(target=self._write, args=(path, self._lines), daemon=True,
                                            name=f"{name}-trace")
            self._writer.start()

    def note(self, port: str, what: str, data: bytes) -> None:
        if self._lines is None:
            return
        if what in ("in", "out"):
            shown = data[:48].hex(" ") + (f" … ({len(data)} bytes)" if len(data) > 48 else "")
        else:
            shown = data.decode(errors="replace")
        self._lines.put(f"{time.monotonic():.4f} {port} {what} {shown}\n")

    @staticmethod
    def _write(path: str, lines: queue.SimpleQueue) -> None:
        """The writer thread: its own reference to the queue, which :meth:`close` takes from the trace."""
        with open(path, "a", encoding="utf-8") as file:
            while True:
                line = lines.get()
                while line is not None:  # what is queued now, then one flush
                    file.write(line)
                    try:
                        line = lines.get_nowait()
                    except queue.Empty:
                        break
                file.flush()
                if line is None:
                    return

    def gap(self, port: str, last: float, longest: float = 0.1) -> float:
        """Called at each turn of an emulator's loop (a turn waits at most a few tens of ms): a turn that came more
        than ``longest`` s after the last one is noted — the emulator's thread did not run (the process's GIL, the
        CPU), as opposed to bytes the kernel delivered late (issue #18).  Returns now."""
        now = time.monotonic()
        if self._lines is not None and now - last > longest:
            self.note(port, "stalled", f"{now - last:.3f} s since the last turn".encode())
        return now

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and close the file (waiting at most ``timeout`` s for the disk)."""
        lines, self._lines = self._lines, None
        if lines is not None and self._writer is not None:
            lines.put(None)
            self._writer.join(timeout)
