"""The *preflight* step: is this machine fit to become a kiosk?  Each check gives a pass/fail line and, on a
failure, what to do.  ``ok`` is None where the machine cannot tell (e.g. no time service to ask): shown, not fatal."""
from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

MIN_FREE_BYTES = 512 * 1024 * 1024
PYTHON_MODULES = ("cryptography", "httpx", "rich", "segno")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def _os() -> Check:
    release = Path("/etc/os-release")
    text = release.read_text(errors="replace") if release.exists() else ""
    pretty = next((line.split("=", 1)[1].strip('"') for line in text.splitlines() if line.startswith("PRETTY_NAME=")),
                  platform.platform())
    ok = platform.system() == "Linux" and ("debian" in text.lower() or "raspbian" in text.lower())
    return Check("os", ok, pretty, "" if ok else "install Raspberry Pi OS (Debian 12 based) or Debian 12")


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, platform.python_version(), "" if ok else "Python 3.11 or later is needed")


def _disk(root: Path) -> Check:
    probe = root
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    ok = free >= MIN_FREE_BYTES
    return Check("free disk", ok, f"{free // (1024 * 1024)} MiB free",
                 "" if ok else "free at least 512 MiB (journal, printed pages, releases)")


def _clock() -> Check:
    if time.time() < 1767225600:  # 2026-01-01: a Pi without RTC and without network thinks it is 1970
        return Check("clock", False, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "the clock is wrong: connect the network so NTP can set it (certificates need the right time)")
    if shutil.which("timedatectl"):
        result = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                                text=True, timeout=10)
        if result.returncode == 0:
            ok = result.stdout.strip() == "yes"
            return Check("clock", ok, "NTP synchronised" if ok else "NTP not synchronised",
                         "" if ok else "wait for NTP (timedatectl timesync-status) or check the network")
    if Path("/run/systemd/timesync/synchronized").exists():
        return Check("clock", True, "NTP synchronised (systemd-timesyncd)")
    return Check("clock", None, "plausible, but no time service to ask whether it is synchronised")


def _packages() -> list[Check]:
    missing = [m for m in PYTHON_MODULES if importlib.util.find_spec(m) is None]
    checks = [Check("python packages", not missing, "all present" if not missing else f"missing {', '.join(missing)}",
                    "" if not missing else "run scripts/bootstrap.sh (it installs the project into its venv)")]
    tools = {"wg": "wireguard-tools", "ip": "iproute2"}
    absent = [pkg for tool, pkg in tools.items() if shutil.which(tool) is None]
    kernel = Path("/sys/module/wireguard").exists()
    userspace = shutil.which("wireguard-go") is not None
    if not (kernel or userspace):
        absent.append("wireguard-go (no kernel WireGuard module)")
    checks.append(Check("vpn tools", not absent,
                        ("kernel WireGuard" if kernel else "wireguard-go") if not absent else f"missing {', '.join(absent)}",
                        "" if not absent else "apt-get install wireguard-tools wireguard-go iproute2"))
    return checks


def _devices(devices: Mapping[str, Any]) -> list[Check]:
    checks = []
    for kind, table in devices.items():
        if not isinstance(table, Mapping):
            continue
        driver = table.get("driver", "?")
        nodes = [v for k, v in table.items() if k in ("device", "port") and isinstance(v, str) and v.startswith("/dev")]
        if driver == "sim":
            checks.append(Check(f"device {kind}", True, "simulator"))
            continue
        gone = [n for n in nodes if not os.path.exists(n)]
        checks.append(Check(f"device {kind}", not gone, f"{driver} {' '.join(nodes)}".strip() if not gone
                            else f"{driver}: {', '.join(gone)} not present",
                            "" if not gone else f"plug in the {kind} (or fix its port in the answers file)"))
    return checks


def run_checks(root: Path, devices: Mapping[str, Any]) -> list[Check]:
    return [_os(), _python(), _disk(root), _clock(), *_packages(), *_devices(devices)]
