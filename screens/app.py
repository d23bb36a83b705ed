"""Run the touchscreen app: ``run_app(config)`` (the ``kiosk`` command) or ``run_kiosk_app(config, automation)``
(tests and the benchmark: ``automation(app)`` is awaited once the first screen is up, then the app stops).

The firmware and Kivy share one asyncio loop (``App.async_run``).  With simulated devices the dev panel is shown
and the control socket (``kiosk-sim``) is served too, so a visit can be driven with the mouse or from a shell.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from typing import Awaitable, Callable

from firmware.assembly import assemble
from firmware.config import ConfigError, KioskConfig
from firmware.supervision import Supervision
from screens import kivy_setup
from screens.fonts import FontMissing, check_fonts
from screens.settings import DEV_PANEL_WIDTH, all_simulated, parse_screen

log = logging.getLogger("kiosk.screens")


def run_app(config: KioskConfig) -> int:
    try:
        return asyncio.run(run_kiosk_app(config))
    except (ConfigError, FontMissing) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2


async def run_kiosk_app(config: KioskConfig, automation: Callable[[object], Awaitable] | None = None,
                        clock=None) -> object:
    """Start the firmware and the app; returns the automation's result (None without one)."""
    settings = parse_screen(config.screen, config.source.name if config.source else "kiosk.toml")
    check_fonts()
    dev = settings.dev_panel == "auto" and all_simulated(config.devices)
    kivy_setup.configure_kivy(settings, extra_width=DEV_PANEL_WIDTH if dev else 0)  # before any window exists
    from screens.bridge import Bridge
    from screens.kiosk_app import KioskApp

    parts = assemble(config, clock=clock)
    supervision = Supervision(parts.kiosk)  # systemd: READY=1, STATUS=, the watchdog (nothing outside systemd)
    await parts.kiosk.start()
    control = None
    if dev and config.control_socket is not None and automation is None:
        from firmware.headless import control_server
        control = control_server(parts.kiosk, config.control_socket)
        await control.start()
    app = KioskApp(Bridge(parts.kiosk, parts.maintenance, dev_enabled=dev), settings)
    app.parts, app.supervision = parts, supervision
    frame_clock = _beat_with_the_frame_clock(supervision.ui_pulse())
    ready = asyncio.ensure_future(supervision.ready())  # after recovery, the first readiness turn, a first frame
    result = None
    try:
        if automation is None:
            await app.async_run(async_lib="asyncio")
        else:
            async def drive():
                nonlocal result
                while app.root is None or not app.shown_at:
                    await asyncio.sleep(0.02)
                try:
                    result = await automation(app)
                finally:
                    app.stop()
            runner = asyncio.ensure_future(drive())
            await app.async_run(async_lib="asyncio")
            await runner
    finally:
        frame_clock.cancel()
        ready.cancel()
        await supervision.stop()
        if control is not None:
            await control.stop()
        await parts.close()
    return result


def _beat_with_the_frame_clock(pulse):
    """The watchdog's UI pulse beats from Kivy's Clock, which runs only while frames are made: a frozen screen
    stops it, and with it the watchdog's pings (firmware/watchdog.py)."""
    from kivy.clock import Clock

    return Clock.schedule_interval(lambda dt: pulse.beat(), 0.5)
