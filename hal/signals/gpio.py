"""Guide lights, tonal buzzer, staff beacon, door/tamper switch and staff-call button on the Pi's GPIO (gpiozero).

::

    [devices.signals]
    driver = "gpio"
    lights = { card_reader = 5, outlet = 6 }   # PWM LEDs, BCM pin numbers; unwired lights are remembered only
    buzzer = 12                                # a passive piezo driven by PWM (TonalBuzzer)
    beacon = 16                                # the staff-call beacon (on/off)
    door = 20                                  # the door/tamper switch, closed while the door is shut
    staff_call = 21                            # optional: the 係員呼出 button
    door_switch = "closed_when_shut"           # or "open_when_shut" (a normally-closed switch wired the other way)

Every pin is checked: a BCM number 0 … 27, and no pin used twice (a clear configuration error naming both uses).

Lights: ON and OFF are steady; PULSE is a slow sine fade between 10 % and 90 % brightness, one cycle every
``pulse_period`` seconds (at least 1 s: no fast blinking, for residents with photosensitive epilepsy).  The pulse
never reaches full dark or full bright, so anyone watching the pin can tell a pulse from ON and OFF.

Buzzer: each pattern is a list of (tone, seconds) steps, :data:`BUZZER_STEPS`, played by one worker thread and
replaced at once by the next :meth:`GpioIndicators.buzz`.  Every pattern opens with its own lead tone, so a
technician (or a test watching the pin) can tell them apart by ear.

Door: the switch is a gpiozero ``Button``; opening the door emits :class:`DoorOpened` (the kiosk goes out of
service), closing it :class:`DoorClosed`.  gpiozero calls back on its own thread; the events are handed to the
event loop that started the device.
"""
from __future__ import annotations

import asyncio
import logging
import math
import threading
from typing import Any, Mapping

from hal.events import DeviceEvent, DeviceUnavailable, EventSink, discard
from hal.factory import Options, register_driver
from hal.signals.contract import BuzzerPattern, DoorClosed, DoorOpened, GuideLight, LightPattern, StaffCallPressed

log = logging.getLogger(__name__)

BUZZER_STEPS: dict[BuzzerPattern, tuple[tuple[str | None, float], ...]] = {
    BuzzerPattern.CONFIRM: (("C6", 0.1),),
    BuzzerPattern.ATTENTION: (("E5", 0.2), (None, 0.1), ("A5", 0.2)),
    BuzzerPattern.REMINDER: (("G5", 0.3), (None, 1.7)),
    BuzzerPattern.ALARM: (("B5", 0.5), ("F5", 0.5)),
}
"""The buzzer patterns: (note, seconds); None is a rest.  REMINDER and ALARM repeat until replaced."""
REPEATING = frozenset({BuzzerPattern.REMINDER, BuzzerPattern.ALARM})
LEAD_TONES = {steps[0][0]: pattern for pattern, steps in BUZZER_STEPS.items()}

PULSE_LOW, PULSE_HIGH = 0.1, 0.9
PULSE_STEPS_PER_SECOND = 25
MIN_PULSE_PERIOD = 1.0
MAX_BCM_PIN = 27


class PinConfigError(ValueError):
    """The pins are wrong: not a BCM number, or one pin given two jobs."""


def check_pins(uses: Mapping[str, Any]) -> dict[str, int]:
    """``{use: pin}`` checked: every pin a BCM number 0 … 27, none used twice.  ``None`` means not wired."""
    seen: dict[int, str] = {}
    checked: dict[str, int] = {}
    for use, pin in uses.items():
        if pin is None:
            continue
        if isinstance(pin, bool) or not isinstance(pin, int) or not 0 <= pin <= MAX_BCM_PIN:
            raise PinConfigError(f"{use} must be a BCM pin number 0 … {MAX_BCM_PIN}, got {pin!r}")
        if pin in seen:
            raise PinConfigError(f"pin {pin} is used twice: for {seen[pin]} and for {use}")
        seen[pin] = use
        checked[use] = pin
    return checked


