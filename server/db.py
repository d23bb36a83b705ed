"""Storage: the engine, sessions, and the time helpers every table uses (naive UTC)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from server import models_admin  # noqa: F401  (registers the administration tables on Base.metadata)
from server import models_telemetry  # noqa: F401  (registers the telemetry, command and staff tables)
from server import models_dashboard  # noqa: F401  (registers the dashboard's sessions and audit)
from server import models_applications  # noqa: F401  (registers the e-applications)
from server.models import Base
from server.sqlite_writer import queue_writers


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def iso(moment: datetime) -> str:
    """ISO-8601 with an explicit UTC offset, as the wire carries times."""
    return moment.replace(tzinfo=timezone.utc).isoformat()


# Requests a server process lets in at once (server/admission.py), the threads that run them (server/serve.py) and
# so the connections it keeps: a request holds one connection while it runs.  Two cores gain nothing from more
# threads than this (they only queue for the GIL; 4 measured no better), and a node's pool stays small enough that
# N nodes x workers x 12 connections fit PostgreSQL's max_connections.
REQUEST_THREADS = 8


def make_engine(url: str) -> Engine:
    """hide_parameters: a database error's message never carries the values (they may be personal data)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True,
                               pool_size=REQUEST_THREADS, max_overflow=REQUEST_THREADS // 2)
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            queue_writers(engine, path)  # writers queue in the kernel, not in SQLite's sleeping busy handler

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # driver settings, not SQL the app depends on
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        # One connection per request thread, a few more for the rare request that holds two.  No ping before each
        # use (a round trip per request): a connection that died with the database fails its statement, SQLAlchemy
        # then drops the whole pool, and the kiosk retries that request with the same transaction id.
        engine = create_engine(url, pool_pre_ping=False, pool_size=REQUEST_THREADS, max_overflow=REQUEST_THREADS // 2,
                               pool_timeout=30, pool_recycle=3600, hide_parameters=True)
    return engine


_SCHEMA_LOCK = 0x6B696F736B  # any fixed number: the advisory lock under which server processes create tables


def _envelopes_uncompressed(connection) -> None:
    """PostgreSQL tries to compress every large value (pglz) before it stores it out of line.  An envelope is
    base64 of compressed PDFs: the try saves nothing and cost 1.8 ms of the database's CPU per issuance (measured:
    2.2 ms per 125 KB insert, 0.4 ms without it).  EXTERNAL keeps it out of line, uncompressed."""
    storage = connection.execute(text("SELECT attstorage FROM pg_attribute WHERE attrelid = 'issuances'::regclass "
                                      "AND attname = 'envelope'")).scalar()
    if storage != "e":
        connection.execute(text("ALTER TABLE issuances ALTER COLUMN envelope SET STORAGE EXTERNAL"))


def open_database(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        # Several server processes may start at once on a new database: CREATE TABLE is not idempotent under
        # concurrency on PostgreSQL (a racing twin fails on the catalogue's unique index), so they take turns.
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            Base.metadata.create_all(connection)
            _envelopes_uncompressed(connection)
    else:
        Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)
