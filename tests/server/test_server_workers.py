"""``kiosk-server serve --workers 2``: two processes on one socket and one database, and no worker outlives the
server (stopped with SIGTERM, or killed outright)."""
from __future__ import annotations

import os
import signal
import time

from tests.support.procs import alive, children_of
from tests.support.server_process import sign_in, start_server, write_config_variant


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_two_workers_serve_one_socket_and_stop_together(dev_dir):
    server = start_server(dev_dir, config=write_config_variant(dev_dir, "workers"), args=("--workers", "2"))
    try:
        workers = children_of(server.pid)
        assert len(workers) == 1, workers
        sessions = []
        for _ in range(8):  # fresh connections: the kernel hands each to whichever process accepts
            with server.client() as http:
                sessions.append(sign_in(http, dev_dir, "resident-a")["session_token"])
                assert http.get("/v1/menu", headers={"Authorization": f"Bearer {sessions[0]}"}).status_code == 200
        assert len(set(sessions)) == 8
    finally:
        server.stop()
    assert gone(workers), "a worker outlived the server"
    assert "Traceback" not in server.log_text()


def test_a_killed_server_takes_its_workers_with_it(dev_dir):
    server = start_server(dev_dir, config=write_config_variant(dev_dir, "workers-kill"), args=("--workers", "2"))
    workers = children_of(server.pid)
    try:
        assert len(workers) == 1
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(10)
        assert gone(workers), "a worker outlived its killed parent"
    finally:
        server.stop()
        for pid in workers:
            if not gone([pid], 0.1):
                os.kill(pid, signal.SIGKILL)
