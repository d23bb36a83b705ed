"""The health of the box itself: power, disk, clock and temperature, as readiness inputs.

A kiosk that is browning out, out of disk, unsure of the date or overheating must not take money: a note
stacked while the SD card cannot be written is a yen the journal cannot prove, a certificate dated from a clock
that never synchronised is wrong on its face, and a Pi that throttles hard prints half a page.  Each check gives
a readiness reason (the kiosk shows out of service with it) and an audit event when its reading changes (which
the telemetry sender carries to the city).

Where the readings come from on a Raspberry Pi:

- **power**: the ``rpi_volt`` hwmon device's ``in0_lcrit_alarm`` (1 while the supply is under 4.63 V); where the
  kernel lacks it, ``vcgencmd get_throttled`` (bit 0 under-voltage now, bit 2 throttled now, bits 16/18 since
  boot).  Throttling alone is reported, not a reason: the Pi still works, slower.
- **disk**: free bytes on the file system that holds the journal.
- **clock**: the kernel's NTP state (``adjtimex``: not ``TIME_ERROR``), or the flag file systemd-timesyncd
  writes once it has synchronised (``/run/systemd/timesync/synchronized``).  The Pi has no real-time clock, so
  after a power cut it starts in the past until the network time arrives.
- **temperature**: ``/sys/class/thermal/thermal_zone0/temp`` (millidegrees).

``[health]`` in kiosk.toml turns the checks on (a kiosk's provisioned configuration does; the development
configuration does not, because a laptop's clock or disk says nothing about a kiosk)::

    [health]
    enabled = true
    min_free_mb = 200       # below this the kiosk stops taking money
    max_temperature_c = 80
    require_time_sync = true
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

log = logging.getLogger("kiosk.health")

UNDER_VOLTAGE_NOW, THROTTLED_NOW = 0x1, 0x4
TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
TIMESYNC_FLAG = "run/systemd/timesync/synchronized"


class HealthConfigError(ValueError):
    pass


@dataclass(frozen=True)
class HealthSettings:
    enabled: bool = False
    min_free_mb: float = 200.0
    max_temperature_c: float = 80.0
    require_time_sync: bool = True


def parse_health(table: Mapping[str, Any], source: str = "kiosk.toml") -> HealthSettings:
    known = {"enabled", "min_free_mb", "max_temperature_c", "require_time_sync"}
    unknown = set(table) - known
    if unknown:
        raise HealthConfigError(f"{source}: [health] has unknown keys: {', '.join(sorted(unknown))}")
    for key in ("enabled", "require_time_sync"):
        if key in table and not isinstance(table[key], bool):
            raise HealthConfigError(f"{source}: [health] {key} must be true or false (got {table[key]!r})")
    numbers = {"min_free_mb": (0, 100_000), "max_temperature_c": (40, 110)}
    for key, (low, high) in numbers.items():
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not low <= value <= high):
            raise HealthConfigError(f"{source}: [health] {key} must be a number from {low} to {high} (got {value!r})")
    defaults = HealthSettings()
    return HealthSettings(enabled=table.get("enabled", False),
                          min_free_mb=float(table.get("min_free_mb", defaults.min_free_mb)),
                          max_temperature_c=float(table.get("max_temperature_c", defaults.max_temperature_c)),
                          require_time_sync=table.get("require_time_sync", True))


@dataclass(frozen=True)
class Readings:
    under_voltage: bool | None  # None: the box cannot tell (no sensor)
    throttled: bool | None
    free_mb: float | None
    clock_synchronised: bool | None
    temperature_c: float | None


class BoxSensors:
    """Reads the box.  ``root`` prefixes every sysfs/run path (tests hand it a fake tree); the clock's NTP state
    and ``vcgencmd`` can be replaced by callables."""

    def __init__(self, data_dir: Path, root: Path = Path("/"),
                 kernel_clock_synchronised: Callable[[], bool | None] | None = None,
                 throttled_bits: Callable[[], int | None] | None = None):
        self.data_dir, self.root = Path(data_dir), Path(root)
        self._kernel_clock = kernel_clock_synchronised or adjtimex_synchronised
        self._throttled_bits = throttled_bits or vcgencmd_throttled

    def read(self) -> Readings:
        under, throttled = self._power()
        return Readings(under, throttled, self._free_mb(), self._clock(), self._temperature())

    def _power(self) -> tuple[bool | None, bool | None]:
        for hwmon in sorted((self.root / "sys/class/hwmon").glob("hwmon*")):
            if _read(hwmon / "name") == "rpi_volt":
                alarm = _read(hwmon / "in0_lcrit_alarm")
                if alarm in ("0", "1"):
                    return alarm == "1", None
        bits = self._throttled_bits()
        if bits is None:
            return None, None
        return bool(bits & UNDER_VOLTAGE_NOW), bool(bits & THROTTLED_NOW)

    def _free_mb(self) -> float | None:
        try:
            return shutil.disk_usage(self.data_dir).free / 1_000_000
        except OSError:
            return None

    def _clock(self) -> bool | None:
        if (self.root / TIMESYNC_FLAG).exists():
            return True
        return self._kernel_clock()

    def _temperature(self) -> float | None:
        text = _read(self.root / "sys/class/thermal/thermal_zone0/temp")
        try:
            return int(text) / 1000 if text is not None else None
        except ValueError:
            return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def adjtimex_synchronised() -> bool | None:
    """The kernel's own view (what ``timedatectl`` shows as "System clock synchronized")."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only (larger than the struct)
        state = libc.adjtimex(timex)
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


