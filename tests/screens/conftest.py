"""GUI test fixtures: an Xvfb display started (and stopped by PID) for the session, Kivy's home in a temp dir,
one development world and the real reference server over HTTPS.

Why Xvfb rather than SDL's offscreen driver: both render the same with Mesa llvmpipe (platform-notes §2), but the
kiosk runs Kivy on X11 (or KMS) on the Pi, and an X server also lets a developer point xdotool or a VNC viewer at
the test display when a GUI test fails.  It costs ~0.1 s per session.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.kiosk_session import kiosk_config_data
from tests.support.server_process import make_dev_world, start_server

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("KIOSK_SCREENSHOTS", REPO / "var" / "screenshots"))


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is not installed (scripts/bootstrap.sh installs the xvfb package)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1400x800x24", "-nolisten", "tcp"],
                               pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        pytest.fail("Xvfb did not report a display number")
    return process, f":{number}"


# Kivy reads its environment when it is first imported: set it up when this conftest loads, before any test
# module runs, and start the display at once so the whole session shares it.
_KIVY_HOME = tempfile.mkdtemp(prefix="kivy-home-")
os.environ["KIVY_HOME"] = _KIVY_HOME
os.environ["KIVY_NO_ARGS"] = "1"
os.environ["KIVY_NO_FILELOG"] = "1"
os.environ["KIVY_NO_CONSOLELOG"] = "1"
os.environ.pop("SDL_VIDEODRIVER", None)


@pytest.fixture(scope="session", autouse=True)
def display():
    process, name = _start_xvfb()
    os.environ["DISPLAY"] = name
    yield name
    os.kill(process.pid, signal.SIGTERM)
    process.wait(10)
    shutil.rmtree(_KIVY_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dev_world(tmp_path_factory) -> Path:
    return make_dev_world(tmp_path_factory.mktemp("gui") / "dev")


@pytest.fixture(scope="session")
def server(dev_world):
    process = start_server(dev_world)
    yield process
    process.stop()


@pytest.fixture
def gui_config(dev_world, server, tmp_path):
    from firmware.config import parse_config

    def make(**overrides):
        data = kiosk_config_data(dev_world, tmp_path, server.url, **overrides)
        data.setdefault("screen", {}).setdefault("thanks_s", 0.5)
        return parse_config(data, source=tmp_path / "kiosk.toml")
    return make


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOTS}")
    return SCREENSHOTS
