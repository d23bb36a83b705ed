#!/usr/bin/env python3
"""Print the power-cut matrix for the README: every case × every journal commit of its visit (cut before and after
the commit) and a few random cut times → yen unaccounted, with double payouts, unpaid pages, certificates missing on
the server, and the time each case took.

    .venv/bin/python scripts/powercut_matrix.py                     # all cases, 3 random cuts each
    .venv/bin/python scripts/powercut_matrix.py paid_with_change --random 0 --when after

It starts its own development world and server in a temporary directory and prints each failing cut in full.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.powercut import Server  # noqa: E402
from tests.support.powercut_matrix import CASES, WHENS, describe, run_matrix_case, table  # noqa: E402
from tests.support.server_process import make_dev_world  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES), help=f"out of {', '.join(CASES)}")
    parser.add_argument("--when", choices=WHENS, action="append", help="cut only before or after commits")
    parser.add_argument("--random", type=int, default=3, help="random cut times per case")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every cut as it is done")
    args = parser.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="powercut-") as tmp:
        root = Path(tmp)
        world = make_dev_world(root / "dev")
        server = Server(world)
        results = []
        try:
            for name in args.cases:
                result = run_matrix_case(CASES[name], server, world, root, whens=args.when or WHENS,
                                         random_cuts=args.random, seed=args.seed,
                                         on_outcome=lambda o: args.verbose and print(describe(o), flush=True))
                results.append(result)
                print(f"{name}: {len(result.all)} runs, worst {result.worst} yen unaccounted, "
                      f"{len(result.failures)} failing, {result.seconds:.0f} s", file=sys.stderr, flush=True)
        finally:
            server.stop()
    print(table(results))
    runs = sum(len(r.all) for r in results)
    print(f"\n{runs} runs in {time.monotonic() - started:.0f} s")
    failures = [o for r in results for o in r.failures]
    for o in failures:
        print("FAIL " + describe(o))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
