"""The watchdog's pulse: ``WATCHDOG=1`` goes to systemd only while every part of the kiosk shows it is turning.

A process that is alive is not a kiosk that works: an event loop can go on serving sockets while the visit's
controller waits forever, and a Kivy window can stay on the screen, frozen.  So each ping is earned: the
controller's loop finished a turn lately (:meth:`firmware.controller.Kiosk.alive`), every device worker that
polls (the serial validator and coin acceptor) polled lately, and — when the touchscreen app runs — the UI's
frame clock ticked lately.  If any one of them is stale the pings stop, systemd's ``WatchdogSec=`` runs out, it
kills the kiosk (SIGABRT) and starts it again, and start-up recovery settles whatever money the hung visit held.

Pings go out every quarter of the interval (systemd asks for at least every half); a part counts as stale when it
has not moved for half the interval, so a hang stops the pings within half an interval and systemd acts within
one and a half.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from firmware.sdnotify import Notifier

log = logging.getLogger("kiosk.watchdog")


class Pulse:
    """Something that beats: ``beat()`` when it turns, ``fresh(max_age_s)`` to ask whether it did lately."""

    def __init__(self, name: str, now: Callable[[], float] = time.monotonic):
        self.name, self._now = name, now
        self.last = now()
        self.beats = 0

    def beat(self) -> None:
        self.last = self._now()
        self.beats += 1

    def fresh(self, max_age_s: float) -> bool:
        return self._now() - self.last <= max_age_s


class PollerPulse:
    """A device worker's pulse: its poll counter moved within ``max_age_s`` and its task still runs."""

    def __init__(self, name: str, poller, now: Callable[[], float] = time.monotonic):
        self.name, self.poller, self._now = name, poller, now
        self._polls, self._moved_at = poller.polls, now()

    def fresh(self, max_age_s: float) -> bool:
        if self.poller.polls != self._polls:
            self._polls, self._moved_at = self.poller.polls, self._now()
        return self.poller.running and self._now() - self._moved_at <= max_age_s


class ControllerPulse:
    name = "controller"

    def __init__(self, kiosk):
        self.kiosk = kiosk

    def fresh(self, max_age_s: float) -> bool:
        return self.kiosk.alive(max_age_s)


def device_pulses(devices) -> list[PollerPulse]:
    """The pulses of the devices that have a polling worker (simulators have none: they answer in the loop)."""
    return [PollerPulse(getattr(d, "name", type(d).__name__), d.poller)
            for d in devices.all() if getattr(d, "poller", None) is not None]


class Watchdog:
    def __init__(self, notifier: Notifier, interval_s: float, pulses: list | None = None):
        self.notifier, self.interval_s = notifier, interval_s
        self.pulses = list(pulses or [])
        self.pings = 0
        self.stale: list[str] = []

    @property
    def max_age_s(self) -> float:
        return self.interval_s / 2

    def add(self, pulse) -> None:
        self.pulses.append(pulse)

    def check(self) -> bool:
        """Ping if every pulse is fresh; returns whether it pinged."""
        stale = [p.name for p in self.pulses if not p.fresh(self.max_age_s)]
        if stale != self.stale:
            if stale:
                log.error("watchdog pings stopped: %s not turning", ", ".join(stale))
            else:
                log.warning("watchdog pings resumed")
            self.stale = stale
        if stale:
            return False
        self.notifier.watchdog()
        self.pings += 1
        return True

    async def run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # a bug here must show as missing pings, not as a dead task that hides it
                log.exception("watchdog check failed")
            await asyncio.sleep(self.interval_s / 4)
