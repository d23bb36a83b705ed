"""Benchmark telemetry ingest: N simulated kiosks, each POSTing a batch every second for a minute, to one server.

Run: ``PYTHONPATH=. .venv/bin/python tests/bench/bench_telemetry.py [--kiosks 500] [--seconds 60] [--events 2]
[--workers 2] [--db sqlite|postgresql]``.  Not a test: it prints the numbers and exits non-zero only if an event
is lost, stored twice or refused.  Target (issue #12): 500 kiosks sustained (every batch answered within its
second), p99 <= 200 ms.

Real parts only, loopback only: ``kiosk-server serve`` over HTTPS with mTLS (``--workers`` processes on one
socket), SQLite in WAL with synchronous=FULL (or a throw-away PostgreSQL cluster with fsync on).  Every kiosk has
its own device certificate (tests/support/storm.py makes them from the dev city CA) and its own kept-alive
connection; the TLS handshakes happen before the clock starts.  Each kiosk sends ``--seconds`` batches (a bounded
loop) on a fixed schedule, its start spread over the first second; a batch is ``--events`` events with the next
sequence numbers and a gauge sample, like a busy kiosk's.  When a reply is late the next batch goes at once: a
run that takes much longer than ``--seconds`` did not sustain the rate.  Afterwards the database is checked: each
kiosk's events are 1..n, once each.

The load generator (one asyncio process, httpx) shares the cores with the server: the CPU seconds of each are
printed beside the wall time.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.bench.bench_server import CpuMeter, _percentile  # noqa: E402
from tests.support.postgres import start_cluster  # noqa: E402
from tests.support.procs import alive, descendants  # noqa: E402
from tests.support.server_process import make_dev_world, start_server, write_config_variant  # noqa: E402
from tests.support.storm import make_storm_kiosks  # noqa: E402

TARGET_P99_MS = 200.0
BOOT = "bench-boot"


def _batch(first_seq: int, events: int, sent_ms: int) -> dict:
    wall = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return {"boot_id": BOOT, "sent_monotonic_ms": sent_ms, "backlog": 0,
            "events": [{"seq": first_seq + n, "boot_id": BOOT, "monotonic_ms": sent_ms, "wall_time": wall,
                        "kind": "paper_low" if n % 2 else "device_recovered",
                        "fields": {"device": "printer", "state": "paper_low" if n % 2 else "ready"}}
                       for n in range(events)],
            "gauges": {"sampled_at": wall, "values": {"paper": "ok", "hopper_100": 50, "notes_in_box": 12,
                                                       "uptime_s": sent_ms // 1000, "temperature_c": 48.5}}}


async def _kiosk(client: httpx.AsyncClient, index: int, count: int, seconds: int, events: int, start: float,
                 latencies: list[float], failures: list[str], acked: list[int]) -> None:
    loop = asyncio.get_running_loop()
    offset = index / count  # spread over the first second
    for tick in range(seconds):
        if loop.time() > start + seconds * 3 + 30:  # bounded: a server far behind ends the run, counted as missed
            failures.append(f"kiosk {index}: gave up at tick {tick} (the server fell too far behind)")
            return
        delay = start + offset + tick - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        body = _batch(tick * events + 1, events, int((offset + tick) * 1000))
        began = time.perf_counter()
        try:
            reply = await client.post("/v1/telemetry", json=body)
        except httpx.HTTPError as exc:
            failures.append(f"kiosk {index} tick {tick}: {type(exc).__name__}")
            continue
        latencies.append(time.perf_counter() - began)
        if reply.status_code != 200 or reply.json().get("acked_seq") != (tick + 1) * events:
            failures.append(f"kiosk {index} tick {tick}: {reply.status_code} {reply.text[:120]}")
        else:
            acked[index] = (tick + 1) * events


async def _load(server, kiosks, seconds: int, events: int, roots: dict[str, int]) -> dict:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=server.url, verify=server.ssl_context(k.kiosk_id), trust_env=False,
                                 timeout=30.0, limits=limits) for k in kiosks]
    failures: list[str] = []
    for i in range(0, len(clients), 50):  # handshakes before the clock starts (and the health check warms up)
        replies = await asyncio.gather(*(c.get("/v1/health") for c in clients[i:i + 50]), return_exceptions=True)
        failures += [f"warm-up: {r!r}" for r in replies if not isinstance(r, httpx.Response) or r.status_code != 200]
    latencies: list[float] = []
    acked = [0] * len(clients)
    meter, own = CpuMeter(roots), resource.getrusage(resource.RUSAGE_SELF)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    began = time.perf_counter()

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            print(f"  {time.perf_counter() - began:5.0f} s: {len(latencies)} batches answered, "
                  f"{len(failures)} failed", flush=True)

    reporter = asyncio.ensure_future(progress())
    await asyncio.gather(*(_kiosk(c, i, len(clients), seconds, events, start, latencies, failures, acked)
                           for i, c in enumerate(clients)))
    reporter.cancel()
    wall = time.perf_counter() - began - 0.5
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = meter.used()
    cpu["load generator"] = (end.ru_utime - own.ru_utime) + (end.ru_stime - own.ru_stime)
    await asyncio.gather(*(c.aclose() for c in clients))
    latencies = latencies or [float("nan")]
    return {"batches": len(latencies), "wall": wall, "rate": len(latencies) / wall,
            "p50": statistics.median(latencies) * 1000, "p99": _percentile(latencies, 99) * 1000,
            "max": max(latencies) * 1000, "cpu": cpu, "failures": failures, "acked": acked}


def _check_store(url: str, kiosks, acked: list[int]) -> list[str]:
    """Each kiosk's stored events are exactly 1..(what the server acknowledged to it): none lost, none twice."""
    engine = create_engine(url)
    problems = []
    with engine.connect() as db:
        rows = db.execute(text("SELECT kiosk_id, count(*), count(DISTINCT seq), min(seq), max(seq) "
                               "FROM telemetry_events WHERE kiosk_id LIKE 'kiosk-tbench-%' GROUP BY kiosk_id")).all()
    engine.dispose()
    found = {r[0]: r[1:] for r in rows}
    for k, expected in zip(kiosks, acked):
        if found.get(k.kiosk_id, (0, 0, None, None)) != (expected, expected, 1 if expected else None,
                                                         expected or None):
            problems.append(f"{k.kiosk_id}: stored {found.get(k.kiosk_id)} (want {expected} events 1..{expected})")
    return problems


