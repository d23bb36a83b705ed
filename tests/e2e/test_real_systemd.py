"""The headless kiosk supervised by a real systemd (252), not a stand-in: a systemd user manager started in a
private mount namespace (it refuses to start unless /run/systemd/system exists, which the namespace provides
without touching the host), running a unit with kiosk.service's own supervision lines.

The unit also carries kiosk.service's process sandbox (ProtectSystem=strict, the system-call filter, …), so
the kiosk is shown to work inside it.  systemd starts the kiosk and marks it active only on READY=1; the controller is made to hang (test-only hook);
systemd's WatchdogSec= runs out, it kills and restarts the kiosk, and start-up recovery settles the money.
Why not systemd-nspawn: it is not installed here, and its package would upgrade systemd and libsystemd0 and
install systemd-sysv on a shared machine whose PID 1 is not systemd.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.journal import Journal
from tests.e2e.test_restart import _command, _pay_150_in_coins, _toml, _wait_state
from tests.support.kiosk_session import kiosk_config_data

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = Path("/lib/systemd/systemd")
WATCHDOG_S = 3
# the supervision lines of the real unit, taken from it (only ExecStart=, WatchdogSec= and the output differ)
SUPERVISION = ("Type", "NotifyAccess", "Restart", "RestartSec", "TimeoutStartSec", "TimeoutStopSec")
LIMITS = ("StartLimitIntervalSec", "StartLimitBurst")
# the sandbox lines that apply to a process as such (not the ones about users, devices, ttys or directories).
# Left out: ProtectKernelTunables= and ProtectKernelLogs=, whose /proc and /dev/kmsg remounts fail with
# 226/NAMESPACE under this machine's nested namespaces (for any command, not just the kiosk); checked offline.
SANDBOX = ("ProtectSystem", "ProtectHome", "PrivateTmp", "UMask", "NoNewPrivileges", "CapabilityBoundingSet",
           "AmbientCapabilities", "LockPersonality", "RestrictRealtime", "RestrictSUIDSGID", "RestrictNamespaces",
           "ProtectKernelModules", "ProtectControlGroups",
           "ProtectClock", "ProtectHostname", "PrivateMounts", "KeyringMode", "SystemCallArchitectures",
           "SystemCallFilter", "SystemCallErrorNumber", "RestrictAddressFamilies")


def _lines(unit: Path, keys: tuple[str, ...]) -> list[str]:
    lines = [line for line in unit.read_text().splitlines() if line.split("=", 1)[0] in keys]
    # this machine's Python lives under /root (pyenv): home stays visible, read-only (a kiosk's is in /opt)
    return ["ProtectHome=read-only" if line == "ProtectHome=yes" else line for line in lines]


def _test_unit(config: Path, log: Path) -> str:
    real = REPO / "systemd/kiosk.service"
    sandbox = _lines(real, SANDBOX)
    if any(Path(d) in (REPO, *REPO.parents) for d in ("/tmp", "/var/tmp")):
        sandbox.remove("PrivateTmp=yes")  # (a checkout under /tmp would vanish from the kiosk's own view)
    return "\n".join([
        "[Unit]", "Description=kiosk (headless) under a real systemd, for the test", *_lines(real, LIMITS),
        "[Service]", *_lines(real, SUPERVISION), *sandbox,
        f"ReadWritePaths={config.parent}",
        f"WatchdogSec={WATCHDOG_S}s",
        f"ExecStart={sys.executable} -m firmware.cli --config {config} --headless",
        f"WorkingDirectory={REPO}",
        f"Environment=PYTHONPATH={REPO} KIOSK_TEST_HOOKS=1",
        f"StandardOutput=append:{log}", f"StandardError=append:{log}", ""])


class UserManager:
    """``systemd --user`` in its own mount namespace; ``systemctl(...)`` runs inside that namespace."""

    def __init__(self, runtime: Path, config_home: Path, log: Path):
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(config_home))
        script = ("mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && "
                  f"exec {SYSTEMD} --user --log-target=console")
        unshare = ["unshare", "--mount", "--propagation", "private"] if os.geteuid() == 0 else \
            ["unshare", "--map-root-user", "--mount", "--propagation", "private"]
        self.process = subprocess.Popen([*unshare, "sh", "-c", script], env=self.env,
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not (runtime / "systemd/private").exists():
            assert self.process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the systemd user manager did not come up"
            time.sleep(0.05)

    def systemctl(self, *args: str) -> str:
        result = subprocess.run(["nsenter", f"--target={self.process.pid}", "--mount", "systemctl", "--user",
                                 "--no-pager", *args], env=self.env, capture_output=True, text=True, timeout=20)
        return result.stdout.strip()

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", unit, f"-p{prop}", "--value")

    def wait(self, unit: str, prop: str, value: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.show(unit, prop) == value:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # the manager stops its units, then exits
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _diagnosis(manager: UserManager, kiosk_log: Path) -> str:
    unit = "kiosk-test.service"
    states = {p: manager.show(unit, p) for p in ("ActiveState", "NRestarts", "StatusText", "MainPID")}
    return f"systemd: {states}\nkiosk log (last 4000 characters):\n{kiosk_log.read_text()[-4000:]}"


@pytest.fixture
def work():
    """Outside /tmp: the unit has PrivateTmp=yes, so the kiosk's files and sockets must live elsewhere."""
    path = REPO / "var" / f"systemd-test-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(not SYSTEMD.exists() or not shutil.which("nsenter"), reason="needs systemd and util-linux")
