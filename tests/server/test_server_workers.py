"""``kiosk-server serve --workers 2``: two processes on one socket and one database, and no worker outlives the
server (stopped with SIGTERM, or killed outright)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.support.server_process import sign_in, start_server, write_config_variant


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.05)
    return False


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
