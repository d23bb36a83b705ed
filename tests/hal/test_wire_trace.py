"""The emulators' wire trace (``KIOSK_PTY_TRACE``): it records every frame, and a trace file that cannot be written
never holds up the emulator it watches (issue #18: on ext4 a write can wait a second behind a journal commit)."""
from __future__ import annotations

import os
import threading
import time

from hal.coins.cctalk_emulator import CcTalkBusEmulator, CoinAcceptorEmulator
from hal.coins.cctalk_frames import HOST, REPLY, SIMPLE_POLL, build_frame
from hal.pty_peer import WireTrace

SIMPLE_POLL_TO_2 = build_frame(2, SIMPLE_POLL)
ACK_FROM_2 = build_frame(HOST, REPLY, source=2)


def _exchange(port: str, request: bytes, size: int, within: float) -> bytes:
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        os.write(fd, request)
        got, deadline = b"", time.monotonic() + within
        while len(got) < size and time.monotonic() < deadline:
            try:
                got += os.read(fd, 64)
            except BlockingIOError:
                time.sleep(0.005)
        return got
    finally:
        os.close(fd)


def test_an_emulator_answers_while_its_trace_file_cannot_be_written_and_the_trace_has_it_all(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_PTY_TRACE", str(tmp_path))
    trace = tmp_path / f"cctalk-emulator-{os.getpid()}.log"
    os.mkfifo(trace)  # nobody reads it yet: opening it to write waits, as a write waits for a busy disk
    made: list[CcTalkBusEmulator] = []
    maker = threading.Thread(target=lambda: made.append(CcTalkBusEmulator(CoinAcceptorEmulator(2)).start()),
                             daemon=True)
    maker.start()
    maker.join(2)
    assert made, "building the emulator waited for its trace file"
    bus = made[0]
    try:
        assert _exchange(bus.port, SIMPLE_POLL_TO_2, 10, within=1.0) == SIMPLE_POLL_TO_2 + ACK_FROM_2
    finally:
        with open(trace, "rb") as reader:  # the trace can be written from now on
            bus.close()
            lines = reader.read().decode().splitlines()
    assert [line.split(" ", 2)[2] for line in lines if " in " in line or " out " in line] == [
        "in 02 00 01 fe ff", "out 02 00 01 fe ff", "out 01 00 02 00 fd"]
    assert lines[-1].endswith("close ")


def test_closing_a_trace_writes_every_line_queued_before_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_PTY_TRACE", str(tmp_path))
    trace = WireTrace("burst")
    for n in range(2000):
        trace.note("/dev/pts/9", "out", n.to_bytes(2, "big"))
    trace.close()
    lines = (tmp_path / f"burst-{os.getpid()}.log").read_text().splitlines()
    assert [line.split()[3] + line.split()[4] for line in lines] == [n.to_bytes(2, "big").hex() for n in range(2000)]
    trace.note("/dev/pts/9", "out", b"late")  # after close: dropped, not an error
