"""The kiosk's tunnel at run time (WireGuard standing in for LGWAN): bring it up, watch it, restart it.

    python -m firmware.network run --network-file kiosk-vpn.toml --conf kiosk-vpn.conf --state vpn-state.json \
        --ca tls/ca.pem --cert tls/device.pem --key tls/device-key.pem

* :class:`Link` creates the interface with the kernel module when there is one (``ip link add … type
  wireguard``), else starts ``wireguard-go`` (saying which in the log), applies the plain ``wg setconf`` file,
  adds the kiosk's address and only the routes provisioning wrote (a default route is refused).
* :class:`TunnelMonitor` says the tunnel is up when the latest handshake is at most 180 s old (WireGuard's
  REJECT_AFTER_TIME) and an mTLS ``GET /v1/health`` through it answers 200.  On a failure it re-resolves the
  endpoint; after :data:`RESTART_AFTER` failures in a row it restarts the link, with a backoff (2, 4, … 60 s).
  It records ``vpn_down`` / ``vpn_up`` (with how long it was down) for the telemetry issue.
* :class:`VpnState` is the state file between them: the monitor writes ``{"up", "since", "checked_at"}``
  atomically after every check; the kiosk reads it before a visit and before taking money (readiness reason
  ``vpn``: out of service while down, back in service by itself).  A state not refreshed for
  :data:`STALE_AFTER_S` counts as down (the monitor itself may have died).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import shutil
import ssl
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

log = logging.getLogger("kiosk.network")

HANDSHAKE_MAX_AGE_S = 180.0
UAPI_DIR = Path("/var/run/wireguard")  # where wireguard-go listens for `wg` (its <interface>.sock)
RESTART_AFTER = 2
BACKOFF_S = (2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
STALE_AFTER_S = 20.0


@dataclass(frozen=True)
class TunnelSpec:
    interface: str
    address: str
    routes: tuple[str, ...]
    endpoint: str
    server_public_key: str
    health_url: str

    @classmethod
    def load(cls, path: Path) -> "TunnelSpec":
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        routes = tuple(data["routes"])
        if any(ipaddress.ip_network(r).prefixlen == 0 for r in routes):
            raise ValueError(f"{path}: a default route never goes into the kiosk's tunnel")
        return cls(data["interface"], data["address"], routes, data["endpoint"], data["server_public_key"],
                   data["health_url"])


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def interface_exists(name: str) -> bool:
    return shutil.which("ip") is not None and _run("ip", "link", "show", name).returncode == 0


class Link:
    """One WireGuard interface: up, down, handshake age, endpoint re-resolution."""

    def __init__(self, spec: TunnelSpec, conf: Path):
        self.spec, self.conf = spec, Path(conf)
        self.userspace: subprocess.Popen | None = None
        self.kind: str | None = None

    def up(self) -> str:
        name = self.spec.interface
        _run("ip", "link", "del", name)  # whatever a previous run left
        if _run("ip", "link", "add", name, "type", "wireguard").returncode == 0:
            self.kind = "kernel"
        else:
            binary = shutil.which("wireguard-go")
            if binary is None:
                raise RuntimeError("no kernel WireGuard module and no wireguard-go: apt-get install wireguard-go")
            env = dict(os.environ, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD="1", LOG_LEVEL="error")
            self.userspace = subprocess.Popen([binary, "-f", name], env=env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
            # wireguard-go makes the interface first and its control socket after: a `wg setconf` in between finds
            # no socket, falls back to the kernel and fails with "Protocol not supported" (seen under load)
            deadline = time.monotonic() + 5
            while _run("ip", "link", "show", name).returncode != 0 or not (UAPI_DIR / f"{name}.sock").exists():
                if time.monotonic() > deadline or self.userspace.poll() is not None:
                    raise RuntimeError("wireguard-go did not create the interface and its control socket "
                                       "(is /dev/net/tun there?)")
                time.sleep(0.05)
            self.kind = "wireguard-go"
        log.info("vpn link %s up with %s", name, self.kind)
        for command in (("wg", "setconf", name, str(self.conf)),
                        ("ip", "address", "add", self.spec.address, "dev", name),
                        ("ip", "link", "set", name, "up"),
                        *(("ip", "route", "replace", route, "dev", name) for route in self.spec.routes)):
            done = _run(*command)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command[:3])}: {done.stderr.strip()[:200]}")
        return self.kind

    def down(self) -> None:
        _run("ip", "link", "del", self.spec.interface)
        if self.userspace is not None:
            if self.userspace.poll() is None:
                self.userspace.terminate()
                try:
                    self.userspace.wait(5)
                except subprocess.TimeoutExpired:
                    self.userspace.kill()
                    self.userspace.wait(5)
            self.userspace = None

    def handshake_age(self, now: float | None = None) -> float | None:
        done = _run("wg", "show", self.spec.interface, "latest-handshakes")
        if done.returncode != 0:
            return None
        stamps = [int(line.split()[1]) for line in done.stdout.splitlines() if len(line.split()) == 2]
        latest = max(stamps, default=0)
        return None if latest == 0 else max(0.0, (now or time.time()) - latest)

    def reresolve(self) -> None:
        _run("wg", "set", self.spec.interface, "peer", self.spec.server_public_key, "endpoint", self.spec.endpoint)


class VpnState:
    """The state file the monitor writes and the kiosk's readiness reads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path, self.clock = Path(path), clock

    def write(self, up: bool, since: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"up": up, "since": since, "checked_at": self.clock()}), encoding="utf-8")
        os.replace(temporary, self.path)

    def is_up(self) -> bool:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return data.get("up") is True and self.clock() - float(data.get("checked_at", 0)) <= STALE_AFTER_S


