"""A TCP proxy on the loopback interface that adds a fixed round-trip time, as a long line (LGWAN) would: every
chunk is passed on ``rtt_s / 2`` after it arrived, in each direction, in order.  So each HTTP request and its
reply take ``rtt_s`` longer, and a new TLS connection one ``rtt_s`` more for its handshake (the TCP handshake
to the proxy itself is not delayed).  For benchmarks and tests only.

Bounded: loopback addresses only (listening and upstream), at most ``max_connections`` at once (more are
closed at once), and at most ``max_chunks`` chunks in flight per direction (the reader waits beyond that).
It runs on an event loop of its own, in a thread, so it takes no time from the loop it measures.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading

CHUNK = 65536


class LatencyProxy:
    def __init__(self, upstream_port: int, rtt_s: float = 0.030, *, upstream_host: str = "127.0.0.1",
                 max_connections: int = 32, max_chunks: int = 64):
        if not ipaddress.ip_address(upstream_host).is_loopback:
            raise ValueError("the latency proxy forwards to the loopback interface only")
        if not 0 <= rtt_s <= 1.0:
            raise ValueError("rtt_s must be between 0 and 1 s")
        self.upstream = (upstream_host, upstream_port)
        self.delay_s = rtt_s / 2
        self.max_connections, self.max_chunks = max_connections, max_chunks
        self.port = 0
        self.connections = 0  # open now
        self.refused = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    # ---- life cycle (from the caller's thread) -----------------------------------------------------------

    def __enter__(self) -> "LatencyProxy":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._listen())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="latency-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the latency proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # ---- the proxy (on its own loop) ---------------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, client_reader, client_writer) -> None:
        if self.connections >= self.max_connections:
            self.refused += 1
            client_writer.close()
            return
        self.connections += 1
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            self.connections -= 1
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            self.connections -= 1
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Pass each chunk on ``delay_s`` after it arrived; end (half-close) when the reader ends."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(self.max_chunks)

        async def read():
            try:
                while data := await reader.read(CHUNK):
                    await queue.put((loop.time() + self.delay_s, data))
            finally:
                with contextlib.suppress(asyncio.QueueFull):  # (cancelled with a full queue: the writer is gone)
                    queue.put_nowait((loop.time() + self.delay_s, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await reading
