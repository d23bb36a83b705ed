"""Benchmark: 1 and 2 server nodes behind HAProxy on one PostgreSQL — throughput, latency, CPU per issuance of the
nodes, of PostgreSQL and of the balancer itself.

Run (root: each node is a host of its own, a network namespace): ``PYTHONPATH=. .venv/bin/python
tests/bench/bench_nodes.py [--kiosks 50] [--issues 6] [--workers 1]``.  Not a test: it prints numbers and exits
non-zero only if an issuance goes wrong (2 if namespaces or HAProxy are not available here).

The same load as ``bench_server.py`` (closed-loop kiosks, each with its own mTLS certificate and resident, signed
in and quoted before the clock starts, one-page 住民票の写し with fresh transaction ids), sent to
``tests/support/lb_hosts.py``'s HAProxy (TCP mode, TLS passed through to the node).  With one node the same load
is also sent to the node directly (routed by the balancer's host, not through HAProxy): the difference, and
HAProxy's own CPU seconds per issuance, are what the balancer costs.  PostgreSQL is durable (fsync on).

On one 2-core machine two nodes share the cores that one node had: the figure to read is CPU per issuance (what a
node costs per issuance, whatever the machine), not whether two nodes are faster than one here.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from server.devinit import issue_kiosk_certificate  # noqa: E402
from tests.bench.bench_server import _load  # noqa: E402
from tests.support.lb_hosts import NODE_PORT, LoadBalancedHosts, available, lb_address  # noqa: E402
from tests.support.postgres import start_cluster  # noqa: E402
from tests.support.server_process import make_dev_world, write_config_variant  # noqa: E402
from tests.support.storm import enrol_residents, make_storm_kiosks  # noqa: E402


def _world(directory: Path, kiosks: int):
    dev = make_dev_world(directory, server_ips=(lb_address(), LoadBalancedHosts.node_address(1),
                                                LoadBalancedHosts.node_address(2)))
    tls = dev / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, "kiosk-lb-health", ca, ca_key)
    return dev, make_storm_kiosks(dev, kiosks, prefix="kiosk-bench")


def _print(label: str, result: dict, cores: int) -> int:
    cpu, n = result["cpu"], result["issuances"]
    nodes = sum(v for k, v in cpu.items() if k.startswith("node"))
    print(f"{label:24s} {n} issuances in {result['wall']:.2f} s: {result['rate']:.1f}/s, p50 {result['p50']:.0f} ms, "
          f"p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms")
    parts = ", ".join(f"{name} {seconds / n * 1000:.1f} ms" for name, seconds in cpu.items())
    total = nodes + cpu.get("postgres", 0.0) + cpu.get("haproxy", 0.0)
    print(f"{'':24s} CPU per issuance: {parts}; nodes + PostgreSQL + HAProxy {total / n * 1000:.1f} ms "
          f"(ceiling about {cores / (total / n):.0f}/s on {cores} otherwise idle cores)")
    print(f"{'':24s} share of the {cores} cores over the run: " + ", ".join(
        f"{name} {seconds / (result['wall'] * cores) * 100:.0f}%" for name, seconds in cpu.items()))
    for failure in result["failures"][:5]:
        print(f"{'':24s} FAILED {failure}")
    return len(result["failures"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--issues", type=int, default=6, help="timed issuances per kiosk")
    parser.add_argument("--workers", type=int, default=1, help="server processes per node")
    args = parser.parse_args()
    reason = available()
    if reason:
        print(f"bench_nodes: cannot run here: {reason}")
        return 2
    cores = os.cpu_count() or 1
    bad = 0
    with tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp:
        dev, kiosks = _world(Path(tmp) / "dev", args.kiosks)
        cluster = start_cluster(durable=True)
        try:
            print(f"nodes benchmark: {args.kiosks} kiosks x {args.issues} one-page issuances, {args.workers} server "
                  f"process(es) per node, PostgreSQL fsync on, {cores} cores, load average "
                  f"{os.getloadavg()[0]:.1f} at start")
            for count in (1, 2):
                url = cluster.create_database(f"nodes{count}")
                config = write_config_variant(dev, f"bench-nodes-{count}", database_url=url)
                with LoadBalancedHosts(nodes=count) as hosts:
                    nodes = [hosts.start_node(n, dev, config, workers=args.workers) for n in range(1, count + 1)]
                    enrol_residents(url, kiosks, dev / "jpki" / "ca.pem")
                    haproxy = hosts.start_haproxy(dev)
                    wanted = {f"n{n}": "UP" for n in range(1, count + 1)}
                    if hosts.wait_state(wanted) != wanted:
                        raise RuntimeError(f"HAProxy does not see every node up: {hosts.server_state()}")
                    roots = {**{f"node {i + 1}": node.pid for i, node in enumerate(nodes)}, "postgres": cluster.pid}
                    if count == 1:
                        hosts.direct_route()
                        direct = dataclasses.replace(nodes[0], url=f"https://{hosts.node_address(1)}:{NODE_PORT}")
                        print(f"(load average {os.getloadavg()[0]:.1f})")
                        bad += _print("1 node, no balancer", _load(direct, kiosks, args.issues, roots), cores)
                    via = dataclasses.replace(nodes[0], url=hosts.url)
                    print(f"(load average {os.getloadavg()[0]:.1f})")
                    bad += _print(f"{count} node{'s' if count > 1 else ''} behind HAProxy",
                                  _load(via, kiosks, args.issues, {**roots, "haproxy": haproxy.pid}), cores)
        finally:
            cluster.stop()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
