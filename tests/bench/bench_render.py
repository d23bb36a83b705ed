"""Benchmark certificate rendering: milliseconds per document and per page for every certificate type.

Run: ``.venv/bin/python tests/bench/bench_render.py [--runs 40]``.  Not a test: it prints the median and p95 wall
time and the mean CPU time of ``render_certificate`` (layout, background form, seal, signed QR per page, font
subsets, compression) on the synthetic content of tests/server/document_samples.py, after one warm-up render
(which builds the per-process caches: fonts, background operators, glyph outlines).  Every run renders a
different resident (names swapped from a pool of 40 × 40), so font subsets differ from run to run as they do in
service: a run never profits from the previous one having used the very same characters.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from server.render.content import DocumentIdentity  # noqa: E402
from server.render.documents import render_certificate  # noqa: E402
from tests.server.document_samples import ISSUER, SAMPLES  # noqa: E402


FAMILY = "佐藤鈴木高橋田中伊藤渡辺山本中村小林加藤吉田山田佐々木山口松本井上木村林斎藤清水山崎森池田橋本阿部石川"
GIVEN = "翔太陽菜蓮結衣大翔葵湊凛悠真紬樹芽依朝陽咲良蒼莉子颯澪律楓暖花奏美桜碧彩晴蘭"


def resident(value, run: int):
    """The same content with another synthetic resident's names (every string field, recursively)."""
    if isinstance(value, str):
        family = FAMILY[(run * 2) % len(FAMILY):][:2]
        given = GIVEN[(run * 7) % len(GIVEN):][:2]
        return value.replace("見本", family).replace("太郎", given).replace("花子", given[::-1])
    if isinstance(value, tuple):
        return tuple(resident(v, run) for v in value)
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value, **{f.name: resident(getattr(value, f.name), run)
                                              for f in dataclasses.fields(value) if f.init})
    return value


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    started = time.perf_counter()
    render_certificate(SAMPLES[next(iter(SAMPLES))], ISSUER,
                       DocumentIdentity("0" * 32, "1" * 32, "doc-" + "2" * 32, next(iter(SAMPLES))), key)
    print(f"first render (builds the per-process caches): {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"{'certificate':28} {'pages':>5} {'KiB':>5} {'p50 ms':>7} {'p95 ms':>7} {'cpu ms':>7} {'cpu ms/page':>11}")
    for number, (kind, content) in enumerate(SAMPLES.items()):
        identity = DocumentIdentity("ab" * 16, "cd" * 16, f"doc-{number:032x}", kind)
        render_certificate(content, ISSUER, identity, key)
        contents = [resident(content, run) for run in range(args.runs)]
        walls, cpu_start = [], time.process_time()
        for varied in contents:
            t0 = time.perf_counter()
            document = render_certificate(varied, ISSUER, identity, key)
            walls.append((time.perf_counter() - t0) * 1000)
        cpu = (time.process_time() - cpu_start) * 1000 / args.runs
        print(f"{kind.value:28} {document.pages:5d} {len(document.pdf) / 1024:5.0f} {statistics.median(walls):7.1f} "
              f"{percentile(walls, 0.95):7.1f} {cpu:7.1f} {cpu / document.pages:11.1f}")


if __name__ == "__main__":
    main()
