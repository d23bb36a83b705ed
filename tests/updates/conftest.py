"""One development world for the update tests; a fresh rig (keys, repository, server, kiosk) per test."""
from __future__ import annotations

import pytest

from tests.support.server_process import make_dev_world
from tests.support.update_rig import make_rig


@pytest.fixture(scope="session")
def dev_world(tmp_path_factory):
    return make_dev_world(tmp_path_factory.mktemp("updates") / "dev")


@pytest.fixture
def rig(dev_world, tmp_path):
    made = make_rig(tmp_path, dev_world)
    yield made
    made.stop()
