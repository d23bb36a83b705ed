"""Conformance: lights, buzzer and beacon do what they are told; the door and staff-call button report."""
from __future__ import annotations

from hal.signals.contract import (
    BuzzerPattern, DoorClosed, DoorOpened, GuideLight, Indicators, LightPattern, StaffCallPressed,
)

from .harness import SignalsHarness, exercise


def test_the_indicators_fulfil_the_protocol_and_start_dark(signals_harness):
    async def body(h: SignalsHarness):
        s = h.indicators
        assert isinstance(s, Indicators)
        assert all(s.light(light) is LightPattern.OFF for light in GuideLight)
        assert s.buzzer() is BuzzerPattern.SILENT and s.beacon() is False and s.door_closed()
    exercise(signals_harness, body)


def test_a_guide_light_pattern_is_shown_and_recorded_in_order(signals_harness):
    async def body(h: SignalsHarness):
        s = h.indicators
        s.set_light(GuideLight.CARD_READER, LightPattern.PULSE)
        s.set_light(GuideLight.CASH, LightPattern.ON)
        s.set_light(GuideLight.CARD_READER, LightPattern.OFF)
        assert s.light(GuideLight.CARD_READER) is LightPattern.OFF
        assert s.light(GuideLight.CASH) is LightPattern.ON
        assert h.observed(GuideLight.CARD_READER) == [LightPattern.PULSE, LightPattern.OFF]
        assert h.observed(GuideLight.OUTLET) == []
    exercise(signals_harness, body)


def test_a_repeating_buzzer_pattern_runs_until_replaced(signals_harness):
    async def body(h: SignalsHarness):
        s = h.indicators
        s.buzz(BuzzerPattern.ALARM)
        await h.wait(30)
        assert s.buzzer() is BuzzerPattern.ALARM
        s.buzz(BuzzerPattern.SILENT)
        assert s.buzzer() is BuzzerPattern.SILENT
        assert h.observed("buzzer") == [BuzzerPattern.ALARM, BuzzerPattern.SILENT]
    exercise(signals_harness, body)


def test_a_one_shot_tone_ends_by_itself(signals_harness):
    async def body(h: SignalsHarness):
        s = h.indicators
        s.buzz(BuzzerPattern.CONFIRM)
        s.buzz(BuzzerPattern.CONFIRM)
        await h.wait(2)
        assert s.buzzer() is BuzzerPattern.SILENT
        assert h.observed("buzzer") == [BuzzerPattern.CONFIRM, BuzzerPattern.CONFIRM]  # two key presses, two beeps
    exercise(signals_harness, body)


def test_the_beacon_turns_on_and_off(signals_harness):
    async def body(h: SignalsHarness):
        s = h.indicators
        s.set_beacon(True)
        assert s.beacon() is True
        s.set_beacon(False)
        assert s.beacon() is False
        assert h.observed("beacon") == [True, False]
    exercise(signals_harness, body)


def test_opening_and_closing_the_door_is_reported(signals_harness):
    async def body(h: SignalsHarness):
        await h.open_door()
        await h.settle()
        assert not h.indicators.door_closed()
        await h.close_door()
        await h.settle()
        assert h.indicators.door_closed()
        kinds = [type(e) for e in h.sink.events if isinstance(e, (DoorOpened, DoorClosed))]
        assert kinds == [DoorOpened, DoorClosed]
    exercise(signals_harness, body)


def test_the_staff_call_button_is_reported_each_time(signals_harness):
    async def body(h: SignalsHarness):
        await h.press_staff_call()
        await h.press_staff_call()
        await h.settle()
        assert len(h.sink.of(StaffCallPressed)) == 2
    exercise(signals_harness, body)
