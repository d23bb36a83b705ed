"""The box's own health (firmware.health): readings from a fake sysfs tree, and the reasons they give."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from firmware.audit import AuditLog
from firmware.health import (BoxHealth, BoxSensors, HealthConfigError, HealthSettings, Readings, parse_health)


def _tree(root: Path, *, alarm: str | None = None, temp_milli: int | None = None, synced_flag=False) -> Path:
    if alarm is not None:
        hwmon = root / "sys/class/hwmon/hwmon1"
        hwmon.mkdir(parents=True)
        (hwmon / "name").write_text("rpi_volt\n")
        (hwmon / "in0_lcrit_alarm").write_text(alarm + "\n")
        other = root / "sys/class/hwmon/hwmon0"
        other.mkdir(parents=True)
        (other / "name").write_text("cpu_thermal\n")
    if temp_milli is not None:
        zone = root / "sys/class/thermal/thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "temp").write_text(f"{temp_milli}\n")
    if synced_flag:
        flag = root / "run/systemd/timesync/synchronized"
        flag.parent.mkdir(parents=True)
        flag.touch()
    return root


def _sensors(tmp_path, root, *, kernel_synced=False, bits=None) -> BoxSensors:
    return BoxSensors(tmp_path, root=root, kernel_clock_synchronised=lambda: kernel_synced,
                      throttled_bits=lambda: bits)


def test_the_rpi_volt_alarm_is_read_from_hwmon(tmp_path):
    root = _tree(tmp_path / "root", alarm="1", temp_milli=51234)
    r = _sensors(tmp_path, root, bits=0).read()
    assert r.under_voltage is True and r.throttled is None and r.temperature_c == pytest.approx(51.234)
    root_ok = _tree(tmp_path / "ok", alarm="0")
    assert _sensors(tmp_path, root_ok, bits=0x1).read().under_voltage is False  # hwmon wins over vcgencmd


def test_without_hwmon_vcgencmd_bits_tell_under_voltage_and_throttling(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    now = _sensors(tmp_path, root, bits=0x50005).read()
    assert now.under_voltage is True and now.throttled is True
    only_past = _sensors(tmp_path, root, bits=0x50000).read()  # since boot, not now: the kiosk may sell
    assert only_past.under_voltage is False and only_past.throttled is False
    assert _sensors(tmp_path, root, bits=None).read().under_voltage is None  # off a Pi: cannot tell


def test_the_clock_counts_as_synchronised_by_timesyncd_flag_or_by_the_kernel(tmp_path):
    assert _sensors(tmp_path, _tree(tmp_path / "a", synced_flag=True)).read().clock_synchronised is True
    (tmp_path / "b").mkdir()
    assert _sensors(tmp_path, tmp_path / "b", kernel_synced=True).read().clock_synchronised is True
    assert _sensors(tmp_path, tmp_path / "b", kernel_synced=False).read().clock_synchronised is False


def test_free_disk_is_measured_where_the_journal_lives(tmp_path):
    free = _sensors(tmp_path, tmp_path).read().free_mb
    assert free is not None and free > 0


@pytest.mark.parametrize("readings, reason", [
    (Readings(True, False, 5000, True, 50), "under_voltage"),
    (Readings(False, True, 5000, True, 50), None),  # throttled alone: slower, still sells
    (Readings(False, False, 100, True, 50), "disk_full"),
    (Readings(False, False, 5000, False, 50), "clock_not_synchronised"),
    (Readings(False, False, 5000, None, 50), "clock_not_synchronised"),  # unknown is not synchronised
    (Readings(False, False, 5000, True, 85), "overheated"),
    (Readings(None, None, None, True, None), None),  # no sensors: nothing to hold against the box
])
def test_each_reading_gives_its_reason(readings, reason):
    assert BoxHealth(HealthSettings(enabled=True), sensors=None).judge(readings) == reason


def test_a_change_is_audited_once_not_at_every_look(tmp_path):
    class Sensors:
        readings = Readings(False, False, 5000, False, 50)

        def read(self):
            return self.readings

    audit, sensors = AuditLog(), Sensors()
    health = BoxHealth(HealthSettings(enabled=True), sensors, audit)
    assert asyncio.run(health.reason()) == "clock_not_synchronised"
    assert asyncio.run(health.reason()) == "clock_not_synchronised"
    first = [e for e in audit.recent if e["audit"] == "health.changed"]
    sensors.readings = Readings(False, False, 5000, True, 50)
    assert asyncio.run(health.reason()) is None
    changes = [e for e in audit.recent if e["audit"] == "health.changed"]
    assert len(changes) == len(first) + 1
    assert changes[-1]["check"] == "clock_synchronised" and changes[-1]["value"] == "yes"


def test_the_health_table_is_checked():
    assert parse_health({}) == HealthSettings(enabled=False)
    assert parse_health({"enabled": True, "min_free_mb": 500}).min_free_mb == 500
    with pytest.raises(HealthConfigError, match="unknown keys: min_free"):
        parse_health({"min_free": 1})
    with pytest.raises(HealthConfigError, match="enabled must be true or false"):
        parse_health({"enabled": "yes"})
    with pytest.raises(HealthConfigError, match="max_temperature_c must be a number"):
        parse_health({"max_temperature_c": 500})
