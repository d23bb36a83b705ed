"""The kiosk under systemd's sd_notify protocol, end to end, with a test listener playing systemd's part.

The headless kiosk runs as its own process with simulated devices and the real reference server: READY=1 comes
only after start-up recovery has settled the journal, WATCHDOG=1 arrives at least twice per interval, a controller
loop made to hang (firmware/testhooks.py, test only) stops the pings within one interval while the process stays
alive, and after the listener kills it as systemd would (SIGABRT, the default WatchdogSignal=) and starts it
again, recovery settles the open transaction with every yen accounted.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from firmware.journal import Journal
from hal.simcontrol import send
from tests.e2e.test_restart import _command, _pay_150_in_coins, _toml, _wait_state
from tests.support.kiosk_session import kiosk_config_data
from tests.support.notify_listener import NotifyListener

REPO = Path(__file__).resolve().parents[2]
INTERVAL = 2.0  # WatchdogSec= for the test (the unit says 30 s; the protocol is the same)


def _start(config: Path, notify: Path, hooks: bool) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), NOTIFY_SOCKET=str(notify),
               WATCHDOG_USEC=str(int(INTERVAL * 1_000_000)))
    env.pop("WATCHDOG_PID", None)
    if hooks:
        env["KIOSK_TEST_HOOKS"] = "1"
    else:
        env.pop("KIOSK_TEST_HOOKS", None)
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config), "--headless"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _pings_in_one_interval(listener: NotifyListener) -> int:
    start = time.monotonic()
    while time.monotonic() < start + INTERVAL:  # (observing a window of time, not waiting for a result)
        time.sleep(0.05)
    return len([t for t in listener.times("WATCHDOG", "1") if start <= t <= start + INTERVAL])


def test_watchdog_sees_a_hung_controller_and_recovery_settles_the_money(dev_world, server, tmp_path):
    sock = tmp_path / "sim.sock"
    data = kiosk_config_data(dev_world, tmp_path, server.url)
    data["kiosk"]["control_socket"] = str(sock)
    config = tmp_path / "kiosk.toml"
    config.write_text(_toml(data), encoding="utf-8")
    listener = NotifyListener(tmp_path / "notify.sock")
    try:
        first = _start(config, listener.path, hooks=True)
        try:
            assert listener.wait_for("READY", "1", timeout=30) is not None, "no READY=1"
            assert listener.values("STATUS")[0] == "in service, idle"
            assert _pings_in_one_interval(listener) >= 2

            assert _wait_state(sock, "idle")
            _pay_150_in_coins(sock)
            assert send(sock, {"cmd": "state", "args": {}})["paid"] == 150
            assert any(s.startswith("in service, visit ") and s.endswith(" in paying") for s in listener.values("STATUS"))

            hung_at = time.monotonic()
            _command(sock, "test_hang_controller")
            expired = listener.watchdog_expired(INTERVAL, timeout=3 * INTERVAL)
            assert expired is not None, "the pings went on with the controller hung"
            last_ping = expired - INTERVAL
            assert last_ping <= hung_at + INTERVAL, "the pings went on for more than an interval after the hang"
            assert first.poll() is None and send(sock, {"cmd": "state", "args": {}})["ok"]  # alive, yet hung
        finally:
            first.send_signal(signal.SIGABRT)  # what systemd sends when WatchdogSec= runs out
            try:
                first.wait(5)
            except subprocess.TimeoutExpired:
                first.kill()  # (systemd's TimeoutStopSec= ends in SIGKILL too)
                first.wait(5)
        assert first.returncode == -signal.SIGABRT

        journal = Journal(tmp_path / "kiosk" / "journal.sqlite")
        [txn] = journal.open_transactions()
        assert journal.balance(txn).credited == 150
        journal.close()

        listener.clear()
        second = _start(config, listener.path, hooks=False)
        try:
            assert listener.wait_for("READY", "1", timeout=30) is not None, "no READY=1 after the restart"
            journal = Journal(tmp_path / "kiosk" / "journal.sqlite")  # at READY=1 recovery has settled it
            assert journal.open_transactions() == []
            journal.close()
            assert "refund owed" in listener.values("STATUS")[0]
            assert _pings_in_one_interval(listener) >= 2
            assert send(sock, {"cmd": "test_hang_controller", "args": {}}).get("ok") is not True  # hooks off
        finally:
            second.send_signal(signal.SIGTERM)
            output = second.communicate(timeout=15)[0]
        assert second.returncode == 0, output
        assert listener.times("STOPPING", "1")
    finally:
        listener.close()

    journal = Journal(tmp_path / "kiosk" / "journal.sqlite")
    balance = journal.balance(txn)
    assert balance.credited == 150 and balance.refund_owed == 150 and balance.unaccounted == 0
    assert journal.outcome(txn) is not None
    journal.close()
