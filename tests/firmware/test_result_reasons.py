"""The result report's ``reason`` is an enumeration of the contract (certs.wire.RESULT_REASONS, checked by the
server): the kiosk queues only listed reasons, and a reason the list does not name goes out as ``other``."""
from certs import wire
from firmware.journal import Journal
from firmware.visit import VisitState

TXN = "0123456789abcdef0123456789abcdef"


def test_the_contract_names_a_timeout_reason_for_every_visit_state():
    assert {f"timeout_{state.value}" for state in VisitState} <= set(wire.RESULT_REASONS)


def _refunded(tmp_path, reason: str):
    journal = Journal(tmp_path / "journal.db")
    try:
        journal.open(TXN, kiosk_id="kiosk-01")
        journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
        journal.record_credit(TXN, amount=300, device="coins", credit_id="c1", medium="coin")
        journal.note(TXN, "issue_requested")
        journal.settle(TXN, reason=reason)
        (result,) = journal.pending_results()
        return result.reason
    finally:
        journal.close()


def test_a_listed_reason_is_sent_as_it_is(tmp_path):
    assert _refunded(tmp_path, "cancelled") == "cancelled"


def test_an_unlisted_reason_is_sent_as_other(tmp_path):
    assert _refunded(tmp_path, "hopper_on_fire") == "other"
