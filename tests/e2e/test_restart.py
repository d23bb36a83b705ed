"""Power dies after money was credited and before printing: on restart the journal settles the transaction."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from firmware.journal import Journal
from hal.simcontrol import send
from tests.support.kiosk_session import kiosk_config_data

REPO = Path(__file__).resolve().parents[2]


def _toml(data: dict, prefix: str = "") -> str:
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict) and not all(not isinstance(v, dict) for v in value.values()) or (
                isinstance(value, dict) and key not in ("stock",)):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_value(value)}")
    out = ([f"[{prefix}]"] if prefix and lines else []) + lines
    for key, value in tables:
        out.append(_toml(value, f"{prefix}.{key}" if prefix else key))
    return "\n".join(out) + "\n"


def _value(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _start_kiosk(config: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config), "--headless"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _command(sock: Path, cmd: str, **args) -> dict:
    reply = send(sock, {"cmd": cmd, "args": args})
    assert reply.get("ok"), reply
    return reply


def _wait_state(sock: Path, state: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if send(sock, {"cmd": "state", "args": {}}).get("state") == state:
                return True
        except (OSError, ConnectionError):
            pass
        time.sleep(0.05)
    return False


def _pay_150_in_coins(sock: Path) -> None:
    """Drive the headless kiosk from idle to paying for 住民票の写し and put in 100 + 50 yen."""
    _command(sock, "place_card", card="resident-a")
    assert _wait_state(sock, "pin")
    _command(sock, "enter_pin", pin="1234")
    assert _wait_state(sock, "menu")
    _command(sock, "choose", certificate="residence_record_copy")
    assert _wait_state(sock, "options")
    _command(sock, "options", copies=1)
    assert _wait_state(sock, "confirm")
    _command(sock, "confirm")
    assert _wait_state(sock, "paying")
    _command(sock, "insert_coin", value=100)
    _command(sock, "insert_coin", value=50)


def test_kill_after_credit_before_printing_settles_as_refund_owed(dev_world, server, tmp_path):
    sock = tmp_path / "sim.sock"
    data = kiosk_config_data(dev_world, tmp_path, server.url)
    data["kiosk"]["control_socket"] = str(sock)
    config = tmp_path / "kiosk.toml"
    config.write_text(_toml(data), encoding="utf-8")

    first = _start_kiosk(config)
    try:
        assert _wait_state(sock, "idle")
        _pay_150_in_coins(sock)
        assert send(sock, {"cmd": "state", "args": {}})["paid"] == 150
    finally:
        os.kill(first.pid, signal.SIGKILL)  # the power cut
        first.wait(10)

    journal = Journal(tmp_path / "kiosk" / "journal.sqlite")
    [txn] = journal.open_transactions()
    assert journal.balance(txn).credited == 150
    journal.close()

    second = _start_kiosk(config)
    try:
        reached = _wait_state(sock, "idle")
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=15)[0]
    assert reached, output
    assert second.returncode == 0, output

    journal = Journal(tmp_path / "kiosk" / "journal.sqlite")
    assert journal.open_transactions() == []
    balance = journal.balance(txn)
    assert balance.refund_owed == 150 and balance.unaccounted == 0
    assert journal.outcome(txn) is not None
    journal.close()
