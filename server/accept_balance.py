"""Even shares of kiosk connections across a node's server processes (``kiosk-server serve --workers N``).

A kiosk keeps one HTTPS connection open for hours, and HAProxy in TCP mode keeps one server connection per
kiosk, so a process's share of the work is its share of the open connections.  On one inherited socket the
kernel hands a connection to whichever process calls accept() first, and asyncio accepts every waiting connection
in one go.  In a same-second storm of 50 kiosks (``tests/bench/bench_server.py``) one of two processes did three
quarters of the work, 6.6 s of CPU against 2.2 s, while its kiosks waited and the second core idled.

So each process publishes how many connections it has open (accepted, handshaking or serving) in a small table
of shared memory made before the fork, and accepts ONE connection at a time, and only while that keeps it within
:data:`SLACK` of the least loaded live process.  A process above its share leaves the waiting connection to the
others and looks again :data:`RETRY` later; a process whose heartbeat is older than :data:`STALE` (dead, or its
loop blocked) is left out of the comparison, so a lost process never holds connections back.  The table is advice
for fairness only: a torn read costs one connection's placement, never a connection.
"""
from __future__ import annotations

import asyncio
import logging
import mmap
import os
import socket
import struct
import time
from typing import Callable

log = logging.getLogger("server.accept")

SLACK = 1  # connections a process may be ahead of the least loaded live one after an accept
RETRY = 0.005  # seconds before a process above its share looks at a waiting connection again
BEAT = 0.5  # seconds between heartbeats
STALE = 2.0  # a heartbeat older than this: the process is not counted (dead, or its loop is blocked)
_SLOT = struct.Struct("=qqd")  # pid, open connections, heartbeat (CLOCK_MONOTONIC, the same in every process)


class ConnectionShares:
    """The shared table, one slot per process; made in the parent before it forks its workers."""

    def __init__(self, processes: int):
        self.processes = processes
        self._memory = mmap.mmap(-1, _SLOT.size * processes)  # anonymous and shared: children inherit it

    def slot(self, index: int) -> "Share":
        return Share(self, index)

    def read(self, index: int) -> tuple[int, int, float]:
        return _SLOT.unpack_from(self._memory, index * _SLOT.size)

    def write(self, index: int, open_connections: int) -> None:
        _SLOT.pack_into(self._memory, index * _SLOT.size, os.getpid(), open_connections, time.monotonic())


class Share:
    """One process's slot: what it publishes, and whether it may accept now."""

    def __init__(self, shares: ConnectionShares, index: int):
        self.shares, self.index = shares, index

    def publish(self, open_connections: int) -> None:
        self.shares.write(self.index, open_connections)

    def fewest_elsewhere(self, now: float | None = None) -> int | None:
        """The fewest open connections of any other live process (None when no other is live)."""
        now = time.monotonic() if now is None else now
        counts = [count for i in range(self.shares.processes) if i != self.index
                  for pid, count, beat in (self.shares.read(i),) if pid and now - beat <= STALE]
        return min(counts) if counts else None

    def may_accept(self, open_connections: int) -> bool:
        """Publish ``open_connections`` and say whether one more keeps this process within SLACK of the others."""
        self.publish(open_connections)
        fewest = self.fewest_elsewhere()
        return fewest is None or open_connections + 1 <= fewest + SLACK


class BalancedListener:
    """Accepts from the shared socket one connection at a time while ``share`` allows, and hands each to asyncio
    (``loop.connect_accepted_socket``: TLS handshake, then ``protocol_factory``'s protocol)."""

    def __init__(self, sock: socket.socket, protocol_factory: Callable, ssl_context, share: Share,
                 serving: Callable[[], int]):
        self.sock, self.protocol_factory, self.ssl_context, self.share = sock, protocol_factory, ssl_context, share
        self.serving = serving  # connections past their handshake (uvicorn's server_state.connections)
        self.handshaking = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    def open_connections(self) -> int:
        return self.handshaking + self.serving()

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self.loop.add_reader(self.sock.fileno(), self._readable)
        self._beat()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self.loop is not None and self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
        self.share.publish(0)

    def _beat(self) -> None:
        if not self._stopped:
            self.share.publish(self.open_connections())
            self.loop.call_later(BEAT, self._beat)

    def _readable(self) -> None:
        if not self.share.may_accept(self.open_connections()):
            self._pause(RETRY)  # another process has room: leave this connection to it
            return
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another process took it, or the client gave up
        except OSError as exc:  # out of file descriptors or buffers: as asyncio does, wait a second
            log.error("accept failed (%s); trying again in 1 s", exc.strerror or exc)
            self._pause(1.0)
            return
        self.handshaking += 1
        self.share.publish(self.open_connections())
        self.loop.create_task(self._connect(conn))

    def _pause(self, seconds: float) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self._timer = self.loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self._timer = None
        if not self._stopped:
            self.loop.add_reader(self.sock.fileno(), self._readable)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            await self.loop.connect_accepted_socket(self.protocol_factory, conn, ssl=self.ssl_context)
        except (OSError, asyncio.TimeoutError) as exc:  # a failed handshake (bad certificate, peer gone): closed
            log.debug("connection not established: %s", type(exc).__name__)
            conn.close()
        finally:
            self.handshaking -= 1
