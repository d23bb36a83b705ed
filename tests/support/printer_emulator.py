"""An ESC/POS kiosk printer emulator: the far end of a pty or of a loopback TCP socket (port-9100 style).

It is a peer written to the published facts (docs/device-protocols.md §4), not to the driver: it reads the
byte stream command by command with the project's own decoder, answers real-time status queries the moment they
arrive (as printers do), and records every byte it received.  Raster bands and cuts go into its buffer and the
print head works through it at ``print_rows_per_second`` (None: as fast as they arrive), so bytes are in flight
as on a real printer: the paper can run out, and the cutter fail, after the last band was received::

    emulator = PrinterEmulator(PrinterScript(paper_out_after_rows=300))
    path = emulator.start_pty()                 # or: host, port = emulator.start_tcp()
    ...                                          # the driver prints to path
    decode(emulator.received)                    # the sheets sent, to compare pixel for pixel
    emulator.rows_printed                        # 300: the paper ended there
    emulator.stop()

Models (``PrinterScript.model``): ``"custom-full"`` is a Custom KPM216H in ESC/POS emulation (answers ``DLE EOT
1``…``4`` and the 6-byte FULL STATUS ``DLE EOT 20`` with the "ticket in output" bit, and the user-status bits 2
"spooling" and 3 "paper drag motor on" while its buffer holds work); ``"realtime"`` is a plain Epson-class printer
(``DLE EOT 1``…``4`` only, with no bit for "still printing"; ``DLE EOT 20`` gets no answer).

A failing cutter (``cut_fails``) is a recoverable error: the sheet stays uncut (nothing reaches the outlet), ``DLE
EOT 3`` sets bit 3 (autocutter error) and the FULL STATUS a bit of its recoverable byte, until the cover is opened
and closed.  A printer that stops (paper out, cover, error) throws away what its buffer still held.

The receive buffer's size is checked when ``buffer_bytes`` and ``print_rows_per_second`` are set: a block arriving
into a full buffer sets :attr:`overflowed` — on a real printer without flow control those bytes would be lost and
the rest read as commands.
"""
from __future__ import annotations

import os
import pty
import select
import socket
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass

from hal.pty_peer import WireTrace
from tests.support.escpos_decoder import Command, EscposDecodeError, NeedMore, next_command


@dataclass
class PrinterScript:
    model: str = "custom-full"
    near_end_after_bands: int | None = None  # the near-end sensor trips after this many raster blocks
    paper_out_after_rows: int | None = None  # the paper ends after this many printed rows (across pages)
    buffer_bytes: int | None = None
    print_rows_per_second: float | None = None  # the print head's speed; None: prints as the bytes arrive
    cut_fails: bool = False  # the autocutter fails at every cut
    sheet_reaches_outlet: bool = True  # False: the sheet is cut but stays stuck before the outlet sensor
    reply_delay: float = 0.0  # seconds before each status answer
    answers_inside_images: bool = False  # like the printers the Citizen CBM-820 manual warns about


