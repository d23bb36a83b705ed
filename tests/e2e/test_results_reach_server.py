"""Results reach the city's books: after a server outage or a kiosk restart, the kiosk's journal and the real
server's results, ledger and issuance log agree, transaction by transaction."""
from __future__ import annotations

import asyncio
import time

from tests.support.kiosk_session import KioskSession
from tests.support.server_books import books
from tests.support.server_process import start_server, write_config_variant


async def pay_and_collect(k, coins=(100, 100, 100)):
    await k.to_payment()
    for value in coins:
        await k.do("insert_coin", value=value)
    await k.wait("return_card", timeout=30)
    txn = k.kiosk.visit.txn
    await k.do("lift_card")
    await k.wait("take_items")
    await k.do("take_document")
    await k.wait("idle")
    return txn


async def until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def test_a_printed_visit_is_in_the_servers_result_ledger_and_issuance_log(run_kiosk, dev_world):
    async def visit(k):
        txn = await pay_and_collect(k)
        assert await until(lambda: k.journal.result(txn).delivery is not None, 10)
        return txn, k.journal.result(txn)

    txn, record = run_kiosk(visit)
    assert (record.outcome, record.pages_printed, record.fee_collected, record.delivery) == \
        ("printed", 1, 300, "acknowledged")
    on_server = books(dev_world / "server.db", txn)
    assert on_server.result == ("printed", 1, 300, 0)
    assert on_server.ledger == ("printed", 300, 0) and on_server.log_entries == 1


def test_a_result_lost_to_an_outage_is_sent_after_the_kiosk_restarts(kiosk_config, dev_world, tmp_path):
    config = kiosk_config()

    async def first_run():
        async with KioskSession(config, tmp_path) as k:
            await k.wait("idle", 10)
            await k.to_payment()

            def cut_the_link_once_the_documents_are_in(view) -> None:
                # (set by the kiosk's own view change, not by a poll that a short printing state can slip past)
                if view.state.value == "printing":
                    k.parts.server.simulated_outage = True

            k.kiosk.subscribe(cut_the_link_once_the_documents_are_in)
            for value in (100, 100, 100):
                await k.do("insert_coin", value=value)
            await k.wait("return_card", timeout=30)
            assert k.parts.server.simulated_outage  # the visit did pass through printing
            txn = k.kiosk.visit.txn
            assert await until(lambda: k.journal.result(txn).attempts >= 1, 10)
            return txn, k.journal.result(txn), k.audit.ids()

    txn, pending, audit = asyncio.run(first_run())
    assert pending.delivery is None and pending.outcome == "printed" and pending.last_error == "server_unavailable"
    assert "server.result_unreported" in audit
    assert books(dev_world / "server.db", txn).result is None  # the city's books do not have it yet

    async def second_run():
        async with KioskSession(config, tmp_path) as k:
            await k.wait("idle", 10)
            assert await until(lambda: k.journal.result(txn).delivery is not None, 10)
            return k.journal.result(txn), k.journal.pending_results()

    delivered, still_pending = asyncio.run(second_run())
    assert delivered.delivery == "acknowledged" and still_pending == []
    on_server = books(dev_world / "server.db", txn)
    assert on_server.result == ("printed", 1, 300, 0) and on_server.ledger == ("printed", 300, 0)
    assert on_server.log_entries == 1


def test_a_result_is_retried_while_the_server_is_down_and_lands_when_it_returns(run_kiosk, kiosk_config, dev_world):
    own = start_server(dev_world, config=write_config_variant(dev_world, "outage"))
    config = kiosk_config(own.url)
    config["devices"]["printer"]["latency_per_page"] = 1.0  # printing lasts long enough to be seen and acted in
    restarted = []

    async def visit(k):
        await k.to_payment()
        for value in (100, 100, 100):
            await k.do("insert_coin", value=value)
        await k.wait("printing", timeout=30)
        k.parts.server.simulated_outage = True  # (no call is made while printing: the outage is in place in time)
        own.stop()  # and the server process dies
        k.parts.server.simulated_outage = False  # from here on the result meets the real dead port
        await k.wait("return_card", timeout=30)
        txn = k.kiosk.visit.txn
        assert await until(lambda: k.journal.result(txn).attempts >= 2, 15)  # tried, waited, tried again
        restarted.append(start_server(dev_world, config=dev_world / "outage.toml", args=("--port", str(own.port))))
        assert await until(lambda: k.journal.result(txn).delivery is not None, 30)
        return txn, k.journal.result(txn)

    try:
        txn, record = run_kiosk(visit, config)
    finally:
        own.stop()
        for process in restarted:
            process.stop()
    assert record.delivery == "acknowledged" and record.attempts >= 3
    on_server = books(dev_world / "outage.db", txn)
    assert on_server.result == ("printed", 1, 300, 0) and on_server.log_entries == 1
