"""SQLite writers queue on the writer lock (server/sqlite_writer.py), so they never meet SQLite's own write lock.

Two processes write at once to one database whose busy handler is switched off (``timeout=0``: a writer that
finds SQLite's lock taken fails at once with "database is locked").  Through the queue, every transaction
commits; without it, the same load fails (the control shows the load really collides).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRITES = 300

WRITER = textwrap.dedent("""
    import sys, time
    from sqlalchemy import create_engine, text
    from server.sqlite_writer import queue_writers
    path, queued, writes, start = sys.argv[1], sys.argv[2] == "queued", int(sys.argv[3]), float(sys.argv[4])
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    if queued:
        queue_writers(engine, path)
    with engine.connect():
        pass
    time.sleep(max(0.0, start - time.time()))  # both processes begin at the same moment
    locked = 0
    for n in range(writes):
        try:
            with engine.begin() as db:
                db.execute(text("INSERT INTO counts (n) VALUES (:n)"), {"n": n})
                db.execute(text("UPDATE totals SET total = total + 1"))
        except Exception as exc:
            if "database is locked" not in str(exc):
                raise
            locked += 1
    print(locked)
""")


def _race(path: Path, queued: bool) -> tuple[int, int]:
    """(transactions refused with 'database is locked', rows written) after two processes wrote at once."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS counts (n INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS totals (total INTEGER)")
        db.execute("DELETE FROM counts")
        db.execute("DELETE FROM totals")
        db.execute("INSERT INTO totals VALUES (0)")
    start = str(time.time() + 2.0)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "queued" if queued else "bare", str(WRITES),
                                 start],
                                cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    locked = 0
    for writer in writers:
        out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0
        locked += int(out.strip())
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT count(*) FROM counts").fetchone()[0]
        total = db.execute("SELECT total FROM totals").fetchone()[0]
    assert rows == total
    return locked, rows


def test_queued_writers_from_two_processes_never_meet_sqlites_lock(tmp_path):
    locked, rows = _race(tmp_path / "queued.db", queued=True)
    assert locked == 0 and rows == 2 * WRITES


def test_the_same_writers_without_the_queue_collide(tmp_path):
    locked, rows = _race(tmp_path / "bare.db", queued=False)
    assert locked > 0 and rows == 2 * WRITES - locked