class PrinterEmulator:
    def __init__(self, script: PrinterScript | None = None):
        self.script = script or PrinterScript()
        self.received = bytearray()
        self.errors: list[str] = []
        self.overflowed = False
        self._rows_printed = 0
        self.blocks = 0  # raster blocks received
        self.blocks_printed = 0
        self.blocks_lost = 0  # raster blocks received while the printer could not print, or thrown away at a stop
        self._cuts = 0
        self._sheet_rows: list[int] = []  # rows on paper of each sheet cut, in order
        self._rows_at_cut = 0
        self.queries: list[int] = []
        self.answered_inside_images = 0
        self.paper_out = False
        self.near_end = False
        self.cover_open = False
        self._document_waiting = False
        self.recoverable_error = False
        self.cutter_error = False
        self.unrecoverable_error = False
        self.silent = False  # answers nothing (unplugged, powered off)
        self._garble = 0
        self._lock = threading.RLock()
        self._buffer = bytearray()
        self._work: deque[list] = deque()  # [command, rows still to print] for bands, [command, 0] for cuts
        self._head_at = time.monotonic()  # the print head has worked off everything due until then
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._fds: list[int] = []
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._send = None
        self._trace = WireTrace("printer-emulator")  # with KIOSK_PTY_TRACE set: every byte in and out, with times
        self._where = "-"

    # -- transports -----------------------------------------------------------------------------------------------

    def start_pty(self) -> str:
        """Open a pty pair; the driver opens the returned slave path as a serial port."""
        master, slave = pty.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._fds += [master, slave]  # the slave stays open here so the master never sees EIO between opens
        self._send = lambda data: os.write(master, data)
        self._where = os.ttyname(slave)
        self._trace.note(self._where, "open", f"master fd {master}, slave fd {slave}".encode())
        self._spawn(self._serve_fd, master)
        return self._where

    def start_tcp(self) -> tuple[str, int]:
        """Listen on 127.0.0.1 on an ephemeral port; one connection at a time, like a printer's port 9100."""
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._spawn(self._serve_tcp)
        return self._listener.getsockname()

    def stop(self) -> None:
        self._trace.note(self._where, "stop", b"")
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
            if thread.is_alive():
                self._trace.note(self._where, "thread-still-alive", thread.name.encode())
        for closeable in (self._client, self._listener):
            if closeable is not None:
                closeable.close()
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        self._trace.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="printer-emulator")
        thread.start()
        self._threads.append(thread)

    def _serve_fd(self, fd: int) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            last = self._trace.gap(self._where, last)
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError as e:  # EIO while nobody holds the slave: nothing to read
                    self._trace.note(self._where, "in-failed", str(e).encode())
                    time.sleep(0.01)
                    continue
                self._trace.note(self._where, "in", data)
                self.feed(data)

    def _serve_tcp(self) -> None:
        assert self._listener is not None
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.settimeout(0.05)
            self._client = client
            self._send = client.sendall
            while not self._stop.is_set():
                try:
                    data = client.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.feed(data)
            client.close()
            self._client = None

    # -- the printer ----------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes arrive from the host: record them and act on every complete command."""
        with self._lock:
            self.received += data
            self._buffer += data
            pos = 0
            while pos < len(self._buffer):
                try:
                    command = next_command(self._buffer, pos)
                except NeedMore:
                    break
                except EscposDecodeError as e:
                    self.errors.append(str(e))
                    pos += 1  # a real printer would print the byte as a character; we skip it and remember
                    continue
                self._act(command)
                pos += command.length
            del self._buffer[:pos]

    def _act(self, command: Command) -> None:
        self._advance()
        if command.name == "status":
            self.queries.append(command.arg)
            self._answer(command.arg)
        elif command.name == "raster":
            self._receive_band(command)
        elif command.name == "cut":
            if self._can_print():
                self._work.append([command, 0])
                self._advance()

    def _can_print(self) -> bool:
        return not (self.paper_out or self.cover_open or self.recoverable_error or self.unrecoverable_error
                    or self.cutter_error)

    def _receive_band(self, block: Command) -> None:
        self.blocks += 1
        s = self.script
        if s.answers_inside_images:  # act on every DLE EOT n found in the image bytes, as those printers do
            at = block.data.find(b"\x10\x04")
            while 0 <= at < len(block.data) - 2:
                if block.data[at + 2] in (1, 2, 3, 4, 20):
                    self.answered_inside_images += 1
                    self._answer(block.data[at + 2])
                at = block.data.find(b"\x10\x04", at + 1)
        if not self._can_print():
            self.blocks_lost += 1
            return
        self._work.append([block, block.rows])
        if s.buffer_bytes is not None and s.print_rows_per_second and self._buffered_bytes() > s.buffer_bytes:
            self.overflowed = True
        self._advance()

    def _buffered_bytes(self) -> int:
        return sum(8 + rows * command.width_bytes for command, rows in self._work if command.name == "raster")

    def _advance(self) -> None:
        """Let the print head work off what was due by now."""
        rate = self.script.print_rows_per_second
        now = time.monotonic()
        while self._work:
            if not self._can_print():  # a stopped printer throws its buffer away
                self.blocks_lost += sum(1 for command, _ in self._work if command.name == "raster")
                self._work.clear()
                break
            job = self._work[0]
            command, rows_left = job
            if command.name == "cut":
                self._work.popleft()
                self._cut()
                continue
            rows = rows_left if not rate else min(rows_left, int((now - self._head_at) * rate))
            if rows <= 0:
                break
            limit = self.script.paper_out_after_rows
            printed = rows if limit is None else max(0, min(rows, limit - self._rows_printed))
            self._rows_printed += printed
            if rate:
                self._head_at += rows / rate
            job[1] -= rows
            if limit is not None and self._rows_printed >= limit:
                self.paper_out = True  # the paper ended here (what the buffer still holds is thrown away)
                continue
            if job[1] == 0:
                self._work.popleft()
                self.blocks_printed += 1
                near_end = self.script.near_end_after_bands
                if near_end is not None and self.blocks_printed >= near_end:
                    self.near_end = True
        if not self._work:
            self._head_at = now  # an idle head starts on the next band when it arrives

    def _cut(self) -> None:
        if self.script.cut_fails:
            self.cutter_error = True
        else:
            self._cuts += 1
            self._sheet_rows.append(self._rows_printed - self._rows_at_cut)
            self._rows_at_cut = self._rows_printed
            self._document_waiting = self.script.sheet_reaches_outlet

    def _busy(self) -> bool:
        return bool(self._work)

    def _answer(self, n: int) -> None:
        if self.silent or self._send is None:
            return
        if n == 20:
            if self.script.model != "custom-full":
                return  # an Epson-class printer does not know DLE EOT 20
            paper = self.paper_out | self.near_end << 2 | self._document_waiting << 5
            user = self.cover_open << 1 | self._busy() << 2 | self._busy() << 3  # spooling, paper drag motor on
            recoverable = (0x01 if self.recoverable_error else 0) | (0x02 if self.cutter_error else 0)
            reply = bytes([0x10, 0x0F, paper, user, recoverable, 0x01 if self.unrecoverable_error else 0])
        else:
            fault = not self._can_print()
            bits = {1: fault << 3,
                    2: self.cover_open << 2 | self.paper_out << 5 | (self.recoverable_error or self.cutter_error
                                                                     or self.unrecoverable_error) << 6,
                    3: self.recoverable_error << 2 | self.cutter_error << 3 | self.unrecoverable_error << 5,
                    4: (0x0C if self.near_end else 0) | (0x60 if self.paper_out else 0)}[n]
            reply = bytes([0x12 | bits])
        if self._garble:
            self._garble -= 1
            reply = bytes([0xFF ^ reply[0]]) + reply[1:]  # 1 byte: bit 7 set; 6 bytes: no 10 0F
        if self.script.reply_delay:
            time.sleep(self.script.reply_delay)
        self._trace.note(self._where, "out", reply)
        try:
            self._send(reply)
        except OSError as e:
            self._trace.note(self._where, "out-failed", str(e).encode())

    # -- what the world does to the printer ---------------------------------------------------------------------

    @property
    def rows_printed(self) -> int:
        """Rows the print head has put on paper by now."""
        with self._lock:
            self._advance()
            return self._rows_printed

    @property
    def cuts(self) -> int:
        with self._lock:
            self._advance()
            return self._cuts

    @property
    def sheet_rows(self) -> list[int]:
        """How many rows each sheet cut so far carries (an A4 page at 203 dpi has about 2374; a receipt-sized refund
        slip well under half of that)."""
        with self._lock:
            self._advance()
            return list(self._sheet_rows)

    @property
    def document_waiting(self) -> bool:
        """A cut sheet lies in the outlet."""
        with self._lock:
            self._advance()
            return self._document_waiting

    @property
    def busy(self) -> bool:
        """The buffer still holds bands or cuts the head has not worked off."""
        with self._lock:
            self._advance()
            return self._busy()

    def take_document(self) -> None:
        with self._lock:
            self._document_waiting = False

    def open_cover(self) -> None:
        with self._lock:
            self.cover_open = True

    def close_cover(self) -> None:
        with self._lock:
            self.cover_open = False
            self.recoverable_error = self.cutter_error = False

    def refill_paper(self) -> None:
        with self._lock:
            self.paper_out = self.near_end = False
            self.script.paper_out_after_rows = None

    def garble_next_replies(self, count: int) -> None:
        """The next ``count`` status answers arrive as noise (a bad cable, a ground loop)."""
        with self._lock:
            self._garble += count
