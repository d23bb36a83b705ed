"""Benchmark the PC/SC card reader driver over the real pcscd + vpcd + the project's virtual card.

Run: ``.venv/bin/python tests/bench/bench_pcsc.py [--rounds 20]``.  Not a test: it prints median and p95 in
milliseconds and asserts nothing.  What it measures is the driver's and pcscd's share of a visit's card steps; a
real contactless reader adds its own radio time (and a real card's RSA takes far longer than the virtual card's).

- placed → reported: the virtual card connects to vpcd until the driver's ``CardPlaced`` (pcscd looks every 400 ms)
- certificate: ``read_auth_certificate`` (SELECT AP + SELECT EF + 4 bytes + chunks of 256)
- tries: ``pin_tries_left`` (SELECT EF + empty VERIFY)
- verify + sign: ``verify_pin`` (tries first, then the PIN) and ``sign`` of a SHA-256 DigestInfo
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hal.card.contract import Pin, digest_info_sha256  # noqa: E402
from tests.contracts.pcsc_harness import PcscCardReaderHarness  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"placed -> reported": [], "certificate": [], "tries": [],
                                       "verify + sign": []}
    for _ in range(rounds):
        harness = PcscCardReaderHarness()
        await harness.start()
        try:
            t = time.perf_counter()
            await harness.place_my_number_card(pin="1234")
            timings["placed -> reported"].append(time.perf_counter() - t)
            t = time.perf_counter()
            await harness.reader.read_auth_certificate()
            timings["certificate"].append(time.perf_counter() - t)
            t = time.perf_counter()
            await harness.reader.pin_tries_left()
            timings["tries"].append(time.perf_counter() - t)
            t = time.perf_counter()
            await harness.reader.verify_pin(Pin("1234"))
            await harness.reader.sign(digest_info_sha256(b"challenge"))
            timings["verify + sign"].append(time.perf_counter() - t)
        finally:
            await harness.stop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    timings = asyncio.run(measure(args.rounds))
    print(f"PC/SC driver over pcscd + vpcd, {args.rounds} card placements")
    for name, samples in timings.items():
        ms = [s * 1000 for s in samples]
        print(f"  {name:20s} median {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms")


if __name__ == "__main__":
    main()
