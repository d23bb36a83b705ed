"""Power dies in state X; after restart the machine is in state Y — for every X of a typical visit.

Each case runs the visit's journal writes in a child process, which SIGKILLs itself after step k (nothing is
closed or flushed by Python); the parent reopens the journal, runs recovery and checks where every yen went.
"""
import multiprocessing
import os
import signal
from datetime import datetime, timezone

import pytest

from firmware.journal import Journal
from firmware.recovery import SettlementKind, recover
from hal.coins import DispenseResult

TXN = "5f2d0c9e8b7a61504f3e2d1c0b9a8776"
NOW = datetime(2024, 4, 1, 3, 0, tzinfo=timezone.utc)


def _payout(j, kind, amount):
    j.payout = j.begin_payout(TXN, kind, amount)


# A paid visit: fee 450, a 1000-yen note, two pages, 550 change of which the 50-yen hopper cannot pay 50.
PAID_VISIT = [
    ("opened", lambda j: j.open(TXN, kiosk_id="kiosk-01")),
    ("quoted", lambda j: j.quote(TXN, certificate="residence_record", copies=2, fee=450)),
    ("note in escrow", lambda j: j.record_note_escrowed(TXN, value=1000, device="notes")),
    ("note credited", lambda j: j.record_credit(TXN, amount=1000, device="notes", credit_id="n1", medium="note")),
    ("payment complete", lambda j: j.note(TXN, "payment_complete")),
    ("issue requested", lambda j: j.note(TXN, "issue_requested")),
    ("documents received", lambda j: j.record_documents_received(TXN, pages=2)),
    ("page 1 printed", lambda j: j.record_page_printed(TXN, page=1)),
    ("page 2 printed", lambda j: j.record_page_printed(TXN, page=2)),
    ("change intent", lambda j: _payout(j, "change", 550)),
    ("500 paid", lambda j: j.record_dispensed(TXN, j.payout, hopper="hopper-500", coin_value=500,
                                              result=DispenseResult(1, 1, 0))),
    ("50 unpaid", lambda j: j.record_dispensed(TXN, j.payout, hopper="hopper-50", coin_value=50,
                                               result=DispenseResult(1, 0, 1))),
    ("settled", lambda j: j.settle(TXN)),
]

A, R, C, P = (SettlementKind.ABANDONED, SettlementKind.REFUNDED, SettlementKind.COMPLETED,
              SettlementKind.REPRINT_OWED)
# After k steps: (settlement kind, fee earned, fee held, change paid, refund owed, reconciliation flagged)
PAID_VISIT_AFTER = {
    1: (A, 0, 0, 0, 0, False),
    2: (A, 0, 0, 0, 0, False),
    3: (A, 0, 0, 0, 0, True),  # a note in escrow, never credited: a person checks the stacker
    4: (R, 0, 0, 0, 1000, False),
    5: (R, 0, 0, 0, 1000, False),
    6: (R, 0, 0, 0, 1000, False),
    7: (R, 0, 0, 0, 1000, False),
    8: (P, 0, 450, 0, 550, False),
    9: (C, 450, 0, 0, 550, False),
    10: (C, 450, 0, 0, 550, True),  # change of unknown outcome: owed and flagged, never paid again
    11: (C, 450, 0, 500, 50, True),
    12: (C, 450, 0, 500, 50, False),
}

# A cancelled visit: three 100-yen coins (one reported twice), cancel, refund 300 from the 100-yen hopper.
CANCELLED_VISIT = PAID_VISIT[:2] + [
    ("coin 1", lambda j: j.record_credit(TXN, amount=100, device="coins", credit_id="c1", medium="coin")),
    ("coin 2", lambda j: j.record_credit(TXN, amount=100, device="coins", credit_id="c2", medium="coin")),
    ("coin 2 again", lambda j: j.record_credit(TXN, amount=100, device="coins", credit_id="c2", medium="coin")),
    ("coin 3", lambda j: j.record_credit(TXN, amount=100, device="coins", credit_id="c3", medium="coin")),
    ("cancelled", lambda j: j.note(TXN, "cancelled")),
    ("refund intent", lambda j: _payout(j, "refund", 300)),
    ("300 refunded", lambda j: j.record_dispensed(TXN, j.payout, hopper="hopper-100", coin_value=100,
                                                  result=DispenseResult(3, 3, 0))),
    ("settled", lambda j: j.settle(TXN)),
]


