"""At most ``limit`` requests inside the app at once per server process; the rest wait for a place, in the event loop.

A request holds its database connection from its first query to its last step, and between its steps (the
dependencies, the body, the handler: each a trip to the thread pool) it waits for a thread.  With more requests
inside than connections, a request that holds a thread can wait for a connection that a request waiting for a
thread holds: a storm of 50 kiosks stalled that way until the pool's timeout.  Letting in no more requests than
there are connections and threads (server.db.REQUEST_THREADS) makes that impossible; the others wait in the event
loop, costing nothing, in the order they came.  A request leaves once its answer starts: sending it takes no
thread from the pool (its session is closed on a thread of its own), so a slow link holds no place.
"""
from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class Admission:
    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.places = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.places.acquire()
        held = True

        def leave() -> None:
            nonlocal held
            if held:
                held = False
                self.places.release()

        async def send_and_leave(message) -> None:
            if message["type"] == "http.response.start":
                leave()  # the answer is made: sending it (to a slow kiosk, a large update file) needs no thread
            await send(message)

        try:
            await self.app(scope, receive, send_and_leave)
        finally:
            leave()
