"""Kiosk-wide opening hours, as the server tells them (``GET /v1/health``'s ``hours``; server/opening.py).

Out of hours the kiosk is out of service with the reason ``out_of_hours``: the screen says so and when it opens,
and a resident's card placed on the reader is not read (out of service, only a staff card is looked at), so no
PIN try can be spent.  The answer is asked for again every ``POLL_S`` and, between answers, runs on the kiosk's own
clock with the relative seconds the server gave (the kiosk's wall clock may be off).  A server that says nothing
about hours (an older one) or cannot be reached leaves the kiosk as it was: other checks see a server that is
down.
"""
from __future__ import annotations

import logging
from datetime import datetime

log = logging.getLogger("kiosk.controller")

POLL_S = 60.0
OUT_OF_HOURS = "out_of_hours"


class OpeningHours:
    def __init__(self) -> None:
        self.known = False
        self._open = True
        self._until: float | None = None  # kiosk clock: open until / closed until
        self.opens_at: str | None = None  # "06:30", local time of day, while closed

    def update(self, answer: object, now: float) -> None:
        """Take the server's ``hours`` (a dict; anything else is ignored)."""
        if not isinstance(answer, dict) or not isinstance(answer.get("open"), bool):
            return
        self.known, self._open = True, answer["open"]
        seconds = answer.get("closes_in_s" if self._open else "opens_in_s")
        self._until = now + seconds if isinstance(seconds, int) and seconds >= 0 else None
        self.opens_at = None
        if not self._open and isinstance(answer.get("opens_at"), str):
            try:
                self.opens_at = datetime.fromisoformat(answer["opens_at"]).strftime("%H:%M")
            except ValueError:
                log.warning("the server's opens_at is not a time")

    def closed(self, now: float) -> bool:
        if not self.known:
            return False
        if self._until is not None and now >= self._until:
            return self._open  # the span has turned since the last answer
        return not self._open
