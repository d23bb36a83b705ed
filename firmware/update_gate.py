"""The health gate a new release must pass before it is committed, within ``gate_timeout_s``:

1. ``units_ready``: the restart command (``systemctl restart kiosk.service``: for a ``Type=notify`` unit it
   returns only once the kiosk sent ``READY=1``, which it does after start-up recovery) succeeded in time;
2. ``running_release``: the kiosk's health file names the new release and a live process (not the old one);
3. ``recovery_done``: start-up recovery settled the journal;
4. ``devices``: every device answered (no device reason for being out of service);
5. ``server``: the certificate server answers over mTLS (``GET /v1/health`` with the kiosk's certificate);
6. ``stays_up``: the same process is still alive ``settle_s`` later (a release that crashes after READY=1);
7. ``self_visit`` (only if the city enables ``[updates.self_visit]``): one headless visit in a test mode with the
   new release's code passes (:mod:`firmware.self_visit`: simulated devices and coins, the null printer, a
   throw-away journal, the real server), within ``self_visit_timeout_s``.

The first check that fails is the reason, with the tail of the kiosk's log.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from firmware.server_client import ServerEndpoint, tls_context

# out-of-service reasons that mean a device did not answer (firmware/visit_service.py)
DEVICE_REASONS = ("printer_", "card_reader", "cash_device", "device_unavailable")


@dataclass(frozen=True)
class GateResult:
    passed: bool
    check: str | None = None
    detail: str = ""
    log_tail: str = ""


@dataclass(frozen=True)
class GateSettings:
    restart_command: tuple[str, ...]
    health_file: Path
    log_command: tuple[str, ...] = ()
    start_timeout_s: float = 120.0
    gate_timeout_s: float = 300.0
    settle_s: float = 20.0
    check_server: bool = True
    self_visit_command: tuple[str, ...] = ()  # empty: no self-visit; "{release}" is the new release's folder
    self_visit_timeout_s: float = 120.0
    releases: Path | None = None  # where "{release}" points into (releases/<version>)


def restart(settings: GateSettings) -> GateResult:
    """Run the restart command; a failure or a hang is ``units_ready``."""
    try:
        done = subprocess.run(list(settings.restart_command), capture_output=True, text=True,
                              timeout=settings.start_timeout_s)
    except subprocess.TimeoutExpired:
        return GateResult(False, "units_ready", f"no READY=1 within {settings.start_timeout_s:g} s (hung start)")
    if done.returncode != 0:
        return GateResult(False, "units_ready", f"the kiosk did not start (exit {done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-300:]}")
    return GateResult(True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:  # a process that ended but was not reaped yet (a zombie) answers kill(0): it is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _health(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_once(settings: GateSettings, version: str, endpoint: ServerEndpoint | None) -> GateResult:
    health = _health(settings.health_file)
    if health is None or health.get("release") != version or not _alive(int(health.get("pid", 0) or 0)):
        shown = health.get("release") if health else None
        return GateResult(False, "running_release", f"the running kiosk reports release {shown!r}, not {version}")
    if not health.get("recovery_done"):
        return GateResult(False, "recovery_done", "start-up recovery has not finished")
    reason = health.get("out_of_service_reason") or ""
    failed = {name: state for name, state in (health.get("devices") or {}).items() if state != "ok"}
    if failed or reason.startswith(DEVICE_REASONS):
        return GateResult(False, "devices", f"devices not answering: {failed or reason}")
    if settings.check_server and endpoint is not None:
        try:
            with httpx.Client(base_url=endpoint.url, verify=tls_context(endpoint), trust_env=False,
                              timeout=10.0) as client:
                status = client.get("/v1/health").status_code
        except httpx.HTTPError as exc:
            return GateResult(False, "server", f"the server is not reachable over mTLS ({type(exc).__name__})")
        if status != 200:
            return GateResult(False, "server", f"the server answered HTTP {status} to /v1/health")
    return GateResult(True, detail=str(health.get("pid")))


def run_gate(settings: GateSettings, version: str, endpoint: ServerEndpoint | None, on_restarted=None,
             sleep=time.sleep, monotonic=time.monotonic) -> GateResult:
    """Restart into the new release, then check until every check passes or the bound runs out."""
    started = restart(settings)
    if not started.passed:
        return _with_log(settings, started)
    if on_restarted is not None:
        on_restarted()
    deadline = monotonic() + settings.gate_timeout_s
    while True:
        result = check_once(settings, version, endpoint)
        if result.passed:
            pid = int(result.detail)
            sleep(settings.settle_s)
            if not _alive(pid):
                return _with_log(settings, GateResult(False, "stays_up", f"the kiosk (pid {pid}) ended within "
                                                      f"{settings.settle_s:g} s of starting"))
            again = check_once(settings, version, endpoint)
            if not again.passed:
                return _with_log(settings, again)
            return self_visit(settings, version) if settings.self_visit_command else again
        if monotonic() >= deadline:
            return _with_log(settings, result)
        sleep(min(1.0, settings.gate_timeout_s / 10))


def self_visit(settings: GateSettings, version: str) -> GateResult:
    """Run the new release's self-visit; its own output is the log tail when it fails."""
    release = str((settings.releases or Path(".")) / version)
    command = [part.replace("{release}", release) for part in settings.self_visit_command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=settings.self_visit_timeout_s)
    except subprocess.TimeoutExpired:
        return GateResult(False, "self_visit", f"the self-visit did not end within {settings.self_visit_timeout_s:g} s")
    except OSError as exc:
        return GateResult(False, "self_visit", f"the self-visit could not start: {exc}")
    if done.returncode != 0:
        words = (done.stderr or done.stdout).strip().splitlines()
        return GateResult(False, "self_visit", words[-1][:300] if words else f"exit {done.returncode}",
                          (done.stdout + done.stderr)[-4000:])
    return GateResult(True, detail=done.stdout.strip()[-300:])


def _with_log(settings: GateSettings, result: GateResult) -> GateResult:
    return GateResult(result.passed, result.check, result.detail, log_tail(settings.log_command))


def log_tail(command: tuple[str, ...], limit: int = 4000) -> str:
    if not command:
        return ""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(log unavailable: {type(exc).__name__})"
    return (done.stdout + done.stderr)[-limit:]
