"""The result outbox: a settlement queues its result in the same write, and the sender keeps it until the server
acknowledges it (unit tests of the sender against a scripted server; the real server is in tests/e2e)."""
import asyncio

import pytest

from certs import wire
from firmware.audit import AuditLog
from firmware.clock import FakeClock
from firmware.journal import Journal
from firmware.result_outbox import ResultOutbox
from firmware.server_client import ServerUnavailable

TXN = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.db")
    yield j
    j.close()


def printed(journal, txn=TXN, fee=300, paid=500):
    journal.open(txn, kiosk_id="kiosk-01")
    journal.quote(txn, certificate="residence_record", copies=1, fee=fee)
    journal.record_credit(txn, amount=paid, device="notes", credit_id=f"{txn[:4]}-n1", medium="note")
    journal.note(txn, "issue_requested")
    journal.record_documents_received(txn, pages=1)
    journal.record_page_printed(txn, page=1)
    return journal.settle(txn)


class ScriptedServer:
    """Answers report_result from a list of outcomes: None = accepted, an exception = raised."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[tuple] = []

    async def report_result(self, txn, outcome, pages, fee, refund_owed, reason):
        self.calls.append((txn, outcome, pages, fee, refund_owed, reason))
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer


def test_a_settlement_queues_its_result_in_the_same_write_with_what_the_journal_holds(journal):
    settlement = printed(journal)
    (result,) = journal.pending_results()
    assert (result.transaction_id, result.outcome, result.pages_printed, result.fee_collected,
            result.refund_owed) == (TXN, "printed", 1, 300, settlement.refund_owed)
    assert settlement.refund_owed == 200 and result.attempts == 0


def test_a_visit_that_never_asked_for_documents_has_nothing_to_tell_the_server(journal):
    journal.open(TXN, kiosk_id="kiosk-01")
    journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
    journal.record_credit(TXN, amount=100, device="coins", credit_id="c1", medium="coin")
    journal.settle(TXN, reason="cancelled")
    assert journal.pending_results() == [] and journal.result(TXN) is None


def test_recovery_at_start_queues_the_result_of_what_a_crash_left_open(journal):
    journal.open(TXN, kiosk_id="kiosk-01")
    journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
    journal.record_credit(TXN, amount=300, device="coins", credit_id="c1", medium="coin")
    journal.note(TXN, "issue_requested")
    journal.recover()
    (result,) = journal.pending_results()
    assert (result.outcome, result.pages_printed, result.fee_collected, result.refund_owed) == ("refunded", 0, 0, 300)


def run(coro):
    return asyncio.run(coro)


def test_a_result_the_server_did_not_take_stays_queued_and_is_sent_again_with_growing_waits(journal):
    printed(journal)
    down = ServerUnavailable("POST result: timed out")
    server = ScriptedServer(down, down, down, None)
    audit = AuditLog()

    async def scenario():
        clock = FakeClock()
        outbox = ResultOutbox(journal, server, clock, audit, first_retry_s=2.0, max_retry_s=5.0)
        task = asyncio.create_task(outbox.run())
        sent_at = []
        for _ in range(200):  # 20 s of fake time in 0.1 s steps, each step letting the sender run
            for _ in range(5):
                await asyncio.sleep(0)
            if len(server.calls) > len(sent_at):
                sent_at.append(round(clock.now(), 1))
            clock.advance(0.1)
        task.cancel()
        return [round(t - sent_at[0], 1) for t in sent_at]

    offsets = run(scenario())
    assert offsets == [0.0, 2.0, 6.0, 11.0]  # waits of 2, 4, then capped at 5
    record = journal.result(TXN)
    assert record.delivery == "acknowledged" and record.attempts == 4 and record.last_error == "server_unavailable"
    assert journal.pending_results() == []
    assert audit.ids().count("server.result_unreported") == 1 and "server.result_delivered" in audit.ids()


def test_results_go_oldest_first_and_a_round_stops_at_the_first_the_server_cannot_take(journal):
    printed(journal, TXN)
    printed(journal, OTHER)
    server = ScriptedServer(ServerUnavailable("down"))

    async def scenario():
        outbox = ResultOutbox(journal, server, FakeClock(), AuditLog())
        failed = await outbox.send_pending()
        calls_after_failure = list(server.calls)
        again = await outbox.send_pending()
        return failed, calls_after_failure, again

    failed, first_round, again = run(scenario())
    assert failed is True and [c[0] for c in first_round] == [TXN]
    assert again is False and [c[0] for c in server.calls] == [TXN, TXN, OTHER]
    assert journal.pending_results() == []


def test_a_transaction_the_server_never_issued_is_closed_and_a_refusal_is_kept_for_staff(journal):
    printed(journal, TXN)
    printed(journal, OTHER)
    audit = AuditLog()
    server = ScriptedServer(wire.ServerRefused(404, "transaction_unknown", "no issuance"),
                            wire.ServerRefused(409, "result_conflict", "a different result"))
    assert run(ResultOutbox(journal, server, FakeClock(), audit).send_pending()) is False
    assert journal.result(TXN).delivery == "not_issued"
    assert journal.result(OTHER).delivery == "refused:result_conflict"
    assert journal.result_counts() == {"not_issued": 1, "refused:result_conflict": 1}
    refused = [e for e in audit.recent if e["audit"] == "server.result_refused"]
    assert [(e["txn"], e["code"]) for e in refused] == [(OTHER, "result_conflict")]


def test_a_new_settlement_wakes_the_sender_at_once(journal):
    server = ScriptedServer()

    async def scenario():
        outbox = ResultOutbox(journal, server, FakeClock(), AuditLog())
        task = asyncio.create_task(outbox.run())
        await asyncio.sleep(0.01)
        printed(journal)
        outbox.wake()
        for _ in range(10):
            await asyncio.sleep(0)
        task.cancel()

    run(scenario())
    assert [c[0] for c in server.calls] == [TXN] and journal.result(TXN).delivery == "acknowledged"


def test_retry_delays_that_make_no_sense_are_refused(journal):
    with pytest.raises(ValueError, match="first_retry_s"):
        ResultOutbox(journal, ScriptedServer(), FakeClock(), AuditLog(), first_retry_s=10, max_retry_s=1)
