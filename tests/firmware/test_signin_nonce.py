"""The kiosk's prefetched sign-in nonce (firmware/signin_nonce.py) on a fake clock: handed out once, never past
its own margin before the server's expiry, renewed before that, and asked for again after an outage."""
from __future__ import annotations

import asyncio

from certs import wire
from firmware.clock import FakeClock
from firmware.server_client import ServerUnavailable
from firmware.signin_nonce import NonceKeeper


class ChallengeDesk:
    """Answers challenges like the server (a fresh nonce each time, 60 s), or fails while ``down``."""

    def __init__(self, lifetime_s: int | None = 60):
        self.lifetime_s, self.down, self.issued, self.asked = lifetime_s, False, 0, 0

    async def challenge(self) -> wire.Challenge:
        self.asked += 1
        if self.down:
            raise ServerUnavailable("challenge: refused")
        self.issued += 1
        return wire.Challenge(f"nonce{self.issued:012d}", "2026-12-06T00:00:00Z", self.lifetime_s)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def run(body):
    async def main():
        clock, desk = FakeClock(), ChallengeDesk()
        keeper = NonceKeeper(desk, clock)  # margin 15 s, renewed 5 s before: usable 45 s, renewed at 40 s
        task = asyncio.create_task(keeper.run())
        try:
            await settle()
            return await body(clock, desk, keeper)
        finally:
            task.cancel()
    return asyncio.run(main())


def test_a_nonce_is_handed_out_once_and_the_next_is_fetched_when_the_visit_ends():
    async def body(clock, desk, keeper):
        first = await keeper.take()
        again = await keeper.take()
        await settle()
        fetched_during_visit = desk.issued
        keeper.refill()
        await settle()
        return first.nonce, again, fetched_during_visit, (await keeper.take()).nonce

    first, again, during, next_one = run(body)
    assert first == "nonce000000000001" and again is None
    assert during == 1  # nothing fetched while the resident signs in
    assert next_one == "nonce000000000002"


def test_a_nonce_is_renewed_before_its_margin_and_never_handed_out_past_it():
    async def body(clock, desk, keeper):
        clock.advance(39.0)
        await settle()
        before = desk.issued
        clock.advance(1.0)  # 40 s: renewed 5 s before the 45 s the kiosk allows itself
        await settle()
        renewed = desk.issued
        desk.down = True
        clock.advance(46.0)  # the renewed one is past its margin too; renewing fails
        await settle()
        return before, renewed, keeper.usable(), await keeper.take()

    before, renewed, usable, taken = run(body)
    assert (before, renewed) == (1, 2)
    assert not usable and taken is None  # the sign-in then asks the server itself


def test_after_an_outage_the_keeper_asks_again_with_growing_pauses():
    async def body(clock, desk, keeper):
        await keeper.take()
        desk.down = True
        keeper.refill()
        await settle()
        for _ in range(24):
            clock.advance(1.0)
            await settle()
        failed = desk.asked - 1
        desk.down = False
        for _ in range(6):
            clock.advance(1.0)
            await settle()
        return failed, desk.issued, keeper.usable()

    failed, issued, usable = run(body)
    assert failed == 4  # at 0, 2, 6 and 14 s in 24 s (pauses 2, 4, 8, then 16 s)
    assert issued == 2 and usable  # at 30 s the server answers again


def test_a_server_with_nonces_too_short_to_keep_gets_no_prefetch():
    async def main():
        clock, desk = FakeClock(), ChallengeDesk(lifetime_s=20)
        keeper = NonceKeeper(desk, clock)
        task = asyncio.create_task(keeper.run())
        await settle()
        task.cancel()
        return keeper.usable(), await keeper.take()

    assert asyncio.run(main()) == (False, None)
