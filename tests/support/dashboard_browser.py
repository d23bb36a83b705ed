"""The REAL dashboard process and a REAL browser for the dashboard's tests and screenshots.

    dash = start_dashboard(config)        # kiosk-server dashboard --port 0; waits for "dashboard listening on"
    add_staff(config, "admin-01", "admin", password)
    browser = chromium()                  # Debian's chromium through /usr/bin/chromedriver, headless
    viewport(browser, 1366, 768)
    dash.stop()                           # SIGTERM by PID, then SIGKILL

Nothing is downloaded: Selenium is pointed at the system's chromedriver and chromium (scripts/bootstrap.sh).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.server_process import REPO, _env

CHROMEDRIVER, CHROMIUM = Path("/usr/bin/chromedriver"), Path("/usr/bin/chromium")
_READY = "dashboard listening on "


@dataclass
class DashboardProcess:
    process: subprocess.Popen
    url: str
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)


def start_dashboard(config: Path, *args: str, timeout: float = 30.0) -> DashboardProcess:
    log = tempfile.NamedTemporaryFile(prefix="kiosk-dashboard-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "dashboard", "--config", str(config),
                                "--port", "0", *args], cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=log,
                               text=True, bufsize=1)
    log.close()
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = lines[0].strip() if lines else ""
    if not line.startswith(_READY):
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        raise RuntimeError(f"the dashboard did not start ({line!r}):\n{Path(log.name).read_text()[-3000:]}")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return DashboardProcess(process, line[len(_READY):], Path(log.name))


def kiosk_server(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *argv], cwd=REPO, env=_env(), input=stdin,
                          capture_output=True, text=True, timeout=60)


def add_staff(config: Path, staff_id: str, role: str, password: str, ward: str | None = None) -> None:
    argv = ["staff-add", "--config", str(config), "--staff", staff_id, "--role", role, "--password-stdin"]
    done = kiosk_server(*argv, *(["--ward", ward] if ward else []), stdin=password + "\n")
    assert done.returncode == 0, done.stderr


def place_kiosk(config: Path, kiosk_id: str, ward: str) -> None:
    done = kiosk_server("kiosk-ward", "--config", str(config), "--kiosk", kiosk_id, "--ward", ward)
    assert done.returncode == 0, done.stderr


def new_kiosk(dev_dir: Path, kiosk_id: str) -> None:
    """A device certificate for another kiosk in the development world (signed by its CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from server.devinit import issue_kiosk_certificate

    tls = dev_dir / "tls"
    if not (tls / f"{kiosk_id}.pem").exists():
        ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
        issue_kiosk_certificate(tls, kiosk_id, ca, ca_key)


def browser_available() -> bool:
    return CHROMEDRIVER.exists() and CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is not None


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1366,768", "--lang=ja", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def viewport(browser, width: int, height: int, mobile: bool = False) -> None:
    """The page's viewport exactly (CSS pixels), as a screen of that size shows it."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def wait_for(predicate, timeout: float, step: float = 0.2):
    """Poll until ``predicate()`` is truthy; returns (value, seconds waited) or raises AssertionError."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(step)


class SimulatedKiosk:
    """A headless kiosk process (``firmware.cli --headless``, simulated devices) with its own certificate, sending
    its telemetry to the real server; driven through its simulator control socket, stopped by PID."""

    def __init__(self, dev_dir: Path, work: Path, server_url: str, kiosk_id: str, telemetry: dict | None = None):
        from hal.simcontrol import send
        from tests.support.kiosk_session import kiosk_config_data
        from tests.support.powercut import _toml

        self._send = send
        work.mkdir(parents=True, exist_ok=True)
        self.sock = Path(tempfile.mkdtemp(prefix="kd-sim-")) / "sim.sock"  # a Unix socket path is short
        tls = dev_dir / "tls"
        data = kiosk_config_data(dev_dir, work, server_url, **{
            "kiosk.id": kiosk_id, "kiosk.control_socket": str(self.sock),
            "server.client_cert": str(tls / f"{kiosk_id}.pem"), "server.client_key": str(tls / f"{kiosk_id}-key.pem"),
            **({"telemetry": telemetry} if telemetry else {})})
        config = work / "kiosk.toml"
        config.write_text(_toml(data), encoding="utf-8")
        self.output = work / "kiosk.out"
        with open(self.output, "w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                             "--headless"], cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: self.state() in ("idle", "out_of_service"), 60)
        except AssertionError:
            self.stop()
            raise RuntimeError("the simulated kiosk did not start:\n" + self.output.read_text()[-3000:]) from None

    def request(self, cmd: str, **args) -> dict:
        return self._send(self.sock, {"cmd": cmd, "args": args}, timeout=5)

    def state(self) -> str | None:
        try:
            return self.request("state").get("state")
        except (OSError, ConnectionError, ValueError):
            return None

    def do(self, cmd: str, **args) -> None:
        reply = self.request(cmd, **args)
        assert reply.get("ok", True) and "error" not in reply, reply

    def beacon_on(self) -> bool:
        return "beacon on" in str(self.request("status").get("devices", {}).get("signals", ""))

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
