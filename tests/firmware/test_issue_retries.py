"""The issue request's retries end inside the issuing state's timeout (a unit test of one function against a
scripted server that never answers in time)."""
import asyncio
import time

import pytest

from firmware import operations as ops
from firmware.server_client import ServerUnavailable


class NeverAnswers:
    """Each issue call waits out the bound it was given, as an unreachable server does, then fails."""

    def __init__(self, endpoint_timeout_s: float):
        self.endpoint_timeout_s = endpoint_timeout_s
        self.bounds: list[float] = []

    async def issue(self, session, txn, quote_id, amount, timeout_s=None):
        bound = self.endpoint_timeout_s if timeout_s is None else min(timeout_s, self.endpoint_timeout_s)
        self.bounds.append(bound)
        await asyncio.sleep(bound)
        raise ServerUnavailable("POST issuances: timed out")


def test_every_try_ends_inside_the_budget_even_when_each_could_take_the_full_client_timeout():
    server = NeverAnswers(endpoint_timeout_s=2.0)
    start = time.monotonic()
    with pytest.raises(ServerUnavailable):
        asyncio.run(ops.fetch_documents(server, None, "t" * 32, "q", 300, budget_s=3.5, attempts=3, pause_s=0.05))
    elapsed = time.monotonic() - start
    assert elapsed < 3.5 + 0.2  # three tries of 2 s each (6.15 s) would outlast it
    assert len(server.bounds) == 2 and server.bounds[0] == 2.0 and 1.0 <= server.bounds[1] < 1.5  # shortened


def test_a_server_that_answers_on_the_second_try_is_used():
    class SecondTime(NeverAnswers):
        async def issue(self, session, txn, quote_id, amount, timeout_s=None):
            if not self.bounds:
                self.bounds.append(timeout_s)
                raise ServerUnavailable("refused")
            self.bounds.append(timeout_s)
            return {"envelope": True}

    server = SecondTime(10.0)
    assert asyncio.run(ops.fetch_documents(server, None, "t" * 32, "q", 300, budget_s=5, pause_s=0.01)) == \
        {"envelope": True}
    assert len(server.bounds) == 2 and all(b <= 5 for b in server.bounds)
