"""The GPIO signals driver on gpiozero's mock PWM pins: pattern timings read from the pins' own histories."""
from __future__ import annotations

import asyncio
import time

import pytest
from gpiozero.pins.mock import MockFactory
from gpiozero.tones import Tone

from hal.factory import DeviceConfigError, build_device
from hal.signals.contract import BuzzerPattern, DoorClosed, DoorOpened, GuideLight, LightPattern
from hal.signals.gpio import PULSE_HIGH, PULSE_LOW, GpioIndicators
from tests.contracts.gpio_harness import PINS, ToneRecordingPin
from tests.contracts.harness import RecordingSink


def run_with(body, **options):
    async def main():
        factory = MockFactory(pin_class=ToneRecordingPin)
        signals = GpioIndicators("signals", **{**PINS, **options}, bounce_time=None, pin_factory=factory)
        sink = RecordingSink()
        await signals.start(sink)
        try:
            await body(signals, factory, sink)
        finally:
            await signals.stop()
            factory.reset()
    asyncio.run(main())


def tone_steps(pin, since: float) -> list[tuple[str | None, float]]:
    """(note or None, seconds after ``since``) for every frequency the buzzer pin was set to."""
    def note(hertz):
        return None if hertz is None else Tone(frequency=hertz).note
    return [(note(hz), t - since) for t, hz in pin.tones if t >= since]


def test_confirm_is_one_short_tone_and_attention_two_tones_with_a_rest():
    async def body(s, factory, sink):
        pin = factory.pin(PINS["buzzer"])
        t0 = time.monotonic()
        s.buzz(BuzzerPattern.CONFIRM)
        await asyncio.sleep(0.3)
        (first, start), (stop, end) = tone_steps(pin, t0)
        assert (first, stop) == ("C6", None) and 0.09 <= end - start <= 0.25
        assert s.buzzer() is BuzzerPattern.SILENT
        t1 = time.monotonic()
        s.buzz(BuzzerPattern.ATTENTION)
        assert s.buzzer() is BuzzerPattern.ATTENTION
        await asyncio.sleep(0.75)
        steps = tone_steps(pin, t1)
        assert [n for n, _ in steps] == ["E5", None, "A5", None]
        times = [t for _, t in steps]
        assert times[1] - times[0] == pytest.approx(0.2, abs=0.1)
        assert times[2] - times[1] == pytest.approx(0.1, abs=0.1)
        assert times[3] - times[2] == pytest.approx(0.2, abs=0.1)
        assert s.buzzer() is BuzzerPattern.SILENT
    run_with(body)


def test_the_alarm_alternates_two_tones_every_half_second_until_silenced():
    async def body(s, factory, sink):
        pin = factory.pin(PINS["buzzer"])
        t0 = time.monotonic()
        s.buzz(BuzzerPattern.ALARM)
        await asyncio.sleep(1.15)
        s.buzz(BuzzerPattern.SILENT)
        steps = tone_steps(pin, t0)
        notes = [n for n, _ in steps]
        assert notes[:3] == ["B5", "F5", "B5"] and notes[-1] is None
        assert [t for _, t in steps[:3]] == pytest.approx([0.0, 0.5, 1.0], abs=0.12)
        assert pin.frequency is None and pin.state == 0
    run_with(body)


def test_a_new_pattern_replaces_the_one_sounding_at_once():
    async def body(s, factory, sink):
        pin = factory.pin(PINS["buzzer"])
        s.buzz(BuzzerPattern.REMINDER)
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        s.buzz(BuzzerPattern.CONFIRM)
        await asyncio.sleep(0.05)
        notes = [n for n, t in tone_steps(pin, t0 - 0.001)]
        assert notes[:2] == [None, "C6"]  # the reminder's tone stopped, then the key beep
    run_with(body)


def test_a_pulse_is_a_slow_fade_that_never_flashes():
    async def body(s, factory, sink):
        pin = factory.pin(PINS["lights"][GuideLight.CARD_READER])
        pin.clear_states()
        s.set_light(GuideLight.CARD_READER, LightPattern.PULSE)
        await asyncio.sleep(1.2)
        s.set_light(GuideLight.CARD_READER, LightPattern.ON)
        values = [st.state for st in pin.states[1:-1]]
        assert values and all(PULSE_LOW - 1e-9 <= v <= PULSE_HIGH + 1e-9 for v in values)
        assert max(values) > 0.85 and min(values) < 0.15  # it does swing
        steps = [abs(b - a) for a, b in zip(values, values[1:])]
        assert max(steps) < 0.15  # a fade, not a flash
        peaks = [i for i in range(1, len(values) - 1) if values[i - 1] < values[i] >= values[i + 1]]
        assert len(peaks) == 1  # one cycle a second at most
        assert pin.state == 1.0
    run_with(body)


def test_opening_the_door_takes_effect_and_reports_both_ways():
    async def body(s, factory, sink):
        door = factory.pin(PINS["door"])
        door.drive_low()
        await asyncio.sleep(0.05)
        assert s.door_closed()
        sink.clear()
        door.drive_high()
        await asyncio.sleep(0.05)
        assert not s.door_closed() and [type(e) for e in sink.events] == [DoorOpened]
        door.drive_low()
        await asyncio.sleep(0.05)
        assert s.door_closed() and [type(e) for e in sink.events] == [DoorOpened, DoorClosed]
    run_with(body)


def test_a_switch_wired_open_when_shut_reads_the_other_way():
    async def body(s, factory, sink):
        door = factory.pin(PINS["door"])
        door.drive_high()
        await asyncio.sleep(0.05)
        assert s.door_closed()
        door.drive_low()
        await asyncio.sleep(0.05)
        assert not s.door_closed() and sink.of(DoorOpened)
    run_with(body, door_switch="open_when_shut")


@pytest.mark.parametrize("table, message", [
    ({"lights": {"card_reader": 5, "outlet": 5}}, "pin 5 is used twice: for the card_reader light and for the "
                                                  "outlet light"),
    ({"buzzer": 12, "beacon": 12}, "pin 12 is used twice: for the buzzer and for the beacon"),
    ({"door": 40}, "the door switch must be a BCM pin number 0 … 27, got 40"),
    ({"lights": {"front": 5}}, "no guide light 'front'"),
    ({"pulse_period": 0.3}, "pulse_period must be at least 1 s"),
    ({"door_switch": "sideways"}, "door_switch must be closed_when_shut or open_when_shut"),
])
def test_bad_pins_are_a_clear_configuration_error(table, message):
    with pytest.raises(DeviceConfigError) as error:
        build_device("signals", {"driver": "gpio", **table})
    assert str(error.value).startswith("devices.signals: ") and message in str(error.value)


def test_the_factory_builds_the_gpio_driver_from_its_table():
    signals = build_device("signals", {"driver": "gpio", "lights": {"card_reader": 5, "outlet": 6}, "buzzer": 12,
                                       "beacon": 16, "door": 20})
    assert isinstance(signals, GpioIndicators)
    assert signals.pins == {"the card_reader light": 5, "the outlet light": 6, "the buzzer": 12, "the beacon": 16,
                            "the door switch": 20}