def mtls_health(url: str, ca: Path, cert: Path, key: Path, timeout: float = 5.0) -> Callable[[], Awaitable[bool]]:
    import httpx

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))

    async def check() -> bool:
        try:
            async with httpx.AsyncClient(verify=context, trust_env=False, timeout=timeout) as client:
                return (await client.get(url)).status_code == 200
        except (httpx.HTTPError, OSError):
            return False

    return check


class TunnelMonitor:
    def __init__(self, link: Link, health: Callable[[], Awaitable[bool]], state: VpnState,
                 events: Callable[[str, dict], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.link, self.health, self.state, self.clock = link, health, state, clock
        self.events = events or (lambda kind, fields: log.info("%s %s", kind, fields))
        self.up = False
        self.since = clock()
        self.failures = 0
        self.restarts = 0

    async def check_once(self) -> bool:
        age = await asyncio.to_thread(self.link.handshake_age)
        ok = age is not None and age <= HANDSHAKE_MAX_AGE_S and await self.health()
        if not ok and age is None and self.up is False:  # no handshake yet: the health request starts one
            ok = await self.health() and await asyncio.to_thread(self.link.handshake_age) is not None
        now = self.clock()
        if ok != self.up:
            self.events("vpn_up" if ok else "vpn_down", {"after_s": round(now - self.since, 1)})
            self.up, self.since = ok, now
        self.failures = 0 if ok else self.failures + 1
        self.state.write(self.up, self.since)
        return ok

    async def repair(self) -> None:
        await asyncio.to_thread(self.link.reresolve)
        if self.failures >= RESTART_AFTER:
            wait = BACKOFF_S[min(self.restarts, len(BACKOFF_S) - 1)]
            self.restarts += 1
            log.warning("vpn down for %d checks: restarting the link in %.0f s", self.failures, wait)
            await asyncio.sleep(wait)
            await asyncio.to_thread(self.link.down)
            try:
                await asyncio.to_thread(self.link.up)
            except RuntimeError as exc:
                log.error("vpn link restart failed: %s", exc)

    async def run(self, every_s: float = 2.0, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            if await self.check_once():
                self.restarts = 0
            else:
                await self.repair()
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware.network", description="The kiosk's WireGuard tunnel.")
    parser.add_argument("command", choices=("run",))
    for name in ("network-file", "conf", "state", "ca", "cert", "key"):
        parser.add_argument(f"--{name}", required=True, type=Path)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between health checks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    spec = TunnelSpec.load(args.network_file)
    link = Link(spec, args.conf)
    kind = link.up()
    print(f"vpn {spec.interface} up with {kind}", flush=True)
    monitor = TunnelMonitor(link, mtls_health(spec.health_url, args.ca, args.cert, args.key), VpnState(args.state),
                            events=lambda kind, fields: print(f"{kind} {json.dumps(fields)}", flush=True))
    stop = asyncio.Event()

    async def supervise() -> None:
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await monitor.run(args.every, stop)

    try:
        asyncio.run(supervise())
    finally:
        link.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