def test_real_systemd_starts_the_kiosk_restarts_it_on_a_hang_and_recovery_settles(dev_world, server, work):
    tmp_path = work
    shutil.copytree(dev_world, work / "dev")
    sock = tmp_path / "sim.sock"
    data = kiosk_config_data(work / "dev", tmp_path, server.url)
    data["kiosk"]["control_socket"] = str(sock)
    config = tmp_path / "kiosk.toml"
    config.write_text(_toml(data), encoding="utf-8")
    runtime, config_home = tmp_path / "run", tmp_path / "config"
    runtime.mkdir(mode=0o700)
    (config_home / "systemd/user").mkdir(parents=True)
    kiosk_log = tmp_path / "kiosk.log"
    (config_home / "systemd/user/kiosk-test.service").write_text(_test_unit(config, kiosk_log))

    manager = UserManager(runtime, config_home, tmp_path / "manager.log")
    try:
        manager.systemctl("start", "kiosk-test.service")  # returns once READY=1 came (Type=notify)
        assert manager.show("kiosk-test.service", "ActiveState") == "active", \
            manager.systemctl("status", "kiosk-test.service") + kiosk_log.read_text()[-2000:]
        assert manager.show("kiosk-test.service", "StatusText") == "in service, idle"
        first_pid = manager.show("kiosk-test.service", "MainPID")

        assert _wait_state(sock, "idle")
        try:
            _pay_150_in_coins(sock)
        except AssertionError as e:  # say what the kiosk and systemd saw (the work directory goes with the test)
            raise AssertionError(f"{e}\n{_diagnosis(manager, kiosk_log)}") from None
        assert manager.show("kiosk-test.service", "StatusText").endswith(" in paying")
        journal = Journal(tmp_path / "kiosk" / "journal.sqlite")
        [txn] = journal.open_transactions()
        journal.close()
        time.sleep(2 * WATCHDOG_S / 3)  # (a stretch of pings: no restart while the kiosk turns)
        assert manager.show("kiosk-test.service", "NRestarts") == "0"

        _command(sock, "test_hang_controller")
        # systemd's watchdog: half an interval of stale pulse, then one interval without a ping, then SIGABRT
        assert manager.wait("kiosk-test.service", "NRestarts", "1", timeout=4 * WATCHDOG_S), \
            manager.systemctl("status", "kiosk-test.service")
        assert manager.wait("kiosk-test.service", "ActiveState", "active", timeout=30)  # READY=1 again
        assert manager.show("kiosk-test.service", "MainPID") != first_pid
        status = manager.show("kiosk-test.service", "StatusText")
        assert status == "in service, idle; refund owed, staff to check", status
        manager.systemctl("stop", "kiosk-test.service")
    finally:
        manager.stop()

    journal = Journal(tmp_path / "kiosk" / "journal.sqlite")
    assert journal.open_transactions() == []
    balance = journal.balance(txn)
    journal.close()
    assert balance.credited == 150 and balance.refund_owed == 150 and balance.unaccounted == 0
    log = kiosk_log.read_text()
    assert "watchdog pings stopped: controller not turning" in log
