"""Two network namespaces joined by a veth pair (the "city network"), made and removed by the tests.

    with NetPair() as net:            # ns names unique per process; 10.99.0.1 (server) <-> 10.99.0.2 (kiosk)
        net.run("server", "ip", "addr")
        proc = net.popen("kiosk", sys.executable, "-m", ...)
        net.cut() / net.mend()        # the link goes down / comes back (the veth's kiosk end)

Every process started with :meth:`popen` is stopped by its PID on exit, then the namespaces are deleted (which
removes their interfaces).  Addresses exist only inside these namespaces.  :func:`available` says whether this
machine lets us make them (root, ``ip netns``, /dev/net/tun, wireguard-go, wg)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid

SERVER_IP, KIOSK_IP = "10.99.0.1", "10.99.0.2"


def available() -> str | None:
    """None when namespaces + wireguard-go can be used here, else why not (for the skip message)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "wg", "wireguard-go"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/bootstrap.sh installs wireguard-go wireguard-tools iproute2)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (wireguard-go needs it)"
    probe = f"kp-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add is not permitted here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class NetPair:
    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.names = {"server": f"kp-srv-{tag}", "kiosk": f"kp-ksk-{tag}"}
        self.veth = {"server": f"vs{tag}", "kiosk": f"vk{tag}"}
        self.processes: list[subprocess.Popen] = []

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def __enter__(self) -> "NetPair":
        for name in self.names.values():
            self._ip("netns", "add", name)
        self._ip("link", "add", self.veth["server"], "type", "veth", "peer", "name", self.veth["kiosk"])
        for side, address in (("server", SERVER_IP), ("kiosk", KIOSK_IP)):
            self._ip("link", "set", self.veth[side], "netns", self.names[side])
            self.run(side, "ip", "link", "set", "lo", "up")
            self.run(side, "ip", "address", "add", f"{address}/24", "dev", self.veth[side])
            self.run(side, "ip", "link", "set", self.veth[side], "up")
        return self

    def command(self, side: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.names[side], *args]

    def run(self, side: str, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(side, *args), check=check, capture_output=True, text=True,
                              timeout=kwargs.pop("timeout", 120), **kwargs)

    def popen(self, side: str, *args: str, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(self.command(side, *args), **kwargs)
        self.processes.append(process)
        return process

    def cut(self) -> None:
        self.run("kiosk", "ip", "link", "set", self.veth["kiosk"], "down")

    def mend(self) -> None:
        self.run("kiosk", "ip", "link", "set", self.veth["kiosk"], "up")

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(10)
        for name in self.names.values():
            # what the test's processes started on their own (wireguard-go daemonised by firmware.network, whose
            # monitor a test may have killed) lives on in the namespace: stopped by PID too, or its control socket
            # (/var/run/wireguard/<interface>.sock, shared by every namespace) breaks the next run's tunnel
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
