"""How long the server's SQLite write transaction holds the writer lock while other threads of the process compute.

The write of an issuance is three short calls into SQLite (claim the quote, insert a 125 KB envelope, commit),
each of which lets go of the GIL and must win it back; the writer lock (server/sqlite_writer.py) is held from the
first to the last.  With threads busy in pure Python beside it (as rendering threads are), each win-back waits up
to CPython's switch interval per busy thread.  This prints the time from taking the lock to letting it go, per
write, for 0-8 busy threads and the default (5 ms) and the server's (server.serve.GIL_SWITCH_S) switch intervals.

    PYTHONPATH=. python tests/bench/bench_gil_convoy.py [--seconds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

from sqlalchemy import text

from server.db import make_engine
from server.serve import GIL_SWITCH_S

ENVELOPE = os.urandom(125_000)  # about one signed one-page envelope


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(2000):
            x += i * i


def measure(path: str, busy: int, switch_s: float, seconds: float) -> list[float]:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS quotes (id INTEGER PRIMARY KEY, txn TEXT)"))
        c.execute(text("CREATE TABLE IF NOT EXISTS issuances (txn TEXT PRIMARY KEY, envelope BLOB)"))
        c.execute(text("DELETE FROM quotes"))
        c.execute(text("DELETE FROM issuances"))
        c.execute(text("INSERT INTO quotes (id) VALUES (:i)"), [{"i": i} for i in range(100_000)])
    stop = threading.Event()
    threads = [threading.Thread(target=_busy, args=(stop,)) for _ in range(busy)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(switch_s)
    held: list[float] = []
    try:
        for t in threads:
            t.start()
        deadline, n = time.monotonic() + seconds, 0
        with engine.connect() as c:
            while time.monotonic() < deadline:
                txn = f"t{n}"
                start = time.perf_counter()  # the claim is the first write: the lock is taken inside it
                c.execute(text("UPDATE quotes SET txn = :t WHERE id = :i AND txn IS NULL"), {"t": txn, "i": n})
                c.execute(text("INSERT INTO issuances VALUES (:t, :e)"), {"t": txn, "e": ENVELOPE})
                c.commit()  # the lock is let go inside the commit
                held.append((time.perf_counter() - start) * 1000)
                n += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(old)
        engine.dispose()
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per combination")
    args = parser.parse_args()
    print(f"write transaction in the writer lock, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "convoy.db")
        for busy in (0, 1, 2, 8):
            for switch_s in (0.005, GIL_SWITCH_S):
                held = measure(path, busy, switch_s, args.seconds)
                p95 = statistics.quantiles(held, n=20)[-1]
                print(f"  {busy} busy threads, switch interval {switch_s * 1000:.0f} ms: {len(held)} writes, "
                      f"median {statistics.median(held):.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
