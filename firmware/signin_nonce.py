"""A sign-in nonce fetched before the card is placed (protocol version 2), so the resident never waits for it.

The server's rules stay whole: the nonce is issued to this kiosk only, expires (``expires_in_s`` from the reply,
60 s by default) and is spent by the first sign-in that names it.  The kiosk adds its own: it hands a nonce out
once (:meth:`NonceKeeper.take` forgets it), only while at least ``margin_s`` of its life is left (the card signs
and the request travels in that time), and it fetches the next one ``refresh_lead_s`` before that, so one is
ready whenever a card is placed.  If the server refuses a prefetched nonce anyway (it restarted, its clock
jumped, someone spent it), the sign-in asks for a fresh challenge and the card signs again: the PIN was verified
once and is not asked for, or tried, again (:func:`firmware.operations.sign_in_my_number`).

Times are the kiosk's own clock from the moment the reply arrived: no comparison with the server's clock.
"""
from __future__ import annotations

import asyncio
import logging

from certs import wire
from firmware.clock import Clock
from firmware.server_client import ServerUnavailable

log = logging.getLogger("kiosk.nonce")

NONCE_REFUSALS = frozenset({"nonce_unknown", "nonce_expired", "nonce_reused"})
"""The server's answers to a nonce it will not take: the sign-in may try once more with a fresh challenge."""


class NonceKeeper:
    def __init__(self, server, clock: Clock, *, margin_s: float = 15.0, refresh_lead_s: float = 5.0,
                 assumed_lifetime_s: float = 30.0, first_retry_s: float = 2.0, max_retry_s: float = 60.0,
                 in_flight_wait_s: float = 3.0):
        self.server, self.clock = server, clock
        self.margin_s, self.refresh_lead_s = margin_s, refresh_lead_s
        self.assumed_lifetime_s = assumed_lifetime_s  # a reply without expires_in_s (a version-1 server)
        self.first_retry_s, self.max_retry_s = first_retry_s, max_retry_s
        self.in_flight_wait_s = in_flight_wait_s  # a slow prefetch is not waited for longer: the sign-in asks itself
        self._held: wire.Challenge | None = None
        self._usable_until = 0.0
        self._fetching: asyncio.Future | None = None
        self._wake = asyncio.Event()
        self.fetched = 0  # how many challenges the keeper asked for (for tests and the benchmark)

    def usable(self) -> bool:
        return self._held is not None and self.clock.now() < self._usable_until

    async def take(self) -> wire.Challenge | None:
        """The held nonce, if it is still good for a sign-in; never the same one twice.  A fetch in flight is
        waited for (briefly: it is one round trip) rather than started again.  None: ask the server now."""
        if not self.usable() and self._fetching is not None and not self._fetching.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._fetching), self.in_flight_wait_s)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - a failed prefetch: the caller asks itself
                pass
        challenge = self._held if self.usable() else None
        self._held = None  # the next one is fetched when the visit has ended (:meth:`refill`), off its path
        return challenge

    def refill(self) -> None:
        """The visit is over: fetch the next resident's nonce now, if none is held."""
        self._wake.set()

    async def run(self) -> None:
        """Keep one nonce ready for ever (the controller runs this as a task)."""
        delay = 0.0
        while True:
            self._wake.clear()
            if self._held is None or self.clock.now() >= self._usable_until - self.refresh_lead_s:
                if await self._fetch():
                    delay = 0.0
                else:
                    delay = min(max(delay * 2, self.first_retry_s), self.max_retry_s)
                    await self._wait(delay)
                    continue
            await self._wait(max(self._usable_until - self.refresh_lead_s - self.clock.now(), 0.0))

    async def _fetch(self) -> bool:
        self._fetching = asyncio.get_running_loop().create_future()
        try:
            challenge = await self.server.challenge()
        except (ServerUnavailable, wire.ServerRefused, wire.ProtocolError) as exc:
            log.debug("sign-in nonce not prefetched: %s", type(exc).__name__)
            self._fetching.set_result(False)
            return False
        self.fetched += 1
        held = self.hold(challenge)
        self._fetching.set_result(held)
        return held

    def hold(self, challenge: wire.Challenge) -> bool:
        """Keep ``challenge`` for the next sign-in, from now on by the kiosk's clock.  False (nothing kept): its
        lifetime leaves too little room to be worth keeping (a server with very short nonces)."""
        window = (challenge.expires_in_s or self.assumed_lifetime_s) - self.margin_s
        if window < 2 * self.refresh_lead_s:
            return False
        self._held, self._usable_until = challenge, self.clock.now() + window
        return True

    async def _wait(self, seconds: float) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait([waiter, sleeper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                if not task.done():
                    task.cancel()
