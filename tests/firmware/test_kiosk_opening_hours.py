"""The kiosk's side of the opening hours: closed or open by the server's answer, turning on its own clock."""
from __future__ import annotations

from firmware.opening_hours import OpeningHours


def test_unknown_hours_never_close_the_kiosk():
    hours = OpeningHours()
    hours.update(None, 0.0)
    hours.update({"open": "yes"}, 0.0)
    assert hours.closed(0.0) is False


def test_closed_until_the_opening_then_open_without_asking_again():
    hours = OpeningHours()
    hours.update({"open": False, "opens_in_s": 90, "opens_at": "2026-05-06T06:30+09:00"}, 100.0)
    assert hours.closed(100.0) and hours.closed(189.0) and hours.opens_at == "06:30"
    assert not hours.closed(190.0)


def test_open_until_the_end_of_service_then_closed():
    hours = OpeningHours()
    hours.update({"open": True, "closes_in_s": 60}, 0.0)
    assert not hours.closed(59.0) and hours.closed(60.0)