def vcgencmd_throttled() -> int | None:
    """``vcgencmd get_throttled`` → ``throttled=0x50005``; None off a Pi."""
    if shutil.which("vcgencmd") is None:
        return None
    try:
        out = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=2).stdout
        return int(out.strip().split("=", 1)[1], 16)
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


class BoxHealth:
    """``await reason()``: why the box itself cannot take money now (None: it can)."""

    def __init__(self, settings: HealthSettings, sensors: BoxSensors, audit=None):
        self.settings, self.sensors, self.audit = settings, sensors, audit
        self.last: Readings | None = None
        self._reported: dict[str, object] = {}

    async def reason(self) -> str | None:
        readings = await asyncio.to_thread(self.sensors.read)
        self.last = readings
        self._report(readings)
        return self.judge(readings)

    def judge(self, r: Readings) -> str | None:
        s = self.settings
        if r.under_voltage:
            return "under_voltage"
        if r.free_mb is not None and r.free_mb < s.min_free_mb:
            return "disk_full"
        if s.require_time_sync and not r.clock_synchronised:
            return "clock_not_synchronised"  # (unknown counts as not: no money on a clock nobody vouches for)
        if r.temperature_c is not None and r.temperature_c >= s.max_temperature_c:
            return "overheated"
        return None

    def _report(self, r: Readings) -> None:
        """An audit event (and so a telemetry event) when a reading crosses a line, not at every look."""
        now = {"under_voltage": r.under_voltage, "throttled": r.throttled, "clock_synchronised": r.clock_synchronised,
               "disk_low": None if r.free_mb is None else r.free_mb < self.settings.min_free_mb,
               "overheated": None if r.temperature_c is None else r.temperature_c >= self.settings.max_temperature_c}
        for check, value in now.items():
            if self._reported.get(check, "unset") != value:
                self._reported[check] = value
                if self.audit is not None:
                    self.audit.emit("health.changed", check=check,
                                    value="unknown" if value is None else ("yes" if value else "no"))
                if value and check != "clock_synchronised":
                    log.warning("box health: %s", check)


def box_health(table: Mapping[str, Any], data_dir: Path, audit=None, source: str = "kiosk.toml") -> BoxHealth | None:
    """The configured checks, or None when ``[health]`` does not enable them."""
    settings = parse_health(table, source)
    return BoxHealth(settings, BoxSensors(data_dir), audit) if settings.enabled else None