class _Pulse:
    """A slow sine fade on a PWM LED, in its own thread, stopped at once by :meth:`stop`."""

    def __init__(self, led, period: float):
        self.led, self.period = led, period
        self._stop = threading.Event()
        led.value = PULSE_LOW  # the first step is visible at once
        self._thread = threading.Thread(target=self._run, daemon=True, name="guide-light-pulse")
        self._thread.start()

    def _run(self) -> None:
        steps = max(4, int(self.period * PULSE_STEPS_PER_SECOND))
        i = 1
        while not self._stop.wait(self.period / steps):
            phase = (1 - math.cos(2 * math.pi * i / steps)) / 2  # 0 → 1 → 0 over one period
            self.led.value = PULSE_LOW + (PULSE_HIGH - PULSE_LOW) * phase
            i = i % steps + 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class GpioIndicators:
    """The :class:`hal.signals.contract.Indicators` contract on gpiozero devices."""

    def __init__(self, name: str = "signals", *, lights: Mapping[GuideLight | str, int] | None = None,
                 buzzer: int | None = None, beacon: int | None = None, door: int | None = None,
                 staff_call: int | None = None, door_switch: str = "closed_when_shut", pulse_period: float = 1.0,
                 bounce_time: float | None = 0.05, buzzer_mid_tone: str = "A5", pin_factory=None):
        lights = {GuideLight(k): v for k, v in (lights or {}).items()}
        pins = check_pins({**{f"the {light.value} light": p for light, p in lights.items()},
                           "the buzzer": buzzer, "the beacon": beacon, "the door switch": door,
                           "the staff-call button": staff_call})
        if door_switch not in ("closed_when_shut", "open_when_shut"):
            raise ValueError(f"door_switch must be closed_when_shut or open_when_shut, got {door_switch!r}")
        if pulse_period < MIN_PULSE_PERIOD:
            raise ValueError(f"pulse_period must be at least {MIN_PULSE_PERIOD:g} s (no fast blinking), "
                             f"got {pulse_period!r}")
        self.name, self.pins, self.pulse_period = name, pins, pulse_period
        self._door_closed_when_pressed = door_switch == "closed_when_shut"
        self._spec = dict(lights=lights, buzzer=buzzer, beacon=beacon, door=door, staff_call=staff_call,
                          bounce_time=bounce_time, mid_tone=buzzer_mid_tone, pin_factory=pin_factory)
        self._patterns = {light: LightPattern.OFF for light in GuideLight}
        self._leds: dict[GuideLight, Any] = {}
        self._pulses: dict[GuideLight, _Pulse] = {}
        self._buzzer = self._beacon = self._door = self._staff = None
        self._buzzer_pattern = BuzzerPattern.SILENT
        self._buzzer_stop = threading.Event()
        self._buzzer_thread: threading.Thread | None = None
        self._buzzer_lock = threading.Lock()
        self._beacon_on = False
        self._sink: EventSink = discard
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"GpioIndicators({self.name!r}, pins={self.pins})"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        from gpiozero import LED, Button, PWMLED, TonalBuzzer
        from gpiozero.tones import Tone
        s = self._spec
        factory = {"pin_factory": s["pin_factory"]}
        try:
            for light, pin in s["lights"].items():
                self._leds[light] = PWMLED(pin, **factory)
            if s["buzzer"] is not None:
                self._buzzer = TonalBuzzer(s["buzzer"], mid_tone=Tone(s["mid_tone"]), octaves=2, **factory)
            if s["beacon"] is not None:
                self._beacon = LED(s["beacon"], **factory)
            if s["door"] is not None:
                # hold_time: nothing acts on a held switch; a short one keeps close() from waiting a second
                self._door = Button(s["door"], pull_up=True, bounce_time=s["bounce_time"], hold_time=0.05,
                                    **factory)
            if s["staff_call"] is not None:
                self._staff = Button(s["staff_call"], pull_up=True, bounce_time=s["bounce_time"], hold_time=0.05,
                                     **factory)
        except Exception as e:
            self._close_devices()
            raise DeviceUnavailable(self.name, f"GPIO pins {self.pins} could not be set up: {e}") from None
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        if self._door is not None:
            opened, closed = (self._door_changed(False), self._door_changed(True))
            self._door.when_released, self._door.when_pressed = (opened, closed) if self._door_closed_when_pressed \
                else (closed, opened)
        if self._staff is not None:
            self._staff.when_pressed = lambda: self._emit(StaffCallPressed(self.name))

    async def stop(self) -> None:
        self._sink = discard
        self._stop_buzzer()
        self._close_devices()

    def set_light(self, light: GuideLight, pattern: LightPattern) -> None:
        light, pattern = GuideLight(light), LightPattern(pattern)
        if self._patterns[light] is pattern:
            return
        self._patterns[light] = pattern
        led = self._leds.get(light)
        if led is None:
            return
        pulse = self._pulses.pop(light, None)
        if pulse is not None:
            pulse.stop()
        if pattern is LightPattern.ON:
            led.value = 1.0
        elif pattern is LightPattern.OFF:
            led.value = 0.0
        else:
            self._pulses[light] = _Pulse(led, self.pulse_period)

    def light(self, light: GuideLight) -> LightPattern:
        return self._patterns[GuideLight(light)]

    def buzz(self, pattern: BuzzerPattern) -> None:
        pattern = BuzzerPattern(pattern)
        self._stop_buzzer()
        with self._buzzer_lock:
            self._buzzer_pattern = pattern
        if pattern is BuzzerPattern.SILENT or self._buzzer is None:
            return
        self._buzzer_stop = threading.Event()
        self._buzzer_thread = threading.Thread(target=self._play, args=(pattern, self._buzzer_stop), daemon=True,
                                               name=f"buzzer-{pattern.value}")
        self._buzzer_thread.start()

    def buzzer(self) -> BuzzerPattern:
        with self._buzzer_lock:
            return self._buzzer_pattern

    def set_beacon(self, on: bool) -> None:
        self._beacon_on = bool(on)
        if self._beacon is not None:
            self._beacon.value = self._beacon_on

    def beacon(self) -> bool:
        return self._beacon_on

    def door_closed(self) -> bool:
        if self._door is None:
            return True  # no switch wired: nothing says the door is open
        return self._door.is_pressed == self._door_closed_when_pressed

    # -- inside -------------------------------------------------------------------------------------------------

    def _play(self, pattern: BuzzerPattern, stop: threading.Event) -> None:
        steps = BUZZER_STEPS[pattern]
        try:
            while True:
                for note, seconds in steps:
                    if stop.is_set():
                        return
                    if note is None:
                        self._buzzer.stop()
                    else:
                        self._buzzer.play(note)
                    if stop.wait(seconds):
                        return
                if pattern not in REPEATING:
                    return
        finally:
            self._buzzer.stop()
            with self._buzzer_lock:
                if not stop.is_set() and self._buzzer_pattern is pattern:
                    self._buzzer_pattern = BuzzerPattern.SILENT  # a one-shot tone has ended

    def _stop_buzzer(self) -> None:
        self._buzzer_stop.set()
        thread, self._buzzer_thread = self._buzzer_thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _door_changed(self, closed: bool):
        return lambda: self._emit(DoorClosed(self.name) if closed else DoorOpened(self.name))

    def _emit(self, event: DeviceEvent) -> None:
        """Called on gpiozero's thread: deliver the event on the device's event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._sink(event), loop)
        future.add_done_callback(lambda f: not f.cancelled() and f.exception() and log.error(
            "%s: event %s was not taken: %s", self.name, type(event).__name__, f.exception()))

    def _close_devices(self) -> None:
        for pulse in self._pulses.values():
            pulse.stop()
        self._pulses.clear()
        for device in [*self._leds.values(), self._buzzer, self._beacon, self._door, self._staff]:
            if device is not None:
                device.close()
        self._leds.clear()
        self._buzzer = self._beacon = self._door = self._staff = None


@register_driver("signals", "gpio")
def build_gpio_indicators(o: Options) -> GpioIndicators:
    lights = o.raw("lights", {})
    if not isinstance(lights, Mapping):
        raise o.fail(f"lights must be a table of light → BCM pin, e.g. {{ card_reader = 5 }}, got {lights!r}")
    known = {light.value for light in GuideLight}
    unknown = sorted(set(lights) - known)
    if unknown:
        raise o.fail(f"lights: no guide light {', '.join(map(repr, unknown))} (lights are {', '.join(sorted(known))})")
    try:
        return GpioIndicators(
            lights=dict(lights), buzzer=o.raw("buzzer"), beacon=o.raw("beacon"), door=o.raw("door"),
            staff_call=o.raw("staff_call"), door_switch=o.raw("door_switch", "closed_when_shut"),
            pulse_period=o.number("pulse_period", 1.0), bounce_time=o.optional_number("bounce_time", 0.05),
            buzzer_mid_tone=o.raw("buzzer_mid_tone", "A5"))
    except ValueError as e:
        raise o.fail(str(e)) from None
