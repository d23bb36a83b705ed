"""A frozen screen stops the watchdog's pings: the real app under Xvfb, with a test listener on $NOTIFY_SOCKET.

Kivy's frame loop is made to stop (its idle step waits) while the asyncio loop, the controller and the devices
go on; the UI pulse, beaten from Kivy's Clock, goes stale and the pings stop within one interval.  When frames
come again, so do the pings."""
from __future__ import annotations

import asyncio
import time

from screens.testing import frozen_frames, wait_screen
from tests.support.notify_listener import NotifyListener

INTERVAL = 2.0


def test_a_frozen_frame_clock_stops_the_pings(gui_config, tmp_path, monkeypatch):
    from screens.app import run_kiosk_app

    listener = NotifyListener(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    monkeypatch.setenv("WATCHDOG_USEC", str(int(INTERVAL * 1_000_000)))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)

    async def automation(app):
        await wait_screen(app, "idle")
        started = time.monotonic()
        while not listener.times("READY", "1"):
            await asyncio.sleep(0.05)
            assert time.monotonic() < started + 30, f"no READY=1 ({app.supervision.__dict__})"
        ready_at = time.monotonic()
        # The pings must be flowing before the screen freezes: in a loaded run the test froze it right after
        # READY=1, before the first ping, and then found no ping at all to compare with.
        while not listener.times("WATCHDOG", "1"):
            await asyncio.sleep(0.05)
            assert time.monotonic() < ready_at + 3 * INTERVAL, "no WATCHDOG=1 after READY=1"
        pinging = listener.times("WATCHDOG", "1")
        frozen_at = time.monotonic()
        with frozen_frames():
            while time.monotonic() - max(listener.times("WATCHDOG", "1") or [0.0]) <= INTERVAL:
                await asyncio.sleep(0.05)
                assert time.monotonic() < frozen_at + 3 * INTERVAL, "the pings went on with the screen frozen"
            last_ping = max(listener.times("WATCHDOG", "1"))
            stale = list(app.supervision.watchdog.stale)
            controller_alive = app.parts.kiosk.alive(INTERVAL / 2)
        thawed_at = time.monotonic()
        while not [t for t in listener.times("WATCHDOG", "1") if t > thawed_at]:
            await asyncio.sleep(0.05)
            assert time.monotonic() < thawed_at + INTERVAL, "the pings did not resume"
        return len(pinging), frozen_at, last_ping, stale, controller_alive

    try:
        pinged, frozen_at, last_ping, stale, controller_alive = asyncio.run(run_kiosk_app(gui_config(), automation))
    finally:
        listener.close()
    assert pinged >= 1
    assert last_ping <= frozen_at + INTERVAL
    assert stale == ["ui"] and controller_alive  # the firmware was fine: only the screen froze
    assert listener.times("STOPPING", "1")
