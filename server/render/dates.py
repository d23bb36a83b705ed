"""Japanese calendar dates as certificates print them: 「令和8年11月26日」."""
from __future__ import annotations

from datetime import date

_ERAS = (  # first day of each era, newest first
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
)


def wareki(day: date) -> str:
    for start, name in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"
