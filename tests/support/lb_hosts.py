"""Several server nodes behind HAProxy, each node a host of its own (a network namespace), for the multi-node test
and benchmark.

    with LoadBalancedHosts(nodes=2) as hosts:      # namespaces lb<pid>-lb, lb<pid>-n1, lb<pid>-n2 (+ a counter)
        node = hosts.start_node(1, dev, config)    # kiosk-server serve on 10.214.X.11:8443 inside lb<pid>-n1
        hosts.start_haproxy(dev)                   # TCP mode, TLS passed through, on hosts.address:8443
        server_url = hosts.url                     # what kiosks connect to (from this, the root namespace)
        hosts.server_state()                       # {"n1": "UP", "n2": "DOWN"} from HAProxy's stats socket

The kiosks (this process) reach the balancer over a veth pair (10.213.X.2 here, 10.213.X.1 the balancer, X from
the PID); the balancer reaches the nodes over a bridge in its namespace (10.214.X.1, the nodes 10.214.X.1N).  TLS
is not ended at the balancer: it forwards TCP, so the node checks the kiosk's certificate and the kiosk id still
comes from the verified certificate.  HAProxy checks each node with an mTLS ``GET /v1/health`` (a certificate of
its own from the city CA) every 500 ms and takes a node out after two failures: a dead node refuses the check's
connection at once, so it is out within a second; a node busy with a storm has 3 s to answer.  The database is
the test's PostgreSQL cluster, reached through its Unix socket (a file path: namespaces do not separate the file
system).  ``direct_route`` lets this namespace reach the nodes without HAProxy (routed by the balancer's host).

Every process started here is stopped by its PID on exit, then whatever still runs in the namespaces (``ip netns
pids``), then the namespaces are deleted, which removes their interfaces.  :func:`available` says whether this
machine allows it (root, ``ip netns``, haproxy).
"""
from __future__ import annotations

import csv
import io
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.server_process import ServerProcess, start_server

NODE_PORT = LB_PORT = 8443
_counter = itertools.count(1)


def available() -> str | None:
    """None when namespaces and HAProxy can be used here, else why not (for the skip message)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "haproxy"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/bootstrap.sh installs haproxy and iproute2)"
    probe = f"lb{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add is not permitted here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def lb_address() -> str:
    """The balancer's address as the kiosks see it (goes into the server certificate: TLS ends at the nodes)."""
    return f"10.213.{os.getpid() % 250}.1"


def node_subnet() -> str:
    """The nodes' network (a /24, unique by PID: the root namespace may route to it, see ``direct_route``)."""
    return f"10.214.{os.getpid() % 250}"


