"""A seeded registry in a real SQLite database (a temporary file), for unit tests of eligibility and composition."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from server.db import open_database
from server.registry import seed

JST = timezone(timedelta(hours=9))


def seeded_registry(path, seed_value: int = 2026, households: int = 12):
    """A sessionmaker on a freshly seeded SQLite file at ``path``."""
    sessions = open_database(f"sqlite:///{path}")
    with sessions() as db:
        assert seed(db, seed_value, households)
    return sessions


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)
