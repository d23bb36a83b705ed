"""Telemetry end to end, over the real HTTPS with mTLS: the kiosk's outbox loses nothing and sends nothing twice
across an outage and two kills; remote commands from the city hold the kiosk, release it and silence the staff
beacon; no personal data reaches the outbox or the server's events.

The telemetry server here has a database of its own (``telemetry-e2e.db``) and every test a kiosk certificate
of its own (``kiosk-tele2e-NN``), so the sequence numbers checked are exactly this test's.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hal.simcontrol import send
from server.db import open_database
from server.models import Household, Resident, CitizenCard
from server.models_telemetry import KioskCommand, KioskSummary, TelemetryEvent
from server.telemetry import create_command
from tests.support.kiosk_session import KioskSession, kiosk_config_data
from tests.support.powercut import _toml
from tests.support.server_process import start_server, write_config_variant
from tests.support.storm import make_storm_kiosks

REPO = Path(__file__).resolve().parents[2]
FAST = {"send_every_s": 0.2, "watch_every_s": 0.2, "gauge_every_s": 1.0}


@pytest.fixture(scope="module")
def telemetry_server(dev_world):
    config = write_config_variant(dev_world, "telemetry-e2e", database="telemetry-e2e.db")
    process = start_server(dev_world, config=config)
    sessions = open_database(f"sqlite:///{dev_world / 'telemetry-e2e.db'}")
    yield process, sessions
    sessions.kw["bind"].dispose()
    process.stop()


@pytest.fixture(scope="module")
def kiosk_ids(dev_world):
    return [k.kiosk_id for k in make_storm_kiosks(dev_world, 4, prefix="kiosk-tele2e")]


def config_for(dev_world, work: Path, url: str, kiosk: str, **more) -> dict:
    tls = dev_world / "tls"
    return kiosk_config_data(dev_world, work, url, **{"kiosk.id": kiosk, "server.client_cert": str(tls / f"{kiosk}.pem"),
                                                        "server.client_key": str(tls / f"{kiosk}-key.pem"),
                                                        "telemetry": dict(FAST)}, **more)


def dead_url() -> str:
    """An https URL on a loopback port nobody listens on: the link is cut."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{s.getsockname()[1]}"


def outbox_rows(work: Path) -> list[tuple]:
    db = sqlite3.connect(f"file:{work / 'kiosk' / 'telemetry.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT seq, boot_id, monotonic_ms, kind FROM events ORDER BY seq").fetchall()
    finally:
        db.close()


def server_rows(sessions, kiosk: str) -> list[tuple]:
    with sessions() as db:
        return [(e.seq, e.boot_id, e.monotonic_ms, e.kind) for e in db.scalars(
            select(TelemetryEvent).where(TelemetryEvent.kiosk_id == kiosk).order_by(TelemetryEvent.seq))]


def until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:g} s: {what}")


