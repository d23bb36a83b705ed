"""Benchmark the serial money drivers over their pty emulators: request round trips and how long money takes.

Run: ``.venv/bin/python tests/bench/bench_cash_wire.py [--notes 20] [--coins 40]``.  Not a test: it prints medians
and p95 in milliseconds and asserts nothing.  The drivers run with their shipped defaults (ID-003 polled every
100 ms, ccTalk every 100 ms), so the latencies show what a resident waits for, less the mechanics: a pty has no
baud rate, so the 9600-baud transfer time (about 1 ms a byte) is not in the round trips.

- "status round trip": one ID-003 STATUS REQUEST → reply; "229 round trip": one ccTalk read-buffered-credit,
  echo included.
- "note escrow seen": a note inserted → NoteEscrowed in the sink; "note credit": stack() → NoteCredited.
- "coin credit": a coin dropped → CoinCredited.  "dispense 10": a whole 10-coin payout with a hopper that pays
  instantly (the driver's overhead: enable, status, dispense, status polls, flags, level).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hal.coins import cctalk_frames as c  # noqa: E402
from hal.coins.cctalk import CcTalkCoinAcceptor  # noqa: E402
from hal.coins.cctalk_emulator import CcTalkBusEmulator, CoinAcceptorEmulator, HopperEmulator  # noqa: E402
from hal.coins.cctalk_hopper import CcTalkHopper  # noqa: E402
from hal.coins.contract import CoinCredited  # noqa: E402
from hal.notes import id003_frames as f  # noqa: E402
from hal.notes.contract import NoteCredited, NoteEscrowed  # noqa: E402
from hal.notes.id003 import Id003NoteValidator  # noqa: E402
from hal.notes.id003_emulator import Id003Emulator  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Stopwatch:
    """A sink that notes when each kind of event arrived."""

    def __init__(self):
        self.arrived: dict[type, list[float]] = {}

    async def __call__(self, event):
        self.arrived.setdefault(type(event), []).append(time.perf_counter())

    async def next(self, kind: type, count_before: int) -> float:
        while len(self.arrived.get(kind, [])) <= count_before:
            await asyncio.sleep(0.001)
        return self.arrived[kind][count_before]


async def notes(count: int) -> dict[str, list[float]]:
    emulator = Id003Emulator().start()
    validator = Id003NoteValidator(emulator.port)
    sink = Stopwatch()
    timings: dict[str, list[float]] = {"status round trip": [], "note escrow seen": [], "note credit": []}
    try:
        await validator.start(sink)
        await validator.enable(frozenset({1000, 5000, 10000}))
        for i in range(count):
            started = time.perf_counter()
            emulator.insert_note(1000)
            timings["note escrow seen"].append(await sink.next(NoteEscrowed, i) - started)
            started = time.perf_counter()
            await validator.stack()
            timings["note credit"].append(await sink.next(NoteCredited, i) - started)
            await validator.sync(3)
        for _ in range(200):
            started = time.perf_counter()
            await validator._request(f.STATUS_REQUEST)
            timings["status round trip"].append(time.perf_counter() - started)
    finally:
        await validator.stop()
        emulator.close()
    return timings


async def coins(count: int) -> dict[str, list[float]]:
    acceptor_peer, hopper_peer = CoinAcceptorEmulator(2), HopperEmulator(3, stock=10_000, seconds_per_coin=1e-6)
    bus = CcTalkBusEmulator(acceptor_peer, hopper_peer).start()
    acceptor = CcTalkCoinAcceptor(bus.port, 2)
    hopper = CcTalkHopper(bus.port, 3, 100, stock=10_000)
    sink = Stopwatch()
    timings: dict[str, list[float]] = {"229 round trip": [], "coin credit": [], "dispense 10": []}
    try:
        await acceptor.start(sink)
        await hopper.start(sink)
        await acceptor.enable(frozenset({100}))
        for i in range(count):
            started = time.perf_counter()
            with bus.lock:
                acceptor_peer.insert_coin(100)
            timings["coin credit"].append(await sink.next(CoinCredited, i) - started)
        for _ in range(200):
            started = time.perf_counter()
            await acceptor.bus.request("bench", 2, c.READ_BUFFERED_CREDIT)
            timings["229 round trip"].append(time.perf_counter() - started)
        for _ in range(10):
            started = time.perf_counter()
            await hopper.dispense(10)
            timings["dispense 10"].append(time.perf_counter() - started)
    finally:
        await hopper.stop()
        await acceptor.stop()
        bus.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=20)
    parser.add_argument("--coins", type=int, default=40)
    args = parser.parse_args()
    results = asyncio.run(notes(args.notes))
    results.update(asyncio.run(coins(args.coins)))
    for name, samples in results.items():
        ms = [s * 1000 for s in samples]
        print(f"{name:>20}: median {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms   "
              f"(n={len(ms)})")


if __name__ == "__main__":
    main()
