"""``kiosk-update check | recover [--boot] | status`` — see :mod:`firmware.updater`.  Reads ``[server]`` (the
kiosk's mTLS endpoint) and ``[updates]`` from kiosk.toml::

    [updates]
    window = "02:00-05:00"            # local time; the kiosk installs only then (omit: any time)
    base = "/opt/kiosk"               # releases/<version>/, current, previous
    state_dir = "/var/lib/kiosk-update"
    trusted_root = "update/root.json" # written by kiosk-provision at enrolment
    hold_dir = "/run/kiosk-update"    # the updater asks, the kiosk answers when idle (firmware/update_hold.py)
    health_file = "/run/kiosk-update/health.json"
    restart_command = ["systemctl", "restart", "kiosk.service"]
    log_command = ["journalctl", "-u", "kiosk.service", "-n", "60", "--no-pager", "-o", "cat"]
    start_timeout_s = 120   # READY=1 within this
    gate_timeout_s = 300    # every gate check passed within this
    settle_s = 20           # and still the same process this much later (the kiosk is out of service meanwhile)
    hold_wait_s = 3600      # how long to wait for the kiosk to be idle (a visit in progress) before deferring

    [updates.self_visit]    # optional: the gate's last check, one test-mode visit (firmware/self_visit.py)
    enabled = true
    cards_dir = "self-visit"  card = "test-resident"  pin = "1234"
    command = ["{release}/venv/bin/python", "-m", "firmware.self_visit", "--config", "/etc/kiosk/kiosk.toml"]
    timeout_s = 120
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from datetime import time as dtime
from pathlib import Path

from firmware.config import ConfigError, load_config
from firmware.update_gate import GateSettings
from firmware.update_slots import Slots
from firmware.updater import UpdateSettings, Updater


def parse_window(text: str | None) -> tuple[dtime, dtime] | None:
    if not text:
        return None
    try:
        start, end = (dtime.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ConfigError(f"[updates] window must look like \"02:00-05:00\" (got {text!r})") from None
    return start, end


def load_update_settings(path: Path) -> UpdateSettings:
    config = load_config(path)
    table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("updates", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{Path(path).name}: [updates] must be a table")
    base = Path(path).resolve().parent

    def p(key: str, default: str) -> Path:
        return base / str(table.get(key, default))

    def seconds(key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"[updates] {key} must be a number of seconds")
        return float(value)

    visit = table.get("self_visit") or {}
    if not isinstance(visit, dict):
        raise ConfigError("[updates.self_visit] must be a table")
    visit_command: tuple[str, ...] = ()
    if visit.get("enabled") is True:
        visit_command = tuple(visit.get("command") or ["{release}/venv/bin/python", "-m", "firmware.self_visit",
                                                       "--config", str(Path(path).resolve())])
        if not all(isinstance(part, str) for part in visit_command):
            raise ConfigError("[updates.self_visit] command must be a list of strings")
    gate = GateSettings(
        restart_command=tuple(table.get("restart_command", ["systemctl", "restart", "kiosk.service"])),
        health_file=p("health_file", "/run/kiosk-update/health.json"),
        log_command=tuple(table.get("log_command", ["journalctl", "-u", "kiosk.service", "-n", "60", "--no-pager",
                                                    "-o", "cat"])),
        start_timeout_s=seconds("start_timeout_s", 120), gate_timeout_s=seconds("gate_timeout_s", 300),
        settle_s=seconds("settle_s", 20), check_server=table.get("check_server", True) is not False,
        self_visit_command=visit_command, self_visit_timeout_s=_visit_timeout(visit),
        releases=p("base", "/opt/kiosk") / "releases")
    return UpdateSettings(
        endpoint=config.server, slots=Slots(p("base", "/opt/kiosk"), p("state_dir", "/var/lib/kiosk-update")),
        trusted_root=p("trusted_root", "update/root.json"), hold_dir=p("hold_dir", "/run/kiosk-update"),
        gate=gate, window=parse_window(table.get("window")), hold_wait_s=seconds("hold_wait_s", 3600),
        time_sync_flag=p("time_sync_flag", "/run/systemd/timesync/synchronized"),
        use_kernel_clock=table.get("use_kernel_clock", True) is not False)


def _visit_timeout(visit: dict) -> float:
    value = visit.get("timeout_s", 120)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError("[updates.self_visit] timeout_s must be a number of seconds")
    return float(value) + 30  # the visit's own waits, plus starting and stopping it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-update", description="Signed kiosk updates (TUF, A/B, gate).")
    parser.add_argument("--config", type=Path, default=Path("/etc/kiosk/kiosk.toml"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="look for a newer signed release and install it (in the window, when idle)")
    recover = sub.add_parser("recover", help="put the previous release back if an update was cut off")
    recover.add_argument("--boot", action="store_true", help="at boot, before kiosk.service: no restart")
    sub.add_parser("status", help="the running and committed releases and the last outcomes")
    args = parser.parse_args(argv)
    try:
        settings = load_update_settings(args.config)
    except ConfigError as exc:
        print(f"kiosk-update: {exc}", file=sys.stderr)
        return 2
    updater = Updater(settings)
    if args.command == "check":
        result = updater.check()
    elif args.command == "recover":
        result = updater.recover(boot=args.boot) or {"outcome": "nothing_to_recover"}
    else:
        result = {"current": settings.slots.current(), "state": settings.slots.state(),
                  "last": settings.slots.history()[-5:]}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result.get("outcome") not in ("refused", "rolled_back") else 1


if __name__ == "__main__":
    sys.exit(main())
