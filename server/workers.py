"""Several server processes on one listening socket: ``kiosk-server serve --workers N``.

The parent binds the socket and builds its app first (so the schema is created and the registry seeded once),
closes its database connections, then forks N-1 children.  Each child builds its OWN app — its own engine,
connection pool and thread pool — and serves the inherited socket; the kernel hands each new connection to
whichever process accepts first.  The processes share nothing but the socket and the database, which is the
point: every piece of state lives in the database (see server/models.py), so N processes behave as one.

A child asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG), so no worker outlives the server.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from typing import Callable

log = logging.getLogger("server.workers")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's stop_workers still ends the children
        pass


def fork_workers(count: int, run_child: Callable[[int], None]) -> list[int]:
    """Fork ``count`` children that each call ``run_child(n)`` (n = 1 … count; the parent is 0) and exit; returns
    their PIDs."""
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for number in range(1, count + 1):
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                _die_with_parent()
                run_child(number)
            except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
                log.exception("server worker %d failed", os.getpid())
                status = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        children.append(pid)
    log.info("started %d more server worker(s): %s", count, " ".join(map(str, children)))
    return children


def stop_workers(children: list[int], timeout: float = 10.0) -> None:
    """SIGTERM every child, wait for them, SIGKILL any still there after ``timeout``."""
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    waiting = set(children)
    while waiting:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                waiting.discard(pid)
        if waiting and time.monotonic() > deadline:
            for pid in waiting:
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        if waiting:
            time.sleep(0.05)