def _run_and_die(path, steps, k):
    j = Journal(path)
    for _, step in steps[:k]:
        step(j)
    os.kill(os.getpid(), signal.SIGKILL)


def crash_after(tmp_path, steps, k) -> Journal:
    path = tmp_path / "journal.db"
    child = multiprocessing.get_context("fork").Process(target=_run_and_die, args=(path, steps, k))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    return Journal(path)


def buckets_hold_every_yen(journal):
    b = journal.balance(TXN)
    assert b.unaccounted == 0 and b.pending_payout == 0, b
    assert b.credited == b.fee_collected + b.fee_held + b.change_paid + b.refund_paid + b.refund_owed
    assert journal.open_transactions() == []
    return b


@pytest.mark.parametrize("k", range(len(PAID_VISIT) + 1),
                         ids=["before opening"] + [name for name, _ in PAID_VISIT])
def test_power_dies_during_a_paid_visit(tmp_path, k):
    journal = crash_after(tmp_path, PAID_VISIT, k)
    settlements = recover(journal, NOW)
    if k == 0:
        assert settlements == [] and journal.open_transactions() == []
        return
    if k == len(PAID_VISIT):  # it had settled: nothing to do, and the books are as the visit left them
        assert settlements == []
        expected = PAID_VISIT_AFTER[k - 1]
    else:
        (settlement,) = settlements
        expected = PAID_VISIT_AFTER[k]
        assert (settlement.kind, settlement.fee_earned, settlement.fee_held, settlement.change_paid,
                settlement.refund_owed, settlement.reconciliation_needed) == expected
    b = buckets_hold_every_yen(journal)
    assert (b.fee_collected, b.fee_held, b.change_paid, b.refund_owed) == expected[1:5]
    assert journal.outcome(TXN) == expected[0].value
    assert recover(journal, NOW) == []  # a second restart changes nothing
    journal.close()


@pytest.mark.parametrize("k", range(1, len(CANCELLED_VISIT) + 1), ids=[n for n, _ in CANCELLED_VISIT])
def test_power_dies_during_a_cancelled_visit(tmp_path, k):
    journal = crash_after(tmp_path, CANCELLED_VISIT, k)
    recover(journal, NOW)
    b = buckets_hold_every_yen(journal)
    coins_in = {1: 0, 2: 0, 3: 100, 4: 200, 5: 200}.get(k, 300)
    assert b.credited == coins_in  # the repeated report of coin 2 never counts
    assert b.fee_collected == b.fee_held == b.change_paid == 0
    assert b.refund_paid == (300 if k >= 9 else 0)
    journal.close()


def _die_inside_settlement(path):
    j = Journal(path)
    for _, step in PAID_VISIT[:-1]:
        step(j)
    original, written = j._insert, []

    def insert_then_die(cur, txn, kind, *args, **kw):
        original(cur, txn, kind, *args, **kw)
        written.append(kind)
        if len(written) == 2:  # half-way through the settlement's events, inside its SQLite transaction
            os.kill(os.getpid(), signal.SIGKILL)

    j._insert = insert_then_die
    j.settle(TXN)


def test_power_dies_half_way_through_writing_a_settlement(tmp_path):
    path = tmp_path / "journal.db"
    child = multiprocessing.get_context("fork").Process(target=_die_inside_settlement, args=(path,))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    journal = Journal(path)
    assert journal.open_transactions() == [TXN]  # nothing of the half-written settlement survived
    (settlement,) = recover(journal, NOW)
    assert settlement.kind is SettlementKind.COMPLETED
    kinds = [k for k, _ in journal.events(TXN)]
    assert kinds.count("fee_earned") == 1 and kinds.count("settled") == 1
    buckets_hold_every_yen(journal)
    journal.close()
