"""The GPIO signals driver on gpiozero's mock pins, watched from the pins' side.

What a light, the beacon or the buzzer "was seen to take" is read back from the pins' own history, not from the
driver: a light pin at 1.0 is ON, at 0.0 OFF, anywhere strictly between is PULSE (the driver's pulse never
reaches either end); a buzzer pattern is recognised by its lead tone on the buzzer pin (the pin records every
frequency it is set to, with the time).
"""
from __future__ import annotations

import asyncio
import time

from gpiozero.pins.mock import MockFactory, MockPWMPin
from gpiozero.tones import Tone

from hal.signals.contract import BuzzerPattern, GuideLight, LightPattern
from hal.signals.gpio import BUZZER_STEPS, LEAD_TONES, REPEATING, GpioIndicators

from .harness import RecordingSink

PINS = dict(lights={GuideLight.CARD_READER: 5, GuideLight.CASH: 6, GuideLight.OUTLET: 13, GuideLight.CHANGE: 19},
            buzzer=12, beacon=16, door=20, staff_call=21)


class ToneRecordingPin(MockPWMPin):
    """A mock PWM pin that also remembers every frequency set on it: ``tones`` = [(monotonic time, Hz or None)]."""

    def __init__(self, factory, info):
        self.tones: list[tuple[float, float | None]] = []
        super().__init__(factory, info)

    def _set_frequency(self, value):
        self.tones.append((time.monotonic(), value))
        super()._set_frequency(value)


def light_seen(pin) -> LightPattern:
    state = pin.state
    return LightPattern.OFF if state == 0 else LightPattern.ON if state == 1 else LightPattern.PULSE


def light_history(pin) -> list[LightPattern]:
    def seen(value: float) -> LightPattern:
        return LightPattern.OFF if value == 0 else LightPattern.ON if value == 1 else LightPattern.PULSE
    out, previous = [], seen(pin.states[0].state)
    for change in pin.states[1:]:
        now = seen(change.state)
        if now is not previous:
            out.append(now)
        previous = now
    return out


def note_of(hertz: float) -> str | None:
    for note in LEAD_TONES:
        if note is not None and abs(Tone(note).frequency - hertz) < 0.5:
            return note
    return None


def buzzer_history(tones: list[tuple[float, float | None]], now: float) -> list[BuzzerPattern]:
    """The patterns heard, from the buzzer pin's frequency history (see the module docstring)."""
    rest_in = {p: max((s for n, s in BUZZER_STEPS[p] if n is None), default=0.0) for p in REPEATING}
    out: list[BuzzerPattern] = []
    current = None
    for i, (t, hertz) in enumerate(tones):
        following = tones[i + 1][0] if i + 1 < len(tones) else now
        if hertz is None:
            last = i == len(tones) - 1
            if current is not None and (following - t > rest_in[current] + 0.15 or (last and not rest_in[current])):
                out.append(BuzzerPattern.SILENT)
                current = None
            continue
        pattern = LEAD_TONES.get(note_of(hertz))
        if pattern is None or (pattern is current):
            continue  # a later step of a pattern, or a repeating pattern going round again
        out.append(pattern)
        current = pattern if pattern in REPEATING else None
    return out


class GpioSignalsHarness:
    def __init__(self):
        self.sink = RecordingSink()
        self.factory = MockFactory(pin_class=ToneRecordingPin)
        self.indicators = GpioIndicators("signals", **PINS, bounce_time=None, pin_factory=self.factory)

    def pin(self, number: int):
        return self.factory.pin(number)

    async def start(self) -> None:
        await self.indicators.start(self.sink)
        self.pin(PINS["door"]).drive_low()  # the door is shut: its switch is closed
        await self.settle()
        self.sink.clear()

    async def stop(self) -> None:
        await self.indicators.stop()
        self.factory.reset()

    async def settle(self) -> None:
        await asyncio.sleep(0.05)  # gpiozero calls back on its own thread

    def observed(self, what) -> list:
        if what == "buzzer":
            return buzzer_history(self.pin(PINS["buzzer"]).tones, time.monotonic())
        if what == "beacon":
            return [p is LightPattern.ON for p in light_history(self.pin(PINS["beacon"]))]
        return light_history(self.pin(PINS["lights"][GuideLight(what)]))

    async def open_door(self) -> None:
        self.pin(PINS["door"]).drive_high()

    async def close_door(self) -> None:
        self.pin(PINS["door"]).drive_low()

    async def press_staff_call(self) -> None:
        pin = self.pin(PINS["staff_call"])
        pin.drive_low()
        await asyncio.sleep(0.01)
        pin.drive_high()
        await asyncio.sleep(0.01)

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.3))  # real time; every contract expectation shows within 0.3 s
