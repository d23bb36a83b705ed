"""One writer at a time on an SQLite database, queued in the kernel instead of in SQLite's sleeping busy handler.

SQLite admits one writer.  A second one that finds the write lock taken calls the busy handler, which Python's
``sqlite3`` sets to SQLite's default: sleep, try again, sleep longer (up to 100 ms a try) — so under a storm of
issuances writers slept while the lock was free, and p99 latency was seconds.  Here every connection that is about
to write first takes an exclusive ``flock`` on a lock file beside the database (``<database>.writer``) and keeps it
until its transaction ends.  A waiter sleeps in the kernel and is woken the moment the holder lets go, in every
process that opens the database (server workers, the CLI tools), so SQLite's own write lock is free when a writer
asks for it and its busy handler (kept as a last resort for programs that do not queue here) is not reached.
Reads never queue: WAL lets them run beside the writer.

The lock is taken before the first INSERT/UPDATE/DELETE of a transaction (Python's ``sqlite3`` begins the
transaction right there) and released once the connection has committed or rolled back, or when it leaves the pool.
Within a process the writers queue on a thread lock with a timeout (like SQLite's own), so a thread that would wait
for a write of its own fails after it instead of hanging.
"""
from __future__ import annotations

import fcntl
import os
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _raw(connection):
    """The DBAPI connection behind a pool proxy (or the connection itself)."""
    return getattr(connection, "dbapi_connection", connection)


class WriterLock:
    """The writer queue of one database: a lock among this process's threads (with a timeout, so a thread that
    would wait for itself fails instead of hanging), then an exclusive ``flock`` among processes."""

    def __init__(self, database_path: str, timeout_s: float = 30.0):
        self.path = database_path + ".writer"
        self.timeout_s = timeout_s
        self._threads = threading.Lock()  # held by the one connection of this process that writes now
        self._guard = threading.Lock()
        self._holder: int | None = None  # id() of that DBAPI connection
        self._file: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own description

    def _fd(self) -> int:
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        return self._file[1]

    def acquire(self, dbapi_connection) -> None:
        key = id(dbapi_connection)
        with self._guard:
            if self._holder == key:
                return
        if not self._threads.acquire(timeout=self.timeout_s):  # woken at once when the holder lets go
            raise TimeoutError(f"another writer held the SQLite database for {self.timeout_s:.0f} s")
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_EX)  # sleeps in the kernel until the other process lets go
        except BaseException:
            self._threads.release()
            raise
        with self._guard:
            self._holder = key

    def release(self, dbapi_connection) -> None:
        with self._guard:
            if self._holder is None or self._holder != id(_raw(dbapi_connection)):
                return
            self._holder = None
            fcntl.flock(self._fd(), fcntl.LOCK_UN)
            self._threads.release()


def queue_writers(engine: Engine, database_path: str) -> WriterLock:
    """Install the writer queue on an SQLite file database's engine."""
    lock = WriterLock(database_path)
    dialect = engine.dialect  # one dialect object per engine: overriding its methods touches this engine only
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection) -> None:
        try:
            commit(dbapi_connection)
        finally:
            lock.release(dbapi_connection)

    def do_rollback(dbapi_connection) -> None:  # also what the pool calls when a connection comes back
        try:
            rollback(dbapi_connection)
        finally:
            lock.release(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(connection, _cursor, statement, _parameters, _context, _executemany):
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            lock.acquire(_raw(connection.connection))

    @event.listens_for(engine.pool, "close")
    def _close(dbapi_connection, _record):
        lock.release(dbapi_connection)

    @event.listens_for(engine.pool, "invalidate")
    def _invalidate(dbapi_connection, _record, _exception):
        if dbapi_connection is not None:
            lock.release(dbapi_connection)

    return lock
