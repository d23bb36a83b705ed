"""The ``kiosk`` command's firmware side.

    kiosk [--config FILE]                      the touchscreen app (screens/, Kivy)
    kiosk --headless [--config FILE]           the firmware without a screen, driven by `kiosk-sim`
    kiosk --headless --scenario FILE           run a scenario, print where the printed pages are, exit

The configuration defaults to ``$KIOSK_CONFIG``, else ``/etc/kiosk/kiosk.toml``.  The console script is
:func:`screens.launcher.main` (screens may use firmware, not the other way round); it hands the screen to the
touchscreen app and everything else to :func:`main` here.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from hal.factory import DeviceConfigError
from hal.simcontrol import ControlServer
from firmware.assembly import assemble
from firmware.config import ConfigError, load_config
from firmware.headless import ScenarioError, all_commands, load_scenario, run_scenario
from firmware.supervision import Supervision
from firmware import testhooks


def main(argv: list[str] | None = None, run_screens=None) -> int:
    """``run_screens(config) -> int`` runs the touchscreen app; without it only --headless is possible."""
    parser = argparse.ArgumentParser(prog="kiosk", description="Self-service certificate kiosk")
    parser.add_argument("--config", default=os.environ.get("KIOSK_CONFIG", "/etc/kiosk/kiosk.toml"))
    parser.add_argument("--headless", action="store_true", help="run without the touchscreen app")
    parser.add_argument("--scenario", help="with --headless: run this scenario file, then exit")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
        if not args.headless:
            if run_screens is None:
                print("kiosk: the touchscreen app is not part of this build; run `kiosk --headless`",
                      file=sys.stderr)
                return 2
            return run_screens(config)
        return asyncio.run(_run_headless(config, args.scenario))
    except (ConfigError, DeviceConfigError, ScenarioError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2


async def _run_headless(config, scenario: str | None) -> int:
    parts = assemble(config)
    kiosk = parts.kiosk
    steps = load_scenario(scenario, set(all_commands(kiosk))) if scenario else None
    supervision = Supervision(kiosk)  # systemd: READY=1, STATUS=, the watchdog (nothing outside systemd)
    await kiosk.start()
    control = None
    if config.control_socket is not None:
        config.control_socket.parent.mkdir(parents=True, exist_ok=True)
        commands = all_commands(kiosk)
        if testhooks.enabled():
            commands.update(testhooks.hook_commands(kiosk))  # TEST ONLY (firmware/testhooks.py)
        control = ControlServer(config.control_socket, commands)
        await control.start()
    await supervision.ready()
    try:
        if steps is not None:
            try:
                await run_scenario(kiosk, steps, echo=print)
            except ScenarioError as exc:
                print(f"kiosk: scenario failed: {exc}", file=sys.stderr)
                return 1
            await kiosk.idle()
            _print_pages(parts.devices.printer)
            return 0
        print(f"kiosk {config.kiosk_id} running headless; drive it with kiosk-sim "
              f"(socket {config.control_socket}). Ctrl-C stops it.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        await supervision.stop()
        if control is not None:
            await control.stop()
        await parts.close()


def _print_pages(printer) -> None:
    pages = [p for p in getattr(printer, "pages", []) if getattr(p, "path", None)]
    if not pages:
        print("no page was printed")
    for page in pages:
        print(f"printed page: {Path(page.path).resolve()}")


if __name__ == "__main__":
    sys.exit(main())
