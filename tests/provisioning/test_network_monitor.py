"""firmware.network's monitor on a fake link and a fake clock: up/down with durations, re-resolution on every
failure, link restarts with backoff after RESTART_AFTER failures, and the state file the kiosk reads."""
from __future__ import annotations

import asyncio
import json

import pytest

from firmware import network
from firmware.network import TunnelMonitor, TunnelSpec, VpnState


class FakeLink:
    def __init__(self):
        self.age: float | None = 5.0
        self.calls: list[str] = []

    def handshake_age(self):
        return self.age

    def reresolve(self):
        self.calls.append("reresolve")

    def down(self):
        self.calls.append("down")

    def up(self):
        self.calls.append("up")
        return "wireguard-go"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr(network.asyncio, "sleep", sleep)
    return waits


def make(tmp_path, healthy):
    link, clock, events = FakeLink(), Clock(), []

    async def health():
        return healthy[0]

    monitor = TunnelMonitor(link, health, VpnState(tmp_path / "vpn.json", clock=clock),
                            events=lambda kind, fields: events.append((kind, fields)), clock=clock)
    return monitor, link, clock, events


def test_up_then_down_then_up_with_durations_and_the_state_file(tmp_path):
    healthy = [True]
    monitor, link, clock, events = make(tmp_path, healthy)
    assert asyncio.run(monitor.check_once()) and monitor.state.is_up()
    clock.now += 60
    healthy[0] = False
    assert not asyncio.run(monitor.check_once()) and not monitor.state.is_up()
    clock.now += 42
    healthy[0] = True
    assert asyncio.run(monitor.check_once())
    assert events == [("vpn_up", {"after_s": 0.0}), ("vpn_down", {"after_s": 60.0}), ("vpn_up", {"after_s": 42.0})]
    assert json.loads((tmp_path / "vpn.json").read_text())["up"] is True


def test_an_old_handshake_is_down_even_if_health_answers(tmp_path):
    monitor, link, clock, _ = make(tmp_path, [True])
    link.age = network.HANDSHAKE_MAX_AGE_S + 1
    assert not asyncio.run(monitor.check_once())


def test_a_stale_state_file_counts_as_down(tmp_path):
    monitor, link, clock, _ = make(tmp_path, [True])
    asyncio.run(monitor.check_once())
    clock.now += network.STALE_AFTER_S + 1  # the monitor died: nobody refreshes the file
    assert not VpnState(tmp_path / "vpn.json", clock=clock).is_up()
    assert not VpnState(tmp_path / "missing.json", clock=clock).is_up()


def test_failures_reresolve_then_restart_the_link_with_growing_backoff(tmp_path, no_backoff_sleep):
    monitor, link, clock, _ = make(tmp_path, [False])

    async def failing_checks(n):
        for _ in range(n):
            await monitor.check_once()
            await monitor.repair()

    asyncio.run(failing_checks(5))
    assert link.calls.count("reresolve") == 5
    assert link.calls.count("down") == link.calls.count("up") == 4  # from the 2nd failure on
    assert no_backoff_sleep == list(network.BACKOFF_S[:4])


def test_a_default_route_in_the_network_file_is_refused(tmp_path):
    path = tmp_path / "kiosk-vpn.toml"
    path.write_text('interface = "kiosk-vpn"\naddress = "10.77.0.2/32"\nroutes = ["0.0.0.0/0"]\n'
                    'endpoint = "10.99.0.1:51820"\nserver_public_key = "x"\nhealth_url = "https://10.77.0.1/v1/health"\n')
    with pytest.raises(ValueError, match="default route"):
        TunnelSpec.load(path)


def test_wireguard_go_is_configured_only_once_its_control_socket_is_there(tmp_path, monkeypatch):
    """wireguard-go makes the interface first and its control socket after; `wg setconf` in between falls back to
    the kernel and fails ("Protocol not supported", seen in a loaded `make test`).  A unit test of Link: the
    commands are recorded, the socket appears 0.3 s after the interface."""
    import threading
    import time

    calls: list[tuple[float, tuple]] = []
    socket_at: list[float] = []

    class Done:
        def __init__(self, code):
            self.returncode, self.stderr = code, ""

    def run(*command):
        calls.append((time.monotonic(), command))
        if command[:3] == ("ip", "link", "add"):
            return Done(1)  # no kernel WireGuard
        if command[:2] == ("wg", "setconf") and not (tmp_path / "wg0.sock").exists():
            return Done(1)
        return Done(0)

    class FakeWireguardGo:
        def __init__(self, *args, **kwargs):
            def later():
                time.sleep(0.3)
                (tmp_path / "wg0.sock").touch()
                socket_at.append(time.monotonic())
            threading.Thread(target=later, daemon=True).start()

        def poll(self):
            return None

    monkeypatch.setattr(network, "_run", run)
    monkeypatch.setattr(network, "UAPI_DIR", tmp_path)
    monkeypatch.setattr(network.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(network.subprocess, "Popen", FakeWireguardGo)
    spec = TunnelSpec(interface="wg0", address="10.77.0.2/32", routes=("10.77.0.1/32",), endpoint="server:51820",
                      server_public_key="k" * 43 + "=", health_url="https://10.77.0.1:8443/v1/health")
    assert network.Link(spec, tmp_path / "wg0.conf").up() == "wireguard-go"
    setconf_at = next(at for at, command in calls if command[:2] == ("wg", "setconf"))
    assert socket_at and setconf_at >= socket_at[0]