class LoadBalancedHosts:
    def __init__(self, nodes: int = 2):
        tag = f"{os.getpid()}{next(_counter)}"
        self.count = nodes
        self.ns = {"lb": f"lb{tag}-lb", **{f"n{i}": f"lb{tag}-n{i}" for i in range(1, nodes + 1)}}
        self.kiosk_link = f"lb{tag}k"  # the one interface in the root namespace: its name is unique by PID
        self.address = lb_address()
        self.url = f"https://{self.address}:{LB_PORT}"
        self.work = Path(tempfile.mkdtemp(prefix=f"lb{tag}-"))
        self.nodes: dict[int, ServerProcess] = {}
        self.haproxy: subprocess.Popen | None = None

    @staticmethod
    def node_address(n: int) -> str:
        return f"{node_subnet()}.{10 + n}"

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)

    def __enter__(self) -> "LoadBalancedHosts":
        try:
            for name in self.ns.values():
                self._ip("netns", "add", name)
            lb = self.ns["lb"]
            for name in self.ns.values():
                self._ip("-n", name, "link", "set", "lo", "up")
            # kiosks (root namespace) <-> balancer
            self._ip("link", "add", self.kiosk_link, "type", "veth", "peer", "name", "kiosks", "netns", lb)
            subnet = self.address.rsplit(".", 1)[0]
            self._ip("address", "add", f"{subnet}.2/24", "dev", self.kiosk_link)
            self._ip("link", "set", self.kiosk_link, "up")
            self._ip("-n", lb, "address", "add", f"{self.address}/24", "dev", "kiosks")
            self._ip("-n", lb, "link", "set", "kiosks", "up")
            # balancer <-> nodes: a bridge in the balancer's namespace, a veth pair per node
            self._ip("-n", lb, "link", "add", "nodes", "type", "bridge")
            self._ip("-n", lb, "address", "add", f"{node_subnet()}.1/24", "dev", "nodes")
            self._ip("-n", lb, "link", "set", "nodes", "up")
            for n in range(1, self.count + 1):
                node = self.ns[f"n{n}"]
                self._ip("-n", lb, "link", "add", f"to-n{n}", "type", "veth", "peer", "name", "eth0", "netns", node)
                self._ip("-n", lb, "link", "set", f"to-n{n}", "master", "nodes")
                self._ip("-n", lb, "link", "set", f"to-n{n}", "up")
                self._ip("-n", node, "address", "add", f"{self.node_address(n)}/24", "dev", "eth0")
                self._ip("-n", node, "link", "set", "eth0", "up")
                self._ip("-n", node, "route", "add", "default", "via", f"{node_subnet()}.1")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def direct_route(self) -> None:
        """Let this (root) namespace reach the nodes themselves, routed by the balancer's host (not through HAProxy):
        for measuring what the balancer costs."""
        subprocess.run([*self.exec_prefix("lb"), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True,
                       capture_output=True)
        self._ip("route", "add", f"{node_subnet()}.0/24", "via", self.address, "dev", self.kiosk_link)

    def exec_prefix(self, host: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.ns[host])

    def start_node(self, n: int, dev_dir: Path, config: Path, workers: int = 1) -> ServerProcess:
        """``kiosk-server serve`` on node n's own address (a restart after a kill reuses the node's host)."""
        node = start_server(dev_dir, config=config, command=self.exec_prefix(f"n{n}"),
                            args=("--host", self.node_address(n), "--port", str(NODE_PORT), "--workers", str(workers)))
        self.nodes[n] = node
        return node

    def kill_node(self, n: int) -> None:
        """The node is lost: SIGKILL, no goodbye to anyone (its in-flight requests die with it)."""
        node = self.nodes[n]
        os.kill(node.pid, signal.SIGKILL)
        node.process.wait(10)
        for pid in subprocess.run(["ip", "netns", "pids", self.ns[f"n{n}"]], capture_output=True,
                                  text=True).stdout.split():  # its forked workers, if any
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    @property
    def stats_socket(self) -> Path:
        return self.work / "haproxy.sock"

    def start_haproxy(self, dev_dir: Path, *, check_interval_ms: int = 500) -> subprocess.Popen:
        health = self.work / "health.pem"  # HAProxy's own client certificate + key for its checks
        health.touch(mode=0o600)
        health.write_bytes((dev_dir / "tls" / "kiosk-lb-health.pem").read_bytes()
                           + (dev_dir / "tls" / "kiosk-lb-health-key.pem").read_bytes())
        every = f"{check_interval_ms}ms"
        timing = f"inter {every} fastinter {every} downinter {every} fall 2 rise 2"
        servers = "\n".join(f"    server n{n} {self.node_address(n)}:{NODE_PORT}" for n in range(1, self.count + 1))
        config = self.work / "haproxy.cfg"
        config.write_text(f"""global
    maxconn 4096
    stats socket {self.stats_socket} mode 600 level admin

defaults
    mode tcp
    timeout connect 1s
    timeout client 120s
    timeout server 120s
    timeout check 3s
    retries 3
    option redispatch 1

frontend kiosks
    bind {self.address}:{LB_PORT}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /v1/health ver HTTP/1.1 hdr Host {self.address}
    http-check expect status 200
    default-server check check-ssl verify required ca-file {dev_dir / 'tls' / 'ca.pem'} crt {health} {timing}
{servers}
""", encoding="utf-8")
        checked = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration: {checked.stdout}{checked.stderr}")
        log = open(self.work / "haproxy.log", "wb")
        self.haproxy = subprocess.Popen([*self.exec_prefix("lb"), "haproxy", "-db", "-f", str(config)],
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while not self.stats_socket.exists():
            if self.haproxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("haproxy did not start: " + (self.work / "haproxy.log").read_text(errors="replace"))
            time.sleep(0.05)
        return self.haproxy

    def server_state(self) -> dict[str, str]:
        """Each node's status as HAProxy sees it ("UP", "DOWN", ...), from its stats socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stats:
            stats.settimeout(5)
            stats.connect(str(self.stats_socket))
            stats.sendall(b"show stat\n")
            data = b""
            while chunk := stats.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {row["svname"]: row["status"].split()[0] for row in rows
                if row["pxname"] == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_state(self, wanted: dict[str, str], timeout: float = 15.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.server_state()
            if all(state.get(k) == v for k, v in wanted.items()) or time.monotonic() > deadline:
                return state
            time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        for node in self.nodes.values():
            node.stop()
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait(10)
        for name in self.ns.values():  # anything still running in a namespace is stopped by its PID
            for pid in subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        subprocess.run(["ip", "link", "del", self.kiosk_link], capture_output=True)
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)
