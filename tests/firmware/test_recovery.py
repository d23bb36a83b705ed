"""Start-up recovery: every unfinished transaction is settled, and every yen lands in exactly one bucket."""
from datetime import datetime, timezone

import pytest

from firmware.journal import Journal
from firmware.recovery import SettlementKind, recover
from hal.coins import DispenseResult

TXN = "00112233445566778899aabbccddeeff"
NOW = datetime(2024, 4, 1, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.db")
    yield j
    j.close()


def visit(journal, *credits, fee=300, txn=TXN):
    journal.open(txn, kiosk_id="kiosk-01")
    journal.quote(txn, certificate="residence_record", copies=1, fee=fee)
    for i, amount in enumerate(credits):
        journal.record_credit(txn, amount=amount, device="coins" if amount < 1000 else "notes",
                              credit_id=f"c{i}", medium="coin" if amount < 1000 else "note")
    return txn


def reopen_and_recover(journal, tmp_path):
    journal.close()
    again = Journal(tmp_path / "journal.db")
    return again, recover(again, NOW)


def assert_every_yen_in_one_bucket(journal, txn=TXN):
    b = journal.balance(txn)
    assert b.unaccounted == 0 and b.pending_payout == 0, b
    assert not journal.is_open(txn)


def test_a_nothing_paid_nothing_printed_is_abandoned(journal, tmp_path):
    visit(journal)
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert settled.kind is SettlementKind.ABANDONED
    assert (settled.credited, settled.refund_owed) == (0, 0)
    assert journal.outcome(TXN) == "abandoned"
    assert_every_yen_in_one_bucket(journal)


def test_b_credit_without_print_is_owed_back_less_what_was_already_refunded(journal, tmp_path):
    visit(journal, 1000, 100)
    payout = journal.begin_payout(TXN, "refund", 100)
    journal.record_dispensed(TXN, payout, hopper="hopper-100", coin_value=100, result=DispenseResult(1, 1, 0))
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert settled.kind is SettlementKind.REFUNDED
    assert (settled.refund_paid, settled.refund_owed, settled.fee_earned) == (100, 1000, 0)
    assert_every_yen_in_one_bucket(journal)


def test_c_every_page_printed_earns_the_fee_and_owes_unpaid_change(journal, tmp_path):
    visit(journal, 1000, fee=300)
    journal.record_documents_received(TXN, pages=2)
    journal.record_page_printed(TXN, page=1)
    journal.record_page_printed(TXN, page=2)
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert settled.kind is SettlementKind.COMPLETED
    assert (settled.fee_earned, settled.refund_owed, settled.change_paid) == (300, 700, 0)
    assert_every_yen_in_one_bucket(journal)


def test_d_some_pages_printed_hold_the_fee_for_a_reprint(journal, tmp_path):
    visit(journal, 500, fee=450)
    journal.record_documents_received(TXN, pages=3)
    journal.record_page_printed(TXN, page=1)
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert settled.kind is SettlementKind.REPRINT_OWED
    assert (settled.fee_held, settled.fee_earned, settled.refund_owed) == (450, 0, 50)
    assert journal.outcome(TXN) == "reprint_owed"
    assert_every_yen_in_one_bucket(journal)


def test_e_a_payout_without_a_result_is_owed_and_flagged_never_paid_again(journal, tmp_path):
    visit(journal, 1000, fee=300)
    journal.record_documents_received(TXN, pages=1)
    journal.record_page_printed(TXN, page=1)
    payout = journal.begin_payout(TXN, "change", 700)
    journal.record_dispensed(TXN, payout, hopper="hopper-500", coin_value=500, result=DispenseResult(1, 1, 0))
    # the power dies while the 100-yen hopper runs: 200 yen of unknown outcome
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert settled.kind is SettlementKind.COMPLETED
    assert (settled.change_paid, settled.unconfirmed, settled.refund_owed) == (500, 200, 200)
    assert settled.reconciliation_needed
    kinds = [k for k, _ in journal.events(TXN)]
    assert kinds.count("reconciliation_needed") == 1
    assert kinds.count("change_intent") == 1  # recovery pays nothing itself
    assert_every_yen_in_one_bucket(journal)


def test_a_hopper_shortfall_already_owed_is_not_owed_twice(journal, tmp_path):
    visit(journal, 1000, fee=300)
    journal.record_documents_received(TXN, pages=1)
    journal.record_page_printed(TXN, page=1)
    payout = journal.begin_payout(TXN, "change", 700, unplannable=100)
    journal.record_dispensed(TXN, payout, hopper="hopper-100", coin_value=100, result=DispenseResult(6, 4, 2))
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert (settled.change_paid, settled.refund_owed, settled.unconfirmed) == (400, 300, 0)
    assert not settled.reconciliation_needed
    assert_every_yen_in_one_bucket(journal)


def test_a_note_left_in_escrow_is_flagged_but_never_credited(journal, tmp_path):
    visit(journal, 100)
    journal.record_note_escrowed(TXN, value=1000, device="notes")
    journal, (settled,) = reopen_and_recover(journal, tmp_path)
    assert settled.reconciliation_needed and settled.credited == 100 and settled.refund_owed == 100
    assert_every_yen_in_one_bucket(journal)


def test_recovery_settles_each_open_transaction_once_and_leaves_closed_ones(journal, tmp_path):
    other = "ffeeddccbbaa99887766554433221100"
    visit(journal, 500, txn=other)
    journal.settle(other)
    visit(journal, 100)
    journal, settlements = reopen_and_recover(journal, tmp_path)
    assert [s.transaction_id for s in settlements] == [TXN]
    assert recover(journal, NOW) == []
    assert journal.balance(other).refund_owed == 500  # settled once, not again
    assert_every_yen_in_one_bucket(journal, other)
    assert_every_yen_in_one_bucket(journal, TXN)


def test_a_page_sent_but_never_confirmed_is_unknown_the_fee_is_held_and_flagged_not_refunded(journal):
    journal.open(TXN, kiosk_id="kiosk-01")
    journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
    journal.record_credit(TXN, amount=500, device="notes", credit_id="n1", medium="note")
    journal.note(TXN, "issue_requested")
    journal.record_documents_received(TXN, pages=1)
    journal.record_page_intent(TXN, page=1)  # the power died while the page printed
    (settlement,) = journal.recover()
    assert settlement.kind.value == "reprint_owed" and settlement.fee_held == 300 and settlement.refund_owed == 200
    assert settlement.reconciliation_needed
    assert ("reconciliation_needed", 0) in journal.events(TXN)


def test_a_page_the_printer_reported_failed_is_not_unknown(journal):
    journal.open(TXN, kiosk_id="kiosk-01")
    journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
    journal.record_credit(TXN, amount=300, device="coins", credit_id="c1", medium="coin")
    journal.note(TXN, "issue_requested")
    journal.record_documents_received(TXN, pages=1)
    journal.record_page_intent(TXN, page=1)
    journal.note(TXN, "print_failed", detail={"state": "paper_out", "page": 1})
    settlement = journal.settle(TXN)
    assert settlement.kind.value == "refunded" and settlement.refund_owed == 300
    assert not settlement.reconciliation_needed


def test_a_note_left_between_escrow_and_credit_is_flagged_with_its_value_for_the_count(journal, tmp_path):
    visit(journal, 100)
    journal.record_note_escrowed(TXN, value=1000, device="notes")  # stacked, or returned at the reset: a count says
    journal.record_note_escrowed(TXN, value=5000, device="notes")
    journal.record_note_returned(TXN, value=5000, device="notes")
    journal, _ = reopen_and_recover(journal, tmp_path)
    flags = [(kind, amount) for kind, amount in journal.events(TXN) if kind == "reconciliation_needed"]
    assert flags == [("reconciliation_needed", 1000)]
    assert journal.balance(TXN).refund_owed == 100  # flagged for the count, not owed on a guess
    assert_every_yen_in_one_bucket(journal)


def test_a_note_the_validator_reports_in_its_stacker_at_start_is_owed_back_by_the_one_open_visit(journal):
    from firmware.cashier import FoundAtStart

    visit(journal)
    journal.record_note_escrowed(TXN, value=1000, device="notes")  # stacked; the power died before its credit
    (settlement,) = journal.recover(found=FoundAtStart(notes=1, coin_yen=200))
    assert settlement.credited == 1200 and settlement.refund_owed == 1200  # the note and the coins, owed back
    assert_every_yen_in_one_bucket(journal)


def test_money_found_at_start_is_attributed_to_no_one_when_two_visits_were_open(journal):
    from firmware.cashier import FoundAtStart

    other = "ffeeddccbbaa99887766554433221100"
    for txn in (TXN, other):
        journal.open(txn, kiosk_id="kiosk-01")
        journal.quote(txn, certificate="residence_record", copies=1, fee=300)
        journal.record_note_escrowed(txn, value=1000, device="notes")
    settlements = journal.recover(found=FoundAtStart(notes=1))
    assert [s.credited for s in settlements] == [0, 0] and all(s.reconciliation_needed for s in settlements)
