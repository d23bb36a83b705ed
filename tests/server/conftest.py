"""Fixtures: one development world and the REAL server running as a subprocess for the whole session."""
from __future__ import annotations

import pytest

from server.db import open_database
from tests.support.postgres import postgres  # noqa: F401  (the session's throw-away PostgreSQL cluster)
from tests.support.server_process import make_dev_world, sign_in, start_server, write_config_variant


@pytest.fixture(scope="session")
def dev_dir(tmp_path_factory):
    return make_dev_world(tmp_path_factory.mktemp("server-dev") / "dev")


@pytest.fixture(scope="session")
def server(dev_dir):
    process = start_server(dev_dir)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def fault_server(dev_dir):
    """The same world served with [dev] fault = "wrong_subject_page" and its own database."""
    process = start_server(dev_dir, config=write_config_variant(dev_dir, "fault", fault="wrong_subject_page"))
    yield process
    process.stop()


@pytest.fixture()
def http(server):
    with server.client() as client:
        yield client


@pytest.fixture()
def session_a(http, dev_dir):
    """A signed-in session of resident-a: (reply, headers)."""
    reply = sign_in(http, dev_dir, "resident-a")
    return reply, {"Authorization": f"Bearer {reply['session_token']}"}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store(request, dev_dir):
    """A server process of its own on each database, SQLite and PostgreSQL: (process, sessionmaker on its database)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database("storage")
    else:
        url = f"sqlite:///{dev_dir / 'storage.db'}"
        for stale in dev_dir.glob("storage.db*"):
            stale.unlink()
    process = start_server(dev_dir, config=write_config_variant(dev_dir, f"storage-{request.param}",
                                                                database_url=url))
    sessions = open_database(url)
    yield process, sessions
    sessions.kw["bind"].dispose()
    process.stop()
