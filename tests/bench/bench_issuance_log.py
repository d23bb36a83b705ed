"""Benchmark the settlement records: appends to the hash-chained issuance log (with its ledger row) per second,
from one writer and from several writers with engines of their own (as server processes have), and the time
``verify-log`` takes, on SQLite and on a throw-away PostgreSQL cluster.

Run: ``PYTHONPATH=. .venv/bin/python tests/bench/bench_issuance_log.py [--entries 2000] [--writers 4]``.
Not a test: it prints figures and exits non-zero only if the chain it built does not verify.  Each append is one
settlement's write set (one ledger row + one log entry, committed), the same calls :mod:`server.settlement` makes,
with its retry when another writer took the next sequence number.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import secrets
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from server import issuance_log, ledger
from server.db import open_database


def append_one(sessions, kiosk: str) -> int:
    """One settlement's records; returns how many times it had to go again on a new head."""
    txn = secrets.token_hex(16)
    document = issuance_log.LogDocument("doc-" + secrets.token_hex(16), "residence_record_copy", 1,
                                        secrets.token_hex(32))
    for retries in range(100):
        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        with sessions() as db:
            try:
                ledger.record(db, transaction_id=txn, kiosk_id=kiosk, outcome="printed", certificate=document.certificate,
                              documents=1, total_fee=300, fee_earned=300, refunded=0, recorded_at=now)
                db.flush()  # the first write, as in settlement: SQLite's write lock before the head is read
                issuance_log.append(db, recorded_at=now, kiosk_id=kiosk, transaction_id=txn, subject_ref="0" * 16,
                                    outcome="printed", documents=[document])
                db.commit()
                return retries
            except IntegrityError:
                db.rollback()
    raise RuntimeError("no append after 100 attempts")


def run(url: str, entries: int, writers: int) -> dict:
    sessions = open_database(url)
    started = time.perf_counter()
    for _ in range(entries):
        append_one(sessions, "kiosk-bench-0")
    single = entries / (time.perf_counter() - started)

    engines = [open_database(url) for _ in range(writers)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(writers) as pool:
        retries = sum(pool.map(lambda n: append_one(engines[n % writers], f"kiosk-bench-{n % writers + 1}"),
                               range(entries)))
    several = entries / (time.perf_counter() - started)

    started = time.perf_counter()
    with sessions() as db:
        result = issuance_log.verify(db)
    verify_s = time.perf_counter() - started
    for s in [sessions, *engines]:
        s.kw["bind"].dispose()
    return {"single": single, "several": several, "retries": retries, "verify_s": verify_s,
            "entries": result.entries, "intact": result.intact}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    targets = [("SQLite (WAL, synchronous=FULL)", None)]
    cluster = None
    if not args.no_postgres:
        from tests.support.postgres import start_cluster

        cluster = start_cluster(durable=True)
        targets.append(("PostgreSQL 15 (fsync on)", cluster))
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, pg in targets:
                url = pg.create_database("bench_log") if pg else f"sqlite:///{Path(tmp) / 'bench.db'}"
                r = run(url, args.entries, args.writers)
                ok &= r["intact"] and r["entries"] == 2 * args.entries
                print(f"{name}: {r['single']:.0f} appends/s from one writer, {r['several']:.0f} appends/s from "
                      f"{args.writers} writers ({r['retries']} retries on a taken head); verify-log "
                      f"{r['entries']} entries in {r['verify_s'] * 1000:.0f} ms; chain intact: {r['intact']}")
    finally:
        if cluster is not None:
            cluster.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
