"""The kiosk-wide opening hours, as the kiosk is told them in ``GET /v1/health``: open now or not, and until when
or from when.

The kiosk uses the relative seconds (its own clock may be off; a development server's ``[dev].now`` may be fixed)
and shows the local time of day (``opens_at``, JST) to the resident.  Closed days are the year-end closure and the
city's ``closed_dates``; 戸籍-only hours are a certificate's business (``reason = out_of_hours`` in the menu), not
the kiosk's.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from server.config_city import Hours


def closed_day(hours: Hours, day: date) -> bool:
    year_end = hours.year_end_closure and ((day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3))
    return year_end or day in hours.closed_dates


def opening(hours: Hours, now: datetime) -> dict:
    """``now`` is aware local (JST) time."""
    today = now.date()
    if not closed_day(hours, today) and hours.service.contains(now.time()):
        end = _closing(hours, now)
        return {"open": True, "closes_in_s": None if end is None else int((end - now).total_seconds()),
                "opens_at": None, "opens_in_s": None, "service": str(hours.service)}
    for offset in range(0, 400):
        day = today + timedelta(days=offset)
        start = datetime.combine(day, hours.service.start, now.tzinfo)
        if not closed_day(hours, day) and start > now:
            return {"open": False, "closes_in_s": None, "opens_at": start.isoformat(timespec="minutes"),
                    "opens_in_s": int((start - now).total_seconds()), "service": str(hours.service)}
    return {"open": False, "closes_in_s": None, "opens_at": None, "opens_in_s": None, "service": str(hours.service)}


def _closing(hours: Hours, now: datetime) -> datetime | None:
    """When the open span under way ends: today's end, or for a span to 24:00 midnight, or later still when the
    span also starts at 00:00 (an all-day service runs on through every next day that is not closed).  None: no
    closing in the next 400 days.  (Midnight is not a closing for an all-day service: a kiosk told "closes in
    120 s" at 23:58 went out of service at 00:00 until it asked again.)"""
    service = hours.service
    if service.end != time.max:
        return datetime.combine(now.date(), service.end, now.tzinfo)
    day = now.date() + timedelta(days=1)
    for _ in range(400):
        if service.start != time.min or closed_day(hours, day):
            return datetime.combine(day, time.min, now.tzinfo)
        day += timedelta(days=1)
    return None
