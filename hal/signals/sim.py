"""Simulated guide lights, buzzer, staff-call beacon, door switch and staff-call button.

Every change is written down with the time it happened, so a test can check a pattern rather than a last value::

    signals = SimIndicators()
    await signals.start(sink)
    signals.set_light(GuideLight.CARD_READER, LightPattern.PULSE)
    signals.buzz(BuzzerPattern.ATTENTION)
    signals.changes        # [SignalChange(t0, GuideLight.CARD_READER, LightPattern.PULSE),
                           #  SignalChange(t1, "buzzer", BuzzerPattern.ATTENTION)]
    signals.history("buzzer")                     # [BuzzerPattern.ATTENTION]
    await signals.open_door()                     # DoorOpened; door_closed() is now False
    await signals.press_staff_call()              # StaffCallPressed

A light or the beacon is recorded when it changes; every :meth:`~SimIndicators.buzz` is recorded, because each one
is heard.  CONFIRM and ATTENTION are one-shot tones: :meth:`~SimIndicators.buzzer` reports them for as long as
they sound (by the clock given), then SILENT.  REMINDER and ALARM repeat until replaced.
"""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

from hal.events import DeviceError, DeviceEvent, EventSink, discard
from hal.signals.contract import (
    BuzzerPattern, DoorClosed, DoorOpened, GuideLight, LightPattern, StaffCallPressed,
)

ONE_SHOT_SECONDS = {BuzzerPattern.CONFIRM: 0.1, BuzzerPattern.ATTENTION: 0.5}
"""How long a one-shot buzzer pattern sounds."""

BUZZER = "buzzer"
BEACON = "beacon"


class SignalChange(NamedTuple):
    """One recorded change: ``what`` is a :class:`GuideLight`, ``"buzzer"`` or ``"beacon"``."""

    time: float
    what: GuideLight | str
    value: LightPattern | BuzzerPattern | bool


class SimIndicators:
    """See the module docstring.  ``clock`` gives the time of each change (default :func:`time.monotonic`)."""

    def __init__(self, name: str = "signals", clock: Callable[[], float] = time.monotonic, door_closed: bool = True):
        self.name = name
        self.clock = clock
        self.changes: list[SignalChange] = []
        self._lights = {light: LightPattern.OFF for light in GuideLight}
        self._buzzer = BuzzerPattern.SILENT
        self._buzzer_since = 0.0
        self._beacon = False
        self._door_closed = door_closed
        self._sink: EventSink = discard
        self._started = False

    def __repr__(self) -> str:
        lit = {light.value: p.value for light, p in self._lights.items() if p is not LightPattern.OFF}
        return f"SimIndicators({self.name!r}, lights={lit}, buzzer={self.buzzer().value}, beacon={self._beacon})"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._started = True

    async def stop(self) -> None:
        self._started = False
        self._sink = discard

    def set_light(self, light: GuideLight, pattern: LightPattern) -> None:
        light, pattern = GuideLight(light), LightPattern(pattern)
        if self._lights[light] is not pattern:
            self._lights[light] = pattern
            self._record(light, pattern)

    def light(self, light: GuideLight) -> LightPattern:
        return self._lights[GuideLight(light)]

    def buzz(self, pattern: BuzzerPattern) -> None:
        pattern = BuzzerPattern(pattern)
        if pattern is BuzzerPattern.SILENT and self.buzzer() is BuzzerPattern.SILENT:
            self._buzzer = pattern
            return
        self._buzzer = pattern
        self._buzzer_since = self.clock()
        self._record(BUZZER, pattern)

    def buzzer(self) -> BuzzerPattern:
        length = ONE_SHOT_SECONDS.get(self._buzzer)
        if length is not None and self.clock() - self._buzzer_since >= length:
            return BuzzerPattern.SILENT
        return self._buzzer

    def set_beacon(self, on: bool) -> None:
        on = bool(on)
        if on is not self._beacon:
            self._beacon = on
            self._record(BEACON, on)

    def beacon(self) -> bool:
        return self._beacon

    def door_closed(self) -> bool:
        return self._door_closed

    # -- what the world sees and does ----------------------------------------------------------------------------

    def history(self, what: GuideLight | str) -> list:
        """The values ``what`` took, in order (a light, ``"buzzer"`` or ``"beacon"``)."""
        return [c.value for c in self.changes if c.what == what]

    def clear_history(self) -> None:
        self.changes.clear()

    async def open_door(self) -> None:
        """Someone opens the kiosk's door (the tamper switch opens)."""
        if self._door_closed:
            self._door_closed = False
            await self._emit(DoorOpened(self.name))

    async def close_door(self) -> None:
        if not self._door_closed:
            self._door_closed = True
            await self._emit(DoorClosed(self.name))

    async def press_staff_call(self) -> None:
        """A resident presses the staff-call (係員呼出) button."""
        await self._emit(StaffCallPressed(self.name))

    def _record(self, what: GuideLight | str, value) -> None:
        self.changes.append(SignalChange(self.clock(), what, value))

    async def _emit(self, event: DeviceEvent) -> None:
        if not self._started:
            raise DeviceError(self.name, "the signals are not started")
        await self._sink(event)
