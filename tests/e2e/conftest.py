"""End-to-end fixtures: one development world and the real reference server over HTTPS for the session, a
fresh kiosk (own journal, own copy of the cards, own printer output) for every test."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.kiosk_session import KioskSession, kiosk_config_data
from tests.support.server_process import make_dev_world, start_server, write_config_variant


@pytest.fixture(scope="session")
def dev_world(tmp_path_factory) -> Path:
    return make_dev_world(tmp_path_factory.mktemp("e2e") / "dev")


@pytest.fixture(scope="session")
def server(dev_world):
    process = start_server(dev_world)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def faulty_server(dev_world):
    """A second server in the same world whose documents carry another resident's page (a 2023-style bug)."""
    config = write_config_variant(dev_world, "faulty", fault="wrong_subject_page")
    process = start_server(dev_world, config=config)
    yield process
    process.stop()


@pytest.fixture
def kiosk_config(dev_world, server, tmp_path):
    def make(url: str | None = None, **overrides) -> dict:
        return kiosk_config_data(dev_world, tmp_path, url or server.url, **overrides)
    return make


@pytest.fixture
def run_kiosk(kiosk_config, tmp_path):
    """``run_kiosk(visit)`` runs ``async def visit(k: KioskSession)`` against a started kiosk."""

    def run(visit, config: dict | None = None, clock=None):
        async def main():
            async with KioskSession(config or kiosk_config(), tmp_path, clock=clock) as session:
                await session.wait("idle", 10)
                return await visit(session)
        return asyncio.run(main())
    return run
