"""The loop that polls a serial money device (the ID-003 validator, the ccTalk acceptor).

:class:`Poller` calls the driver's ``poll`` coroutine every ``interval`` seconds, counts the polls (so tests and
self-tests can wait for "the driver has looked again" with :meth:`Poller.sync`), and calls ``on_offline(True)``
after ``offline_after`` polls in a row that got no answer, ``on_offline(False)`` on the first answer after that.
A bug in the driver's handling is logged and the polling goes on: it is what keeps the money safe.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from hal.events import DeviceError, DeviceUnavailable

log = logging.getLogger(__name__)


class Poller:
    def __init__(self, name: str, poll: Callable[[], Awaitable[None]], interval: float, offline_after: int,
                 on_offline: Callable[[bool], Awaitable[None]]):
        self.name, self.interval, self.offline_after = name, interval, offline_after
        self._poll, self._on_offline = poll, on_offline
        self._task: asyncio.Task | None = None
        self.polls = 0
        self.offline = False
        self._misses = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name} poll")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sync(self, polls: int = 2, timeout: float = 5.0) -> None:
        """Wait until ``polls`` more polls are done (a barrier for tests and self-tests)."""
        target, deadline = self.polls + polls, time.monotonic() + timeout
        while self.polls < target and self._task is not None and not self._task.done():
            if time.monotonic() > deadline:
                raise DeviceUnavailable(self.name, "the device did not answer polls in time")
            await asyncio.sleep(self.interval / 2)

    async def _run(self) -> None:
        while True:
            try:
                await self._poll()
            except DeviceUnavailable as e:
                self._misses += 1
                if self._misses >= self.offline_after and not self.offline:
                    log.error("%s", e)
                    self.offline = True
                    await self._safely(self._on_offline(True))
            except DeviceError as e:
                log.error("%s", e)
            except Exception:
                log.exception("%s: a poll failed", self.name)
            else:
                self._misses = 0
            self.polls += 1
            await asyncio.sleep(self.interval)

    async def answered(self) -> None:
        """The device answered: call from ``poll`` before handling the answer."""
        self._misses = 0
        if self.offline:
            self.offline = False
            await self._on_offline(False)

    async def _safely(self, step: Awaitable[None]) -> None:
        try:
            await step
        except Exception:
            log.exception("%s: reporting the device offline failed", self.name)
