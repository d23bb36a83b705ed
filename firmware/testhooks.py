"""TEST ONLY: faults a test can cause in a running kiosk process, through the dev control socket.

They exist so that the watchdog can be shown to work end to end (tests/appliance): a controller loop that stops
turning while the process and its event loop stay alive — the hang a real bug or a dead device call would cause.

They are served only when ``KIOSK_TEST_HOOKS=1`` is in the environment *and* the configuration names a dev control
socket.  ``systemd/kiosk.service`` removes the variable (``UnsetEnvironment=KIOSK_TEST_HOOKS``) and a provisioned
kiosk has no control socket, so a real unit never offers them.
"""
from __future__ import annotations

import asyncio
import os
from typing import Awaitable, Callable

ENV = "KIOSK_TEST_HOOKS"


def enabled(environ=None) -> bool:
    return (os.environ if environ is None else environ).get(ENV) == "1"


def hook_commands(kiosk) -> dict[str, Callable[[dict], Awaitable[dict]]]:
    """``test_hang_controller``: the controller's next turn waits forever (the event loop runs on)."""
    original = kiosk._handle
    hung = asyncio.Event()

    async def handle(item):
        if hung.is_set():
            await asyncio.Event().wait()  # never set: this turn never ends, the heartbeat stops moving
        return await original(item)

    kiosk._handle = handle

    async def hang(args: dict) -> dict:
        hung.set()
        return {"hung": True}

    return {"test_hang_controller": hang}
