"""Benchmark the operations dashboard's fleet page with 500 kiosks (target: ≤ 200 ms to render).

Run: ``.venv/bin/python tests/bench/bench_dashboard.py [--kiosks 500] [--runs 40] [--db sqlite|postgresql|both]``.
Not a test.  It fills a fresh database with ``--kiosks`` kiosk summaries (a realistic mix: most well, some low on
paper, out of paper, silent, calling staff), ten events each, five wards; starts the REAL dashboard
(``kiosk-server dashboard``), signs in as the city's administrator (who sees all of them) and times
``GET /fleet`` over HTTP from the first byte sent to the last byte read, after two warm-up requests.  It prints
the median, p95 and max, the page's size, and the dashboard process's CPU per request.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402

from server.db import open_database, utcnow  # noqa: E402
from server.models_telemetry import KioskSummary, KioskWard, TelemetryEvent  # noqa: E402
from server import staff  # noqa: E402
from tests.support.dashboard_browser import start_dashboard  # noqa: E402
from tests.support.procs import cpu_seconds  # noqa: E402
from tests.support.server_process import make_dev_world, write_config_variant  # noqa: E402

WARDS = ("kawasaki", "saiwai", "nakahara", "takatsu", "miyamae")
PASSWORD = "bench-password-1"


def fill(url: str, kiosks: int) -> None:
    rng = random.Random(12)
    sessions = open_database(url)
    now = utcnow()
    with sessions() as db:
        staff.create_account(db, "admin-bench", "admin", PASSWORD)
        for i in range(kiosks):
            kiosk = f"kiosk-b{i:04d}"
            roll = rng.random()
            faults = ["printer:paper_out"] if roll < 0.03 else []
            db.add(KioskWard(kiosk_id=kiosk, ward=WARDS[i % len(WARDS)]))
            db.add(KioskSummary(
                kiosk_id=kiosk, last_seen=now - timedelta(minutes=30 if 0.03 <= roll < 0.05 else 0, seconds=rng.randint(0, 50)),
                last_seq=10, in_service=not faults, out_of_service_reason="printer_paper_out" if faults else None,
                vpn_up=roll > 0.01, backlog=rng.randint(0, 3), open_faults=faults,
                gauges={"paper": "out" if faults else "low" if roll > 0.9 else "ok", "hopper_500": rng.randint(0, 40),
                        "hopper_100": rng.randint(0, 80), "hopper_50": 40, "hopper_10": 90,
                        "notes_in_box": rng.randint(0, 600), "backlog": 0},
                staff_call_since=now - timedelta(minutes=rng.randint(1, 20)) if 0.05 <= roll < 0.06 else None))
            for seq in range(1, 11):
                db.add(TelemetryEvent(kiosk_id=kiosk, seq=seq, boot_id="b", monotonic_ms=seq, wall_time=now,
                                      received_at=now, kind="gauges", fields={}))
        db.commit()
    sessions.kw["bind"].dispose()


def measure(dev: Path, name: str, url: str, kiosks: int, runs: int) -> None:
    fill(url, kiosks)
    dashboard = start_dashboard(write_config_variant(dev, name, database_url=url))
    try:
        with httpx.Client(base_url=dashboard.url, follow_redirects=False, trust_env=False) as http:
            login = http.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
            reply = http.post("/login", data={"staff_id": "admin-bench", "password": PASSWORD, "csrf": token})
            assert reply.status_code == 303, reply.text[:300]
            for _ in range(2):
                page = http.get("/fleet")
            assert page.status_code == 200 and page.text.count('class="kiosk ') == kiosks, "not every kiosk shown"
            cpu_before = cpu_seconds(dashboard.process.pid)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                page = http.get("/fleet")
                times.append((time.perf_counter() - start) * 1000)
            cpu = (cpu_seconds(dashboard.process.pid) - cpu_before) * 1000 / runs
    finally:
        dashboard.stop()
    times.sort()
    print(f"{name}: fleet page with {kiosks} kiosks, {runs} requests: median {statistics.median(times):.0f} ms, "
          f"p95 {times[int(0.95 * (len(times) - 1))]:.0f} ms, max {times[-1]:.0f} ms; "
          f"{len(page.content) // 1024} KiB; dashboard CPU {cpu:.0f} ms per request (target ≤ 200 ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        dev = make_dev_world(Path(tmp) / "dev")
        if args.db in ("sqlite", "both"):
            measure(dev, "sqlite", f"sqlite:///{dev / 'bench-dashboard.db'}", args.kiosks, args.runs)
        if args.db in ("postgresql", "both"):
            from tests.support.postgres import start_cluster

            cluster = start_cluster()
            try:
                measure(dev, "postgresql", cluster.create_database("bench_dashboard"), args.kiosks, args.runs)
            finally:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
