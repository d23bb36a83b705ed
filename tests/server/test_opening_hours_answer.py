"""The kiosk-wide opening hours the server sends in its health answer (server/opening.py)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from server.config_city import Hours, Span
from server.opening import opening

JST = timezone(timedelta(hours=9))
HOURS = Hours(service=Span(time(6, 30), time(23, 0)), closed_dates=(date(2026, 5, 7),))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def test_open_in_the_service_span_with_the_seconds_until_it_ends():
    answer = opening(HOURS, at(2026, 5, 6, 22, 0))
    assert answer["open"] is True and answer["closes_in_s"] == 3600 and answer["opens_at"] is None


def test_before_opening_it_says_when_it_opens_today():
    answer = opening(HOURS, at(2026, 5, 6, 5, 0))
    assert answer == {"open": False, "closes_in_s": None, "opens_at": "2026-05-06T06:30+09:00",
                      "opens_in_s": 5400, "service": "06:30-23:00"}


def test_after_closing_it_skips_a_closed_day_and_the_year_end():
    assert opening(HOURS, at(2026, 5, 6, 23, 30))["opens_at"] == "2026-05-08T06:30+09:00"  # the 7th is closed
    assert opening(HOURS, at(2026, 12, 28, 23, 0))["opens_at"] == "2027-01-04T06:30+09:00"
    assert opening(HOURS, at(2027, 1, 2, 12, 0))["open"] is False


def test_a_service_to_midnight_closes_at_midnight():
    answer = opening(Hours(service=Span(time(6, 30), time.max), year_end_closure=False), at(2026, 5, 6, 23, 58))
    assert answer["open"] is True and answer["closes_in_s"] == 120


def test_an_all_day_service_does_not_close_at_midnight_but_at_its_next_closed_day():
    all_day = Hours(service=Span(time(0, 0), time.max), year_end_closure=False)
    assert opening(all_day, at(2026, 5, 6, 23, 58))["closes_in_s"] is None  # no closed day within 400 days
    with_year_end = Hours(service=Span(time(0, 0), time.max))
    answer = opening(with_year_end, at(2026, 12, 27, 23, 58))
    assert answer["open"] is True and answer["closes_in_s"] == 24 * 3600 + 120  # closed from 12/29 00:00
    with_a_closed_day = Hours(service=Span(time(0, 0), time.max), year_end_closure=False,
                              closed_dates=(date(2026, 5, 7),))
    assert opening(with_a_closed_day, at(2026, 5, 6, 23, 58))["closes_in_s"] == 120
