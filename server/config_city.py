"""The municipality's kiosk rules from server.toml: fees and the kiosk discount, copies, hours, the tax year and
the synthetic registry's seed.  Every bad value is a :class:`ConfigError` that names its key.

    [fees]                       window fees (手数料条例), yen per copy; unnamed certificates keep the catalogue's
    residence_record_copy = 300
    kiosk_discount = 100         yen off every certificate at a kiosk (never below 0)
    [fees.kiosk]                 or an explicit kiosk fee per certificate (wins over the discount)
    family_register_all = 350

    [copies]                     per-certificate limit; [city].max_copies is the default
    residence_record_copy = 10

    [hours]
    service = "06:30-23:00"      every day
    family_register = "08:30-17:15"   戸籍 certificates: weekdays only, in these hours ("" = as the service)
    year_end_closure = true      closed 12/29–1/3
    closed_dates = ["2026-05-06"]     maintenance days
    holidays = ["2026-11-03"]    national holidays: no 戸籍 (weekday office hours only)
    tax_year_from = "06-01"      the day the latest 市県民税 fiscal year switches (domain-facts §2.1)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from certs.catalog import CATALOG, CertificateType

_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")


class ConfigError(Exception):
    """The configuration file is missing, malformed or unsafe."""


@dataclass(frozen=True)
class Span:
    """A daily opening span [start, end); end may be 24:00 (written as time.max)."""
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end or (self.end == time.max and moment >= self.start)

    def __str__(self) -> str:
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


ALL_DAY = Span(time(0, 0), time.max)


@dataclass(frozen=True)
class Hours:
    service: Span = Span(time(6, 30), time(23, 0))
    family_register: Span | None = None  # None: 戸籍 any time the service is open
    year_end_closure: bool = True
    closed_dates: tuple[date, ...] = ()
    holidays: tuple[date, ...] = ()
    tax_year_from: tuple[int, int] = (6, 1)


def span(value: object, key: str) -> Span:
    if not isinstance(value, str) or not _SPAN.fullmatch(value):
        raise ConfigError(f"{key} must be a span like \"08:30-17:15\"")
    h1, m1, h2, m2 = (int(g) for g in _SPAN.fullmatch(value).groups())
    if h2 == 24 and m2 != 0:
        raise ConfigError(f"{key}: 24:00 is the latest end")
    start, end = time(h1, m1), (time.max if h2 == 24 else time(h2, m2))
    if end <= start:
        raise ConfigError(f"{key} must end after it starts")
    return Span(start, end)


def _dates(value: object, key: str) -> tuple[date, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of dates")
    result = []
    for item in value:
        if isinstance(item, date):
            result.append(item)
            continue
        try:
            result.append(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must hold dates like \"2026-05-06\"") from None
    return tuple(sorted(result))


def parse_hours(table: dict) -> Hours:
    known = {"service", "family_register", "year_end_closure", "closed_dates", "holidays", "tax_year_from"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"[hours].{unknown[0]} is not a known setting")
    closure = table.get("year_end_closure", True)
    if not isinstance(closure, bool):
        raise ConfigError("[hours].year_end_closure must be true or false")
    family = table.get("family_register", "")
    tax_from = table.get("tax_year_from", "06-01")
    match = _MONTH_DAY.fullmatch(tax_from) if isinstance(tax_from, str) else None
    if match is None:
        raise ConfigError("[hours].tax_year_from must be a month and day like \"06-01\"")
    try:
        date(2024, int(match[1]), int(match[2]))
    except ValueError:
        raise ConfigError("[hours].tax_year_from is not a day of the year") from None
    return Hours(service=span(table.get("service", "06:30-23:00"), "[hours].service"),
                 family_register=None if family == "" else span(family, "[hours].family_register"),
                 year_end_closure=closure,
                 closed_dates=_dates(table.get("closed_dates", []), "[hours].closed_dates"),
                 holidays=_dates(table.get("holidays", []), "[hours].holidays"),
                 tax_year_from=(int(match[1]), int(match[2])))


def _amount(value: object, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}")
    return value


def _kind(code: str, where: str) -> CertificateType:
    try:
        return CertificateType.parse(code)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_fees(table: dict) -> tuple[dict[CertificateType, int], dict[CertificateType, int]]:
    """Returns (window fees, kiosk fees) for every certificate type."""
    window = {t: k.default_fee for t, k in CATALOG.items()}
    discount = _amount(table.get("kiosk_discount", 0), "[fees].kiosk_discount")
    explicit = table.get("kiosk", {})
    if not isinstance(explicit, dict):
        raise ConfigError("[fees.kiosk] must be a table of certificate = yen")
    for code, fee in table.items():
        if code in ("kiosk_discount", "kiosk"):
            continue
        window[_kind(code, "[fees]")] = _amount(fee, f"[fees].{code}")
    kiosk = {t: max(0, fee - discount) for t, fee in window.items()}
    for code, fee in explicit.items():
        kiosk[_kind(code, "[fees.kiosk]")] = _amount(fee, f"[fees.kiosk].{code}")
    return window, kiosk


def parse_copies(table: dict, default: int) -> dict[CertificateType, int]:
    limits = {t: default for t in CATALOG}
    for code, limit in table.items():
        limits[_kind(code, "[copies]")] = _amount(limit, f"[copies].{code}", minimum=1)
    return limits


@dataclass(frozen=True)
class RegistrySettings:
    """The synthetic registry: the same seed gives the same people (only on an empty database)."""
    seed: int = 2026
    generated_households: int = 12


def parse_registry(table: dict) -> RegistrySettings:
    unknown = sorted(set(table) - {"seed", "generated_households"})
    if unknown:
        raise ConfigError(f"[registry].{unknown[0]} is not a known setting")
    households = _amount(table.get("generated_households", 12), "[registry].generated_households")
    if households > 9_000:  # resident ids R1011… stay within their column
        raise ConfigError("[registry].generated_households must be at most 9000")
    return RegistrySettings(_amount(table.get("seed", 2026), "[registry].seed"), households)
