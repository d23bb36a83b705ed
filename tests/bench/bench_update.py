"""Benchmark: a 50 MB release from "available" (signed and published) to "committed" on this machine, over the
real reference server (HTTPS, mTLS, TUF metadata), and the kiosk's out-of-service time during the switch (from
the kiosk saying it is idle to the hold's release after the commit; target ≤ 30 s).

    python tests/bench/bench_update.py [--mb 50] [--runs 3] [--settle 2]

The gate's settle time (``settle_s``, 20 s on a kiosk) is part of the out-of-service time; it is printed apart.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.server_process import make_dev_world  # noqa: E402
from tests.support.update_rig import make_rig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0, help="the gate's settle_s (20 on a kiosk)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dev = make_dev_world(Path(tmp) / "dev")
        totals, outs = [], []
        for run in range(args.runs):
            rig = make_rig(Path(tmp) / f"run{run}", dev, settle_s=args.settle, gate_timeout_s=30)
            try:
                bundle = rig.build("1.1.0", padding_mb=args.mb)
                size = bundle.stat().st_size
                from tests.support.update_rig import kiosk_server
                start = time.monotonic()
                kiosk_server("add-release", "--repo", rig.repo, "--bundle", bundle, "--version", "1.1.0",
                             "--targets-key", rig.key("targets"), "--snapshot-key", rig.key("snapshot"),
                             "--timestamp-key", rig.key("timestamp"))
                done = rig.update("check", timeout=600)
                total = time.monotonic() - start
                result = json.loads(done.stdout)
                assert result["outcome"] == "committed", done.stdout + done.stderr
                totals.append(total)
                outs.append(result["out_of_service_s"])
                print(f"run {run + 1}: bundle {size / 1e6:.1f} MB, available → committed {total:.2f} s, "
                      f"out of service {result['out_of_service_s']:.2f} s (of it the gate's settle "
                      f"{args.settle:g} s)", flush=True)
            finally:
                rig.stop()
    print(f"median: available → committed {statistics.median(totals):.2f} s, out of service "
          f"{statistics.median(outs):.2f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
