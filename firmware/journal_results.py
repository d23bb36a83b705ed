"""The result outbox, in the journal: what the server must be told about each settled transaction.

A result row is written in the same SQLite transaction that settles its transaction (:meth:`Journal.settle`), so a
transaction is never closed without its result queued, and a result never exists for a transaction still open.
Only transactions the server may know of get one: those that asked for their documents (``issue_requested``).
A visit that stopped before that left nothing on the server to settle.

:class:`firmware.result_outbox.ResultOutbox` sends the pending rows until the server acknowledges each one; a row
is never deleted, so the journal shows, line by line, what the server was told and when.  ``delivery`` says how
a row left the outbox:

- ``acknowledged``: the server settled it (or had already settled the same result);
- ``not_issued``: the server has no issuance with this id (the issue request never reached it): nothing to settle;
- ``refused:<code>``: the server refused it for good (``result_conflict``, ``result_inconsistent``): staff look.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from certs import wire
from firmware import journal_schema as s
from firmware.journal_reports import utc_text
from firmware.recovery import Settlement, SettlementKind

RESULT_OF_SETTLEMENT = {SettlementKind.ABANDONED: wire.ResultOutcome.REFUNDED,
                        SettlementKind.REFUNDED: wire.ResultOutcome.REFUNDED,
                        SettlementKind.COMPLETED: wire.ResultOutcome.PRINTED,
                        SettlementKind.REPRINT_OWED: wire.ResultOutcome.PARTIALLY_PRINTED}
"""The result the server is told for each way the journal can close a transaction (unless the visit says
otherwise: a rejected document set is ``failed``)."""

DELIVERIES = ("acknowledged", "not_issued")


@dataclass(frozen=True)
class PendingResult:
    transaction_id: str
    outcome: str
    pages_printed: int
    fee_collected: int
    refund_owed: int
    reason: str | None
    attempts: int


@dataclass(frozen=True)
class ResultRecord(PendingResult):
    queued_at: str
    delivered_at: str | None
    delivery: str | None
    last_error: str | None


def queue(cur: sqlite3.Cursor, settlement: Settlement, *, pages_printed: int, outcome: str | None,
          reason: str | None, at: datetime) -> bool:
    """Queue the result of ``settlement`` if the server may know the transaction; True if queued."""
    txn = settlement.transaction_id
    asked = cur.execute("SELECT 1 FROM events WHERE transaction_id = ? AND kind = 'issue_requested'",
                        (txn,)).fetchone()
    if not asked:
        return False
    outcome = outcome or RESULT_OF_SETTLEMENT[settlement.kind]
    if outcome not in wire.ResultOutcome.ALL:
        raise ValueError("unknown result outcome")
    if reason is not None and reason not in wire.RESULT_REASONS:
        reason = "other"  # the server accepts only the contract's reasons: an unnamed one is still a result
    cur.execute("INSERT INTO results (transaction_id, outcome, pages_printed, fee_collected, refund_owed, reason, "
                "queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (txn, outcome, pages_printed, settlement.fee_earned + settlement.fee_held, settlement.refund_owed,
                 reason, utc_text(at)))
    return True


_COLUMNS = "transaction_id, outcome, pages_printed, fee_collected, refund_owed, reason, attempts"


def pending(db: sqlite3.Connection) -> list[PendingResult]:
    """Results not yet acknowledged, oldest first."""
    return [PendingResult(*row) for row in db.execute(
        f"SELECT {_COLUMNS} FROM results WHERE delivered_at IS NULL ORDER BY queued_at, transaction_id")]


def record(db: sqlite3.Connection, txn: str) -> ResultRecord | None:
    row = db.execute(f"SELECT {_COLUMNS}, queued_at, delivered_at, delivery, last_error FROM results "
                     "WHERE transaction_id = ?", (s.check_transaction_id(txn),)).fetchone()
    return ResultRecord(*row) if row else None


def attempt_failed(cur: sqlite3.Cursor, txn: str, error: str) -> None:
    cur.execute("UPDATE results SET attempts = attempts + 1, last_error = ? WHERE transaction_id = ?",
                (s.check_id(error, "result error"), s.check_transaction_id(txn)))


def delivered(cur: sqlite3.Cursor, txn: str, delivery: str, at: datetime) -> None:
    if delivery not in DELIVERIES and not delivery.startswith("refused:"):
        raise ValueError("unknown result delivery")
    s.check_id(delivery, "result delivery")
    cur.execute("UPDATE results SET attempts = attempts + 1, delivered_at = ?, delivery = ? "
                "WHERE transaction_id = ? AND delivered_at IS NULL",
                (utc_text(at), delivery, s.check_transaction_id(txn)))


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Rows per delivery ('pending' for those not yet delivered): for maintenance and telemetry."""
    return dict(db.execute("SELECT coalesce(delivery, 'pending'), count(*) FROM results GROUP BY 1"))
