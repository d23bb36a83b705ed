"""The signals contract: guide lights, buzzer, staff beacon and the door/tamper switch.

Patterns are named by what they mean, not by timings; the driver owns the timings.  There is no fast blinking:
a slow pulse is the most a light does (people with photosensitive epilepsy use the kiosk too).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hal.events import DeviceEvent, EventSink


class GuideLight(enum.Enum):
    CARD_READER = "card_reader"
    CASH = "cash"  # note and coin slots
    OUTLET = "outlet"  # certificate outlet
    CHANGE = "change"  # change tray


class LightPattern(enum.Enum):
    OFF = "off"
    ON = "on"
    PULSE = "pulse"  # a slow fade in and out (about 1 Hz) to say "here"


class BuzzerPattern(enum.Enum):
    SILENT = "silent"
    CONFIRM = "confirm"  # one short tone: key accepted
    ATTENTION = "attention"  # two tones: look at the screen
    REMINDER = "reminder"  # repeated: something was left behind
    ALARM = "alarm"  # continuous: staff needed


@dataclass(frozen=True)
class DoorOpened(DeviceEvent):
    pass


@dataclass(frozen=True)
class DoorClosed(DeviceEvent):
    pass


@dataclass(frozen=True)
class StaffCallPressed(DeviceEvent):
    pass


@runtime_checkable
class Indicators(Protocol):
    name: str

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    def set_light(self, light: GuideLight, pattern: LightPattern) -> None: ...

    def light(self, light: GuideLight) -> LightPattern: ...

    def buzz(self, pattern: BuzzerPattern) -> None:
        """Start a pattern (SILENT stops it).  Repeating patterns run until replaced."""

    def buzzer(self) -> BuzzerPattern: ...

    def set_beacon(self, on: bool) -> None:
        """The staff-call beacon on top of the kiosk."""

    def beacon(self) -> bool: ...

    def door_closed(self) -> bool: ...