def _stop_on_sigterm() -> None:
    """``timeout`` or Ctrl-C: unwind through the finally blocks, so the server and the cluster are stopped."""
    def stop(_signum, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)


def main() -> int:
    _stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kiosks", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--events", type=int, default=2, help="events per batch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        dev = make_dev_world(Path(tmp) / "dev")
        kiosks = make_storm_kiosks(dev, args.kiosks, prefix="kiosk-tbench")
        cluster = start_cluster(durable=True) if args.db == "postgresql" else None
        try:
            url = cluster.create_database("tbench") if cluster else f"sqlite:///{dev / 'tbench.db'}"
            server = start_server(dev, config=write_config_variant(dev, "tbench", database_url=url),
                                  args=("--workers", str(args.workers)))
            print(f"telemetry benchmark: {args.kiosks} kiosks x {args.seconds} batches of {args.events} events (one "
                  f"a second), {args.db}, {args.workers} server process(es), {cores} cores, load average "
                  f"{os.getloadavg()[0]:.1f} at start", flush=True)
            workers = descendants(server.pid)  # (a main process killed while draining would orphan them)
            try:
                roots = {"server": server.pid, **({"postgres": cluster.pid} if cluster else {})}
                result = asyncio.run(_load(server, kiosks, args.seconds, args.events, roots))
            finally:
                server.stop()
                for pid in workers:
                    if alive(pid):
                        os.kill(pid, signal.SIGKILL)
            problems = _check_store(url, kiosks, result["acked"])
        finally:
            if cluster:
                cluster.stop()
    cpu = result["cpu"]
    shares = ", ".join(f"{name} {seconds:.1f} s ({seconds / (result['wall'] * cores) * 100:.0f}%)"
                       for name, seconds in cpu.items())
    offered = args.kiosks  # batches per second asked for
    sustained = result["wall"] <= args.seconds + 2.0
    verdict = "meets" if sustained and result["p99"] <= TARGET_P99_MS else "misses"
    print(f"{result['batches']} batches ({result['batches'] * args.events} events) in {result['wall']:.1f} s: "
          f"{result['rate']:.0f} batches/s of {offered}/s offered ({result['rate'] * args.events:.0f} events/s), "
          f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms "
          f"({verdict} the target: sustained, p99 <= {TARGET_P99_MS:.0f} ms)")
    print(f"CPU over the run ({cores} cores = 100%): {shares}; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"server CPU per batch {cpu['server'] / max(1, result['batches']) * 1000:.1f} ms")
    print(f"store check: {'every kiosk holds 1..(its acknowledged seq), once each' if not problems else f'{len(problems)} kiosks wrong'}"
          f" ({sum(result['acked'])} events acknowledged of {args.kiosks * args.seconds * args.events} sent)")
    for line in (result["failures"] + problems)[:8]:
        print(f"  FAILED {line}")
    return 1 if result["failures"] or problems else 0


if __name__ == "__main__":
    sys.exit(main())
