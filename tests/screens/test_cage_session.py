"""The touchscreen app in the kiosk's display session: full screen as cage's only client (as systemd/kiosk.service
runs it), on wlroots' X11 backend inside an Xvfb of its own with the pixman software renderer, looked at with grim.

Why the X11 backend and not wlroots' headless one: on this machine the headless output failed every commit ("Basic
output test failed for HEADLESS-1") and stayed black for good whenever the session started while the CPU was busy
(11 of 11 runs under load); the X11 backend paces its frames by the X server's Present events and drew the idle
screen under the same load.  What is tested is the same: cage's only client, full screen, no decorations.

cage refuses to run with a way back to root; as root the test maps itself to an ordinary user in a user
namespace (the files it reads stay the test's own).  The Pi runs the same `cage -d -- kiosk` on its DRM output."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.test_restart import _toml
from tests.support.kiosk_session import kiosk_config_data

REPO = Path(__file__).resolve().parents[2]
OUTPUT = (1024, 768)  # wlroots' X11 backend opens its output window at this size
IDLE_BACKGROUND = (246, 245, 240)  # the idle screen's background (screens/theme.py)


def _own_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{OUTPUT[0]}x{OUTPUT[1]}x24",
                                "-nolisten", "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not report a display number"
    return process, f":{number}"


def test_the_app_fills_the_screen_under_cage(dev_world, server, tmp_path, screenshots):
    for tool in ("cage", "grim", "Xwayland"):
        assert shutil.which(tool), f"{tool} is missing: scripts/bootstrap.sh installs cage, grim and xwayland"
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    data = kiosk_config_data(dev_world, tmp_path, server.url)
    # as on a kiosk: no dev panel, full screen at the panel's own size (Kivy under cage's XWayland keeps the
    # configured size for its viewport, so [screen] width/height must be the panel's mode)
    data["screen"] = {"fullscreen": True, "dev_panel": "off", "width": OUTPUT[0], "height": OUTPUT[1]}
    (tmp_path / "kiosk.toml").write_text(_toml(data), encoding="utf-8")
    (tmp_path / "kivy").mkdir()
    xvfb, x_display = _own_xvfb()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(run), WLR_BACKENDS="x11", WLR_RENDERER="pixman", DISPLAY=x_display,
               WLR_LIBINPUT_NO_DEVICES="1", KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_ARGS="1",
               PYTHONPATH=str(REPO))
    for name in ("WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        env.pop(name, None)
    as_user = ["unshare", "--user", "--map-user=1000", "--map-group=1000"] if os.geteuid() == 0 else []
    # The session's output goes to a file, never to a pipe nobody reads while the test waits: a full pipe (64 KiB
    # of cage's, XWayland's and the app's log lines) blocks the app in write() and it never draws its idle screen.
    log_path = tmp_path / "cage-session.log"
    log = open(log_path, "w", encoding="utf-8")
    session = subprocess.Popen([*as_user, "cage", "-d", "--", sys.executable, "-m", "screens.launcher",
                                "--config", str(tmp_path / "kiosk.toml")], env=env, cwd=REPO,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()

    def log_tail() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    shot = screenshots / "cage" / "idle.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.monotonic() + 120  # (a cold Kivy start on software rendering; minutes on a loaded 2-core box)
        image = None
        while image is None or image.getpixel((OUTPUT[0] // 2, OUTPUT[1] - 3)) != IDLE_BACKGROUND:
            assert session.poll() is None, log_tail()
            assert time.monotonic() < deadline, (
                f"cage showed no idle screen of the app (load average {os.getloadavg()}, last frame: {shot}, "
                f"pixel {image.getpixel((OUTPUT[0] // 2, OUTPUT[1] - 3)) if image else None}):\n{log_tail()}")
            time.sleep(0.3)  # (a frame is looked at again until the idle screen is drawn)
            if not (run / "wayland-0").exists():
                continue
            grim = subprocess.run(["grim", str(shot)], env=dict(env, WAYLAND_DISPLAY="wayland-0"),
                                  capture_output=True, text=True, timeout=10)
            assert grim.returncode == 0, grim.stderr
            image = Image.open(shot).convert("RGB")
    finally:
        os.killpg(session.pid, signal.SIGTERM)  # cage ends its client with it
        try:
            session.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(session.pid, signal.SIGKILL)
            session.wait(timeout=5)
        xvfb.terminate()
        xvfb.wait(timeout=10)
    print(f"cage screenshot: {shot}")
    assert image.size == OUTPUT
    corners = [image.getpixel(p) for p in ((2, 2), (OUTPUT[0] - 3, 2), (2, OUTPUT[1] - 3), (OUTPUT[0] - 3, OUTPUT[1] - 3))]
    assert (0, 0, 0) not in corners, f"the app does not fill the screen: corners {corners}"
    assert image.getpixel((OUTPUT[0] - 3, 2)) == IDLE_BACKGROUND  # no dev panel, no desktop, no cursor corner