class KioskProcess:
    def __init__(self, config: Path, sock: Path):
        self.sock = sock
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.output = config.with_suffix(f".{time.monotonic_ns()}.out")
        with open(self.output, "w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                             "--headless"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        until(lambda: self.state() in ("idle", "out_of_service"), 30, "the kiosk process is up")

    def state(self) -> str | None:
        try:
            return send(self.sock, {"cmd": "state", "args": {}}, timeout=2).get("state")
        except (OSError, ConnectionError, ValueError):
            return None

    def do(self, cmd: str, **args) -> None:
        assert send(self.sock, {"cmd": cmd, "args": args}).get("ok"), cmd
        time.sleep(0.3)  # (the watcher looks every 0.2 s)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)  # a power cut: no clean stop
        self.process.wait(10)


def test_events_queued_through_an_outage_and_two_kills_arrive_once_and_in_order(dev_world, telemetry_server,
                                                                                kiosk_ids, tmp_path):
    _, sessions = telemetry_server
    kiosk, sock, config = kiosk_ids[0], tmp_path / "sim.sock", tmp_path / "kiosk.toml"
    cut = config_for(dev_world, tmp_path, dead_url(), kiosk, **{"kiosk.control_socket": str(sock)})
    config.write_text(_toml(cut), encoding="utf-8")

    first = KioskProcess(config, sock)
    for command in ("paper_low", "staff_call", "door_open", "door_close", "open_cashbox", "close_cashbox",
                    "open_cover", "close_cover"):
        first.do(command)
    time.sleep(1.0)  # the sender tries (and fails) a few times
    first.kill()
    queued_first = outbox_rows(tmp_path)
    kinds = [row[3] for row in queued_first]
    for kind in ("kiosk_started", "paper_low", "staff_call", "door_opened", "door_closed", "cash_box_removed",
                 "cover_open", "out_of_service"):
        assert kind in kinds, kinds
    assert [row[0] for row in queued_first] == list(range(1, len(queued_first) + 1))

    second = KioskProcess(config, sock)  # killed again with events queued, the link still cut
    second.do("staff_call")
    second.do("paper_out")
    time.sleep(1.0)
    second.kill()
    queued = outbox_rows(tmp_path)
    assert queued[:len(queued_first)] == queued_first and len(queued) > len(queued_first) + 2
    assert {row[1] for row in queued} == {queued[0][1]}  # (one machine boot: the kernel's boot id)
    assert server_rows(sessions, kiosk) == []

    config.write_text(_toml({**cut, "server": {**cut["server"], "url": telemetry_server[0].url}}), encoding="utf-8")
    third = KioskProcess(config, sock)  # the link is back
    try:
        until(lambda: not outbox_rows(tmp_path), 30, "the outbox drains")
        stored = server_rows(sessions, kiosk)
    finally:
        third.kill()
    assert stored[:len(queued)] == queued  # every queued event, once, in order, unchanged
    assert [row[0] for row in stored] == list(range(1, len(stored) + 1))  # 0 lost, 0 duplicated
    with sessions() as db:
        summary = db.get(KioskSummary, kiosk)
        assert summary.last_seq >= len(queued) and summary.backlog == 0
        assert "printer:paper_out" in summary.open_faults or summary.in_service is False


def test_remote_commands_hold_release_and_silence_the_beacon(dev_world, telemetry_server, kiosk_ids, tmp_path):
    server, sessions = telemetry_server
    kiosk = kiosk_ids[1]
    data = config_for(dev_world, tmp_path, server.url, kiosk)

    def command(kind: str) -> int:
        with sessions() as db:
            return create_command(db, kiosk, kind, "S0042")[0].command_id

    async def done(command_id: int) -> KioskCommand:
        for _ in range(150):
            with sessions() as db:
                row = db.get(KioskCommand, command_id)
            if row.done_at is not None:
                return row
            await asyncio.sleep(0.1)
        raise AssertionError(f"command {command_id} was not reported done")

    async def main():
        async with KioskSession(data, tmp_path) as k:
            await k.wait("idle", 10)
            out = command("out_of_service")
            await k.wait("out_of_service", 15)
            assert k.kiosk.view.out_of_service_reason == "remote_hold"
            assert (await done(out)).outcome == "done"
        async with KioskSession(data, tmp_path) as k:  # the city's hold survives a restart
            await asyncio.sleep(1.0)
            assert k.state.value == "out_of_service" and k.kiosk.view.out_of_service_reason == "remote_hold"
            back = command("back_in_service")
            await k.wait("idle", 15)
            assert (await done(back)).outcome == "done"
            await k.do("staff_call")
            assert k.devices.signals.beacon()
            for _ in range(100):
                with sessions() as db:
                    if db.get(KioskSummary, kiosk).staff_call_since is not None:
                        break
                await asyncio.sleep(0.1)
            ack = command("ack_staff_call")
            row = await done(ack)
            assert row.outcome == "done" and not k.devices.signals.beacon()
            assert "remote.command" in k.audit.ids()
        with sessions() as db:
            assert db.get(KioskSummary, kiosk).staff_call_since is None
            assert db.get(KioskSummary, kiosk).in_service is True

    asyncio.run(main())


APPLICANT_PHONE = "080-2468-1357"


def _personal(sessions) -> list[str]:
    texts = []
    with sessions() as db:
        for r in db.scalars(select(Resident)):
            texts += [r.family_name + r.given_name, f"{r.family_name} {r.given_name}", r.family_name, r.my_number,
                      r.domicile, r.birth_date.isoformat()]
        texts += [h.address for h in db.scalars(select(Household))]
        texts += [c.card_id for c in db.scalars(select(CitizenCard))]
    return sorted({t for t in texts if t and len(t) >= 2})


def test_no_personal_data_in_the_outbox_or_the_servers_events_after_visits(dev_world, telemetry_server, kiosk_ids,
                                                                           tmp_path):
    server, sessions = telemetry_server
    kiosk = kiosk_ids[2]
    data = config_for(dev_world, tmp_path, server.url, kiosk, **{"kiosk.applications": True})

    async def main():
        async with KioskSession(data, tmp_path) as k:
            await k.wait("idle", 10)
            await k.to_payment()
            for _ in range(2):
                await k.do("insert_coin", value=100)
            await k.do("cancel")  # refunded
            await k.wait("return_card")
            await k.do("lift_card")
            await k.wait("take_items")
            await k.do("take_change")
            await k.wait("idle")
            await k.to_payment()
            for _ in range(3):
                await k.do("insert_coin", value=100)
            await k.wait("return_card")
            await k.do("lift_card")
            await k.wait("take_items")
            await k.do("take_document")
            await k.wait("idle")
            await k.sign_in()  # an e-application: the phone number is the resident's (issue #15)
            while not k.kiosk.view.services or k.kiosk.view.busy:
                await asyncio.sleep(0.01)
            await k.do("service", service="water_notice")
            await k.wait("options")
            day = next(f for f in k.kiosk.view.form["fields"] if f["name"] == "date")["choices"][0]["value"]
            await k.do("form", answers={"notice": "start", "date": day, "phone": APPLICANT_PHONE})
            await k.wait("confirm")
            await k.do("confirm")
            await k.wait("return_card")
            await k.do("lift_card")
            await k.wait("take_items")
            await k.do("take_document")
            await k.wait("idle")
            await k.do("place_card", card="citizen-a")
            await k.wait("pin")
            await k.do("enter_pin", pin="2580")
            await k.wait("menu")
            await k.do("staff_call")
            await k.do("cancel")
            await k.wait("return_card")
            await k.do("lift_card")
            await k.wait("idle")
            await asyncio.sleep(1.0)
            k.parts.telemetry.outbox.add_gauges(k.parts.telemetry.gauges())  # a gauge sample after the visits

    asyncio.run(main())
    stored = b"".join(p.read_bytes() for p in (tmp_path / "kiosk").iterdir() if p.name.startswith("telemetry.sqlite"))
    with sessions() as db:
        sent = repr([(e.kind, e.fields) for e in db.scalars(select(TelemetryEvent)
                                                              .where(TelemetryEvent.kiosk_id == kiosk))])
        sent += repr(db.get(KioskSummary, kiosk).gauges)
    assert "staff_call" in sent and "kiosk_started" in sent  # the scan does see the events
    personal = _personal(sessions) + [APPLICANT_PHONE, APPLICANT_PHONE.replace("-", "")]
    assert len(personal) > 20
    for text in personal:
        assert text not in sent, text
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert text.encode(encoding) not in stored, (text, encoding)


def test_vpn_down_and_up_from_the_tunnel_monitors_state_file_reach_the_city(dev_world, telemetry_server, kiosk_ids,
                                                                           tmp_path):
    from firmware.network import VpnState

    server, sessions = telemetry_server
    kiosk, state = kiosk_ids[3], VpnState(tmp_path / "vpn-state.json")
    state.write(True, time.time())
    data = config_for(dev_world, tmp_path, server.url, kiosk, **{"network.vpn_state": str(state.path)})

    async def main():
        async with KioskSession(data, tmp_path) as k:
            await k.wait("idle", 10)
            await asyncio.sleep(0.5)
            state.write(False, time.time())  # the monitor saw the tunnel go down (telemetry still reaches the
            await k.wait("out_of_service", 15)  # server here: loopback, no tunnel in this test)
            assert k.kiosk.view.out_of_service_reason == "vpn"
            state.write(True, time.time())
            await k.wait("idle", 15)
            for _ in range(100):
                kinds = [row[3] for row in server_rows(sessions, kiosk)]
                if "vpn_up" in kinds[kinds.index("vpn_down") if "vpn_down" in kinds else len(kinds):]:
                    return kinds
                await asyncio.sleep(0.1)
            raise AssertionError(f"vpn_down then vpn_up not stored: {kinds}")

    kinds = asyncio.run(main())
    down = kinds.index("vpn_down")
    assert "out_of_service" in kinds[down:] and "vpn_up" in kinds[down:]
    with sessions() as db:
        assert db.get(KioskSummary, kiosk).vpn_up is True
