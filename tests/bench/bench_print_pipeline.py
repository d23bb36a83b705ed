"""Benchmark the print pipeline per A4 page: verify, rasterise, print to the simulated printer.

Run: ``.venv/bin/python tests/bench/bench_print_pipeline.py [--pages 30] [--filler-lines 35]``.  Not a test: it
prints median and p95 in milliseconds and asserts nothing.  The target is rasterise <= 60 ms per page at 203 dpi.

Each sample is one single-page envelope, so "verify" is the whole verify_documents (signature, hashes, text
extraction, binding check) for one page; "print" is SimPrinter.print_page in memory (no PNG file written);
"pipeline" is print_verified end to end (status query, rasterise in a worker thread, print, journal callback, cut).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from firmware.printing import print_verified, verify_documents  # noqa: E402
from firmware.rasterise import rasterise  # noqa: E402
from hal.events import discard  # noqa: E402
from hal.printer.sim import SimPrinter  # noqa: E402
from tests.support.documents import make_envelope  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(pages: int, filler_lines: int) -> dict[str, list[float]]:
    envelopes = [make_envelope((1,), filler_lines=filler_lines) for _ in range(pages)]
    timings: dict[str, list[float]] = {"verify": [], "rasterise": [], "print": [], "pipeline": []}
    printer = SimPrinter()

    async def run_all():
        await printer.start(discard)
        for test_envelope in envelopes:
            started = time.perf_counter()
            verified = verify_documents(test_envelope.envelope, test_envelope.trusted_keys,
                                        test_envelope.transaction_id, test_envelope.subject_ref)
            timings["verify"].append(time.perf_counter() - started)
            document = verified.documents[0]

            started = time.perf_counter()
            raster = rasterise(document.pdf, 0, printer.dpi, printer.width_dots, document_id=document.document_id)
            timings["rasterise"].append(time.perf_counter() - started)

            started = time.perf_counter()
            await printer.print_page(raster)
            timings["print"].append(time.perf_counter() - started)

            started = time.perf_counter()
            report = await print_verified(verified, printer, on_page_printed=lambda doc, page: None)
            timings["pipeline"].append(time.perf_counter() - started)
            assert report.complete
            await printer.take_document()
            printer.pages.clear()  # keep memory flat over long runs

    asyncio.run(run_all())
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--filler-lines", type=int, default=None,
                        help="extra lines of small print per page (default: run a light and a dense page)")
    args = parser.parse_args(argv)
    variants = [args.filler_lines] if args.filler_lines is not None else [0, 35]
    measure(3, 0)  # warm up pdfium, fonts and the thread pool
    for filler in variants:
        timings = measure(args.pages, filler)
        kind = "light page (9 lines)" if filler == 0 else f"dense page (9 + {filler} lines)"
        print(f"A4 at 203 dpi, {args.pages} pages, {kind}: milliseconds per page")
        print(f"  {'step':<10} {'median':>8} {'p95':>8}")
        for step, samples in timings.items():
            median = statistics.median(samples) * 1000
            p95 = percentile(samples, 0.95) * 1000
            print(f"  {step:<10} {median:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
