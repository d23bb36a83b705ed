"""The one door between the screens and the firmware: intents go in, views come out.

Screens never call a device or decide a business rule; they call :meth:`Bridge.send` with an intent, and render
the :class:`~firmware.visit.VisitView` the controller publishes.  Touch hygiene lives here too: an action sent
once is not sent again until the view has moved on, so a double tap on "pay" or "issue" is one intent (the
controller also ignores intents while it is busy, so the guard is double).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from firmware import visit as intents
from firmware.headless import all_commands
from firmware.visit import Intent, VisitView

log = logging.getLogger("kiosk.screens")

REPEATABLE = (intents.CallStaff, intents.SilenceVoice, intents.MoreTime, intents.Speak, intents.VoiceControl)
"""Intents that are harmless to repeat (each is one signal, never money or a document)."""


class Bridge:
    def __init__(self, kiosk, maintenance=None, dev_enabled: bool = False):
        self.kiosk = kiosk
        self.maintenance = maintenance
        self.dev_enabled = dev_enabled
        self.view: VisitView = kiosk.view
        self.sent: list[Intent] = []  # every intent sent (for tests; intents hold no PIN once sent: see EnterPin)
        self._pending: dict[type, int] = {}  # intent kind -> the view generation it was sent in
        self._generation = 0  # how many different views have arrived
        self._listeners: list[Callable[[VisitView], None]] = []
        self._commands = all_commands(kiosk) if dev_enabled else {}
        kiosk.subscribe(self._on_view)

    # ---- views ------------------------------------------------------------------------------------------------

    def listen(self, listener: Callable[[VisitView], None]) -> None:
        self._listeners.append(listener)
        listener(self.view)

    def _on_view(self, view: VisitView) -> None:
        if view == self.view:
            return  # the controller publishes after every tick; nothing changed
        self.view = view
        self._generation += 1
        for listener in self._listeners:
            listener(view)

    def screens_speak(self) -> None:
        """The screens say what they show (:mod:`screens.narration`): the firmware leaves out its fixed prompts."""
        self.kiosk.screens_speak = True

    # ---- intents ----------------------------------------------------------------------------------------------

    def send(self, intent: Intent) -> bool:
        """Send ``intent`` unless the same kind was already sent and the view has not changed since."""
        kind = type(intent)
        if not isinstance(intent, REPEATABLE):
            if self._pending.get(kind) == self._generation:
                return False
            self._pending[kind] = self._generation
        self.sent.append(intents.EnterPin(None) if isinstance(intent, intents.EnterPin)  # no PIN, no phone number
                         else intents.SubmitForm({}) if isinstance(intent, intents.SubmitForm) else intent)  # kept
        self.kiosk.send(intent)
        return True

    # ---- the dev panel (simulated devices only) ----------------------------------------------------------------

    def dev(self, command: str, **args) -> None:
        """Run a simulator command (place a card, insert a coin…) through the firmware's control commands."""
        if not self.dev_enabled:
            raise PermissionError("the dev panel works only with simulated devices")
        action = self._commands[command]

        async def run():
            try:
                await action(args)
            except Exception as exc:  # a refused sim action is shown in the log, never crashes the app
                log.warning("dev panel %s failed: %s", command, exc)

        asyncio.get_event_loop().create_task(run())
