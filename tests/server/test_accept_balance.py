"""``kiosk-server serve --workers 2`` gives each process an even share of the kiosks' connections, and a process
that stops answering does not hold new connections back (server/accept_balance.py)."""
from __future__ import annotations

import os
import signal
import threading
import time

from server.accept_balance import SLACK, STALE, ConnectionShares
from tests.support.procs import children_of, established_by_process
from tests.support.server_process import start_server, write_config_variant


def open_together(server, count: int) -> list:
    """``count`` kiosks connect in the same instant and each asks for /v1/health; their connections stay open."""
    clients = [server.client() for _ in range(count)]
    go = threading.Barrier(count)
    answers: list[int] = []

    def kiosk(client) -> None:
        go.wait()
        answers.append(client.get("/v1/health").status_code)

    threads = [threading.Thread(target=kiosk, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [200] * count
    return clients


def both_serving(server, child) -> list:
    """Connect one kiosk at a time until the child process holds one (it builds its app after the parent is
    already listening); returns those kiosks' open clients."""
    clients, deadline = [], time.monotonic() + 30
    while established_by_process([child], server.port)[child] == 0:
        assert time.monotonic() < deadline, "the second process never served"
        clients.append(server.client())
        assert clients[-1].get("/v1/health").status_code == 200
    return clients


def test_a_same_second_storm_of_kiosks_is_shared_evenly_between_the_processes(dev_dir):
    server = start_server(dev_dir, config=write_config_variant(dev_dir, "balance"), args=("--workers", "2"))
    clients = []
    try:
        (child,) = children_of(server.pid)
        clients = both_serving(server, child)
        clients += open_together(server, 40)
        held = established_by_process([server.pid, child], server.port)
        assert sum(held.values()) == len(clients), held
        assert abs(held[server.pid] - held[child]) <= SLACK, held
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_a_stopped_process_does_not_hold_new_kiosks_back(dev_dir):
    server = start_server(dev_dir, config=write_config_variant(dev_dir, "balance-stopped"), args=("--workers", "2"))
    (child,) = children_of(server.pid)
    clients = []
    try:
        clients = both_serving(server, child)
        before = established_by_process([server.pid, child], server.port)
        os.kill(child, signal.SIGSTOP)  # its loop is frozen: it neither accepts nor beats
        time.sleep(STALE + 0.5)
        started = time.monotonic()
        clients += open_together(server, 6)
        assert time.monotonic() - started < 5.0
        after = established_by_process([server.pid, child], server.port)
        assert after == {server.pid: before[server.pid] + 6, child: before[child]}
    finally:
        os.kill(child, signal.SIGCONT)
        for client in clients:
            client.close()
        server.stop()


def test_a_process_accepts_only_while_within_the_slack_of_the_least_loaded_live_one():
    shares = ConnectionShares(3)
    me, other, third = shares.slot(0), shares.slot(1), shares.slot(2)
    assert me.may_accept(7)  # alone: no other process has published
    other.publish(5)
    third.publish(3)
    assert me.fewest_elsewhere() == 3
    assert me.may_accept(3 + SLACK - 1)
    assert not me.may_accept(3 + SLACK)
    assert me.fewest_elsewhere(now=time.monotonic() + STALE + 1) is None  # both others stale: not counted
    third.publish(9)
    assert me.fewest_elsewhere() == 5
