"""A pytest plugin that measures what froze the wire emulators of issue #18: how late a thread of the test process
and a sibling process wake, and how long the test process's garbage collections take, test by test.

    STALL_PROBE_OUT=/tmp/stalls.txt .venv/bin/python -m pytest -p tests.support.stall_probe <tests>

Both probes sleep 20 ms at a time and note a turn that came more than 0.1 s after the last one; every collection
longer than 20 ms is noted with its generation.  The file gets one line per event (``<monotonic> thread|process|gcN
<seconds> <test>``) and a count of each.  A thread that is late together with a long collection while the sibling
process is on time is the interpreter lock, not the CPU.  Not a test: it asserts nothing and changes nothing.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time

_SIBLING = """
import sys, time
out, last = open(sys.argv[1], "a"), time.monotonic()
while True:
    time.sleep(0.02)
    now = time.monotonic()
    if now - last > 0.1:
        out.write(f"{now:.4f} process {now - last - 0.02:.3f} -\\n"); out.flush()
    last = now
"""


class _Probe:
    def __init__(self, path: str):
        self.path = path
        self.test = "-"
        self.events: list[tuple[float, str, float, str]] = []
        self.stop = threading.Event()
        self.gc_started = 0.0
        self.sibling = subprocess.Popen([sys.executable, "-c", _SIBLING, path + ".sibling"])
        threading.Thread(target=self._watch, daemon=True, name="stall-probe").start()
        gc.callbacks.append(self._collected)

    def _watch(self) -> None:
        last = time.monotonic()
        while not self.stop.wait(0.02):
            now = time.monotonic()
            if now - last > 0.1:
                self.events.append((now, "thread", now - last - 0.02, self.test))
            last = now

    def _collected(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.gc_started = time.monotonic()
        elif time.monotonic() - self.gc_started > 0.02:
            now = time.monotonic()
            self.events.append((now, f"gc{info['generation']}", now - self.gc_started, self.test))

    def close(self) -> None:
        self.stop.set()
        gc.callbacks.remove(self._collected)
        self.sibling.kill()
        self.sibling.wait()
        try:
            with open(self.path + ".sibling") as f:
                sibling = [line.split(maxsplit=3) for line in f]
            os.unlink(self.path + ".sibling")
        except FileNotFoundError:
            sibling = []
        events = sorted(self.events + [(float(t), kind, float(s), test.strip()) for t, kind, s, test in sibling])
        with open(self.path, "a") as out:
            for kind in ("thread", "process", "gc"):
                out.write(f"# {kind}: {sum(1 for e in events if e[1].startswith(kind))}\n")
            for when, kind, seconds, test in events:
                out.write(f"{when:.4f} {kind} {seconds:.3f} {test}\n")


_probe: _Probe | None = None


def pytest_configure(config) -> None:
    global _probe
    _probe = _Probe(os.environ.get("STALL_PROBE_OUT", "stall-probe.txt"))


def pytest_runtest_logstart(nodeid: str, location) -> None:
    if _probe is not None:
        _probe.test = nodeid


def pytest_unconfigure(config) -> None:
    if _probe is not None:
        _probe.close()
